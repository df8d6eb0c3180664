//! Opening the live index fresh: open it, decide whether it is usable and current, and build,
//! update or repair it when not. It tells its caller what it does through [`Notice`]s; it never prints.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _, Result};

use super::build::{build_or_update, BuildSettings};
use super::folder::{is_read_only, reader_wait, IndexDir, WriteLock};
use super::open::{damaged_files, open_live, read_stamp, LiveIndex, Unfit};
use super::stamp::{canonical, read_watch_text, watch_unchanged, Stamp};
use super::vectors::VectorSettings;
use crate::corpus::{Scan, Watch, WatchCheck};
use crate::model::Progress;
use crate::prepare;

/// Whether to bring the index up to date with its corpus before using it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Check the corpus cheaply and build or update the index when it is unfit.
    Refresh,
    /// Use the index as it is (`--no-refresh`); an unfit index is an error.
    AsIs,
}

/// Which corpus folder the index is kept fresh from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorpusChoice {
    /// Named on the command line.
    Given(PathBuf),
    /// The folder the index was built from, or `otherwise` when there is no index to ask.
    AsBuilt { otherwise: PathBuf },
}

/// Everything [`open_fresh`] needs, settled once from the command line.
#[derive(Debug, Clone)]
pub struct OpenSettings {
    /// The index folder.
    pub root: PathBuf,
    pub corpus: CorpusChoice,
    pub freshness: Freshness,
    /// Memory budget of the writer, in bytes, when the index must be built or updated.
    pub memory: usize,
    /// Passage vectors a build makes (by default, with the model if there is one).
    pub vectors: VectorSettings,
}

/// What happens while an index is kept fresh, told to the caller as it happens so that it
/// can say so before a long wait or a long build.
#[derive(Debug)]
pub enum Notice<'a> {
    /// Another process (pid `holder`, when its lock file names it) is writing the index; this
    /// one waits for the lock.
    Waiting { root: &'a Path, holder: Option<u32> },
    /// The index is about to be built anew (`update: false`) or updated in place.
    Refreshing {
        why: &'a Unfit,
        update: bool,
        root: &'a Path,
    },
    /// Something the user should know that does not stop the command.
    Warning(String),
}

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Waiting { root, holder } => match holder {
                Some(pid) => write!(
                    f,
                    "waiting for another rsearch (pid {pid}) writing {}",
                    root.display()
                ),
                None => write!(f, "waiting for another rsearch writing {}", root.display()),
            },
            Notice::Refreshing { why, update, root } => {
                let action = if *update { "updating" } else { "building" };
                write!(f, "{why}; {action} the index in {}", root.display())
            }
            Notice::Warning(warning) => write!(f, "warning: {warning}"),
        }
    }
}

/// Opens the live index of `settings.root`. With [`Freshness::Refresh`] it is first built or
/// updated when it is missing, unreadable, of another format, or older than the corpus (a
/// cheap check: see `corpus::Watch`), under the writer lock so that concurrent readers update
/// once, and the leftovers of a killed build are cleared when no writer is at work.
pub fn open_fresh(
    settings: &OpenSettings,
    progress: &Progress,
    notify: &dyn Fn(Notice),
) -> Result<LiveIndex> {
    let dir = IndexDir::new(&settings.root)?;
    let opened = open_live(&dir);
    if settings.freshness == Freshness::AsIs {
        return opened.map_err(|why| unusable(&dir, &why));
    }
    let live = refresh(&dir, settings, opened, progress, notify)?;
    dir.remove_leftovers_if_idle();
    Ok(live)
}

