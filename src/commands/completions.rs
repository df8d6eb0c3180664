//! `rsearch completions SHELL`: a completion script generated from the flags themselves.

use std::io::{self, Write};

use anyhow::Result;
use clap::CommandFactory;

use super::Outcome;
use crate::cli::Cli;

pub fn run(shell: clap_complete::Shell) -> Result<Outcome> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    clap_complete::generate(shell, &mut Cli::command(), "rsearch", &mut out);
    out.flush()?;
    Ok(Outcome::Success)
}
