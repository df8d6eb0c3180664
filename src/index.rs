//! Index: the tantivy schema (field names defined once) and the index folder. A build writes a
//! new generation beside the live one and swaps it in atomically; readers never see a half-build.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
    STORED, STRING,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::corpus::{self, FileEntry, Scan, Watch};
use crate::label::{Taxonomy, TAXONOMY_FILE};
use crate::model::{passage_id, Document, Labels, Progress};
use crate::segment;

/// Bumped whenever the schema, the analyzer or the labelling rules change: an index with
/// another format is rebuilt.
pub const FORMAT_VERSION: u32 = 2;
/// Name of the English analyzer registered on every index.
pub const ANALYZER: &str = "rsearch_en";

/// Field names of the schema; every other module refers to fields through [`Fields`].
pub mod field {
    pub const ID: &str = "id";
    pub const SOURCE: &str = "source";
    pub const ORDINAL: &str = "ordinal";
    pub const TITLE: &str = "title";
    pub const SECTION: &str = "section";
    pub const TEXT: &str = "text";
    pub const ROLES: &str = "roles";
    pub const TOPICS: &str = "topics";
}

/// File in the index folder naming the live generation.
const CURRENT: &str = "CURRENT";
/// Lock file taken by every writer.
const LOCK: &str = ".lock";
const GENERATION_PREFIX: &str = "gen-";
const TEMP_PREFIX: &str = ".tmp-";
/// Per-file fingerprints of a generation, `manifest-<time>.json`; the commit names the live one.
const MANIFEST_PREFIX: &str = "manifest-";
/// Segments up to this many passages that lost passages in an update are merged at once, so
/// the BM25 statistics count no deleted passage (larger ones wait for their turn to merge).
const PURGE_MAX_DOCS: u32 = 20_000;
/// Largest segment, in passages, that a full build's merges produce (about 80 MB of index).
const MERGE_MAX_DOCS: usize = 450_000;
/// Tantivy's writer needs at least this much memory per indexing thread.
const MEMORY_PER_THREAD_MIN: usize = 15_000_000;
/// Entries an index folder may hold besides generations (the placeholder kept in git).
const PLACEHOLDERS: &[&str] = &["README.md", ".gitkeep", ".gitignore"];

/// Handles to every field of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub source: Field,
    pub ordinal: Field,
    pub title: Field,
    pub section: Field,
    pub text: Field,
    pub roles: Field,
    pub topics: Field,
}

impl Fields {
    /// Looks the fields up by name; fails on an index with another schema.
    pub fn of(schema: &Schema) -> Result<Fields> {
        let get = |name: &str| {
            schema
                .get_field(name)
                .map_err(|_| anyhow!("index has no field \"{name}\""))
        };
        Ok(Fields {
            id: get(field::ID)?,
            source: get(field::SOURCE)?,
            ordinal: get(field::ORDINAL)?,
            title: get(field::TITLE)?,
            section: get(field::SECTION)?,
            text: get(field::TEXT)?,
            roles: get(field::ROLES)?,
            topics: get(field::TOPICS)?,
        })
    }
}

/// The schema: body, headings and title are analysed text (with positions for phrases);
/// id and source are exact terms; roles and topics are facets (`/cto`).
pub fn schema() -> Schema {
    let analysed = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let mut builder = Schema::builder();
    builder.add_text_field(field::ID, STRING | STORED);
    builder.add_text_field(field::SOURCE, STRING | STORED);
    builder.add_u64_field(
        field::ORDINAL,
        NumericOptions::default().set_indexed().set_stored().set_fast(),
    );
    builder.add_text_field(field::TITLE, analysed.clone());
    builder.add_text_field(field::SECTION, analysed.clone());
    builder.add_text_field(field::TEXT, analysed);
    builder.add_facet_field(field::ROLES, FacetOptions::default().set_stored());
    builder.add_facet_field(field::TOPICS, FacetOptions::default().set_stored());
    builder.build()
}

