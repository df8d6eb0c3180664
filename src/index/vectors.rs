//! Passage vectors: unit-length sentence vectors of each passage and its sentences, kept in one
//! file of the index generation, made in a build, and searched by brute force for a query.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use super::folder::now_ns;
use crate::embed::Embedder;
use crate::model::Progress;

/// Vectors file in a generation, followed by the time it was written.
pub(super) const VECTORS_PREFIX: &str = "vectors-";
/// Texts one worker embeds at a time (and between two progress updates).
const EMBED_CHUNK: usize = 64;

/// A text to embed: its vector row id (`source:ordinal#k`) and the text.
pub(super) type Unit = (String, String);

/// Whether a build makes passage vectors, and with which model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VectorSettings {
    pub choice: VectorChoice,
    /// The embedding model's folder, if there is one.
    pub model: Option<std::path::PathBuf>,
}

/// When a build makes passage vectors (for search by meaning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VectorChoice {
    /// When the model is there and the corpus is at most [`AUTO_VECTORS_MAX_BYTES`]; an
    /// update keeps the vectors an index has.
    #[default]
    Auto,
    /// Always (an error without the model).
    Always,
    /// Never; an update drops the vectors an index has.
    Never,
}

/// Corpora up to this many bytes of text get passage vectors by default when the model is
/// there; larger ones only with `rsearch index --vectors`. Embedding sets it: at about 22
/// passages a CPU-second, 1 MB (3,000–5,500 passages) is 2–4 minutes of CPU, while scanning
/// its 8,000–14,000 quantised rows takes about a millisecond (the README has the figures).
pub const AUTO_VECTORS_MAX_BYTES: u64 = 1 << 20;

/// The texts a passage is embedded as, with their row ids: the passage, its sentences, its
/// windows of words, and the headings it stands under.
pub(super) fn units_of<'a>(
    id: &'a str,
    text: &'a str,
    section: &[String],
) -> impl Iterator<Item = Unit> + 'a {
    let whole = crate::embed::passage_units(text)
        .into_iter()
        .enumerate()
        .map(move |(k, unit)| (Vectors::row_id(id, k), unit.to_string()));
    let windows = windows(text)
        .into_iter()
        .enumerate()
        .map(move |(k, window)| (Vectors::window_id(id, k + 1), window.to_string()));
    let heading = heading_text(section).map(|heading| (Vectors::heading_id(id), heading));
    whole.chain(windows).chain(heading)
}

/// The text of a passage's heading row: its section's headings, outermost first, joined as
/// the outline shows them ("Key Differences › Accountant vs Auditor"); none for a passage
/// outside every section.
pub(super) fn heading_text(section: &[String]) -> Option<String> {
    (!section.is_empty()).then(|| section.join(" › "))
}

/// How much less a heading row's cosine counts than the passage's or a sentence's. A question
/// often says what a heading says ("what does a CTO do?" and "Role of a CTO", "how does the
/// product manager work with the CEO?" and "How the Product Manager, CEO, and CTO
/// Collaborate") where the passages under it say it in their own words; at full weight every
/// passage under a heading would tie with the one that answers, so a heading row stands in
/// only for a passage whose own rows are well below it. Measured 0.05 to 0.20 (see the
/// README's "Relevance"): 0.10 to 0.20 help every judged set a little, 0.05 costs questions.
pub const HEADING_DISCOUNT: f32 = 0.12;

/// Words in a window row, and words from one window's start to the next's.
const WINDOW_WORDS: usize = 8;
const WINDOW_STEP: usize = 4;
/// Passages of more words than this (more than eight windows) get no window rows. A few words
/// said in other words can be lost in a short passage's vector ("bandaging injuries" is 0.18
/// from "Nurses monitor vital signs, give medication, dress wounds and …", 0.57 from "dress
/// wounds" alone); in a longer one its many windows crowd the meaning side with chance matches
/// (windows in every passage cost Cranfield's abstracts 0.034 nDCG@10 and the bundled
/// article's paragraphs 0.050 on queries in other words). The README has the measurements.
pub const WINDOW_MAX_WORDS: usize = 36;
/// How much less a window row's cosine counts than the passage's or a sentence's: a window
/// stands in for its passage only when it is clearly closer to the query (a window naming a
/// role is otherwise as close to "what does a flight attendant do?" as the passage answering
/// it).
pub const WINDOW_DISCOUNT: f32 = 0.03;

/// The windows of [`WINDOW_WORDS`] words every [`WINDOW_STEP`] words of a text (the last one
/// ending on its last word), as slices of it; none for a text of at most [`WINDOW_WORDS`] words
/// or of more than [`WINDOW_MAX_WORDS`].
pub(super) fn windows(text: &str) -> Vec<&str> {
    let words: Vec<(usize, usize)> = text
        .split_whitespace()
        .map(|w| {
            let start = w.as_ptr() as usize - text.as_ptr() as usize;
            (start, start + w.len())
        })
        .collect();
    let mut out = Vec::new();
    if words.len() <= WINDOW_WORDS || words.len() > WINDOW_MAX_WORDS {
        return out;
    }
    let mut start = 0;
    loop {
        let end = (start + WINDOW_WORDS).min(words.len());
        out.push(&text[words[start].0..words[end - 1].1]);
        if end == words.len() {
            return out;
        }
        start += WINDOW_STEP;
    }
}

/// How many passages the rows to embed are of (each passage has a row `#0`).
pub(super) fn passages_in(units: &[Unit]) -> usize {
    units.iter().filter(|(id, _)| id.ends_with("#0")).count()
}

/// The vectors of one chunk of texts, with the chunk's number.
type Embedded = (usize, Vec<Vec<f32>>);

