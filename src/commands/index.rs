//! `rsearch index`: build the index of a corpus, or bring it up to date, and say what was done
//! in one line.

use anyhow::Result;

use super::settings::IndexSettings;
use super::{announce, Outcome};
use crate::index::{self, BuildKind, IndexDir, Notice};
use crate::progress::with_progress;

pub fn run(settings: &IndexSettings) -> Result<Outcome> {
    let dir = IndexDir::new(&settings.index)?;
    let scan = dir.scan_corpus(&settings.corpus)?;
    let lock = dir.lock(&|root, holder| announce(Notice::Waiting { root, holder }))?;
    let summary = with_progress(|progress| {
        index::build_or_update(&dir, &scan, settings.build.clone(), progress, &lock)
    })?;
    for warning in summary.warnings {
        announce(Notice::Warning(warning));
    }
    if summary.embedded > 0 {
        let seconds = summary.embedding.as_secs_f64();
        eprintln!(
            "rsearch: embedded {} passages in {seconds:.1} s ({:.1} passages/s)",
            summary.embedded,
            summary.embedded as f64 / seconds.max(1e-9)
        );
    }
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