/// The common case of a search, made without waiting for the freshness check: the live
/// commit's watch is read ([`LiveWatch`]), the live index is opened as it is and `search` runs
/// on it while another thread checks the watch against the corpus, this thread taking its
/// share of the check once the search is done ([`WatchCheck`]; a small watch, a few `stat`
/// calls, is checked on this thread first: that costs less than starting a thread);
/// what the search gave counts only when the check finds nothing changed for the very commit
/// that was searched. `None` whenever anything else happens (no usable index, a stale one, a
/// commit made between the two, a failed search, [`Freshness::AsIs`]): the caller then takes
/// [`open_fresh`], which checks, builds, repairs and reports as it should, so the answer and
/// every message are as they would have been.
pub fn search_while_checking<T>(
    settings: &OpenSettings,
    search: impl FnOnce(&LiveIndex) -> Result<T>,
) -> Option<(LiveIndex, T)> {
    if settings.freshness == Freshness::AsIs {
        return None;
    }
    let dir = IndexDir::new(&settings.root).ok()?;
    let watch = LiveWatch::read(&dir, &settings.corpus)?;
    let open_and_search = || {
        open_live(&dir).ok().map(|live| {
            let searched = search(&live);
            (live, searched)
        })
    };
    let (unchanged, opened) = if watch.text.len() <= INLINE_WATCH_BYTES {
        if !watch.unchanged() {
            return None;
        }
        (true, open_and_search())
    } else {
        // The check usually takes longer than the search: once the search is done, its
        // thread cleans up and then takes its share of the check.
        let check = WatchCheck::new(&watch.text, &watch.root)?;
        std::thread::scope(|scope| {
            let checking = scope.spawn(|| check.help());
            let opened = open_and_search();
            dir.remove_leftovers_if_idle();
            check.help();
            let finished = checking.join().is_ok();
            (finished && check.outcome() == Some(true), opened)
        })
    };
    let (live, searched) = opened?;
    if !unchanged || watch.generation != live.generation || watch.stamp != live.stamp {
        return None;
    }
    let found = searched.ok()?;
    if watch.text.len() <= INLINE_WATCH_BYTES {
        dir.remove_leftovers_if_idle();
    }
    Some((live, found))
}

/// Watches up to this size (about 60 folders and files) are checked before the search, on
/// the calling thread; larger ones beside it.
const INLINE_WATCH_BYTES: usize = 4096;

/// The watch of the live commit, read from its stamp without opening the index, for the
/// corpus it is to be checked against.
struct LiveWatch {
    generation: PathBuf,
    stamp: Stamp,
    root: PathBuf,
    text: String,
}

impl LiveWatch {
    /// `None` when anything cannot be read, or the corpus is not the one the index was built
    /// from (the slow path says so).
    fn read(dir: &IndexDir, corpus: &CorpusChoice) -> Option<LiveWatch> {
        let generation = dir.current().ok()??;
        let stamp = read_stamp(&generation).ok()?;
        let root = match corpus {
            CorpusChoice::Given(path) => canonical(path),
            CorpusChoice::AsBuilt { .. } => stamp.corpus.clone(),
        };
        if stamp.corpus != root {
            return None;
        }
        let text = read_watch_text(&generation, &stamp).ok()?;
        Some(LiveWatch {
            generation,
            stamp,
            root,
            text,
        })
    }

    /// Whether the corpus looks as the watch recorded ([`check`] without an opened index).
    fn unchanged(&self) -> bool {
        Watch::text_unchanged(&self.text, &self.root) == Some(true)
    }
}

/// Repairs the index after `failure`, a search that failed on `live`: when some of its files
/// no longer match their checksums, the index is rebuilt (or, with [`Freshness::AsIs`], the
/// user is told how) and opened again; otherwise the failure stands, as a bug, not damage.
pub fn repair(
    settings: &OpenSettings,
    live: LiveIndex,
    failure: anyhow::Error,
    progress: &Progress,
    notify: &dyn Fn(Notice),
) -> Result<LiveIndex> {
    let damaged = damaged_files(&live);
    if damaged.is_empty() {
        return Err(failure);
    }
    let dir = IndexDir::new(&settings.root)?;
    let why = Unfit::Damaged(damaged);
    if settings.freshness == Freshness::AsIs {
        return Err(unusable(&dir, &why));
    }
    let corpus_root = match &settings.corpus {
        CorpusChoice::Given(path) => path.clone(),
        CorpusChoice::AsBuilt { .. } => live.stamp.corpus.clone(),
    };
    drop(live);
    let scan = dir
        .scan_corpus(&corpus_root)
        .with_context(|| format!("{why}, and it cannot be rebuilt"))?;
    let lock = dir.lock(&|root, holder| notify(Notice::Waiting { root, holder }))?;
    match open_live(&dir) {
        Ok(o) if damaged_files(&o).is_empty() && check(&o, &corpus_root).is_none() => Ok(o),
        _ => build_announced(&dir, &scan, &why, settings, lock, progress, notify),
    }
}

