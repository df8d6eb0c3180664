//! Text shaping for the human printer: marking highlighted byte ranges, cutting text into
//! lines at spaces, and fitting a snippet or a whole passage with its highlights. Pure.

use std::borrow::Cow;

use crate::model::{Hit, Snippet};

/// `text` safe to write to a terminal: every control character (C0, DEL, C1: the ESC that
/// opens an escape sequence, a bell, a line break inside a file name) and every bidirectional
/// override is written as Rust writes it in a string literal, `\u{1b}`; everything else is
/// kept. The result holds no control character, so escaping twice changes nothing.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Control characters, and the bidirectional embeddings, overrides and isolates that reorder
/// what a terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with each range wrapped in `open`/`close`, its control characters escaped
/// ([`terminal_safe`]; the markers are written as given). Ranges that overlap an earlier one,
/// run past the end or cut a character are skipped: a bad range costs its highlight, not a
/// panic.
pub(super) fn mark(text: &str, ranges: &[(usize, usize)], open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len() + ranges.len() * 8);
    let mut last = 0;
    for &(start, end) in ranges {
        if start < last || end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        out.push_str(&terminal_safe(&text[last..start]));
        out.push_str(open);
        out.push_str(&terminal_safe(&text[start..end]));
        out.push_str(close);
        last = end;
    }
    out.push_str(&terminal_safe(&text[last..]));
    out
}

/// Byte ranges of `text` cut into lines of at most `column` characters, at spaces where possible.
pub(super) fn wrap_lines(text: &str, column: usize) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let rest = &text[start..];
        if rest.chars().count() <= column {
            lines.push((start, text.len()));
            break;
        }
        let limit = rest.char_indices().nth(column).map_or(rest.len(), |(i, _)| i);
        let cut = rest[..limit].rfind(' ').filter(|&i| i > 0).unwrap_or(limit);
        lines.push((start, start + cut));
        start += cut;
        while text[start..].starts_with(' ') {
            start += 1;
        }
    }
    if lines.is_empty() {
        lines.push((0, 0));
    }
    lines
}

/// The ranges that fall inside the line `start..end`, clipped to it and made relative to it.
pub(super) fn ranges_in_line(ranges: &[(usize, usize)], start: usize, end: usize) -> Vec<(usize, usize)> {
    ranges
        .iter()
        .filter(|(s, e)| *e > start && *s < end)
        .map(|(s, e)| ((*s).max(start) - start, (*e).min(end) - start))
        .collect()
}

/// The snippet with `…` where it cuts the passage, and its highlights shifted to match.
pub(super) fn snippet_with_ellipses(snippet: &Snippet, passage: &str) -> (String, Vec<(usize, usize)>) {
    let at = passage.find(&snippet.text);
    let mut text = String::new();
    let mut shift = 0;
    if at.is_some_and(|i| i > 0) {
        text.push('…');
        shift = '…'.len_utf8();
    }
    text.push_str(&snippet.text);
    if at.is_some_and(|i| i + snippet.text.len() < passage.len()) {
        text.push('…');
    }
    let ranges = snippet
        .highlights
        .iter()
        .map(|(s, e)| (s + shift, e + shift))
        .collect();
    (text, ranges)
}

/// The whole passage, with the snippet's highlights carried over.
pub(super) fn full_with_highlights(hit: &Hit) -> (String, Vec<(usize, usize)>) {
    match hit.text.find(&hit.snippet.text) {
        Some(offset) if !hit.snippet.text.is_empty() => (
            hit.text.clone(),
            hit.snippet
                .highlights
                .iter()
                .map(|(s, e)| (s + offset, e + offset))
                .collect(),
        ),
        _ => (hit.text.clone(), Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stars(text: &str, ranges: &[(usize, usize)]) -> String {
        mark(text, ranges, "**", "**")
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        let cases = [
            ("plain text, é ü 検索", "plain text, é ü 検索"),
            ("\x1b[2Jcleared", "\\u{1b}[2Jcleared"),
            ("title\x1b]0;pwned\x07", "title\\u{1b}]0;pwned\\u{7}"),
            ("a\nb\tc\rd", "a\\u{a}b\\u{9}c\\u{d}d"),
            ("\u{9b}31m del\u{7f}", "\\u{9b}31m del\\u{7f}"),
            ("abc\u{202e}txt.exe", "abc\\u{202e}txt.exe"),
        ];
        for (text, shown) in cases {
            assert_eq!(terminal_safe(text), shown, "{text:?}");
            assert_eq!(terminal_safe(shown), shown, "escaping twice changes nothing");
        }
    }

    #[test]
    fn marking_escapes_the_text_but_not_the_markers() {
        let text = "a \x1b[31mcyber b";
        assert_eq!(
            mark(text, &[(7, 12)], "\x1b[1m", "\x1b[0m"),
            "a \\u{1b}[31m\x1b[1mcyber\x1b[0m b"
        );
    }

    #[test]
    fn marks_wrap_each_highlight() {
        assert_eq!(stars("a cyber b", &[(2, 7)]), "a **cyber** b");
    }

    #[test]
    fn bad_ranges_are_skipped_not_panicked_on() {
        assert_eq!(stars("héllo", &[(1, 2), (0, 99)]), "héllo");
    }

    #[test]
    fn snippet_inside_a_passage_gets_ellipses_and_shifted_highlights() {
        let snippet = Snippet {
            text: "middle".into(),
            highlights: vec![(0, 6)],
        };
        let (text, ranges) = snippet_with_ellipses(&snippet, "start middle end");
        assert_eq!(stars(&text, &ranges), "…**middle**…");
    }

    #[test]
    fn snippet_that_is_the_whole_passage_gets_no_ellipses() {
        let snippet = Snippet {
            text: "all of it".into(),
            highlights: vec![(0, 3)],
        };
        let (text, ranges) = snippet_with_ellipses(&snippet, "all of it");
        assert_eq!(stars(&text, &ranges), "**all** of it");
    }

    #[test]
    fn wrapping_breaks_at_spaces_within_the_width() {
        let text = "alpha beta gamma delta";
        let parts: Vec<&str> = wrap_lines(text, 11).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(parts, ["alpha beta", "gamma delta"]);
    }

    #[test]
    fn a_word_longer_than_the_column_is_cut() {
        let text = "abcdefghij";
        let parts: Vec<&str> = wrap_lines(text, 4).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(parts, ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn ranges_are_clipped_to_their_line() {
        assert_eq!(ranges_in_line(&[(2, 8), (12, 14)], 5, 10), [(0, 3)]);
    }
}
