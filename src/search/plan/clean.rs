//! Cleaning a query's text before it is parsed: control characters and stars, deep nesting,
//! fuzzy marks, question words and colons that name no field.

use crate::index::field;

/// Replaces by spaces what would make tantivy's parser build a query that cannot run or that
/// a person did not mean: control characters (a NUL inside "cyber\0security" would make it a
/// phrase) and `*` (`title:*` asks tantivy for a fast field our text fields do not have), except
/// after a closing quote, where it asks for a phrase prefix (`"market res"*`).
pub(super) fn plain(text: &str) -> String {
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
pub(super) fn bound_nesting(text: &str) -> String {
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
pub(super) fn drop_fuzzy_marks(text: &str) -> String {
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

/// Words that shape a question but say nothing of its subject. Rare in passages, they would
/// otherwise score high ("who" in "who talks to investors?").
const QUESTION_WORDS: &[&str] = &[
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "do", "does", "did", "is", "are",
    "can", "could", "should", "would",
];

/// For a question (ends with `?` or opens with a question word), drops the question words,
/// unless that leaves nothing or the query quotes a phrase.
pub(super) fn drop_question_words(text: &str) -> String {
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
pub(super) fn escape_colons(text: &str) -> String {
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
