//! Query planning: a person's text, cleaned (question words, stray colons and stars), parsed
//! leniently and expanded with near indexed words (typo tolerance) and the taxonomy's synonyms,
//! ready to run. This part holds the plan and its building; the parts below clean the text,
//! turn the parsed tree into a query, read the term dictionary and suggest spellings.

mod builder;
mod clean;
mod suggest;
mod terms;

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use tantivy::query::{BooleanQuery, BoostQuery, DisjunctionMaxQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::query_grammar::UserInputAst;
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TokenStream;
use tantivy::{Searcher, Term};

use super::fusion;
use super::synonyms;
use super::Request;
use crate::index::{analyzer, Fields, LiveIndex};
use builder::Builder;
use clean::{bound_nesting, drop_fuzzy_marks, drop_question_words, escape_colons, plain};
use terms::{fold, last_plain_word, prefix_terms};

/// A heading match counts, but less than a body match.
const SECTION_BOOST: f32 = 0.5;
/// The title is shared by every passage of a document: it separates documents, not passages.
const TITLE_BOOST: f32 = 0.3;
/// A prefix match weighs less than the word as typed, more than a typo.
const PREFIX_BOOST: f32 = 0.5;
/// Shortest prefix expanded: one letter would match a large part of the dictionary.
const MIN_PREFIX_CHARS: usize = 2;

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
}

/// Does the parsed query look for any indexed term? A query whose every word the analyzer
/// drops (stop words, punctuation, emoji, words of `MAX_WORD_BYTES` or more) looks for none.
pub(super) fn has_terms(query: &dyn Query) -> bool {
    let mut found = false;
    query.query_terms(&mut |_, _| found = true);
    found
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
