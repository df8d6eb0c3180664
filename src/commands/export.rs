//! `rsearch export`: stream every passage of a corpus with its labels to a file or standard
//! output, in the format another engine loads.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context as _, Result};

use super::settings::ExportSettings;
use super::{announce, Outcome};
use crate::export;
use crate::index::{self, Notice};
use crate::prepare;
use crate::progress::with_progress;

pub fn run(settings: &ExportSettings) -> Result<Outcome> {
    let scan = index::scan_corpus_without_indexes(&settings.corpus)?;
    let (taxonomy, _) = prepare::read_taxonomy(&scan)?;
    let summary = match &settings.out {
        None => {
            let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
            let summary = with_progress(|progress| {
                export::write(&scan, &taxonomy, settings.format, &mut out, progress)
            })?;
            out.flush()?;
            summary
        }
        Some(path) => {
            let summary = write_whole(path, |out| {
                with_progress(|progress| export::write(&scan, &taxonomy, settings.format, out, progress))
            })?;
            println!(
                "exported {} passages of {} file{} ({:.1} KB) → {}",
                summary.passages,
                summary.files,
                if summary.files == 1 { "" } else { "s" },
                summary.bytes as f64 / 1024.0,
                path.display()
            );
            summary
        }
    };
    for warning in summary.warnings {
        announce(Notice::Warning(warning));
    }
    Ok(Outcome::Success)
}

/// Writes `path` through a temporary file beside it, renamed over `path` only when `write`
/// succeeded: a failed export leaves no half-written file.
fn write_whole<T>(path: &Path, write: impl FnOnce(&mut BufWriter<fs::File>) -> Result<T>) -> Result<T> {
    let name = path
        .file_name()
        .with_context(|| format!("--out {} names no file", path.display()))?;
    let temp = path.with_file_name(format!(".{}.rsearch-partial", name.to_string_lossy()));
    let file = fs::File::create(&temp).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let written = write(&mut out).and_then(|value| {
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(value)
    });
    match written {
        Ok(value) => {
            fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))?;
            Ok(value)
        }
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(e).with_context(|| format!("writing {}", path.display()))
        }
    }
}
