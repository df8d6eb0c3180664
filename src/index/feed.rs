//! Feeding tantivy's writer: files are prepared (read, cut, labelled) on one worker thread per
//! core and their passages handed to the writer as they are cut, a few of one file at a time,
//! with a bounded number in flight, so memory stays bounded.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use tantivy::indexer::UserOperation;
use tantivy::schema::document::Document;
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

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
pub(super) fn worker_error(writer: &mut Writer, error: anyhow::Error) -> anyhow::Error {
    match writer.prepare_commit() {
        Err(cause) => anyhow::Error::new(cause).context("adding a passage to the index"),
        Ok(_) => error,
    }
}

/// A writer using every core, within the memory budget (tantivy needs 15 MB a thread), for
/// `bytes` of documents. Up to [`ONE_THREAD_MAX_BYTES`] one thread indexes them: it writes
/// one segment, which a query opens at once and no merge has to write again.
pub(super) fn new_writer(index: &Index, memory: usize, bytes: u64) -> Result<Writer> {
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

/// Prepares `files` ([`prepare::each_passage`]) on one worker thread per core and hands the
/// passages to the writer as they are cut, [`BATCH_PASSAGES`] of one file at a time (tantivy's
/// own threads index them; at most [`IN_FLIGHT_MAX`] wait to be, so memory stays bounded
/// whatever the corpus size, and a large file costs its text, not a copy of all its passages
/// too). A batch goes to one of tantivy's threads whole, so a file's passages lie side by
/// side in a segment whichever thread takes them and however the threads are scheduled:
/// stored together they compress better (they repeat the file's source, title and headings;
/// handed over one by one, they were spread over the threads' segments as the scheduler
/// happened to run them, and the same corpus's index measured from 174 to 181 MB). Gives a record per file in
/// order (`None` when a file could not be read: it is tried again next time) and the warnings
/// in file order; with `keep_units`, the texts to embed of every passage too.
pub(super) fn add_files(
    writer: &Writer,
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
    writer: &Writer,
    fields: &Fields,
    files: &[FileEntry],
    progress: &Progress,
    keep_units: bool,
    prepare: &(dyn Fn(&FileEntry, &mut Vec<String>, &mut PassageSink) -> Streamed + Sync),
) -> Result<Added> {
    type Done = (usize, Option<FileRecord>, Vec<String>, Vec<Unit>);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let in_flight = Arc::new(InFlight::default());
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
            let mut add_failed = None;
            // Passages of this file handed to the writer so far.
            let mut sent = 0usize;
            let mut batch = Vec::with_capacity(BATCH_PASSAGES);
            let streamed = prepare(entry, &mut warnings, &mut |source, title, passage, labels| {
                if add_failed.is_some() {
                    return;
                }
                let doc = passage_document(fields, source, title, passage, labels);
                batch.push(doc);
                if batch.len() == BATCH_PASSAGES {
                    sent += batch.len();
                    add_failed = send(writer, &in_flight, &mut batch).err();
                }
                if keep_units {
                    let id = crate::model::passage_id(source, passage.ordinal);
                    units.extend(vectors::units_of(&id, &passage.text, &passage.section));
                }
            });
            if matches!(streamed, Streamed::Unreadable) {
                batch.clear();
            } else if add_failed.is_none() {
                add_failed = send(writer, &in_flight, &mut batch).err();
            }
            if let Some(e) = add_failed {
                failed.store(true, Ordering::Relaxed);
                return Err(e).context("adding a passage to the index");
            }
            let outcome = match streamed {
                Streamed::Ready { passages, sections } => Some(record(passages, sections as u64, false)),
                Streamed::Skipped => Some(record(0, 0, true)),
                Streamed::Unreadable => {
                    // Passages still in the batch were dropped above; those already sent are
                    // deleted (tantivy deletes what was added before the delete: this file's
                    // passages in this build, none of another file's).
                    if sent > 0 {
                        writer.delete_term(Term::from_field_text(fields.source, &entry.source));
                    }
                    units.clear();
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

/// The writer [`new_writer`] makes: it indexes passages handed over by [`add_files`].
pub(super) type Writer = IndexWriter<Queued>;

/// Passages of one file handed to the writer at once (see [`add_files`]).
const BATCH_PASSAGES: usize = 64;

/// Most passages handed to the writer and not yet taken by one of its threads: tantivy bounds
/// its queue in batches, not passages, so this bounds the memory they hold.
const IN_FLIGHT_MAX: usize = 10_000;

/// Hands `batch` to the writer, all of it to one of its threads, once there is room for it
/// among the passages in flight; `batch` is left empty.
fn send(writer: &Writer, in_flight: &Arc<InFlight>, batch: &mut Vec<TantivyDocument>) -> tantivy::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    in_flight.reserve(batch.len());
    let operations: Vec<UserOperation<Queued>> = batch
        .drain(..)
        .map(|doc| {
            UserOperation::Add(Queued {
                doc,
                in_flight: Arc::clone(in_flight),
            })
        })
        .collect();
    writer.run(operations).map(|_| ())
}

/// How many passages are in flight ([`IN_FLIGHT_MAX`]).
#[derive(Default)]
struct InFlight(AtomicUsize);

impl InFlight {
    /// Waits until `n` more passages fit (always, when none is in flight), and counts them.
    fn reserve(&self, n: usize) {
        let mut now = self.0.load(Ordering::Relaxed);
        loop {
            if now > 0 && now + n > IN_FLIGHT_MAX {
                // The writer's threads take a passage every few microseconds.
                std::thread::sleep(Duration::from_micros(200));
                now = self.0.load(Ordering::Relaxed);
                continue;
            }
            match self
                .0
                .compare_exchange_weak(now, now + n, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => now = actual,
            }
        }
    }
}

/// A passage's document on its way to the writer: it counts as in flight until one of the
/// writer's threads has indexed it and drops it.
pub(super) struct Queued {
    doc: TantivyDocument,
    in_flight: Arc<InFlight>,
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.in_flight.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Document for Queued {
    type Value<'a> = <TantivyDocument as Document>::Value<'a>;
    type FieldsValuesIter<'a> = <TantivyDocument as Document>::FieldsValuesIter<'a>;

    fn iter_fields_and_values(&self) -> Self::FieldsValuesIter<'_> {
        self.doc.iter_fields_and_values()
    }

    fn into_tantivy_document(mut self) -> TantivyDocument {
        std::mem::take(&mut self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::schema::{indexing_analyzer, schema, ANALYZER};
    use tantivy::collector::Count;
    use tantivy::query::TermQuery;
    use tantivy::schema::IndexRecordOption;

    /// Hands on the passages of `entry`, then fails before its last when its name says so, as a read that
    /// fails partway through a large file streamed a piece at a time does.
    fn cut_then_fail(entry: &FileEntry, warnings: &mut Vec<String>, each: &mut PassageSink) -> Streamed {
        let fails = entry.source.starts_with("fails");
        // A long file fails after whole batches of it were sent, a short one before any was.
        let count = if entry.source.contains("long") {
            2 * BATCH_PASSAGES as u64 + 3
        } else {
            3
        };
        for ordinal in 1..=count {
            if fails && ordinal == count {
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
            passages: count,
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
        let files: Vec<FileEntry> = ["fails.txt", "good.txt", "fails-too-long.md"]
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
            (count("fails.txt"), count("good.txt"), count("fails-too-long.md")),
            (0, 3, 0)
        );
    }
}
