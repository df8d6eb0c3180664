//! Writing the index: a full build into a new generation, or an incremental update of the
//! live one, cut into diffing the manifest (`Manifest::diff`) and applying the difference.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use tantivy::index::SegmentId;
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexSettings, IndexWriter, Term};

use super::folder::{now_ns, sync_dir, IndexDir, WriteLock};
use super::fresh::{open_live, LiveIndex};
use super::schema::{analyzer, passage_document, schema, Fields, ANALYZER};
use super::stamp::{
    canonical, read_manifest, remove_other_manifests, write_manifest, FileRecord, ManifestDiff, Stamp,
};
use super::vectors::{self, Unit, VectorChoice, VectorSettings, Vectors, AUTO_VECTORS_MAX_BYTES};
use crate::corpus::{FileEntry, Scan, Watch};
use crate::embed;
use crate::label::{Taxonomy, TAXONOMY_FILE};
use crate::model::Progress;
use crate::prepare::{self, Streamed};

/// Segments up to this many passages that lost passages in an update are merged at once, so
/// the BM25 statistics count no deleted passage (larger ones wait for their turn to merge).
const PURGE_MAX_DOCS: u32 = 20_000;
/// Largest segment, in passages, that a full build's merges produce (about 80 MB of index).
const MERGE_MAX_DOCS: usize = 450_000;
/// Tantivy's writer needs at least this much memory per indexing thread.
const MEMORY_PER_THREAD_MIN: usize = 15_000_000;
/// An update touching more files than this, and more than half the corpus, is a full build.
const UPDATE_MAX_FILES: usize = 64;

/// Settings for writing an index.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// Memory budget of tantivy's writer, in bytes, shared by its threads.
    pub memory: usize,
    /// Rebuild everything even when only some files changed.
    pub full: bool,
    /// Whether to make passage vectors, with which model.
    pub vectors: VectorSettings,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    /// Files, passages and sections in the index afterwards.
    pub files: usize,
    pub passages: usize,
    pub sections: usize,
    /// Bytes of documents read.
    pub bytes: u64,
    pub elapsed: Duration,
    pub warnings: Vec<String>,
    pub kind: BuildKind,
    /// Passage vectors in the index afterwards (rows: passages and sentences; 0 without
    /// vectors), and how many passages this build embedded, in how long.
    pub vectors: usize,
    pub embedded: usize,
    pub embedding: Duration,
}

/// Whether a build wrote a new index or updated the live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildKind {
    Full,
    /// Files added, changed and removed since the last build (all zero: nothing to do).
    Update {
        added: usize,
        changed: usize,
        removed: usize,
    },
}

/// Brings the index up to date with the scan. When the live generation was built from the
/// same corpus folder and taxonomy, only the files added, changed or removed since are
/// re-indexed, in place, in one atomic commit; otherwise (or with `settings.full`, or when
/// most files changed) a new generation is built.
pub fn build_or_update(
    dir: &IndexDir,
    scan: &Scan,
    settings: BuildSettings,
    progress: &Progress,
    lock: &WriteLock,
) -> Result<BuildSummary> {
    let started = Instant::now();
    if !settings.full {
        if let Some(summary) = update_in_place(dir, scan, settings.clone(), progress)? {
            return Ok(BuildSummary {
                elapsed: started.elapsed(),
                ..summary
            });
        }
    }
    build_full(dir, scan, settings, progress, lock)
}

/// Builds a fresh index of the corpus in a new generation and makes it live atomically.
/// The old generation keeps answering until the swap; leftovers of killed builds are removed.
pub fn build_full(
    dir: &IndexDir,
    scan: &Scan,
    settings: BuildSettings,
    progress: &Progress,
    _lock: &WriteLock,
) -> Result<BuildSummary> {
    let started = Instant::now();
    dir.check_is_ours()?;
    dir.remove_leftovers();
    let (taxonomy, taxonomy_text) = prepare::read_taxonomy(scan)?;
    let stamp_time = now_ns();
    let temp = dir.new_temp(stamp_time)?;
    let written = write_generation(
        &temp,
        scan,
        &taxonomy,
        taxonomy_text.as_deref(),
        settings,
        progress,
    );
    let summary = match written {
        Ok(summary) => summary,
        Err(e) => {
            let _ = fs::remove_dir_all(&temp);
            return Err(e);
        }
    };
    dir.publish(&temp, stamp_time)?;
    Ok(BuildSummary {
        elapsed: started.elapsed(),
        ..summary
    })
}

