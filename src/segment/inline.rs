//! Markdown's inline markup taken out of a block's text, so passages, headings and captions
//! read as the rendered page does: emphasis marks, code ticks, link and image syntax, tags.

/// Longest link text, link destination or code span looked for, in bytes: past it the marks
/// are text, so a line of unmatched `[` or backticks costs a bounded look-ahead each.
const MAX_SPAN: usize = 512;

/// One piece of the output before emphasis is settled: text, or a run of emphasis marks.
enum Piece<'a> {
    Text(&'a str),
    Owned(String),
    /// A run of `*`, `_` or `~~` with what it may do, as CommonMark's flanking rules say.
    Marks {
        text: &'a str,
        open: bool,
        close: bool,
        used: bool,
    },
}

/// The text as Markdown renders it: `**bold**`, `_em_` and `~~struck~~` lose their marks,
/// `` `code` `` its ticks, `[text](url)` and `[text][ref]` give their text, `![alt](src)` its alt
/// text, `<https://…>` its address, footnote marks (`[^1]`) and inline tags (`<br>`, `<kbd>`)
/// go, entities (`&amp;`, `&#8212;`) give their characters, and `\*` is a `*`. Marks that do not pair (`5 * 3`, `snake_case`, `*nix`) stay as
/// written. Spaces stay collapsed and trimmed. Text that would render as nothing (a code span
/// of spaces, a lone footnote mark) is returned as written, so no heading or passage is empty.
/// Work is linear in the text, with bounded look-ahead.
pub(super) fn plain(text: String) -> String {
    if !text
        .bytes()
        .any(|b| matches!(b, b'*' | b'_' | b'~' | b'`' | b'[' | b'!' | b'<' | b'\\' | b'&'))
    {
        return text;
    }
    let bytes = text.as_bytes();
    let mut pieces: Vec<Piece> = Vec::new();
    // Link texts being read: where each one's `]` stands and where reading goes on after it.
    let mut links: Vec<(usize, usize)> = Vec::new();
    let mut plain_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(&(close, resume)) = links.last() {
            if i == close {
                pieces.push(Piece::Text(&text[plain_from..i]));
                links.pop();
                i = resume;
                plain_from = i;
                continue;
            }
        }
        // Nothing read inside a link's text may run past its `]`.
        let bound = links.last().map_or(bytes.len(), |&(close, _)| close);
        let hay = &bytes[..bound];
        let b = bytes[i];
        let step = match b {
            b'\\' if hay.get(i + 1).is_some_and(u8::is_ascii_punctuation) => {
                pieces.push(Piece::Text(&text[plain_from..i]));
                pieces.push(Piece::Text(&text[i + 1..i + 2]));
                Some(i + 2)
            }
            b'`' => {
                let run = run_length(hay, i, b'`');
                let end = closing_ticks(hay, i + run, run);
                pieces.push(Piece::Text(&text[plain_from..i]));
                match end {
                    Some(end) => {
                        pieces.push(Piece::Text(code_content(&text[i + run..end])));
                        Some(end + run)
                    }
                    None => {
                        pieces.push(Piece::Text(&text[i..i + run]));
                        Some(i + run)
                    }
                }
            }
            b'[' | b'!' => {
                let open = if b == b'!' { i + 1 } else { i };
                if hay.get(open) != Some(&b'[') {
                    None
                } else if bytes.get(open + 1) == Some(&b'^') && b == b'[' {
                    // A footnote mark `[^1]`: not text of the passage; opening the text with a
                    // colon (`[^1]: …`), it labels the footnote's own text and goes with it.
                    link_text_end(hay, open).map(|close| {
                        pieces.push(Piece::Text(&text[plain_from..i]));
                        if i == 0 && hay.get(close + 1) == Some(&b':') {
                            close + 2
                        } else {
                            close + 1
                        }
                    })
                } else {
                    link_text_end(hay, open).and_then(|close| {
                        let after = link_tail_end(hay, close + 1)?;
                        pieces.push(Piece::Text(&text[plain_from..i]));
                        links.push((close, after));
                        Some(open + 1)
                    })
                }
            }
            b'<' => tag_end(hay, i).map(|(end, shown)| {
                pieces.push(Piece::Text(&text[plain_from..i]));
                match shown {
                    Shown::Address => pieces.push(Piece::Text(&text[i + 1..end - 1])),
                    Shown::Space => pieces.push(Piece::Owned(" ".into())),
                    Shown::Nothing => {}
                }
                end
            }),
            b'&' => entity(&text[i..bound]).map(|(len, shown)| {
                pieces.push(Piece::Text(&text[plain_from..i]));
                pieces.push(Piece::Owned(shown));
                i + len
            }),
            b'*' | b'_' | b'~' => {
                let run = run_length(hay, i, b);
                pieces.push(Piece::Text(&text[plain_from..i]));
                let marks = &text[i..i + run];
                if b == b'~' && run != 2 {
                    pieces.push(Piece::Text(marks));
                } else {
                    let (open, close) = flanking(&text, i, i + run, b);
                    pieces.push(Piece::Marks {
                        text: marks,
                        open,
                        close,
                        used: false,
                    });
                }
                Some(i + run)
            }
            _ => None,
        };
        match step {
            Some(next) => {
                i = next;
                plain_from = i;
            }
            None => i += text[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    pieces.push(Piece::Text(&text[plain_from..]));
    pair_marks(&mut pieces);
    let mut out = String::with_capacity(text.len());
    for piece in &pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Owned(t) => out.push_str(t),
            Piece::Marks { used: true, .. } => {}
            Piece::Marks { text, .. } => out.push_str(text),
        }
    }
    let shown = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if shown.is_empty() {
        text
    } else {
        shown
    }
}

