//! Opening the live index fresh: open it, decide whether it is usable and current, and build,
//! update or repair it when not. It tells its caller what it does through [`Notice`]s; it never prints.

use std::fmt;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _, Result};
use serde::Deserialize;
use tantivy::{Index, IndexReader, ReloadPolicy};

use super::build::{build_or_update, BuildSettings};
use super::directory::GenerationDirectory;
use super::folder::{is_read_only, reader_wait, IndexDir, WriteLock, CURRENT};
use super::schema::{analyzer, Fields, ANALYZER, FORMAT_VERSION};
use super::stamp::{canonical, taxonomy_hash, watch_unchanged, Stamp};
use super::vectors::{VectorSettings, Vectors};
use crate::corpus::Scan;
use crate::label::{Taxonomy, TAXONOMY_FILE};
use crate::model::Progress;
use crate::prepare;

/// The live generation of an index, opened for searching, with what it was built from.
pub struct LiveIndex {
    /// The generation folder it was opened from (the stamp names files in it).
    pub generation: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    pub stamp: Stamp,
    /// The taxonomy the passages were labelled with (empty if the corpus had none).
    pub taxonomy: Taxonomy,
    /// Vectors of each passage and its sentences, when the index was built with them.
    pub vectors: Option<Vectors>,
}

/// Why an index cannot be used as it is: it is missing, cannot be read, is damaged or of
/// another format, or it no longer matches the corpus.
#[derive(Debug, Clone, PartialEq)]
pub enum Unfit {
    Missing,
    Unreadable(String),
    /// Files whose checksums no longer match what was written.
    Damaged(Vec<String>),
    OtherFormat(u32),
    OtherCorpus(PathBuf),
    CorpusChanged,
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfit::Missing => write!(f, "no index yet"),
            Unfit::Unreadable(why) => write!(f, "index is unreadable ({why})"),
            Unfit::Damaged(files) => write!(f, "index is damaged (bad checksum in {})", files.join(", ")),
            Unfit::OtherFormat(v) => {
                write!(f, "index has format {v}, this rsearch writes {FORMAT_VERSION}")
            }
            Unfit::OtherCorpus(p) => write!(f, "index was built from another corpus ({})", p.display()),
            Unfit::CorpusChanged => write!(f, "corpus changed since the index was built"),
        }
    }
}

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

