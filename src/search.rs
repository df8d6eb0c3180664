//! Search: turns a user's query and filters into ranked, labelled hits with snippets.
//! Never prints; any text a person types is a valid query.

use anyhow::{Context, Result};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{Facet, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use crate::index::{field, Fields, Opened};
use crate::label::Kind;
use crate::model::{Facets, Hit, Labels, Results, Snippet};

/// A heading match counts, but less than a body match.
const SECTION_BOOST: f32 = 0.5;
/// The title is shared by every passage of a document: it separates documents, not passages.
const TITLE_BOOST: f32 = 0.3;
/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 220;

/// A search to run: the query as typed, label filters as slugs (any of each kind), and how
/// many hits to return.
#[derive(Debug, Clone)]
pub struct Request {
    pub query: String,
    pub roles: Vec<String>,
    pub topics: Vec<String>,
    pub limit: usize,
}

/// Runs a search: BM25 over text, headings and title; filters restrict without scoring; facet
/// counts and the total cover every hit, not only the first `limit`.
pub fn run(opened: &Opened, request: &Request) -> Result<Results> {
    let searcher = opened.reader.searcher();
    let fields = &opened.fields;
    let user_query = parse(opened, &request.query);
    if !has_terms(&*user_query) {
        // Only punctuation, stop words or symbols: nothing is searched, so nothing matches
        // (tantivy would otherwise read an empty clause list as "every passage").
        return Ok(Results {
            query: request.query.clone(),
            ..Results::default()
        });
    }
    let query = with_filters(user_query.box_clone(), fields, request);
    let limit = request.limit.min(searcher.num_docs() as usize).max(1);
    let mut roles = FacetCollector::for_field(field::ROLES);
    roles.add_facet(Facet::root());
    let mut topics = FacetCollector::for_field(field::TOPICS);
    topics.add_facet(Facet::root());
    let (top, total, role_counts, topic_counts) = searcher
        .search(
            &query,
            &(TopDocs::with_limit(limit).order_by_score(), Count, roles, topics),
        )
        .context("searching the index")?;
    let facets = Facets {
        roles: counts(opened, Kind::Role, &role_counts),
        topics: counts(opened, Kind::Topic, &topic_counts),
    };
    let mut snippets =
        SnippetGenerator::create(&searcher, &*user_query, fields.text).context("preparing snippets")?;
    snippets.set_max_num_chars(SNIPPET_CHARS);
    let mut hits = Vec::new();
    for (score, address) in top.into_iter().take(request.limit) {
        let mut hit = load(&searcher, fields, address)?;
        hit.rank = hits.len() + 1;
        hit.score = score;
        hit.snippet = snippet(&snippets, &hit.text);
        hits.push(hit);
    }
    Ok(Results {
        query: request.query.clone(),
        total_hits: total,
        hits,
        facets,
    })
}

/// Parses leniently: never an error. A colon only names a field when the word before it is
/// one of ours, so "Note: costs" searches both words.
fn parse(opened: &Opened, text: &str) -> Box<dyn Query> {
    let fields = &opened.fields;
    let mut parser = QueryParser::for_index(&opened.index, vec![fields.text, fields.section, fields.title]);
    parser.set_field_boost(fields.section, SECTION_BOOST);
    parser.set_field_boost(fields.title, TITLE_BOOST);
    let (query, _errors) = parser.parse_query_lenient(&escape_colons(&drop_question_words(&plain(text))));
    query
}

/// Replaces by spaces what would make tantivy's parser build a query that cannot run or that
/// a person did not mean: control characters (a NUL inside "cyber\0security" would make it a
/// phrase) and `*` (`title:*` asks tantivy for a fast field our text fields do not have), except
/// after a closing quote, where it asks for a phrase prefix (`"market res"*`).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = None;
    for c in text.chars() {
        let keep = !c.is_control() && (c != '*' || previous == Some('"'));
        out.push(if keep { c } else { ' ' });
        previous = Some(c);
    }
    out
}

/// Does the parsed query look for any indexed term? A query whose every word the analyzer
/// drops (stop words, punctuation, emoji, words over 40 bytes) looks for none.
fn has_terms(query: &dyn Query) -> bool {
    let mut found = false;
    query.query_terms(&mut |_, _| found = true);
    found
}

/// Words that shape a question but say nothing of its subject. Rare in passages, they would
/// otherwise score high ("who" in "who talks to investors?").
const QUESTION_WORDS: &[&str] = &[
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "do", "does", "did", "is", "are",
    "can", "could", "should", "would",
];