/// Re-indexes the files that changed in the live generation; `None` when a full build is
/// needed (no usable index, another corpus or taxonomy, no manifest, most files changed).
fn update_in_place(
    dir: &IndexDir,
    scan: &Scan,
    settings: BuildSettings,
    progress: &Progress,
) -> Result<Option<BuildSummary>> {
    let (Ok(live), Ok(Some(generation))) = (open_live(dir), dir.current()) else {
        return Ok(None);
    };
    if live.stamp.corpus != canonical(&scan.root) {
        return Ok(None);
    }
    let stored_taxonomy = fs::read_to_string(generation.join(TAXONOMY_FILE)).ok();
    let (taxonomy, taxonomy_text) = prepare::read_taxonomy(scan)?;
    if taxonomy_text != stored_taxonomy {
        // Synonyms are read at query time only: a taxonomy whose roles and topics are as they
        // were keeps every label, and its new text is stored with the update's commit.
        let same_labels = stored_taxonomy
            .as_deref()
            .and_then(|text| Taxonomy::parse(text).ok())
            .is_some_and(|old| old.roles == taxonomy.roles && old.topics == taxonomy.topics);
        if !same_labels {
            return Ok(None);
        }
    }
    let Ok(manifest) = read_manifest(&generation.join(&live.stamp.manifest)) else {
        return Ok(None);
    };
    // Vectors are kept up to date only with the model that made them; asking for vectors an
    // index lacks, or dropping the ones it has, takes a full build.
    match (&live.vectors, settings.vectors.choice, &settings.vectors.model) {
        (Some(_), VectorChoice::Never, _) | (None, VectorChoice::Always, _) | (Some(_), _, None) => {
            return Ok(None)
        }
        (Some(vectors), _, Some(model)) if embed::fingerprint(model)? != vectors.fingerprint => {
            return Ok(None)
        }
        _ => {}
    }
    let diff = manifest.diff(&scan.files);
    let touched = diff.to_read.len() + diff.removed.len();
    if touched > UPDATE_MAX_FILES && touched * 2 > scan.files.len() {
        return Ok(None);
    }
    if touched == 0 && Watch::of(scan) == live.stamp.watch {
        let kind = diff.kind();
        let mut summary = summary_of(&diff.kept, 0, scan.warnings.clone(), kind);
        summary.vectors = live.vectors.as_ref().map_or(0, Vectors::len);
        return Ok(Some(summary));
    }
    apply(
        &live,
        &generation,
        scan,
        diff,
        taxonomy_text.as_deref(),
        settings,
        progress,
    )
    .map(Some)
}

