//! `rsearch sections`: the outline each document of the corpus is cut into, with the labels of
//! its passages, prepared exactly as the index prepares them.

use std::io::{self, Write};

use anyhow::Result;

use super::settings::SectionsSettings;
use super::{announce, Outcome};
use crate::index::{self, Notice};
use crate::output::Outline;
use crate::prepare::{self, Cut, Prepared};

pub fn run(settings: &SectionsSettings) -> Result<Outcome> {
    let scan = index::scan_corpus_without_indexes(&settings.corpus)?;
    let (taxonomy, _) = prepare::read_taxonomy(&scan)?;
    let mut warnings = scan.warnings.clone();
    let mut outlines = Vec::new();
    for entry in &scan.files {
        if let Prepared::Ready(file) = prepare::file(entry, &taxonomy, Cut::WithOutline, &mut warnings) {
            outlines.push(Outline {
                document: file.document,
                labels: file.labels,
            });
        }
    }
    for warning in warnings {
        announce(Notice::Warning(warning));
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    settings
        .printer
        .print_outline(&outlines, &taxonomy, settings.explain, &mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}
