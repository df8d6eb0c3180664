//! Command-line syntax: the flags and subcommands as clap parses them. Nothing else in the
//! program sees clap types but `commands::settings`, which turns them into settings.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  rsearch query cybersecurity
  rsearch query investors --role ceo
  rsearch query \"market research\" --by-role
  rsearch query '\"board of directors\" -media' --limit 3 --format json
  rsearch sections
  rsearch index --corpus ~/articles --index ~/.cache/articles-index";

/// Passage-level search over a folder of articles, labelled by role and topic.
#[derive(Debug, Parser)]
#[command(name = "rsearch", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command line of this process, as [`Cli::read`] reads it.
    pub fn from_env() -> Result<Cli, clap::Error> {
        Cli::read(std::env::args_os().collect())
    }

    /// Parses `args` (the program's name first). A query, the command run most and often
    /// from scripts, is first parsed by its own subcommand alone: building the parsers of
    /// every subcommand cost more than a query's parse. Whatever that parser does not
    /// accept (`--help`, a typo, a missing value) is parsed again by the whole command line,
    /// so every help text and message is the whole command's, and what it accepts parses to
    /// the same settings, as both take the query's arguments from the same definition.
    pub fn read(args: Vec<OsString>) -> Result<Cli, clap::Error> {
        if args.get(1).is_some_and(|a| a == "query") {
            if let Some(cli) = Cli::query_alone(&args) {
                return Ok(cli);
            }
        }
        Cli::try_parse_from(args)
    }

    /// `args` parsed by the `query` subcommand alone; `None` for anything it does not accept.
    fn query_alone(args: &[OsString]) -> Option<Cli> {
        let name = Command::QUERY;
        let root =
            clap::Command::new("rsearch").subcommand(QueryArgs::augment_args(clap::Command::new(name)));
        let mut matches = root.try_get_matches_from(args).ok()?;
        let (subcommand, mut query) = matches.remove_subcommand()?;
        if subcommand != name {
            return None;
        }
        // Taken out of the matches, not copied as `from_arg_matches` would.
        let args = QueryArgs::from_arg_matches_mut(&mut query).ok()?;
        Some(Cli {
            command: Command::Query(args),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the index of a corpus folder (every .txt, .md and .html file under it).
    #[command(after_help = "Example:\n  rsearch index --corpus corpus --index index")]
    Index(IndexArgs),
    /// Search the index; builds or refreshes it first when the corpus changed.
    #[command(
        after_help = "Examples:\n  rsearch query cybersecurity\n  rsearch query cybersecurty            # typos are forgiven\n  rsearch query \"board of directors\" --role ceo --full\n  rsearch query \"market research\" --by-role\n  rsearch query investors --explain\n  rsearch query skills --role cto --format jsonl | jq .id"
    )]
    Query(QueryArgs),
    /// Print the outline each document was cut into: headings, passage counts, labels, captions.
    #[command(
        after_help = "Examples:\n  rsearch sections --corpus corpus\n  rsearch sections --explain --json"
    )]
    Sections(SectionsArgs),
    /// List the taxonomy's roles and topics with their aliases, keywords and passage counts.
    #[command(after_help = "Example:\n  rsearch labels")]
    Labels(LabelsArgs),
    /// Print one passage by id (as shown in every hit), with neighbouring passages.
    #[command(after_help = "Example:\n  rsearch show product-manager-vs-ceo-vs-cto.txt:25 --context 1")]
    Show(ShowArgs),
    /// Write every passage with its labels as JSON lines for another search engine.
    #[command(
        after_help = "Examples:\n  rsearch export --format ndjson --out passages.ndjson          # Quickwit\n  rsearch export --format opensearch-bulk --out bulk.ndjson     # OpenSearch/Elasticsearch _bulk\n  rsearch export --format typesense-jsonl | gzip > passages.jsonl.gz"
    )]
    Export(ExportArgs),
    /// Load the corpus's passages into a Typesense collection, sending only what changed.
    #[command(
        after_help = "Examples:\n  TYPESENSE_API_KEY=xyz rsearch push --to typesense://127.0.0.1:8108\n  rsearch push --to typesense://10.0.0.1:8108,10.0.0.2:8108,10.0.0.3:8108 --api-key-env TS_KEY --collection articles"
    )]
    Push(PushArgs),
    /// Serve the index over HTTP: a JSON API and a search page, kept fresh as the corpus changes.
    #[command(
        after_help = "Examples:\n  rsearch serve                          # http://127.0.0.1:7700/\n  rsearch serve --listen 127.0.0.1:8080 --quiet\n  rsearch serve --remote typesense://10.0.0.1:8108,10.0.0.2:8108 --collection articles\n  curl 'http://127.0.0.1:7700/api/search?q=investors&role=ceo'"
    )]
    Serve(ServeArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  rsearch completions bash > ~/.local/share/bash-completion/completions/rsearch"
    )]
    Completions {
        /// Shell to complete for.
        shell: Shell,
    },
    /// Print the manual page (roff).
    #[command(after_help = "Example:\n  rsearch man | man -l -")]
    Man,
}

