//! Search: turns a user's query and filters into ranked, labelled hits with snippets.
//! Never prints; any text a person types is a valid query.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use anyhow::{Context as _, Result};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::query_grammar::{Delimiter, UserInputAst, UserInputLeaf, UserInputLiteral};
use tantivy::schema::{Facet, Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TokenStream;
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

mod explain;
mod typo;

pub use typo::{typo_budget, typo_distance, TypoAutomaton};

use crate::index::{analyzer, field, Fields, Opened};
use crate::model::{Context, Facets, Hit, LabelKind, Labels, Neighbor, Results, Snippet};

/// A heading match counts, but less than a body match.
const SECTION_BOOST: f32 = 0.5;
/// The title is shared by every passage of a document: it separates documents, not passages.
const TITLE_BOOST: f32 = 0.3;
/// A typo match weighs a tenth of an exact one, so exact matches rank first.
const TYPO_BOOST: f32 = 0.1;
/// A word found in fewer passages than this is rare enough to be a misspelling itself, so typo
/// matches are looked for too.
const RARE_WORD_PASSAGES: u64 = 3;
/// Indexed words a typed word may expand to through typos, closest and commonest first.
const MAX_TYPO_EXPANSIONS: usize = 8;
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
    /// Attach score and label explanations to hits.
    pub explain: bool,
    /// Attach this many neighbouring passages on each side of every hit.
    pub context: usize,
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
            explain: false,
            context: 0,
        }
    }
}

/// Runs a search: BM25 over text, headings and title; filters restrict without scoring; facet
/// counts and the total cover every hit, not only the first `limit`.
pub fn run(opened: &Opened, request: &Request) -> Result<Results> {
    let searcher = opened.reader.searcher();
    let plan = Plan::build(opened, &searcher, &request.query, request.typos)?;
    let mut results = execute(opened, &searcher, &plan, request)?;
    results.did_you_mean = plan.did_you_mean(&searcher, &opened.fields, &request.query)?;
    Ok(results)
}

/// Runs the request once per role slug, each restricted to that role (`--by-role`). The query
/// is parsed, and its typo lookups made, once for all roles; the spelling suggestion belongs
/// to the overall search, so these results carry none.
pub fn run_per_role(opened: &Opened, request: &Request, roles: &[String]) -> Result<Vec<Results>> {
    let searcher = opened.reader.searcher();
    let plan = Plan::build(opened, &searcher, &request.query, request.typos)?;
    roles
        .iter()
        .map(|slug| {
            let role_request = Request {
                roles: vec![slug.clone()],
                ..request.clone()
            };
            execute(opened, &searcher, &plan, &role_request)
        })
        .collect()
}

