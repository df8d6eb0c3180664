//! `rsearch labels`: the taxonomy of the index, with the number of passages carrying each label.

use std::io::{self, Write};

use anyhow::Result;

use super::settings::LabelsSettings;
use super::{open_index, Outcome};
use crate::search;

pub fn run(settings: &LabelsSettings) -> Result<Outcome> {
    let live = open_index(&settings.index)?;
    let counts = search::label_counts(&live)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    settings.printer.print_labels(&live.taxonomy, &counts, &mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}
