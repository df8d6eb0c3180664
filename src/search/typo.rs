//! Typo tolerance: how many typos a word may carry, what counts as a typo, and an automaton that
//! walks the term dictionary for indexed words within that many typos of a typed one.

use tantivy_fst::Automaton;

use crate::index::MAX_WORD_BYTES;

/// A row of the typo table: one cell per byte of the typed word plus one for the empty prefix.
/// Typo tolerance applies to words up to the longest the analyzer keeps.
const ROW: usize = MAX_WORD_BYTES + 1;

/// Allowed typos for a word of `letters` characters: none under 5, one up to 8, two from 9.
pub fn typo_budget(letters: usize) -> u8 {
    match letters {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Cost of an edit at 1-based word position `j`: a typo on the first letter counts as two
/// (as in Meilisearch), since people rarely get a word's first letter wrong.
fn edit_cost(j: usize) -> usize {
    if j <= 1 {
        2
    } else {
        1
    }
}

/// Cost of reading an extra byte when `j` letters of the word are matched: before the first
/// letter it is a first-letter typo.
fn insertion_cost(j: usize) -> usize {
    if j == 0 {
        2
    } else {
        1
    }
}

/// Typos between a typed word and an indexed one, over bytes: insertions, deletions,
/// substitutions and swaps of adjacent bytes count one, any of them at the first letter two.
pub fn typo_distance(typed: &str, indexed: &str) -> usize {
    let (a, b) = (typed.as_bytes(), indexed.as_bytes());
    // rows[i][j]: typos between the first i bytes of `indexed` and the first j of `typed`.
    let mut rows = vec![vec![0usize; a.len() + 1]; b.len() + 1];
    for j in 1..=a.len() {
        rows[0][j] = rows[0][j - 1] + edit_cost(j);
    }
    for i in 1..=b.len() {
        rows[i][0] = rows[i - 1][0] + insertion_cost(0);
        for j in 1..=a.len() {
            let substitution = if a[j - 1] == b[i - 1] { 0 } else { edit_cost(j) };
            let mut best = (rows[i - 1][j] + insertion_cost(j))
                .min(rows[i][j - 1] + edit_cost(j))
                .min(rows[i - 1][j - 1] + substitution);
            if i > 1 && j > 1 && b[i - 1] == a[j - 2] && b[i - 2] == a[j - 1] {
                best = best.min(rows[i - 2][j - 2] + edit_cost(j - 1));
            }
            rows[i][j] = best;
        }
    }
    rows[b.len()][a.len()]
}

/// Matches indexed words within `max` typos (as [`typo_distance`] counts them) of a typed word.
/// It keeps the last two rows of the typo table in fixed arrays, so a step is a short loop with
/// no allocation, and it abandons a branch of the term dictionary as soon as no word below it
/// can come within `max`. Unlike a precomputed Levenshtein DFA it costs nothing to build, which
/// matters for a process that answers one query.
pub struct TypoAutomaton {
    word: Vec<u8>,
    max: u8,
}

/// Rows of the typo table: before the last byte read, after it, and that byte.
#[derive(Clone, Copy, Debug)]
pub struct Rows {
    previous: [u8; ROW],
    current: [u8; ROW],
    last: Option<u8>,
    /// Smallest value of `current`, and of `previous` plus one (a swap still to come).
    floor: u8,
}

impl TypoAutomaton {
    /// An automaton for `word`; `None` when the word is longer than [`MAX_WORD_BYTES`].
    pub fn new(word: &str, max: u8) -> Option<TypoAutomaton> {
        (word.len() <= MAX_WORD_BYTES).then(|| TypoAutomaton {
            word: word.as_bytes().to_vec(),
            max,
        })
    }

    /// Values above `max` are all the same to the automaton: cap them to stay in a byte.
    fn cap(&self, value: usize) -> u8 {
        value.min(usize::from(self.max) + 1) as u8
    }
}

impl Automaton for TypoAutomaton {
    type State = Rows;

    fn start(&self) -> Rows {
        let mut current = [0u8; ROW];
        let mut total = 0;
        for (j, cell) in current.iter_mut().enumerate().take(self.word.len() + 1).skip(1) {
            total += edit_cost(j);
            *cell = self.cap(total);
        }
        Rows {
            previous: [0; ROW],
            current,
            last: None,
            floor: 0,
        }
    }

    fn is_match(&self, state: &Rows) -> bool {
        state.current[self.word.len()] <= self.max
    }

    fn can_match(&self, state: &Rows) -> bool {
        state.floor <= self.max
    }

    fn accept(&self, state: &Rows, byte: u8) -> Rows {
        let word = &self.word;
        let cur = &state.current;
        let mut next = [0u8; ROW];
        next[0] = self.cap(usize::from(cur[0]) + insertion_cost(0));
        let mut floor = next[0].min(cur[0].saturating_add(1));
        for j in 1..=word.len() {
            let substitution = if word[j - 1] == byte { 0 } else { edit_cost(j) };
            let mut best = (usize::from(cur[j]) + insertion_cost(j))
                .min(usize::from(next[j - 1]) + edit_cost(j))
                .min(usize::from(cur[j - 1]) + substitution);
            if j > 1 && state.last == Some(word[j - 1]) && word[j - 2] == byte {
                best = best.min(usize::from(state.previous[j - 2]) + edit_cost(j - 1));
            }
            next[j] = self.cap(best);
            floor = floor.min(next[j]).min(cur[j].saturating_add(1));
        }
        Rows {
            previous: state.current,
            current: next,
            last: Some(byte),
            floor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_budget_follows_word_length() {
        assert_eq!([4, 5, 8, 9, 14].map(typo_budget), [0, 1, 1, 2, 2]);
    }

    #[test]
    fn typo_distance_counts_swaps_as_one_and_first_letter_typos_as_two() {
        assert_eq!(typo_distance("cybersecurti", "cybersecur"), 2);
        assert_eq!(typo_distance("form", "from"), 1);
        assert_eq!(typo_distance("same", "same"), 0);
        assert_eq!(typo_distance("market", "markt"), 1);
        assert_eq!(typo_distance("market", "narket"), 2);
        assert_eq!(typo_distance("market", "arket"), 2);
        assert_eq!(typo_distance("market", "smarket"), 2);
        assert_eq!(typo_distance("market", "amrket"), 2);
        assert_eq!(typo_distance("", "abc"), 6);
    }

    fn run(automaton: &TypoAutomaton, text: &str) -> bool {
        let mut state = automaton.start();
        for &b in text.as_bytes() {
            if !automaton.can_match(&state) {
                return false;
            }
            state = automaton.accept(&state, b);
        }
        automaton.is_match(&state)
    }

    #[test]
    fn automaton_agrees_with_typo_distance() {
        let words = [
            "cybersecur",
            "cybersecurti",
            "stakehold",
            "stakeholdr",
            "market",
            "markt",
            "narket",
            "amrket",
            "form",
            "from",
            "board",
            "broad",
            "a",
            "",
            "abcdef",
            "badcfe",
            "x",
        ];
        for typed in words {
            for max in 0..=2u8 {
                let automaton = TypoAutomaton::new(typed, max).expect("short word");
                for indexed in words {
                    let expected = typo_distance(typed, indexed) <= usize::from(max);
                    assert_eq!(
                        run(&automaton, indexed),
                        expected,
                        "{typed} vs {indexed} within {max}"
                    );
                }
            }
        }
    }

    #[test]
    fn words_longer_than_the_limit_get_no_automaton() {
        assert!(TypoAutomaton::new(&"a".repeat(MAX_WORD_BYTES + 1), 2).is_none());
    }
}
