//! Command-line syntax: the flags and subcommands as clap parses them. Nothing else in the
//! program sees clap types; `commands` turns these into settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  rsearch query cybersecurity
  rsearch query investors --role ceo
  rsearch query '\"market research\" -survey' --limit 3 --json
  rsearch index --corpus ~/articles --index ~/.cache/articles-index";

/// Passage-level search over a folder of articles, labelled by role and topic.
#[derive(Debug, Parser)]
#[command(name = "rsearch", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the index of a corpus folder (every .txt and .md file under it).
    #[command(after_help = "Example:\n  rsearch index --corpus corpus --index index")]
    Index(IndexArgs),
    /// Search the index; builds or refreshes it first when the corpus changed.
    #[command(
        after_help = "Examples:\n  rsearch query cybersecurity\n  rsearch query \"board of directors\" --role ceo --full\n  rsearch query skills --role cto --topic skills --json"
    )]
    Query(QueryArgs),
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Corpus folder to read.
    #[arg(long, value_name = "DIR", default_value = "corpus")]
    pub corpus: PathBuf,
    /// Index folder to write.
    #[arg(long, value_name = "DIR", default_value = "index")]
    pub index: PathBuf,
    /// Memory budget of the index writer, in MB.
    #[arg(long, value_name = "MB", default_value_t = 100, value_parser = clap::value_parser!(u64).range(16..=16384))]
    pub memory: u64,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What to search for: words, "quoted phrases", +required, -excluded, AND, OR.
    pub query: String,
    /// Index folder to search.
    #[arg(long, value_name = "DIR", default_value = "index")]
    pub index: PathBuf,
    /// Corpus folder the index is kept fresh from (default: the one it was built from, else ./corpus).
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Only passages about this role (slug, name or alias; repeat for any of several).
    #[arg(long, value_name = "ROLE")]
    pub role: Vec<String>,
    /// Only passages on this topic (slug, name or keyword; repeat for any of several).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Vec<String>,
    /// Number of passages to show.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 10, value_parser = at_least_one)]
    pub limit: usize,
    /// Show each whole passage instead of a snippet.
    #[arg(long)]
    pub full: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Search the index as it is, without checking the corpus for changes.
    #[arg(long)]
    pub no_refresh: bool,
    /// When to colour the output.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Memory budget of the index writer when a refresh rebuilds the index, in MB.
    #[arg(long, value_name = "MB", default_value_t = 100, value_parser = clap::value_parser!(u64).range(16..=16384))]
    pub memory: u64,
}

/// A count that must be 1 or more (`--limit 0` would ask for nothing).
fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// `--color`: colour on a terminal only (`auto`, honouring `NO_COLOR`), always, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
