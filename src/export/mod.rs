//! Export: streams every passage of a corpus with its labels as JSON lines for another search
//! engine (Quickwit, OpenSearch/Elasticsearch `_bulk`, Typesense import), in corpus order.
//!
//! A passage's id is `source:ordinal`, the id rsearch shows in every hit: the same corpus gives
//! the same ids on every run, and a passage keeps its id as long as it stays at the same place
//! in the same file. Its `digest` hashes every other field, so a loader can tell a changed
//! passage from an unchanged one without comparing texts (`push` does).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::corpus::{FileEntry, Fnv64, Scan};
use crate::label::Taxonomy;
use crate::model::{passage_id, Progress};
use crate::prepare::{self, Cut, Prepared, PreparedFile};

mod json;

/// Files read ahead of the one being written: bounds memory to this many files' passages
/// however large the corpus is.
const WINDOW: usize = 64;

/// The line formats an export can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per passage, per line: what Quickwit's ingest takes.
    Ndjson,
    /// An action line `{"index":{"_id":ID}}` before each passage: OpenSearch and
    /// Elasticsearch's `_bulk` API.
    OpensearchBulk,
    /// One JSON object per passage with a string `id`: Typesense's import endpoint. Today the
    /// same lines as `Ndjson`.
    TypesenseJsonl,
}

/// One exported passage. Field names are the contract of every export format and of the
/// engine configurations in `deploy/`: `id` is `source:ordinal`, `document` the title,
/// `section` the heading path, `roles`/`topics` slugs in taxonomy order, `digest` 16 hex
/// digits hashing all the other fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub id: String,
    pub source: String,
    pub document: String,
    pub section: Vec<String>,
    pub ordinal: u64,
    pub roles: Vec<String>,
    pub topics: Vec<String>,
    pub text: String,
    pub digest: String,
}

impl Record {
    /// Builds a record and its digest from a passage's parts.
    pub fn new(
        source: &str,
        document: &str,
        section: &[String],
        ordinal: u64,
        roles: &[String],
        topics: &[String],
        text: &str,
    ) -> Record {
        Record {
            id: passage_id(source, ordinal),
            source: source.to_string(),
            document: document.to_string(),
            section: section.to_vec(),
            ordinal,
            roles: roles.to_vec(),
            topics: topics.to_vec(),
            text: text.to_string(),
            digest: digest(source, document, section, ordinal, roles, topics, text),
        }
    }
}

/// What an export read and wrote.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: u64,
    pub passages: u64,
    /// Bytes of the corpus files read.
    pub bytes: u64,
    pub warnings: Vec<String>,
}

/// The digest of a passage: 64-bit FNV-1a over every field, each one closed by a separator
/// byte that cannot occur in text (so `["a b"]` and `["a", "b"]` differ), as 16 hex digits.
/// Stable across releases because the hash is spelled out here, not taken from std.
pub fn digest(
    source: &str,
    document: &str,
    section: &[String],
    ordinal: u64,
    roles: &[String],
    topics: &[String],
    text: &str,
) -> String {
    format!(
        "{:016x}",
        digest_value(source, document, section, ordinal, roles, topics, text)
    )
}

/// The number behind [`digest`].
fn digest_value(
    source: &str,
    document: &str,
    section: &[String],
    ordinal: u64,
    roles: &[String],
    topics: &[String],
    text: &str,
) -> u64 {
    const FIELD: &[u8] = &[0x1f];
    const ITEM: &[u8] = &[0x1e];
    let mut h = Fnv64::new();
    for field in [source, document] {
        h.write(field.as_bytes());
        h.write(FIELD);
    }
    for list in [section, roles, topics] {
        for item in list {
            h.write(item.as_bytes());
            h.write(ITEM);
        }
        h.write(FIELD);
    }
    h.write(&ordinal.to_le_bytes());
    h.write(FIELD);
    h.write(text.as_bytes());
    h.finish()
}

/// Writes one record in `format`, ending with a newline.
pub fn write_record(format: Format, record: &Record, out: &mut impl Write) -> Result<()> {
    write_line(format, &record.id, record, out)
}