/// The common case of a search, made without waiting for the freshness check: the live index
/// is opened as it is and `search` runs on it while another thread checks it against the
/// corpus ([`check`]); what the search gave counts only when the check finds nothing changed.
/// `None` whenever anything else happens (no usable index, a stale one, a failed search,
/// [`Freshness::AsIs`]): the caller then takes [`open_fresh`], which checks, builds, repairs
/// and reports as it should, so the answer and every message are as they would have been.
pub fn search_while_checking<T>(
    settings: &OpenSettings,
    search: impl FnOnce(&LiveIndex) -> Result<T>,
) -> Option<(LiveIndex, T)> {
    if settings.freshness == Freshness::AsIs {
        return None;
    }
    let dir = IndexDir::new(&settings.root).ok()?;
    let live = open_live(&dir).ok()?;
    let corpus_root = match &settings.corpus {
        CorpusChoice::Given(path) => path.clone(),
        CorpusChoice::AsBuilt { .. } => live.stamp.corpus.clone(),
    };
    let (current, searched) = std::thread::scope(|scope| {
        let checking = scope.spawn(|| check(&live, &corpus_root).is_none());
        let searched = search(&live);
        (checking.join().unwrap_or(false), searched)
    });
    let found = searched.ok().filter(|_| current)?;
    dir.remove_leftovers_if_idle();
    Some((live, found))
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

/// Opens the live index. A generation removed by a concurrent writer between reading
/// `CURRENT` and opening it is retried once with the new `CURRENT`.
pub(super) fn open_live(dir: &IndexDir) -> Result<LiveIndex, Unfit> {
    match open_once(dir) {
        Err(Unfit::Unreadable(_)) => open_once(dir),
        other => other,
    }
}

fn open_once(dir: &IndexDir) -> Result<LiveIndex, Unfit> {
    let generation = match dir.current() {
        Ok(Some(generation)) => generation,
        Ok(None) => return Err(Unfit::Missing),
        Err(e) => return Err(Unfit::Unreadable(format!("{e:#}"))),
    };
    // tantivy may panic on some corrupted files; a damaged index must read as damaged.
    match catch_unwind(AssertUnwindSafe(|| open_generation(&generation))) {
        Ok(result) => result,
        Err(_) => Err(Unfit::Unreadable("corrupted index files".into())),
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

/// Files of an opened index whose checksums do not match: called when a search fails, to tell
/// a damaged index (rebuild it) from a bug. Reading every file is too slow for each query.
fn damaged_files(live: &LiveIndex) -> Vec<String> {
    let check = catch_unwind(AssertUnwindSafe(|| live.index.validate_checksum()));
    match check {
        Ok(Ok(files)) => {
            let mut names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            names.sort();
            names
        }
        Ok(Err(e)) => vec![format!("unreadable: {e}")],
        Err(_) => vec!["unreadable".to_string()],
    }
}

fn open_generation(dir: &Path) -> Result<LiveIndex, Unfit> {
    let unreadable = |e: &dyn fmt::Display| Unfit::Unreadable(e.to_string());
    if !dir.is_dir() {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        return Err(unreadable(&format!("{CURRENT} names {name:?}, which is missing")));
    }
    let directory = GenerationDirectory::open(dir).map_err(|e| unreadable(&e))?;
    let index = Index::open(directory).map_err(|e| Unfit::Unreadable(describe(&e)))?;
    let payload = index
        .load_metas()
        .map_err(|e| Unfit::Unreadable(describe(&e)))?
        .payload
        .ok_or_else(|| unreadable(&"no version stamp"))?;
    // The format is read first: a stamp of another format may not have this one's fields.
    #[derive(Deserialize)]
    struct FormatOnly {
        format: u32,
    }
    let format: FormatOnly = serde_json::from_str(&payload).map_err(|e| unreadable(&e))?;
    if format.format != FORMAT_VERSION {
        return Err(Unfit::OtherFormat(format.format));
    }
    let stamp: Stamp = serde_json::from_str(&payload).map_err(|e| unreadable(&e))?;
    index.tokenizers().register(ANALYZER, analyzer());
    let fields = Fields::of(&index.schema()).map_err(|e| unreadable(&e))?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|e: tantivy::TantivyError| Unfit::Unreadable(describe(&e)))?;
    let taxonomy = match (fs::read_to_string(dir.join(TAXONOMY_FILE)), &stamp.taxonomy) {
        (Ok(text), Some(hash)) if taxonomy_hash(&text) != *hash => {
            return Err(Unfit::Damaged(vec![TAXONOMY_FILE.to_string()]))
        }
        (Ok(text), _) => Taxonomy::parse(&text).map_err(|e| unreadable(&e))?,
        (Err(e), None) if e.kind() == std::io::ErrorKind::NotFound => Taxonomy::default(),
        (Err(e), _) => return Err(unreadable(&format!("{TAXONOMY_FILE}: {e}"))),
    };
    let vectors = match &stamp.vectors {
        Some(name) => Some(Vectors::read(&dir.join(name)).map_err(|_| Unfit::Damaged(vec![name.clone()]))?),
        None => None,
    };
    Ok(LiveIndex {
        generation: dir.to_path_buf(),
        index,
        reader,
        fields,
        stamp,
        taxonomy,
        vectors,
    })
}

/// A tantivy error in a few words: the file and the first sentence of what is wrong with it,
/// without the debug formatting of its error chain.
fn describe(error: &tantivy::TantivyError) -> String {
    use tantivy::directory::error::OpenReadError;
    let first_sentence = |text: String| match text.split_once(". ") {
        Some((first, _)) => first.to_string(),
        None => text.trim_end_matches('.').to_string(),
    };
    match error {
        tantivy::TantivyError::OpenReadError(OpenReadError::IoError { io_error, filepath }) => {
            format!("{}: {}", filepath.display(), first_sentence(io_error.to_string()))
        }
        tantivy::TantivyError::OpenReadError(OpenReadError::FileDoesNotExist(path)) => {
            format!("{} is missing", path.display())
        }
        tantivy::TantivyError::DataCorruption(corruption) => first_sentence(format!("{corruption:?}")),
        other => first_sentence(other.to_string()),
    }
}
