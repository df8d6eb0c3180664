//! The live index of a server: the open index every request reads, swapped for a new one when
//! the corpus changes (updated as `rsearch index` does) or when another writer commits.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::corpus;
use crate::index::{
    self, BuildKind, BuildSettings, CorpusChoice, Freshness, IndexDir, LiveIndex, OpenSettings, Unfit,
};
use crate::model::Progress;
use crate::prepare;

/// How often the corpus and the index folder are checked for changes.
pub const POLL: Duration = Duration::from_millis(500);
/// After a failed update (say, a taxonomy with a syntax error), wait this long before retrying.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// What identifies the commit an index was opened at: the generation folder and, inside it,
/// every segment with its count of deleted passages (an in-place update changes both).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    generation: Option<String>,
    segments: BTreeSet<(String, u32)>,
}

/// What one update did, as `POST /api/reindex` and `/api/health` report it.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateReport {
    /// `update` (files re-indexed in place) or `full` (a new generation was built).
    pub kind: &'static str,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub files: usize,
    pub passages: usize,
    pub elapsed_ms: f64,
    pub warnings: Vec<String>,
}

/// Counters and last outcomes, for `/api/health`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// Times a new commit was opened since the server started.
    pub reloads: u64,
    pub last_update: Option<UpdateReport>,
    pub last_error: Option<String>,
}

/// The index requests read. A request takes the current `Arc<LiveIndex>` and keeps it until it
/// answers, so swapping in a new one never interrupts a search; the old index is closed when
/// its last reader is done.
pub struct Live {
    dir: IndexDir,
    /// The corpus kept in sync with the index; `None`: serve the index as it is.
    corpus: Option<PathBuf>,
    build: BuildSettings,
    current: RwLock<(Arc<LiveIndex>, Version)>,
    status: Mutex<Status>,
    /// One update at a time in this process (the watcher and `POST /api/reindex`); other
    /// processes are kept out by the index's own write lock.
    updating: Mutex<Option<Instant>>,
    quiet: bool,
}

impl Live {
    /// Wraps an index opened by the caller. `quiet` silences the notes on updates.
    pub fn new(
        dir: IndexDir,
        corpus: Option<PathBuf>,
        build: BuildSettings,
        opened: LiveIndex,
        quiet: bool,
    ) -> Live {
        let version = version_of(&dir, &opened);
        Live {
            dir,
            corpus,
            build,
            current: RwLock::new((Arc::new(opened), version)),
            status: Mutex::new(Status::default()),
            updating: Mutex::new(None),
            quiet,
        }
    }

