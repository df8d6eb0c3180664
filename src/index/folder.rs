//! The index folder: generations `gen-*`, the `CURRENT` file naming the live one, the writer
//! lock, and the clean-up of what killed builds and replaced generations leave behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};

/// File in the index folder naming the live generation.
pub(super) const CURRENT: &str = "CURRENT";
/// Lock file taken by every writer.
const LOCK: &str = ".lock";
const GENERATION_PREFIX: &str = "gen-";
const TEMP_PREFIX: &str = ".tmp-";
/// Entries an index folder may hold besides generations (the placeholder kept in git).
const PLACEHOLDERS: &[&str] = &["README.md", ".gitkeep", ".gitignore"];

/// An index folder: generations `gen-*`, the `CURRENT` file naming the live one, and a lock.
#[derive(Debug, Clone)]
pub struct IndexDir {
    root: PathBuf,
}

/// Held while writing an index; released on drop (and by the OS if the process dies).
pub struct WriteLock {
    _file: fs::File,
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

    /// Takes the writer lock. While another process holds it, calls `on_wait` once (so the
    /// caller can say why nothing happens) and waits.
    pub fn lock(&self, on_wait: &dyn Fn(&Path)) -> Result<WriteLock> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating index folder {}", self.root.display()))?;
        let path = self.root.join(LOCK);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening lock {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                on_wait(&self.root);
                file.lock()
                    .with_context(|| format!("locking {}", path.display()))?;
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
        Ok(WriteLock { _file: file })
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
        self.set_current(&generation)?;
        self.remove_old_generations(&generation, previous.as_deref());
        Ok(())
    }

    /// Replaces `CURRENT` atomically: write a temporary file, sync it, rename it over.
    fn set_current(&self, generation: &str) -> Result<()> {
        let temp = self.root.join(format!("{CURRENT}.tmp"));
        let mut file = fs::File::create(&temp).with_context(|| format!("writing {}", temp.display()))?;
        file.write_all(generation.as_bytes())
            .and_then(|_| file.sync_all())
            .with_context(|| format!("writing {}", temp.display()))?;
        fs::rename(&temp, self.root.join(CURRENT))
            .with_context(|| format!("replacing {}", self.root.join(CURRENT).display()))?;
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
        let has_leftovers = entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX));
        if !has_leftovers {
            return;
        }
        let Ok(file) = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(LOCK))
        else {
            return;
        };
        if file.try_lock().is_ok() {
            self.remove_leftovers();
        }
    }

    /// Removes temporary folders left by builds that were killed (only called under the lock).
    pub(super) fn remove_leftovers(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_dir_all(entry.path());
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

/// Nanoseconds since the epoch: names generations and manifests in the order they were made.
pub(super) fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// Flushes a folder's entries to disk so a rename into it survives a crash (best effort).
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
