//! `rsearch man`: the manual page (roff), generated from the flags themselves.

use std::io::{self, Write};

use anyhow::Result;
use clap::CommandFactory;

use super::Outcome;
use crate::cli::Cli;

pub fn run() -> Result<Outcome> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    out.flush()?;
    Ok(Outcome::Success)
}