/// Writes one passage (a `Record` or a [`Line`]: the same JSON) in `format`, with the
/// action line the bulk format puts before it.
fn write_line(format: Format, id: &str, passage: &impl Serialize, out: &mut impl Write) -> Result<()> {
    if format == Format::OpensearchBulk {
        // `{"index":{"_id":ID}}`, written directly: no map built per passage.
        out.write_all(br#"{"index":{"_id":"#)?;
        serde_json::to_writer(&mut *out, id)?;
        out.write_all(b"}}\n")?;
    }
    serde_json::to_writer(&mut *out, passage)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A passage's record borrowed from its prepared file: the fields of [`Record`], in its order,
/// so it serialises to the same bytes without copying the passage's strings.
#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    source: &'a str,
    document: &'a str,
    section: &'a [String],
    ordinal: u64,
    roles: &'a [String],
    topics: &'a [String],
    text: &'a str,
    digest: Hex,
}

impl Line<'_> {
    /// Appends the line in `format` with its newline: the bytes [`write_line`] writes through
    /// serde_json, written field by field.
    fn push(&self, format: Format, out: &mut Vec<u8>) {
        use std::io::Write as _;
        if format == Format::OpensearchBulk {
            out.extend_from_slice(br#"{"index":{"_id":"#);
            json::push_str(out, self.id);
            out.extend_from_slice(b"}}\n");
        }
        out.extend_from_slice(br#"{"id":"#);
        json::push_str(out, self.id);
        out.extend_from_slice(br#","source":"#);
        json::push_str(out, self.source);
        out.extend_from_slice(br#","document":"#);
        json::push_str(out, self.document);
        out.extend_from_slice(br#","section":"#);
        json::push_strs(out, self.section);
        // Writing into a Vec cannot fail.
        let _ = write!(out, r#","ordinal":{}"#, self.ordinal);
        out.extend_from_slice(br#","roles":"#);
        json::push_strs(out, self.roles);
        out.extend_from_slice(br#","topics":"#);
        json::push_strs(out, self.topics);
        out.extend_from_slice(br#","text":"#);
        json::push_str(out, self.text);
        let _ = writeln!(out, r#","digest":"{:016x}"}}"#, self.digest.0);
    }
}

/// A digest as 16 lower-case hex digits, written straight into the output.
struct Hex(u64);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:016x}", self.0))
    }
}

/// Serialises every passage of a prepared file in `format`, on the worker that prepared it,
/// so the writing thread only copies bytes.
fn file_lines(file: Option<&PreparedFile>, format: Format) -> (Vec<u8>, usize) {
    let Some(file) = file else {
        return (Vec::new(), 0);
    };
    let document = &file.document;
    let mut lines = Vec::with_capacity(document.passages.iter().map(|p| 2 * p.text.len() + 256).sum());
    let mut id = String::new();
    for (passage, labels) in document.passages.iter().zip(&file.labels) {
        id.clear();
        {
            use std::fmt::Write as _;
            let _ = write!(id, "{}:{}", document.source, passage.ordinal);
        }
        let line = Line {
            id: &id,
            source: &document.source,
            document: &document.title,
            section: &passage.section,
            ordinal: passage.ordinal,
            roles: &labels.roles,
            topics: &labels.topics,
            text: &passage.text,
            digest: Hex(digest_value(
                &document.source,
                &document.title,
                &passage.section,
                passage.ordinal,
                &labels.roles,
                &labels.topics,
                &passage.text,
            )),
        };
        line.push(format, &mut lines);
    }
    (lines, document.passages.len())
}

/// Exports every passage of the corpus to `out` in `format`, file by file in corpus order,
/// passages in document order. Memory stays bounded: files are read ahead by at most `WINDOW`.
pub fn write(
    scan: &Scan,
    taxonomy: &Taxonomy,
    format: Format,
    out: &mut impl Write,
    progress: &Progress,
) -> Result<Summary> {
    let serialise = |file: Option<&PreparedFile>| file_lines(file, format);
    for_each_file_as(scan, taxonomy, progress, serialise, |file| {
        let (lines, passages) = file;
        out.write_all(&lines).context("writing the export")?;
        Ok(passages)
    })
}

/// Reads, segments and labels the corpus's files on one worker per core and hands each file's
/// records to `sink` on the calling thread, in corpus order. A file that cannot be read is a
/// warning (it has no records); an error from `sink` stops the workers and is returned.
pub fn for_each_file(
    scan: &Scan,
    taxonomy: &Taxonomy,
    progress: &Progress,
    mut sink: impl FnMut(&[Record]) -> Result<()>,
) -> Result<Summary> {
    for_each_file_as(scan, taxonomy, progress, file_records, |records| {
        sink(&records)?;
        Ok(records.len())
    })
}

/// `for_each_file` with a step run on the workers: `shape` turns a file's records into what
/// `sink` takes, and `sink` says how many passages it handed on.
fn for_each_file_as<T: Send>(
    scan: &Scan,
    taxonomy: &Taxonomy,
    progress: &Progress,
    shape: impl Fn(Option<&PreparedFile>) -> T + Sync,
    mut sink: impl FnMut(T) -> Result<usize>,
) -> Result<Summary> {
    let files = &scan.files;
    progress.files_total.store(files.len() as u64, Ordering::Relaxed);
    progress.bytes_total.store(scan.bytes(), Ordering::Relaxed);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // Index of the next file to hand to the sink; workers wait while they are WINDOW ahead.
    let written = Mutex::new(0usize);
    let advanced = Condvar::new();
    let mut summary = Summary {
        warnings: scan.warnings.clone(),
        ..Summary::default()
    };
    let (send, receive) = mpsc::channel::<(usize, T, Vec<String>)>();
    let outcome = std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let send = send.clone();
            let (next, stop, written, advanced, shape) = (&next, &stop, &written, &advanced, &shape);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(entry) = files.get(i) else { break };
                    {
                        let mut done = written.lock().unwrap_or_else(|e| e.into_inner());
                        while i >= *done + WINDOW && !stop.load(Ordering::Relaxed) {
                            done = advanced.wait(done).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    let mut warnings = Vec::new();
                    let prepared = match prepare::file(entry, taxonomy, Cut::PassagesOnly, &mut warnings) {
                        Prepared::Ready(file) => Some(file),
                        Prepared::Skipped | Prepared::Unreadable => None,
                    };
                    let shaped = shape(prepared.as_ref());
                    if send.send((i, shaped, warnings)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        let result = drain(
            files,
            &receive,
            &written,
            &advanced,
            progress,
            &mut summary,
            &mut sink,
        );
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
            advanced.notify_all();
        }
        drop(receive);
        result
    });
    outcome?;
    Ok(summary)
}

/// The sink side of `for_each_file`: puts files back in corpus order and hands them on.
fn drain<T>(
    files: &[FileEntry],
    receive: &mpsc::Receiver<(usize, T, Vec<String>)>,
    written: &Mutex<usize>,
    advanced: &Condvar,
    progress: &Progress,
    summary: &mut Summary,
    sink: &mut impl FnMut(T) -> Result<usize>,
) -> Result<()> {
    let mut pending: BTreeMap<usize, (T, Vec<String>)> = BTreeMap::new();
    let mut expected = 0usize;
    for (i, shaped, warnings) in receive {
        pending.insert(i, (shaped, warnings));
        while let Some((shaped, mut warnings)) = pending.remove(&expected) {
            let passages = sink(shaped)?;
            let entry = &files[expected];
            summary.files += u64::from(passages > 0);
            summary.passages += passages as u64;
            summary.bytes += entry.size;
            summary.warnings.append(&mut warnings);
            progress.files_done.fetch_add(1, Ordering::Relaxed);
            progress.bytes_done.fetch_add(entry.size, Ordering::Relaxed);
            expected += 1;
            *written.lock().unwrap_or_else(|e| e.into_inner()) = expected;
            advanced.notify_all();
        }
    }
    Ok(())
}

/// The records of one prepared file (none for a file that was unreadable, empty or binary).
fn file_records(file: Option<&PreparedFile>) -> Vec<Record> {
    let Some(file) = file else {
        return Vec::new();
    };
    let document = &file.document;
    document
        .passages
        .iter()
        .zip(&file.labels)
        .map(|(passage, labels)| {
            Record::new(
                &document.source,
                &document.title,
                &passage.section,
                passage.ordinal,
                &labels.roles,
                &labels.topics,
                &passage.text,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn record(section: &[&str], roles: &[&str], text: &str) -> Record {
        Record::new("a.txt", "A", &strings(section), 3, &strings(roles), &[], text)
    }

    #[test]
    fn id_is_source_and_ordinal() {
        assert_eq!(record(&[], &[], "x").id, "a.txt:3");
    }

    #[test]
    fn digest_is_stable_across_runs() {
        // Pinned: a digest kept in a remote collection must mean the same after an upgrade.
        assert_eq!(record(&["S"], &["cto"], "Hello.").digest, "e459929f394d3087");
    }

    #[test]
    fn digest_changes_with_every_field() {
        let base = record(&["S"], &["cto"], "Hello.");
        let changed = [
            record(&["S"], &["cto"], "Hello!"),
            record(&["T"], &["cto"], "Hello."),
            record(&["S"], &["ceo"], "Hello."),
            record(&["S"], &[], "Hello."),
            Record::new(
                "b.txt",
                "A",
                &strings(&["S"]),
                3,
                &strings(&["cto"]),
                &[],
                "Hello.",
            ),
            Record::new(
                "a.txt",
                "B",
                &strings(&["S"]),
                3,
                &strings(&["cto"]),
                &[],
                "Hello.",
            ),
            Record::new(
                "a.txt",
                "A",
                &strings(&["S"]),
                4,
                &strings(&["cto"]),
                &[],
                "Hello.",
            ),
            Record::new(
                "a.txt",
                "A",
                &strings(&["S"]),
                3,
                &[],
                &strings(&["cto"]),
                "Hello.",
            ),
        ];
        for other in changed {
            assert_ne!(base.digest, other.digest, "{other:?}");
        }
    }

    #[test]
    fn digest_tells_list_boundaries_apart() {
        assert_ne!(
            record(&["a b"], &[], "x").digest,
            record(&["a", "b"], &[], "x").digest
        );
        assert_ne!(
            record(&["ab"], &[], "x").digest,
            record(&["a", "b"], &[], "x").digest
        );
    }

    #[test]
    fn bulk_format_puts_an_action_line_before_each_passage() {
        let mut out = Vec::new();
        write_record(Format::OpensearchBulk, &record(&[], &[], "x"), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], r#"{"index":{"_id":"a.txt:3"}}"#);
        assert!(lines[1].starts_with(r#"{"id":"a.txt:3","source":"a.txt""#));
    }

    #[test]
    fn a_line_written_by_hand_is_the_line_serde_writes() {
        let section = strings(&["Top \"quoted\"", "Tab\there"]);
        let roles = strings(&["cto", "ceo"]);
        for (text, section, roles) in [
            ("Hello.", &section[..], &roles[..]),
            ("two\nlines \u{1} and é 🦀", &[][..], &[][..]),
            ("", &section[..1], &roles[1..]),
        ] {
            let line = Line {
                id: "dir/a b.txt:12",
                source: "dir/a b.txt",
                document: "The \\ title",
                section,
                ordinal: 12,
                roles,
                topics: roles,
                text,
                digest: Hex(0x00ab_cdef_0123_4567),
            };
            for format in [Format::Ndjson, Format::OpensearchBulk, Format::TypesenseJsonl] {
                let mut by_hand = Vec::new();
                line.push(format, &mut by_hand);
                let mut by_serde = Vec::new();
                write_line(format, line.id, &line, &mut by_serde).unwrap();
                assert_eq!(
                    String::from_utf8(by_hand).unwrap(),
                    String::from_utf8(by_serde).unwrap()
                );
            }
        }
    }

    #[test]
    fn line_formats_write_one_object_a_line() {
        for format in [Format::Ndjson, Format::TypesenseJsonl] {
            let mut out = Vec::new();
            write_record(format, &record(&[], &[], "two\nlines"), &mut out).unwrap();
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        }
    }
}
