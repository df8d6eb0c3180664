//! The query grammar's tree made a tantivy query: plain words with typo tolerance, runs of words
//! with the taxonomy's synonyms, everything else through tantivy's parser.

use anyhow::Result;
use tantivy::query::{BooleanQuery, BoostQuery, DisjunctionMaxQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::query_grammar::{Delimiter, UserInputAst, UserInputLeaf, UserInputLiteral};
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, Term};

use super::terms::near_terms;
use super::{analyse, Plan, SECTION_BOOST};
use crate::index::Fields;
use crate::search::exclude::Excluded;
use crate::search::synonyms::{self, Expansion};
use crate::search::typo::typo_budget;

/// A typo match weighs a tenth of an exact one, so exact matches rank first.
const TYPO_BOOST: f32 = 0.1;
/// A word found in fewer passages than this is rare enough to be a misspelling itself, so typo
/// matches are looked for too.
const RARE_WORD_PASSAGES: u64 = 3;
/// Indexed words a typed word may expand to through typos, closest and commonest first.
const MAX_TYPO_EXPANSIONS: usize = 8;
/// A synonym weighs half the word typed: a passage with the reader's own word ranks first.
const SYNONYM_BOOST: f32 = 0.5;

/// Turns the query grammar's tree into a tantivy query, handling plain words itself (for
/// typo tolerance) and handing phrases, prefixes, ranges and fielded terms to tantivy's parser.
pub(super) struct Builder<'a> {
    pub(super) parser: &'a QueryParser,
    pub(super) searcher: &'a Searcher,
    pub(super) fields: &'a Fields,
    pub(super) typos: bool,
    pub(super) synonyms: &'a [Expansion],
    pub(super) plan: &'a mut Plan,
}

impl<'a> Builder<'a> {
    pub(super) fn ast(&mut self, ast: UserInputAst) -> Result<Option<Box<dyn Query>>> {
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
