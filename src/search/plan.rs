//! Query planning: a person's text, cleaned (question words, stray colons and stars), parsed
//! leniently and expanded with near indexed words (typo tolerance) and the taxonomy's synonyms,
//! ready to run.

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, DisjunctionMaxQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::query_grammar::{Delimiter, UserInputAst, UserInputLeaf, UserInputLiteral};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer, TokenStream};
use tantivy::{Searcher, TantivyDocument, Term};

use super::exclude::Excluded;
use super::fusion;
use super::synonyms::{self, Expansion};
use super::typo::{typo_budget, typo_distance, TypoAutomaton};
use super::Request;
use crate::index::{analyzer, field, Fields, LiveIndex};

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
/// A synonym weighs half the word typed: a passage with the reader's own word ranks first.
const SYNONYM_BOOST: f32 = 0.5;
/// Indexed words the last word may be the start of (search as you type), commonest first.
const MAX_PREFIX_EXPANSIONS: usize = 12;
/// A prefix match weighs less than the word as typed, more than a typo.
const PREFIX_BOOST: f32 = 0.5;
/// Shortest prefix expanded: one letter would match a large part of the dictionary.
const MIN_PREFIX_CHARS: usize = 2;
/// Terms of one segment's dictionary read for one prefix, at most: bounds the cost of a short
/// prefix on a large index.
const MAX_PREFIX_SCAN: usize = 20_000;

/// A parsed query: the tantivy query plus what typo tolerance did to it.
pub(crate) struct Plan {
    pub(crate) query: Box<dyn Query>,
    /// Typed words absent from the index, with the closest indexed term (stemmed), if any.
    unknown: Vec<(String, Option<String>)>,
    /// Terms (in the text and section fields) added by typo tolerance.
    pub(crate) typo_terms: HashSet<String>,
    /// Terms added as synonyms, with the word typed they stand for.
    pub(crate) synonym_terms: BTreeMap<String, String>,
    /// Each plain word searched (stemmed), and whether some passage holds it as typed, by a
    /// typo, by a synonym or as the start of a longer word.
    words: Vec<(String, bool)>,
}

impl Plan {
    /// Parses leniently (never an error), expands single words to near indexed words and
    /// words of the taxonomy's synonyms to their alternatives.
    pub(super) fn build(live: &LiveIndex, searcher: &Searcher, request: &Request) -> Result<Plan> {
        let text = &request.query;
        let fields = &live.fields;
        let mut parser = QueryParser::for_index(&live.index, fields.searchable().to_vec());
        parser.set_field_boost(fields.section, SECTION_BOOST);
        parser.set_field_boost(fields.title, TITLE_BOOST);
        let cleaned = escape_colons(&drop_question_words(&plain(&drop_fuzzy_marks(&bound_nesting(
            text,
        )))));
        let (ast, _errors) = tantivy::query_grammar::parse_query_lenient(&cleaned);
        // A lone word comes back as a leaf; as a clause of one it meets the synonym matching.
        let ast = match ast {
            leaf @ UserInputAst::Leaf(_) => UserInputAst::Clause(vec![(None, leaf)]),
            other => other,
        };
        let mut plan = Plan {
            query: Box::new(tantivy::query::EmptyQuery),
            unknown: Vec::new(),
            typo_terms: HashSet::new(),
            synonym_terms: BTreeMap::new(),
            words: Vec::new(),
        };
        let expansions = if request.synonyms {
            synonyms::expansions(&live.taxonomy.synonyms)
        } else {
            Vec::new()
        };
        let mut builder = Builder {
            parser: &parser,
            searcher,
            fields,
            typos: request.typos,
            synonyms: &expansions,
            plan: &mut plan,
        };
        let query = builder.ast(ast)?;
        if let Some(query) = query {
            plan.query = query;
        }
        // A word with synonyms is a word the taxonomy knows: no spelling suggestion for it.
        let triggers: HashSet<&String> = expansions
            .iter()
            .filter(|e| e.words.len() == 1)
            .map(|e| &e.words[0])
            .collect();
        plan.unknown
            .retain(|(word, _)| !analyse(word).first().is_some_and(|w| triggers.contains(w)));
        if request.prefix {
            plan.add_prefix(searcher, fields, text)?;
        }
        Ok(plan)
    }