/// The English analyzer: words, lower-cased, accents folded, stop words dropped, stemmed.
pub fn analyzer() -> TextAnalyzer {
    let stop_words = StopWordFilter::new(Language::English)
        .unwrap_or_else(|| StopWordFilter::remove(Vec::<String>::new()));
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(stop_words)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// What an index knows of how it was built; stored in the commit itself (tantivy's commit
/// payload), so it can never disagree with the data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stamp {
    pub format: u32,
    pub version: String,
    /// Absolute path of the corpus folder the index was built from.
    pub corpus: PathBuf,
    /// File in the generation folder holding the fingerprint of every indexed file.
    pub manifest: String,
    /// What a query stats to tell whether the corpus changed.
    pub watch: Watch,
    pub files: usize,
    pub passages: usize,
    pub sections: usize,
    /// FNV-1a hash of the taxonomy copied into the index, so a damaged or missing copy is
    /// caught on opening; absent when the corpus had no taxonomy (or an older rsearch wrote it).
    #[serde(default)]
    pub taxonomy: Option<String>,
}

/// One indexed file as the manifest remembers it: `index` re-reads a file only when its size
/// or modification time differ, and then replaces all its passages (they share its `source`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct FileRecord {
    source: String,
    size: u64,
    mtime_ns: u128,
    passages: u64,
    sections: u64,
    /// A binary file: remembered so it is not read again, but it has no passages.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    skipped: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: Vec<FileRecord>,
}

/// An opened index, ready to search.
pub struct Opened {
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    pub stamp: Stamp,
    /// The taxonomy the passages were labelled with (empty if the corpus had none).
    pub taxonomy: Taxonomy,
}

/// Why an index cannot be used as it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Staleness {
    Missing,
    Unreadable(String),
    /// Files whose checksums no longer match what was written.
    Damaged(Vec<String>),
    OtherFormat(u32),
    OtherCorpus(PathBuf),
    CorpusChanged,
}

impl std::fmt::Display for Staleness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Staleness::Missing => write!(f, "no index yet"),
            Staleness::Unreadable(why) => write!(f, "index is unreadable ({why})"),
            Staleness::Damaged(files) => write!(f, "index is damaged (bad checksum in {})", files.join(", ")),
            Staleness::OtherFormat(v) => {
                write!(f, "index has format {v}, this rsearch writes {FORMAT_VERSION}")
            }
            Staleness::OtherCorpus(p) => write!(f, "index was built from another corpus ({})", p.display()),
            Staleness::CorpusChanged => write!(f, "corpus changed since the index was built"),
        }
    }
}

