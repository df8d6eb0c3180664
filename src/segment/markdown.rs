//! Markdown as people write it: front matter, setext and ATX headings, HTML blocks, tables,
//! lists and link definitions, read into the blocks and kinds the rest of segmentation uses.

use super::*;

/// A piece of a Markdown block: its kind (`None`: lines read as any block is, by
/// [`classify_markdown`]), its text (lines joined by `\n`), and why it is of that kind.
pub(super) type Piece = (Option<Kind>, String, &'static str);

/// The pieces a Markdown block holds when it is more than one paragraph, each with its kind
/// and why: an HTML block is read as HTML (tags never shown, comments and scripts dropped);
/// a table gives one passage a row, cells joined by ` | `, its separator row dropped; a list
/// gives one passage an item, nested items included, markers dropped; a block quote gives its
/// text without the `>` marks. `None` for any other block.
pub(super) fn markdown_pieces(block: &Block) -> Option<Vec<Piece>> {
    let first = block.lines[0].trim_start();
    if is_html_block_start(first) {
        let pieces = html::read_fragment(&block.lines.join("\n"))
            .into_iter()
            .map(|(item, text)| match item {
                html::Item::Heading(level) => (Some(Kind::Tagged(level)), text, ""),
                html::Item::Caption(why) => (Some(Kind::Caption), text, why),
                html::Item::Text if is_markdown_caption(&text) => (
                    Some(Kind::Caption),
                    text,
                    "a Markdown block that is only an image or a link",
                ),
                html::Item::Text => (Some(Kind::Paragraph), text, ""),
            })
            .collect();
        return Some(pieces);
    }
    if block.lines.iter().all(|line| line.trim_start().starts_with('>')) {
        // A block quote: its text without the `>` marks (nested ones too).
        let text = block
            .lines
            .iter()
            .flat_map(|line| {
                line.trim_start()
                    .trim_start_matches(|c: char| c == '>' || c.is_whitespace())
                    .split_whitespace()
            })
            .collect::<Vec<_>>()
            .join(" ");
        return Some(if text.is_empty() {
            Vec::new()
        } else {
            vec![(Some(Kind::Paragraph), text, "")]
        });
    }
    if let Some(rows) = table_rows(block) {
        return Some(rows.into_iter().map(|r| (Some(Kind::Paragraph), r, "")).collect());
    }
    if block.lines.len() == 1 && thematic_break(first).is_some() {
        // A thematic break: a line across the page, no text.
        return Some(Vec::new());
    }
    let fenced = first.starts_with("```");
    if fenced
        && block.lines[1..]
            .iter()
            .all(|line| line.trim_start().starts_with("```"))
    {
        // Fences around no code: nothing to read.
        return Some(Vec::new());
    }
    let lead = if fenced || list_marker(first).is_some() {
        0
    } else {
        list_interrupts(block)?
    };
    if list_marker(first).is_some() || lead > 0 {
        let mut items: Vec<String> = Vec::new();
        for line in &block.lines[lead..] {
            let line = line.trim();
            match list_marker(line) {
                Some(rest) => {
                    // A task list's box (`- [ ] Call the board`) is no text of the item.
                    let rest = ["[ ] ", "[x] ", "[X] "]
                        .iter()
                        .find_map(|task| rest.strip_prefix(task))
                        .unwrap_or(rest);
                    items.push(rest.split_whitespace().collect::<Vec<_>>().join(" "))
                }
                None => {
                    if let Some(item) = items.last_mut() {
                        for word in line.split_whitespace() {
                            item.push(' ');
                            item.push_str(word);
                        }
                    }
                }
            }
        }
        // The paragraph the list interrupts keeps its lines, read as any block is.
        let lead_in = (lead > 0).then(|| (None, block.lines[..lead].join("\n"), ""));
        let pieces = lead_in
            .into_iter()
            .chain(items.into_iter().filter(|item| !item.is_empty()).map(|item| {
                if is_markdown_caption(&item) {
                    (
                        Some(Kind::Caption),
                        item,
                        "a Markdown list item that is only an image or a link",
                    )
                } else {
                    (Some(Kind::Paragraph), item, "")
                }
            }))
            .collect();
        return Some(pieces);
    }
    None
}

/// A level-1 heading that only captions (a logo, badges) come before is the file's title as
/// if it opened the file: it is moved before them. `stated` is empty when nothing is stated.
/// False when every block is a caption (no heading can be moved).
pub(super) fn title_first(blocks: &mut [Block], stated: &mut [Option<(Kind, &str)>]) -> bool {
    let said = |i: usize| stated.get(i).copied().flatten();
    let is_caption = |i: usize| match said(i) {
        Some((kind, _)) => kind == Kind::Caption,
        None => block_is_markdown_caption(&blocks[i]),
    };
    let Some(k) = (0..blocks.len()).find(|&i| !is_caption(i)) else {
        return false;
    };
    let level_one = match said(k) {
        Some((kind, _)) => kind == Kind::Tagged(1),
        None => {
            setext_heading(&blocks[k]) == Some(1)
                || (blocks[k].lines.len() == 1
                    && atx_heading(blocks[k].lines[0]).is_some_and(|(l, _)| l == 1))
        }
    };
    if k > 0 && level_one {
        blocks[..=k].rotate_right(1);
        if !stated.is_empty() {
            stated[..=k].rotate_right(1);
        }
    }
    true
}

/// Does a line open an HTML block (CommonMark's HTML blocks): `<tag`, `</tag` or `<!--`?
/// An autolink (`<https://…>`) is not one.
pub(super) fn is_html_block_start(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('<') else {
        return false;
    };
    if rest.starts_with("!--") {
        return true;
    }
    let name = rest.strip_prefix('/').unwrap_or(rest);
    let tag: String = name.chars().take_while(char::is_ascii_alphanumeric).collect();
    let after = name[tag.len()..].chars().next();
    tag.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && matches!(after, None | Some('>' | ' ' | '/' | '\t'))
}

/// The text after a list marker (`-`, `*`, `+`, or one to nine digits and `.` or `)`, then a
/// space), if the line opens a list item.
pub(super) fn list_marker(line: &str) -> Option<&str> {
    let line = line.trim_start();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some(rest.trim());
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest.trim());
        }
    }
    None
}

