//! Corpus reading: finds the `.txt`, `.md` and `.html` files of a corpus folder, fingerprints them, and
//! reads each one as text. Problems with single files become warnings; the rest is still read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use crate::label::TAXONOMY_FILE;
use crate::model::{Format, SourceText};

/// Bytes looked at to decide whether a file is binary.
const SNIFF_BYTES: usize = 8192;

/// A file found in the corpus, with what `stat` says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the corpus folder, with `/` separators.
    pub source: String,
    pub path: PathBuf,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch (0 if the system has none).
    pub mtime_ns: u128,
}

/// What a scan of the corpus folder found: its documents in a stable order (sorted by
/// relative path), its taxonomy file, if any, and every folder it walked.
#[derive(Debug, Clone)]
pub struct Scan {
    pub root: PathBuf,
    pub files: Vec<FileEntry>,
    pub taxonomy: Option<FileEntry>,
    /// Every folder walked (`""` is the root), sorted, with its modification time.
    pub dirs: Vec<(String, u128)>,
    pub warnings: Vec<String>,
}

impl Scan {
    /// Total size of the documents in bytes.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Lists the documents of a corpus folder, recursively, skipping hidden entries. Fails when
/// the folder is missing or holds no `.txt`/`.md`/`.html` file; unreadable entries and symlink loops
/// are warnings.
pub fn scan(root: &Path) -> Result<Scan> {
    scan_without(root, None)
}

/// [`scan`], leaving out the folder `skip` (and all under it) when it lies in the corpus: the
/// index folder, whose every commit would otherwise read as a change of the corpus.
pub fn scan_without(root: &Path, skip: Option<&Path>) -> Result<Scan> {
    let meta =
        fs::metadata(root).with_context(|| format!("corpus folder {} cannot be read", root.display()))?;
    if !meta.is_dir() {
        bail!("corpus {} is not a folder", root.display());
    }
    let mut scan = Scan {
        root: root.to_path_buf(),
        files: Vec::new(),
        taxonomy: None,
        dirs: Vec::new(),
        warnings: Vec::new(),
    };
    let skip = skip.and_then(|path| {
        let meta = fs::metadata(path).ok()?;
        folder_id(path, &meta)
    });
    walk(root, skip, &mut scan);
    scan.files.sort_by(|a, b| a.source.cmp(&b.source));
    scan.dirs.sort();
    if scan.files.is_empty() {
        bail!(
            "corpus folder {} holds no .txt, .md or .html file",
            root.display()
        );
    }
    Ok(scan)
}

/// Modification time of what `meta` describes, in nanoseconds since the epoch (0 if unknown).
pub fn mtime_ns(meta: &fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Identifies a folder however it was reached, to read each folder once.
#[cfg(unix)]
fn folder_id(_dir: &Path, meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn folder_id(dir: &Path, _meta: &fs::Metadata) -> Option<PathBuf> {
    fs::canonicalize(dir).ok()
}

#[cfg(unix)]
type FolderId = (u64, u64);
#[cfg(not(unix))]
type FolderId = PathBuf;

/// Walks the corpus with `walkdir`: symlinks followed, each folder sorted by name, hidden
/// entries and the folder `skip` left out. `walkdir` stops at a link back to an ancestor (a
/// loop); the folders read are remembered so that a folder reached a second time through
/// another link is skipped, naming the path it was read by, and no document is read twice.
/// A link that leads out of the corpus folder is followed and reported once.
fn walk(root: &Path, skip: Option<FolderId>, scan: &mut Scan) {
    let mut visited: HashMap<FolderId, PathBuf> = HashMap::new();
    let canonical_root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    // Links already reported as leading out: what is under them is not reported again.
    let mut outside: Vec<PathBuf> = Vec::new();
    let mut entries = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    // The folder last listed, to tell a folder that cannot be listed from an entry that
    // cannot be read.
    let mut last_dir: Option<PathBuf> = None;
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| root.display().to_string(), |p| p.display().to_string());
                if e.loop_ancestor().is_some() {
                    scan.warnings
                        .push(format!("skipping {path}: folder already read (symlink loop)"));
                } else {
                    let cause = e.io_error().map_or_else(|| e.to_string(), |io| io.to_string());
                    let folder = last_dir.as_deref().is_some_and(|d| Some(d) == e.path());
                    let kind = if folder { "folder " } else { "" };
                    scan.warnings.push(format!("skipping {kind}{path}: {cause}"));
                }
                continue;
            }
        };
        let is_dir = entry.file_type().is_dir();
        let depth = entry.depth();
        let path = entry.path().to_path_buf();
        let source = if depth == 0 {
            String::new()
        } else {
            let Some(source) = path
                .strip_prefix(root)
                .ok()
                .and_then(|p| p.to_str())
                .map(|p| p.replace(std::path::MAIN_SEPARATOR, "/"))
            else {
                scan.warnings
                    .push(format!("skipping {}: name is not UTF-8", path.display()));
                if is_dir {
                    entries.skip_current_dir();
                }
                continue;
            };
            source
        };
        let name = entry.file_name().to_str().unwrap_or_default();
        if depth > 0 && name.starts_with('.') {
            if is_dir {
                entries.skip_current_dir();
            }
            continue;
        }
        let is_taxonomy = depth == 1 && name == TAXONOMY_FILE;
        let wanted_file = is_taxonomy || format_of(name).is_some();
        // The entry's type comes with the listing: no `stat` for files that are not documents.
        if !is_dir && !wanted_file {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                let cause = e.io_error().map_or_else(|| e.to_string(), |io| io.to_string());
                scan.warnings
                    .push(format!("skipping {}: {cause}", path.display()));
                if is_dir {
                    entries.skip_current_dir();
                }
                continue;
            }
        };
        if entry.path_is_symlink() && !outside.iter().any(|link| path.starts_with(link)) {
            if let Ok(target) = fs::canonicalize(&path) {
                if !target.starts_with(&canonical_root) {
                    scan.warnings.push(format!(
                        "{} leads out of the corpus folder (to {}); read as part of the corpus",
                        path.display(),
                        target.display()
                    ));
                    outside.push(path.clone());
                }
            }
        }
        if is_dir {
            match folder_id(&path, &meta) {
                Some(id) if depth > 0 && skip.as_ref() == Some(&id) => {
                    entries.skip_current_dir();
                    continue;
                }
                Some(id) => match visited.get(&id) {
                    None => {
                        visited.insert(id, path.clone());
                    }
                    Some(first) => {
                        scan.warnings.push(format!(
                            "skipping {}: same folder as {}, already read",
                            path.display(),
                            first.display()
                        ));
                        entries.skip_current_dir();
                        continue;
                    }
                },
                None => {
                    scan.warnings
                        .push(format!("skipping {}: cannot be resolved", path.display()));
                    entries.skip_current_dir();
                    continue;
                }
            }
            scan.dirs.push((source, mtime_ns(&meta)));
            last_dir = Some(path);
        } else if meta.is_file() {
            let file = FileEntry {
                source,
                path,
                size: meta.len(),
                mtime_ns: mtime_ns(&meta),
            };
            if is_taxonomy {
                scan.taxonomy = Some(file);
            } else {
                scan.files.push(file);
            }
        }
    }
}