/// Settings for writing an index.
#[derive(Debug, Clone, Copy)]
pub struct BuildSettings {
    /// Memory budget of tantivy's writer, in bytes, shared by its threads.
    pub memory: usize,
    /// Rebuild everything even when only some files changed.
    pub full: bool,
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

/// An index folder: generations `gen-*`, the `CURRENT` file naming the live one, and a lock.
#[derive(Debug, Clone)]
pub struct IndexDir {
    root: PathBuf,
}

/// Held while writing an index; released on drop (and by the OS if the process dies).
pub struct WriteLock {
    _file: fs::File,
}

impl IndexDir {
    /// An index folder at `root`; fails if `root` exists and is not a folder.
    pub fn new(root: &Path) -> Result<IndexDir> {
        if root.exists() && !root.is_dir() {
            bail!("index path {} is a file, not a folder", root.display());
        }
        Ok(IndexDir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The live generation's folder, as named by `CURRENT`.
    fn current(&self) -> Result<Option<PathBuf>> {
        let path = self.root.join(CURRENT);
        let name = match fs::read_to_string(&path) {
            Ok(name) => name.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if !name.starts_with(GENERATION_PREFIX) || name.contains(['/', '\\']) {
            bail!("{} names no generation", path.display());
        }
        Ok(Some(self.root.join(name)))
    }

    /// Opens the live index. A generation removed by a concurrent writer between reading
    /// `CURRENT` and opening it is retried once with the new `CURRENT`.
    pub fn open(&self) -> Result<Opened, Staleness> {
        match self.open_once() {
            Err(Staleness::Unreadable(_)) => self.open_once(),
            other => other,
        }
    }

    fn open_once(&self) -> Result<Opened, Staleness> {
        let generation = match self.current() {
            Ok(Some(generation)) => generation,
            Ok(None) => return Err(Staleness::Missing),
            Err(e) => return Err(Staleness::Unreadable(format!("{e:#}"))),
        };
        // tantivy may panic on some corrupted files; a damaged index must read as damaged.
        match catch_unwind(AssertUnwindSafe(|| open_generation(&generation))) {
            Ok(result) => result,
            Err(_) => Err(Staleness::Unreadable("corrupted index files".into())),
        }
    }

    /// Takes the writer lock, waiting (with a note on stderr) while another process holds it.
    pub fn lock(&self) -> Result<WriteLock> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating index folder {}", self.root.display()))?;
        let path = self.root.join(LOCK);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening lock {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "rsearch: waiting for another rsearch writing {}",
                    self.root.display()
                );
                file.lock()
                    .with_context(|| format!("locking {}", path.display()))?;
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
        Ok(WriteLock { _file: file })
    }

    /// Brings the index up to date with the scan. When the live generation was built from the
    /// same corpus folder and taxonomy, only the files added, changed or removed since are
    /// re-indexed, in place, in one atomic commit; otherwise (or with `settings.full`, or when
    /// most files changed) a new generation is built.
    pub fn update(
        &self,
        scan: &Scan,
        settings: BuildSettings,
        progress: &Progress,
        lock: &WriteLock,
    ) -> Result<BuildSummary> {
        let started = Instant::now();
        if !settings.full {
            if let Some(summary) = self.update_in_place(scan, settings, progress)? {
                return Ok(BuildSummary {
                    elapsed: started.elapsed(),
                    ..summary
                });
            }
        }
        self.build(scan, settings, progress, lock)
    }

    /// Builds a fresh index of the corpus in a new generation and makes it live atomically.
    /// The old generation keeps answering until the swap; leftovers of killed builds are removed.
    pub fn build(
        &self,
        scan: &Scan,
        settings: BuildSettings,
        progress: &Progress,
        _lock: &WriteLock,
    ) -> Result<BuildSummary> {
        let started = Instant::now();
        self.check_is_ours()?;
        self.remove_leftovers();
        let (taxonomy, taxonomy_text) = read_taxonomy(scan)?;
        let stamp_time = now_ns();
        let temp = self
            .root
            .join(format!("{TEMP_PREFIX}{stamp_time}-{}", std::process::id()));
        fs::create_dir_all(&temp).with_context(|| format!("creating {}", temp.display()))?;
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
        let generation = format!("{GENERATION_PREFIX}{stamp_time}");
        fs::rename(&temp, self.root.join(&generation))
            .with_context(|| format!("renaming {}", temp.display()))?;
        let previous = self.current().ok().flatten();
        self.set_current(&generation)?;
        self.remove_old_generations(&generation, previous.as_deref());
        Ok(BuildSummary {
            elapsed: started.elapsed(),
            ..summary
        })
    }

    /// Re-indexes the files that changed in the live generation; `None` when a full build is
    /// needed (no usable index, another corpus or taxonomy, no manifest, most files changed).
    fn update_in_place(
        &self,
        scan: &Scan,
        settings: BuildSettings,
        progress: &Progress,
    ) -> Result<Option<BuildSummary>> {
        let (Ok(live), Ok(Some(generation))) = (self.open(), self.current()) else {
            return Ok(None);
        };
        if live.stamp.corpus != canonical(&scan.root) {
            return Ok(None);
        }
        let stored_taxonomy = fs::read_to_string(generation.join(TAXONOMY_FILE)).ok();
        let taxonomy_text = read_taxonomy(scan)?.1;
        if taxonomy_text != stored_taxonomy {
            return Ok(None);
        }
        let Ok(manifest) = read_manifest(&generation.join(&live.stamp.manifest)) else {
            return Ok(None);
        };
        let mut before: HashMap<&str, &FileRecord> = manifest
            .files
            .iter()
            .map(|record| (record.source.as_str(), record))
            .collect();
        let mut kept = Vec::with_capacity(scan.files.len());
        let mut to_read = Vec::new();
        let (mut added, mut changed) = (0, 0);
        for entry in &scan.files {
            match before.remove(entry.source.as_str()) {
                Some(record) if record.size == entry.size && record.mtime_ns == entry.mtime_ns => {
                    kept.push(record.clone());
                }
                Some(_) => {
                    changed += 1;
                    to_read.push(entry.clone());
                }
                None => {
                    added += 1;
                    to_read.push(entry.clone());
                }
            }
        }
        let mut removed: Vec<&str> = before.into_keys().collect();
        removed.sort_unstable();
        let touched = to_read.len() + removed.len();
        if touched > 64 && touched * 2 > scan.files.len() {
            return Ok(None);
        }
        let watch = Watch::of(scan);
        let kind = BuildKind::Update {
            added,
            changed,
            removed: removed.len(),
        };
        if touched == 0 && watch == live.stamp.watch {
            return Ok(Some(summary_of(&kept, 0, scan.warnings.clone(), kind)));
        }
        progress
            .files_total
            .store(to_read.len() as u64, Ordering::Relaxed);
        progress
            .bytes_total
            .store(to_read.iter().map(|f| f.size).sum(), Ordering::Relaxed);
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
            .copied()
            .chain(to_read.iter().map(|f| f.source.as_str()))
        {
            writer.delete_term(Term::from_field_text(live.fields.source, source));
        }
        let (records, mut warnings) = add_files(&writer, &live.fields, &live.taxonomy, &to_read, progress)?;
        let bytes = to_read.iter().map(|f| f.size).sum();
        kept.extend(records.into_iter().flatten());
        kept.sort_by(|a, b| a.source.cmp(&b.source));
        let manifest_name = write_manifest(&generation, &kept)?;
        let summary = {
            let mut all = scan.warnings.clone();
            all.append(&mut warnings);
            summary_of(&kept, bytes, all, kind)
        };
        let stamp = stamp_of(scan, manifest_name.clone(), &summary, taxonomy_text.as_deref());
        let mut commit = writer.prepare_commit().context("preparing the index commit")?;
        commit.set_payload(&serde_json::to_string(&stamp)?);
        commit.commit().context("committing the index")?;
        purge_deleted(&live.index, &mut writer, &before_segments)?;
        writer.wait_merging_threads().context("finishing index merges")?;
        remove_other_manifests(&generation, &manifest_name);
        Ok(Some(summary))
    }

    /// Replaces `CURRENT` atomically: write a temporary file, sync it, rename it over.
    fn set_current(&self, generation: &str) -> Result<()> {
        let temp = self.root.join(format!("{CURRENT}.tmp"));
        let mut file = fs::File::create(&temp).with_context(|| format!("writing {}", temp.display()))?;
        file.write_all(generation.as_bytes())
            .and_then(|_| file.sync_all())
            .with_context(|| format!("writing {}", temp.display()))?;
        fs::rename(&temp, self.root.join(CURRENT))
            .with_context(|| format!("replacing {}", self.root.join(CURRENT).display()))?;
        sync_dir(&self.root);
        Ok(())
    }

    /// Refuses to write into a folder that holds anything but an rsearch index.
    fn check_is_ours(&self) -> Result<()> {
        if self.root.join(CURRENT).exists() {
            return Ok(());
        }
        let entries = fs::read_dir(&self.root).with_context(|| format!("reading {}", self.root.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name == LOCK
                || name.starts_with(GENERATION_PREFIX)
                || name.starts_with(TEMP_PREFIX)
                || name.starts_with(CURRENT)
                || PLACEHOLDERS.contains(&name.as_str());
            if !ours {
                bail!(
                    "index folder {} holds other files ({name}); give --index an empty or new folder",
                    self.root.display()
                );
            }
        }
        Ok(())
    }

    /// Removes temporary folders left by killed builds when no writer is at work (the lock is
    /// free); a reader calls this so that a killed build is cleaned up without a new build.
    /// Best effort: a read-only index folder is left as it is.
    pub fn remove_leftovers_if_idle(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        let has_leftovers = entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX));
        if !has_leftovers {
            return;
        }
        let Ok(file) = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(LOCK))
        else {
            return;
        };
        if file.try_lock().is_ok() {
            self.remove_leftovers();
        }
    }

