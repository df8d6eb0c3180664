//! Search: turns a user's query and filters into ranked, labelled hits with snippets.
//! Never prints; any text a person types is a valid query.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tantivy::collector::{Collector, Count, FacetCollector, FacetCounts, SegmentCollector, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, EnableScoring, Occur, Query, TermQuery, Weight};
use tantivy::schema::{Facet, Field, IndexRecordOption};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Searcher, Term};

mod exclude;
mod explain;
pub mod fusion;
mod handoff;
mod plan;
mod semantic;
mod stored;
mod synonyms;
mod typo;

use handoff::Task;
pub(crate) use plan::Plan;
pub(crate) use stored::passage_query;
use stored::{context, load};
pub use typo::{typo_budget, typo_distance, TypoAutomaton};

use crate::embed::QueryVector;
use crate::index::{field, snippet_analyzer, Fields, LiveIndex};
use crate::label::Taxonomy;
use crate::model::{Facets, Hit, LabelKind, Labels, Results, Snippet};

/// Passages each ranking of a hybrid search brings to the fusion (more when `--limit` asks).
const FUSION_CANDIDATES: usize = 100;
/// Indexes of fewer passages are searched on one thread: their search costs less than
/// starting another (the bundled article took 1.25 times as long at load 20 with a second).
const HELPED_PASSAGES: u64 = 100_000;
/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 220;

/// A search to run: the query as typed, label filters as slugs (any of each kind), how many
/// hits to return, and what to add to each hit.
#[derive(Debug, Clone)]
pub struct Request {
    pub query: String,
    pub roles: Vec<String>,
    pub topics: Vec<String>,
    pub limit: usize,
    /// Let words of 5 letters or more match indexed words one or two typos away.
    pub typos: bool,
    /// Expand words with the taxonomy's synonyms (never inside a quoted phrase).
    pub synonyms: bool,
    /// Attach score and label explanations to hits.
    pub explain: bool,
    /// Attach this many neighbouring passages on each side of every hit.
    pub context: usize,
    /// Also match the last word as the start of longer indexed words (search as you type),
    /// unless the query ends with a space or the word is quoted, signed or fielded.
    pub prefix: bool,
    /// Rank by words, by meaning, or both fused.
    pub mode: Mode,
}

/// Which rankings a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BM25 over the words (with typos and synonyms).
    Lexical,
    /// Cosine similarity of sentence vectors alone.
    Semantic,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

impl Request {
    /// A plain request: typo tolerance on, no explanations, no context.
    pub fn new(query: &str, limit: usize) -> Request {
        Request {
            query: query.to_string(),
            roles: Vec::new(),
            topics: Vec::new(),
            limit,
            typos: true,
            synonyms: true,
            explain: false,
            context: 0,
            mode: Mode::Lexical,
            prefix: false,
        }
    }
}

/// Runs a search: BM25 over text, headings and title; filters restrict without scoring; facet
/// counts and the total cover every hit, not only the first `limit`.
pub fn run(live: &LiveIndex, request: &Request) -> Result<Results> {
    run_in_mode(live, request, None)
}

/// Runs a search in the request's mode; semantic and hybrid need the index's vectors and the
/// query's vector by the model that made them (`query`).
pub fn run_in_mode(live: &LiveIndex, request: &Request, query: Option<&QueryVector>) -> Result<Results> {
    let searcher = live.reader.searcher();
    let plan = Plan::build(live, &searcher, request)?;
    let meaning = semantic::Meaning::of(live, request, query)?;
    let mut results = execute(live, &searcher, &plan, request, meaning.as_ref())?;
    results.did_you_mean = plan.did_you_mean(&searcher, &live.fields, &request.query)?;
    Ok(results)
}

