//! Reading the index's term dictionary for a query: indexed words near a typed one, the words
//! a prefix starts, and how a term is written in a passage.

use std::collections::BTreeMap;

use anyhow::Result;
use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer, TokenStream};
use tantivy::{Searcher, TantivyDocument, Term};

use crate::index::{analyzer, Fields};
use crate::search::typo::{typo_distance, TypoAutomaton};

/// Indexed words the last word may be the start of (search as you type), commonest first.
const MAX_PREFIX_EXPANSIONS: usize = 12;
/// Terms of one segment's dictionary read for one prefix, at most: bounds the cost of a short
/// prefix on a large index.
const MAX_PREFIX_SCAN: usize = 20_000;

/// An indexed term near a typed one.
pub(super) struct NearTerm {
    pub(super) term: String,
    pub(super) distance: u8,
    doc_freq: u64,
}

/// Indexed terms of `field` within `max_distance` typos of `stem` ([`typo_distance`]),
/// closest first, then commonest.
pub(super) fn near_terms(
    searcher: &Searcher,
    field: Field,
    stem: &str,
    max_distance: u8,
) -> Result<Vec<NearTerm>> {
    let mut found: BTreeMap<String, u64> = BTreeMap::new();
    for segment in searcher.segment_readers() {
        let Some(automaton) = TypoAutomaton::new(stem, max_distance) else {
            break;
        };
        let inverted = segment.inverted_index(field)?;
        let mut stream = inverted.terms().search(automaton).into_stream()?;
        while stream.advance() {
            if let Ok(term) = std::str::from_utf8(stream.key()) {
                if term != stem {
                    *found.entry(term.to_string()).or_default() += u64::from(stream.value().doc_freq);
                }
            }
        }
    }
    let mut near: Vec<NearTerm> = found
        .into_iter()
        .map(|(term, doc_freq)| NearTerm {
            distance: typo_distance(stem, &term).min(usize::from(u8::MAX)) as u8,
            term,
            doc_freq,
        })
        .collect();
    near.sort_by(|a, b| {
        a.distance
            .cmp(&b.distance)
            .then(b.doc_freq.cmp(&a.doc_freq))
            .then(a.term.cmp(&b.term))
    });
    Ok(near)
}

/// The last word of a query being typed: letters and digits only, not followed by a space
/// (a space says the word is finished) and not quoted, signed, starred or fielded.
pub(super) fn last_plain_word(text: &str) -> Option<String> {
    if text.ends_with(char::is_whitespace) {
        return None;
    }
    let word = text.split_whitespace().last()?;
    word.chars().all(char::is_alphanumeric).then(|| word.to_string())
}

/// A word as the index writes it before stemming: lower-cased, accents folded.
pub(super) fn fold(word: &str) -> String {
    let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    let mut stream = analyzer.token_stream(word);
    let mut out = String::new();
    while stream.advance() {
        out.push_str(&stream.token().text);
    }
    out
}

/// Indexed terms of `field` that start with any of `starts` (the starts themselves included),
/// commonest first, at most [`MAX_PREFIX_EXPANSIONS`].
pub(super) fn prefix_terms(searcher: &Searcher, field: Field, starts: &[String]) -> Result<Vec<String>> {
    let mut found: BTreeMap<String, u64> = BTreeMap::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        for start in starts {
            let mut stream = inverted.terms().range().ge(start.as_bytes()).into_stream()?;
            let mut scanned = 0;
            while stream.advance() && scanned < MAX_PREFIX_SCAN {
                scanned += 1;
                if !stream.key().starts_with(start.as_bytes()) {
                    break;
                }
                if let Ok(term) = std::str::from_utf8(stream.key()) {
                    *found.entry(term.to_string()).or_default() += u64::from(stream.value().doc_freq);
                }
            }
        }
    }
    let mut terms: Vec<(String, u64)> = found.into_iter().collect();
    terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(terms
        .into_iter()
        .take(MAX_PREFIX_EXPANSIONS)
        .map(|(term, _)| term)
        .collect())
}

/// How an indexed term is written in a passage that holds it (lower-cased).
pub(super) fn surface_form(searcher: &Searcher, fields: &Fields, term: &str) -> Result<Option<String>> {
    let query = TermQuery::new(Term::from_field_text(fields.text, term), IndexRecordOption::Basic);
    let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
    let Some((_, address)) = top.into_iter().next() else {
        return Ok(None);
    };
    let doc: TantivyDocument = searcher.doc(address)?;
    let text = doc
        .get_first(fields.text)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(&text);
    while stream.advance() {
        let token = stream.token();
        if token.text == term {
            return Ok(text
                .get(token.offset_from..token.offset_to)
                .map(str::to_lowercase));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unfinished_plain_last_word_is_a_prefix() {
        for (query, expected) in [
            ("market res", Some("res")),
            ("res", Some("res")),
            ("market res ", None),
            ("\"market res\"", None),
            ("investors -med", None),
            ("title:skil", None),
            ("", None),
            ("Résumé", Some("Résumé")),
        ] {
            assert_eq!(last_plain_word(query).as_deref(), expected, "{query:?}");
        }
    }

    #[test]
    fn a_prefix_is_folded_as_the_index_folds_words() {
        assert_eq!(fold("Résu"), "resu");
        assert_eq!(fold("CYBER"), "cyber");
    }
}
