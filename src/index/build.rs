//! Writing the index: a full build into a new generation, or an incremental update of the
//! live one, cut into diffing the manifest (`Manifest::diff`) and applying the difference.

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use tantivy::indexer::NoMergePolicy;
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexSettings, Term};

use super::directory::GenerationDirectory;
use super::feed::{add_files, new_writer, worker_error, MEMORY_PER_THREAD_MIN};
use super::folder::{now_ns, sync_dir, IndexDir, WriteLock};
use super::open::{open_live, LiveIndex};
use super::schema::{indexing_analyzer, schema, Fields, ANALYZER};
use super::segments::{merge_into_few, purge_deleted};
use super::stamp::{
    canonical, read_manifest, read_watch, remove_unnamed, write_manifest, write_watch, FileRecord,
    ManifestDiff, Stamp,
};
use super::vectors::{self, VectorChoice, VectorSettings, Vectors, AUTO_VECTORS_MAX_BYTES};
use crate::corpus::{Scan, Watch};
use crate::embed;
use crate::label::{Taxonomy, TAXONOMY_FILE};
use crate::model::Progress;
use crate::prepare;

/// Passages are stored compressed in blocks of this many bytes (tantivy's default is 16 KB):
/// the passages of a document repeat its source, title and headings, which a larger block
/// compresses away (the store is 6% smaller), while a hit still decompresses one block only.
const DOCSTORE_BLOCK_BYTES: usize = 32_768;
/// zstd level of the store blocks (zstd's default is 3): on the 197 MB corpus, 7 makes the
/// store 5% smaller (86.0 → 81.4 MB) for 4% more build CPU; reading a block costs about the
/// same at any level (a query +2–3% instructions). 12 saves 1% more for 29% more build CPU.
const DOCSTORE_ZSTD_LEVEL: i32 = 7;
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
    dir.remove_leftovers();
    if !settings.full {
        let updated =
            update_in_place(dir, scan, settings.clone(), progress).map_err(|e| disk_full(dir, e))?;
        if let Some(summary) = updated {
            return Ok(BuildSummary {
                elapsed: started.elapsed(),
                ..summary
            });
        }
    }
    build_full(dir, scan, settings, progress, lock)
}

/// A write that failed because the disk is full says so in those words, whatever layer of
/// tantivy reported it.
fn disk_full(dir: &IndexDir, error: anyhow::Error) -> anyhow::Error {
    let full = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::StorageFull)
            || cause.to_string().contains("No space left on device")
    });
    if full {
        anyhow!(
            "cannot write the index in {}: No space left on device",
            dir.root().display()
        )
    } else {
        error
    }
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
    let temp = dir.new_temp(stamp_time).map_err(|e| disk_full(dir, e))?;
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
            return Err(disk_full(dir, e));
        }
    };
    dir.publish(&temp, stamp_time).map_err(|e| disk_full(dir, e))?;
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
        (Some(vectors), _, Some(model))
            if vectors.fingerprint().ok() != Some(embed::fingerprint(model)?.as_str()) =>
        {
            return Ok(None)
        }
        // Vectors of an earlier rsearch have no window or heading rows: kept beside new
        // files' rows with them, the new files would rank above the old ones by meaning.
        (Some(vectors), _, Some(_))
            if !(vectors.has_windows().unwrap_or(false) && vectors.has_headings().unwrap_or(false)) =>
        {
            return Ok(None)
        }
        _ => {}
    }
    let diff = manifest.diff(&scan.files);
    let touched = diff.to_read.len() + diff.removed.len();
    if touched > UPDATE_MAX_FILES && touched * 2 > scan.files.len() {
        return Ok(None);
    }
    let live_watch = read_watch(&generation, &live.stamp).ok();
    if touched == 0 && live_watch == Some(Watch::of(scan)) {
        let kind = diff.kind();
        let mut summary = summary_of(&diff.kept, 0, scan.warnings.clone(), kind);
        summary.vectors = live.vectors.as_ref().map_or(Ok(0), |v| v.rows())?;
        return Ok(Some(summary));
    }
    let applied = apply(
        &live,
        &generation,
        scan,
        diff,
        taxonomy_text.as_deref(),
        settings,
        progress,
    );
    if applied.is_err() {
        remove_uncommitted(&live.index, &generation);
    }
    applied.map(Some)
}

