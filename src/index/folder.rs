//! The index folder: generations `gen-*`, the `CURRENT` file naming the live one, the writer
//! lock, and the clean-up of what killed builds and replaced generations leave behind.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};

use super::directory::cannot_write;
use crate::corpus::{self, Scan};

/// File in the index folder naming the live generation.
pub(super) const CURRENT: &str = "CURRENT";
/// Lock file taken by every writer.
const LOCK: &str = ".lock";
const GENERATION_PREFIX: &str = "gen-";
const TEMP_PREFIX: &str = ".tmp-";
/// How long a writer waits for another writer whose heartbeat has stopped, by default
/// (`RSEARCH_LOCK_WAIT` seconds overrides it): far longer than a loaded machine can keep a
/// live writer's heartbeat thread from running, short enough not to look hung itself.
const WRITER_WAIT: Duration = Duration::from_secs(30);
/// How often the writer that holds the lock shows it is alive (rewrites the lock file).
const HEARTBEAT: Duration = Duration::from_millis(500);
/// First line of the lock file of a writer at work: says whose file it is (see
/// [`is_index_folder`]).
const LOCK_MARK: &str = "rsearch index lock";
/// How long a query waits for a writer before it searches the index as it is.
const READER_WAIT: Duration = Duration::from_secs(3);
/// How often a waiting process tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(50);
/// Entries an index folder may hold besides generations (the placeholder kept in git).
const PLACEHOLDERS: &[&str] = &["README.md", ".gitkeep", ".gitignore"];

/// An index folder: generations `gen-*`, the `CURRENT` file naming the live one, and a lock.
#[derive(Debug, Clone)]
pub struct IndexDir {
    root: PathBuf,
}

/// Held while writing an index; released on drop (and by the OS if the process dies). While
/// it is held, a thread rewrites the lock file every [`HEARTBEAT`] with this process's pid and
/// a count, so that a waiting writer can tell a writer at work (however long it takes) from a
/// stopped or hung one. A stopped process stops its heartbeat with it.
pub struct WriteLock {
    /// Stops the heartbeat thread when dropped (it ends at once, not at its next beat).
    stop: Option<mpsc::Sender<()>>,
    beating: Option<thread::JoinHandle<()>>,
    _file: fs::File,
}

impl WriteLock {
    /// The lock held through `file`, with its heartbeat started: the first beat is written
    /// before this returns, so the pid is in the file as soon as anyone can see it locked.
    fn hold(file: fs::File) -> WriteLock {
        let pid = std::process::id();
        beat(&file, pid, 0);
        let (stop, stopped) = mpsc::channel::<()>();
        let beating = file.try_clone().ok().and_then(|beats| {
            thread::Builder::new()
                .name("rsearch-lock-heartbeat".into())
                .spawn(move || {
                    let mut count = 1u64;
                    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT) {
                        beat(&beats, pid, count);
                        count += 1;
                    }
                })
                .ok()
        });
        // Without a thread (none could be started) a waiting writer takes this one for hung
        // after its bound, as before heartbeats existed; the build goes on.
        WriteLock {
            stop: Some(stop),
            beating,
            _file: file,
        }
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(beating) = self.beating.take() {
            let _ = beating.join();
        }
    }
}

/// Rewrites the lock file with the holder's pid and the beat's count; where that cannot be
/// written (a full disk), touches the file's time instead. Best effort: a failed beat only
/// makes a waiting writer give up sooner.
fn beat(file: &fs::File, pid: u32, count: u64) {
    let text = format!("{LOCK_MARK}\npid {pid}\nbeat {count}\n");
    let mut writer = file;
    let written = writer
        .seek(SeekFrom::Start(0))
        .and_then(|_| writer.write_all(text.as_bytes()))
        .and_then(|_| file.set_len(text.len() as u64));
    if written.is_err() {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Opens (or creates) the lock file, without emptying it.
fn open_lock(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
}

/// What a waiting writer sees of the holder's heartbeat: the lock file's text and time. Any
/// change is a sign of life.
#[derive(Debug, PartialEq, Eq)]
struct Sign {
    text: Option<Vec<u8>>,
    modified: Option<SystemTime>,
}

impl Sign {
    fn read(path: &Path) -> Sign {
        Sign {
            text: fs::read(path).ok(),
            modified: fs::metadata(path).and_then(|m| m.modified()).ok(),
        }
    }

    /// The holder's pid, as its lock file gives it.
    fn pid(&self) -> Option<u32> {
        holder_pid(self.text.as_deref()?)
    }
}

/// The pid an rsearch lock file names (`None` for an empty or foreign file).
fn holder_pid(text: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text.lines();
    if lines.next()? != LOCK_MARK {
        return None;
    }
    lines.find_map(|line| line.strip_prefix("pid ")?.trim().parse().ok())
}

/// ` (pid N)` when the pid is known, for messages about the holder.
fn pid_words(pid: Option<u32>) -> String {
    pid.map_or_else(String::new, |pid| format!(" (pid {pid})"))
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

    /// Takes the writer lock, for a writer. While another process holds it, calls `on_wait`
    /// once with that process's pid (so the caller can say why nothing happens) and waits as
    /// long as the holder shows it is alive; gives up when the holder's heartbeat has stopped
    /// for [`writer_wait`] (a stopped or hung writer must not stop the next one forever). A
    /// folder that holds other files is refused before anything is written into it.
    pub fn lock(&self, on_wait: &dyn Fn(&Path, Option<u32>)) -> Result<WriteLock> {
        let silence = writer_wait();
        match self.wait_for_lock(None, silence, on_wait)? {
            Ok(lock) => Ok(lock),
            Err(holder) => bail!(
                "gave up waiting for another rsearch{} writing {}: no sign of life from it for {} s \
                 (is it stopped or hung?)",
                pid_words(holder),
                self.root.display(),
                silence.as_secs()
            ),
        }
    }

    /// Takes the writer lock, waiting at most `wait` for another process to release it
    /// (`None` when it did not); calls `on_wait` once when the lock is busy.
    pub fn lock_within(
        &self,
        wait: Duration,
        on_wait: &dyn Fn(&Path, Option<u32>),
    ) -> Result<Option<WriteLock>> {
        Ok(self.wait_for_lock(Some(wait), wait, on_wait)?.ok())
    }

    /// Waits for the lock: at most `total` when given, and never longer than `silence` after
    /// the holder's last heartbeat. Liveness is judged only by the heartbeat seen changing on
    /// this process's own clock, never by the pid (which the system may have given to another
    /// process since) nor by the file's time against the clock (a lock file left by a process
    /// that died is free anyway: the system releases a dead process's lock). `Err` names the
    /// holder's pid when the wait ended without the lock.
    fn wait_for_lock(
        &self,
        total: Option<Duration>,
        silence: Duration,
        on_wait: &dyn Fn(&Path, Option<u32>),
    ) -> Result<Result<WriteLock, Option<u32>>> {
        if self.root.is_dir() {
            self.check_is_ours()?;
        }
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating index folder {}", self.root.display()))?;
        let path = self.root.join(LOCK);
        let file = open_lock(&path).with_context(|| format!("opening lock {}", path.display()))?;
        let started = Instant::now();
        let mut last_sign = Sign::read(&path);
        let mut alive_at = started;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Ok(WriteLock::hold(file))),
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", path.display()))
                }
            }
            let sign = Sign::read(&path);
            if sign != last_sign {
                last_sign = sign;
                alive_at = Instant::now();
            }
            // Said after one poll, not at once: the holder writes its pid just after it takes
            // the lock, and a lock released at once needs no word.
            if !told && started.elapsed() >= LOCK_POLL {
                on_wait(&self.root, last_sign.pid());
                told = true;
            }
            if total.is_some_and(|total| started.elapsed() >= total) || alive_at.elapsed() >= silence {
                return Ok(Err(last_sign.pid()));
            }
            thread::sleep(LOCK_POLL);
        }
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

