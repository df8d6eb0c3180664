//! Outlines of corpus documents for `/api/sections`: the same preparation (read, segment, label)
//! as `rsearch sections`, for one document or a page of them.

use std::path::Path;

use anyhow::Result;

use crate::corpus;
use crate::label::Taxonomy;
use crate::output::Outline;
use crate::prepare::{self, Cut, Prepared};

/// Outlines of the corpus's documents in sorted order: the one named `source`, or `limit`
/// of them from `offset`. Files that cannot be read are left out, as `sections` warns and
/// skips them.
pub fn outlines(
    corpus_root: &Path,
    source: Option<&str>,
    offset: usize,
    limit: usize,
    taxonomy: &Taxonomy,
) -> Result<Vec<Outline>> {
    let scan = corpus::scan(corpus_root)?;
    let chosen: Vec<&corpus::FileEntry> = match source {
        Some(source) => scan.files.iter().filter(|f| f.source == source).collect(),
        None => scan.files.iter().skip(offset).take(limit).collect(),
    };
    let mut warnings = Vec::new();
    let mut outlines = Vec::new();
    for entry in chosen {
        if let Prepared::Ready(file) = prepare::file(entry, taxonomy, Cut::WithOutline, &mut warnings) {
            outlines.push(Outline {
                document: file.document,
                labels: file.labels,
            });
        }
    }
    Ok(outlines)
}