/// Adds the vectors of `units` to `vectors`, loading the model only when there is something
/// to embed; progress counts texts embedded.
pub(super) fn embed_units(
    model: &Path,
    mut vectors: Vectors,
    units: &[Unit],
    progress: &Progress,
) -> Result<(Vectors, Duration)> {
    let started = Instant::now();
    if units.is_empty() {
        return Ok((vectors, started.elapsed()));
    }
    let embedder = Embedder::load(model)?;
    // Queries on these vectors read the layers' weights from a half-precision copy; a model
    // folder that cannot take one leaves them on the f32 weights, which give the same vectors.
    let _ = crate::embed::prepare_query_weights(model);
    progress
        .passages_total
        .store(units.len() as u64, Ordering::Relaxed);
    // The model's matrix products on these small batches keep about one core busy: one
    // worker per core, each taking the next chunk, uses them all.
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Texts of similar lengths go together, so a batch is padded little: a passage and its
    // sentences, side by side in `units`, would pad every sentence to the passage's length.
    let mut by_length: Vec<&Unit> = units.iter().collect();
    by_length.sort_by_key(|(_, text)| text.len());
    let chunks: Vec<&[&Unit]> = by_length.chunks(EMBED_CHUNK).collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(chunks.len());
    let work = || -> Result<Vec<Embedded>> {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = chunks.get(i) else {
                return Ok(done);
            };
            let texts: Vec<&str> = chunk.iter().map(|(_, text)| text.as_str()).collect();
            done.push((i, embedder.embed(&texts)?));
            progress
                .passages_embedded
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    };
    let results: Vec<Result<Vec<Embedded>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("embedding failed (internal error)")))
            })
            .collect()
    });
    for result in results {
        for (i, embedded) in result? {
            for ((id, _), vector) in chunks[i].iter().zip(embedded) {
                vectors.insert(id, &vector);
            }
        }
    }
    Ok((vectors, started.elapsed()))
}

/// Writes the vectors under a new name in the generation; the commit's stamp names it.
pub(super) fn write_new(dir: &Path, vectors: &Vectors) -> Result<String> {
    let name = format!("{VECTORS_PREFIX}{}.bin", now_ns());
    vectors.write(&dir.join(&name))?;
    Ok(name)
}

/// Removes vectors files the live commit does not name (left by earlier updates).
pub(super) fn remove_others(dir: &Path, live: Option<&str>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(VECTORS_PREFIX) && Some(name.as_str()) != live {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The passage vectors file a generation's stamp names, read only when a search needs it: a
/// search by words never opens it, a search by meaning reads it once (checksum verified)
/// however many searches the process runs.
pub struct StoredVectors {
    path: PathBuf,
    header: OnceLock<Result<Header, String>>,
    loaded: OnceLock<Result<Vectors, String>>,
}

/// The first fields of a vectors file: what a caller needs to decide whether to read the rest.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    fingerprint: String,
    windows: bool,
    headings: bool,
    rows: usize,
}

impl StoredVectors {
    /// The vectors file at `path`, not yet read.
    pub fn at(path: PathBuf) -> StoredVectors {
        StoredVectors {
            path,
            header: OnceLock::new(),
            loaded: OnceLock::new(),
        }
    }

    /// The file's name in its generation.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The model that made the vectors, from the file's first bytes (its size checked against
    /// them); an error when they cannot be read or do not fit.
    pub fn fingerprint(&self) -> Result<&str> {
        Ok(&self.header()?.fingerprint)
    }

    /// Whether the file was made with window rows for its passages (by this rsearch, not an
    /// earlier one), from its first bytes.
    pub fn has_windows(&self) -> Result<bool> {
        Ok(self.header()?.windows)
    }

    /// Whether the file was made with heading rows for its passages (by this rsearch, not an
    /// earlier one), from its first bytes.
    pub fn has_headings(&self) -> Result<bool> {
        Ok(self.header()?.headings)
    }

    /// How many rows (passages, sentences and windows) the file holds, from its first bytes.
    pub fn rows(&self) -> Result<usize> {
        Ok(self.header()?.rows)
    }

    fn header(&self) -> Result<&Header> {
        match self
            .header
            .get_or_init(|| read_header(&self.path).map_err(|e| format!("{e:#}")))
        {
            Ok(header) => Ok(header),
            Err(why) => bail!("{why}"),
        }
    }

    /// The vectors, read and checked (layout, checksum) the first time they are asked for.
    pub fn load(&self) -> Result<&Vectors> {
        match self
            .loaded
            .get_or_init(|| Vectors::read(&self.path).map_err(|e| format!("{e:#}")))
        {
            Ok(vectors) => Ok(vectors),
            Err(why) => bail!("{why}"),
        }
    }

    /// Reads the whole file and checks its checksum, even if it was loaded before: whether it
    /// is damaged, for a search that failed.
    pub fn verify(&self) -> Result<()> {
        Vectors::read(&self.path).map(|_| ())
    }
}

impl std::fmt::Debug for StoredVectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredVectors")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The header of a vectors file: magic, fingerprint, length and row count, read from its first
/// bytes; the file must be long enough for the vectors the header announces.
fn read_header(path: &Path) -> Result<Header> {
    use std::io::Read as _;
    let what = || format!("reading {}", path.display());
    let mut file = fs::File::open(path).with_context(what)?;
    let size = file.metadata().with_context(what)?.len();
    // Magic, fingerprint (a folder name and a size) and counts fit in far fewer bytes.
    let mut first = Vec::with_capacity(4096);
    std::io::Read::by_ref(&mut file)
        .take(4096)
        .read_to_end(&mut first)
        .with_context(what)?;
    let header = (|| -> Result<(Header, usize, Layout)> {
        let layout = Layout::of(&first)?;
        let mut at = MAGIC.len();
        let (fingerprint, windows, headings) = unmark(take_str(&first, &mut at)?);
        let dimensions = u32::from_le_bytes(take(&first, &mut at, 4)?.try_into()?) as usize;
        let rows = u64::from_le_bytes(take(&first, &mut at, 8)?.try_into()?) as usize;
        let header = Header {
            fingerprint,
            windows,
            headings,
            rows,
        };
        Ok((header, dimensions, layout))
    })()
    .with_context(what)?;
    let (header, dimensions, layout) = header;
    // Each row has its numbers and an id of at least its 4-byte length; then the checksum.
    let row_bytes = match layout {
        Layout::Quantised => dimensions as u128 + 4 + 4,
        Layout::Exact { .. } => dimensions as u128 * 4 + 4,
    };
    let least = (header.rows as u128) * row_bytes + 8;
    if u128::from(size) < least {
        bail!("{}: file is cut short", path.display());
    }
    Ok(header)
}

/// Follows the model's fingerprint in a file whose passages got window rows. A file without it
/// was made before window rows existed: an update embeds the whole corpus again rather than
/// mix passages with windows and passages without. An rsearch that predates window rows takes
/// the marked fingerprint for another model's, and so rebuilds rather than misreads.
const WINDOWS_MARK: &str = " +windows";
/// Follows [`WINDOWS_MARK`] in a file whose passages got heading rows; a file without it is
/// embedded again whole at the next update, as one without window rows is. An rsearch that
/// predates heading rows finds neither mark at the end of the fingerprint, takes it for
/// another model's and rebuilds.
const HEADINGS_MARK: &str = " +headings";

/// The model's fingerprint and whether it carried [`WINDOWS_MARK`] and [`HEADINGS_MARK`].
fn unmark(stored: String) -> (String, bool, bool) {
    let (stored, headings) = match stored.strip_suffix(HEADINGS_MARK) {
        Some(rest) => (rest.to_string(), true),
        None => (stored, false),
    };
    match stored.strip_suffix(WINDOWS_MARK) {
        Some(model) => (model.to_string(), true, headings),
        None => (stored, false, headings),
    }
}

/// The source file of a passage or row id (`source:ordinal#k`).
pub(super) fn source_of(id: &str) -> &str {
    id.rsplit_once(':').map_or(id, |(source, _)| source)
}

/// What a row of a passage holds, in the order a passage's rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RowKind {
    /// The whole passage (`#0`, or an id without `#`).
    Whole,
    /// Its sentence k (`#k`, from 1).
    Sentence(usize),
    /// Its window of words k (`#wk`, from 1).
    Window(usize),
    /// The headings it stands under (`#h`).
    Heading,
}

