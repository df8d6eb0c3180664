//! `rsearch push`: bring a remote collection up to date with the corpus and say what changed
//! in one line.

use anyhow::{Context as _, Result};

use super::settings::PushSettings;
use super::{announce, Outcome};
use crate::index::{self, Notice};
use crate::prepare;
use crate::progress::with_progress;
use crate::remote;

pub fn run(settings: &PushSettings) -> Result<Outcome> {
    let scan = index::scan_corpus_without_indexes(&settings.corpus)?;
    let (taxonomy, _) = prepare::read_taxonomy(&scan)?;
    let remote = &settings.remote;
    let summary = with_progress(|progress| {
        remote::push(&remote.client, &remote.collection, &scan, &taxonomy, progress)
    })
    .with_context(|| format!("pushing to {}", remote.url))?;
    for warning in summary.warnings {
        announce(Notice::Warning(warning));
    }
    println!(
        "pushed {} file{} to collection {}{}: {} added, {} updated, {} removed, {} unchanged passages in {:.2} s",
        summary.files,
        if summary.files == 1 { "" } else { "s" },
        remote.collection,
        if summary.created { " (created)" } else { "" },
        summary.added,
        summary.updated,
        summary.removed,
        summary.unchanged,
        summary.elapsed.as_secs_f64(),
    );
    Ok(Outcome::Success)
}