/// Searches with a parsed query: the filters, the best hits with their snippets (and
/// explanations and context when asked), the total and the label counts.
fn execute(opened: &Opened, searcher: &Searcher, plan: &Plan, request: &Request) -> Result<Results> {
    let fields = &opened.fields;
    if !has_terms(&*plan.query) {
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
    // scores nothing, and the label counts only when the index has labels.
    let top = searcher
        .search(&query, &TopDocs::with_limit(limit).order_by_score())
        .context("searching the index")?;
    let (total, facets) = if opened.taxonomy.roles.is_empty() && opened.taxonomy.topics.is_empty() {
        let total = query.count(searcher).context("counting hits")?;
        (total, Facets::default())
    } else {
        let mut roles = FacetCollector::for_field(field::ROLES);
        roles.add_facet(Facet::root());
        let mut topics = FacetCollector::for_field(field::TOPICS);
        topics.add_facet(Facet::root());
        let (total, role_counts, topic_counts) = searcher
            .search(&query, &(Count, roles, topics))
            .context("counting hits per label")?;
        let facets = Facets {
            roles: counts(opened, LabelKind::Role, &role_counts),
            topics: counts(opened, LabelKind::Topic, &topic_counts),
        };
        (total, facets)
    };
    let mut snippets =
        SnippetGenerator::create(searcher, &*plan.query, fields.text).context("preparing snippets")?;
    snippets.set_max_num_chars(SNIPPET_CHARS);
    let mut hits = Vec::new();
    for (score, address) in top.into_iter().take(request.limit) {
        let mut hit = load(searcher, fields, address)?;
        hit.rank = hits.len() + 1;
        hit.score = score;
        hit.snippet = snippet(&snippets, &hit.text);
        if request.explain {
            hit.explanation = Some(explain::explain(opened, searcher, address, plan, &hit)?);
        }
        if request.context > 0 {
            hit.context = Some(context(
                searcher,
                fields,
                &hit.source,
                hit.ordinal,
                request.context,
            )?);
        }
        hits.push(hit);
    }
    Ok(Results {
        query: request.query.clone(),
        total_hits: total,
        hits,
        facets,
        did_you_mean: None,
    })
}

/// Finds one passage by id (`source:ordinal`), with `around` neighbours on each side.
pub fn show(opened: &Opened, id: &str, around: usize) -> Result<Option<Hit>> {
    let searcher = opened.reader.searcher();
    let fields = &opened.fields;
    let query = TermQuery::new(Term::from_field_text(fields.id, id), IndexRecordOption::Basic);
    let top = searcher
        .search(&query, &TopDocs::with_limit(1).order_by_score())
        .context("looking up the passage")?;
    let Some((_, address)) = top.into_iter().next() else {
        return Ok(None);
    };
    let mut hit = load(&searcher, fields, address)?;
    hit.rank = 1;
    hit.snippet = Snippet {
        text: hit.text.clone(),
        highlights: Vec::new(),
    };
    hit.context = Some(context(&searcher, fields, &hit.source, hit.ordinal, around)?);
    Ok(Some(hit))
}

/// Passage counts per role and topic over the whole index, in taxonomy order.
pub fn label_counts(opened: &Opened) -> Result<Facets> {
    let searcher = opened.reader.searcher();
    let mut roles = FacetCollector::for_field(field::ROLES);
    roles.add_facet(Facet::root());
    let mut topics = FacetCollector::for_field(field::TOPICS);
    topics.add_facet(Facet::root());
    let (role_counts, topic_counts) = searcher
        .search(&tantivy::query::AllQuery, &(roles, topics))
        .context("counting labels")?;
    Ok(Facets {
        roles: counts(opened, LabelKind::Role, &role_counts),
        topics: counts(opened, LabelKind::Topic, &topic_counts),
    })
}

/// A parsed query: the tantivy query plus what typo tolerance did to it.
pub(crate) struct Plan {
    pub(crate) query: Box<dyn Query>,
    /// Typed words absent from the index, with the closest indexed term (stemmed), if any.
    unknown: Vec<(String, Option<String>)>,
    /// Terms (in the text and section fields) added by typo tolerance.
    pub(crate) typo_terms: HashSet<String>,
}

impl Plan {
    /// Parses leniently (never an error) and expands single words to near indexed words.
    fn build(opened: &Opened, searcher: &Searcher, text: &str, typos: bool) -> Result<Plan> {
        let fields = &opened.fields;
        let mut parser =
            QueryParser::for_index(&opened.index, vec![fields.text, fields.section, fields.title]);
        parser.set_field_boost(fields.section, SECTION_BOOST);
        parser.set_field_boost(fields.title, TITLE_BOOST);
        let cleaned = escape_colons(&drop_question_words(&plain(text)));
        let (ast, _errors) = tantivy::query_grammar::parse_query_lenient(&cleaned);
        let mut plan = Plan {
            query: Box::new(tantivy::query::EmptyQuery),
            unknown: Vec::new(),
            typo_terms: HashSet::new(),
        };
        let mut builder = Builder {
            parser: &parser,
            searcher,
            fields,
            typos,
            plan: &mut plan,
        };
        let query = builder.ast(ast)?;
        if let Some(query) = query {
            plan.query = query;
        }
        Ok(plan)
    }

    /// The query with each unknown word replaced by the indexed word closest to it, as it is
    /// written in a passage; `None` when every word is known or nothing is close.
    fn did_you_mean(&self, searcher: &Searcher, fields: &Fields, query: &str) -> Result<Option<String>> {
        let mut replacements = Vec::new();
        for (word, candidate) in &self.unknown {
            if let Some(term) = candidate {
                if let Some(surface) = surface_form(searcher, fields, term)? {
                    replacements.push((word.to_lowercase(), surface));
                }
            }
        }
        if replacements.is_empty() {
            return Ok(None);
        }
        let corrected: Vec<String> = query
            .split_whitespace()
            .map(|token| {
                let core = token.trim_matches(|c: char| !c.is_alphanumeric());
                match replacements.iter().find(|(w, _)| *w == core.to_lowercase()) {
                    Some((_, surface)) if !core.is_empty() => token.replacen(core, surface, 1),
                    _ => token.to_string(),
                }
            })
            .collect();
        Ok(Some(corrected.join(" ")))
    }
}

/// Turns the query grammar's tree into a tantivy query, handling plain words itself (for
/// typo tolerance) and handing phrases, prefixes, ranges and fielded terms to tantivy's parser.
struct Builder<'a> {
    parser: &'a QueryParser,
    searcher: &'a Searcher,
    fields: &'a Fields,
    typos: bool,
    plan: &'a mut Plan,
}

