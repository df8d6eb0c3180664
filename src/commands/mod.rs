//! Commands: one file a verb. The flags are settled into settings once (`settings.rs`), then
//! each verb drives the pipeline stages and maps what happened to an [`Outcome`].

use anyhow::{anyhow, Result};

use crate::cli::{Cli, Command};
use crate::index::{LiveIndex, Notice, OpenSettings};
use crate::output::terminal_safe;
use crate::progress::with_progress;

mod completions;
mod export;
mod index;
mod labels;
mod man;
mod push;
mod query;
mod sections;
mod serve;
mod settings;
mod show;

/// How a command ended, for the exit code: success or hits (0), no hits (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    NoHits,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Index(args) => index::run(&settings::index(args)),
        Command::Query(args) => query::run(&settings::query(args)?),
        Command::Sections(args) => sections::run(&settings::sections(args)),
        Command::Labels(args) => labels::run(&settings::labels(args)),
        Command::Show(args) => show::run(&settings::show(args)),
        Command::Export(args) => export::run(&settings::export(args)),
        Command::Push(args) => push::run(&settings::push(args)?),
        Command::Serve(args) => serve::run(&settings::serve(args)?),
        Command::Completions { shell } => completions::run(settings::shell(shell)),
        Command::Man => man::run(),
    }
}

/// Opens the index of a command, built or refreshed first as `settings` say: the one call
/// into the index stage before a search.
fn open_index(settings: &OpenSettings) -> Result<LiveIndex> {
    with_progress(|progress| crate::index::open_fresh(settings, progress, &announce))
}

/// Says on stderr, as one line, what the index stage is doing or warns about.
fn announce(notice: Notice) {
    // File names and texts in a notice are a file's, not ours: no raw control character.
    eprintln!("rsearch: {}", terminal_safe(&notice.to_string()));
}

/// Runs a search step, turning a panic inside tantivy (which a damaged index can cause) into
/// an error.
fn guarded<T>(step: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(result) => result,
        Err(_) => Err(anyhow!("searching the index failed")),
    }
}