/// Runs the request once per role slug, each restricted to that role (`--by-role`). The query
/// is parsed, and its typo lookups made, once for all roles; the spelling suggestion belongs
/// to the overall search, so these results carry none.
pub fn run_per_role(
    live: &LiveIndex,
    request: &Request,
    roles: &[String],
    query: Option<&QueryVector>,
) -> Result<Vec<Results>> {
    let searcher = live.reader.searcher();
    let plan = Plan::build(live, &searcher, request)?;
    let meaning = semantic::Meaning::of(live, request, query)?;
    roles
        .iter()
        .map(|slug| {
            let role_request = Request {
                roles: vec![slug.clone()],
                ..request.clone()
            };
            execute(live, &searcher, &plan, &role_request, meaning.as_ref())
        })
        .collect()
}

/// Searches with a parsed query: the filters, the best hits with their snippets (and
/// explanations and context when asked), the total and the label counts.
fn execute(
    live: &LiveIndex,
    searcher: &Searcher,
    plan: &Plan,
    request: &Request,
    meaning: Option<&semantic::Meaning>,
) -> Result<Results> {
    if let Some(meaning) = meaning {
        return semantic::execute(live, searcher, plan, request, meaning);
    }
    let helped = searcher.num_docs() >= HELPED_PASSAGES;
    lexical(live, searcher, plan, request, helped)
}

/// [`execute`] by words: with `helped`, a second thread takes pieces of the work.
fn lexical(
    live: &LiveIndex,
    searcher: &Searcher,
    plan: &Plan,
    request: &Request,
    helped: bool,
) -> Result<Results> {
    let fields = &live.fields;
    if !plan::has_terms(&*plan.query) {
        // Only punctuation, stop words or symbols: nothing is searched, so nothing matches
        // (tantivy would otherwise read an empty clause list as "every passage").
        return Ok(Results {
            query: request.query.clone(),
            ..Results::default()
        });
    }
    let query = with_filters(plan.query.box_clone(), fields, &request.roles, &request.topics);
    let limit = request.limit.min(searcher.num_docs() as usize).max(1);
    // The best hits alone let tantivy skip blocks that cannot make the top (block-max WAND);
    // the total and the label counts need every hit, so they come from a second pass that
    // scores nothing, and the label counts only when the index has labels. On a large index
    // each pass costs as much as reading the hits, and the freshness check beside the search
    // leaves a core idle once it is done: a second thread searches the later segments for
    // the best hits, then counts, while this one searches the first segments and reads the
    // hits. Whichever thread comes first to a piece does it ([`Task`]), so this one never
    // waits for a thread a busy machine has not started yet. When fewer passages match than
    // the top holds, the top is every hit and the count is not needed.
    let taxonomy = &live.taxonomy;
    let weight = query
        .weight(EnableScoring::enabled_from_searcher(searcher))
        .context("searching the index")?;
    let shared = Arc::new(Shared {
        top_docs: TopDocs::with_limit(limit).order_by_score(),
        own: first_half(searcher.segment_readers()),
        searcher: searcher.clone(),
        weight,
        query,
        labelled: !(taxonomy.roles.is_empty() && taxonomy.topics.is_empty()),
        theirs: Task::new(),
        count: Task::new(),
    });
    if helped {
        let helping = Arc::clone(&shared);
        // Without a thread, this one does everything.
        let _ = std::thread::Builder::new()
            .name("search-help".into())
            .spawn(move || {
                helping.theirs.offer(|| helping.later_segments());
                helping.count.offer(|| helping.count());
            });
    }
    let top_docs = &shared.top_docs;
    let mut found: Vec<_> = searcher.segment_readers()[..shared.own]
        .iter()
        .zip(0..)
        .map(|(segment, ord)| top_docs.collect_segment(&*shared.weight, ord, segment))
        .collect();
    found.extend(shared.theirs.take(|| shared.later_segments()));
    let found = found
        .into_iter()
        .collect::<tantivy::Result<Vec<_>>>()
        .context("searching the index")?;
    let top = top_docs.merge_fruits(found).context("searching the index")?;
    let every_hit = top.len() < limit;
    let snippets = snippet_generator(searcher, &*plan.query, fields.text)?;
    let passages = top
        .into_iter()
        .take(request.limit)
        .map(|(score, address)| Ok((score, address, load(searcher, fields, address)?)))
        .collect::<Result<Vec<_>>>()?;
    // Not needed when the top is every hit: whatever the count gives is then left unread.
    let counted = match every_hit {
        true => None,
        false => {
            let (total, facets) = shared.count.take(|| shared.count())?;
            Some((
                total,
                facets.map(|f| labelled_counts(taxonomy, &f)).unwrap_or_default(),
            ))
        }
    };
    let (total, facets) = match counted {
        Some(counted) => counted,
        None => (
            passages.len(),
            hit_counts(taxonomy, passages.iter().map(|(_, _, p)| &p.labels)),
        ),
    };
    let mut hits = Vec::new();
    for (score, address, passage) in passages {
        let explanation = if request.explain {
            let (section, text) = (&passage.section, &passage.text);
            Some(explain::explain(live, searcher, address, plan, section, text)?)
        } else {
            None
        };
        let context = if request.context > 0 {
            Some(context(searcher, fields, &passage, request.context)?)
        } else {
            None
        };
        let snippet = snippet(&snippets, &passage.text);
        hits.push(passage.into_hit(hits.len() + 1, score, snippet, explanation, context));
    }
    Ok(Results {
        query: request.query.clone(),
        total_hits: total,
        hits,
        facets,
        did_you_mean: None,
    })
}