/// The passage of a row id and what the row holds. Files written before window rows existed
/// hold only `#0` and `#k` rows; a reader that predates window or heading rows takes a `#wk`
/// or `#h` row for a whole passage (it never reads such a file: the fingerprint's mark differs).
fn split_row(id: &str) -> (&str, RowKind) {
    match id.rsplit_once('#') {
        Some((passage, "h")) => (passage, RowKind::Heading),
        Some((passage, k)) => {
            let kind = match k.strip_prefix('w') {
                Some(k) => RowKind::Window(k.parse().unwrap_or(0)),
                None => match k.parse().unwrap_or(0) {
                    0 => RowKind::Whole,
                    k => RowKind::Sentence(k),
                },
            };
            (passage, kind)
        }
        None => (id, RowKind::Whole),
    }
}

/// First bytes of a vectors file; the last digits are its layout's version. Version 3 holds
/// each row quantised ([`quantise`]: a scale and one signed byte a number, a quarter of the
/// f32 numbers' size), rows of a passage side by side. Versions 1 and 2 hold f32 numbers (2
/// with the checksum of [`checksum`], 1 with byte-at-a-time FNV-1a); they are still read,
/// quantised as they are read, and the next update writes version 3.
const MAGIC: &[u8; 8] = b"RSVEC003";
const MAGIC_V2: &[u8; 8] = b"RSVEC002";
const MAGIC_V1: &[u8; 8] = b"RSVEC001";

/// How a file's rows are stored, from its magic.
#[derive(Clone, Copy)]
enum Layout {
    Quantised,
    Exact { checksum: fn(&[u8]) -> u64 },
}

impl Layout {
    fn of(bytes: &[u8]) -> Result<Layout> {
        match bytes.get(..MAGIC.len()) {
            Some(magic) if magic == MAGIC => Ok(Layout::Quantised),
            Some(magic) if magic == MAGIC_V2 => Ok(Layout::Exact { checksum }),
            Some(magic) if magic == MAGIC_V1 => Ok(Layout::Exact { checksum: fnv1a }),
            _ => bail!("not a vectors file of this rsearch"),
        }
    }

    fn checksum(self) -> fn(&[u8]) -> u64 {
        match self {
            Layout::Quantised => checksum,
            Layout::Exact { checksum } => checksum,
        }
    }
}

/// A passage close to a query: its id, its best cosine, and its closest sentence (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Near<'a> {
    pub passage: &'a str,
    pub similarity: f32,
    pub sentence: Option<usize>,
}

/// Passage vectors by row id (`source:ordinal#k`: k = 0 the passage, 1… its sentences), all
/// of one model and length, each row kept quantised: `dimensions` signed bytes and one scale,
/// the number i being `codes[i] × scale` (see [`quantise`]).
#[derive(Debug, Clone, Default)]
pub struct Vectors {
    /// Names the model that made the vectors ([`crate::embed::Embedder::fingerprint`]).
    pub fingerprint: String,
    /// Whether the passages got window rows (every set made by this rsearch; not one read
    /// from an earlier rsearch's file).
    pub windows: bool,
    /// Whether the passages got heading rows (as `windows`).
    pub headings: bool,
    pub dimensions: usize,
    /// Every row id, one after the other; row r's is `names[starts[r]..starts[r + 1]]`, so a
    /// file of millions of rows is read without an allocation a row.
    names: String,
    starts: Vec<usize>,
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// Row of each id, made by the first insert: a search never needs it.
    rows: Option<HashMap<String, usize>>,
    /// Rows grouped by passage, made by the first search.
    passages: OnceLock<Passages>,
}

impl PartialEq for Vectors {
    fn eq(&self, other: &Vectors) -> bool {
        self.fingerprint == other.fingerprint
            && self.windows == other.windows
            && self.headings == other.headings
            && self.dimensions == other.dimensions
            && self.len() == other.len()
            && (0..self.len()).all(|row| {
                let id = self.id(row);
                other.row_of(id).is_some_and(|theirs| {
                    self.scales[row] == other.scales[theirs] && self.codes_of(row) == other.codes_of(theirs)
                })
            })
    }
}

/// The rows of each passage: `rows[first[p]..first[p + 1]]` are passage p's, and `of_row[r]`
/// is row r's passage.
#[derive(Debug, Clone, Default)]
struct Passages {
    /// Whether each row is a window of words.
    window: Vec<bool>,
    /// Whether each row is a passage's headings.
    heading: Vec<bool>,
    /// Whether the rows come in strictly increasing (passage, unit) order.
    sorted: bool,
    of_row: Vec<u32>,
    first: Vec<u32>,
    rows: Vec<u32>,
}

impl Vectors {
    /// An empty set for vectors of `dimensions` numbers made by the model `fingerprint`.
    pub fn new(fingerprint: &str, dimensions: usize) -> Vectors {
        Vectors {
            fingerprint: fingerprint.to_string(),
            windows: true,
            headings: true,
            dimensions,
            starts: vec![0],
            ..Vectors::default()
        }
    }

    pub fn len(&self) -> usize {
        self.scales.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    /// Every row id (`source:ordinal#k`), in the order the rows are kept.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|row| self.id(row))
    }

    /// The id of row `row`.
    fn id(&self, row: usize) -> &str {
        &self.names[self.starts[row]..self.starts[row + 1]]
    }

