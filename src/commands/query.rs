//! `rsearch query`: open the index fresh, search it (repairing a damaged index and searching
//! again), and print the hits, overall or role by role.

use std::io::{self, Write};

use anyhow::{bail, Result};

use super::settings::QuerySettings;
use super::{announce, guarded, open_index, Outcome};
use crate::index::{self, LiveIndex, OpenSettings};
use crate::label::Taxonomy;
use crate::model::LabelKind;
use crate::model::Results;
use crate::output::RoleResults;
use crate::progress::with_progress;
use crate::search::{self, Request};

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
        explain: settings.explain,
        context: settings.context,
        prefix: false,
    };
    let (live, results) = search_or_repair(&settings.index, live, &request)?;
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
        let per_role: Vec<RoleResults> = guarded(|| search::run_per_role(&live, &request, &slugs))?
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
) -> Result<(LiveIndex, Results)> {
    match guarded(|| search::run(&live, request)) {
        Ok(results) => Ok((live, results)),
        Err(failure) => {
            let repaired =
                with_progress(|progress| index::repair(settings, live, failure, progress, &announce))?;
            let results = guarded(|| search::run(&repaired, request))?;
            Ok((repaired, results))
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
