//! Commands: settles paths, colour, width and defaults from the parsed flags once, then drives
//! the pipeline stages for each subcommand.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::CommandFactory;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{
    Cli, ColorChoice, Command, Format, IndexArgs, IndexLocation, LabelsArgs, Presentation, QueryArgs,
    SectionsArgs, Shell, ShowArgs,
};
use crate::corpus;
use crate::index::{self, BuildKind, BuildSettings, BuildSummary, IndexDir, Opened, Staleness};
use crate::label::Taxonomy;
use crate::model::{LabelKind, Progress, Results};
use crate::output::{Outline, Printer, RoleResults, Style};
use crate::search::{self, Request};
use crate::segment;

/// Corpus folder used when neither the flag nor the index names one.
const DEFAULT_CORPUS: &str = "corpus";
/// Hits shown by default, and per role with `--by-role`.
const DEFAULT_LIMIT: usize = 10;
const DEFAULT_LIMIT_PER_ROLE: usize = 2;

/// How a command ended, for the exit code: success or hits (0), no hits (1).
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
        Command::Sections(args) => sections(args),
        Command::Labels(args) => labels(args),
        Command::Show(args) => show(args),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
    }
}

fn index(args: IndexArgs) -> Result<Outcome> {
    let dir = IndexDir::new(&args.index)?;
    let scan = corpus::scan(&args.corpus)?;
    let lock = dir.lock()?;
    let settings = BuildSettings {
        full: args.full,
        ..settings(args.memory)
    };
    let summary = with_progress(|progress| dir.update(&scan, settings, progress, &lock))?;
    report_warnings(&summary);
    let totals = format!(
        "{} file{}, {} passages in {} sections",
        summary.files,
        if summary.files == 1 { "" } else { "s" },
        summary.passages,
        summary.sections,
    );
    match summary.kind {
        BuildKind::Full => println!(
            "indexed {totals} ({:.1} KB) in {:.2} s → {}",
            summary.bytes as f64 / 1024.0,
            summary.elapsed.as_secs_f64(),
            dir.root().display()
        ),
        BuildKind::Update {
            added: 0,
            changed: 0,
            removed: 0,
        } => println!("index is up to date: {totals} → {}", dir.root().display()),
        BuildKind::Update {
            added,
            changed,
            removed,
        } => println!(
            "updated {added} added, {changed} changed, {removed} removed file{} in {:.2} s; now {totals} → {}",
            if added + changed + removed == 1 { "" } else { "s" },
            summary.elapsed.as_secs_f64(),
            dir.root().display()
        ),
    }
    Ok(Outcome::Success)
}

/// Runs a build, showing a progress bar (files and bytes done, rate, time left) on stderr
/// when it is a terminal and the build has run for more than a second.
fn with_progress<T>(build: impl FnOnce(&Progress) -> Result<T>) -> Result<T> {
    let progress = Progress::default();
    if !io::stderr().is_terminal() {
        return build(&progress);
    }
    let (finished, wait) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let progress = &progress;
        scope.spawn(move || show_progress(progress, &wait));
        let result = build(progress);
        drop(finished);
        result
    })
}

