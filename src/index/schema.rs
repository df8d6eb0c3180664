//! The index schema, defined once: field names, the English analyzer, the fields a query
//! searches, and how a prepared passage becomes an index document.

use anyhow::{anyhow, Result};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer,
};
use tantivy::TantivyDocument;

use super::stem::{CachedStemmer, RememberShortTexts, StemInitials};
use crate::model::{Labels, Passage};

/// Bumped whenever the schema, the analyzer or the labelling rules change: an index with
/// another format is rebuilt.
pub const FORMAT_VERSION: u32 = 4;
/// Name of the English analyzer registered on every index.
pub const ANALYZER: &str = "rsearch_en";
/// Longest word, in bytes, anything looks at: the analyzer drops words of this length or more
/// (so no term is longer), and typo tolerance sizes its automaton on it.
pub const MAX_WORD_BYTES: usize = 40;

/// Field names of the schema; every other module refers to fields through [`Fields`].
pub mod field {
    pub const SOURCE: &str = "source";
    pub const ORDINAL: &str = "ordinal";
    pub const TITLE: &str = "title";
    pub const SECTION: &str = "section";
    pub const TEXT: &str = "text";
    pub const ROLES: &str = "roles";
    pub const TOPICS: &str = "topics";
    /// The fields a query's words are looked for in, most weighty first (`FIELD:word` may
    /// name one of them).
    pub const SEARCHABLE: [&str; 3] = [TEXT, SECTION, TITLE];
}

/// Handles to every field of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
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
            source: get(field::SOURCE)?,
            ordinal: get(field::ORDINAL)?,
            title: get(field::TITLE)?,
            section: get(field::SECTION)?,
            text: get(field::TEXT)?,
            roles: get(field::ROLES)?,
            topics: get(field::TOPICS)?,
        })
    }

    /// The handles of [`field::SEARCHABLE`], in the same order.
    pub fn searchable(&self) -> [Field; 3] {
        [self.text, self.section, self.title]
    }
}

/// The schema: body, headings and title are analysed text (with positions for phrases);
/// source is an exact term, ordinal a number read by value (a passage's id, `source:ordinal`,
/// is made of the two, so it is neither stored nor indexed); roles and topics are facets.
pub fn schema() -> Schema {
    let analysed = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let mut builder = Schema::builder();
    // The source is looked up, never scored: no length norms.
    let exact = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        )
        .set_stored();
    builder.add_text_field(field::SOURCE, exact);
    // Only filtered by value (context, show): a fast field needs no inverted index.
    builder.add_u64_field(field::ORDINAL, NumericOptions::default().set_stored().set_fast());
    builder.add_text_field(field::TITLE, analysed.clone());
    builder.add_text_field(field::SECTION, analysed.clone());
    builder.add_text_field(field::TEXT, analysed);
    builder.add_facet_field(field::ROLES, FacetOptions::default().set_stored());
    builder.add_facet_field(field::TOPICS, FacetOptions::default().set_stored());
    builder.build()
}

/// The English analyzer: words, lower-cased, accents folded, stop words dropped, stemmed.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(stop_words())
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The same analyzer for writing: it gives the same terms, remembering the stem of every word
/// it has seen (a corpus repeats its words, and stemming was a sixth of a build's CPU), and
/// the tokens of every short text it analysed (a document's title and headings come back
/// with each of its passages: [`RememberShortTexts`]). Queries and snippets keep
/// [`analyzer`], which needs no memory.
pub(super) fn indexing_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(stop_words())
        .filter(CachedStemmer)
        .filter(RememberShortTexts)
        .build()
}

/// The analyzer for snippets of a query whose terms begin with `initials`: the same tokens as
/// [`analyzer`], stemmed only when they begin with one of them ([`StemInitials`]).
pub fn snippet_analyzer(initials: Vec<char>) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(stop_words())
        .filter(StemInitials { initials })
        .build()
}

/// English stop words, made once a process: the filter shares its list, and a query makes
/// several analyzers (the index's, the snippets') that would otherwise each build it anew.
fn stop_words() -> StopWordFilter {
    static STOP_WORDS: std::sync::OnceLock<StopWordFilter> = std::sync::OnceLock::new();
    STOP_WORDS
        .get_or_init(|| {
            StopWordFilter::new(Language::English)
                .unwrap_or_else(|| StopWordFilter::remove(Vec::<String>::new()))
        })
        .clone()
}

