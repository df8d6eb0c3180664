//! `rsearch query`: search the live index while checking it is fresh (or open it fresh, search
//! it, repair a damaged index and search again), and print the hits, overall or role by role;
//! with `--remote`, the same from a remote collection.

use std::io::{self, Write};

use std::fs;

use anyhow::{bail, Context as _, Result};

use super::settings::{QuerySettings, RemoteSettings};
use super::{announce, guarded, open_index, Outcome};
use crate::embed::{self, QueryEmbedder, QueryVector};
use crate::index::{self, CorpusChoice, IndexDir, LiveIndex, OpenSettings};
use crate::label::{Category, Taxonomy, TAXONOMY_FILE};
use crate::model::LabelKind;
use crate::model::Results;
use crate::output::{terminal_safe, Printer, RoleResults};
use crate::progress::with_progress;
use crate::remote;
use crate::search::{self, Mode, Request};

pub fn run(settings: &QuerySettings) -> Result<Outcome> {
    if let Some(remote) = &settings.remote {
        return run_remote(settings, remote);
    }
    // The query's vector is made beside opening the index (the model's half of the work, on
    // the other core), before the mode is known; unused, it is dropped with the process.
    let mut pending = start_embedding(settings);
    // Most queries find the index current: they are answered without waiting for the check.
    // The answer is also written out (not printed) there, so that only printing it waits
    // for the check.
    let quick = index::search_while_checking(&settings.index, |live| {
        let (request, vector) = request_of(settings, live, &mut pending)?;
        let results = guarded(|| search::run_in_mode(live, &request, vector.as_ref()))?;
        let written = written_ahead(settings, &request, &results)?;
        Ok((request, vector, results, written))
    });
    let (live, (request, vector, results, written)) = match quick {
        Some(done) => done,
        None => {
            let live = open_index(&settings.index)?;
            let (request, vector) = request_of(settings, &live, &mut pending)?;
            let (live, results) = search_or_repair(&settings.index, live, &request, vector.as_ref())?;
            (live, (request, vector, results, None))
        }
    };
    let (roles, vector) = (&request.roles, vector.as_ref());
    if let Some(suggestion) = &results.did_you_mean {
        eprintln!("did you mean: {}?", terminal_safe(suggestion));
    }
    if let Some(written) = written {
        let mut out = io::stdout().lock();
        out.write_all(&written)?;
        out.flush()?;
        return Ok(outcome_of(results.total_hits > 0));
    }
    if results.total_hits == 0 && !(request.roles.is_empty() && request.topics.is_empty()) {
        let unfiltered = guarded(|| search::run_in_mode(&live, &unfiltered(&request), vector))?;
        say_unfiltered(settings, unfiltered.total_hits);
    }
    if !settings.by_role {
        return print(&settings.printer, &results, None);
    }
    if live.taxonomy.roles.is_empty() {
        bail!("--by-role needs roles, and the index has no taxonomy");
    }
    let chosen = compared_roles(&live.taxonomy, roles);
    let slugs: Vec<String> = chosen.iter().map(|r| r.slug.clone()).collect();
    let per_role: Vec<RoleResults> = guarded(|| search::run_per_role(&live, &request, &slugs, vector))?
        .into_iter()
        .zip(chosen)
        .map(|(results, role)| RoleResults { role, results })
        .collect();
    print(&settings.printer, &results, Some(&per_role))
}

/// The search the settings ask for on this index: `--role` and `--topic` resolved against its
/// taxonomy, the mode settled, and the query's vector made for a search by meaning (taken from
/// `pending` when it was started, else made here).
fn request_of(
    settings: &QuerySettings,
    live: &LiveIndex,
    pending: &mut Option<Pending>,
) -> Result<(Request, Option<QueryVector>)> {
    let roles = resolve(&live.taxonomy, LabelKind::Role, &settings.roles)?;
    let topics = resolve(&live.taxonomy, LabelKind::Topic, &settings.topics)?;
    let model = settings.index.vectors.model.as_deref();
    let (mode, vector) = meaning(live, settings.mode, model, pending.take(), &settings.query)?;
    let request = Request {
        query: settings.query.clone(),
        roles,
        topics,
        limit: settings.limit,
        typos: settings.typos,
        synonyms: settings.typos,
        explain: settings.explain,
        context: settings.context,
        mode,
        prefix: false,
    };
    Ok((request, vector))
}

