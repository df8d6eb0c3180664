//! Search by meaning: the passages whose vectors are closest to the query's, under the same
//! role and topic filters as the words, fused with the words' ranking in hybrid mode, each
//! shown by its sentence closest to the query when no query word is in it.

use anyhow::{Context as _, Result};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Searcher};

use super::{
    context, count, explain, fusion, load, plan, snippet, with_filters, Mode, Plan, Request,
    FUSION_CANDIDATES, SNIPPET_CHARS,
};
use crate::embed::{self, QueryVector};
use crate::index::{Fields, LiveIndex, Vectors};
use crate::model::{Facets, Fusion, LabelKind, Labels, Results, Snippet};

/// Below this cosine a passage is taken to be about something else: it is not a hit by
/// meaning (all-MiniLM-L6-v2 gives unrelated English sentences cosines of about −0.1 to 0.2).
pub const MIN_SIMILARITY: f32 = 0.25;

/// What a search by meaning needs: the passage vectors and the query's vector.
pub(super) struct Meaning<'a> {
    vectors: &'a Vectors,
    query: &'a [f32],
}

impl<'a> Meaning<'a> {
    /// `None` in lexical mode; an error when the mode needs vectors the index or the model
    /// cannot give (the caller decides beforehand whether to fall back to words).
    pub(super) fn of(
        live: &'a LiveIndex,
        request: &Request,
        query: Option<&'a QueryVector>,
    ) -> Result<Option<Meaning<'a>>> {
        if request.mode == Mode::Lexical {
            return Ok(None);
        }
        let Some(vectors) = &live.vectors else {
            anyhow::bail!("the index has no passage vectors; run `rsearch index --vectors`");
        };
        let Some(query) = query else {
            anyhow::bail!("no embedding model: {}", crate::embed::HOW_TO_GET);
        };
        let vectors = vectors.load().context("reading the index's passage vectors")?;
        if vectors.fingerprint != query.fingerprint {
            anyhow::bail!(
                "the index's vectors were made by model {}, not {}; run `rsearch index --vectors --full`",
                vectors.fingerprint,
                query.fingerprint
            );
        }
        Ok(Some(Meaning {
            vectors,
            query: &query.vector,
        }))
    }
}

/// A search by meaning, alone or fused with the words' BM25 ranking. Each side brings its best
/// passages under the same filters (at least [`FUSION_CANDIDATES`]); the total and the label
/// counts cover every passage the words match plus the passages found by meaning alone.
pub(super) fn execute(
    live: &LiveIndex,
    searcher: &Searcher,
    plan: &Plan,
    request: &Request,
    meaning: &Meaning,
) -> Result<Results> {
    let fields = &live.fields;
    let want = request.limit.max(FUSION_CANDIDATES);
    let filter = label_filter(fields, &request.roles, &request.topics);
    let words = (request.mode == Mode::Hybrid && plan::has_terms(&*plan.query))
        .then(|| with_filters(plan.query.box_clone(), fields, &request.roles, &request.topics));
    let (lexical, mut total, mut facets) = match &words {
        Some(query) => {
            let limit = want.min(searcher.num_docs() as usize).max(1);
            let top = searcher
                .search(&**query, &TopDocs::with_limit(limit).order_by_score())
                .context("searching the index")?;
            let (total, facets) = count(live, searcher, &**query)?;
            (top, total, facets)
        }
        None => (Vec::new(), 0, Facets::default()),
    };
    let near = nearest(
        searcher,
        fields,
        meaning.vectors,
        meaning.query,
        filter.as_deref(),
        want,
    )?;
    let lexical_keys: Vec<DocAddress> = lexical.iter().map(|(_, a)| *a).collect();
    let near_keys: Vec<DocAddress> = near.iter().map(|(a, _, _)| *a).collect();
    let weight = plan.lexical_weight();
    let fused = fusion::weighted_reciprocal_rank(&lexical_keys, &near_keys, weight);
    // Passages found by meaning alone add to the total and the label counts.
    for (address, _, _) in &near {
        if lexical_keys.contains(address) {
            continue;
        }
        let matched_by_words = match &words {
            Some(query) if total > lexical_keys.len() => matches(searcher, &**query, *address)?,
            _ => false,
        };
        if !matched_by_words {
            total += 1;
            add_labels(live, &mut facets, &load(searcher, fields, *address)?.labels);
        }
    }
    let mut snippets =
        SnippetGenerator::create(searcher, &*plan.query, fields.text).context("preparing snippets")?;
    snippets.set_max_num_chars(SNIPPET_CHARS);
    let mut hits = Vec::new();
    for entry in fused.into_iter().take(request.limit) {
        let address = entry.key;
        let passage = load(searcher, fields, address)?;
        let rank = hits.len() + 1;
        let bm25 = entry.lexical_rank.map(|r| lexical[r - 1].0);
        let similarity = entry.semantic_rank.map(|r| near[r - 1].1);
        let sentence = entry.semantic_rank.and_then(|r| near[r - 1].2);
        let score = match request.mode {
            Mode::Semantic => similarity.unwrap_or_default(),
            _ => entry.score,
        };
        let mut snippet = snippet(&snippets, &passage.text);
        if snippet.highlights.is_empty() {
            snippet = sentence_snippet(&passage.text, sentence, SNIPPET_CHARS);
        }
        let explanation = if request.explain {
            let (section, text) = (&passage.section, &passage.text);
            let mut explanation = if bm25.is_some() {
                explain::explain(live, searcher, address, plan, section, text)?
            } else {
                explain::labels_only(live, section, text)
            };
            explanation.fusion = Some(Fusion {
                bm25,
                lexical_rank: entry.lexical_rank,
                similarity,
                semantic_rank: entry.semantic_rank,
                fused_rank: rank,
                lexical_weight: (request.mode == Mode::Hybrid).then_some(weight),
            });
            Some(explanation)
        } else {
            None
        };
        let context = if request.context > 0 {
            Some(context(searcher, fields, &passage, request.context)?)
        } else {
            None
        };
        hits.push(passage.into_hit(rank, score, snippet, explanation, context));
    }
    Ok(Results {
        query: request.query.clone(),
        total_hits: total,
        hits,
        facets,
        did_you_mean: None,
    })
}