/// Returns the opened index when it is current, else builds or updates it from the corpus.
/// A corpus that cannot be read leaves an index built from the default corpus usable, with a
/// warning; so does a changed corpus when the index cannot be updated: another writer holds
/// the lock past a short wait, this user cannot write the folder, or the update fails.
fn refresh(
    dir: &IndexDir,
    settings: &OpenSettings,
    opened: Result<LiveIndex, Unfit>,
    progress: &Progress,
    notify: &dyn Fn(Notice),
) -> Result<LiveIndex> {
    let corpus_root: PathBuf = match (&settings.corpus, &opened) {
        (CorpusChoice::Given(path), _) => path.clone(),
        (CorpusChoice::AsBuilt { .. }, Ok(o)) => o.stamp.corpus.clone(),
        (CorpusChoice::AsBuilt { otherwise }, Err(_)) => otherwise.clone(),
    };
    let why = match &opened {
        Ok(o) => match check(o, &corpus_root) {
            None => return opened.map_err(|why| unusable(dir, &why)),
            Some(why) => why,
        },
        Err(why) => why.clone(),
    };
    let scan = match dir.scan_corpus(&corpus_root) {
        Ok(scan) => scan,
        Err(e) => {
            return match opened {
                Ok(o) if matches!(settings.corpus, CorpusChoice::AsBuilt { .. }) => {
                    notify(Notice::Warning(format!(
                        "{e:#}; searching the index as it was built"
                    )));
                    Ok(o)
                }
                Ok(_) | Err(Unfit::Missing) => Err(e),
                Err(why) => Err(anyhow!("{}, and it cannot be rebuilt: {e:#}", why)),
            };
        }
    };
    let waiting = |root: &Path, holder| notify(Notice::Waiting { root, holder });
    let lock = match opened {
        // The index answers as it was built: a writer that does not finish soon, or a folder
        // this user cannot write, leaves it answering rather than waiting or failing.
        Ok(live) => match dir.lock_within(reader_wait(), &waiting) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                notify(Notice::Warning(format!(
                    "another rsearch is still writing {} after {} s; searching the index as it is",
                    dir.root().display(),
                    reader_wait().as_secs()
                )));
                return Ok(live);
            }
            Err(e) if is_read_only(&e) => {
                notify(Notice::Warning(format!(
                    "cannot update the index in {}: {e:#}; searching it as it was built",
                    dir.root().display()
                )));
                return Ok(live);
            }
            Err(e) => return Err(e),
        },
        Err(_) => dir.lock(&waiting)?,
    };
    if let Ok(o) = open_live(dir) {
        if check(&o, &corpus_root).is_none() {
            return Ok(o);
        }
    }
    build_announced(dir, &scan, &why, settings, lock, progress, notify)
}

/// Builds or updates the index under the held lock, saying why first, and opens it. A
/// taxonomy error ends the command before the notice, so the error stands alone.
fn build_announced(
    dir: &IndexDir,
    scan: &Scan,
    why: &Unfit,
    open: &OpenSettings,
    lock: WriteLock,
    progress: &Progress,
    notify: &dyn Fn(Notice),
) -> Result<LiveIndex> {
    prepare::read_taxonomy(scan)?;
    // Only a changed corpus is brought up to date in place; anything wrong with the index
    // itself (missing, damaged, another format or corpus) gets a new generation.
    let update = *why == Unfit::CorpusChanged;
    notify(Notice::Refreshing {
        why,
        update,
        root: dir.root(),
    });
    let settings = BuildSettings {
        memory: open.memory,
        full: !update,
        vectors: open.vectors.clone(),
    };
    let summary = match build_or_update(dir, scan, settings, progress, &lock) {
        Ok(summary) => summary,
        // A failed update leaves the last commit in place: it answers, with a warning, until
        // an update succeeds.
        Err(e) if update => {
            drop(lock);
            let Ok(live) = open_live(dir) else {
                return Err(e);
            };
            notify(Notice::Warning(format!(
                "{e:#}; searching the index as it was built"
            )));
            return Ok(live);
        }
        Err(e) => return Err(e),
    };
    for warning in summary.warnings {
        notify(Notice::Warning(warning));
    }
    drop(lock);
    open_live(dir).map_err(|why| unusable(dir, &why))
}

/// The error for an index that cannot be used and will not be rebuilt here.
fn unusable(dir: &IndexDir, why: &Unfit) -> anyhow::Error {
    match why {
        Unfit::Missing => anyhow!("no index in {}; run `rsearch index` first", dir.root().display()),
        other => anyhow!(
            "{other} in {}; run `rsearch index` to rebuild it",
            dir.root().display()
        ),
    }
}

/// Checks an opened index against the corpus as it is now, cheaply: the folder it was built
/// from, then the folder and file times its `Watch` recorded (no walk of the corpus). A reader
/// that keeps an index open (the server) asks this to learn when to update it.
pub fn check(live: &LiveIndex, corpus_root: &Path) -> Option<Unfit> {
    let root = canonical(corpus_root);
    if live.stamp.corpus != root {
        return Some(Unfit::OtherCorpus(live.stamp.corpus.clone()));
    }
    match watch_unchanged(&live.generation, &live.stamp, &root) {
        Err(e) => Some(Unfit::Unreadable(format!("{e:#}"))),
        Ok(false) => Some(Unfit::CorpusChanged),
        Ok(true) => None,
    }
}