/// An entity or numeric character reference opening `text` (`&amp;`, `&mdash;`, `&#8212;`,
/// `&#x2014;`, always closed by `;`, as CommonMark reads them): its length and the text it
/// stands for (U+FFFD for a number that is no character). `None` when it is no reference.
fn entity(text: &str) -> Option<(usize, String)> {
    let end = text.bytes().take(34).position(|b| b == b';')?;
    let name = &text[1..end];
    let code = |digits: &str, radix: u32| {
        let n = u32::from_str_radix(digits, radix).ok()?;
        Some(
            char::from_u32(n)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{fffd}')
                .to_string(),
        )
    };
    let shown = if let Some(number) = name.strip_prefix('#') {
        match number.strip_prefix(['x', 'X']) {
            Some(hex) if (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                code(hex, 16)?
            }
            None if (1..=7).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit()) => {
                code(number, 10)?
            }
            _ => return None,
        }
    } else {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let &(first, second) = html5ever::data::NAMED_ENTITIES.get(&text[1..=end])?;
        [first, second]
            .into_iter()
            .filter(|&c| c != 0)
            .filter_map(char::from_u32)
            .collect()
    };
    (!shown.is_empty()).then_some((end + 1, shown))
}

/// How many `mark` bytes run from `at`.
fn run_length(bytes: &[u8], at: usize, mark: u8) -> usize {
    bytes[at..].iter().take_while(|&&b| b == mark).count()
}

/// Where a code span opened by `run` ticks closes: the next run of exactly that many ticks,
/// within [`MAX_SPAN`] bytes.
fn closing_ticks(bytes: &[u8], from: usize, run: usize) -> Option<usize> {
    let limit = bytes.len().min(from + MAX_SPAN);
    let mut j = from;
    while j < limit {
        if bytes[j] == b'`' {
            let len = run_length(bytes, j, b'`');
            if len == run {
                return Some(j);
            }
            j += len;
        } else {
            j += 1;
        }
    }
    None
}

/// A code span's text: one space each side is dropped when both are there (CommonMark).
fn code_content(inner: &str) -> &str {
    if inner.len() >= 2 && inner.starts_with(' ') && inner.ends_with(' ') && !inner.trim().is_empty() {
        &inner[1..inner.len() - 1]
    } else {
        inner
    }
}

/// The `]` closing the link text opened at `open`: the next bracket within [`MAX_SPAN`] bytes,
/// when it is a `]` (nested brackets are not link text here).
fn link_text_end(bytes: &[u8], open: usize) -> Option<usize> {
    let limit = bytes.len().min(open + 1 + MAX_SPAN);
    let mut j = open + 1;
    while j < limit {
        match bytes[j] {
            b'\\' => j += 2,
            // An image as a link's text (a badge: `[![build](b.svg)](ci)`) is read whole.
            b'[' if j == open + 2 && bytes[open + 1] == b'!' => {
                let close = image_text_end(bytes, j)?;
                j = link_tail_end(bytes, close + 1)?;
            }
            b'[' => return None,
            b']' => return (j > open + 1).then_some(j),
            _ => j += 1,
        }
    }
    None
}