/// The number of passages a query matches and their label counts (only when the index has
/// labels), from a pass that scores nothing.
fn count(live: &LiveIndex, searcher: &Searcher, query: &dyn Query) -> Result<(usize, Facets)> {
    let taxonomy = &live.taxonomy;
    let labelled = !(taxonomy.roles.is_empty() && taxonomy.topics.is_empty());
    let (total, facets) = count_hits(labelled, searcher, query)?;
    Ok((
        total,
        facets.map(|f| labelled_counts(taxonomy, &f)).unwrap_or_default(),
    ))
}

/// Role and topic counts as tantivy gives them, of the roles and the topics.
type FacetPair = (FacetCounts, FacetCounts);

/// The number of passages `query` matches and, when `labelled`, their role and topic counts.
fn count_hits(labelled: bool, searcher: &Searcher, query: &dyn Query) -> Result<(usize, Option<FacetPair>)> {
    if !labelled {
        return Ok((query.count(searcher).context("counting hits")?, None));
    }
    let mut roles = FacetCollector::for_field(field::ROLES);
    roles.add_facet(Facet::root());
    let mut topics = FacetCollector::for_field(field::TOPICS);
    topics.add_facet(Facet::root());
    let (total, role_counts, topic_counts) = searcher
        .search(query, &(Count, roles, topics))
        .context("counting hits per label")?;
    Ok((total, Some((role_counts, topic_counts))))
}

/// The label counts of [`count_hits`] in taxonomy order.
fn labelled_counts(taxonomy: &Taxonomy, (roles, topics): &FacetPair) -> Facets {
    Facets {
        roles: counts(taxonomy, LabelKind::Role, roles),
        topics: counts(taxonomy, LabelKind::Topic, topics),
    }
}

/// What the search's two threads share: the query, its weight, the collector of the best
/// hits, which segments are this thread's (`..own`), and the two pieces the other thread
/// offers to do.
struct Shared<C: Collector> {
    searcher: Searcher,
    weight: Box<dyn Weight>,
    query: Box<dyn Query>,
    top_docs: C,
    own: usize,
    labelled: bool,
    /// The best hits of the segments from `own` on, one list a segment.
    theirs: Task<Vec<tantivy::Result<SegmentFruit<C>>>>,
    count: Task<Result<(usize, Option<FacetPair>)>>,
}

/// What a collector gathers from one segment.
type SegmentFruit<C> = <<C as Collector>::Child as SegmentCollector>::Fruit;

impl<C: Collector> Shared<C> {
    /// The best hits of each segment from `own` on, as tantivy's search collects them.
    fn later_segments(&self) -> Vec<tantivy::Result<SegmentFruit<C>>> {
        self.searcher.segment_readers()[self.own..]
            .iter()
            .zip(self.own..)
            .map(|(segment, ord)| self.top_docs.collect_segment(&*self.weight, ord as u32, segment))
            .collect()
    }