impl Builder<'_> {
    fn ast(&mut self, ast: UserInputAst) -> Result<Option<Box<dyn Query>>> {
        match ast {
            UserInputAst::Clause(clauses) => {
                let mut built: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for (occur, sub) in clauses {
                    if let Some(query) = self.ast(sub)? {
                        built.push((occur.unwrap_or(Occur::Should), query));
                    }
                }
                if built.iter().all(|(occur, _)| *occur == Occur::Should) {
                    built = flatten_should(built);
                }
                Ok(match built.len() {
                    0 => None,
                    1 if built[0].0 == Occur::Should || built[0].0 == Occur::Must => Some(built.remove(0).1),
                    _ => Some(Box::new(BooleanQuery::new(built))),
                })
            }
            UserInputAst::Boost(sub, boost) => Ok(self
                .ast(*sub)?
                .map(|q| Box::new(BoostQuery::new(q, boost.0 as f32)) as Box<dyn Query>)),
            UserInputAst::Leaf(leaf) => match *leaf {
                UserInputLeaf::Literal(literal)
                    if literal.field_name.is_none()
                        && literal.delimiter == Delimiter::None
                        && !literal.prefix =>
                {
                    self.word(literal)
                }
                other => Ok(self.delegate(other)),
            },
        }
    }

    /// Lets tantivy's parser build a leaf it handles fully (phrases, fields, ranges, prefixes).
    fn delegate(&self, leaf: UserInputLeaf) -> Option<Box<dyn Query>> {
        let (query, _errors) = self
            .parser
            .build_query_from_user_input_ast_lenient(UserInputAst::Leaf(Box::new(leaf)));
        Some(query)
    }

    /// A plain word: exact match in every field, plus, for a word the index does not hold or
    /// holds in few passages, near indexed words (typos) at a tenth of the weight. A word that
    /// analyses to nothing (a stop word, punctuation) is dropped.
    fn word(&mut self, literal: UserInputLiteral) -> Result<Option<Box<dyn Query>>> {
        let tokens = analyse(&literal.phrase);
        if tokens.len() != 1 {
            return Ok(if tokens.is_empty() {
                None
            } else {
                self.delegate(UserInputLeaf::Literal(literal))
            });
        }
        let stem = &tokens[0];
        let exact = self.delegate(UserInputLeaf::Literal(literal.clone()));
        // Typos are counted on the indexed form (the stem), so its length sets the budget:
        // "correction" is searched as "correct", a 7-letter word with one typo allowed.
        let letters = stem.chars().count();
        let budget = typo_budget(letters);
        let passages_with_word = [self.fields.text, self.fields.section, self.fields.title]
            .iter()
            .map(|&f| self.searcher.doc_freq(&Term::from_field_text(f, stem)))
            .sum::<tantivy::Result<u64>>()?;
        let known = passages_with_word > 0;
        // Near words are looked up for a word the index does not hold (to expand it and to
        // suggest a spelling) and for a rare one (it may itself be a misspelling in a passage).
        // A common word is taken as meant: that keeps a query over a large index fast, since
        // walking every segment's term dictionary is its costliest step.
        let search_budget = if passages_with_word >= RARE_WORD_PASSAGES {
            0
        } else if known {
            budget
        } else {
            budget.max(u8::from(letters >= 3))
        };
        let candidates = if search_budget > 0 {
            near_terms(self.searcher, self.fields.text, stem, search_budget)?
        } else {
            Vec::new()
        };
        if !known {
            let word = literal
                .phrase
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_string();
            self.plan
                .unknown
                .push((word, candidates.first().map(|c| c.term.clone())));
        }
        if !self.typos || budget == 0 {
            return Ok(exact);
        }
        let mut typo_clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for candidate in candidates
            .iter()
            .filter(|c| c.distance <= budget)
            .take(MAX_TYPO_EXPANSIONS)
        {
            self.plan.typo_terms.insert(candidate.term.clone());
            for (field, boost) in [(self.fields.text, 1.0), (self.fields.section, SECTION_BOOST)] {
                let term = TermQuery::new(
                    Term::from_field_text(field, &candidate.term),
                    IndexRecordOption::WithFreqs,
                );
                typo_clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(term), boost * TYPO_BOOST)),
                ));
            }
        }
        if typo_clauses.is_empty() {
            return Ok(exact);
        }
        // An unknown word has no exact clause: it could match nothing.
        let exact = if known { exact } else { None };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            exact.into_iter().map(|q| (Occur::Should, q)).collect();
        clauses.extend(typo_clauses);
        Ok(Some(Box::new(BooleanQuery::new(clauses))))
    }
}