    fn codes_of(&self, row: usize) -> &[i8] {
        &self.codes[row * self.dimensions..(row + 1) * self.dimensions]
    }

    fn row_of(&self, id: &str) -> Option<usize> {
        match &self.rows {
            Some(rows) => rows.get(id).copied(),
            None => (0..self.len()).find(|&row| self.id(row) == id),
        }
    }

    /// Adds or replaces the vector of a passage, quantised; a vector of the wrong length is a
    /// bug.
    pub fn insert(&mut self, id: &str, vector: &[f32]) {
        assert_eq!(vector.len(), self.dimensions, "vector length");
        let (codes, scale) = quantise(vector);
        self.put(id, &codes, scale);
    }

    /// Adds or replaces a row already quantised (kept as it is, so rows an update keeps are
    /// the bytes they were).
    fn put(&mut self, id: &str, codes: &[i8], scale: f32) {
        self.passages = OnceLock::new();
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        if self.rows.is_none() {
            let rows = (0..self.len())
                .map(|row| (self.id(row).to_string(), row))
                .collect();
            self.rows = Some(rows);
        }
        let next = self.len();
        let rows = self.rows.get_or_insert_with(HashMap::new);
        match rows.get(id) {
            Some(&row) => {
                self.codes[row * self.dimensions..(row + 1) * self.dimensions].copy_from_slice(codes);
                self.scales[row] = scale;
            }
            None => {
                rows.insert(id.to_string(), next);
                self.names.push_str(id);
                self.starts.push(self.names.len());
                self.codes.extend_from_slice(codes);
                self.scales.push(scale);
            }
        }
    }

    /// The vector of a passage as stored (its quantised numbers times their scale).
    pub fn get(&self, id: &str) -> Option<Vec<f32>> {
        let row = self.row_of(id)?;
        let scale = self.scales[row];
        Some(self.codes_of(row).iter().map(|&c| f32::from(c) * scale).collect())
    }

    /// The same vectors without those `keep` rejects (passages of removed or changed files).
    pub fn retain(&self, keep: impl Fn(&str) -> bool) -> Vectors {
        let mut out = Vectors::new(&self.fingerprint, self.dimensions);
        out.windows = self.windows;
        out.headings = self.headings;
        for row in 0..self.len() {
            let id = self.id(row);
            if keep(id) {
                out.put(id, self.codes_of(row), self.scales[row]);
            }
        }
        out
    }

    /// The row name of unit `k` of a passage: 0 the whole passage, 1… its sentences.
    pub fn row_id(passage: &str, k: usize) -> String {
        format!("{passage}#{k}")
    }

    /// The row name of a passage's heading row.
    pub fn heading_id(passage: &str) -> String {
        format!("{passage}#h")
    }

    /// The row name of window `k` (1…) of a passage.
    pub fn window_id(passage: &str, k: usize) -> String {
        format!("{passage}#w{k}")
    }