/// Applies a difference to the live generation in one commit: deletes the passages of removed
/// and changed files, adds those of the files read again, writes the new manifest and stamp.
fn apply(
    live: &LiveIndex,
    generation: &Path,
    scan: &Scan,
    diff: ManifestDiff,
    taxonomy_text: Option<&str>,
    settings: BuildSettings,
    progress: &Progress,
) -> Result<BuildSummary> {
    let kind = diff.kind();
    let ManifestDiff {
        mut kept,
        to_read,
        removed,
        ..
    } = diff;
    let bytes = to_read.iter().map(|f| f.size).sum();
    progress
        .files_total
        .store(to_read.len() as u64, Ordering::Relaxed);
    progress.bytes_total.store(bytes, Ordering::Relaxed);
    let before_segments = live
        .index
        .searchable_segment_ids()
        .context("listing index segments")?;
    let mut writer = new_writer(&live.index, settings.memory)?;
    writer.set_merge_policy(Box::new(NoMergePolicy));
    // A changed file loses all its passages (they share its `source`) before its new ones
    // are added; deleting the passages of an added file is a no-op.
    for source in removed
        .iter()
        .map(String::as_str)
        .chain(to_read.iter().map(|f| f.source.as_str()))
    {
        writer.delete_term(Term::from_field_text(live.fields.source, source));
    }
    let keep_vectors = live.vectors.is_some();
    let added = add_files(
        &writer,
        &live.fields,
        &live.taxonomy,
        &to_read,
        progress,
        keep_vectors,
    )?;
    let (records, mut warnings, units) = (added.records, added.warnings, added.units);
    let vectors = match (&live.vectors, &settings.vectors.model) {
        (Some(old), Some(model)) => {
            let gone: std::collections::HashSet<&str> = removed
                .iter()
                .map(String::as_str)
                .chain(to_read.iter().map(|f| f.source.as_str()))
                .collect();
            let kept_vectors = old.retain(|id| !gone.contains(vectors::source_of(id)));
            Some(vectors::embed_units(model, kept_vectors, &units, progress)?)
        }
        _ => None,
    };
    kept.extend(records.into_iter().flatten());
    kept.sort_by(|a, b| a.source.cmp(&b.source));
    let manifest_name = write_manifest(generation, &kept)?;
    let mut all_warnings = scan.warnings.clone();
    all_warnings.append(&mut warnings);
    let mut summary = summary_of(&kept, bytes, all_warnings, kind);
    let mut stamp = Stamp::of(scan, manifest_name.clone(), taxonomy_text);
    if let Some((vectors, took)) = vectors {
        summary.vectors = vectors.len();
        summary.embedded = vectors::passages_in(&units);
        summary.embedding = took;
        stamp.vectors = Some(vectors::write_new(generation, &vectors)?);
    }
    if let Some(text) = taxonomy_text {
        // The stamp about to be committed holds this text's hash; a crash between the two
        // leaves a copy whose hash does not match, which reads as damaged and is rebuilt.
        let copy = generation.join(TAXONOMY_FILE);
        if fs::read_to_string(&copy).ok().as_deref() != Some(text) {
            let temp = generation.join(format!("{TAXONOMY_FILE}.tmp"));
            fs::write(&temp, text)
                .and_then(|_| fs::rename(&temp, &copy))
                .with_context(|| format!("writing {}", copy.display()))?;
        }
    }
    let mut commit = writer.prepare_commit().context("preparing the index commit")?;
    commit.set_payload(&serde_json::to_string(&stamp)?);
    commit.commit().context("committing the index")?;
    purge_deleted(&live.index, &mut writer, &before_segments)?;
    writer.wait_merging_threads().context("finishing index merges")?;
    remove_other_manifests(generation, &manifest_name);
    vectors::remove_others(generation, stamp.vectors.as_deref());
    Ok(summary)
}

/// Reads, segments, labels and indexes every file of the scan into `dir`, then commits with
/// the stamp naming the manifest written beside it.
fn write_generation(
    dir: &Path,
    scan: &Scan,
    taxonomy: &Taxonomy,
    taxonomy_text: Option<&str>,
    settings: BuildSettings,
    progress: &Progress,
) -> Result<BuildSummary> {
    let settings_of_index = IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
        ..IndexSettings::default()
    };
    let index = Index::builder()
        .schema(schema())
        .settings(settings_of_index)
        .create_in_dir(dir)
        .with_context(|| format!("creating index in {}", dir.display()))?;
    index.tokenizers().register(ANALYZER, analyzer());
    let fields = Fields::of(&index.schema())?;
    progress
        .files_total
        .store(scan.files.len() as u64, Ordering::Relaxed);
    progress.bytes_total.store(scan.bytes(), Ordering::Relaxed);
    let mut writer = new_writer(&index, settings.memory)?;
    writer.set_merge_policy(Box::new(build_merge_policy()));
    let want_vectors = match (settings.vectors.choice, &settings.vectors.model) {
        (VectorChoice::Never, _) => false,
        (VectorChoice::Always, None) => {
            anyhow::bail!("passage vectors need the embedding model: {}", embed::HOW_TO_GET)
        }
        (VectorChoice::Always, Some(_)) => true,
        (VectorChoice::Auto, model) => model.is_some() && scan.bytes() <= AUTO_VECTORS_MAX_BYTES,
    };
    let added = add_files(&writer, &fields, taxonomy, &scan.files, progress, want_vectors)?;
    let (records, mut warnings, units) = (added.records, added.warnings, added.units);
    let vectors = match &settings.vectors.model {
        Some(model) if want_vectors => {
            let empty = Vectors::new(&embed::fingerprint(model)?, embed::DIMENSIONS);
            Some(vectors::embed_units(model, empty, &units, progress)?)
        }
        _ => None,
    };
    if let Some(text) = taxonomy_text {
        fs::write(dir.join(TAXONOMY_FILE), text).with_context(|| format!("writing {}", dir.display()))?;
    }
    let records: Vec<FileRecord> = records.into_iter().flatten().collect();
    let manifest_name = write_manifest(dir, &records)?;
    let mut all_warnings = scan.warnings.clone();
    all_warnings.append(&mut warnings);
    let mut summary = summary_of(&records, scan.bytes(), all_warnings, BuildKind::Full);
    let mut stamp = Stamp::of(scan, manifest_name, taxonomy_text);
    if let Some((vectors, took)) = vectors {
        summary.vectors = vectors.len();
        summary.embedded = vectors::passages_in(&units);
        summary.embedding = took;
        stamp.vectors = Some(vectors::write_new(dir, &vectors)?);
    }
    let mut commit = writer.prepare_commit().context("preparing the index commit")?;
    commit.set_payload(&serde_json::to_string(&stamp)?);
    commit.commit().context("committing the index")?;
    writer.wait_merging_threads().context("finishing index merges")?;
    sync_dir(dir);
    Ok(summary)
}

