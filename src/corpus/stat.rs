//! Statting the paths of a corpus for the freshness check: relative to the corpus folder,
//! opened once, and only what a check compares (kind, size, modification time).

#[cfg(not(unix))]
use std::fs;
use std::path::Path;

#[cfg(not(unix))]
use super::mtime_ns;

/// What a check needs of a `stat`: the kind of entry, its size and its modification time in
/// nanoseconds since the epoch (0 before it, as [`super::mtime_ns`] gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    pub(super) kind: Kind,
    pub(super) size: u64,
    pub(super) mtime_ns: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
    Other,
}

/// The corpus folder, opened once so that each path is looked up from it (`fstatat`) rather
/// than from the file system's root: a path of the corpus is then a few names to resolve, not
/// the folder's whole path again for each of the 1,500 folders of a large corpus.
#[cfg(unix)]
pub(super) struct Corpus {
    folder: rustix::fd::OwnedFd,
}

#[cfg(unix)]
impl Corpus {
    pub(super) fn open(root: &Path) -> Option<Corpus> {
        use rustix::fs::{Mode, OFlags};
        // `O_PATH` (Linux) needs no read permission on the folder, as a `stat` through it does not.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let folder = rustix::fs::open(root, flags, Mode::empty()).ok()?;
        Some(Corpus { folder })
    }

    /// The `stat` of `relative` (links followed, as the walk follows them); the folder itself
    /// for `""`.
    pub(super) fn stat(&self, relative: &str) -> Option<Stat> {
        use rustix::fs::{AtFlags, FileType};
        let stat = if relative.is_empty() {
            rustix::fs::fstat(&self.folder)
        } else {
            rustix::fs::statat(&self.folder, relative, AtFlags::empty())
        }
        .ok()?;
        let kind = match FileType::from_raw_mode(stat.st_mode as _) {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            _ => Kind::Other,
        };
        // The field types differ between targets (32 or 64 bits): `as` converts whichever.
        #[allow(clippy::unnecessary_cast)]
        let (seconds, nanos, size) = (
            stat.st_mtime as i64,
            stat.st_mtime_nsec as u64,
            stat.st_size as i64,
        );
        let mtime_ns = u128::try_from(seconds).map_or(0, |s| s * 1_000_000_000 + u128::from(nanos));
        Some(Stat {
            kind,
            size: u64::try_from(size).unwrap_or(0),
            mtime_ns,
        })
    }
}

/// Elsewhere, paths are joined to the corpus folder and statted with the standard library.
#[cfg(not(unix))]
pub(super) struct Corpus {
    root: std::path::PathBuf,
}

#[cfg(not(unix))]
impl Corpus {
    pub(super) fn open(root: &Path) -> Option<Corpus> {
        fs::metadata(root).ok().filter(fs::Metadata::is_dir)?;
        Some(Corpus {
            root: root.to_path_buf(),
        })
    }

    pub(super) fn stat(&self, relative: &str) -> Option<Stat> {
        let m = fs::metadata(self.root.join(relative)).ok()?;
        let kind = match (m.is_dir(), m.is_file()) {
            (true, _) => Kind::Dir,
            (_, true) => Kind::File,
            _ => Kind::Other,
        };
        Some(Stat {
            kind,
            size: m.len(),
            mtime_ns: mtime_ns(&m),
        })
    }
}