    /// Every passage with its cosine to `query` (the best of its rows) and the sentence (1…)
    /// closest to it, if the passage has sentence rows; closest passage first.
    pub fn nearest_passages(&self, query: &[f32]) -> Vec<Near<'_>> {
        self.passages_near(query, f32::NEG_INFINITY).collect()
    }

    /// The passages whose cosine to `query` (a unit vector) is at least `floor`, closest first,
    /// as [`Vectors::nearest_passages`] gives them, found in two steps: every row is compared
    /// with the query quantised as the rows are (a dot product of bytes), and only the rows
    /// that comparison puts within its error bound of `floor` are scored again with the
    /// query's own numbers. The result is what scoring every row with the query's numbers
    /// would give; the passages are handed out one at a time, each with its closest sentence.
    pub fn passages_near(&self, query: &[f32], floor: f32) -> PassagesNear<'_> {
        let d = self.dimensions.max(1);
        let (query_codes, query_scale) = quantise(query);
        // |q_i − q̂_i| ≤ query_scale / 2, so the coarse score differs from the fine one by at
        // most query_scale / 2 × Σ|v̂_i| ≤ query_scale / 2 × √d × ‖v̂‖, and a stored unit
        // vector's norm is at most 1 + √d / 254 (each number off by half a step of at most
        // 1/127): 1.08 for 384 numbers.
        let norm = 1.0 + (d as f32).sqrt() / 254.0;
        let margin = query_scale / 2.0 * (d as f32).sqrt() * norm + 1e-6;
        let coarse_floor = floor - margin;
        let candidates = scan(
            &self.codes,
            &self.scales,
            d,
            &query_codes,
            query_scale,
            coarse_floor,
        );
        let groups = self.passage_groups();
        let mut ranked: Vec<(f32, u32)> = candidates
            .into_iter()
            .map(|row| {
                let r = row as usize;
                let discount = if groups.window[r] {
                    WINDOW_DISCOUNT
                } else if groups.heading[r] {
                    HEADING_DISCOUNT
                } else {
                    0.0
                };
                (self.score(query, r) - discount, row)
            })
            .filter(|&(score, _)| score >= floor)
            .collect();
        ranked.sort_unstable_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| self.id(a.1 as usize).cmp(self.id(b.1 as usize)))
        });
        PassagesNear {
            vectors: self,
            query: query.to_vec(),
            ranked: ranked.into_iter(),
            seen: vec![false; self.passage_groups().first.len().saturating_sub(1)],
        }
    }

    /// The cosine of `query` with row `row` as stored.
    fn score(&self, query: &[f32], row: usize) -> f32 {
        score_row(query, self.codes_of(row), self.scales[row])
    }

    /// Rows grouped by passage: in one pass when they come sorted by passage and unit (as
    /// files of this layout are written), else through a map.
    fn passage_groups(&self) -> &Passages {
        self.passages.get_or_init(|| {
            let n = self.len();
            let mut of_row = Vec::with_capacity(n);
            let mut sorted = true;
            let mut last: Option<(&str, RowKind)> = None;
            let mut count = 0u32;
            for row in 0..n {
                let key = split_row(self.id(row));
                match last {
                    Some(prev) if prev.0 == key.0 && prev.1 < key.1 => {}
                    Some(prev) if prev.0 < key.0 => count += 1,
                    Some(_) => {
                        sorted = false;
                        break;
                    }
                    None => count += 1,
                }
                of_row.push(count - 1);
                last = Some(key);
            }
            if sorted {
                let mut first: Vec<u32> = Vec::with_capacity(count as usize + 1);
                for (row, &p) in of_row.iter().enumerate() {
                    if first.len() == p as usize {
                        first.push(row as u32);
                    }
                }
                first.push(n as u32);
                return self.with_kinds(Passages {
                    sorted,
                    of_row,
                    first,
                    rows: (0..n as u32).collect(),
                    ..Passages::default()
                });
            }
            let mut number: HashMap<&str, u32> = HashMap::new();
            let of_row: Vec<u32> = (0..n)
                .map(|row| {
                    let next = number.len() as u32;
                    *number.entry(split_row(self.id(row)).0).or_insert(next)
                })
                .collect();
            let mut first = vec![0u32; number.len() + 1];
            for &p in &of_row {
                first[p as usize + 1] += 1;
            }
            for p in 0..number.len() {
                first[p + 1] += first[p];
            }
            let mut fill = first.clone();
            let mut rows = vec![0u32; n];
            for (row, &p) in of_row.iter().enumerate() {
                rows[fill[p as usize] as usize] = row as u32;
                fill[p as usize] += 1;
            }
            self.with_kinds(Passages {
                sorted,
                of_row,
                first,
                rows,
                ..Passages::default()
            })
        })
    }

    /// The groups with whether each row is a window of words.
    fn with_kinds(&self, mut groups: Passages) -> Passages {
        groups.window = (0..self.len())
            .map(|row| matches!(split_row(self.id(row)).1, RowKind::Window(_)))
            .collect();
        groups.heading = (0..self.len())
            .map(|row| split_row(self.id(row)).1 == RowKind::Heading)
            .collect();
        groups
    }

    /// Every row id with its cosine to `query` (a unit vector), closest first.
    pub fn nearest(&self, query: &[f32]) -> Vec<(&str, f32)> {
        let mut scored: Vec<(&str, f32)> = (0..self.len())
            .map(|row| (self.id(row), self.score(query, row)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        scored
    }

    /// Writes the vectors to `path` through a temporary file renamed over it, so a reader
    /// sees the old file or the new one, never half of one. Rows are written by passage and
    /// unit, so a reader groups them in one pass.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| split_row(self.id(a)).cmp(&split_row(self.id(b))));
        let mut bytes = Vec::with_capacity(32 + self.codes.len() + self.len() * 8 + self.names.len());
        bytes.extend_from_slice(MAGIC);
        let mark = if self.windows { WINDOWS_MARK } else { "" };
        let headings = if self.headings { HEADINGS_MARK } else { "" };
        put_str(&mut bytes, &format!("{}{mark}{headings}", self.fingerprint));
        bytes.extend_from_slice(&(self.dimensions as u32).to_le_bytes());
        bytes.extend_from_slice(&(self.len() as u64).to_le_bytes());
        for &row in &order {
            put_str(&mut bytes, self.id(row));
        }
        for &row in &order {
            bytes.extend_from_slice(&self.scales[row].to_le_bytes());
        }
        for &row in &order {
            bytes.extend(self.codes_of(row).iter().map(|&c| c as u8));
        }
        let checksum = checksum(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        let temp = path.with_extension("tmp");
        let mut file = fs::File::create(&temp).with_context(|| format!("writing {}", temp.display()))?;
        file.write_all(&bytes)
            .and_then(|_| file.sync_all())
            .with_context(|| format!("writing {}", temp.display()))?;
        fs::rename(&temp, path).with_context(|| format!("renaming {}", temp.display()))?;
        Ok(())
    }

    /// Reads a vectors file, checking its layout version and checksum; f32 rows of the older
    /// layouts are quantised as they are read.
    pub fn read(path: &Path) -> Result<Vectors> {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Vectors::parse(&bytes).with_context(|| format!("reading {}", path.display()))
    }

    fn parse(bytes: &[u8]) -> Result<Vectors> {
        let layout = Layout::of(bytes)?;
        if bytes.len() < MAGIC.len() + 8 {
            bail!("file is cut short");
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if layout.checksum()(body).to_le_bytes() != sum {
            bail!("bad checksum");
        }
        let mut at = MAGIC.len();
        let (fingerprint, windows, headings) = unmark(take_str(body, &mut at)?);
        let dimensions = u32::from_le_bytes(take(body, &mut at, 4)?.try_into()?) as usize;
        let count = u64::from_le_bytes(take(body, &mut at, 8)?.try_into()?) as usize;
        let mut vectors = Vectors::new(&fingerprint, dimensions);
        vectors.windows = windows;
        vectors.headings = headings;
        vectors.starts.reserve(count.min(body.len()));
        for _ in 0..count {
            let n = u32::from_le_bytes(take(body, &mut at, 4)?.try_into()?) as usize;
            vectors
                .names
                .push_str(std::str::from_utf8(take(body, &mut at, n)?)?);
            vectors.starts.push(vectors.names.len());
        }
        match layout {
            Layout::Quantised => {
                let scales = take(body, &mut at, count.checked_mul(4).context("file is cut short")?)?;
                let size = count.checked_mul(dimensions).context("file is cut short")?;
                let codes = take(body, &mut at, size)?;
                vectors.scales = scales
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                vectors.codes = codes.iter().map(|&b| b as i8).collect();
            }
            Layout::Exact { .. } => {
                let size = count.checked_mul(dimensions).and_then(|n| n.checked_mul(4));
                let numbers = take(body, &mut at, size.context("file is cut short")?)?;
                let mut row = Vec::with_capacity(dimensions);
                vectors.codes.reserve(count * dimensions);
                for chunk in numbers.chunks_exact(4 * dimensions.max(1)) {
                    row.clear();
                    row.extend(
                        chunk
                            .chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    );
                    let (codes, scale) = quantise(&row);
                    vectors.codes.extend_from_slice(&codes);
                    vectors.scales.push(scale);
                }
            }
        }
        if at != body.len() {
            bail!("trailing bytes");
        }
        // Rows in strictly increasing (passage, unit) order, as this layout is written, have
        // distinct ids: checked in the pass that groups them, with no set of every id.
        if vectors.passage_groups().sorted {
            return Ok(vectors);
        }
        let mut seen = std::collections::HashSet::new();
        if (0..vectors.len()).all(|row| seen.insert(vectors.id(row))) {
            return Ok(vectors);
        }
        // A repeated id (not written by this rsearch): the last vector wins, as on insert.
        let mut unique = Vectors::new(&fingerprint, dimensions);
        unique.windows = windows;
        unique.headings = headings;
        for row in 0..vectors.len() {
            unique.put(vectors.id(row), vectors.codes_of(row), vectors.scales[row]);
        }
        Ok(unique)
    }
}

/// The passages close to a query, closest first, from [`Vectors::passages_near`].
pub struct PassagesNear<'a> {
    vectors: &'a Vectors,
    query: Vec<f32>,
    ranked: std::vec::IntoIter<(f32, u32)>,
    seen: Vec<bool>,
}

impl<'a> Iterator for PassagesNear<'a> {
    type Item = Near<'a>;

    fn next(&mut self) -> Option<Near<'a>> {
        let vectors = self.vectors;
        let groups = vectors.passage_groups();
        loop {
            let (similarity, row) = self.ranked.next()?;
            let p = groups.of_row[row as usize] as usize;
            // Rows come closest first: the first seen of a passage is its best.
            if std::mem::replace(&mut self.seen[p], true) {
                continue;
            }
            let passage = split_row(vectors.id(row as usize)).0;
            let rows = &groups.rows[groups.first[p] as usize..groups.first[p + 1] as usize];
            let sentence = rows
                .iter()
                .filter_map(|&r| match split_row(vectors.id(r as usize)).1 {
                    RowKind::Sentence(k) => Some((k, r as usize)),
                    _ => None,
                })
                .map(|(k, r)| (vectors.score(&self.query, r), vectors.id(r), k))
                .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
                .map(|(_, _, k)| k);
            return Some(Near {
                passage,
                similarity,
                sentence,
            });
        }
    }
}