/// Lifts the clauses of nested "any of" queries into one "any of": the score is the same sum,
/// and one flat union of terms lets tantivy skip blocks of postings that cannot reach the top.
fn flatten_should(clauses: Vec<(Occur, Box<dyn Query>)>) -> Vec<(Occur, Box<dyn Query>)> {
    let mut flat = Vec::with_capacity(clauses.len());
    for (occur, query) in clauses {
        match query.downcast_ref::<BooleanQuery>() {
            Some(nested) if nested.clauses().iter().all(|(o, _)| *o == Occur::Should) => {
                flat.extend(flatten_should(
                    nested
                        .clauses()
                        .iter()
                        .map(|(o, q)| (*o, q.box_clone()))
                        .collect(),
                ));
            }
            _ => flat.push((occur, query)),
        }
    }
    flat
}

/// An indexed term near a typed one.
struct NearTerm {
    term: String,
    distance: u8,
    doc_freq: u64,
}

/// Indexed terms of `field` within `max_distance` typos of `stem` ([`typo_distance`]),
/// closest first, then commonest.
fn near_terms(searcher: &Searcher, field: Field, stem: &str, max_distance: u8) -> Result<Vec<NearTerm>> {
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

/// The terms the index analyser makes of `text`.
fn analyse(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while stream.advance() {
        tokens.push(stream.token().text.clone());
    }
    tokens
}

/// How an indexed term is written in a passage that holds it (lower-cased).
fn surface_form(searcher: &Searcher, fields: &Fields, term: &str) -> Result<Option<String>> {
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
    opened: &Opened,
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
        explanation: None,
        context: None,
    })
}

/// The passages within `around` positions of `ordinal` in the same document.
fn context(
    searcher: &Searcher,
    fields: &Fields,
    source: &str,
    ordinal: u64,
    around: usize,
) -> Result<Context> {
    let around = around as u64;
    let same_source: Box<dyn Query> = Box::new(TermQuery::new(
        Term::from_field_text(fields.source, source),
        IndexRecordOption::Basic,
    ));
    let nearby: Box<dyn Query> = Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_u64(
            fields.ordinal,
            ordinal.saturating_sub(around),
        )),
        Bound::Included(Term::from_field_u64(
            fields.ordinal,
            ordinal.saturating_add(around),
        )),
    ));
    let query = BooleanQuery::new(vec![(Occur::Must, same_source), (Occur::Must, nearby)]);
    let top = searcher
        .search(
            &query,
            &TopDocs::with_limit((2 * around + 1) as usize).order_by_score(),
        )
        .context("reading neighbouring passages")?;
    let mut result = Context::default();
    let mut neighbours = Vec::new();
    for (_, address) in top {
        let hit = load(searcher, fields, address)?;
        neighbours.push(hit);
    }
    neighbours.sort_by_key(|h| h.ordinal);
    for hit in neighbours {
        let neighbour = Neighbor {
            id: hit.id,
            ordinal: hit.ordinal,
            section: hit.section,
            text: hit.text,
        };
        if neighbour.ordinal < ordinal {
            result.before.push(neighbour);
        } else if neighbour.ordinal > ordinal {
            result.after.push(neighbour);
        }
    }
    Ok(result)
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
        assert_eq!(escape_colons("::"), "  ");
        assert_eq!(escape_colons("title: cto"), "title  cto");
        assert_eq!(escape_colons("title:"), "title ");
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