    /// Adds the indexed words the query's last word starts as optional clauses: they add to
    /// the score without being required, so "market res" finds "research" while the words
    /// typed so far keep their weight. A last word that prefixes something is no misspelling.
    fn add_prefix(&mut self, searcher: &Searcher, fields: &Fields, text: &str) -> Result<()> {
        let Some(word) = last_plain_word(text) else {
            return Ok(());
        };
        let mut starts: Vec<String> = vec![fold(&word)];
        if let Some(stem) = analyse(&word).into_iter().next() {
            if !starts.contains(&stem) {
                starts.push(stem);
            }
        }
        starts.retain(|s| s.chars().count() >= MIN_PREFIX_CHARS);
        let terms = prefix_terms(searcher, fields.text, &starts)?;
        if terms.is_empty() {
            return Ok(());
        }
        // One of the words it may become counts (the best), not their sum: a short prefix
        // of many common words must not outweigh the words typed in full.
        let mut disjuncts: Vec<Box<dyn Query>> = Vec::new();
        for term in &terms {
            for (field, boost) in [(fields.text, 1.0), (fields.section, SECTION_BOOST)] {
                let query = TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::WithFreqs);
                disjuncts.push(Box::new(BoostQuery::new(Box::new(query), boost * PREFIX_BOOST)));
            }
        }
        let prefix: Box<dyn Query> = Box::new(DisjunctionMaxQuery::new(disjuncts));
        self.query = if has_terms(&*self.query) {
            Box::new(BooleanQuery::new(vec![
                (Occur::Should, self.query.box_clone()),
                (Occur::Should, prefix),
            ]))
        } else {
            prefix
        };
        let lower = word.to_lowercase();
        self.unknown.retain(|(w, _)| w.to_lowercase() != lower);
        if let Some(last) = self.words.last_mut() {
            last.1 = true;
        }
        Ok(())
    }

    /// The weight of the words' ranking in a hybrid fusion: the share of the query's plain
    /// words some passage holds ([`fusion::lexical_weight`]).
    pub(crate) fn lexical_weight(&self) -> f32 {
        let found = self.words.iter().filter(|(_, found)| *found).count();
        fusion::lexical_weight(self.words.len(), found)
    }

    /// The query with each unknown word replaced by the indexed word closest to it, as it is
    /// written in a passage; `None` when every word is known or nothing is close.
    pub(super) fn did_you_mean(
        &self,
        searcher: &Searcher,
        fields: &Fields,
        query: &str,
    ) -> Result<Option<String>> {
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
        let fix = |part: &str| {
            let core = part.trim_matches(|c: char| !c.is_alphanumeric());
            match replacements.iter().find(|(w, _)| *w == core.to_lowercase()) {
                Some((_, surface)) if !core.is_empty() => part.replacen(core, surface, 1),
                _ => part.to_string(),
            }
        };
        // `foo:cybersecurty` is searched as two words: each side of a colon is corrected alone.
        let corrected: Vec<String> = query
            .split_whitespace()
            .map(|token| token.split(':').map(fix).collect::<Vec<_>>().join(":"))
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
    synonyms: &'a [Expansion],
    plan: &'a mut Plan,
}

