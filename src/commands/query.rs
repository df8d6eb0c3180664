//! `rsearch query`: open the index fresh, search it (repairing a damaged index and searching
//! again), and print the hits, overall or role by role.

use std::io::{self, Write};

use anyhow::{bail, Result};

use super::settings::QuerySettings;
use super::{announce, guarded, open_index, Outcome};
use crate::embed::{self, Embedder};
use crate::index::{self, LiveIndex, OpenSettings};
use crate::label::Taxonomy;
use crate::model::LabelKind;
use crate::model::Results;
use crate::output::RoleResults;
use crate::progress::with_progress;
use crate::search::{self, Mode, Request};

pub fn run(settings: &QuerySettings) -> Result<Outcome> {
    let live = open_index(&settings.index)?;
    let roles = resolve(&live.taxonomy, LabelKind::Role, &settings.roles)?;
    let topics = resolve(&live.taxonomy, LabelKind::Topic, &settings.topics)?;
    let request = Request {
        query: settings.query.clone(),
        roles: roles.clone(),
        topics,
        limit: settings.limit,
        typos: settings.typos,
        synonyms: settings.typos,
        explain: settings.explain,
        context: settings.context,
        mode: Mode::Lexical,
    };
    let (mode, embedder) = meaning(&live, settings.mode, settings.index.vectors.model.as_deref())?;
    let request = Request { mode, ..request };
    let embedder = embedder.as_ref();
    let (live, results) = search_or_repair(&settings.index, live, &request, embedder)?;
    if let Some(suggestion) = &results.did_you_mean {
        eprintln!("did you mean: {suggestion}?");
    }
    let printer = &settings.printer;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let found = if settings.by_role {
        if live.taxonomy.roles.is_empty() {
            bail!("--by-role needs roles, and the index has no taxonomy");
        }
        let chosen: Vec<_> = live
            .taxonomy
            .roles
            .iter()
            .filter(|r| roles.is_empty() || roles.contains(&r.slug))
            .collect();
        let slugs: Vec<String> = chosen.iter().map(|r| r.slug.clone()).collect();
        let per_role: Vec<RoleResults> = guarded(|| search::run_per_role(&live, &request, &slugs, embedder))?
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

/// Runs a search. A search that fails on an index whose files are damaged is a damaged index,
/// not a bug: the index stage repairs it (or says how) and the search runs again.
fn search_or_repair(
    settings: &OpenSettings,
    live: LiveIndex,
    request: &Request,
    embedder: Option<&Embedder>,
) -> Result<(LiveIndex, Results)> {
    match guarded(|| search::run_in_mode(&live, request, embedder)) {
        Ok(results) => Ok((live, results)),
        Err(failure) => {
            let repaired =
                with_progress(|progress| index::repair(settings, live, failure, progress, &announce))?;
            let results = guarded(|| search::run_in_mode(&repaired, request, embedder))?;
            Ok((repaired, results))
        }
    }
}

/// The search mode and, for a search by meaning, the loaded model. Without `--mode`: hybrid
/// when the index has passage vectors and their model is there, else lexical (so without the
/// model everything works by words). An explicit semantic or hybrid mode that cannot run is
/// an error saying what is missing.
fn meaning(
    live: &LiveIndex,
    asked: Option<Mode>,
    model: Option<&std::path::Path>,
) -> Result<(Mode, Option<Embedder>)> {
    let usable = match (&live.vectors, model) {
        (Some(vectors), Some(dir)) => embed::fingerprint(dir).is_ok_and(|f| f == vectors.fingerprint),
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
        Some(_) => Ok((mode, Some(Embedder::load(dir)?))),
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