impl Command {
    /// The name of the query subcommand on the command line.
    const QUERY: &'static str = "query";
}

/// Where the index and its corpus are, and whether to refresh the index first.
#[derive(Debug, Args)]
pub struct IndexLocation {
    /// Index folder to search.
    #[arg(long, value_name = "DIR", default_value = "index")]
    pub index: PathBuf,
    /// Corpus folder the index is kept fresh from (default: the one it was built from, else ./corpus).
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// Search the index as it is, without checking the corpus for changes.
    #[arg(long)]
    pub no_refresh: bool,
    /// Memory budget of the index writer when a refresh rebuilds the index, in MB.
    #[arg(long, value_name = "MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(16..=16384))]
    pub memory: u64,
    /// Folder of the sentence-embedding model (default: $RSEARCH_MODEL, else models/all-MiniLM-L6-v2).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

/// How results are printed.
#[derive(Debug, Args)]
pub struct Presentation {
    /// Output format: readable blocks, one JSON object, or one JSON hit per line.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Plain)]
    pub format: OutputFormat,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// When to colour the output.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
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
    #[arg(long, value_name = "MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(16..=16384))]
    pub memory: u64,
    /// Rebuild the whole index instead of re-indexing only the files that changed.
    #[arg(long)]
    pub full: bool,
    /// Make passage vectors for search by meaning, whatever the corpus size (default: for corpora up to 1 MB when the model is there).
    #[arg(long, conflicts_with = "no_vectors")]
    pub vectors: bool,
    /// Make no passage vectors (and drop those the index has).
    #[arg(long)]
    pub no_vectors: bool,
    /// Folder of the sentence-embedding model (default: $RSEARCH_MODEL, else models/all-MiniLM-L6-v2).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What to search for: words, "quoted phrases", +required, -excluded, AND, OR.
    pub query: String,
    #[command(flatten)]
    pub location: IndexLocation,
    #[command(flatten)]
    pub presentation: Presentation,
    /// Only passages about this role (slug, name or alias; repeat for any of several).
    #[arg(long, value_name = "ROLE")]
    pub role: Vec<String>,
    /// Only passages on this topic (slug, name or keyword; repeat for any of several).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Vec<String>,
    /// Number of passages to show (per role with --by-role; default 10, or 2 with --by-role).
    #[arg(long, short = 'n', value_name = "N", value_parser = at_least_one)]
    pub limit: Option<usize>,
    /// Show each whole passage instead of a snippet.
    #[arg(long)]
    pub full: bool,
    /// Match words only as typed (no typo tolerance).
    #[arg(long)]
    pub exact: bool,
    /// Show the best passages of each role of the taxonomy, side by side.
    #[arg(long)]
    pub by_role: bool,
    /// Explain each hit's score (per term and field) and labels.
    #[arg(long)]
    pub explain: bool,
    /// Show N passages before and after each hit (at most 100).
    #[arg(long, short = 'C', value_name = "N", default_value_t = 0, value_parser = context_count)]
    pub context: usize,
    /// Rank by words, by meaning, or both fused (default: hybrid when the index has passage vectors and the model is there, else lexical).
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<SearchMode>,
    /// Search a remote collection instead of the local index: typesense://HOST:PORT[,HOST:PORT…].
    #[arg(long, value_name = "URL", conflicts_with_all = ["explain", "context"])]
    pub remote: Option<String>,
    #[command(flatten)]
    pub collection: RemoteCollection,
}

/// Which collection of a remote engine, and where its API key is.
#[derive(Debug, Args)]
pub struct RemoteCollection {
    /// Environment variable holding the engine's API key (with --remote or --to).
    #[arg(long, value_name = "VAR", default_value = "TYPESENSE_API_KEY")]
    pub api_key_env: String,
    /// Collection on the engine (with --remote or --to).
    #[arg(long, value_name = "NAME", default_value = "rsearch")]
    pub collection: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Corpus folder to read.
    #[arg(long, value_name = "DIR", default_value = "corpus")]
    pub corpus: PathBuf,
    /// Line format: ndjson (Quickwit), opensearch-bulk (_bulk API), typesense-jsonl (import).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ExportFormat::Ndjson)]
    pub format: ExportFormat,
    /// File to write (written whole or not at all); standard output when absent.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Engine to load: typesense://HOST:PORT[,HOST:PORT…] (every node of a cluster).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Corpus folder to read.
    #[arg(long, value_name = "DIR", default_value = "corpus")]
    pub corpus: PathBuf,
    #[command(flatten)]
    pub collection: RemoteCollection,
}

/// `export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Ndjson,
    OpensearchBulk,
    TypesenseJsonl,
}

