//! The live index of a server: the open index every request reads, swapped for a new one when
//! the corpus changes (updated as `rsearch index` does) or when another writer commits.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use serde::Serialize;

use crate::index::{self, BuildSettings, CorpusChoice, Freshness, IndexDir, LiveIndex, OpenSettings, Unfit};
use crate::model::Progress;

/// How often the corpus and the index folder are checked for changes.
pub const POLL: Duration = Duration::from_millis(500);
/// Scheduling priority of updates (`nice`): below searches.
const NICENESS: &str = "10";
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
    /// `update` (files re-indexed in place) or `full` (a new generation was built; every file
    /// counts as added).
    pub kind: &'static str,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub files: usize,
    pub passages: u64,
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

    /// Updates the index by running `rsearch index` on the corpus, then opens the result.
    /// `always`: run it even when the cheap check sees nothing (a large corpus's rewritten file
    /// is seen only by the walk).
    ///
    /// The update runs in a child process at lower CPU priority: searches keep the cores first,
    /// and the writer's buffers (tens of MB) go back to the system when it ends instead of
    /// staying in this process's heap. It is exactly the update `rsearch index` makes, under
    /// the same lock.
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
        let started = Instant::now();
        let result = run_index(corpus_root, self.dir.root(), self.build.clone()).and_then(|output| {
            self.reopen()?;
            Ok(output)
        });
        let (stdout, warnings) = match result {
            Ok(output) => {
                *failed_at = None;
                output
            }
            Err(e) => {
                *failed_at = Some(Instant::now());
                return Err(e);
            }
        };
        let opened = self.get();
        let mut report = report_of(&stdout);
        report.passages = opened.reader.searcher().num_docs();
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        report.warnings = warnings;
        if report.kind == "full" {
            report.added = report.files;
        }
        if !self.quiet && report.added + report.changed + report.removed > 0 {
            eprintln!(
                "rsearch: index updated: {} added, {} changed, {} removed in {:.0} ms; now {} passages",
                report.added, report.changed, report.removed, report.elapsed_ms, report.passages
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
            eprintln!("rsearch: warning: {}", crate::output::terminal_safe(message));
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
        vectors: Default::default(),
    };
    index::open_fresh(&settings, &Progress::default(), &|_| {})
}

/// Runs `rsearch index` (this same program) at lower priority; its summary line and warnings.
fn run_index(corpus: &Path, index: &Path, build: BuildSettings) -> Result<(String, Vec<String>)> {
    let program = std::env::current_exe().context("finding the rsearch program")?;
    let memory_mb = (build.memory >> 20).max(16).to_string();
    let args = [
        OsStr::new("index"),
        OsStr::new("--corpus"),
        corpus.as_os_str(),
        OsStr::new("--index"),
        index.as_os_str(),
        OsStr::new("--memory"),
        OsStr::new(&memory_mb),
    ];
    let niced = Command::new("nice")
        .arg("-n")
        .arg(NICENESS)
        .arg(&program)
        .args(args)
        .stdin(Stdio::null())
        .output();
    let output = match niced {
        Ok(output) => output,
        // No `nice` on this system: the same update at normal priority.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Command::new(&program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running rsearch index")?,
        Err(e) => return Err(e).context("running rsearch index"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("rsearch: warning: "))
        .map(String::from)
        .collect();
    if !output.status.success() {
        let last = stderr.lines().last().unwrap_or("rsearch index failed");
        return Err(anyhow!("{}", last.strip_prefix("rsearch: ").unwrap_or(last)));
    }
    Ok((String::from_utf8_lossy(&output.stdout).into_owned(), warnings))
}

/// What `rsearch index`'s summary line says it did: `indexed …` (a full build), `index is up to
/// date: …` or `updated A added, C changed, R removed …`.
fn report_of(summary: &str) -> UpdateReport {
    let number_before = |text: &str, words: &[&str]| {
        let tokens: Vec<&str> = text.split_whitespace().collect();
        tokens
            .iter()
            .position(|t| words.contains(&t.trim_end_matches(',')))
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| tokens[i].parse::<usize>().ok())
            .unwrap_or(0)
    };
    // The totals follow "now" in an update's line; they open the other two.
    let totals = summary.split_once("; now ").map_or(summary, |(_, now)| now);
    let full = summary.starts_with("indexed ");
    UpdateReport {
        kind: if full { "full" } else { "update" },
        added: number_before(summary, &["added"]),
        changed: number_before(summary, &["changed"]),
        removed: number_before(summary, &["removed"]),
        files: number_before(totals, &["file", "files"]),
        passages: 0,
        elapsed_ms: 0.0,
        warnings: Vec::new(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_of_index_tells_what_changed() {
        for (line, kind, added, changed, removed) in [
            ("indexed 2 files, 42 passages in 15 sections (45.1 KB) in 0.03 s → index", "full", 0, 0, 0),
            ("index is up to date: 1 file, 41 passages in 14 sections → index", "update", 0, 0, 0),
            (
                "updated 1 added, 2 changed, 3 removed files in 0.05 s; now 2 files, 42 passages in 15 sections → index",
                "update",
                1,
                2,
                3,
            ),
        ] {
            let report = report_of(line);
            assert_eq!(
                (report.kind, report.added, report.changed, report.removed),
                (kind, added, changed, removed),
                "{line}"
            );
            assert_eq!(report.files, if line.contains("1 file,") { 1 } else { 2 }, "{line}");
        }
    }
}
