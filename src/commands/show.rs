//! `rsearch show ID`: one passage by id, with its neighbours.

use std::io::{self, Write};

use anyhow::{bail, Result};

use super::settings::ShowSettings;
use super::{open_index, Outcome};
use crate::search;

pub fn run(settings: &ShowSettings) -> Result<Outcome> {
    let live = open_index(&settings.index)?;
    let Some(hit) = search::show(&live, &settings.id, settings.context)? else {
        bail!(
            "no passage with id \"{}\" in the index (ids look like file.txt:12)",
            settings.id
        );
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    settings.printer.print_passage(&hit, &mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}