/// A vector as signed bytes and one scale: the scale is the largest magnitude over 127 and
/// each number is rounded to the nearest step, so number i is `codes[i] × scale` within half
/// a step. One scale a vector, not one for the whole file, keeps the steps fine for every
/// vector whatever its largest number.
pub fn quantise(vector: &[f32]) -> (Vec<i8>, f32) {
    let largest = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 || !largest.is_finite() {
        return (vec![0; vector.len()], 0.0);
    }
    let scale = largest / 127.0;
    let codes = vector
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (codes, scale)
}

/// The rows whose coarse score (bytes times bytes, then the two scales) is at least `floor`.
fn scan(codes: &[i8], scales: &[f32], d: usize, query: &[i8], query_scale: f32, floor: f32) -> Vec<u32> {
    scan_portable(codes, scales, d, query, query_scale, floor)
}

#[inline(always)]
fn scan_portable(
    codes: &[i8],
    scales: &[f32],
    d: usize,
    query: &[i8],
    query_scale: f32,
    floor: f32,
) -> Vec<u32> {
    let mut found = Vec::new();
    for (row, (codes, &scale)) in codes.chunks_exact(d).zip(scales).enumerate() {
        let coarse = dot_bytes(query, codes) as f32 * (query_scale * scale);
        if coarse >= floor {
            found.push(row as u32);
        }
    }
    found
}

/// The dot product of two rows of signed bytes, in 16 running sums the compiler keeps in
/// vector registers (products of bytes widened to 32 bits cannot overflow: 127² × 384 is
/// far below 2³¹).
#[inline(always)]
fn dot_bytes(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0i32; 16];
    let (xs, ys) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    for (x, y) in xs.zip(ys) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += i32::from(x) * i32::from(y);
        }
    }
    lanes.iter().sum::<i32>() + tail
}

/// The cosine of a query with a stored row: the query's own numbers times the row's bytes and
/// scale, in eight running sums (floating-point sums are kept in the order written, so one
/// running sum would make each step wait on the last).
fn score_row(query: &[f32], codes: &[i8], scale: f32) -> f32 {
    let mut lanes = [0f32; 8];
    let (qs, cs) = (query.chunks_exact(8), codes.chunks_exact(8));
    let tail: f32 = qs
        .remainder()
        .iter()
        .zip(cs.remainder())
        .map(|(&q, &c)| q * f32::from(c))
        .sum();
    for (q, c) in qs.zip(cs) {
        for ((lane, &q), &c) in lanes.iter_mut().zip(q).zip(c) {
            *lane += q * f32::from(c);
        }
    }
    (lanes.iter().sum::<f32>() + tail) * scale
}

fn put_str(bytes: &mut Vec<u8>, text: &str) {
    bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
}

fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8]> {
    let end = at.checked_add(n).filter(|&end| end <= bytes.len());
    let Some(end) = end else {
        bail!("file is cut short");
    };
    let slice = &bytes[*at..end];
    *at = end;
    Ok(slice)
}

fn take_str(bytes: &[u8], at: &mut usize) -> Result<String> {
    let n = u32::from_le_bytes(take(bytes, at, 4)?.try_into()?) as usize;
    Ok(std::str::from_utf8(take(bytes, at, n)?)?.to_string())
}

