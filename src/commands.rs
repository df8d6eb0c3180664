//! Commands: settles paths, colour and defaults from the parsed flags once, then drives the
//! pipeline stages for each subcommand.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

use crate::cli::{Cli, ColorChoice, Command, IndexArgs, QueryArgs};
use crate::corpus;
use crate::index::{self, BuildSettings, BuildSummary, IndexDir, Opened, Staleness};
use crate::label::Kind;
use crate::model::Results;
use crate::output::{Printer, Style};
use crate::search::{self, Request};

/// Corpus folder used when neither the flag nor the index names one.
const DEFAULT_CORPUS: &str = "corpus";

/// How a command ended, for the exit code: hits (0), no hits (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    NoHits,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Index(args) => index(args),
        Command::Query(args) => query(args),
    }
}

fn index(args: IndexArgs) -> Result<Outcome> {
    let dir = IndexDir::new(&args.index)?;
    let scan = corpus::scan(&args.corpus)?;
    let lock = dir.lock()?;
    let summary = dir.build(&scan, settings(args.memory), &lock)?;
    report_warnings(&summary);
    println!(
        "indexed {} file{}, {} passages in {} sections ({:.1} KB) in {:.2} s → {}",
        summary.files,
        if summary.files == 1 { "" } else { "s" },
        summary.passages,
        summary.sections,
        summary.bytes as f64 / 1024.0,
        summary.elapsed.as_secs_f64(),
        dir.root().display()
    );
    Ok(Outcome::Success)
}

fn query(args: QueryArgs) -> Result<Outcome> {
    let dir = IndexDir::new(&args.index)?;
    let refresh = !args.no_refresh;
    let mut opened = open_fresh(&dir, args.corpus.as_deref(), refresh, settings(args.memory))?;
    if refresh {
        dir.remove_leftovers_if_idle();
    }
    let resolve = |kind, values: &[String]| -> Result<Vec<String>> {
        values
            .iter()
            .map(|v| Ok(opened.taxonomy.resolve(kind, v)?.to_string()))
            .collect()
    };
    let request = Request {
        query: args.query.clone(),
        roles: resolve(Kind::Role, &args.role)?,
        topics: resolve(Kind::Topic, &args.topic)?,
        limit: args.limit,
    };
    let results = match search_guarded(&opened, &request) {
        Ok(results) => results,
        Err(e) => {
            // A search that fails on an index whose files are damaged is a damaged index, not a
            // bug: rebuild it (or say how) instead of showing tantivy's error.
            let damaged = index::damaged_files(&opened);
            if damaged.is_empty() {
                return Err(e);
            }
            let why = Staleness::Damaged(damaged);
            if !refresh {
                return Err(unusable(&dir, &why));
            }
            let corpus_root = args.corpus.clone().unwrap_or_else(|| opened.stamp.corpus.clone());
            opened = rebuild(&dir, &corpus_root, &why, settings(args.memory))?;
            search_guarded(&opened, &request)?
        }
    };
    let printer = Printer {
        style: if args.json { Style::Json } else { Style::Human },
        color: use_color(args.color),
        full: args.full,
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    printer.print(&results, &mut out)?;
    out.flush()?;
    Ok(if results.total_hits > 0 {
        Outcome::Success
    } else {
        Outcome::NoHits
    })
}

/// Runs a search, turning a panic inside tantivy (which a damaged index can cause) into an error.
fn search_guarded(opened: &Opened, request: &Request) -> Result<Results> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| search::run(opened, request))) {
        Ok(result) => result,
        Err(_) => Err(anyhow!("searching the index failed")),
    }
}

/// Rebuilds a damaged index under the writer lock, unless another process already replaced it
/// with a sound one while this one waited for the lock.
fn rebuild(dir: &IndexDir, corpus_root: &Path, why: &Staleness, settings: BuildSettings) -> Result<Opened> {
    let scan = corpus::scan(corpus_root).with_context(|| format!("{why}, and it cannot be rebuilt"))?;
    let lock = dir.lock()?;
    if let Ok(o) = dir.open() {
        if index::damaged_files(&o).is_empty() && index::staleness(&o, corpus_root, &scan).is_none() {
            return Ok(o);
        }
    }
    build_announced(dir, &scan, why, settings, lock)
}

fn settings(memory_mb: u64) -> BuildSettings {
    BuildSettings {
        memory: (memory_mb as usize).saturating_mul(1 << 20),
    }
}

/// Colour for `auto` only when stdout is a terminal and `NO_COLOR` is unset or empty.
fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Opens the index, (re)building it first when it is missing, unreadable, of another format,
/// or older than the corpus; says so in one line on stderr. The check and the rebuild run
/// under the writer lock, so concurrent queries rebuild once.
fn open_fresh(
    dir: &IndexDir,
    corpus_flag: Option<&Path>,
    refresh: bool,
    settings: BuildSettings,
) -> Result<Opened> {
    let opened = dir.open();
    if !refresh {
        return opened.map_err(|why| unusable(dir, &why));
    }
    let corpus_root: PathBuf = match (corpus_flag, &opened) {
        (Some(flag), _) => flag.to_path_buf(),
        (None, Ok(o)) => o.stamp.corpus.clone(),
        (None, Err(_)) => PathBuf::from(DEFAULT_CORPUS),
    };
    let scan = match corpus::scan(&corpus_root) {
        Ok(scan) => scan,
        Err(e) => {
            return match opened {
                Ok(o) if corpus_flag.is_none() => {
                    eprintln!("rsearch: warning: {e:#}; searching the index as it was built");
                    Ok(o)
                }
                Ok(_) | Err(Staleness::Missing) => Err(e),
                Err(why) => Err(anyhow!("{}, and it cannot be rebuilt: {e:#}", why)),
            };
        }
    };
    let why = match opened {
        Ok(o) => match index::staleness(&o, &corpus_root, &scan) {
            None => return Ok(o),
            Some(why) => why,
        },
        Err(why) => why,
    };
    let lock = dir.lock()?;
    if let Ok(o) = dir.open() {
        if index::staleness(&o, &corpus_root, &scan).is_none() {
            return Ok(o);
        }
    }
    build_announced(dir, &scan, &why, settings, lock)
}

/// Builds the index under the held lock, saying why in one line on stderr first, and opens it.
/// A taxonomy error ends the command before the note, so the error stands alone.
fn build_announced(
    dir: &IndexDir,
    scan: &corpus::Scan,
    why: &Staleness,
    settings: BuildSettings,
    lock: index::WriteLock,
) -> Result<Opened> {
    index::read_taxonomy(scan)?;
    eprintln!("rsearch: {why}; building the index in {}", dir.root().display());
    let summary = dir.build(scan, settings, &lock)?;
    report_warnings(&summary);
    drop(lock);
    dir.open().map_err(|why| unusable(dir, &why))
}

fn unusable(dir: &IndexDir, why: &Staleness) -> anyhow::Error {
    match why {
        Staleness::Missing => anyhow!("no index in {}; run `rsearch index` first", dir.root().display()),
        other => anyhow!(
            "{other} in {}; run `rsearch index` to rebuild it",
            dir.root().display()
        ),
    }
}

fn report_warnings(summary: &BuildSummary) {
    for warning in &summary.warnings {
        eprintln!("rsearch: warning: {warning}");
    }
}