    /// Every hit of the query counted, with its labels when the index has them.
    fn count(&self) -> Result<(usize, Option<FacetPair>)> {
        count_hits(self.labelled, &self.searcher, &*self.query)
    }
}

/// How many of `segments`, from the first, hold half their passages or more (at least one):
/// the search's own share of the best hits, the rest going to the other thread.
fn first_half(segments: &[tantivy::SegmentReader]) -> usize {
    let total: u64 = segments.iter().map(|s| u64::from(s.max_doc())).sum();
    let mut own = 0;
    let mut held = 0;
    while own < segments.len() && 2 * held < total {
        held += u64::from(segments[own].max_doc());
        own += 1;
    }
    own.max(segments.len().min(1))
}

/// The label counts of the given passages' labels, as [`count`] gives them for the passages
/// a query matches (empty when the index has no labels).
fn hit_counts<'a>(taxonomy: &Taxonomy, labels: impl Iterator<Item = &'a Labels> + Clone) -> Facets {
    if taxonomy.roles.is_empty() && taxonomy.topics.is_empty() {
        return Facets::default();
    }
    let tally = |slugs: &mut dyn Iterator<Item = &'a String>| {
        let mut found = std::collections::BTreeMap::<String, u64>::new();
        for slug in slugs {
            *found.entry(slug.clone()).or_default() += 1;
        }
        found.into_iter().collect()
    };
    Facets {
        roles: ordered(
            taxonomy,
            LabelKind::Role,
            tally(&mut labels.clone().flat_map(|l| &l.roles)),
        ),
        topics: ordered(
            taxonomy,
            LabelKind::Topic,
            tally(&mut labels.flat_map(|l| &l.topics)),
        ),
    }
}

/// Finds one passage by id (`source:ordinal`), with `around` neighbours on each side.
pub fn show(live: &LiveIndex, id: &str, around: usize) -> Result<Option<Hit>> {
    let searcher = live.reader.searcher();
    let fields = &live.fields;
    let Some(query) = passage_query(fields, id) else {
        return Ok(None);
    };
    let top = searcher
        .search(&query, &TopDocs::with_limit(1).order_by_score())
        .context("looking up the passage")?;
    let Some((_, address)) = top.into_iter().next() else {
        return Ok(None);
    };
    let passage = load(&searcher, fields, address)?;
    let context = context(&searcher, fields, &passage, around)?;
    let whole = Snippet {
        text: passage.text.clone(),
        highlights: Vec::new(),
    };
    Ok(Some(passage.into_hit(1, 0.0, whole, None, Some(context))))
}

/// Passage counts per role and topic over the whole index, in taxonomy order.
pub fn label_counts(live: &LiveIndex) -> Result<Facets> {
    let searcher = live.reader.searcher();
    let mut roles = FacetCollector::for_field(field::ROLES);
    roles.add_facet(Facet::root());
    let mut topics = FacetCollector::for_field(field::TOPICS);
    topics.add_facet(Facet::root());
    let (role_counts, topic_counts) = searcher
        .search(&tantivy::query::AllQuery, &(roles, topics))
        .context("counting labels")?;
    Ok(Facets {
        roles: counts(&live.taxonomy, LabelKind::Role, &role_counts),
        topics: counts(&live.taxonomy, LabelKind::Topic, &topic_counts),
    })
}