/// The checksum of a version 2 or 3 file: four running hashes over interleaved 8-byte words
/// (each a multiply and a rotation a word, independent of the others, so the processor
/// overlaps them), folded into one; any changed byte changes it. About 30 times faster than
/// FNV-1a, which waits on a multiply for every byte.
fn checksum(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [
        0x243F_6A88_85A3_08D3u64,
        0x1319_8A2E_0370_7344,
        0xA409_3822_299F_31D0,
        0x082E_FA98_EC4E_6C89,
    ];
    let words = bytes.chunks_exact(32);
    let tail = words.remainder();
    for block in words {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let w = u64::from_le_bytes([
                word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
            ]);
            *lane = (*lane ^ w).wrapping_mul(PRIME).rotate_left(29);
        }
    }
    let mut hash = lanes.iter().fold(bytes.len() as u64, |h, &lane| {
        (h ^ lane).wrapping_mul(PRIME).rotate_left(31)
    });
    for &b in tail {
        hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
    }
    hash ^ (hash >> 32)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vectors {
        let mut v = Vectors::new("model/1", 2);
        v.insert("a.txt:1", &[1.0, 0.0]);
        v.insert("a.txt:2", &[0.6, 0.8]);
        v.insert("b.txt:1", &[0.0, 1.0]);
        v
    }

    #[test]
    fn vectors_read_back_as_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vectors");
        sample().write(&path).expect("write");
        assert_eq!(Vectors::read(&path).expect("read"), sample());
    }

    #[test]
    fn a_flipped_byte_is_caught_by_the_checksum() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vectors");
        sample().write(&path).expect("write");
        let mut bytes = fs::read(&path).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        fs::write(&path, bytes).expect("write");
        assert!(Vectors::read(&path).is_err());
    }

    /// A file of the f32 layouts (1 and 2) as the earlier rsearch wrote it.
    fn write_exact(path: &Path, magic: &[u8; 8], sum: fn(&[u8]) -> u64, rows: &[(&str, &[f32])]) {
        let mut bytes = magic.to_vec();
        put_str(&mut bytes, "model/1");
        bytes.extend_from_slice(&(rows[0].1.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(rows.len() as u64).to_le_bytes());
        for (id, _) in rows {
            put_str(&mut bytes, id);
        }
        for (_, vector) in rows {
            for x in *vector {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        let sum = sum(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        fs::write(path, bytes).expect("write");
    }

    #[test]
    fn files_of_the_f32_layouts_still_read_quantised() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vectors");
        let rows: [(&str, &[f32]); 3] = [
            ("a.txt:1", &[1.0, 0.0]),
            ("a.txt:2", &[0.6, 0.8]),
            ("b.txt:1", &[0.0, 1.0]),
        ];
        // Files of these layouts predate window rows.
        let mut expected = sample();
        expected.windows = false;
        expected.headings = false;
        for (magic, sum) in [(MAGIC_V1, fnv1a as fn(&[u8]) -> u64), (MAGIC_V2, checksum)] {
            write_exact(&path, magic, sum, &rows);
            assert_eq!(Vectors::read(&path).expect("read"), expected);
            assert!(!read_header(&path).expect("header").windows);
            assert_eq!(read_header(&path).expect("header").rows, 3);
        }
    }

    #[test]
    fn a_file_made_before_window_or_heading_rows_reads_without_their_marks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vectors");
        for (windows, headings) in [(true, true), (true, false), (false, false)] {
            let mut written = sample();
            written.windows = windows;
            written.headings = headings;
            written.write(&path).expect("write");
            let read = Vectors::read(&path).expect("read");
            assert_eq!(
                (read.fingerprint.as_str(), read.windows, read.headings),
                ("model/1", windows, headings)
            );
            let header = read_header(&path).expect("header");
            assert_eq!(
                (header.fingerprint.as_str(), header.windows, header.headings),
                ("model/1", windows, headings)
            );
        }
    }

    #[test]
    fn a_file_cut_short_is_refused_by_its_header_and_its_reading() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vectors");
        let mut vectors = Vectors::new("model/1", 384);
        for (i, row) in random_units(10, 3).iter().enumerate() {
            vectors.insert(&format!("a.txt:{i}#0"), row);
        }
        vectors.write(&path).expect("write");
        let bytes = fs::read(&path).expect("read");
        for keep in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 9, bytes.len() - 1] {
            fs::write(&path, &bytes[..keep]).expect("write");
            assert!(Vectors::read(&path).is_err(), "{keep} bytes read");
        }
        fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
        let why = read_header(&path).expect_err("header of a short file");
        assert!(format!("{why:#}").contains("cut short"), "{why:#}");
    }

    #[test]
    fn quantised_numbers_are_within_half_a_step_and_the_largest_is_127() {
        let cases: [&[f32]; 5] = [
            &[0.5, -0.25, 0.125, 0.0],
            &[-1.0, 0.3, 0.7, 0.01],
            &[1e-6, -3e-7, 2e-7, 0.0],
            &[0.0, 0.0, 0.0, 0.0],
            &[0.061, -0.2, 0.013, 0.19],
        ];
        for vector in cases {
            let (codes, scale) = quantise(vector);
            let largest = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
            if largest > 0.0 {
                assert_eq!(
                    codes.iter().map(|c| c.unsigned_abs()).max(),
                    Some(127),
                    "{vector:?}"
                );
            }
            for (&x, &c) in vector.iter().zip(&codes) {
                assert!(
                    (f32::from(c) * scale - x).abs() <= scale / 2.0 + 1e-9,
                    "{vector:?}"
                );
            }
        }
    }

    /// Pseudo-random unit vectors of 384 numbers, spread like sentence vectors (a shared
    /// direction plus noise), so many rows sit near any floor.
    fn random_units(n: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let common: Vec<f32> = (0..384).map(|_| next()).collect();
        (0..n)
            .map(|_| {
                let v: Vec<f32> = common.iter().map(|c| 0.4 * c + next()).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    #[test]
    fn the_byte_scan_misses_no_passage_a_full_scan_finds_above_the_floor() {
        let rows = random_units(1200, 7);
        let mut vectors = Vectors::new("model/1", 384);
        for (i, row) in rows.iter().enumerate() {
            vectors.insert(&Vectors::row_id(&format!("f{}.txt:{}", i % 7, i / 3), i % 3), row);
        }
        for (q, query) in random_units(6, 99).iter().enumerate() {
            let full = vectors.nearest_passages(query);
            // Floors on a passage's own cosine, where a miss would show first.
            for floor in [1, 10, 100, full.len() / 2].map(|i| full[i].similarity) {
                let expected: Vec<&Near<'_>> = full.iter().filter(|n| n.similarity >= floor).collect();
                let got: Vec<Near<'_>> = vectors.passages_near(query, floor).collect();
                assert!(
                    !expected.is_empty() && expected.len() < full.len(),
                    "query {q} floor {floor}"
                );
                assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    expected,
                    "query {q} floor {floor}"
                );
            }
        }
    }

    #[test]
    fn rows_are_written_by_passage_so_a_reader_groups_them_in_one_pass() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vectors");
        let mut v = Vectors::new("model/1", 2);
        for id in [
            "b.txt:1#1",
            "a.txt:10#0",
            "a.txt:1#2",
            "b.txt:1#0",
            "a.txt:1#0",
            "a.txt:1#10",
        ] {
            v.insert(id, &[0.6, 0.8]);
        }
        v.write(&path).expect("write");
        let read = Vectors::read(&path).expect("read");
        let ids: Vec<&str> = (0..read.len()).map(|row| read.id(row)).collect();
        assert_eq!(
            ids,
            [
                "a.txt:1#0",
                "a.txt:1#2",
                "a.txt:1#10",
                "a.txt:10#0",
                "b.txt:1#0",
                "b.txt:1#1"
            ]
        );
        let groups = read.passage_groups();
        assert_eq!(groups.first, [0, 3, 4, 6]);
        assert_eq!(groups.rows, [0, 1, 2, 3, 4, 5]);
        // Rows in any order are grouped as well (vectors of the f32 layouts, or being built).
        let groups = v.passage_groups();
        assert_eq!(groups.first.len(), 4);
        assert_eq!(groups.of_row[0], groups.of_row[3]);
    }

    #[test]
    fn the_checksum_sees_every_byte() {
        let bytes: Vec<u8> = (0..100u8).collect();
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            assert_ne!(checksum(&changed), checksum(&bytes), "byte {at}");
        }
        assert_ne!(checksum(&bytes[..99]), checksum(&bytes));
    }

    #[test]
    fn nearest_orders_by_cosine_then_id() {
        let vectors = sample();
        let found: Vec<&str> = vectors
            .nearest(&[0.0, 1.0])
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(found, ["b.txt:1", "a.txt:2", "a.txt:1"]);
    }

    #[test]
    fn a_passage_takes_its_best_row_and_names_its_closest_sentence() {
        let mut v = Vectors::new("model/1", 2);
        v.insert("a.txt:1#0", &[0.6, 0.8]);
        v.insert("a.txt:1#1", &[1.0, 0.0]);
        v.insert("a.txt:1#2", &[0.0, 1.0]);
        v.insert("b.txt:1#0", &[0.8, 0.6]);
        let near = v.nearest_passages(&[0.0, 1.0]);
        assert_eq!(near[0].passage, "a.txt:1");
        assert!((near[0].similarity - 1.0).abs() < 1e-6);
        assert_eq!(near[0].sentence, Some(2));
        assert_eq!(near[1].passage, "b.txt:1");
        assert_eq!(near[1].sentence, None);
    }

    #[test]
    fn windows_of_eight_words_every_four_end_on_the_last_word() {
        let text = "one two three four five six seven eight nine ten eleven twelve thirteen";
        assert_eq!(
            windows(text),
            [
                "one two three four five six seven eight",
                "five six seven eight nine ten eleven twelve",
                "nine ten eleven twelve thirteen"
            ]
        );
        assert!(windows("one two three four five six seven eight").is_empty());
        let longest = vec!["word"; WINDOW_MAX_WORDS].join(" ");
        assert_eq!(
            windows(&longest).len(),
            (WINDOW_MAX_WORDS - WINDOW_WORDS) / WINDOW_STEP + 1
        );
        assert!(windows(&format!("{longest} more")).is_empty());
        // Slices of the text as it is: spacing and punctuation inside a window kept.
        let spaced = "a  b\tc d e f g h, i";
        assert_eq!(windows(spaced), ["a  b\tc d e f g h,", "e f g h, i"]);
    }

    #[test]
    fn row_ids_name_the_passage_its_sentences_and_its_windows() {
        for (id, passage, kind) in [
            ("a.txt:3#0", "a.txt:3", RowKind::Whole),
            ("a.txt:3", "a.txt:3", RowKind::Whole),
            ("a.txt:3#2", "a.txt:3", RowKind::Sentence(2)),
            ("a.txt:3#w4", "a.txt:3", RowKind::Window(4)),
            ("dir#x/a.txt:3#w1", "dir#x/a.txt:3", RowKind::Window(1)),
            ("a.txt:3#h", "a.txt:3", RowKind::Heading),
            ("dir#h/a.txt:3#h", "dir#h/a.txt:3", RowKind::Heading),
        ] {
            assert_eq!(split_row(id), (passage, kind), "{id}");
        }
        let ids: Vec<String> = units_of(
            "a.txt:1",
            "One two three four. Five six seven eight nine ten.",
            &[],
        )
        .map(|(id, _)| id)
        .collect();
        assert_eq!(
            ids,
            ["a.txt:1#0", "a.txt:1#1", "a.txt:1#2", "a.txt:1#w1", "a.txt:1#w2"]
        );
        assert!(RowKind::Sentence(9) < RowKind::Window(1));
        let section = ["Key Differences".to_string(), "Accountant vs Auditor".to_string()];
        let units: Vec<Unit> = units_of("a.txt:2", "One sentence only.", &section).collect();
        assert_eq!(
            units,
            [
                ("a.txt:2#0".to_string(), "One sentence only.".to_string()),
                (
                    "a.txt:2#h".to_string(),
                    "Key Differences › Accountant vs Auditor".to_string()
                ),
            ]
        );
        assert_eq!(heading_text(&[]), None);
    }

    #[test]
    fn a_heading_row_stands_in_for_its_passage_only_when_clearly_closer() {
        let mut v = Vectors::new("model/1", 2);
        v.insert("a.txt:1#0", &[0.6, 0.8]);
        v.insert("a.txt:1#h", &[0.0, 1.0]);
        v.insert("b.txt:1#0", &[0.5, 0.866]);
        v.insert("c.txt:1#0", &[0.0, 1.0]);
        let near = v.nearest_passages(&[0.0, 1.0]);
        let order: Vec<&str> = near.iter().map(|n| n.passage).collect();
        // a's heading is as close as c's text (1.0) but counts 1.0 − the discount: below c,
        // above b's 0.866 and a's own 0.8.
        assert_eq!(order, ["c.txt:1", "a.txt:1", "b.txt:1"]);
        assert!(
            (near[1].similarity - (1.0 - HEADING_DISCOUNT)).abs() < 1e-3,
            "{near:?}"
        );
        // A heading is no sentence of the passage: no snippet sentence comes from it.
        assert_eq!(near[1].sentence, None);
    }

    #[test]
    fn a_window_counts_less_than_the_passage_and_its_sentences() {
        let mut v = Vectors::new("model/1", 2);
        v.insert("a.txt:1#0", &[0.6, 0.8]);
        v.insert("a.txt:1#w1", &[0.0, 1.0]);
        v.insert("b.txt:1#0", &[0.141, 0.99]);
        let near = v.nearest_passages(&[0.0, 1.0]);
        // a's window is the closest row (1.0) but counts 1.0 − the discount, below b's 0.99.
        assert_eq!(near[0].passage, "b.txt:1");
        assert_eq!(near[1].passage, "a.txt:1");
        assert!(
            (near[1].similarity - (1.0 - WINDOW_DISCOUNT)).abs() < 1e-3,
            "{near:?}"
        );
        // A window is no sentence: the snippet falls back to the passage's opening.
        assert_eq!(near[1].sentence, None);
    }

    #[test]
    fn retain_keeps_only_the_passages_asked_for() {
        let kept = sample().retain(|id| !id.starts_with("a.txt:"));
        assert_eq!(kept.len(), 1);
        let kept_vector = kept.get("b.txt:1").expect("kept");
        assert!((kept_vector[0] - 0.0).abs() < 1e-6 && (kept_vector[1] - 1.0).abs() < 1e-6);
    }
}
