//! Feeding tantivy's writer: files are prepared (read, cut, labelled) on one worker thread per
//! core and each passage is handed to the writer as it is cut, so memory stays bounded.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{anyhow, Context as _, Result};
use tantivy::{Index, IndexWriter, Term};

use super::schema::{passage_document, Fields};
use super::stamp::FileRecord;
use super::vectors::{self, Unit};
use crate::corpus::FileEntry;
use crate::label::Taxonomy;
use crate::model::{Labels, Passage, Progress};
use crate::prepare::{self, Streamed};

/// Documents up to this many bytes are indexed by one writer thread (a fraction of a second).
const ONE_THREAD_MAX_BYTES: u64 = 2_000_000;

/// Tantivy's writer needs at least this much memory per indexing thread.
pub(super) const MEMORY_PER_THREAD_MIN: usize = 15_000_000;

/// The error that stopped tantivy's indexing threads, in place of `error` (which only says a
/// thread stopped): preparing the commit joins the threads and returns the first one's error.
pub(super) fn worker_error(writer: &mut IndexWriter, error: anyhow::Error) -> anyhow::Error {
    match writer.prepare_commit() {
        Err(cause) => anyhow::Error::new(cause).context("adding a passage to the index"),
        Ok(_) => error,
    }
}

/// A writer using every core, within the memory budget (tantivy needs 15 MB a thread), for
/// `bytes` of documents. Up to [`ONE_THREAD_MAX_BYTES`] one thread indexes them: it writes
/// one segment, which a query opens at once and no merge has to write again.
pub(super) fn new_writer(index: &Index, memory: usize, bytes: u64) -> Result<IndexWriter> {
    let cores = if bytes <= ONE_THREAD_MAX_BYTES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    let threads = cores.clamp(1, 8).min((memory / MEMORY_PER_THREAD_MIN).max(1));
    index
        .writer_with_num_threads(threads, memory.max(MEMORY_PER_THREAD_MIN))
        .context("starting the index writer")
}

/// Prepares `files` ([`prepare::each_passage`]) on one worker thread per core and hands each
/// passage to the writer as it is cut (tantivy's own threads index them; its queue holds at
/// most 10,000 passages, so memory stays bounded whatever the corpus size, and a large file
/// costs its text, not a copy of all its passages too). Gives a record per file in
/// order (`None` when a file could not be read: it is tried again next time) and the warnings
/// in file order; with `keep_units`, the texts to embed of every passage too.
pub(super) fn add_files(
    writer: &IndexWriter,
    fields: &Fields,
    taxonomy: &Taxonomy,
    files: &[FileEntry],
    progress: &Progress,
    keep_units: bool,
) -> Result<Added> {
    let prepare = |entry: &FileEntry, warnings: &mut Vec<String>, each: &mut PassageSink| {
        prepare::each_passage(entry, taxonomy, warnings, each)
    };
    add_prepared(writer, fields, files, progress, keep_units, &prepare)
}

/// Where a file's passages go as they are cut: its source, its title, a passage, its labels.
type PassageSink<'a> = dyn FnMut(&str, &str, &Passage, &Labels) + 'a;

