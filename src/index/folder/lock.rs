//! The writer lock of an index folder: one writer at a time, a heartbeat that shows the holder
//! is alive, and bounded waits for writers and for queries.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _, Result};

use super::IndexDir;

/// Lock file taken by every writer.
pub(super) const LOCK: &str = ".lock";

/// How long a writer waits for another writer whose heartbeat has stopped, by default
/// (`RSEARCH_LOCK_WAIT` seconds overrides it): far longer than a loaded machine can keep a
/// live writer's heartbeat thread from running, short enough not to look hung itself.
const WRITER_WAIT: Duration = Duration::from_secs(30);

/// How often the writer that holds the lock shows it is alive (rewrites the lock file).
const HEARTBEAT: Duration = Duration::from_millis(500);

/// First line of the lock file of a writer at work: says whose file it is (see
/// [`is_index_folder`]).
pub(super) const LOCK_MARK: &str = "rsearch index lock";

/// How long a query waits for a writer before it searches the index as it is.
const READER_WAIT: Duration = Duration::from_secs(3);

/// How often a waiting process tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(50);

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
    pub(super) fn hold(file: fs::File) -> WriteLock {
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
pub(super) fn open_lock(path: &Path) -> std::io::Result<fs::File> {
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
pub(in crate::index) fn reader_wait() -> Duration {
    READER_WAIT.min(writer_wait())
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
}