#[derive(Debug, Args)]
pub struct SectionsArgs {
    /// Corpus folder to outline.
    #[arg(long, value_name = "DIR", default_value = "corpus")]
    pub corpus: PathBuf,
    /// Print JSON instead of a tree.
    #[arg(long)]
    pub json: bool,
    /// Show why each heading was read as one (captions always show why).
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct LabelsArgs {
    #[command(flatten)]
    pub location: IndexLocation,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Passage id, `source:ordinal`.
    pub id: String,
    /// Show N passages before and after it (at most 100).
    #[arg(long, short = 'C', value_name = "N", default_value_t = 0, value_parser = context_count)]
    pub context: usize,
    #[command(flatten)]
    pub location: IndexLocation,
    #[command(flatten)]
    pub presentation: Presentation,
}

/// `--mode`: which rankings a query uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchMode {
    Lexical,
    Semantic,
    Hybrid,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub location: IndexLocation,
    /// Address and port to listen on (another address than loopback exposes the index).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7700")]
    pub listen: std::net::SocketAddr,
    /// Let pages from this origin call the API from a browser (CORS), e.g. http://localhost:3000.
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// No access log line per request, nor notes of index updates, on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Answer from a remote collection instead of the local index: typesense://HOST:PORT[,HOST:PORT…].
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,
    #[command(flatten)]
    pub collection: RemoteCollection,
}

/// `--format`: how results are written (not to be confused with a document's `model::Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Plain,
    Json,
    Jsonl,
}

/// A count that must be 1 or more (`--limit 0` would ask for nothing).
fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Most passages `--context` shows on each side: beyond it the answer would be whole
/// documents, and a huge value would make the search allocate without bound.
pub const MAX_CONTEXT: usize = 100;

/// A `--context` count: 0 to `MAX_CONTEXT`.
fn context_count(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > MAX_CONTEXT => Err(format!("must be at most {MAX_CONTEXT}")),
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

/// Shells `completions` can write a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<OsString> {
        std::iter::once("rsearch")
            .chain(line.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn a_query_parsed_alone_gives_what_the_whole_command_line_gives() {
        let accepted: [&[&str]; 12] = [
            &["query", "cybersecurity"],
            &["query", "market research", "--json", "--limit", "3"],
            &[
                "query", "-n", "5", "x", "--role", "ceo", "--role", "cto", "--topic", "risk",
            ],
            &[
                "query", "x", "--format", "jsonl", "--color", "never", "--full", "--exact",
            ],
            &[
                "query",
                "x",
                "--by-role",
                "--explain",
                "-C",
                "2",
                "--mode",
                "hybrid",
            ],
            &[
                "query",
                "x",
                "--index",
                "/tmp/i",
                "--corpus",
                "c",
                "--no-refresh",
                "--memory",
                "32",
            ],
            &[
                "query",
                "x",
                "--model",
                "m",
                "--remote",
                "typesense://h:1",
                "--collection",
                "c",
            ],
            &["query", "x", "--api-key-env", "K", "--context=3"],
            &["query", "--", "-media"],
            &["query", "help"],
            &["query", "--json", "x"],
            &["query", "x", "--mode", "semantic", "--limit=1"],
        ];
        for line in accepted {
            let whole = Cli::try_parse_from(args(line)).expect("the whole command line accepts it");
            let alone = Cli::query_alone(&args(line)).expect("the query alone accepts it");
            assert_eq!(format!("{alone:?}"), format!("{whole:?}"), "{line:?}");
            let read = Cli::read(args(line)).expect("read");
            assert_eq!(format!("{read:?}"), format!("{whole:?}"), "{line:?}");
        }
    }

    #[test]
    fn what_the_query_alone_refuses_is_read_by_the_whole_command_line() {
        let refused: [&[&str]; 11] = [
            &["query"],
            &["query", "--help"],
            &["query", "-h"],
            &["query", "x", "--version"],
            &["query", "x", "--limit", "0"],
            &["query", "x", "--json", "--format", "plain"],
            &["query", "x", "--remote", "typesense://h:1", "--explain"],
            &["query", "x", "-C", "101"],
            &["query", "-media"],
            &["query", "x", "y"],
            &["query", "x", "--mode", "fuzzy"],
        ];
        for line in refused {
            assert!(Cli::query_alone(&args(line)).is_none(), "{line:?}");
            let whole = Cli::try_parse_from(args(line))
                .map(|_| ())
                .map_err(|e| (e.kind(), e.to_string()));
            let read = Cli::read(args(line))
                .map(|_| ())
                .map_err(|e| (e.kind(), e.to_string()));
            assert!(whole.is_err(), "{line:?}");
            assert_eq!(read, whole, "{line:?}");
        }
        for line in [
            &["index"][..],
            &["--help"],
            &["help", "query"],
            &["show", "a.txt:1"],
        ] {
            let whole = Cli::try_parse_from(args(line))
                .map(|c| format!("{c:?}"))
                .map_err(|e| e.to_string());
            let read = Cli::read(args(line))
                .map(|c| format!("{c:?}"))
                .map_err(|e| e.to_string());
            assert_eq!(read, whole, "{line:?}");
        }
    }
}