    /// The index to answer a request with.
    pub fn get(&self) -> Arc<LiveIndex> {
        match self.current.read() {
            Ok(current) => Arc::clone(&current.0),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().0),
        }
    }

    /// The live generation's name.
    pub fn generation(&self) -> Option<String> {
        self.read_version().generation
    }

    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether the server keeps the index in sync with a corpus.
    pub fn watches_corpus(&self) -> bool {
        self.corpus.is_some()
    }

    pub fn root(&self) -> &std::path::Path {
        self.dir.root()
    }

    fn read_version(&self) -> Version {
        match self.current.read() {
            Ok(current) => current.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// One round of the watcher: opens a commit made by another writer, and updates the index
    /// when the corpus changed (the same cheap check `query` makes).
    pub fn check(&self) {
        if let Err(e) = self.reload_if_committed() {
            self.note_error(&format!("reopening the index: {e:#}"));
        }
        let Some(corpus_root) = &self.corpus else {
            return;
        };
        let opened = self.get();
        match index::check(&opened, corpus_root) {
            None => {}
            Some(Unfit::CorpusChanged) => {
                drop(opened);
                if self.retry_due() {
                    if let Err(e) = self.update(false) {
                        self.note_error(&format!("updating the index: {e:#}"));
                    }
                }
            }
            Some(other) => self.note_error(&format!("{other}; not updating it")),
        }
    }

    /// Walks the corpus and brings the index up to date now (`POST /api/reindex`), then
    /// serves the new commit.
    pub fn reindex(&self) -> Result<UpdateReport> {
        if self.corpus.is_none() {
            return Err(anyhow!(
                "the server was started with --no-refresh and does not write the index"
            ));
        }
        self.update(true)
    }

    /// Opens the live commit when it is not the one being served.
    fn reload_if_committed(&self) -> Result<bool> {
        let served = self.read_version();
        let generation = self.dir.generation();
        if generation == served.generation && segments_on_disk(&self.get()) == Some(served.segments) {
            return Ok(false);
        }
        self.reopen()?;
        Ok(true)
    }

    /// Opens the live commit and swaps it in.
    fn reopen(&self) -> Result<()> {
        // The generation is read before opening: if a writer swaps it in between, the next
        // round sees a different name and opens again, rather than missing the swap.
        let generation = self.dir.generation();
        let opened = open_as_is(&self.dir)?;
        let version = Version {
            generation,
            segments: segments_served(&opened),
        };
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = (Arc::new(opened), version);
        drop(current);
        if let Ok(mut status) = self.status.lock() {
            status.reloads += 1;
        }
        Ok(())
    }

    fn retry_due(&self) -> bool {
        match self.updating.lock() {
            Ok(failed_at) => failed_at.is_none_or(|at| at.elapsed() >= RETRY_AFTER),
            Err(_) => true,
        }
    }

    /// Scans the corpus and updates the index under its write lock, then opens the result.
    /// `always`: walk the corpus even when the cheap check sees nothing (a large corpus's
    /// rewritten file is seen only by the walk).
    fn update(&self, always: bool) -> Result<UpdateReport> {
        let corpus_root = self
            .corpus
            .as_ref()
            .ok_or_else(|| anyhow!("no corpus to update from"))?;
        let mut failed_at = self.updating.lock().unwrap_or_else(|p| p.into_inner());
        // Another update may have finished while this one waited.
        self.reload_if_committed()?;
        if !always && index::check(&self.get(), corpus_root).is_none() {
            return Err(anyhow!("nothing to update"));
        }
        let result = (|| {
            let scan = corpus::scan(corpus_root)?;
            prepare::read_taxonomy(&scan)?;
            let lock = self.dir.lock(&|_| {})?;
            let summary = index::build_or_update(&self.dir, &scan, self.build, &Progress::default(), &lock)?;
            drop(lock);
            self.reopen()?;
            Ok::<_, anyhow::Error>(summary)
        })();
        let summary = match result {
            Ok(summary) => {
                *failed_at = None;
                summary
            }
            Err(e) => {
                *failed_at = Some(Instant::now());
                return Err(e);
            }
        };
        let (kind, added, changed, removed) = match summary.kind {
            BuildKind::Full => ("full", summary.files, 0, 0),
            BuildKind::Update {
                added,
                changed,
                removed,
            } => ("update", added, changed, removed),
        };
        let report = UpdateReport {
            kind,
            added,
            changed,
            removed,
            files: summary.files,
            passages: summary.passages,
            elapsed_ms: summary.elapsed.as_secs_f64() * 1000.0,
            warnings: summary.warnings.clone(),
        };
        if !self.quiet && added + changed + removed > 0 {
            eprintln!(
                "rsearch: index updated: {added} added, {changed} changed, {removed} removed in {:.0} ms; now {} passages",
                report.elapsed_ms, report.passages
            );
        }
        if let Ok(mut status) = self.status.lock() {
            status.last_update = Some(report.clone());
            status.last_error = None;
        }
        Ok(report)
    }

    /// Records an error, printing it once (not on every round while it lasts).
    fn note_error(&self, message: &str) {
        if message.ends_with("nothing to update") {
            return;
        }
        let Ok(mut status) = self.status.lock() else {
            return;
        };
        if status.last_error.as_deref() != Some(message) {
            eprintln!("rsearch: warning: {message}");
            status.last_error = Some(message.to_string());
        }
    }
}

/// Runs [`Live::check`] every [`POLL`] until `stop` is set; returns when a running update is
/// done, so a shutdown never cuts one short.
pub fn watch(live: &Live, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        live.check();
        let mut left = POLL.saturating_sub(started.elapsed());
        while !left.is_zero() && !stop.load(Ordering::Relaxed) {
            let step = left.min(Duration::from_millis(50));
            std::thread::sleep(step);
            left = left.saturating_sub(step);
        }
    }
}

/// Opens the live index as it is: the index stage's one entry, told not to refresh (this
/// server decides when to update).
fn open_as_is(dir: &IndexDir) -> Result<LiveIndex> {
    let settings = OpenSettings {
        root: dir.root().to_path_buf(),
        corpus: CorpusChoice::AsBuilt {
            otherwise: PathBuf::new(),
        },
        freshness: Freshness::AsIs,
        memory: 0,
    };
    index::open_fresh(&settings, &Progress::default(), &|_| {})
}

fn version_of(dir: &IndexDir, opened: &LiveIndex) -> Version {
    Version {
        generation: dir.generation(),
        segments: segments_served(opened),
    }
}

/// The segments an opened reader serves, with their deleted-passage counts.
fn segments_served(opened: &LiveIndex) -> BTreeSet<(String, u32)> {
    opened
        .reader
        .searcher()
        .segment_readers()
        .iter()
        .map(|s| (s.segment_id().uuid_string(), s.num_deleted_docs()))
        .collect()
}

/// The segments of the last commit of the served generation, as its `meta.json` lists them.
fn segments_on_disk(opened: &LiveIndex) -> Option<BTreeSet<(String, u32)>> {
    let metas = opened.index.load_metas().ok()?;
    Some(
        metas
            .segments
            .iter()
            .map(|m| (m.id().uuid_string(), m.num_deleted_docs()))
            .collect(),
    )
}