/// [`add_files`] with the files read and cut by `prepare` (which is [`prepare::each_passage`]
/// with the taxonomy). A file is indexed whole or not at all: when its reading fails partway
/// (after some of its passages were handed to the writer), those passages are deleted in the
/// same commit, so the next build, which reads it again, does not find them twice.
fn add_prepared(
    writer: &IndexWriter,
    fields: &Fields,
    files: &[FileEntry],
    progress: &Progress,
    keep_units: bool,
    prepare: &(dyn Fn(&FileEntry, &mut Vec<String>, &mut PassageSink) -> Streamed + Sync),
) -> Result<Added> {
    type Done = (usize, Option<FileRecord>, Vec<String>, Vec<Unit>);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(files.len().max(1));
    let work = || -> Result<Vec<Done>> {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(entry) = files.get(i) else {
                break;
            };
            let mut warnings = Vec::new();
            let mut units = Vec::new();
            let record = |passages, sections, skipped| FileRecord {
                source: entry.source.clone(),
                size: entry.size,
                mtime_ns: entry.mtime_ns,
                passages,
                sections,
                skipped,
            };
            // One passage at a time: tantivy's queue holds a bounded number of them.
            let mut add_failed = None;
            let mut added = 0u64;
            let streamed = prepare(entry, &mut warnings, &mut |source, title, passage, labels| {
                if add_failed.is_some() {
                    return;
                }
                added += 1;
                let doc = passage_document(fields, source, title, passage, labels);
                if let Err(e) = writer.add_document(doc) {
                    add_failed = Some(e);
                    return;
                }
                if keep_units {
                    let id = crate::model::passage_id(source, passage.ordinal);
                    units.extend(vectors::units_of(&id, &passage.text));
                }
            });
            if let Some(e) = add_failed {
                failed.store(true, Ordering::Relaxed);
                return Err(e).context("adding a passage to the index");
            }
            let outcome = match streamed {
                Streamed::Ready { passages, sections } => Some(record(passages, sections as u64, false)),
                Streamed::Skipped => Some(record(0, 0, true)),
                Streamed::Unreadable => {
                    if added > 0 {
                        // Tantivy deletes what was added before the delete: the passages
                        // of this file in this build, none of another file's.
                        writer.delete_term(Term::from_field_text(fields.source, &entry.source));
                        units.clear();
                    }
                    None
                }
            };
            progress.files_done.fetch_add(1, Ordering::Relaxed);
            progress.bytes_done.fetch_add(entry.size, Ordering::Relaxed);
            done.push((i, outcome, warnings, units));
        }
        Ok(done)
    };
    let results: Vec<Result<Vec<Done>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a document could not be indexed (internal error)")))
            })
            .collect()
    });
    let mut done = Vec::with_capacity(files.len());
    for result in results {
        done.extend(result?);
    }
    done.sort_by_key(|(i, _, _, _)| *i);
    let mut warnings = Vec::new();
    let mut units = Vec::new();
    let records = done
        .into_iter()
        .map(|(_, record, mut w, mut u)| {
            warnings.append(&mut w);
            units.append(&mut u);
            record
        })
        .collect();
    Ok(Added {
        records,
        warnings,
        units,
    })
}

/// What [`add_files`] did: a record per file in order (`None` when a file could not be read),
/// the warnings in file order, and the texts to embed when asked for.
pub(super) struct Added {
    pub(super) records: Vec<Option<FileRecord>>,
    pub(super) warnings: Vec<String>,
    pub(super) units: Vec<Unit>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::schema::{indexing_analyzer, schema, ANALYZER};
    use tantivy::collector::Count;
    use tantivy::query::TermQuery;
    use tantivy::schema::IndexRecordOption;

    /// Hands on `count` passages of `entry`, then fails when its name says so, as a read that
    /// fails partway through a large file streamed a piece at a time does.
    fn cut_then_fail(entry: &FileEntry, warnings: &mut Vec<String>, each: &mut PassageSink) -> Streamed {
        let fails = entry.source.starts_with("fails");
        for ordinal in 1..=3 {
            if fails && ordinal == 3 {
                warnings.push(format!(
                    "skipping {}: reading it: Input/output error (os error 5)",
                    entry.source
                ));
                return Streamed::Unreadable;
            }
            let passage = Passage {
                ordinal,
                section: Vec::new(),
                text: format!("passage {ordinal} of {}", entry.source),
            };
            each(&entry.source, "title", &passage, &Labels::default());
        }
        Streamed::Ready {
            passages: 3,
            sections: 0,
        }
    }

    #[test]
    fn a_file_whose_reading_fails_partway_leaves_none_of_its_passages() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::create_in_dir(dir.path(), schema()).unwrap();
        index.tokenizers().register(ANALYZER, indexing_analyzer());
        let fields = Fields::of(&index.schema()).unwrap();
        let mut writer = new_writer(&index, MEMORY_PER_THREAD_MIN, 0).unwrap();
        let files: Vec<FileEntry> = ["fails.txt", "good.txt", "fails-too.md"]
            .iter()
            .map(|name| FileEntry {
                source: name.to_string(),
                path: dir.path().join(name),
                size: 10,
                mtime_ns: 0,
            })
            .collect();
        let added = add_prepared(
            &writer,
            &fields,
            &files,
            &Progress::default(),
            true,
            &cut_then_fail,
        )
        .unwrap();
        writer.commit().unwrap();
        let records: Vec<bool> = added.records.iter().map(Option::is_some).collect();
        assert_eq!(records, [false, true, false]);
        assert_eq!(super::vectors::passages_in(&added.units), 3);
        assert!(
            added.units.iter().all(|(id, _)| id.starts_with("good.txt")),
            "{:?}",
            added.units
        );
        let searcher = index.reader().unwrap().searcher();
        let count = |source: &str| {
            let term = Term::from_field_text(fields.source, source);
            searcher
                .search(&TermQuery::new(term, IndexRecordOption::Basic), &Count)
                .unwrap()
        };
        assert_eq!(
            (count("fails.txt"), count("good.txt"), count("fails-too.md")),
            (0, 3, 0)
        );
    }
}