/// Whether a Markdown line ends the block before it and stands alone ([`raw_blocks`]): an ATX
/// heading or a thematic break (`***`, `___`, `- - -`; a line of dashes only under text is a
/// setext underline), indented at most three spaces, outside an HTML block.
pub(super) fn interrupts_a_block(line: &str, current: &[&str]) -> bool {
    if current
        .first()
        .is_some_and(|first| is_html_block_start(first.trim_start()))
    {
        return false;
    }
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return false;
    }
    if atx_heading(line).is_some() {
        return true;
    }
    match thematic_break(line) {
        Some('-') => current.is_empty() || line.trim().contains([' ', '\t']),
        Some(_) => true,
        None => false,
    }
}

/// The character of a thematic break: three or more of one of `*`, `-`, `_` and nothing else
/// but spaces and tabs.
pub(super) fn thematic_break(line: &str) -> Option<char> {
    let mut marks = line.chars().filter(|c| !matches!(c, ' ' | '\t'));
    let mark = marks.next().filter(|c| matches!(c, '*' | '-' | '_'))?;
    let mut count = 1;
    for c in marks {
        if c != mark {
            return None;
        }
        count += 1;
    }
    (count >= 3).then_some(mark)
}

/// The line at which a list interrupts the paragraph that opens a block, as CommonMark lets
/// it: a bullet item, or a numbered one starting at 1, with text after the marker.
fn list_interrupts(block: &Block) -> Option<usize> {
    block
        .lines
        .iter()
        .skip(1)
        .position(|line| {
            let indent = line.len() - line.trim_start_matches(' ').len();
            let opens_item = indent <= 3 && list_marker(line).is_some_and(|rest| !rest.is_empty());
            let digits = line.trim_start().chars().take_while(char::is_ascii_digit).count();
            opens_item && (digits == 0 || line.trim_start()[..digits].trim_start_matches('0') == "1")
        })
        .map(|n| n + 1)
}

