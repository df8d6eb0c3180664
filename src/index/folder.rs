//! The index folder: generations `gen-*`, the `CURRENT` file naming the live one, the writer
//! lock, and the clean-up of what killed builds and replaced generations leave behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};

mod lock;

pub(super) use lock::reader_wait;
use lock::{open_lock, LOCK, LOCK_MARK};
pub use lock::{writer_wait, WriteLock};

use super::directory::cannot_write;
use crate::corpus::{self, Scan};

/// File in the index folder naming the live generation.
pub(super) const CURRENT: &str = "CURRENT";
const GENERATION_PREFIX: &str = "gen-";
const TEMP_PREFIX: &str = ".tmp-";
/// Entries an index folder may hold besides generations (the placeholder kept in git).
const PLACEHOLDERS: &[&str] = &["README.md", ".gitkeep", ".gitignore"];

/// An index folder: generations `gen-*`, the `CURRENT` file naming the live one, and a lock.
#[derive(Debug, Clone)]
pub struct IndexDir {
    root: PathBuf,
}

impl IndexDir {
    /// An index folder at `root`; fails if `root` exists and is not a folder.
    pub fn new(root: &Path) -> Result<IndexDir> {
        if root.exists() && !root.is_dir() {
            bail!("index path {} is a file, not a folder", root.display());
        }
        Ok(IndexDir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The live generation's folder, as named by `CURRENT`.
    pub(super) fn current(&self) -> Result<Option<PathBuf>> {
        let path = self.root.join(CURRENT);
        let name = match fs::read_to_string(&path) {
            Ok(name) => name.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if !name.starts_with(GENERATION_PREFIX) || name.contains(['/', '\\']) {
            bail!("{} names no generation", path.display());
        }
        Ok(Some(self.root.join(name)))
    }

    /// Whether the live generation holds a passage vectors file: a look at one folder, without
    /// opening the index, so that a query starts loading the model early only when it may
    /// search by meaning.
    pub fn has_vectors(&self) -> bool {
        let Ok(Some(generation)) = self.current() else {
            return false;
        };
        fs::read_dir(generation).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(super::vectors::VECTORS_PREFIX)
            })
        })
    }

    /// Name of the live generation, as `CURRENT` names it (`None` when there is none or it
    /// cannot be read): a long-running reader compares it to see another writer's new build.
    pub fn generation(&self) -> Option<String> {
        let path = self.current().ok()??;
        Some(path.file_name()?.to_string_lossy().into_owned())
    }

    /// Scans the corpus at `corpus_root`, leaving this folder out when it lies inside the
    /// corpus. Such a folder is made before the scan when it is missing, so that the time of
    /// the corpus folder the scan records is the one it keeps: making it after would read as
    /// a change of the corpus on the next query.
    pub fn scan_corpus(&self, corpus_root: &Path) -> Result<Scan> {
        let inside = self
            .root
            .parent()
            .map(|parent| {
                if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                }
            })
            .and_then(|parent| fs::canonicalize(parent).ok())
            .zip(fs::canonicalize(corpus_root).ok())
            .is_some_and(|(parent, corpus)| parent.starts_with(corpus));
        if inside && !self.root.exists() {
            let _ = fs::create_dir(&self.root);
        }
        corpus::scan_without(corpus_root, Some(&self.root))
    }

    /// A new, empty folder for a generation being built; hidden from readers until
    /// [`IndexDir::publish`] renames it.
    pub(super) fn new_temp(&self, stamp_time: u128) -> Result<PathBuf> {
        let temp = self
            .root
            .join(format!("{TEMP_PREFIX}{stamp_time}-{}", std::process::id()));
        fs::create_dir_all(&temp).with_context(|| format!("creating {}", temp.display()))?;
        Ok(temp)
    }

    /// Makes a finished temporary folder the live generation: renames it, switches `CURRENT`
    /// atomically and removes generations no reader can still be opening.
    pub(super) fn publish(&self, temp: &Path, stamp_time: u128) -> Result<()> {
        let generation = format!("{GENERATION_PREFIX}{stamp_time}");
        fs::rename(temp, self.root.join(&generation))
            .with_context(|| format!("renaming {}", temp.display()))?;
        let previous = self.current().ok().flatten();
        if let Err(e) = self.set_current(&generation) {
            // CURRENT still names the previous generation: the new one is an orphan.
            let _ = fs::remove_dir_all(self.root.join(&generation));
            return Err(e);
        }
        self.remove_old_generations(&generation, previous.as_deref());
        Ok(())
    }

    /// Replaces `CURRENT` atomically: write a temporary file, sync it, rename it over.
    fn set_current(&self, generation: &str) -> Result<()> {
        let temp = self.root.join(format!("{CURRENT}.tmp"));
        let written = fs::File::create(&temp)
            .and_then(|mut file| {
                file.write_all(generation.as_bytes())
                    .and_then(|_| file.sync_all())
            })
            .with_context(|| format!("writing {}", temp.display()))
            .and_then(|_| {
                fs::rename(&temp, self.root.join(CURRENT))
                    .with_context(|| format!("replacing {}", self.root.join(CURRENT).display()))
            });
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        sync_dir(&self.root);
        Ok(())
    }

    /// Refuses to write into a folder that holds anything but an rsearch index.
    pub(super) fn check_is_ours(&self) -> Result<()> {
        if self.root.join(CURRENT).exists() {
            return Ok(());
        }
        let entries = fs::read_dir(&self.root).with_context(|| format!("reading {}", self.root.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name == LOCK
                || name.starts_with(GENERATION_PREFIX)
                || name.starts_with(TEMP_PREFIX)
                || name.starts_with(CURRENT)
                || PLACEHOLDERS.contains(&name.as_str());
            if !ours {
                bail!(
                    "index folder {} holds other files ({name}); give --index an empty or new folder",
                    self.root.display()
                );
            }
        }
        Ok(())
    }

    /// Removes temporary folders left by killed builds when no writer is at work (the lock is
    /// free); a reader calls this so that a killed build is cleaned up without a new build.
    /// Best effort: a read-only index folder is left as it is.
    pub(super) fn remove_leftovers_if_idle(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        let has_leftovers = entries.flatten().any(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(TEMP_PREFIX) || name == format!("{CURRENT}.tmp")
        });
        if !has_leftovers {
            return;
        }
        let path = self.root.join(LOCK);
        let Ok(file) = open_lock(&path) else {
            return;
        };
        if file.try_lock().is_ok() {
            // Held with its heartbeat like any writer's: removing a large leftover takes time.
            let _lock = WriteLock::hold(file);
            self.remove_leftovers();
        }
    }

    /// Removes what builds that were killed left (only called under the lock): temporary
    /// folders, a half-written `CURRENT.tmp`, and generations newer than the live one that
    /// `CURRENT` never named (killed between the rename and the switch).
    pub(super) fn remove_leftovers(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        let live = self.generation();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let unnamed_generation = name.starts_with(GENERATION_PREFIX)
                && live
                    .as_deref()
                    .is_some_and(|live| generation_time(&name) > generation_time(live));
            if name.starts_with(TEMP_PREFIX) || unnamed_generation {
                let _ = fs::remove_dir_all(entry.path());
            } else if name == format!("{CURRENT}.tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Keeps the live and the previous generation (a reader may still be opening it).
    fn remove_old_generations(&self, live: &str, previous: Option<&Path>) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = name == live || previous.is_some_and(|p| p == entry.path());
            if name.starts_with(GENERATION_PREFIX) && !keep {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Whether `dir` holds an rsearch index: a `CURRENT` naming a generation folder beside it, or
/// a lock file an rsearch writer wrote. A folder of documents that merely holds a file named
/// `CURRENT` or `.lock` is not taken for one.
fn is_index_folder(dir: &Path) -> bool {
    let names_generation = fs::read_to_string(dir.join(CURRENT)).is_ok_and(|name| {
        let name = name.trim();
        name.starts_with(GENERATION_PREFIX) && !name.contains(['/', '\\']) && dir.join(name).is_dir()
    });
    names_generation || fs::read(dir.join(LOCK)).is_ok_and(|text| text.starts_with(LOCK_MARK.as_bytes()))
}

/// Scans the corpus for the commands that read it without an index (`sections`, `export`,
/// `push`): every index folder inside it ([`is_index_folder`]) is left out with all under it,
/// as `index` and `query` leave out theirs, so its files are never taken for documents.
pub fn scan_corpus_without_indexes(corpus_root: &Path) -> Result<Scan> {
    let mut scan = corpus::scan(corpus_root)?;
    let indexes: Vec<String> = scan
        .dirs
        .iter()
        .filter(|(dir, _)| !dir.is_empty() && is_index_folder(&corpus_root.join(dir)))
        .map(|(dir, _)| format!("{dir}/"))
        .collect();
    if indexes.is_empty() {
        return Ok(scan);
    }
    let outside = |source: &str| {
        !indexes
            .iter()
            .any(|index| format!("{source}/").starts_with(index))
    };
    scan.files.retain(|file| outside(&file.source));
    scan.dirs.retain(|(dir, _)| outside(dir));
    if scan.files.is_empty() {
        bail!(
            "corpus folder {} holds no .txt, .md or .html file",
            corpus_root.display()
        );
    }
    Ok(scan)
}

/// Whether an error says this process may not write the index folder (permissions, read-only
/// media), as opposed to a folder it could write that failed.
pub(super) fn is_read_only(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(cannot_write)
}

/// Nanoseconds since the epoch: names generations and manifests in the order they were made.
pub(super) fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// The time a generation's name carries (`gen-<nanoseconds>`), 0 when it carries none.
fn generation_time(name: &str) -> u128 {
    name.strip_prefix(GENERATION_PREFIX)
        .and_then(|time| time.parse().ok())
        .unwrap_or(0)
}

/// Flushes a folder's entries to disk so a rename into it survives a crash (best effort).
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder's name, its files with their texts, and whether it is an index folder.
    type Case = (&'static str, &'static [(&'static str, &'static str)], bool);

    #[test]
    fn an_index_folder_is_known_by_its_current_or_its_lock_not_by_their_names() {
        let temp = tempfile::tempdir().expect("temp dir");
        let cases: [Case; 5] = [
            ("built", &[("CURRENT", "gen-1"), ("gen-1/meta.json", "{}")], true),
            (
                "locked",
                &[(".lock", "rsearch index lock\npid 1\nbeat 0\n")],
                true,
            ),
            (
                "notes",
                &[("CURRENT", "what I am reading now"), ("a.md", "# A")],
                false,
            ),
            ("dangling", &[("CURRENT", "gen-2"), ("a.md", "# A")], false),
            (
                "tool",
                &[(".lock", "locked by another tool"), ("a.md", "# A")],
                false,
            ),
        ];
        for (name, files, expected) in cases {
            let dir = temp.path().join(name);
            for (file, text) in files {
                let path = dir.join(file);
                fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                fs::write(path, text).expect("write");
            }
            assert_eq!(is_index_folder(&dir), expected, "{name}");
        }
    }

    #[test]
    fn generation_time_orders_generations_and_reads_other_names_as_zero() {
        for (name, time) in [
            ("gen-1795915825833531000", 1_795_915_825_833_531_000),
            ("gen-2", 2),
            ("gen-", 0),
            ("gen-\u{1}zz", 0),
            (".tmp-1-2", 0),
        ] {
            assert_eq!(generation_time(name), time, "{name:?}");
        }
    }
}