/// The output of a search that is printed as it is (no `--by-role`, and not a search whose
/// filters left no hit, which says more first), written to memory; `None` for the others.
fn written_ahead(settings: &QuerySettings, request: &Request, results: &Results) -> Result<Option<Vec<u8>>> {
    let filtered = !(request.roles.is_empty() && request.topics.is_empty());
    if settings.by_role || (results.total_hits == 0 && filtered) {
        return Ok(None);
    }
    let mut written = Vec::with_capacity(16 * 1024);
    settings.printer.print(results, &mut written)?;
    Ok(Some(written))
}

/// The request without its role and topic filters, for counting what they left out.
fn unfiltered(request: &Request) -> Request {
    Request {
        roles: Vec::new(),
        topics: Vec::new(),
        limit: 1,
        explain: false,
        context: 0,
        ..request.clone()
    }
}

/// When filters left no hit, says on stderr (beside the results, as "did you mean" does, so
/// the JSON on stdout is unchanged) how many passages match without them.
fn say_unfiltered(settings: &QuerySettings, total: usize) {
    let flag = |name: &str, value: &String| match value.contains(char::is_whitespace) {
        true => format!("--{name} \"{value}\""),
        false => format!("--{name} {value}"),
    };
    let mut filters: Vec<String> = settings.roles.iter().map(|r| flag("role", r)).collect();
    filters.extend(settings.topics.iter().map(|t| flag("topic", t)));
    let (passages, verb) = if total == 1 {
        ("passage", "matches")
    } else {
        ("passages", "match")
    };
    eprintln!(
        "without {}, {total} {passages} {verb}",
        terminal_safe(&filters.join(" "))
    );
}

/// Prints the results (with `--by-role`, each role's beside them); any hit makes the outcome a
/// success, none "no hits".
fn print(printer: &Printer, results: &Results, per_role: Option<&[RoleResults]>) -> Result<Outcome> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let found = match per_role {
        Some(per_role) => {
            printer.print_by_role(results, per_role, &mut out)?;
            per_role.iter().any(|r| r.results.total_hits > 0)
        }
        None => {
            printer.print(results, &mut out)?;
            results.total_hits > 0
        }
    };
    out.flush()?;
    Ok(outcome_of(found))
}

/// Success when something was found, else "no hits" (exit code 1).
fn outcome_of(found: bool) -> Outcome {
    if found {
        Outcome::Success
    } else {
        Outcome::NoHits
    }
}

/// The roles `--by-role` compares: those given with `--role`, else all, in taxonomy order.
fn compared_roles<'t>(taxonomy: &'t Taxonomy, roles: &[String]) -> Vec<&'t Category> {
    taxonomy
        .roles
        .iter()
        .filter(|r| roles.is_empty() || roles.contains(&r.slug))
        .collect()
}

/// `query --remote`: the same request and printing, answered by the remote collection. The
/// taxonomy, for resolving `--role`/`--topic` names and ordering facets, is the corpus's
/// `taxonomy.toml` when there is one; without it, values are taken as slugs.
fn run_remote(settings: &QuerySettings, remote: &RemoteSettings) -> Result<Outcome> {
    let taxonomy = local_taxonomy(&settings.index)?;
    let (roles, topics) = match &taxonomy {
        Some(t) => (
            resolve(t, LabelKind::Role, &settings.roles)?,
            resolve(t, LabelKind::Topic, &settings.topics)?,
        ),
        None => (
            remote::label_slugs(&settings.roles),
            remote::label_slugs(&settings.topics),
        ),
    };
    let request = Request {
        query: settings.query.clone(),
        roles: roles.clone(),
        topics,
        limit: settings.limit,
        typos: settings.typos,
        explain: false,
        context: 0,
        // The engine ranks by its own words: no local synonyms, no vectors.
        synonyms: false,
        mode: Mode::Lexical,
        prefix: false,
    };
    let search = |request: &Request| {
        remote::search(&remote.client, &remote.collection, request, taxonomy.as_ref())
            .with_context(|| format!("searching {}", remote.url))
    };
    let results = search(&request)?;
    if results.total_hits == 0 && !(request.roles.is_empty() && request.topics.is_empty()) {
        say_unfiltered(settings, search(&unfiltered(&request))?.total_hits);
    }
    if !settings.by_role {
        return print(&settings.printer, &results, None);
    }
    let Some(taxonomy) = taxonomy.as_ref().filter(|t| !t.roles.is_empty()) else {
        bail!("--by-role needs roles, and the corpus has no taxonomy");
    };
    let mut per_role = Vec::new();
    for role in compared_roles(taxonomy, &roles) {
        let one = Request {
            roles: vec![role.slug.clone()],
            ..request.clone()
        };
        per_role.push(RoleResults {
            role,
            results: search(&one)?,
        });
    }
    print(&settings.printer, &results, Some(&per_role))
}