fn show_progress(progress: &Progress, finished: &mpsc::Receiver<()>) {
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_millis(100)) {
        if started.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let files_done = progress.files_done.load(Ordering::Relaxed);
        let files_total = progress.files_total.load(Ordering::Relaxed);
        let message = if files_done < files_total {
            format!("{files_done}/{files_total} files")
        } else {
            format!("{files_total} files, writing the index")
        };
        let bytes_done = progress.bytes_done.load(Ordering::Relaxed);
        let bar = bar.get_or_insert_with(|| {
            let style = ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {msg} · {bytes_per_sec} · {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar = ProgressBar::hidden().with_style(style);
            bar.set_length(progress.bytes_total.load(Ordering::Relaxed));
            bar.set_position(bytes_done);
            bar.set_message(message.clone());
            // The rate counts from here, not from the bytes done before the bar appeared.
            bar.reset_eta();
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar
        });
        bar.set_length(progress.bytes_total.load(Ordering::Relaxed));
        bar.set_message(message);
        bar.set_position(bytes_done);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

fn query(args: QueryArgs) -> Result<Outcome> {
    let opened = open(&args.location)?;
    let roles = resolve(&opened.taxonomy, LabelKind::Role, &args.role)?;
    let topics = resolve(&opened.taxonomy, LabelKind::Topic, &args.topic)?;
    let default_limit = if args.by_role {
        DEFAULT_LIMIT_PER_ROLE
    } else {
        DEFAULT_LIMIT
    };
    let request = Request {
        query: args.query.clone(),
        roles: roles.clone(),
        topics: topics.clone(),
        limit: args.limit.unwrap_or(default_limit),
        typos: !args.exact,
        explain: args.explain,
        context: args.context,
    };
    let printer = printer(&args.presentation, args.full);
    let (opened, results) = search_or_repair(&args.location, opened, &request)?;
    if let Some(suggestion) = &results.did_you_mean {
        eprintln!("did you mean: {suggestion}?");
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let found = if args.by_role {
        if opened.taxonomy.roles.is_empty() {
            bail!("--by-role needs roles, and the index has no taxonomy");
        }
        let chosen: Vec<_> = opened
            .taxonomy
            .roles
            .iter()
            .filter(|r| roles.is_empty() || roles.contains(&r.slug))
            .collect();
        let slugs: Vec<String> = chosen.iter().map(|r| r.slug.clone()).collect();
        let per_role: Vec<RoleResults> = guarded(|| search::run_per_role(&opened, &request, &slugs))?
            .into_iter()
            .zip(chosen)
            .map(|(results, role)| RoleResults { role, results })
            .collect();
        printer.print_by_role(&results, &per_role, &mut out)?;
        per_role.iter().any(|r| r.results.total_hits > 0)
    } else {
        printer.print(&results, &mut out)?;
        results.total_hits > 0
    };
    out.flush()?;
    Ok(if found { Outcome::Success } else { Outcome::NoHits })
}

fn sections(args: SectionsArgs) -> Result<Outcome> {
    let scan = corpus::scan(&args.corpus)?;
    let taxonomy = match &scan.taxonomy {
        Some(entry) => {
            let text = std::fs::read_to_string(&entry.path)
                .with_context(|| format!("reading {}", entry.path.display()))?;
            Taxonomy::parse(&text).with_context(|| format!("taxonomy {}", entry.path.display()))?
        }
        None => Taxonomy::default(),
    };
    let mut warnings = scan.warnings.clone();
    let mut outlines = Vec::new();
    for entry in &scan.files {
        let source = match corpus::read(entry, &mut warnings) {
            Ok(Some(source)) => source,
            Ok(None) => continue,
            Err(e) => {
                warnings.push(format!("skipping {}: {e:#}", entry.source));
                continue;
            }
        };
        let document = segment::document(&source);
        let labels = document
            .passages
            .iter()
            .map(|p| taxonomy.label(&p.section, &p.text))
            .collect();
        outlines.push(Outline { document, labels });
    }
    for warning in &warnings {
        eprintln!("rsearch: warning: {warning}");
    }
    let printer = listing_printer(args.json);
    let mut out = io::BufWriter::new(io::stdout().lock());
    printer.print_outline(&outlines, &taxonomy, &mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}

fn labels(args: LabelsArgs) -> Result<Outcome> {
    let opened = open(&args.location)?;
    let counts = search::label_counts(&opened)?;
    let printer = listing_printer(args.json);
    let mut out = io::BufWriter::new(io::stdout().lock());
    printer.print_labels(&opened.taxonomy, &counts, &mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}

fn show(args: ShowArgs) -> Result<Outcome> {
    let opened = open(&args.location)?;
    let Some(hit) = search::show(&opened, &args.id, args.context)? else {
        bail!(
            "no passage with id \"{}\" in the index (ids look like file.txt:12)",
            args.id
        );
    };
    let printer = printer(&args.presentation, true);
    let mut out = io::BufWriter::new(io::stdout().lock());
    printer.print_passage(&hit, &mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}

fn completions(shell: Shell) -> Result<Outcome> {
    use clap_complete::Shell as S;
    let shell = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
        Shell::Elvish => S::Elvish,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    clap_complete::generate(shell, &mut Cli::command(), "rsearch", &mut out);
    out.flush()?;
    Ok(Outcome::Success)
}

fn man() -> Result<Outcome> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}

/// Slugs for `--role`/`--topic` values; an unknown value is an error naming the valid ones.
fn resolve(taxonomy: &Taxonomy, kind: LabelKind, values: &[String]) -> Result<Vec<String>> {
    let mut slugs: Vec<String> = Vec::new();
    for value in values {
        let slug = taxonomy.resolve(kind, value)?.to_string();
        if !slugs.contains(&slug) {
            slugs.push(slug);
        }
    }
    Ok(slugs)
}

/// A printer for `sections` and `labels`: a table or a tree for people, or JSON.
fn listing_printer(json: bool) -> Printer {
    Printer {
        style: if json { Style::Json } else { Style::Human },
        color: use_color(ColorChoice::Auto),
        full: false,
        width: None,
    }
}

/// A printer for human output wraps to the terminal's width; machines get JSON unwrapped.
fn printer(presentation: &Presentation, full: bool) -> Printer {
    let style = match (presentation.json, presentation.format) {
        (true, _) | (_, Format::Json) => Style::Json,
        (_, Format::Jsonl) => Style::JsonLines,
        (_, Format::Plain) => Style::Human,
    };
    let width = if io::stdout().is_terminal() {
        terminal_size::terminal_size().map(|(w, _)| usize::from(w.0))
    } else {
        None
    };
    Printer {
        style,
        color: use_color(presentation.color),
        full,
        width,
    }
}

fn settings(memory_mb: u64) -> BuildSettings {
    BuildSettings {
        memory: (memory_mb as usize).saturating_mul(1 << 20),
        full: false,
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

/// Opens the index of a command, fresh unless `--no-refresh`; a reader also clears the
/// leftovers of a killed build when no writer is at work.
fn open(location: &IndexLocation) -> Result<Opened> {
    let dir = IndexDir::new(&location.index)?;
    let opened = open_fresh(
        &dir,
        location.corpus.as_deref(),
        !location.no_refresh,
        settings(location.memory),
    )?;
    if !location.no_refresh {
        dir.remove_leftovers_if_idle();
    }
    Ok(opened)
}

/// Runs a search. A search that fails on an index whose files are damaged is a damaged index,
/// not a bug: the index is rebuilt (or, with `--no-refresh`, the user is told how) and the
/// search runs again.
fn search_or_repair(
    location: &IndexLocation,
    opened: Opened,
    request: &Request,
) -> Result<(Opened, Results)> {
    let error = match search_guarded(&opened, request) {
        Ok(results) => return Ok((opened, results)),
        Err(e) => e,
    };
    let damaged = index::damaged_files(&opened);
    if damaged.is_empty() {
        return Err(error);
    }
    let dir = IndexDir::new(&location.index)?;
    let why = Staleness::Damaged(damaged);
    if location.no_refresh {
        return Err(unusable(&dir, &why));
    }
    let corpus_root = location
        .corpus
        .clone()
        .unwrap_or_else(|| opened.stamp.corpus.clone());
    drop(opened);
    let scan = corpus::scan(&corpus_root).with_context(|| format!("{why}, and it cannot be rebuilt"))?;
    let lock = dir.lock()?;
    let repaired = match dir.open() {
        Ok(o) if index::damaged_files(&o).is_empty() && index::staleness(&o, &corpus_root).is_none() => o,
        _ => build_announced(&dir, &scan, &why, settings(location.memory), lock)?,
    };
    let results = search_guarded(&repaired, request)?;
    Ok((repaired, results))
}

/// Runs a search, turning a panic inside tantivy (which a damaged index can cause) into an error.
fn search_guarded(opened: &Opened, request: &Request) -> Result<Results> {
    guarded(|| search::run(opened, request))
}

/// Runs a search step, turning a panic inside tantivy into an error.
fn guarded<T>(step: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(result) => result,
        Err(_) => Err(anyhow!("searching the index failed")),
    }
}

/// Opens the index, building or updating it first when it is missing, unreadable, of another
/// format, or older than the corpus (a cheap check: see `corpus::Watch`); says so in one line
/// on stderr. The update runs under the writer lock, so concurrent queries update once.
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
    let why = match &opened {
        Ok(o) => match index::staleness(o, &corpus_root) {
            None => return opened.map_err(|why| unusable(dir, &why)),
            Some(why) => why,
        },
        Err(why) => why.clone(),
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
    drop(opened);
    let lock = dir.lock()?;
    if let Ok(o) = dir.open() {
        if index::staleness(&o, &corpus_root).is_none() {
            return Ok(o);
        }
    }
    build_announced(dir, &scan, &why, settings, lock)
}

/// Builds or updates the index under the held lock, saying why in one line on stderr first,
/// and opens it. A taxonomy error ends the command before the note, so the error stands alone.
fn build_announced(
    dir: &IndexDir,
    scan: &corpus::Scan,
    why: &Staleness,
    settings: BuildSettings,
    lock: index::WriteLock,
) -> Result<Opened> {
    index::read_taxonomy(scan)?;
    // Only a changed corpus is brought up to date in place; anything wrong with the index
    // itself (missing, damaged, another format or corpus) gets a new generation.
    let (action, settings) = match why {
        Staleness::CorpusChanged => ("updating", settings),
        _ => (
            "building",
            BuildSettings {
                full: true,
                ..settings
            },
        ),
    };
    eprintln!("rsearch: {why}; {action} the index in {}", dir.root().display());
    let summary = with_progress(|progress| dir.update(scan, settings, progress, &lock))?;
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
