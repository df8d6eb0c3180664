//! What an index remembers of how it was built: the stamp in each commit, the per-file
//! manifest and the watch it names, and how the corpus now differs from that manifest.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::build::BuildKind;
use super::folder::now_ns;
use super::schema::FORMAT_VERSION;
use crate::corpus::{self, FileEntry, Scan, Watch};

/// Per-file fingerprints of a generation, `manifest-<time>.txt`; the commit names the live one.
const MANIFEST_PREFIX: &str = "manifest-";
/// What a query stats to tell whether the corpus changed, `watch-<time>.txt`; the commit names
/// the live one. Kept out of the commit itself: tantivy parses its commit several times while
/// opening an index, and a corpus of many folders made every query pay for that.
const WATCH_PREFIX: &str = "watch-";

/// What an index knows of how it was built; stored in the commit itself (tantivy's commit
/// payload), so it can never disagree with the data. Only what is read back is written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stamp {
    /// [`FORMAT_VERSION`] of the rsearch that wrote it; read first, as another format's stamp
    /// may lack the other fields.
    pub format: u32,
    /// Absolute path of the corpus folder the index was built from.
    pub corpus: PathBuf,
    /// File in the generation folder holding the fingerprint of every indexed file.
    pub manifest: String,
    /// File in the generation folder holding what a query stats to tell whether the corpus
    /// changed (a [`Watch`], see [`read_watch`]).
    pub watch: String,
    /// FNV-1a hash of the taxonomy copied into the index, so a damaged or missing copy is
    /// caught on opening; absent when the corpus had no taxonomy.
    #[serde(default)]
    pub taxonomy: Option<String>,
    /// File in the generation folder holding the passage vectors, when the index has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vectors: Option<String>,
}

impl Stamp {
    /// The stamp of a build of `scan` whose manifest and watch are the files so named.
    pub(super) fn of(scan: &Scan, manifest: String, watch: String, taxonomy_text: Option<&str>) -> Stamp {
        Stamp {
            format: FORMAT_VERSION,
            corpus: canonical(&scan.root),
            manifest,
            watch,
            taxonomy: taxonomy_text.map(taxonomy_hash),
            vectors: None,
        }
    }
}

/// One indexed file as the manifest remembers it: `index` re-reads a file only when its size
/// or modification time differ, and then replaces all its passages (they share its `source`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FileRecord {
    pub source: String,
    pub size: u64,
    pub mtime_ns: u128,
    pub passages: u64,
    pub sections: u64,
    /// A binary or empty file: remembered so it is not read again, but it has no passages.
    pub skipped: bool,
}

#[derive(Debug, Default, PartialEq)]
pub(super) struct Manifest {
    pub files: Vec<FileRecord>,
}

/// How the corpus differs from what the live generation's manifest remembers.
pub(super) struct ManifestDiff {
    /// Records of files unchanged since (same size and modification time).
    pub kept: Vec<FileRecord>,
    /// Files added or changed: to read again.
    pub to_read: Vec<FileEntry>,
    /// Sources of files gone from the corpus, sorted.
    pub removed: Vec<String>,
    pub added: usize,
    pub changed: usize,
}

impl ManifestDiff {
    /// The update this difference makes.
    pub(super) fn kind(&self) -> BuildKind {
        BuildKind::Update {
            added: self.added,
            changed: self.changed,
            removed: self.removed.len(),
        }
    }
}

impl Manifest {
    /// Compares every file the corpus holds now with its record: a file is read again when its
    /// size or modification time differ, or when the manifest does not know it.
    pub(super) fn diff(&self, files: &[FileEntry]) -> ManifestDiff {
        let mut before: HashMap<&str, &FileRecord> = self
            .files
            .iter()
            .map(|record| (record.source.as_str(), record))
            .collect();
        let mut diff = ManifestDiff {
            kept: Vec::with_capacity(files.len()),
            to_read: Vec::new(),
            removed: Vec::new(),
            added: 0,
            changed: 0,
        };
        for entry in files {
            match before.remove(entry.source.as_str()) {
                Some(record) if record.size == entry.size && record.mtime_ns == entry.mtime_ns => {
                    diff.kept.push(record.clone());
                }
                Some(_) => {
                    diff.changed += 1;
                    diff.to_read.push(entry.clone());
                }
                None => {
                    diff.added += 1;
                    diff.to_read.push(entry.clone());
                }
            }
        }
        diff.removed = before.into_keys().map(str::to_string).collect();
        diff.removed.sort_unstable();
        diff
    }
}

