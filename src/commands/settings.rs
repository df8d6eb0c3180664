//! Settings settled once from the parsed flags (clap's types end here): paths, the corpus
//! choice, freshness, memory, limits, and how to print (format, colour, terminal width).

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::{anyhow, Result};

use crate::cli::SearchMode;
use crate::cli::{
    ColorChoice, ExportArgs, ExportFormat, IndexArgs, IndexLocation, LabelsArgs, OutputFormat, Presentation,
    PushArgs, QueryArgs, RemoteCollection, SectionsArgs, ServeArgs, Shell, ShowArgs,
};
use crate::embed;
use crate::export;
use crate::index::{BuildSettings, CorpusChoice, Freshness, OpenSettings, VectorChoice, VectorSettings};
use crate::output::{Printer, Style};
use crate::remote::{Client, Target};
use crate::search::Mode;

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
    /// `--mode`; without it, hybrid when the index has vectors and the model is there.
    pub mode: Option<Mode>,
    pub index: OpenSettings,
    pub printer: Printer,
    /// Search this remote collection instead of the index (`--remote`).
    pub remote: Option<RemoteSettings>,
}

/// A remote collection: the engine's nodes, its API key (read from the environment here) and
/// the collection's name.
pub struct RemoteSettings {
    pub url: String,
    pub client: Client,
    pub collection: String,
}

impl std::fmt::Debug for RemoteSettings {
    // The API key stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteSettings({} / {})", self.url, self.collection)
    }
}

/// `rsearch export`: read `corpus`, write `format` to `out` (standard output when `None`).
#[derive(Debug)]
pub struct ExportSettings {
    pub corpus: PathBuf,
    pub format: export::Format,
    pub out: Option<PathBuf>,
}

/// `rsearch push`: read `corpus`, bring the remote collection up to date.
#[derive(Debug)]
pub struct PushSettings {
    pub corpus: PathBuf,
    pub remote: RemoteSettings,
}

/// `rsearch sections`: outline `corpus`.
#[derive(Debug)]
pub struct SectionsSettings {
    pub corpus: PathBuf,
    pub printer: Printer,
    /// Say why each heading is one, as each caption's reasons are always said.
    pub explain: bool,
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
    /// Answer from this remote collection instead of the index (`--remote`).
    pub remote: Option<RemoteSettings>,
}

pub fn index(args: IndexArgs) -> IndexSettings {
    let choice = if args.vectors {
        VectorChoice::Always
    } else if args.no_vectors {
        VectorChoice::Never
    } else {
        VectorChoice::Auto
    };
    IndexSettings {
        corpus: args.corpus,
        index: args.index,
        build: BuildSettings {
            memory: megabytes(args.memory),
            full: args.full,
            vectors: VectorSettings {
                choice,
                model: model_folder(args.model),
            },
        },
    }
}

/// The embedding model's folder: `--model` as given (a folder without the model is an error
/// when it is loaded), else `RSEARCH_MODEL` or `models/all-MiniLM-L6-v2` when they hold it.
fn model_folder(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| embed::locate(None).ok().flatten())
}

pub fn query(args: QueryArgs) -> Result<QuerySettings> {
    let default_limit = if args.by_role {
        DEFAULT_LIMIT_PER_ROLE
    } else {
        DEFAULT_LIMIT
    };
    let remote = match &args.remote {
        Some(url) => Some(remote(url, &args.collection)?),
        None => None,
    };
    Ok(QuerySettings {
        remote,
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
        mode: args.mode.map(|mode| match mode {
            SearchMode::Lexical => Mode::Lexical,
            SearchMode::Semantic => Mode::Semantic,
            SearchMode::Hybrid => Mode::Hybrid,
        }),
    })
}

pub fn export(args: ExportArgs) -> ExportSettings {
    ExportSettings {
        corpus: args.corpus,
        format: match args.format {
            ExportFormat::Ndjson => export::Format::Ndjson,
            ExportFormat::OpensearchBulk => export::Format::OpensearchBulk,
            ExportFormat::TypesenseJsonl => export::Format::TypesenseJsonl,
        },
        out: args.out,
    }
}

pub fn push(args: PushArgs) -> Result<PushSettings> {
    Ok(PushSettings {
        remote: remote(&args.to, &args.collection)?,
        corpus: args.corpus,
    })
}

/// Parses the engine's URL and reads its API key from the named environment variable; an
/// unset or empty variable is an error naming it.
fn remote(url: &str, collection: &RemoteCollection) -> Result<RemoteSettings> {
    let target = Target::parse(url)?;
    let var = &collection.api_key_env;
    let api_key = std::env::var(var)
        .ok()
        .filter(|key| !key.is_empty())
        .ok_or_else(|| {
            anyhow!("no API key for {url}: set {var} (or name another variable with --api-key-env)")
        })?;
    if collection.collection.is_empty() {
        return Err(anyhow!("--collection needs a name"));
    }
    Ok(RemoteSettings {
        url: url.to_string(),
        client: Client::new(target.nodes, api_key),
        collection: collection.collection.clone(),
    })
}

pub fn sections(args: SectionsArgs) -> SectionsSettings {
    SectionsSettings {
        corpus: args.corpus,
        printer: listing_printer(args.json),
        explain: args.explain,
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

pub fn serve(args: ServeArgs) -> Result<ServeSettings> {
    let remote = match &args.remote {
        Some(url) => Some(remote(url, &args.collection)?),
        None => None,
    };
    Ok(ServeSettings {
        index: open_settings(args.location),
        listen: args.listen,
        cors: args.cors,
        access_log: !args.quiet,
        remote,
    })
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
        vectors: VectorSettings {
            choice: VectorChoice::Auto,
            model: model_folder(location.model),
        },
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
