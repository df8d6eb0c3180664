//! Settings settled once from the parsed flags (clap's types end here): paths, the corpus
//! choice, freshness, memory, limits, and how to print (format, colour, terminal width).

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use crate::cli::{
    ColorChoice, IndexArgs, IndexLocation, LabelsArgs, OutputFormat, Presentation, QueryArgs, SectionsArgs,
    ServeArgs, Shell, ShowArgs,
};
use crate::index::{BuildSettings, CorpusChoice, Freshness, OpenSettings};
use crate::output::{Printer, Style};

/// Corpus folder used when neither the flag nor the index names one.
const DEFAULT_CORPUS: &str = "corpus";
/// Hits shown by default, and per role with `--by-role`.
const DEFAULT_LIMIT: usize = 10;
const DEFAULT_LIMIT_PER_ROLE: usize = 2;

/// `rsearch index`: read `corpus`, write `index`.
#[derive(Debug)]
pub struct IndexSettings {
    pub corpus: PathBuf,
    pub index: PathBuf,
    pub build: BuildSettings,
}

/// `rsearch query`: what to search for, in which index, and how to print it.
#[derive(Debug)]
pub struct QuerySettings {
    pub query: String,
    /// `--role` and `--topic` values as typed; the index's taxonomy resolves them to slugs.
    pub roles: Vec<String>,
    pub topics: Vec<String>,
    /// Hits to show, per role with `by_role`.
    pub limit: usize,
    pub typos: bool,
    pub explain: bool,
    pub context: usize,
    pub by_role: bool,
    pub index: OpenSettings,
    pub printer: Printer,
}

/// `rsearch sections`: outline `corpus`.
#[derive(Debug)]
pub struct SectionsSettings {
    pub corpus: PathBuf,
    pub printer: Printer,
}

/// `rsearch labels`: the taxonomy of an index with its counts.
#[derive(Debug)]
pub struct LabelsSettings {
    pub index: OpenSettings,
    pub printer: Printer,
}

/// `rsearch show`: one passage by id, with `context` neighbours each side.
#[derive(Debug)]
pub struct ShowSettings {
    pub id: String,
    pub context: usize,
    pub index: OpenSettings,
    pub printer: Printer,
}

/// `rsearch serve`: which index to keep open and fresh, where to listen, and who may call.
#[derive(Debug)]
pub struct ServeSettings {
    pub index: OpenSettings,
    pub listen: std::net::SocketAddr,
    /// The one other origin whose pages may call the API (`--cors`).
    pub cors: Option<String>,
    /// One line per request on stderr (off with `--quiet`).
    pub access_log: bool,
}

pub fn index(args: IndexArgs) -> IndexSettings {
    IndexSettings {
        corpus: args.corpus,
        index: args.index,
        build: BuildSettings {
            memory: megabytes(args.memory),
            full: args.full,
        },
    }
}

pub fn query(args: QueryArgs) -> QuerySettings {
    let default_limit = if args.by_role {
        DEFAULT_LIMIT_PER_ROLE
    } else {
        DEFAULT_LIMIT
    };
    QuerySettings {
        printer: printer(&args.presentation, args.full),
        index: open_settings(args.location),
        query: args.query,
        roles: args.role,
        topics: args.topic,
        limit: args.limit.unwrap_or(default_limit),
        typos: !args.exact,
        explain: args.explain,
        context: args.context,
        by_role: args.by_role,
    }
}

pub fn sections(args: SectionsArgs) -> SectionsSettings {
    SectionsSettings {
        corpus: args.corpus,
        printer: listing_printer(args.json),
    }
}

pub fn labels(args: LabelsArgs) -> LabelsSettings {
    LabelsSettings {
        index: open_settings(args.location),
        printer: listing_printer(args.json),
    }
}

pub fn show(args: ShowArgs) -> ShowSettings {
    ShowSettings {
        printer: printer(&args.presentation, true),
        index: open_settings(args.location),
        id: args.id,
        context: args.context,
    }
}

pub fn serve(args: ServeArgs) -> ServeSettings {
    ServeSettings {
        index: open_settings(args.location),
        listen: args.listen,
        cors: args.cors,
        access_log: !args.quiet,
    }
}

pub fn shell(shell: Shell) -> clap_complete::Shell {
    use clap_complete::Shell as S;
    match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
        Shell::Elvish => S::Elvish,
    }
}

/// Where the index is, which corpus keeps it fresh (the flag, else the one it was built from,
/// else `./corpus`), and whether to refresh it at all: `--no-refresh` is read here only.
fn open_settings(location: IndexLocation) -> OpenSettings {
    OpenSettings {
        root: location.index,
        corpus: match location.corpus {
            Some(path) => CorpusChoice::Given(path),
            None => CorpusChoice::AsBuilt {
                otherwise: PathBuf::from(DEFAULT_CORPUS),
            },
        },
        freshness: if location.no_refresh {
            Freshness::AsIs
        } else {
            Freshness::Refresh
        },
        memory: megabytes(location.memory),
    }
}

fn megabytes(mb: u64) -> usize {
    (mb as usize).saturating_mul(1 << 20)
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
        (true, _) | (_, OutputFormat::Json) => Style::Json,
        (_, OutputFormat::Jsonl) => Style::JsonLines,
        (_, OutputFormat::Plain) => Style::Human,
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