/// Writes the manifest into `dir` under a new name (synced before the commit that names it),
/// as lines of text ([`Manifest::to_text`]).
pub(super) fn write_manifest(dir: &Path, records: &[FileRecord]) -> Result<String> {
    let name = format!("{MANIFEST_PREFIX}{}.txt", now_ns());
    let path = dir.join(&name);
    let mut file = fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(Manifest::to_text(records).as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(name)
}

pub(super) fn read_manifest(path: &Path) -> Result<Manifest> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Manifest::from_text(&text).ok_or_else(|| anyhow!("{} is damaged", path.display()))
}

/// First line of a manifest written by [`Manifest::to_text`].
const MANIFEST_HEADER: &str = "rsearch manifest 1";

impl Manifest {
    /// The records as lines of text, read back by [`Manifest::from_text`]: `SIZE TIME PASSAGES
    /// SECTIONS SKIPPED SHARED REST`, where the source is the first SHARED bytes of the line
    /// before's followed by REST (escaped as a watch's paths are). Sources come sorted, so
    /// most share their folder with the one before: the manifest of 26,759 files takes 1.3 MB
    /// where JSON, which repeats every key and path, took 3.4 MB of the index.
    pub(super) fn to_text(records: &[FileRecord]) -> String {
        let mut out = String::with_capacity(48 * records.len() + 32);
        out.push_str(MANIFEST_HEADER);
        out.push('\n');
        let mut previous = "";
        for r in records {
            let shared = shared_prefix(previous, &r.source);
            let skipped = if r.skipped { 's' } else { '-' };
            let rest = corpus::escape_line(&r.source[shared..]);
            let line = format!(
                "{} {} {} {} {skipped} {shared} {rest}\n",
                r.size, r.mtime_ns, r.passages, r.sections
            );
            out.push_str(&line);
            previous = &r.source;
        }
        out
    }

    /// Reads what [`Manifest::to_text`] wrote; `None` for anything else.
    pub(super) fn from_text(text: &str) -> Option<Manifest> {
        let mut lines = text.lines();
        if lines.next()? != MANIFEST_HEADER {
            return None;
        }
        let mut files: Vec<FileRecord> = Vec::with_capacity(text.len() / 40);
        for line in lines {
            let mut parts = line.splitn(7, ' ');
            let mut number = || parts.next()?.parse::<u64>().ok();
            let size = number()?;
            // A time is read as 64 bits when it fits (until the year 2554): faster than 128.
            let time = parts.next()?;
            let mtime_ns = time
                .parse::<u64>()
                .map(u128::from)
                .or_else(|_| time.parse())
                .ok()?;
            let mut number = || parts.next()?.parse::<u64>().ok();
            let (passages, sections) = (number()?, number()?);
            let skipped = match parts.next()? {
                "s" => true,
                "-" => false,
                _ => return None,
            };
            let shared: usize = parts.next()?.parse().ok()?;
            let rest = corpus::unescape_line(parts.next()?)?;
            let before = files.last().map_or("", |r| r.source.as_str());
            let mut source = before.get(..shared)?.to_string();
            source.push_str(&rest);
            files.push(FileRecord {
                source,
                size,
                mtime_ns,
                passages,
                sections,
                skipped,
            });
        }
        Some(Manifest { files })
    }
}

/// The length in bytes of the longest common start of `a` and `b` that ends between characters.
fn shared_prefix(a: &str, b: &str) -> usize {
    let mut n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !b.is_char_boundary(n) {
        n -= 1;
    }
    n
}