/// Does the query match the passage at `address`?
fn matches(searcher: &Searcher, query: &dyn Query, address: DocAddress) -> Result<bool> {
    let weight = query
        .weight(tantivy::query::EnableScoring::disabled_from_searcher(searcher))
        .context("preparing a match check")?;
    let reader = searcher.segment_reader(address.segment_ord);
    let mut scorer = weight.scorer(reader, 1.0).context("checking a match")?;
    // A scorer starts on its first match; seeking backwards is not allowed.
    let first = tantivy::DocSet::doc(&scorer);
    Ok(first == address.doc_id
        || (first < address.doc_id && tantivy::DocSet::seek(&mut scorer, address.doc_id) == address.doc_id))
}

/// Adds one passage's labels to the label counts, keeping taxonomy order.
fn add_labels(live: &LiveIndex, facets: &mut Facets, labels: &Labels) {
    for (kind, list, counted) in [
        (LabelKind::Role, &labels.roles, &mut facets.roles),
        (LabelKind::Topic, &labels.topics, &mut facets.topics),
    ] {
        for slug in list {
            match counted.iter_mut().find(|(s, _)| s == slug) {
                Some((_, n)) => *n += 1,
                None => counted.push((slug.clone(), 1)),
            }
        }
        let order: Vec<&str> = live.taxonomy.list(kind).iter().map(|c| c.slug.as_str()).collect();
        counted.sort_by_key(|(slug, _)| order.iter().position(|s| s == slug).unwrap_or(usize::MAX));
    }
}

/// The role and topic filter alone (each kind "any of", kinds combined with AND, scoring
/// nothing); `None` without filters.
fn label_filter(fields: &Fields, roles: &[String], topics: &[String]) -> Option<Box<dyn Query>> {
    let query: Box<dyn Query> = Box::new(tantivy::query::AllQuery);
    let filtered = with_filters(query, fields, roles, topics);
    (!roles.is_empty() || !topics.is_empty()).then_some(filtered)
}

/// Up to `want` passages closest to `query` with a cosine of at least [`MIN_SIMILARITY`],
/// closest first, each with its address, cosine and closest sentence; `filter` (role and topic
/// clauses) applies. Every stored vector is compared (a byte dot product, then the rows near
/// enough scored again exactly, see [`Vectors::passages_near`]), then passages are looked up
/// by id, closest first, until enough pass the filter.
pub(super) fn nearest(
    searcher: &Searcher,
    fields: &Fields,
    vectors: &Vectors,
    query: &[f32],
    filter: Option<&dyn Query>,
    want: usize,
) -> Result<Vec<(DocAddress, f32, Option<usize>)>> {
    let mut found = Vec::new();
    for near in vectors.passages_near(query, MIN_SIMILARITY) {
        if found.len() >= want {
            break;
        }
        let Some(by_id) = super::passage_query(fields, near.passage) else {
            continue;
        };
        let by_id: Box<dyn Query> = Box::new(by_id);
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
