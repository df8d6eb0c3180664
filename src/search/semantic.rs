//! Search by meaning: the passages whose vectors are closest to the query's, under the same
//! role and topic filters as the words, and the sentence of a passage closest to the query.

use crate::embed;
use crate::index::Fields;
use crate::index::Vectors;
use crate::model::Snippet;
use anyhow::{Context as _, Result};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, Term};

/// Below this cosine a passage is taken to be about something else: it is not a hit by
/// meaning (all-MiniLM-L6-v2 gives unrelated English sentences cosines of about −0.1 to 0.2).
pub const MIN_SIMILARITY: f32 = 0.25;

/// Up to `want` passages closest to `query` with a cosine of at least [`MIN_SIMILARITY`],
/// closest first, each with its address, cosine and closest sentence; `filter` (role and topic
/// clauses) applies. Brute force: every vector is compared, then candidates are looked up by
/// id until enough pass the filter.
pub(super) fn nearest(
    searcher: &Searcher,
    fields: &Fields,
    vectors: &Vectors,
    query: &[f32],
    filter: Option<&dyn Query>,
    want: usize,
) -> Result<Vec<(DocAddress, f32, Option<usize>)>> {
    let mut found = Vec::new();
    for near in vectors.nearest_passages(query) {
        if near.similarity < MIN_SIMILARITY || found.len() >= want {
            break;
        }
        let by_id: Box<dyn Query> = Box::new(TermQuery::new(
            Term::from_field_text(fields.id, near.passage),
            IndexRecordOption::Basic,
        ));
        let lookup: Box<dyn Query> = match filter {
            Some(filter) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, by_id),
                (Occur::Must, filter.box_clone()),
            ])),
            None => by_id,
        };
        let top = searcher
            .search(&*lookup, &TopDocs::with_limit(1).order_by_score())
            .context("looking up a passage found by meaning")?;
        if let Some((_, address)) = top.into_iter().next() {
            found.push((address, near.similarity, near.sentence));
        }
    }
    Ok(found)
}

/// Sentence `k` (1-based, as numbered when the passage was embedded) of `text` as a snippet
/// without highlights (a passage found by meaning alone has no query word to mark); the
/// passage's opening when it is one sentence.
pub(super) fn sentence_snippet(text: &str, k: Option<usize>, max_chars: usize) -> Snippet {
    let sentences = embed::sentences(text);
    let chosen = k
        .and_then(|k| sentences.get(k.wrapping_sub(1)))
        .copied()
        .unwrap_or(text);
    Snippet {
        text: super::opening(chosen, max_chars),
        highlights: Vec::new(),
    }
}
