//! Corpus reading: finds the `.txt`, `.md` and `.html` files of a corpus folder, fingerprints them, and
//! reads each one as text. Problems with single files become warnings; the rest is still read.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};
use walkdir::WalkDir;

use crate::label::TAXONOMY_FILE;

mod read;
mod stat;
mod watch;

pub use read::{format_of, read, read_pieces};
pub(crate) use watch::{escape_line, unescape_line};
pub use watch::{Watch, WatchCheck};

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
    fn fnv_matches_reference_values() {
        let mut h = Fnv64::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
