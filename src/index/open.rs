//! Opening the live generation of an index: its stamp read from the commit, tantivy's index,
//! the taxonomy copy and the vectors, or why it cannot be used as it is ([`Unfit`]).

use std::fmt;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tantivy::{Index, IndexReader, ReloadPolicy};

use super::directory::GenerationDirectory;
use super::folder::{IndexDir, CURRENT};
use super::schema::{analyzer, Fields, ANALYZER, FORMAT_VERSION};
use super::stamp::{taxonomy_hash, Stamp};
use super::vectors::StoredVectors;
use crate::label::{Taxonomy, TAXONOMY_FILE};

/// The live generation of an index, opened for searching, with what it was built from.
pub struct LiveIndex {
    /// The generation folder it was opened from (the stamp names files in it).
    pub generation: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    pub stamp: Stamp,
    /// The taxonomy the passages were labelled with (empty if the corpus had none).
    pub taxonomy: Taxonomy,
    /// Vectors of each passage and its sentences, when the index was built with them; read
    /// only by a search by meaning.
    pub vectors: Option<StoredVectors>,
}

/// Why an index cannot be used as it is: it is missing, cannot be read, is damaged or of
/// another format, or it no longer matches the corpus.
#[derive(Debug, Clone, PartialEq)]
pub enum Unfit {
    Missing,
    Unreadable(String),
    /// Files whose checksums no longer match what was written.
    Damaged(Vec<String>),
    OtherFormat(u32),
    OtherCorpus(PathBuf),
    CorpusChanged,
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfit::Missing => write!(f, "no index yet"),
            Unfit::Unreadable(why) => write!(f, "index is unreadable ({why})"),
            Unfit::Damaged(files) => write!(f, "index is damaged (bad checksum in {})", files.join(", ")),
            Unfit::OtherFormat(v) => {
                write!(f, "index has format {v}, this rsearch writes {FORMAT_VERSION}")
            }
            Unfit::OtherCorpus(p) => write!(f, "index was built from another corpus ({})", p.display()),
            Unfit::CorpusChanged => write!(f, "corpus changed since the index was built"),
        }
    }
}

/// Opens the live index. A generation removed by a concurrent writer between reading
/// `CURRENT` and opening it is retried once with the new `CURRENT`.
pub(super) fn open_live(dir: &IndexDir) -> Result<LiveIndex, Unfit> {
    match open_once(dir) {
        Err(Unfit::Unreadable(_)) => open_once(dir),
        other => other,
    }
}

fn open_once(dir: &IndexDir) -> Result<LiveIndex, Unfit> {
    let generation = match dir.current() {
        Ok(Some(generation)) => generation,
        Ok(None) => return Err(Unfit::Missing),
        Err(e) => return Err(Unfit::Unreadable(format!("{e:#}"))),
    };
    // tantivy may panic on some corrupted files; a damaged index must read as damaged.
    match catch_unwind(AssertUnwindSafe(|| open_generation(&generation))) {
        Ok(result) => result,
        Err(_) => Err(Unfit::Unreadable("corrupted index files".into())),
    }
}

/// The stamp of the last commit of the generation in `dir`, read from tantivy's commit file
/// (`meta.json`) as [`open_generation`] reads it from the opened index.
pub(super) fn read_stamp(dir: &Path) -> Result<Stamp, Unfit> {
    let unreadable = |e: &dyn fmt::Display| Unfit::Unreadable(e.to_string());
    #[derive(Deserialize)]
    struct Commit {
        payload: Option<String>,
    }
    let text = fs::read(dir.join("meta.json")).map_err(|e| unreadable(&e))?;
    let commit: Commit = serde_json::from_slice(&text).map_err(|e| unreadable(&e))?;
    stamp_of(commit.payload.as_deref())
}

/// The stamp a commit's payload holds; the format is read first, as a stamp of another format
/// may not have this one's fields.
fn stamp_of(payload: Option<&str>) -> Result<Stamp, Unfit> {
    let unreadable = |e: &dyn fmt::Display| Unfit::Unreadable(e.to_string());
    let payload = payload.ok_or_else(|| unreadable(&"no version stamp"))?;
    #[derive(Deserialize)]
    struct FormatOnly {
        format: u32,
    }
    let format: FormatOnly = serde_json::from_str(payload).map_err(|e| unreadable(&e))?;
    if format.format != FORMAT_VERSION {
        return Err(Unfit::OtherFormat(format.format));
    }
    serde_json::from_str(payload).map_err(|e| unreadable(&e))
}

/// Files of an opened index whose checksums do not match: called when a search fails, to tell
/// a damaged index (rebuild it) from a bug. Reading every file is too slow for each query.
pub(super) fn damaged_files(live: &LiveIndex) -> Vec<String> {
    let check = catch_unwind(AssertUnwindSafe(|| live.index.validate_checksum()));
    let mut names = match check {
        Ok(Ok(files)) => {
            let mut names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            names.sort();
            names
        }
        Ok(Err(e)) => vec![format!("unreadable: {e}")],
        Err(_) => vec!["unreadable".to_string()],
    };
    if let Some(vectors) = live.vectors.as_ref().filter(|v| v.verify().is_err()) {
        names.push(vectors.name());
    }
    names
}

fn open_generation(dir: &Path) -> Result<LiveIndex, Unfit> {
    let unreadable = |e: &dyn fmt::Display| Unfit::Unreadable(e.to_string());
    if !dir.is_dir() {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        return Err(unreadable(&format!("{CURRENT} names {name:?}, which is missing")));
    }
    let directory = GenerationDirectory::open(dir).map_err(|e| unreadable(&e))?;
    let index = Index::open(directory).map_err(|e| Unfit::Unreadable(describe(&e)))?;
    // The commit's payload alone: tantivy's own reading of the commit also makes the schema
    // and every segment's entry again.
    let stamp = read_stamp(dir)?;
    index.tokenizers().register(ANALYZER, analyzer());
    let fields = Fields::of(&index.schema()).map_err(|e| unreadable(&e))?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|e: tantivy::TantivyError| Unfit::Unreadable(describe(&e)))?;
    let taxonomy = match (fs::read_to_string(dir.join(TAXONOMY_FILE)), &stamp.taxonomy) {
        (Ok(text), Some(hash)) if taxonomy_hash(&text) != *hash => {
            return Err(Unfit::Damaged(vec![TAXONOMY_FILE.to_string()]))
        }
        (Ok(text), _) => Taxonomy::parse(&text).map_err(|e| unreadable(&e))?,
        (Err(e), None) if e.kind() == std::io::ErrorKind::NotFound => Taxonomy::default(),
        (Err(e), _) => return Err(unreadable(&format!("{TAXONOMY_FILE}: {e}"))),
    };
    // Read when a search by meaning first needs them; a damaged file then fails that search,
    // and `repair` finds it.
    let vectors = stamp
        .vectors
        .as_ref()
        .map(|name| StoredVectors::at(dir.join(name)));
    Ok(LiveIndex {
        generation: dir.to_path_buf(),
        index,
        reader,
        fields,
        stamp,
        taxonomy,
        vectors,
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
