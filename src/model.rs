//! Data types that cross pipeline stages: documents, sections, passages, labels and hits.
//! Every stage speaks in these types; none of them knows about tantivy or the terminal.

/// How a source file marks its structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text: structure is inferred from short lines between blank lines.
    Text,
    /// Markdown: structure comes from `#` headings.
    Markdown,
    /// HTML: structure comes from the markup (`h1`–`h6`, `figcaption`, paragraphs).
    Html,
}

/// One file of the corpus, read and decoded, before segmentation.
#[derive(Debug, Clone)]
pub struct SourceText {
    /// Path relative to the corpus folder, with `/` separators.
    pub source: String,
    pub format: Format,
    pub text: String,
}

/// A segmented document: its title, its outline and its passages in reading order.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub source: String,
    pub title: String,
    /// Every section in reading order, parents before children; the root section (text before
    /// the first heading) has an empty path and is listed only when it holds something.
    pub sections: Vec<Section>,
    pub passages: Vec<Passage>,
}

/// A heading of the document with what it holds directly.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Heading path from the top level down to this section's own heading.
    pub path: Vec<String>,
    /// Why its heading was read as one and placed where it is (empty for the root section).
    pub heading_reasons: Vec<String>,
    /// Caption lines (picture and link captions) found in this section: kept, never passages.
    pub captions: Vec<String>,
    /// Why each caption is one: the signals that decided, `caption_reasons[i]` for `captions[i]`.
    pub caption_reasons: Vec<Vec<String>>,
    /// Number of passages directly in this section.
    pub passages: usize,
}

/// A unit of retrieval: one paragraph, or one sentence-aligned piece of a long paragraph.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// 1-based position of the passage in its document.
    pub ordinal: u64,
    /// Heading path of the section the passage is in (empty before the first heading).
    pub section: Vec<String>,
    /// The passage text as written, with runs of whitespace collapsed to one space.
    pub text: String,
}

/// Role and topic slugs given to a passage, in taxonomy order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    pub roles: Vec<String>,
    pub topics: Vec<String>,
}

/// A highlighted excerpt of a passage: byte ranges of `text` to emphasise.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<(usize, usize)>,
}

/// One ranked passage returned by a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Stable passage id, `source:ordinal`.
    pub id: String,
    pub rank: usize,
    pub score: f32,
    pub source: String,
    pub document: String,
    pub ordinal: u64,
    pub section: Vec<String>,
    pub labels: Labels,
    pub text: String,
    pub snippet: Snippet,
    /// Why the hit scored and is labelled as it is (only when asked for).
    pub explanation: Option<Explanation>,
    /// Passages just before and after this one in its document (only when asked for).
    pub context: Option<Context>,
}

/// Neighbouring passages of a hit, in document order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    pub before: Vec<Neighbor>,
    pub after: Vec<Neighbor>,
}

/// A passage shown around a hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbor {
    pub id: String,
    pub ordinal: u64,
    pub section: Vec<String>,
    pub text: String,
}

/// The parts of a hit's score and the reasons for its labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Explanation {
    /// One entry per matched term (or phrase) and field, largest first.
    pub terms: Vec<TermScore>,
    /// One per label the passage carries, with the evidence for it, in labelling order.
    pub labels: Vec<Reason>,
    /// Where the hit stood in each ranking of a search by meaning (semantic or hybrid mode).
    pub fusion: Option<Fusion>,
}

/// The two rankings behind a hit of a search by meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Fusion {
    /// BM25 score and rank among the passages the words match, if they match it.
    pub bm25: Option<f32>,
    pub lexical_rank: Option<usize>,
    /// Cosine similarity to the query and rank among the passages closest in meaning, if it is
    /// one of them.
    pub similarity: Option<f32>,
    pub semantic_rank: Option<usize>,
    /// Rank after fusion (the hit's rank).
    pub fused_rank: usize,
    /// Weight of the words' ranking in the fusion (hybrid mode; `None` in semantic mode).
    pub lexical_weight: Option<f32>,
}

/// Which list of the taxonomy a label belongs to: roles (who a passage is about) or topics
/// (what it is about).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    Role,
    Topic,
}

impl std::fmt::Display for LabelKind {
    /// The word messages use for the list: `role`, `topic`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LabelKind::Role => "role",
            LabelKind::Topic => "topic",
        })
    }
}

/// A label of a passage with the evidence for it, as the labeller found it; printers decide
/// how it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub kind: LabelKind,
    pub slug: String,
    pub evidence: Evidence,
}

/// What made the labeller give a label.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// Terms of the category found in the passage text, each with how often it occurs.
    Text(Vec<(String, usize)>),
    /// Terms of the category found in `heading`, the deepest heading of the passage's path
    /// that names any.
    Heading { heading: String, terms: Vec<String> },
    /// The passage is outside any section and the topic claims such passages.
    OutsideSections,
}

/// The BM25 contribution of one term in one field.
#[derive(Debug, Clone, PartialEq)]
pub struct TermScore {
    pub field: String,
    /// The indexed term (stemmed), or the phrase's words.
    pub term: String,
    /// Contribution to the total score, boosts included.
    pub score: f32,
    /// Occurrences in the field (BM25 `freq`), when known.
    pub freq: Option<f32>,
    /// BM25 inverse document frequency, when known.
    pub idf: Option<f32>,
    /// Product of the boosts applied (field weight, typo weight).
    pub boost: f32,
    /// A term matched through typo tolerance, not as typed.
    pub typo: bool,
    /// The typed word(s) this term was searched for as a synonym of, if it was.
    pub synonym: Option<String>,
}

/// Label counts over every hit of a query, before the limit applies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facets {
    pub roles: Vec<(String, u64)>,
    pub topics: Vec<(String, u64)>,
}

/// What a query found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    pub query: String,
    pub total_hits: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
    /// The query with unknown words replaced by the closest indexed words, if any was unknown.
    pub did_you_mean: Option<String>,
}

/// The id a user types to name a passage (`show ID`): the corpus-relative source and ordinal.
pub fn passage_id(source: &str, ordinal: u64) -> String {
    format!("{source}:{ordinal}")
}

/// How far a build has got, advanced by the index stage's workers and read by whoever shows
/// progress. Counters only: the stage never draws anything.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files and bytes the build will read (set once it knows).
    pub files_total: std::sync::atomic::AtomicU64,
    pub bytes_total: std::sync::atomic::AtomicU64,
    /// Files and bytes read, segmented and handed to the index so far.
    pub files_done: std::sync::atomic::AtomicU64,
    pub bytes_done: std::sync::atomic::AtomicU64,
    /// Texts to embed (each passage and its sentences) and embedded so far, after the files
    /// are read, when the build makes passage vectors.
    pub passages_total: std::sync::atomic::AtomicU64,
    pub passages_embedded: std::sync::atomic::AtomicU64,
}
