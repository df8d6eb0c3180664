//! Stored passages: reading a hit's passage back from the index, its neighbours in the same
//! document, and finding a passage by its id (`source:ordinal`).

use std::ops::Bound;

use anyhow::{Context as _, Result};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Facet, IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use crate::index::Fields;
use crate::model::{passage_id, Context, Explanation, Hit, Labels, Neighbor, Snippet};

/// A passage as the index stores it: what a hit shows besides its rank, score and snippet.
pub(super) struct StoredPassage {
    pub(super) id: String,
    pub(super) source: String,
    pub(super) title: String,
    pub(super) ordinal: u64,
    pub(super) section: Vec<String>,
    pub(super) labels: Labels,
    pub(super) text: String,
}

impl StoredPassage {
    /// The hit this passage makes at `rank`, with what the search found for it.
    pub(super) fn into_hit(
        self,
        rank: usize,
        score: f32,
        snippet: Snippet,
        explanation: Option<Explanation>,
        context: Option<Context>,
    ) -> Hit {
        Hit {
            id: self.id,
            rank,
            score,
            source: self.source,
            document: self.title,
            ordinal: self.ordinal,
            section: self.section,
            labels: self.labels,
            text: self.text,
            snippet,
            explanation,
            context,
        }
    }
}

/// Reads a stored passage back.
pub(super) fn load(searcher: &Searcher, fields: &Fields, address: DocAddress) -> Result<StoredPassage> {
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
    let source = text_of(fields.source);
    let ordinal = doc
        .get_first(fields.ordinal)
        .and_then(|v| v.as_u64())
        .unwrap_or_default();
    Ok(StoredPassage {
        id: passage_id(&source, ordinal),
        source,
        title: text_of(fields.title),
        ordinal,
        section: doc
            .get_all(fields.section)
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        labels: Labels {
            roles: facets_of(fields.roles),
            topics: facets_of(fields.topics),
        },
        text: text_of(fields.text),
    })
}

/// The passages within `around` positions of `passage` in the same document.
pub(super) fn context(
    searcher: &Searcher,
    fields: &Fields,
    passage: &StoredPassage,
    around: usize,
) -> Result<Context> {
    let (source, ordinal) = (passage.source.as_str(), passage.ordinal);
    let around = around as u64;
    let query = passages_of(
        fields,
        source,
        ordinal.saturating_sub(around),
        ordinal.saturating_add(around),
    );
    let top = searcher
        .search(
            &query,
            &TopDocs::with_limit((2 * around + 1) as usize).order_by_score(),
        )
        .context("reading neighbouring passages")?;
    let mut result = Context::default();
    let mut neighbours = Vec::new();
    for (_, address) in top {
        neighbours.push(load(searcher, fields, address)?);
    }
    neighbours.sort_by_key(|h| h.ordinal);
    for stored in neighbours {
        let neighbour = Neighbor {
            id: stored.id,
            ordinal: stored.ordinal,
            section: stored.section,
            text: stored.text,
        };
        if neighbour.ordinal < ordinal {
            result.before.push(neighbour);
        } else if neighbour.ordinal > ordinal {
            result.after.push(neighbour);
        }
    }
    Ok(result)
}

/// The passages of `source` whose ordinals lie in `first..=last`. The ordinal is a fast field:
/// tantivy filters it by value, so it needs no entry in the inverted index.
fn passages_of(fields: &Fields, source: &str, first: u64, last: u64) -> BooleanQuery {
    let same_source: Box<dyn Query> = Box::new(TermQuery::new(
        Term::from_field_text(fields.source, source),
        IndexRecordOption::Basic,
    ));
    let nearby: Box<dyn Query> = Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_u64(fields.ordinal, first)),
        Bound::Included(Term::from_field_u64(fields.ordinal, last)),
    ));
    BooleanQuery::new(vec![(Occur::Must, same_source), (Occur::Must, nearby)])
}

/// The passage with the id `source:ordinal` (the index keeps the two parts, not the id);
/// `None` for a text that is no passage id.
pub(crate) fn passage_query(fields: &Fields, id: &str) -> Option<BooleanQuery> {
    let (source, ordinal) = id.rsplit_once(':')?;
    let ordinal = ordinal.parse::<u64>().ok()?;
    Some(passages_of(fields, source, ordinal, ordinal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passage_query_takes_the_last_colon_and_refuses_what_is_no_id() {
        let fields = Fields::of(&crate::index::schema()).expect("fields");
        for (id, ok) in [
            ("a.txt:3", true),
            ("dir/with:colon.md:12", true),
            ("a.txt", false),
            ("a.txt:", false),
            ("a.txt:x", false),
            ("a.txt:-1", false),
        ] {
            assert_eq!(passage_query(&fields, id).is_some(), ok, "{id}");
        }
    }
}