/// The index document of one passage of the document `source` titled `title`, with its labels.
pub(super) fn passage_document(
    fields: &Fields,
    source: &str,
    title: &str,
    passage: &Passage,
    labels: &Labels,
) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.source, source);
    doc.add_u64(fields.ordinal, passage.ordinal);
    doc.add_text(fields.title, title);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexing_analyzer_gives_the_query_analyzer_terms() {
        let text = "Running runners ran; the CTO's strategies, strategy and STRATEGIC cafés. Running again";
        let terms = |analyzer: TextAnalyzer| tokens(analyzer, text);
        assert_eq!(terms(indexing_analyzer()), terms(analyzer()));
        assert!(terms(analyzer()).iter().any(|(term, ..)| term == "strategi"));
    }

    #[test]
    fn remembered_titles_and_headings_give_the_tokens_of_analysing_them_again() {
        // One analyzer instance for a run of values, as tantivy keeps one per field: titles
        // and headings repeated passage after passage, texts past the memory's bound, a
        // long text, an empty one, one of stop words only, and the first text again.
        let mut texts: Vec<String> = Vec::new();
        for file in 0..3 {
            for passage in 0..40 {
                texts.push(format!("The CTO's Guide to Strategies, part {file}"));
                texts.push(format!("Running Meetings {}", passage / 7));
                texts.push("Cafés and   cafés: the  Naïve  ANALYSIS".to_string());
            }
        }
        texts.extend((0..1_500).map(|i| format!("heading number {i} of many headings")));
        texts.push("word ".repeat(80));
        texts.push(String::new());
        texts.push("the and of".to_string());
        texts.push(texts[0].clone());
        let mut remembering = indexing_analyzer();
        let mut plain = analyzer();
        for text in &texts {
            assert_eq!(
                stream_tokens(&mut remembering, text),
                stream_tokens(&mut plain, text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn remembering_stops_for_texts_that_do_not_repeat_and_still_gives_their_tokens() {
        let mut remembering = indexing_analyzer();
        let mut plain = analyzer();
        for i in 0..10_000 {
            let text = format!("passage {i} says something new about item {}", i * 7);
            assert_eq!(
                stream_tokens(&mut remembering, &text),
                stream_tokens(&mut plain, &text)
            );
        }
    }

    #[test]
    fn remembered_stems_past_the_tables_bound_are_the_stemmers() {
        // More distinct words than the stem table keeps (it is emptied and filled again),
        // words stemming changes and words it leaves, each seen twice.
        let words: Vec<String> = (0..40_000)
            .map(|i| match i % 3 {
                0 => format!("running{i}s"),
                1 => format!("connection{}ing", i % 500),
                _ => format!("w{i}"),
            })
            .collect();
        let mut remembering = indexing_analyzer();
        let mut plain = analyzer();
        for text in words
            .chunks(50)
            .map(|chunk| chunk.join(" "))
            .chain(words.chunks(70).map(|chunk| chunk.join(" ")))
        {
            assert_eq!(
                stream_tokens(&mut remembering, &text),
                stream_tokens(&mut plain, &text)
            );
        }
    }

    /// Tokens of `text` by an analyzer kept from one text to the next.
    fn stream_tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize, usize)> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push((
                t.text.clone(),
                t.position,
                t.offset_from,
                t.offset_to,
                t.position_length,
            ));
        }
        out
    }

    /// Tokens of `text`: their text, position and offsets.
    fn tokens(mut analyzer: TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
        }
        out
    }

    #[test]
    fn english_stemming_keeps_a_words_first_letter() {
        // Snowball's exceptions and the rules that rewrite a word's start or most of it.
        let words = "dying lying tying skies skis ugly early only idly gently singly news howe atlas \
            cosmos bias andes ies sses yelling youth yyy generously communism arsenal \
            commune universe universal universities ied cried ties ys y yes says ay";
        let stemmer = analyzer();
        for word in words.split_whitespace() {
            for (stem, ..) in tokens(stemmer.clone(), word) {
                assert_eq!(stem.chars().next(), word.chars().next(), "{word} -> {stem}");
            }
        }
        assert_eq!(tokens(stemmer, "dying")[0].0, "die");
    }

    #[test]
    fn snippet_analyzer_stems_the_words_of_its_initials_as_the_analyzer_does() {
        let text = "Market research: the CTO's strategies, marketing MEETINGS and cafés; a manager's \
            decisions, market researchers";
        let full = tokens(analyzer(), text);
        let initials: Vec<char> = full.iter().filter_map(|t| t.0.chars().next()).collect();
        assert_eq!(tokens(snippet_analyzer(initials), text), full);
        let only_m = tokens(snippet_analyzer(vec!['m']), text);
        assert_eq!(only_m.len(), full.len());
        for (some, all) in only_m.iter().zip(&full) {
            assert_eq!((some.1, some.2, some.3), (all.1, all.2, all.3), "{some:?}");
            if all.0.starts_with('m') {
                assert_eq!(some, all);
            } else {
                assert_eq!(
                    some.0,
                    text[some.2..some.3].to_lowercase().replace('é', "e"),
                    "{some:?}"
                );
            }
        }
    }
}
