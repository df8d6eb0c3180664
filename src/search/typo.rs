//! Typo tolerance: how many typos a word may carry, and an automaton that walks the term
//! dictionary for indexed words within that many edits of a typed one.

use tantivy_fst::Automaton;

/// Allowed typos for a word of `letters` characters: none under 5, one up to 8, two from 9.
pub fn typo_budget(letters: usize) -> u8 {
    match letters {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Optimal string alignment distance (Levenshtein with adjacent transpositions), over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// Matches byte strings within `max` edits (insertions, deletions, substitutions and adjacent
/// swaps) of a word. It keeps one row of the edit-distance table per input byte and gives up on
/// a branch of the term dictionary as soon as no completion can come within `max`; unlike a
/// precomputed Levenshtein DFA it costs nothing to build, which matters for a one-shot process.
pub struct TypoAutomaton {
    word: Vec<u8>,
    max: u32,
}

/// Rows of the edit-distance table: the one before the last byte, the last one, and that byte.
#[derive(Clone, Debug)]
pub struct Rows {
    previous: Vec<u32>,
    current: Vec<u32>,
    last: Option<u8>,
}

impl TypoAutomaton {
    pub fn new(word: &str, max: u8) -> TypoAutomaton {
        TypoAutomaton {
            word: word.as_bytes().to_vec(),
            max: u32::from(max),
        }
    }
}

impl Automaton for TypoAutomaton {
    type State = Rows;

    fn start(&self) -> Rows {
        Rows {
            previous: Vec::new(),
            current: (0..=self.word.len() as u32).collect(),
            last: None,
        }
    }

    fn is_match(&self, state: &Rows) -> bool {
        state.current.last().is_some_and(|&d| d <= self.max)
    }

    fn can_match(&self, state: &Rows) -> bool {
        let best = state.current.iter().min().copied().unwrap_or(u32::MAX);
        let swap = state.previous.iter().min().map_or(u32::MAX, |d| d + 1);
        best.min(swap) <= self.max
    }

    fn accept(&self, state: &Rows, byte: u8) -> Rows {
        let word = &self.word;
        let mut next = Vec::with_capacity(word.len() + 1);
        next.push(state.current[0] + 1);
        for j in 1..=word.len() {
            let cost = u32::from(word[j - 1] != byte);
            let mut best = (state.current[j] + 1)
                .min(next[j - 1] + 1)
                .min(state.current[j - 1] + cost);
            if j > 1 && state.last == Some(word[j - 1]) && word[j - 2] == byte && !state.previous.is_empty() {
                best = best.min(state.previous[j - 2] + 1);
            }
            next.push(best);
        }
        Rows {
            previous: state.current.clone(),
            current: next,
            last: Some(byte),
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
    fn edit_distance_counts_transpositions_as_one() {
        assert_eq!(edit_distance("cybersecurti", "cybersecur"), 2);
        assert_eq!(edit_distance("form", "from"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
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
    fn automaton_agrees_with_edit_distance() {
        let words = [
            "cybersecur",
            "stakehold",
            "market",
            "form",
            "from",
            "board",
            "broad",
            "a",
            "",
            "abcdef",
            "badcfe",
        ];
        for typed in words {
            for max in 0..=2u8 {
                let automaton = TypoAutomaton::new(typed, max);
                for indexed in words {
                    let expected = edit_distance(typed, indexed) <= usize::from(max);
                    assert_eq!(
                        run(&automaton, indexed),
                        expected,
                        "{typed} vs {indexed} within {max}"
                    );
                }
            }
        }
    }
}