/// After a failed update, removes the files it wrote that the last commit does not name (its
/// segments, its manifest and vectors), so a failure leaves the generation as that commit
/// has it, whether the update failed before committing or after.
fn remove_uncommitted(index: &Index, generation: &Path) {
    // tantivy's own clean-up removes the segment files it manages that no commit uses.
    if let Ok(writer) = index.writer_with_num_threads::<tantivy::TantivyDocument>(1, MEMORY_PER_THREAD_MIN) {
        let _ = writer.garbage_collect_files().wait();
    }
    let committed = index
        .load_metas()
        .ok()
        .and_then(|metas| metas.payload)
        .and_then(|payload| serde_json::from_str::<Stamp>(&payload).ok());
    if let Some(stamp) = committed {
        remove_unnamed(generation, &stamp);
        vectors::remove_others(generation, stamp.vectors.as_deref());
    }
    let _ = fs::remove_file(generation.join(format!("{TAXONOMY_FILE}.tmp")));
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
    live.index.tokenizers().register(ANALYZER, indexing_analyzer());
    let mut writer = new_writer(&live.index, settings.memory, bytes)?;
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
    )
    .map_err(|e| worker_error(&mut writer, e))?;
    let (records, mut warnings, units) = (added.records, added.warnings, added.units);
    let vectors = match (&live.vectors, &settings.vectors.model) {
        (Some(old), Some(model)) => {
            let gone: std::collections::HashSet<&str> = removed
                .iter()
                .map(String::as_str)
                .chain(to_read.iter().map(|f| f.source.as_str()))
                .collect();
            let kept_vectors = old.load()?.retain(|id| !gone.contains(vectors::source_of(id)));
            Some(vectors::embed_units(model, kept_vectors, &units, progress)?)
        }
        _ => None,
    };
    kept.extend(records.into_iter().flatten());
    kept.sort_by(|a, b| a.source.cmp(&b.source));
    let manifest_name = write_manifest(generation, &kept)?;
    let watch_name = write_watch(generation, scan)?;
    let mut all_warnings = scan.warnings.clone();
    all_warnings.append(&mut warnings);
    let mut summary = summary_of(&kept, bytes, all_warnings, kind);
    let mut stamp = Stamp::of(scan, manifest_name, watch_name, taxonomy_text);
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
    remove_unnamed(generation, &stamp);
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
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(DOCSTORE_ZSTD_LEVEL),
        }),
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        ..IndexSettings::default()
    };
    let index = Index::builder()
        .schema(schema())
        .settings(settings_of_index)
        .open_or_create(GenerationDirectory::open(dir).with_context(|| format!("opening {}", dir.display()))?)
        .with_context(|| format!("creating index in {}", dir.display()))?;
    index.tokenizers().register(ANALYZER, indexing_analyzer());
    let fields = Fields::of(&index.schema())?;
    progress
        .files_total
        .store(scan.files.len() as u64, Ordering::Relaxed);
    progress.bytes_total.store(scan.bytes(), Ordering::Relaxed);
    let mut writer = new_writer(&index, settings.memory, scan.bytes())?;
    writer.set_merge_policy(Box::new(NoMergePolicy));
    let want_vectors = match (settings.vectors.choice, &settings.vectors.model) {
        (VectorChoice::Never, _) => false,
        (VectorChoice::Always, None) => {
            anyhow::bail!("passage vectors need the embedding model: {}", embed::HOW_TO_GET)
        }
        (VectorChoice::Always, Some(_)) => true,
        (VectorChoice::Auto, model) => model.is_some() && scan.bytes() <= AUTO_VECTORS_MAX_BYTES,
    };
    let added = add_files(&writer, &fields, taxonomy, &scan.files, progress, want_vectors)
        .map_err(|e| worker_error(&mut writer, e))?;
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
    let watch_name = write_watch(dir, scan)?;
    let mut all_warnings = scan.warnings.clone();
    all_warnings.append(&mut warnings);
    let mut summary = summary_of(&records, scan.bytes(), all_warnings, BuildKind::Full);
    let mut stamp = Stamp::of(scan, manifest_name, watch_name, taxonomy_text);
    if let Some((vectors, took)) = vectors {
        summary.vectors = vectors.len();
        summary.embedded = vectors::passages_in(&units);
        summary.embedding = took;
        stamp.vectors = Some(vectors::write_new(dir, &vectors)?);
    }
    let mut commit = writer.prepare_commit().context("preparing the index commit")?;
    commit.set_payload(&serde_json::to_string(&stamp)?);
    commit.commit().context("committing the index")?;
    merge_into_few(&index, &mut writer, dir)?;
    writer.wait_merging_threads().context("finishing index merges")?;
    sync_dir(dir);
    Ok(summary)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_is_named_in_those_words_and_other_errors_pass_unchanged() {
        let dir = IndexDir::new(Path::new("nowhere/index")).expect("dir");
        let full = anyhow::Error::new(std::io::Error::from_raw_os_error(28)).context("committing the index");
        assert_eq!(
            disk_full(&dir, full).to_string(),
            "cannot write the index in nowhere/index: No space left on device"
        );
        let in_text = anyhow!("An IO error occurred: 'No space left on device (os error 28) at path \"x\"'");
        assert!(disk_full(&dir, in_text)
            .to_string()
            .ends_with(": No space left on device"));
        let other = anyhow::Error::new(std::io::Error::from_raw_os_error(13)).context("opening x");
        assert_eq!(
            format!("{:#}", disk_full(&dir, other)),
            "opening x: Permission denied (os error 13)"
        );
    }
}