/// What `query` looks at to tell, cheaply, whether the corpus changed since a build: the
/// modification time of every folder (it changes when an entry is added, removed or renamed
/// in that folder), the taxonomy's size and time, and, for corpora of at most
/// [`Watch::MAX_FILES`] documents, every document's size and time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub dirs: Vec<(String, u128)>,
    pub taxonomy: Option<(u64, u128)>,
    /// Empty for larger corpora: an in-place edit there is seen by `rsearch index`.
    pub files: Vec<(String, u64, u128)>,
}

impl Watch {
    /// Corpora up to this many documents have every document checked before each query
    /// (about a millisecond of `stat` calls).
    pub const MAX_FILES: usize = 1000;

    /// What to watch of a scanned corpus.
    pub fn of(scan: &Scan) -> Watch {
        let files = if scan.files.len() <= Watch::MAX_FILES {
            scan.files
                .iter()
                .map(|f| (f.source.clone(), f.size, f.mtime_ns))
                .collect()
        } else {
            Vec::new()
        };
        Watch {
            dirs: scan.dirs.clone(),
            taxonomy: scan.taxonomy.as_ref().map(|t| (t.size, t.mtime_ns)),
            files,
        }
    }

    /// The watch as lines of text, read back by [`Watch::from_text`]: a query reads it before
    /// each search, and this is several times cheaper to read than JSON (whose 128-bit numbers
    /// serde reads slowly). A path is the end of its line, with `\` and line breaks escaped.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(64 * (self.dirs.len() + self.files.len() + 2));
        out.push_str(WATCH_HEADER);
        out.push('\n');
        match self.taxonomy {
            Some((size, mtime)) => out.push_str(&format!("t {size} {mtime}\n")),
            None => out.push_str("t -\n"),
        }
        for (path, mtime) in &self.dirs {
            out.push_str(&format!("d {mtime} {}\n", escape_line(path)));
        }
        for (path, size, mtime) in &self.files {
            out.push_str(&format!("f {size} {mtime} {}\n", escape_line(path)));
        }
        out
    }

    /// Reads what [`Watch::to_text`] wrote; `None` for anything else.
    pub fn from_text(text: &str) -> Option<Watch> {
        let mut lines = text.lines();
        if lines.next()? != WATCH_HEADER {
            return None;
        }
        let mut watch = Watch {
            taxonomy: parse_taxonomy(lines.next()?)?,
            ..Watch::default()
        };
        for line in lines {
            match parse_entry(line)? {
                (path, None, mtime) => watch.dirs.push((path.into_owned(), mtime)),
                (path, Some(size), mtime) => watch.files.push((path.into_owned(), size, mtime)),
            }
        }
        Some(watch)
    }

    /// Whether the corpus at `root` still looks as it did: every folder and watched file has
    /// the same modification time (and size), and the taxonomy is as it was. Large watches
    /// are checked on one thread per core (a `stat` is a few microseconds on overlay file
    /// systems; 1,500 folders take milliseconds on one thread).
    pub fn unchanged(&self, root: &Path) -> bool {
        let checks: Vec<Check> = self
            .dirs
            .iter()
            .map(|(relative, mtime)| (Cow::Borrowed(relative.as_str()), None, *mtime))
            .chain(
                self.files
                    .iter()
                    .map(|(relative, size, mtime)| (Cow::Borrowed(relative.as_str()), Some(*size), *mtime)),
            )
            .collect();
        unchanged(root, self.taxonomy, &checks)
    }

    /// [`Watch::unchanged`] of the watch `text` holds ([`Watch::to_text`]), read without making
    /// the watch: a query reads one before every search, and the paths need no copy to be
    /// statted. `None` when the text is no watch.
    pub fn text_unchanged(text: &str, root: &Path) -> Option<bool> {
        let mut lines = text.lines();
        if lines.next()? != WATCH_HEADER {
            return None;
        }
        let taxonomy = parse_taxonomy(lines.next()?)?;
        let mut checks: Vec<Check> = Vec::with_capacity(text.len() / 48);
        for line in lines {
            checks.push(parse_entry(line)?);
        }
        Some(unchanged(root, taxonomy, &checks))
    }
}