/// The taxonomy of the corpus the command names (`--corpus`, else `./corpus`), if it has one.
pub(super) fn local_taxonomy(settings: &OpenSettings) -> Result<Option<Taxonomy>> {
    let corpus = match &settings.corpus {
        CorpusChoice::Given(path) => path,
        CorpusChoice::AsBuilt { otherwise } => otherwise,
    };
    let path = corpus.join(TAXONOMY_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let taxonomy = Taxonomy::parse(&text).with_context(|| format!("taxonomy {}", path.display()))?;
    Ok(Some(taxonomy))
}

/// Runs a search. A search that fails on an index whose files are damaged is a damaged index,
/// not a bug: the index stage repairs it (or says how) and the search runs again.
fn search_or_repair(
    settings: &OpenSettings,
    live: LiveIndex,
    request: &Request,
    vector: Option<&QueryVector>,
) -> Result<(LiveIndex, Results)> {
    match guarded(|| search::run_in_mode(&live, request, vector)) {
        Ok(results) => Ok((live, results)),
        Err(failure) => {
            let repaired =
                with_progress(|progress| index::repair(settings, live, failure, progress, &announce))?;
            let results = guarded(|| search::run_in_mode(&repaired, request, vector))?;
            Ok((repaired, results))
        }
    }
}

/// The query's vector in the making, on a thread of its own.
type Pending = std::thread::JoinHandle<Result<QueryVector>>;

/// Starts embedding the query when a search by meaning may follow: a model folder to load, and
/// a mode by meaning asked for, or no mode and an index with vectors. Nothing is started for a
/// lexical search.
fn start_embedding(settings: &QuerySettings) -> Option<Pending> {
    let may_need = match settings.mode {
        Some(Mode::Lexical) => false,
        Some(_) => true,
        None => IndexDir::new(&settings.index.root).is_ok_and(|dir| dir.has_vectors()),
    };
    if !may_need {
        return None;
    }
    let dir = settings.index.vectors.model.clone()?;
    let query = settings.query.clone();
    std::thread::Builder::new()
        .name("embed-query".into())
        .spawn(move || {
            let embedder = QueryEmbedder::load(&dir)?;
            let vector = embedder.embed(&query);
            // Unmapping the weights here, while the other thread runs, costs the kernel about
            // a millisecond of page-table work and cross-core flushes; the process ends soon
            // and frees them at once.
            std::mem::forget(embedder);
            vector
        })
        .ok()
}

/// The search mode and, for a search by meaning, the query's vector. Without `--mode`: hybrid
/// when the index has passage vectors and their model is there, else lexical (so without the
/// model everything works by words). An explicit semantic or hybrid mode that cannot run is
/// an error saying what is missing.
fn meaning(
    live: &LiveIndex,
    asked: Option<Mode>,
    model: Option<&std::path::Path>,
    pending: Option<Pending>,
    query: &str,
) -> Result<(Mode, Option<QueryVector>)> {
    let usable = match (&live.vectors, model) {
        // Vectors whose first bytes cannot be read are searched anyway: the search finds them
        // damaged and the index is repaired rather than quietly searched by words.
        (Some(vectors), Some(dir)) => {
            embed::fingerprint(dir).is_ok_and(|f| vectors.fingerprint().map_or(true, |v| v == f))
        }
        _ => false,
    };
    let mode = match asked {
        Some(Mode::Lexical) => return Ok((Mode::Lexical, None)),
        None if !usable => return Ok((Mode::Lexical, None)),
        None => Mode::Hybrid,
        Some(mode) => mode,
    };
    let Some(dir) = model else {
        bail!(
            "search by meaning needs the embedding model: {}",
            embed::HOW_TO_GET
        );
    };
    match &live.vectors {
        None => bail!("the index has no passage vectors; run `rsearch index --vectors`"),
        Some(_) if !usable => bail!(
            "the index's passage vectors were made by another model; run `rsearch index --vectors --full`"
        ),
        Some(_) => {
            let vector = match pending {
                Some(pending) => pending
                    .join()
                    .map_err(|_| anyhow::anyhow!("embedding the query failed (internal error)"))??,
                None => QueryEmbedder::load(dir)?.embed(query)?,
            };
            Ok((mode, Some(vector)))
        }
    }
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