/// [`link_text_end`] of an image's alt text, which holds no bracket.
fn image_text_end(bytes: &[u8], open: usize) -> Option<usize> {
    let limit = bytes.len().min(open + 1 + MAX_SPAN);
    (open + 1..limit)
        .find(|&j| matches!(bytes[j], b'[' | b']'))
        .filter(|&j| bytes[j] == b']' && j > open + 1)
}

/// Where a link's tail ends when one follows its `]` at `at`: `(destination "title")` with
/// balanced parentheses, or `[ref]`. `None` when neither follows (the brackets are text).
fn link_tail_end(bytes: &[u8], at: usize) -> Option<usize> {
    let (open, close) = match bytes.get(at) {
        Some(b'(') => (b'(', b')'),
        Some(b'[') => (b'[', b']'),
        _ => return None,
    };
    let limit = bytes.len().min(at + 1 + MAX_SPAN);
    let mut depth = 0usize;
    let mut j = at + 1;
    while j < limit {
        match bytes[j] {
            b'\\' => j += 1,
            b if b == close && depth == 0 => return Some(j + 1),
            b if b == close => depth -= 1,
            b if b == open && open == b'(' => depth += 1,
            b'[' | b']' => return None,
            _ => {}
        }
        j += 1;
    }
    None
}

/// What an angle-bracketed span shows in place of itself.
enum Shown {
    /// An autolink: its address.
    Address,
    /// A line break tag.
    Space,
    /// Any other tag: nothing.
    Nothing,
}

/// The end (after `>`) of an autolink `<scheme:…>`/`<name@host>` or an inline tag
/// (`<kbd>`, `</span>`, `<br/>`) opening at `at`, and what it shows.
fn tag_end(bytes: &[u8], at: usize) -> Option<(usize, Shown)> {
    let limit = bytes.len().min(at + MAX_SPAN);
    let close = (at + 1..limit).find(|&j| matches!(bytes[j], b'>' | b'<'))?;
    if bytes[close] != b'>' {
        return None;
    }
    let inner = &bytes[at + 1..close];
    let name_start = usize::from(inner.first() == Some(&b'/'));
    let name: Vec<u8> = inner[name_start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .copied()
        .collect();
    let address = !inner.contains(&b' ')
        && (inner.windows(3).any(|w| w == b"://") || (inner.contains(&b'@') && !inner.starts_with(b"@")))
        && inner.first().is_some_and(u8::is_ascii_alphabetic);
    if address {
        return Some((close + 1, Shown::Address));
    }
    let after_name = inner.get(name_start + name.len());
    let tag = name.first().is_some_and(u8::is_ascii_alphabetic)
        && matches!(after_name, None | Some(b' ' | b'/' | b'\t'));
    if !tag {
        return None;
    }
    let shown = if name.eq_ignore_ascii_case(b"br") {
        Shown::Space
    } else {
        Shown::Nothing
    };
    Some((close + 1, shown))
}

/// Whether a run of marks from `start` to `end` may open and may close emphasis, by what
/// stands before and after it (CommonMark's left- and right-flanking runs; `_` inside a word
/// does neither).
fn flanking(text: &str, start: usize, end: usize, mark: u8) -> (bool, bool) {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let punct = |c: Option<char>| {
        c.is_some_and(|c| c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace()))
    };
    let left = !space(after) && (!punct(after) || space(before) || punct(before));
    let right = !space(before) && (!punct(before) || space(after) || punct(after));
    if mark == b'_' {
        (
            left && (!right || punct(before)),
            right && (!left || punct(after)),
        )
    } else {
        (left, right)
    }
}