    /// Removes temporary folders left by builds that were killed (only called under the lock).
    fn remove_leftovers(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Keeps the live and the previous generation (a reader may still be opening it).
    fn remove_old_generations(&self, live: &str, previous: Option<&Path>) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = name == live || previous.is_some_and(|p| p == entry.path());
            if name.starts_with(GENERATION_PREFIX) && !keep {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Reads and parses the corpus's taxonomy (an empty one when it has none), with its text.
/// A build calls it first; a caller may call it before announcing a build that would fail.
pub fn read_taxonomy(scan: &Scan) -> Result<(Taxonomy, Option<String>)> {
    let Some(entry) = &scan.taxonomy else {
        return Ok((Taxonomy::default(), None));
    };
    let text =
        fs::read_to_string(&entry.path).with_context(|| format!("reading {}", entry.path.display()))?;
    let taxonomy = Taxonomy::parse(&text)
        .with_context(|| format!("taxonomy {}", scan.root.join(TAXONOMY_FILE).display()))?;
    Ok((taxonomy, Some(text)))
}

/// Files of an opened index whose checksums do not match: called when a search fails, to tell
/// a damaged index (rebuild it) from a bug. Reading every file is too slow for each query.
pub fn damaged_files(opened: &Opened) -> Vec<String> {
    let check = catch_unwind(AssertUnwindSafe(|| opened.index.validate_checksum()));
    match check {
        Ok(Ok(files)) => {
            let mut names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            names.sort();
            names
        }
        Ok(Err(e)) => vec![format!("unreadable: {e}")],
        Err(_) => vec!["unreadable".to_string()],
    }
}

/// The hash of a taxonomy's text as stored in the stamp.
fn taxonomy_hash(text: &str) -> String {
    let mut hash = corpus::Fnv64::new();
    hash.write(text.as_bytes());
    format!("{:016x}", hash.finish())
}

/// Checks an opened index against the corpus as it is now, cheaply: the folder it was built
/// from, then the folder and file times its [`Watch`] recorded (no walk of the corpus).
pub fn staleness(opened: &Opened, corpus_root: &Path) -> Option<Staleness> {
    let root = canonical(corpus_root);
    if opened.stamp.corpus != root {
        Some(Staleness::OtherCorpus(opened.stamp.corpus.clone()))
    } else if !opened.stamp.watch.unchanged(&root) {
        Some(Staleness::CorpusChanged)
    } else {
        None
    }
}

fn open_generation(dir: &Path) -> Result<Opened, Staleness> {
    let unreadable = |e: &dyn std::fmt::Display| Staleness::Unreadable(e.to_string());
    if !dir.is_dir() {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        return Err(unreadable(&format!("{CURRENT} names {name:?}, which is missing")));
    }
    let index = Index::open_in_dir(dir).map_err(|e| Staleness::Unreadable(describe(&e)))?;
    let payload = index
        .load_metas()
        .map_err(|e| Staleness::Unreadable(describe(&e)))?
        .payload
        .ok_or_else(|| unreadable(&"no version stamp"))?;
    // The format is read first: a stamp of another format may not have this one's fields.
    #[derive(Deserialize)]
    struct FormatOnly {
        format: u32,
    }
    let format: FormatOnly = serde_json::from_str(&payload).map_err(|e| unreadable(&e))?;
    if format.format != FORMAT_VERSION {
        return Err(Staleness::OtherFormat(format.format));
    }
    let stamp: Stamp = serde_json::from_str(&payload).map_err(|e| unreadable(&e))?;
    index.tokenizers().register(ANALYZER, analyzer());
    let fields = Fields::of(&index.schema()).map_err(|e| unreadable(&e))?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|e: tantivy::TantivyError| Staleness::Unreadable(describe(&e)))?;
    let taxonomy = match (fs::read_to_string(dir.join(TAXONOMY_FILE)), &stamp.taxonomy) {
        (Ok(text), Some(hash)) if taxonomy_hash(&text) != *hash => {
            return Err(Staleness::Damaged(vec![TAXONOMY_FILE.to_string()]))
        }
        (Ok(text), _) => Taxonomy::parse(&text).map_err(|e| unreadable(&e))?,
        (Err(e), None) if e.kind() == std::io::ErrorKind::NotFound => Taxonomy::default(),
        (Err(e), _) => return Err(unreadable(&format!("{TAXONOMY_FILE}: {e}"))),
    };
    Ok(Opened {
        index,
        reader,
        fields,
        stamp,
        taxonomy,
    })
}

/// A tantivy error in a few words: the file and the first sentence of what is wrong with it,
/// without the debug formatting of its error chain.
fn describe(error: &tantivy::TantivyError) -> String {
    use tantivy::directory::error::OpenReadError;
    let first_sentence = |text: String| match text.split_once(". ") {
        Some((first, _)) => first.to_string(),
        None => text.trim_end_matches('.').to_string(),
    };
    match error {
        tantivy::TantivyError::OpenReadError(OpenReadError::IoError { io_error, filepath }) => {
            format!("{}: {}", filepath.display(), first_sentence(io_error.to_string()))
        }
        tantivy::TantivyError::OpenReadError(OpenReadError::FileDoesNotExist(path)) => {
            format!("{} is missing", path.display())
        }
        tantivy::TantivyError::DataCorruption(corruption) => first_sentence(format!("{corruption:?}")),
        other => first_sentence(other.to_string()),
    }
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
    let (records, mut warnings) = add_files(&writer, &fields, taxonomy, &scan.files, progress)?;
    if let Some(text) = taxonomy_text {
        fs::write(dir.join(TAXONOMY_FILE), text).with_context(|| format!("writing {}", dir.display()))?;
    }
    let records: Vec<FileRecord> = records.into_iter().flatten().collect();
    let manifest_name = write_manifest(dir, &records)?;
    let mut all_warnings = scan.warnings.clone();
    all_warnings.append(&mut warnings);
    let summary = summary_of(&records, scan.bytes(), all_warnings, BuildKind::Full);
    let stamp = stamp_of(scan, manifest_name, &summary, taxonomy_text);
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

/// Reads, segments and labels `files` on one worker thread per core and hands their passages
/// to the writer (tantivy's own threads index them; its queue holds at most 10,000 passages,
/// so memory stays bounded whatever the corpus size). Gives a record per file in order (`None` when a file could not
/// be read: it is tried again next time) and the warnings in file order.
fn add_files(
    writer: &IndexWriter,
    fields: &Fields,
    taxonomy: &Taxonomy,
    files: &[FileEntry],
    progress: &Progress,
) -> Result<(Vec<Option<FileRecord>>, Vec<String>)> {
    type Done = (usize, Option<FileRecord>, Vec<String>);
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
            let record = |passages, sections, skipped| FileRecord {
                source: entry.source.clone(),
                size: entry.size,
                mtime_ns: entry.mtime_ns,
                passages,
                sections,
                skipped,
            };
            let outcome = match corpus::read(entry, &mut warnings) {
                Ok(Some(source)) => {
                    let (document, sections) = segment::passages(&source);
                    // One passage at a time: tantivy's queue holds a bounded number of them.
                    for doc in passage_documents(fields, taxonomy, &document) {
                        if let Err(e) = writer.add_document(doc) {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e).context("adding a passage to the index");
                        }
                    }
                    Some(record(document.passages.len() as u64, sections as u64, false))
                }
                Ok(None) => Some(record(0, 0, true)),
                Err(e) => {
                    warnings.push(format!("skipping {}: {e:#}", entry.source));
                    None
                }
            };
            progress.files_done.fetch_add(1, Ordering::Relaxed);
            progress.bytes_done.fetch_add(entry.size, Ordering::Relaxed);
            done.push((i, outcome, warnings));
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
    done.sort_by_key(|(i, _, _)| *i);
    let mut warnings = Vec::new();
    let records = done
        .into_iter()
        .map(|(_, record, mut w)| {
            warnings.append(&mut w);
            record
        })
        .collect();
    Ok((records, warnings))
}

/// The index documents of one segmented document: one per passage, with its labels.
fn passage_documents<'a>(
    fields: &'a Fields,
    taxonomy: &'a Taxonomy,
    document: &'a Document,
) -> impl Iterator<Item = TantivyDocument> + 'a {
    let unlabelled = taxonomy.roles.is_empty() && taxonomy.topics.is_empty();
    document.passages.iter().map(move |passage| {
        let labels = if unlabelled {
            Labels::default()
        } else {
            taxonomy.label(&passage.section, &passage.text)
        };
        let mut doc = TantivyDocument::new();
        doc.add_text(fields.id, passage_id(&document.source, passage.ordinal));
        doc.add_text(fields.source, &document.source);
        doc.add_u64(fields.ordinal, passage.ordinal);
        doc.add_text(fields.title, &document.title);
        for heading in &passage.section {
            doc.add_text(fields.section, heading);
        }
        doc.add_text(fields.text, &passage.text);
        for role in &labels.roles {
            doc.add_facet(fields.roles, Facet::from_path([role.as_str()]));
        }
        for topic in &labels.topics {
            doc.add_facet(fields.topics, Facet::from_path([topic.as_str()]));
        }
        doc
    })
}

/// After an update, merges the small segments that lost passages together with the segments
/// the update added, so deleted passages stop counting in the BM25 statistics (term and
/// passage counts are then exact; tantivy estimates the merged average passage length from
/// rounded lengths). Large segments are left alone: merging them would take seconds, and there
/// the few deleted passages shift statistics over a million passages by a few in a million,
/// until their segment is merged or `--full` rebuilds.
fn purge_deleted(
    index: &Index,
    writer: &mut IndexWriter,
    before: &[tantivy::index::SegmentId],
) -> Result<()> {
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

/// Writes the manifest into `dir` under a new name (synced before the commit that names it).
fn write_manifest(dir: &Path, records: &[FileRecord]) -> Result<String> {
    let name = format!("{MANIFEST_PREFIX}{}.json", now_ns());
    let path = dir.join(&name);
    let manifest = Manifest {
        files: records.to_vec(),
    };
    let mut file = fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?;
    let mut out = std::io::BufWriter::new(&mut file);
    serde_json::to_writer(&mut out, &manifest).with_context(|| format!("writing {}", path.display()))?;
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    drop(out);
    file.sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(name)
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
}

/// Removes manifests the live commit does not name (left by earlier updates or killed ones).
fn remove_other_manifests(dir: &Path, live: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(MANIFEST_PREFIX) && name != live {
            let _ = fs::remove_file(entry.path());
        }
    }
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
    }
}

fn stamp_of(scan: &Scan, manifest: String, summary: &BuildSummary, taxonomy: Option<&str>) -> Stamp {
    Stamp {
        format: FORMAT_VERSION,
        version: env!("CARGO_PKG_VERSION").to_string(),
        corpus: canonical(&scan.root),
        manifest,
        watch: Watch::of(scan),
        files: summary.files,
        passages: summary.passages,
        sections: summary.sections,
        taxonomy: taxonomy.map(taxonomy_hash),
    }
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// Flushes a folder's entries to disk so a rename into it survives a crash (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
