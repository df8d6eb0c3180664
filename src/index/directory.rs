//! The tantivy directory of one generation: tantivy's memory-mapped directory, with files that
//! other users can read as the umask allows, and a meta lock that never blocks a reader forever.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tantivy::directory::error::{DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
    META_LOCK,
};

/// Longest wait for tantivy's meta lock, which a writer holds only while it deletes files: a
/// writer stopped at that moment must not stop readers with it.
const META_LOCK_WAIT: Duration = Duration::from_secs(2);

/// Names temporary files of atomic writes apart within one process.
static ATOMIC_WRITES: AtomicU64 = AtomicU64::new(0);

/// tantivy's [`MmapDirectory`] for a generation folder, with two differences. Atomic writes
/// (`meta.json`, `.managed.json`) create their file as any other, with the mode the umask
/// allows (tantivy's temporary file is private to its owner, which locked other users out of
/// an index they can read). The meta lock, taken by every reader while it opens the segments,
/// is waited for at most [`META_LOCK_WAIT`] and skipped where it cannot be created (a
/// read-only folder): the lock only keeps a writer's clean-up from deleting files mid-open,
/// and a reader that loses that race opens the index again.
#[derive(Clone, Debug)]
pub(super) struct GenerationDirectory {
    root: PathBuf,
    inner: MmapDirectory,
}

impl GenerationDirectory {
    /// The directory of the generation folder `root`, which must exist.
    pub(super) fn open(root: &Path) -> Result<GenerationDirectory, OpenDirectoryError> {
        Ok(GenerationDirectory {
            root: root.to_path_buf(),
            inner: MmapDirectory::open(root)?,
        })
    }

    fn meta_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        let once = Lock {
            filepath: lock.filepath.clone(),
            is_blocking: false,
        };
        let started = Instant::now();
        loop {
            match self.inner.acquire_lock(&once) {
                Ok(held) => return Ok(held),
                Err(LockError::IoError(e)) if cannot_write(&e) => {
                    return Ok(DirectoryLock::from(Box::new(())))
                }
                Err(LockError::LockBusy) if started.elapsed() < META_LOCK_WAIT => {
                    thread::sleep(Duration::from_millis(10));
                }
                Err(LockError::LockBusy) => return Ok(DirectoryLock::from(Box::new(()))),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether an I/O error says this process may not write there (permissions, read-only
/// media).
pub(super) fn cannot_write(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::PermissionDenied || error.kind() == io::ErrorKind::ReadOnlyFilesystem
}

impl Directory for GenerationDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    /// Writes a temporary file beside the target, syncs it and renames it over; a failed write
    /// removes the temporary file.
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let target = self.root.join(path);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let n = ATOMIC_WRITES.fetch_add(1, Ordering::Relaxed);
        let temp = self.root.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
        let written = fs::File::create(&temp)
            .and_then(|mut file| file.write_all(data).and_then(|_| file.sync_data()))
            .and_then(|_| fs::rename(&temp, &target));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        if lock.filepath == META_LOCK.filepath {
            self.meta_lock(lock)
        } else {
            self.inner.acquire_lock(lock)
        }
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