/// For a question (ends with `?` or opens with a question word), drops the question words,
/// unless that leaves nothing or the query quotes a phrase.
fn drop_question_words(text: &str) -> String {
    let is_question_word = |word: &str| {
        let bare = word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        QUESTION_WORDS.contains(&bare.as_str())
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let asks = text.trim_end().ends_with('?') || words.first().is_some_and(|w| is_question_word(w));
    if !asks || text.contains('"') {
        return text.to_string();
    }
    let kept: Vec<&str> = words.iter().copied().filter(|w| !is_question_word(w)).collect();
    if kept.is_empty() {
        text.to_string()
    } else {
        kept.join(" ").replace('?', " ")
    }
}

/// Replaces `:` by a space unless it joins a searchable field name to what follows it
/// (`title:skills`); `title: skills` (or `title:*`, once the star is gone) searches both words.
fn escape_colons(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c == ':' {
            let before = &text[..i];
            let word_start = before
                .rfind(|ch: char| !ch.is_alphanumeric() && ch != '_')
                .map_or(0, |p| p + before[p..].chars().next().map_or(1, char::len_utf8));
            let word = &before[word_start..];
            let joined = text[i + 1..].starts_with(|ch: char| !ch.is_whitespace());
            if joined && [field::TEXT, field::SECTION, field::TITLE].contains(&word) {
                out.push(c);
            } else {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Adds role and topic filters: each kind is "any of", kinds combine with AND, and filters
/// contribute nothing to the score.
fn with_filters(query: Box<dyn Query>, fields: &Fields, request: &Request) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, query)];
    for (field, slugs) in [(fields.roles, &request.roles), (fields.topics, &request.topics)] {
        if slugs.is_empty() {
            continue;
        }
        let any: Vec<(Occur, Box<dyn Query>)> = slugs
            .iter()
            .map(|slug| {
                let term = Term::from_facet(field, &Facet::from_path([slug.as_str()]));
                let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
                (Occur::Should, q)
            })
            .collect();
        let filter: Box<dyn Query> = Box::new(BoostQuery::new(Box::new(BooleanQuery::new(any)), 0.0));
        clauses.push((Occur::Must, filter));
    }
    if clauses.len() == 1 {
        clauses.remove(0).1
    } else {
        Box::new(BooleanQuery::new(clauses))
    }
}

/// Label counts in taxonomy order, leaving out labels with no hit.
fn counts(opened: &Opened, kind: Kind, facet_counts: &tantivy::collector::FacetCounts) -> Vec<(String, u64)> {
    let found: Vec<(String, u64)> = facet_counts
        .get(Facet::root())
        .map(|(facet, n)| {
            (
                facet.to_path().last().map(|s| s.to_string()).unwrap_or_default(),
                n,
            )
        })
        .collect();
    let mut ordered: Vec<(String, u64)> = opened
        .taxonomy
        .list(kind)
        .iter()
        .filter_map(|c| found.iter().find(|(slug, _)| *slug == c.slug).cloned())
        .collect();
    for (slug, n) in found {
        if !ordered.iter().any(|(s, _)| *s == slug) {
            ordered.push((slug, n));
        }
    }
    ordered
}

/// Reads a stored passage back into a hit (rank, score and snippet are set by the caller).
pub fn load(searcher: &Searcher, fields: &Fields, address: DocAddress) -> Result<Hit> {
    let doc: TantivyDocument = searcher.doc(address).context("reading a stored passage")?;
    let text_of = |f| {
        doc.get_first(f)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let facets_of = |f| {
        doc.get_all(f)
            .filter_map(|v| v.as_facet())
            .filter_map(|encoded| Facet::from_encoded(encoded.as_bytes().to_vec()).ok())
            .filter_map(|facet| facet.to_path().last().map(|s| s.to_string()))
            .collect()
    };
    Ok(Hit {
        id: text_of(fields.id),
        rank: 0,
        score: 0.0,
        source: text_of(fields.source),
        document: text_of(fields.title),
        ordinal: doc
            .get_first(fields.ordinal)
            .and_then(|v| v.as_u64())
            .unwrap_or_default(),
        section: doc
            .get_all(fields.section)
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        labels: Labels {
            roles: facets_of(fields.roles),
            topics: facets_of(fields.topics),
        },
        text: text_of(fields.text),
        snippet: Snippet::default(),
    })
}

/// The passage's best window around matched terms; the passage's opening when the match was
/// only in a heading or the title.
fn snippet(generator: &SnippetGenerator, text: &str) -> Snippet {
    let generator_snippet = generator.snippet(text);
    if generator_snippet.is_empty() {
        return Snippet {
            text: opening(text, SNIPPET_CHARS),
            highlights: Vec::new(),
        };
    }
    let fragment = generator_snippet.fragment().to_string();
    Snippet {
        highlights: generator_snippet
            .highlighted()
            .iter()
            .map(|r| (r.start, r.end))
            .collect(),
        text: fragment,
    }
}

/// The first words of `text`, at most about `max_chars` characters.
fn opening(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut = text.char_indices().nth(max_chars).map_or(text.len(), |(i, _)| i);
    let end = text[..cut].rfind(' ').unwrap_or(cut);
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_after_a_plain_word_is_not_a_field() {
        assert_eq!(escape_colons("Note: costs"), "Note  costs");
        assert_eq!(escape_colons("section:skills"), "section:skills");
        assert_eq!(escape_colons("title: cto"), "title  cto");
        assert_eq!(escape_colons("title:"), "title ");
        assert_eq!(escape_colons("::"), "  ");
        assert_eq!(escape_colons("日本:語"), "日本 語");
    }

    #[test]
    fn question_words_are_dropped_from_questions_only() {
        assert_eq!(
            drop_question_words("who talks to investors?").trim(),
            "talks to investors"
        );
        assert_eq!(drop_question_words("How do CTOs work"), "CTOs work");
        assert_eq!(drop_question_words("doctor who"), "doctor who");
        assert_eq!(drop_question_words("who?"), "who?");
        assert_eq!(drop_question_words("\"who is\" here?"), "\"who is\" here?");
    }

    #[test]
    fn stars_and_control_characters_become_spaces_except_a_phrase_prefix() {
        assert_eq!(plain("title:* cto"), "title:  cto");
        assert_eq!(plain("*"), " ");
        assert_eq!(plain("\"market res\"*"), "\"market res\"*");
        assert_eq!(plain("cyber\0security\t"), "cyber security ");
    }

    #[test]
    fn opening_cuts_at_a_word() {
        assert_eq!(opening("alpha beta gamma", 12), "alpha beta");
        assert_eq!(opening("short", 12), "short");
    }
}
