//! Index: the tantivy schema (field names defined once) and the index folder. A build writes a
//! new generation beside the live one and swaps it in atomically; readers never see a half-build.

use std::fs;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
    STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

use crate::corpus::{self, Scan};
use crate::label::{Taxonomy, TAXONOMY_FILE};
use crate::model::passage_id;
use crate::segment;

/// Bumped whenever the schema, the analyzer or the labelling rules change: an index with
/// another format is rebuilt.
pub const FORMAT_VERSION: u32 = 1;
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
    /// [`Scan::fingerprint`] of the corpus at build time.
    pub fingerprint: String,
    pub files: usize,
    pub passages: usize,
    pub sections: usize,
    /// FNV-1a hash of the taxonomy copied into the index, so a damaged or missing copy is
    /// caught on opening; absent when the corpus had no taxonomy (or an older rsearch wrote it).
    #[serde(default)]
    pub taxonomy: Option<String>,
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
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildSummary {
    pub files: usize,
    pub passages: usize,
    pub sections: usize,
    pub bytes: u64,
    pub elapsed: Duration,
    pub warnings: Vec<String>,
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

    /// Builds a fresh index of the corpus in a new generation and makes it live atomically.
    /// The old generation keeps answering until the swap; leftovers of killed builds are removed.
    pub fn build(&self, scan: &Scan, settings: BuildSettings, _lock: &WriteLock) -> Result<BuildSummary> {
        let started = Instant::now();
        self.check_is_ours()?;
        self.remove_leftovers();
        let (taxonomy, taxonomy_text) = read_taxonomy(scan)?;
        let stamp_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let temp = self
            .root
            .join(format!("{TEMP_PREFIX}{stamp_time}-{}", std::process::id()));
        fs::create_dir_all(&temp).with_context(|| format!("creating {}", temp.display()))?;
        let written = write_generation(&temp, scan, &taxonomy, taxonomy_text.as_deref(), settings);
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

/// Checks an opened index against the corpus as it is now.
pub fn staleness(opened: &Opened, corpus_root: &Path, scan: &Scan) -> Option<Staleness> {
    let root = fs::canonicalize(corpus_root).unwrap_or_else(|_| corpus_root.to_path_buf());
    if opened.stamp.corpus != root {
        Some(Staleness::OtherCorpus(opened.stamp.corpus.clone()))
    } else if opened.stamp.fingerprint != scan.fingerprint() {
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
/// the stamp. Segmentation runs on this thread while tantivy's writer threads index.
fn write_generation(
    dir: &Path,
    scan: &Scan,
    taxonomy: &Taxonomy,
    taxonomy_text: Option<&str>,
    settings: BuildSettings,
) -> Result<BuildSummary> {
    let index = Index::create_in_dir(dir, schema())
        .with_context(|| format!("creating index in {}", dir.display()))?;
    index.tokenizers().register(ANALYZER, analyzer());
    let fields = Fields::of(&index.schema())?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let threads = threads.min((settings.memory / 15_000_000).max(1));
    let mut writer: IndexWriter = index
        .writer_with_num_threads(threads, settings.memory)
        .context("starting the index writer")?;
    let mut summary = BuildSummary {
        files: 0,
        passages: 0,
        sections: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        warnings: scan.warnings.clone(),
    };
    for entry in &scan.files {
        let source = match corpus::read(entry, &mut summary.warnings) {
            Ok(Some(source)) => source,
            Ok(None) => continue,
            Err(e) => {
                summary
                    .warnings
                    .push(format!("skipping {}: {:#}", entry.source, e));
                continue;
            }
        };
        let document = segment::document(&source);
        for passage in &document.passages {
            let labels = taxonomy.label(&passage.section, &passage.text);
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
            writer
                .add_document(doc)
                .context("adding a passage to the index")?;
        }
        summary.files += 1;
        summary.passages += document.passages.len();
        summary.sections += document.sections.iter().filter(|s| !s.path.is_empty()).count();
        summary.bytes += entry.size;
    }
    if let Some(text) = taxonomy_text {
        fs::write(dir.join(TAXONOMY_FILE), text).with_context(|| format!("writing {}", dir.display()))?;
    }
    let stamp = Stamp {
        format: FORMAT_VERSION,
        version: env!("CARGO_PKG_VERSION").to_string(),
        corpus: fs::canonicalize(&scan.root).unwrap_or_else(|_| scan.root.clone()),
        fingerprint: scan.fingerprint(),
        files: summary.files,
        passages: summary.passages,
        sections: summary.sections,
        taxonomy: taxonomy_text.map(taxonomy_hash),
    };
    let mut commit = writer.prepare_commit().context("preparing the index commit")?;
    commit.set_payload(&serde_json::to_string(&stamp)?);
    commit.commit().context("committing the index")?;
    writer.wait_merging_threads().context("finishing index merges")?;
    sync_dir(dir);
    Ok(summary)
}

/// Flushes a folder's entries to disk so a rename into it survives a crash (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