/// How a full build merges the segments its writer threads flush: a few at a time, and never
/// into segments of more than about [`MERGE_MAX_DOCS`] passages. A merge reads its segments
/// through memory maps, which count in the resident memory; capping merges caps that, whatever
/// the corpus size, at the price of a few segments more for a query to visit.
fn build_merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(3);
    policy.set_max_docs_before_merge(MERGE_MAX_DOCS / 3);
    policy
}

/// A writer using every core, within the memory budget (tantivy needs 15 MB a thread).
fn new_writer(index: &Index, memory: usize) -> Result<IndexWriter> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min((memory / MEMORY_PER_THREAD_MIN).max(1));
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
fn add_files(
    writer: &IndexWriter,
    fields: &Fields,
    taxonomy: &Taxonomy,
    files: &[FileEntry],
    progress: &Progress,
    keep_units: bool,
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
            let streamed = prepare::each_passage(
                entry,
                taxonomy,
                &mut warnings,
                &mut |source, title, passage, labels| {
                    if add_failed.is_some() {
                        return;
                    }
                    let doc = passage_document(fields, source, title, passage, labels);
                    if let Err(e) = writer.add_document(doc) {
                        add_failed = Some(e);
                        return;
                    }
                    if keep_units {
                        let id = crate::model::passage_id(source, passage.ordinal);
                        units.extend(vectors::units_of(&id, &passage.text));
                    }
                },
            );
            if let Some(e) = add_failed {
                failed.store(true, Ordering::Relaxed);
                return Err(e).context("adding a passage to the index");
            }
            let outcome = match streamed {
                Streamed::Ready { passages, sections } => Some(record(passages, sections as u64, false)),
                Streamed::Skipped => Some(record(0, 0, true)),
                Streamed::Unreadable => None,
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
struct Added {
    records: Vec<Option<FileRecord>>,
    warnings: Vec<String>,
    units: Vec<Unit>,
}

/// After an update, merges the small segments that lost passages together with the segments
/// the update added, so deleted passages stop counting in the BM25 statistics (term and
/// passage counts are then exact; tantivy estimates the merged average passage length from
/// rounded lengths). Large segments are left alone: merging them would take seconds, and there
/// the few deleted passages shift statistics over a million passages by a few in a million,
/// until their segment is merged or `--full` rebuilds.
fn purge_deleted(index: &Index, writer: &mut IndexWriter, before: &[SegmentId]) -> Result<()> {
    let metas = index
        .searchable_segment_metas()
        .context("listing index segments")?;
    let merge: Vec<_> = metas
        .iter()
        .filter(|m| m.max_doc() <= PURGE_MAX_DOCS && (m.has_deletes() || !before.contains(&m.id())))
        .map(|m| m.id())
        .collect();
    let with_deletes = metas.iter().any(|m| merge.contains(&m.id()) && m.has_deletes());
    if merge.len() >= 2 || with_deletes {
        writer.merge(&merge).wait().context("merging updated segments")?;
    }
    Ok(())
}

fn summary_of(records: &[FileRecord], bytes: u64, warnings: Vec<String>, kind: BuildKind) -> BuildSummary {
    let indexed = records.iter().filter(|r| !r.skipped);
    BuildSummary {
        files: indexed.clone().count(),
        passages: indexed.clone().map(|r| r.passages as usize).sum(),
        sections: indexed.map(|r| r.sections as usize).sum(),
        bytes,
        elapsed: Duration::ZERO,
        warnings,
        kind,
        vectors: 0,
        embedded: 0,
        embedding: Duration::ZERO,
    }
}