/// How long a writer waits for a holder of the lock that shows no sign of life:
/// `RSEARCH_LOCK_WAIT` seconds (at least 1, twice the heartbeat), else [`WRITER_WAIT`].
pub fn writer_wait() -> Duration {
    std::env::var("RSEARCH_LOCK_WAIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(WRITER_WAIT, |seconds| Duration::from_secs(seconds.max(1)))
}

/// How long a reader that could search the index as it is waits for a writer first: the
/// shorter of [`READER_WAIT`] and [`writer_wait`].
pub(super) fn reader_wait() -> Duration {
    READER_WAIT.min(writer_wait())
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

    #[test]
    fn holder_pid_is_read_only_from_an_rsearch_lock_file() {
        for (text, pid) in [
            ("rsearch index lock\npid 4242\nbeat 7\n", Some(4242)),
            ("rsearch index lock\npid 1\n", Some(1)),
            ("rsearch index lock\n", None),
            ("rsearch index lock\npid x\nbeat 1\n", None),
            ("", None),
            ("pid 4242\n", None),
            ("someone else's lock\npid 4242\n", None),
        ] {
            assert_eq!(holder_pid(text.as_bytes()), pid, "{text:?}");
        }
    }

    #[test]
    fn a_writer_with_a_heartbeat_is_waited_for_past_the_silence_bound() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = IndexDir::new(&temp.path().join("index")).expect("index dir");
        let held = dir.lock(&|_, _| panic!("the lock is free")).expect("first lock");
        let text = fs::read_to_string(dir.root().join(LOCK)).expect("lock file");
        assert_eq!(holder_pid(text.as_bytes()), Some(std::process::id()), "{text:?}");
        let release = thread::spawn(move || {
            thread::sleep(Duration::from_millis(2500));
            drop(held);
        });
        let told = std::cell::Cell::new(None);
        let waited = Instant::now();
        let lock = dir
            .wait_for_lock(None, Duration::from_secs(1), &|_, pid| told.set(Some(pid)))
            .expect("no error");
        assert!(
            lock.is_ok(),
            "gave up on a live writer: {lock:?}",
            lock = lock.err()
        );
        assert!(
            waited.elapsed() >= Duration::from_secs(2),
            "{:?}",
            waited.elapsed()
        );
        assert_eq!(told.get(), Some(Some(std::process::id())));
        release.join().expect("released");
    }

    #[test]
    fn a_holder_without_a_heartbeat_is_given_up_on_after_the_silence_bound() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = IndexDir::new(&temp.path().join("index")).expect("index dir");
        fs::create_dir_all(dir.root()).expect("mkdir");
        // Held as a stopped writer holds it: its file names it, nothing beats any more.
        fs::write(dir.root().join(LOCK), "rsearch index lock\npid 4242\nbeat 3\n").expect("write");
        let silent = open_lock(&dir.root().join(LOCK)).expect("open");
        silent.try_lock().expect("lock");
        let waited = Instant::now();
        let given_up = dir
            .wait_for_lock(None, Duration::from_secs(1), &|_, _| {})
            .expect("no error");
        assert_eq!(given_up.err(), Some(Some(4242)));
        assert!(
            waited.elapsed() >= Duration::from_secs(1),
            "{:?}",
            waited.elapsed()
        );
        drop(silent);
        // Released (as the system releases a dead process's lock), the same file is free.
        assert!(dir.lock(&|_, _| {}).is_ok());
    }

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
