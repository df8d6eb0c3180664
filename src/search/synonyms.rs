//! Synonym expansion: the taxonomy's synonym entries as analysed word sequences, and where a
//! query's words meet one. The planner turns a match into "the words typed or an alternative".

use tantivy::query::Occur;
use tantivy::query_grammar::{Delimiter, UserInputAst, UserInputLeaf};

use super::plan::analyse;
use crate::label::Synonym;

/// A synonym entry ready for matching: the typed words as the index analyses them, and the
/// alternatives as written (each searched like a word or, when several words, a phrase).
pub(super) struct Expansion {
    pub(super) words: Vec<String>,
    pub(super) alternatives: Vec<String>,
}

/// The taxonomy's synonyms as analysed word sequences, longest first (so "press coverage"
/// is matched before "press"); entries whose words the analyser drops entirely are left out.
pub(super) fn expansions(synonyms: &[Synonym]) -> Vec<Expansion> {
    let mut out: Vec<Expansion> = synonyms
        .iter()
        .map(|s| Expansion {
            words: analyse(&s.word),
            alternatives: s.alternatives.clone(),
        })
        .filter(|e| !e.words.is_empty())
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.words.len()));
    out
}

/// Each clause of a query as the planner sees it for synonyms: its word when it is one plain
/// word (no field, quotes or prefix), and whether it is optional (neither `+` nor `-`).
pub(super) fn clause_words(clauses: &[(Option<Occur>, UserInputAst)]) -> Vec<(Option<String>, bool)> {
    clauses
        .iter()
        .map(|(occur, sub)| (plain_word(sub), matches!(occur, None | Some(Occur::Should))))
        .collect()
}

/// The entry whose words start at clause `i`. A single word may be required or optional; the
/// words of a multi-word entry must all be optional; an excluded word is never expanded.
pub(super) fn entry_at<'e>(
    expansions: &'e [Expansion],
    words: &[(Option<String>, bool)],
    i: usize,
    occur: Occur,
) -> Option<&'e Expansion> {
    if occur == Occur::MustNot {
        return None;
    }
    expansions.iter().find(|e| {
        let n = e.words.len();
        words.len() >= i + n
            && e.words
                .iter()
                .zip(&words[i..i + n])
                .all(|(w, (typed, optional))| typed.as_ref() == Some(w) && (n == 1 || *optional))
    })
}

/// The analysed form of a clause that is one plain word (no field, quotes or prefix).
fn plain_word(ast: &UserInputAst) -> Option<String> {
    let UserInputAst::Leaf(leaf) = ast else {
        return None;
    };
    match &**leaf {
        UserInputLeaf::Literal(literal)
            if literal.field_name.is_none() && literal.delimiter == Delimiter::None && !literal.prefix =>
        {
            let mut words = analyse(&literal.phrase);
            (words.len() == 1).then(|| words.remove(0))
        }
        _ => None,
    }
}