/// A GitHub-flavoured table: a first row holding `|` and a separator row of dashes (with
/// optional colons) under it. Its rows, each as its cells joined by ` | `.
pub(super) fn table_rows(block: &Block) -> Option<Vec<String>> {
    if block.lines.len() < 2 || !block.lines[0].contains('|') || !is_table_separator(block.lines[1]) {
        return None;
    }
    let rows = block
        .lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, line)| {
            let line = line.trim();
            let line = line.strip_prefix('|').unwrap_or(line);
            let line = line.strip_suffix('|').unwrap_or(line);
            line.split('|')
                .map(|cell| cell.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|cell| !cell.is_empty())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .filter(|row| !row.is_empty())
        .collect();
    Some(rows)
}

/// A table's separator row: cells of dashes, each with optional colons, between bars.
pub(super) fn is_table_separator(line: &str) -> bool {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = line.strip_suffix('|').unwrap_or(line);
    !line.is_empty()
        && line.split('|').all(|cell| {
            let cell = cell.trim();
            let dashes = cell.trim_start_matches(':').trim_end_matches(':');
            !dashes.is_empty() && dashes.chars().all(|c| c == '-')
        })
}

/// Does the text open with a front matter line (`---`), closed or not?
pub(super) fn opens_front_matter(text: &str) -> bool {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    body.starts_with("---\n") || body.starts_with("---\r\n")
}

/// YAML front matter (`---` lines around `key: value` lines) opening a Markdown file: its
/// `title:` and the text after it. The block itself is never a passage.
pub(super) fn front_matter(text: &str) -> (Option<String>, &str) {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = body
        .strip_prefix("---\n")
        .or_else(|| body.strip_prefix("---\r\n"))
    else {
        return (None, text);
    };
    let mut offset = 0;
    let mut title = None;
    for line in rest.split_inclusive('\n') {
        offset += line.len();
        let trimmed = line.trim();
        if trimmed == "---" || trimmed == "..." {
            return (title, &rest[offset..]);
        }
        if let Some(value) = trimmed.strip_prefix("title:") {
            let value = value.trim().trim_matches(['"', '\'']).trim();
            if !value.is_empty() {
                title = Some(value.to_string());
            }
        }
    }
    // No closing line: not front matter, the text as written.
    (None, text)
}

/// A block made only of link reference definitions (`[label]: https://…`), which Markdown
/// does not show and which hold no passage.
pub(super) fn is_link_definitions(block: &Block) -> bool {
    block.lines.iter().all(|line| {
        let line = line.trim_start();
        let Some((label, target)) = line.strip_prefix('[').and_then(|l| l.split_once("]:")) else {
            return false;
        };
        let target = target.trim();
        // A URL, optionally followed by a quoted title.
        let url_only = !target.is_empty() && (!target.contains(' ') || target.contains(" \""));
        !label.is_empty() && url_only
    })
}

/// A setext heading: text lines underlined by `===` (level 1) or `---` (level 2).
pub(super) fn setext_heading(block: &Block) -> Option<usize> {
    if block.lines.len() < 2 {
        return None;
    }
    let under = block.lines[block.lines.len() - 1].trim();
    if under.len() >= 2 && under.chars().all(|c| c == '=') {
        Some(1)
    } else if under.len() >= 2 && under.chars().all(|c| c == '-') {
        Some(2)
    } else {
        None
    }
}

