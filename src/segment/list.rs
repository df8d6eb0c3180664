//! Lists in plain text: lines that open an item with a bullet or a number, read as the
//! Markdown reader reads list items — one passage an item — but kept as written.

use super::*;

/// Bullets that open a list item in plain text, as pages saved as text, word processors'
/// text exports (`·`, and U+F0B7 of the Symbol font) and hand-written notes put them; each only
/// with white space after it.
const BULLETS: &[char] = &[
    '-', '*', '+', '•', '◦', '▪', '▫', '‣', '●', '○', '■', '□', '►', '▸', '➢', '✓', '✔', '·', '\u{f0b7}',
];

/// The text after a bullet and white space, if the line opens a bulleted item with text.
pub(super) fn bulleted(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let mark = line.chars().next().filter(|c| BULLETS.contains(c))?;
    let rest = &line[mark.len_utf8()..];
    let text = rest.trim_start();
    (text.len() < rest.len() && !text.is_empty()).then_some(text)
}

/// The number and text of a line opening a numbered item (`1.` or `1)`, one to three digits,
/// then white space and text); longer numbers are years and amounts, not items.
pub(super) fn numbered(line: &str) -> Option<(u32, &str)> {
    let line = line.trim_start();
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=3).contains(&digits) {
        return None;
    }
    let rest = line[digits..].strip_prefix(['.', ')'])?;
    let text = rest.trim_start();
    if text.len() == rest.len() || text.is_empty() {
        return None;
    }
    Some((line[..digits].parse().ok()?, text))
}

/// The text of an item opened by a bullet or a number.
fn item_text(line: &str) -> Option<&str> {
    bulleted(line).or_else(|| numbered(line).map(|(_, text)| text))
}

/// The passages of a plain-text paragraph block that holds a list, `None` for any other: a
/// block where two lines or more open items gives the lines before the first (the lead-in, if
/// any), then each item with the lines that continue it. Items keep their markers: in plain
/// text a leading sign may be content (`- interval → interval`, `* denotes repetition`), and
/// a block of one line is one passage anyway. White space is collapsed.
pub(super) fn text_list_pieces(block: &Block) -> Option<Vec<String>> {
    let opening = block
        .lines
        .iter()
        .filter(|line| item_text(line).is_some())
        .count();
    if opening < 2 {
        return None;
    }
    let mut pieces: Vec<Vec<&str>> = vec![Vec::new()];
    for line in &block.lines {
        match item_text(line) {
            Some(_) => pieces.push(vec![line]),
            None => pieces.last_mut().into_iter().for_each(|piece| piece.push(line)),
        }
    }
    Some(
        pieces
            .into_iter()
            .filter(|lines| !lines.is_empty())
            .map(|lines| Block { lines }.normalised())
            .collect(),
    )
}

/// Which short lines are numbered list items: those of a run of two or more adjacent short
/// lines (blocks with nothing between them but blank lines) numbered one after another
/// (`1.`, `2.`, `3.` …), which would otherwise read as headings nested in each other.
pub(super) fn numbered_runs(lines: &[Option<String>]) -> Vec<bool> {
    let mut items = vec![false; lines.len()];
    let number = |i: usize| lines[i].as_deref().and_then(numbered).map(|(n, _)| n);
    let mut i = 0;
    while i < lines.len() {
        let Some(first) = number(i) else {
            i += 1;
            continue;
        };
        let mut end = i + 1;
        while end < lines.len() && number(end) == Some(first + (end - i) as u32) {
            end += 1;
        }
        if end - i >= 2 {
            items[i..end].iter_mut().for_each(|item| *item = true);
        }
        i = end;
    }
    items
}