/// Writes the watch of `scan` into `dir` under a new name (synced before the commit that names
/// it), as lines of text ([`Watch::to_text`]).
pub(super) fn write_watch(dir: &Path, scan: &Scan) -> Result<String> {
    let name = format!("{WATCH_PREFIX}{}.txt", now_ns());
    let path = dir.join(&name);
    let mut file = fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(Watch::of(scan).to_text().as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(name)
}

/// Reads the watch the stamp of the generation in `dir` names.
pub(super) fn read_watch(dir: &Path, stamp: &Stamp) -> Result<Watch> {
    let path = dir.join(&stamp.watch);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Watch::from_text(&text).ok_or_else(|| anyhow!("{} is damaged", path.display()))
}

/// Whether the corpus at `root` looks as the watch the stamp of the generation in `dir` names
/// recorded ([`Watch::text_unchanged`]: read and checked without making the watch).
pub(super) fn watch_unchanged(dir: &Path, stamp: &Stamp, root: &Path) -> Result<bool> {
    let text = read_watch_text(dir, stamp)?;
    Watch::text_unchanged(&text, root)
        .ok_or_else(|| anyhow!("{} is damaged", dir.join(&stamp.watch).display()))
}

/// The text of the watch the stamp of the generation in `dir` names.
pub(super) fn read_watch_text(dir: &Path, stamp: &Stamp) -> Result<String> {
    let path = dir.join(&stamp.watch);
    fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Removes the manifests and watches the live stamp does not name (left by earlier updates or
/// killed ones).
pub(super) fn remove_unnamed(dir: &Path, live: &Stamp) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let unnamed = (name.starts_with(MANIFEST_PREFIX) && name != live.manifest)
            || (name.starts_with(WATCH_PREFIX) && name != live.watch);
        if unnamed {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The hash of a taxonomy's text as stored in the stamp.
pub(super) fn taxonomy_hash(text: &str) -> String {
    let mut hash = corpus::Fnv64::new();
    hash.write(text.as_bytes());
    format!("{:016x}", hash.finish())
}

/// The absolute form of a corpus path, as stamps record it (the path itself if it cannot be
/// resolved, so a missing folder still compares).
pub(super) fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(source: &str, size: u64, mtime_ns: u128) -> FileRecord {
        FileRecord {
            source: source.to_string(),
            size,
            mtime_ns,
            passages: 1,
            sections: 0,
            skipped: false,
        }
    }

    fn entry(source: &str, size: u64, mtime_ns: u128) -> FileEntry {
        FileEntry {
            source: source.to_string(),
            path: PathBuf::from(source),
            size,
            mtime_ns,
        }
    }

    #[test]
    fn diff_rereads_a_file_whose_size_or_time_changed_and_keeps_the_rest() {
        let manifest = Manifest {
            files: vec![
                record("same.txt", 10, 1),
                record("longer.txt", 10, 1),
                record("touched.txt", 10, 1),
                record("gone.txt", 10, 1),
                record("also-gone.md", 10, 1),
            ],
        };
        let now = [
            entry("longer.txt", 11, 1),
            entry("new.txt", 5, 2),
            entry("same.txt", 10, 1),
            entry("touched.txt", 10, 2),
        ];
        let diff = manifest.diff(&now);
        let sources = |files: &[FileEntry]| files.iter().map(|f| f.source.clone()).collect::<Vec<_>>();
        assert_eq!(sources(&diff.to_read), ["longer.txt", "new.txt", "touched.txt"]);
        assert_eq!(diff.kept, [record("same.txt", 10, 1)]);
        assert_eq!(diff.removed, ["also-gone.md", "gone.txt"]);
        assert_eq!(
            diff.kind(),
            BuildKind::Update {
                added: 1,
                changed: 2,
                removed: 2
            }
        );
    }

    #[test]
    fn manifest_text_reads_back_as_written_whatever_the_sources() {
        let mut skipped = record("notes/empty.txt", 0, 9);
        skipped.skipped = true;
        let cases = [
            Vec::new(),
            vec![
                record("a.txt", 10, 1_795_000_000_123_456_789),
                record("notes/deep/b.md", 3, u128::MAX),
                record("notes/deep/c.md", 4, 0),
                skipped,
                record("caf\u{e9}/a.txt", 1, 2),
                record("caf\u{e8}/b.txt", 1, 2),
                record("line\nbreak\\n.md", 1, 2),
                record("line\nbreak\\n.md two", 1, 2),
                record("", 1, 2),
                record("back\\slash ends with space ", 1, 2),
            ],
        ];
        for files in cases {
            let text = Manifest::to_text(&files);
            assert_eq!(Manifest::from_text(&text), Some(Manifest { files }), "{text}");
        }
    }

    #[test]
    fn manifest_text_shares_the_start_of_the_source_before() {
        let text = Manifest::to_text(&[record("docs/a.txt", 1, 2), record("docs/b.txt", 3, 4)]);
        assert_eq!(
            text,
            "rsearch manifest 1\n1 2 1 0 - 0 docs/a.txt\n3 4 1 0 - 5 b.txt\n"
        );
    }

    #[test]
    fn manifest_text_that_is_no_manifest_is_none() {
        for text in [
            "",
            "{\"files\": []}",
            "rsearch manifest 1\n1 2 1 0 - 3 abc.txt\n",
            "rsearch manifest 1\n1 2 1 0 x 0 a.txt\n",
            "rsearch manifest 1\n1 2 1 0 -\n",
            "rsearch manifest 1\nx 2 1 0 - 0 a.txt\n",
            "rsearch manifest 1\n1 2 1 0 - 0 bad\\escape\n",
        ] {
            assert_eq!(Manifest::from_text(text), None, "{text:?}");
        }
    }
}