/// One thing a watch stats: a path relative to the corpus root (a folder when it has no
/// size), its size and its modification time.
type Check<'a> = (Cow<'a, str>, Option<u64>, u128);

/// Whether the taxonomy and every checked path of the corpus at `root` are as recorded. Large
/// watches are checked on one thread per core (a `stat` is a few microseconds on overlay file
/// systems; 1,500 folders take milliseconds on one thread).
fn unchanged(root: &Path, taxonomy: Option<(u64, u128)>, checks: &[Check]) -> bool {
    let taxonomy_now = fs::metadata(root.join(TAXONOMY_FILE))
        .ok()
        .filter(fs::Metadata::is_file)
        .map(|m| (m.len(), mtime_ns(&m)));
    if taxonomy_now != taxonomy {
        return false;
    }
    // Paths are made in one buffer (joining a path for each stat cost more than the
    // parsing); a root that is not Unicode takes `Path::join`.
    let same = |(relative, size, mtime): &Check, buffer: &mut String| {
        let metadata = match root.to_str() {
            _ if relative.is_empty() => fs::metadata(root),
            Some(base) => {
                buffer.clear();
                buffer.push_str(base);
                buffer.push('/');
                buffer.push_str(relative);
                fs::metadata(&*buffer)
            }
            None => fs::metadata(root.join(&**relative)),
        };
        metadata.is_ok_and(|m| {
            let kind_and_size = match size {
                None => m.is_dir(),
                Some(size) => m.is_file() && m.len() == *size,
            };
            kind_and_size && mtime_ns(&m) == *mtime
        })
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if checks.len() < PARALLEL_STAT_MIN || threads < 2 {
        let mut buffer = String::new();
        return checks.iter().all(|check| same(check, &mut buffer));
    }
    let changed = AtomicBool::new(false);
    let chunk = checks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in checks.chunks(chunk) {
            let (changed, same) = (&changed, &same);
            scope.spawn(move || {
                let mut buffer = String::new();
                for check in part {
                    if changed.load(Ordering::Relaxed) {
                        return;
                    }
                    if !same(check, &mut buffer) {
                        changed.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    !changed.load(Ordering::Relaxed)
}

/// Watches with fewer entries than this are checked on one thread.
const PARALLEL_STAT_MIN: usize = 256;

/// First line of a watch written by [`Watch::to_text`].
const WATCH_HEADER: &str = "rsearch watch 1";

/// The taxonomy line of a watch's text: `t SIZE TIME`, or `t -` when there was none.
fn parse_taxonomy(line: &str) -> Option<Option<(u64, u128)>> {
    match line.strip_prefix("t ")? {
        "-" => Some(None),
        sizes => {
            let (size, mtime) = sizes.split_once(' ')?;
            Some(Some((size.parse().ok()?, parse_time(mtime)?)))
        }
    }
}

/// A folder line (`d TIME PATH`) or a file line (`f SIZE TIME PATH`) of a watch's text.
fn parse_entry(line: &str) -> Option<Check<'_>> {
    if let Some(rest) = line.strip_prefix("d ") {
        let (mtime, path) = rest.split_once(' ')?;
        Some((unescape_line(path)?, None, parse_time(mtime)?))
    } else {
        let (size, rest) = line.strip_prefix("f ")?.split_once(' ')?;
        let (mtime, path) = rest.split_once(' ')?;
        Some((unescape_line(path)?, Some(size.parse().ok()?), parse_time(mtime)?))
    }
}

/// A time in nanoseconds; read as 64 bits when it fits (until the year 2554), which is several
/// times faster than a 128-bit read.
fn parse_time(text: &str) -> Option<u128> {
    match text.parse::<u64>() {
        Ok(n) => Some(u128::from(n)),
        Err(_) => text.parse().ok(),
    }
}

/// A path on one line: `\` and line breaks escaped.
fn escape_line(path: &str) -> String {
    if !path.contains(['\\', '\n', '\r']) {
        return path.to_string();
    }
    path.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// The path [`escape_line`] escaped; `None` for an escape it does not write.
fn unescape_line(line: &str) -> Option<Cow<'_, str>> {
    if !line.contains('\\') {
        return Some(Cow::Borrowed(line));
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '\\' => '\\',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(Cow::Owned(out))
}

/// The format a file name implies: `.txt` is plain text, `.md`/`.markdown` Markdown,
/// `.html`/`.htm` HTML.
pub fn format_of(name: &str) -> Option<Format> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "txt" => Some(Format::Text),
        "md" | "markdown" => Some(Format::Markdown),
        "html" | "htm" => Some(Format::Html),
        _ => None,
    }
}

/// Reads one document. An empty or binary file gives `Ok(None)` and a warning; invalid UTF-8 is
/// replaced (U+FFFD) with a warning; NUL bytes become spaces.
pub fn read(entry: &FileEntry, warnings: &mut Vec<String>) -> Result<Option<SourceText>> {
    let mut bytes = Vec::with_capacity(entry.size as usize);
    fs::File::open(&entry.path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("reading {}", entry.path.display()))?;
    if bytes.is_empty() {
        warnings.push(format!("skipping {}: empty file", entry.source));
        return Ok(None);
    }
    if let Some(text) = decode_utf16(&bytes) {
        bytes = text.into_bytes();
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    if looks_binary(&bytes[..bytes.len().min(SNIFF_BYTES)]) {
        warnings.push(format!("skipping {}: binary file", entry.source));
        return Ok(None);
    }
    let mut text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            warnings.push(format!(
                "{} is not valid UTF-8 (first bad byte at offset {}): invalid bytes replaced by U+FFFD",
                entry.source,
                e.utf8_error().valid_up_to()
            ));
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    if text.contains('\0') {
        text = text.replace('\0', " ");
    }
    // Old Mac files end lines with a lone CR; segmentation splits lines at LF only.
    if text.contains('\r') {
        text = text.replace("\r\n", "\n").replace('\r', "\n");
    }
    let format = format_of(&entry.source).unwrap_or(Format::Text);
    Ok(Some(SourceText {
        source: entry.source.clone(),
        format,
        text,
    }))
}

/// Text of a file that opens with a UTF-16 byte order mark (either byte order), unpaired
/// surrogates replaced by U+FFFD; `None` for any other file.
fn decode_utf16(bytes: &[u8]) -> Option<String> {
    let little = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let units = bytes[2..].chunks_exact(2).map(|pair| {
        let pair = [pair[0], pair[1]];
        if little {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        }
    });
    Some(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

/// Binary if more than 1% of the sample (and more than two bytes) is NUL, or more than 10% is
/// other control bytes: a stray NUL in a text file, even a short one, does not make it binary.
fn looks_binary(sample: &[u8]) -> bool {
    if sample.is_empty() {
        return false;
    }
    let nul = sample.iter().filter(|&&b| b == 0).count();
    let control = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b | 0))
        .count();
    (nul > 2 && nul * 100 > sample.len()) || control * 10 > sample.len()
}

/// 64-bit FNV-1a: a small stable hash for what the index stores (std's hasher may change between
/// Rust releases, and these hashes are kept on disk).
pub struct Fnv64(u64);

impl Fnv64 {
    pub fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_text_reads_back_as_written_whatever_the_names() {
        let watches = [
            Watch::default(),
            Watch {
                dirs: vec![(String::new(), 1), ("a b/c".into(), u128::MAX)],
                taxonomy: Some((12, 1_795_000_000_000_000_000)),
                files: vec![("x.txt".into(), 0, 7), ("line\nbreak\\n\r.md".into(), 3, 4)],
            },
            Watch {
                dirs: vec![("back\\slash".into(), 9)],
                taxonomy: None,
                files: Vec::new(),
            },
        ];
        for watch in watches {
            assert_eq!(Watch::from_text(&watch.to_text()), Some(watch));
        }
    }

    #[test]
    fn watch_text_tells_a_changed_folder_as_the_watch_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("sub dir")).expect("folder");
        let time = |path: &Path| mtime_ns(&fs::metadata(path).expect("stat"));
        let watch = Watch {
            dirs: vec![
                (String::new(), time(dir.path())),
                ("sub dir".into(), time(&dir.path().join("sub dir"))),
            ],
            taxonomy: None,
            files: Vec::new(),
        };
        let moved = Watch {
            dirs: vec![("sub dir".into(), 1)],
            ..watch.clone()
        };
        for (watch, same) in [(watch, true), (moved, false)] {
            assert_eq!(watch.unchanged(dir.path()), same);
            assert_eq!(Watch::text_unchanged(&watch.to_text(), dir.path()), Some(same));
        }
        assert_eq!(Watch::text_unchanged("{}", dir.path()), None);
    }

    #[test]
    fn watch_text_that_is_not_a_watch_is_none() {
        for text in [
            "",
            "{}",
            "rsearch watch 1\n",
            "rsearch watch 1\nt x 1\n",
            "rsearch watch 1\nt -\nd 1\n",
            "rsearch watch 1\nt -\nd 1 bad\\escape\n",
        ] {
            assert_eq!(Watch::from_text(text), None, "{text:?}");
        }
    }

    #[test]
    fn stray_nul_is_text_but_many_nuls_are_binary() {
        let mut text = b"hello world, this is text ".repeat(20);
        text.push(0);
        assert!(!looks_binary(&text));
        assert!(!looks_binary(b"Nul\n\nA paragraph about the\0axolotl.\n"));
        assert!(looks_binary(&[0u8, 1, 2, 3, 0, 0, 7, 8]));
    }

    #[test]
    fn format_comes_from_extension() {
        assert_eq!(format_of("a.TXT"), Some(Format::Text));
        assert_eq!(format_of("b.md"), Some(Format::Markdown));
        assert_eq!(format_of("c.html"), Some(Format::Html));
        assert_eq!(format_of("d.HTM"), Some(Format::Html));
        assert_eq!(format_of("c.toml"), None);
        assert_eq!(format_of("README"), None);
    }

    #[test]
    fn fnv_matches_reference_values() {
        let mut h = Fnv64::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