/// A Markdown title is a `#` heading that opens the file.
pub(super) fn markdown_title<'a, 'b>(blocks: &'b [Block<'a>]) -> (Option<String>, &'b [Block<'a>]) {
    match blocks.first() {
        Some(first) if first.lines.len() == 1 && atx_heading(first.lines[0]).is_some() => {
            let (_, text) = atx_heading(first.lines[0]).unwrap_or((1, ""));
            (Some(text.to_string()), &blocks[1..])
        }
        Some(first) if setext_heading(first) == Some(1) => (Some(setext_text(first)), &blocks[1..]),
        _ => (None, blocks),
    }
}

/// The text of a setext heading: its lines without the underline.
pub(super) fn setext_text(block: &Block) -> String {
    Block {
        lines: block.lines[..block.lines.len() - 1].to_vec(),
    }
    .normalised()
}

/// Markdown structure: `#` lines are headings with their level; a block holding only an image
/// or only a link is a caption; everything else is a paragraph.
pub(super) fn classify_markdown(blocks: &[Block]) -> Vec<Kind> {
    blocks
        .iter()
        .map(|block| {
            if block.lines.len() == 1 {
                if let Some((level, _)) = atx_heading(block.lines[0]) {
                    return Kind::Heading(Some(level));
                }
            }
            if let Some(level) = setext_heading(block) {
                return Kind::Heading(Some(level));
            }
            if is_bold_line(block) {
                return Kind::BoldLine;
            }
            if block_is_markdown_caption(block) {
                Kind::Caption
            } else {
                Kind::Paragraph
            }
        })
        .collect()
}

/// A block of one line that is one bold span (`**…**` or `__…__`, a colon inside or after it)
/// of at most [`MAX_BOLD_LINE_WORDS`] words with a letter: a subheading written in bold.
pub(super) fn is_bold_line(block: &Block) -> bool {
    let [line] = &block.lines[..] else {
        return false;
    };
    let line = line.trim();
    let line = line.strip_suffix(':').unwrap_or(line);
    let inner = ["**", "__"].iter().find_map(|mark| {
        let inner = line.strip_prefix(mark)?.strip_suffix(mark)?;
        (!inner.contains(mark)).then_some(inner)
    });
    inner.is_some_and(|inner| {
        inner.trim() == inner
            && inner.chars().any(char::is_alphabetic)
            && inner.split_whitespace().count() <= MAX_BOLD_LINE_WORDS
    })
}

/// Longest bold line read as a subheading, in words: past it, a bold sentence is a passage.
const MAX_BOLD_LINE_WORDS: usize = 12;

/// An ATX heading `## Text` gives its level and text (closing `#`s removed).
pub(super) fn atx_heading(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    if level == 0 || level > 6 {
        return None;
    }
    let rest = &trimmed[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim();
    // Attributes some dialects put last (`## Overview {#overview}`, `{.unnumbered}`).
    let text = match text.rsplit_once('{') {
        Some((before, attributes))
            if attributes.strip_suffix('}').is_some_and(|list| {
                list.split_whitespace()
                    .all(|a| a.len() > 1 && (a.starts_with(['#', '.']) || a.contains('=')))
            }) && attributes.starts_with(['#', '.'])
                && !before.trim().is_empty() =>
        {
            before.trim_end()
        }
        _ => text,
    };
    if text.is_empty() {
        None
    } else {
        Some((level, text))
    }
}

/// [`is_markdown_caption`] of a block's text, its text collapsed only for a block that opens
/// and closes as a caption does (most do not: no copy is made for them).
pub(super) fn block_is_markdown_caption(block: &Block) -> bool {
    let opens = block.lines.first().and_then(|l| l.trim_start().chars().next());
    let closes = block.lines.last().and_then(|l| l.trim_end().chars().next_back());
    matches!(opens, Some('!' | '[')) && closes == Some(')') && is_markdown_caption(&block.normalised())
}

/// A Markdown block that is only an image (`![alt](url)`) or only a link (`[text](url)`).
pub(super) fn is_markdown_caption(text: &str) -> bool {
    let inner = text.strip_prefix('!').unwrap_or(text);
    inner.starts_with('[') && inner.ends_with(')') && inner.contains("](") && !inner[1..].contains("\n")
}