impl<'a> Builder<'a> {
    fn ast(&mut self, ast: UserInputAst) -> Result<Option<Box<dyn Query>>> {
        match ast {
            UserInputAst::Clause(clauses) => {
                let mut built: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                let words = synonyms::clause_words(&clauses);
                let expansions: &'a [Expansion] = self.synonyms;
                let mut clauses = clauses.into_iter().enumerate();
                while let Some((i, (occur, sub))) = clauses.next() {
                    let Some(query) = self.ast(sub)? else {
                        continue;
                    };
                    let occur = occur.unwrap_or(Occur::Should);
                    let query: Box<dyn Query> = match occur {
                        Occur::MustNot => Box::new(Excluded(query)),
                        _ => query,
                    };
                    let Some(expansion) = synonyms::entry_at(expansions, &words, i, occur) else {
                        built.push((occur, query));
                        continue;
                    };
                    // The words of a multi-word synonym are optional words next to each
                    // other: they become one alternative, the best of the typed words and
                    // each synonym.
                    let first_word = self.plan.words.len().saturating_sub(1);
                    let mut typed: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, query)];
                    for _ in 1..expansion.words.len() {
                        if let Some((_, (_, sub))) = clauses.next() {
                            if let Some(query) = self.ast(sub)? {
                                typed.push((Occur::Should, query));
                            }
                        }
                    }
                    let typed: Box<dyn Query> = if typed.len() == 1 {
                        typed.remove(0).1
                    } else {
                        Box::new(BooleanQuery::new(typed))
                    };
                    let (query, expanded) = self.with_synonyms(typed, expansion);
                    if expanded {
                        for word in self.plan.words.iter_mut().skip(first_word) {
                            word.1 = true;
                        }
                    }
                    built.push((occur, query));
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

    /// The typed words or any synonym, whichever scores best; a synonym at half the weight.
    /// Also tells whether any synonym is indexed.
    fn with_synonyms(&mut self, typed: Box<dyn Query>, expansion: &Expansion) -> (Box<dyn Query>, bool) {
        let typed_words = expansion.words.join(" ");
        // Typed words the index lacks are left out: they match nothing, and a clause whose
        // terms are in no segment trips tantivy's checks when a score is explained.
        let typed_indexed = self.indexed(&*typed);
        let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
        for alternative in &expansion.alternatives {
            let words = analyse(alternative);
            if words.is_empty() {
                continue;
            }
            for word in &words {
                self.plan
                    .synonym_terms
                    .entry(word.clone())
                    .or_insert_with(|| typed_words.clone());
            }
            let literal = UserInputLiteral {
                field_name: None,
                phrase: alternative.clone(),
                delimiter: if words.len() > 1 {
                    Delimiter::DoubleQuotes
                } else {
                    Delimiter::None
                },
                slop: 0,
                prefix: false,
            };
            if let Some(query) = self.delegate(UserInputLeaf::Literal(literal)) {
                if self.indexed(&*query) {
                    alternatives.push(Box::new(BoostQuery::new(query, SYNONYM_BOOST)));
                }
            }
        }
        if alternatives.is_empty() {
            // Nothing to add: the typed words as they are (an empty disjunction would match
            // every passage).
            return (typed, false);
        }
        if typed_indexed {
            alternatives.insert(0, typed);
        }
        (Box::new(DisjunctionMaxQuery::new(alternatives)), true)
    }

    /// Does any term of the query occur in the index?
    fn indexed(&self, query: &dyn Query) -> bool {
        let mut terms = Vec::new();
        query.query_terms(&mut |term, _| terms.push(term.clone()));
        terms
            .iter()
            .any(|term| self.searcher.doc_freq(term).is_ok_and(|n| n > 0))
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
            if tokens.is_empty() {
                return Ok(None);
            }
            // A word the analyser splits ("go-to-market") is searched as a phrase.
            let query = self.delegate(UserInputLeaf::Literal(literal));
            let found = query.as_deref().is_some_and(|q| self.indexed(q));
            self.plan.words.push((tokens.join(" "), found));
            return Ok(query);
        }
        let stem = &tokens[0];
        let exact = self.delegate(UserInputLeaf::Literal(literal.clone()));
        // Typos are counted on the indexed form (the stem), so its length sets the budget:
        // "correction" is searched as "correct", a 7-letter word with one typo allowed.
        let letters = stem.chars().count();
        let budget = typo_budget(letters);
        let passages_with_word = self
            .fields
            .searchable()
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
        let by_typo = self.typos && candidates.iter().any(|c| c.distance <= budget);
        self.plan.words.push((stem.clone(), known || by_typo));
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

/// The last word of a query being typed: letters and digits only, not followed by a space
/// (a space says the word is finished) and not quoted, signed, starred or fielded.
fn last_plain_word(text: &str) -> Option<String> {
    if text.ends_with(char::is_whitespace) {
        return None;
    }
    let word = text.split_whitespace().last()?;
    word.chars().all(char::is_alphanumeric).then(|| word.to_string())
}

/// A word as the index writes it before stemming: lower-cased, accents folded.
fn fold(word: &str) -> String {
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
fn prefix_terms(searcher: &Searcher, field: Field, starts: &[String]) -> Result<Vec<String>> {
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

/// The terms the index analyser makes of `text`.
pub(super) fn analyse(text: &str) -> Vec<String> {
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

/// Deepest group nesting kept; tantivy's parser recurses once a level, so thousands of
/// parentheses would overflow the stack.
pub const MAX_NESTING: usize = 32;

/// Replaces by spaces the parentheses (outside quotes) that open or close a group deeper than
/// `MAX_NESTING`, so the words inside are searched one level up and the parser's recursion stays
/// bounded.
fn bound_nesting(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut depth, mut dropped, mut quoted) = (0usize, 0usize, false);
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => {
                if depth >= MAX_NESTING {
                    dropped += 1;
                    out.push(' ');
                } else {
                    depth += 1;
                    out.push(c);
                }
            }
            ')' if !quoted => {
                if dropped > 0 {
                    dropped -= 1;
                    out.push(' ');
                } else {
                    depth = depth.saturating_sub(1);
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Drops `~N` after a word (`cybersecurity~2`): tantivy's parser would make it a term no
/// passage holds, and typo tolerance already finds near words. After a closing quote `~N` is a
/// phrase's slop and stays.
fn drop_fuzzy_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        if c == '~' && previous.is_some_and(char::is_alphanumeric) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            previous = Some(' ');
            out.push(' ');
            continue;
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

/// Does the parsed query look for any indexed term? A query whose every word the analyzer
/// drops (stop words, punctuation, emoji, words of `MAX_WORD_BYTES` or more) looks for none.
pub(super) fn has_terms(query: &dyn Query) -> bool {
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
            if joined && field::SEARCHABLE.contains(&word) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fuzzy_mark_after_a_word_is_dropped_but_phrase_slop_stays() {
        assert_eq!(drop_fuzzy_marks("cyber~2 x"), "cyber  x");
        assert_eq!(drop_fuzzy_marks("cyber~"), "cyber ");
        assert_eq!(drop_fuzzy_marks("\"a b\"~2"), "\"a b\"~2");
    }

    #[test]
    fn parentheses_deeper_than_the_bound_become_spaces() {
        let deep = format!("{}cto{}", "(".repeat(5000), ")".repeat(5000));
        let bounded = bound_nesting(&deep);
        assert_eq!(bounded.matches('(').count(), MAX_NESTING);
        assert_eq!(bounded.matches(')').count(), MAX_NESTING);
        assert_eq!(bound_nesting("(a (b)) \"((\""), "(a (b)) \"((\"");
    }

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
}