/// Adds role and topic filters: each kind is "any of", kinds combine with AND, and filters
/// contribute nothing to the score.
fn with_filters(
    query: Box<dyn Query>,
    fields: &Fields,
    roles: &[String],
    topics: &[String],
) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, query)];
    for (field, slugs) in [(fields.roles, roles), (fields.topics, topics)] {
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
fn counts(
    taxonomy: &Taxonomy,
    kind: LabelKind,
    facet_counts: &tantivy::collector::FacetCounts,
) -> Vec<(String, u64)> {
    let found: Vec<(String, u64)> = facet_counts
        .get(Facet::root())
        .map(|(facet, n)| {
            (
                facet.to_path().last().map(|s| s.to_string()).unwrap_or_default(),
                n,
            )
        })
        .collect();
    ordered(taxonomy, kind, found)
}

/// Label counts (`found`, in slug order) put in taxonomy order; labels the taxonomy does not
/// know come last.
fn ordered(taxonomy: &Taxonomy, kind: LabelKind, found: Vec<(String, u64)>) -> Vec<(String, u64)> {
    let mut ordered: Vec<(String, u64)> = taxonomy
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

/// Snippets of `field` for `query`, as tantivy's `SnippetGenerator::create` makes them (each
/// term of the field weighed by its rarity), with an analyzer that stems only the words that
/// may be one of those terms ([`snippet_analyzer`]): the same snippets for a third of the work.
fn snippet_generator(searcher: &Searcher, query: &dyn Query, field: Field) -> Result<SnippetGenerator> {
    let mut terms: BTreeSet<&Term> = BTreeSet::new();
    query.query_terms(&mut |term, _| {
        if term.field() == field {
            terms.insert(term);
        }
    });
    let mut weights: BTreeMap<String, f32> = BTreeMap::new();
    for term in terms {
        let value = term.value();
        let Some(text) = value.as_str() else {
            continue;
        };
        let doc_freq = searcher.doc_freq(term).context("preparing snippets")?;
        if doc_freq > 0 {
            weights.insert(text.to_string(), 1.0 / (1.0 + doc_freq as f32));
        }
    }
    let mut initials: Vec<char> = weights.keys().filter_map(|t| t.chars().next()).collect();
    initials.dedup();
    let analyzer = snippet_analyzer(initials);
    Ok(SnippetGenerator::new(weights, analyzer, field, SNIPPET_CHARS))
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

/// The first words of `text`, at most about `max_chars` characters (cut at a word).
pub(crate) fn opening(text: &str, max_chars: usize) -> String {
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
    fn a_search_helped_by_a_second_thread_gives_what_one_thread_gives() {
        let dir = tempfile::tempdir().expect("temp dir");
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let live = crate::index::build_and_open(&corpus, &dir.path().join("index"), 50 << 20).expect("index");
        let searcher = live.reader.searcher();
        let filters: [(&[&str], &[&str]); 4] = [
            (&[], &[]),
            (&["ceo"], &[]),
            (&[], &["responsibilities", "skills"]),
            (&["cto", "product-manager"], &["skills"]),
        ];
        let mut counted = 0;
        for query in [
            "market research",
            "technology team",
            "product",
            "decisions OR strategy",
        ] {
            for (roles, topics) in filters {
                let mut every = Request::new(query, 100_000);
                every.roles = roles.iter().map(|r| r.to_string()).collect();
                every.topics = topics.iter().map(|t| t.to_string()).collect();
                let plan = Plan::build(&live, &searcher, &every).expect("plan");
                let all = lexical(&live, &searcher, &plan, &every, false).expect("search");
                for limit in [1, 2, 100_000] {
                    let request = Request {
                        limit,
                        ..every.clone()
                    };
                    let alone = lexical(&live, &searcher, &plan, &request, false).expect("search");
                    let helped = lexical(&live, &searcher, &plan, &request, true).expect("search");
                    assert_eq!(helped, alone, "{query} {roles:?} {topics:?} {limit}");
                    assert_eq!(
                        helped.total_hits, all.total_hits,
                        "{query} {roles:?} {topics:?} {limit}"
                    );
                    assert_eq!(helped.facets, all.facets, "{query} {roles:?} {topics:?} {limit}");
                    counted += usize::from(all.total_hits > limit);
                }
            }
        }
        assert!(counted >= 20, "only {counted} searches counted beyond their top");
    }

    #[test]
    fn opening_cuts_at_a_word() {
        assert_eq!(opening("alpha beta gamma", 12), "alpha beta");
        assert_eq!(opening("short", 12), "short");
    }
}