/// Pairs each run that may close with the nearest earlier run of the same mark that may open;
/// both are then left out. Runs that pair with nothing stay text. One stack a mark, so each
/// run is looked at once.
fn pair_marks(pieces: &mut [Piece]) {
    let mut openers: [Vec<usize>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for k in 0..pieces.len() {
        let Piece::Marks {
            text, open, close, ..
        } = &pieces[k]
        else {
            continue;
        };
        let stack = match text.as_bytes()[0] {
            b'*' => 0,
            b'_' => 1,
            _ => 2,
        };
        let (open, close) = (*open, *close);
        if close {
            if let Some(o) = openers[stack].pop() {
                for index in [o, k] {
                    if let Piece::Marks { used, .. } = &mut pieces[index] {
                        *used = true;
                    }
                }
                continue;
            }
        }
        if open {
            openers[stack].push(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn inline_markup_renders_as_text() {
        for (markdown, shown) in [
            ("**Key responsibilities:**", "Key responsibilities:"),
            ("*Last updated: May 2024*", "Last updated: May 2024"),
            ("Use __strong__ and _light_ words", "Use strong and light words"),
            ("It was ~~wrong~~ right", "It was wrong right"),
            ("Run `cargo test` first", "Run cargo test first"),
            ("``a `tick` inside``", "a `tick` inside"),
            ("[Overview](#overview)", "Overview"),
            (
                "See [the **guide**](https://x.org/a_(b) \"Guide\") now",
                "See the guide now",
            ),
            ("Read [the docs][docs] first", "Read the docs first"),
            ("![A chef at the pass](pass.jpg)", "A chef at the pass"),
            ("[![build](b.svg)](https://ci.example.org)", "build"),
            (
                "Mail <team@example.org> or <https://example.org>",
                "Mail team@example.org or https://example.org",
            ),
            ("Press <kbd>Ctrl</kbd>+<kbd>C</kbd>", "Press Ctrl+C"),
            ("one<br>two", "one two"),
            ("A claim.[^1] More.", "A claim. More."),
            (r"Escaped \*stars\* stay", "Escaped *stars* stay"),
            (
                "**Can a teacher become a principal?** Yes.",
                "Can a teacher become a principal? Yes.",
            ),
        ] {
            assert_eq!(plain(markdown.to_string()), shown, "{markdown}");
        }
    }

    #[test]
    fn marks_that_pair_with_nothing_stay_as_written() {
        for text in [
            "5 * 3 * 2 = 30",
            "snake_case_name and __init__.py",
            "*nix systems",
            "a < b and b > c",
            "x<y>z is not a tag? it is",
            "[1] is a citation, [not a link]",
            "~one tilde~ and ~~~three~~~",
            "an unclosed `tick",
        ] {
            let got = plain(text.to_string());
            if text.starts_with("x<y>") {
                // `<y>` has the shape of a tag and goes, as a browser would hide it.
                assert_eq!(got, "xz is not a tag? it is");
            } else if text.starts_with("snake") {
                assert_eq!(got, "snake_case_name and init.py");
            } else {
                assert_eq!(got, text);
            }
        }
    }

    #[test]
    fn entities_give_their_characters_outside_code_only() {
        for (markdown, shown) in [
            ("R&amp;D &mdash; and CEOs&nbsp;too", "R&D — and CEOs too"),
            ("&#8212; &#x2014; &#X41;", "— — A"),
            ("&#0; &#1114112;", "\u{fffd} \u{fffd}"),
            (
                "Fish &chips; &amp &#xZZ; & more",
                "Fish &chips; &amp &#xZZ; & more",
            ),
            ("`&amp;` stays in code", "&amp; stays in code"),
            ("&lt;b&gt; is not a tag", "<b> is not a tag"),
            ("[^1]: The footnote's own text.", "The footnote's own text."),
            ("Says: [^1]: not a label here", "Says: : not a label here"),
        ] {
            assert_eq!(plain(markdown.to_string()), shown, "{markdown}");
        }
    }

    #[test]
    fn text_without_markup_is_returned_as_it_came() {
        let text = "Plain words, commas; and full stops.".to_string();
        assert_eq!(plain(text.clone()), text);
    }

    #[test]
    fn long_runs_of_unmatched_marks_take_linear_time() {
        // Bounded look-ahead: 200,000 `[` and backticks finish at once.
        let text = "[` ".repeat(200_000);
        assert_eq!(plain(text).matches('[').count(), 200_000);
    }
}
