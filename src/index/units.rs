//! The texts a passage is embedded as: the whole passage, each sentence, and overlapping
//! windows of a long sentence's words, each a vector row; a passage's cosine is its best row's.

use crate::embed;

/// Words in a window of a long sentence: about a clause ("Nurses monitor vital signs, give
/// medication, dress wounds"), short enough that one thing a sentence says is not drowned by
/// the others.
const WINDOW_WORDS: usize = 8;

/// Words from one window's start to the next's: windows overlap by half, so every run of
/// four words lies whole in some window.
const WINDOW_STRIDE: usize = 4;

/// A sentence of at most this many words is embedded whole only: its windows would say
/// almost what it says.
const MAX_UNCUT_WORDS: usize = WINDOW_WORDS + 2;

/// The texts a passage is embedded as, in row order: the whole passage, then each of its
/// sentences when it has several (rows 1…n), then the word windows of each sentence longer
/// than [`MAX_UNCUT_WORDS`] (rows n+1…). A short query is closer to the words that say it
/// than to a whole sentence: "bandaging injuries" has a cosine of 0.18 with "Nurses monitor
/// vital signs, give medication, dress wounds and notice when …" but 0.57 with "dress wounds".
pub fn passage_units(text: &str) -> Vec<&str> {
    let mut units = vec![text];
    let sentences = embed::sentences(text);
    if sentences.len() > 1 {
        units.extend(sentences.iter().copied());
    }
    for sentence in &sentences {
        units.extend(windows(sentence));
    }
    units
}

/// The sentence (1-based, as [`embed::sentences`] numbers them) that row `k` of a passage's
/// [`passage_units`] lies in; `None` for the whole passage (row 0) or a row past the last.
pub fn sentence_of(text: &str, k: usize) -> Option<usize> {
    if k == 0 {
        return None;
    }
    let sentences = embed::sentences(text);
    let mut row = 0;
    if sentences.len() > 1 {
        if k <= sentences.len() {
            return Some(k);
        }
        row = sentences.len();
    }
    for (i, sentence) in sentences.iter().enumerate() {
        row += windows(sentence).len();
        if k <= row {
            return Some(i + 1);
        }
    }
    None
}

/// Overlapping windows of [`WINDOW_WORDS`] words, [`WINDOW_STRIDE`] apart, the last one ending
/// with the sentence; none for a sentence of at most [`MAX_UNCUT_WORDS`] words.
pub fn windows(sentence: &str) -> Vec<&str> {
    let words = word_spans(sentence);
    if words.len() <= MAX_UNCUT_WORDS {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + WINDOW_WORDS).min(words.len());
        out.push(&sentence[words[start].0..words[end - 1].1]);
        if end == words.len() {
            return out;
        }
        start += WINDOW_STRIDE;
    }
}

/// Byte ranges of the runs of non-space characters.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str = "Nurses monitor vital signs, give medication, dress wounds and notice when a patient's condition changes.";

    #[test]
    fn a_long_sentence_is_cut_into_overlapping_windows_of_eight_words() {
        assert_eq!(
            windows(LONG),
            [
                "Nurses monitor vital signs, give medication, dress wounds",
                "give medication, dress wounds and notice when a",
                "and notice when a patient's condition changes."
            ]
        );
    }

    #[test]
    fn a_sentence_of_ten_words_or_fewer_has_no_windows() {
        assert!(windows("A doctor examines patients, orders tests and makes the diagnosis.").is_empty());
        assert_eq!(
            windows("one two three four five six seven eight nine ten eleven").len(),
            2
        );
    }

    #[test]
    fn units_are_the_passage_its_sentences_then_their_windows() {
        let text = format!("A short one. {LONG}");
        let units = passage_units(&text);
        assert_eq!(units.len(), 1 + 2 + 3);
        assert_eq!(units[..3], [text.as_str(), "A short one.", LONG]);
        assert_eq!(
            units[3],
            "Nurses monitor vital signs, give medication, dress wounds"
        );
        assert_eq!(passage_units("Only one."), ["Only one."]);
        assert_eq!(passage_units(LONG).len(), 1 + 3);
    }

    #[test]
    fn each_row_names_the_sentence_it_lies_in() {
        let text = format!("A short one. {LONG}");
        let found: Vec<Option<usize>> = (0..7).map(|k| sentence_of(&text, k)).collect();
        assert_eq!(found, [None, Some(1), Some(2), Some(2), Some(2), Some(2), None]);
        // One sentence: no sentence rows, its windows follow the passage's row.
        let found: Vec<Option<usize>> = (0..5).map(|k| sentence_of(LONG, k)).collect();
        assert_eq!(found, [None, Some(1), Some(1), Some(1), None]);
    }
}
