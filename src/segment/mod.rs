//! Segmentation: turns a document's text (plain text, Markdown, HTML) into a title, a section tree and passages.
//! Pure (no I/O): every rule about where a heading is and where a passage is cut lives here.

use unicode_segmentation::UnicodeSegmentation;

mod html;

use crate::model::{Document, Format, Passage, Section, SourceText};

/// A paragraph longer than this many words is cut at sentence boundaries.
pub const MAX_PASSAGE_WORDS: usize = 120;
/// No passage holds more bytes than this: a sentence that runs on past it (a log line, a
/// paragraph without full stops) is cut at a word boundary, so one passage never holds a file.
pub const MAX_PASSAGE_BYTES: usize = 4096;
/// A line with more words than this is never a heading or a caption.
const MAX_SHORT_LINE_WORDS: usize = 12;
/// A line with more characters than this is never a heading or a caption.
const MAX_SHORT_LINE_CHARS: usize = 100;
/// A first line longer than this is body text, not a title.
const MAX_TITLE_CHARS: usize = 200;

/// A short line between two paragraphs whose caption evidence weighs at least this much is a
/// caption; below it, a heading. Each signal's weight is given where it is found.
const CAPTION_THRESHOLD: f32 = 2.0;

/// What the segmenter may know of a corpus beyond the text: the names of its roles, each role
/// as the list of its names (display name and aliases). Plain data, so segmentation stays pure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    pub roles: Vec<Vec<String>>,
}

/// Splits one source file into its document: title, sections and passages.
pub fn document(source: &SourceText) -> Document {
    split(source, &Hints::default(), true).0
}

/// As [`document`], with what the corpus's taxonomy tells about its roles.
pub fn document_with(source: &SourceText, hints: &Hints) -> Document {
    split(source, hints, true).0
}

/// What indexing needs of a source file: the document's title and passages (its `sections`
/// left empty) and its number of sections. Cut exactly as [`document`] cuts, but without the
/// outline, which a table of contents nested hundreds of headings deep makes large.
pub fn passages(source: &SourceText) -> (Document, usize) {
    split(source, &Hints::default(), false)
}

/// As [`passages`], with what the corpus's taxonomy tells about its roles.
pub fn passages_with(source: &SourceText, hints: &Hints) -> (Document, usize) {
    split(source, hints, false)
}

/// As [`passages_with`], handing each passage to `sink` (with the document's title) as it is
/// cut instead of keeping them all: the document returned has no passages. Indexing a large
/// file then holds its text, not a copy of every passage besides.
pub fn each_passage(
    source: &SourceText,
    hints: &Hints,
    sink: &mut dyn FnMut(&str, Passage),
) -> (Document, usize) {
    cut(source, hints, false, sink)
}

fn split(source: &SourceText, hints: &Hints, outline: bool) -> (Document, usize) {
    let mut passages = Vec::new();
    let (mut document, sections) = cut(source, hints, outline, &mut |_, passage| passages.push(passage));
    document.passages = passages;
    (document, sections)
}

fn cut(
    source: &SourceText,
    hints: &Hints,
    outline: bool,
    sink: &mut dyn FnMut(&str, Passage),
) -> (Document, usize) {
    if source.format == Format::Html {
        return split_html(source, outline, sink);
    }
    let (front_title, text) = match source.format {
        Format::Markdown => front_matter(&source.text),
        Format::Text | Format::Html => (None, source.text.as_str()),
    };
    let mut blocks = blocks(text, source.format);
    if source.format == Format::Markdown {
        blocks.retain(|block| !is_link_definitions(block));
    }
    // Markdown blocks that hold several pieces (HTML, tables, lists), read into owned texts
    // that the pieces' blocks borrow; `stated[i]` is what the markup says block `i` is.
    let pieces: Vec<Option<Vec<Piece>>> = match source.format {
        Format::Markdown => blocks.iter().map(markdown_pieces).collect(),
        _ => Vec::new(),
    };
    let mut stated: Vec<Option<(Kind, &str)>> = vec![None; blocks.len()];
    if pieces.iter().any(Option::is_some) {
        let mut expanded = Vec::with_capacity(blocks.len());
        stated.clear();
        for (block, piece) in blocks.iter().zip(&pieces) {
            match piece {
                None => {
                    expanded.push(block.clone());
                    stated.push(None);
                }
                Some(list) => {
                    for (kind, text, why) in list {
                        expanded.push(Block {
                            lines: vec![text.as_str()],
                        });
                        stated.push(Some((*kind, *why)));
                    }
                }
            }
        }
        blocks = expanded;
    }
    if source.format == Format::Markdown && front_title.is_none() {
        title_first(&mut blocks, &mut stated);
    }
    let (title, body, stated) = match source.format {
        Format::Text | Format::Html => {
            let (title, body) = text_title(&blocks);
            (title, body, &stated[..0])
        }
        Format::Markdown if front_title.is_some() => (None, &blocks[..], &stated[..]),
        // An HTML `<h1>` opening the file is its title as a `#` heading would be.
        Format::Markdown if matches!(stated.first(), Some(Some((Kind::Tagged(1), _)))) => {
            (Some(blocks[0].normalised()), &blocks[1..], &stated[1..])
        }
        Format::Markdown => {
            let (title, body) = markdown_title(&blocks);
            (title, body, &stated[blocks.len() - body.len()..])
        }
    };
    let title = front_title.or(title).unwrap_or_else(|| file_stem(&source.source));
    let (kinds, reasons) = match source.format {
        Format::Text | Format::Html => classify_text(body, hints),
        Format::Markdown => {
            let mut kinds = classify_markdown(body);
            let mut reasons: Vec<Vec<String>> = kinds
                .iter()
                .map(|k| match k {
                    Kind::Caption => vec!["a Markdown block that is only an image or a link".to_string()],
                    Kind::Heading(Some(level)) => vec![format!("a Markdown heading of level {level}")],
                    _ => Vec::new(),
                })
                .collect();
            for (i, said) in stated.iter().enumerate() {
                if let Some((kind, why)) = said {
                    kinds[i] = *kind;
                    reasons[i] = match kind {
                        Kind::Tagged(level) => vec![format!("an HTML <h{level}> heading in Markdown")],
                        _ if why.is_empty() => Vec::new(),
                        _ => vec![why.to_string()],
                    };
                }
            }
            (kinds, reasons)
        }
    };
    assemble(&source.source, title, body, &kinds, &reasons, outline, sink)
}

/// A piece of a Markdown block: its kind, its text, and why it is of that kind.
type Piece = (Kind, String, &'static str);

/// The pieces a Markdown block holds when it is more than one paragraph, each with its kind
/// and why: an HTML block is read as HTML (tags never shown, comments and scripts dropped);
/// a table gives one passage a row, cells joined by ` | `, its separator row dropped; a list
/// gives one passage an item, nested items included, markers dropped; a block quote gives its
/// text without the `>` marks. `None` for any other block.
fn markdown_pieces(block: &Block) -> Option<Vec<Piece>> {
    let first = block.lines[0].trim_start();
    if is_html_block_start(first) {
        let pieces = html::read_fragment(&block.lines.join("\n"))
            .into_iter()
            .map(|(item, text)| match item {
                html::Item::Heading(level) => (Kind::Tagged(level), text, ""),
                html::Item::Caption(why) => (Kind::Caption, text, why),
                html::Item::Text if is_markdown_caption(&text) => (
                    Kind::Caption,
                    text,
                    "a Markdown block that is only an image or a link",
                ),
                html::Item::Text => (Kind::Paragraph, text, ""),
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
            vec![(Kind::Paragraph, text, "")]
        });
    }
    if let Some(rows) = table_rows(block) {
        return Some(rows.into_iter().map(|r| (Kind::Paragraph, r, "")).collect());
    }
    if list_marker(first).is_some() {
        let mut items: Vec<String> = Vec::new();
        for line in &block.lines {
            let line = line.trim();
            match list_marker(line) {
                Some(rest) => items.push(rest.split_whitespace().collect::<Vec<_>>().join(" ")),
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
        let pieces = items
            .into_iter()
            .filter(|item| !item.is_empty())
            .map(|item| {
                if is_markdown_caption(&item) {
                    (
                        Kind::Caption,
                        item,
                        "a Markdown list item that is only an image or a link",
                    )
                } else {
                    (Kind::Paragraph, item, "")
                }
            })
            .collect();
        return Some(pieces);
    }
    None
}

/// A level-1 heading that only captions (a logo, badges) come before is the file's title as
/// if it opened the file: it is moved before them.
fn title_first(blocks: &mut [Block], stated: &mut [Option<(Kind, &str)>]) {
    let is_caption = |i: usize| match stated[i] {
        Some((kind, _)) => kind == Kind::Caption,
        None => is_markdown_caption(&blocks[i].normalised()),
    };
    let Some(k) = (0..blocks.len()).find(|&i| !is_caption(i)) else {
        return;
    };
    let level_one = match stated[k] {
        Some((kind, _)) => kind == Kind::Tagged(1),
        None => {
            setext_heading(&blocks[k]) == Some(1)
                || (blocks[k].lines.len() == 1
                    && atx_heading(blocks[k].lines[0]).is_some_and(|(l, _)| l == 1))
        }
    };
    if k > 0 && level_one {
        blocks[..=k].rotate_right(1);
        stated[..=k].rotate_right(1);
    }
}

/// Does a line open an HTML block (CommonMark's HTML blocks): `<tag`, `</tag` or `<!--`?
/// An autolink (`<https://…>`) is not one.
fn is_html_block_start(line: &str) -> bool {
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
fn list_marker(line: &str) -> Option<&str> {
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

/// A GitHub-flavoured table: a first row holding `|` and a separator row of dashes (with
/// optional colons) under it. Its rows, each as its cells joined by ` | `.
fn table_rows(block: &Block) -> Option<Vec<String>> {
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
fn is_table_separator(line: &str) -> bool {
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

/// An HTML page: its markup says what is a heading, a caption and a passage, so no evidence
/// is weighed; the pieces go through the same assembly as text and Markdown.
fn split_html(source: &SourceText, outline: bool, sink: &mut dyn FnMut(&str, Passage)) -> (Document, usize) {
    let page = html::read(&source.text);
    let blocks: Vec<Block> = page
        .items
        .iter()
        .map(|(_, text)| Block {
            lines: vec![text.as_str()],
        })
        .collect();
    let kinds: Vec<Kind> = page
        .items
        .iter()
        .map(|(item, _)| match item {
            html::Item::Heading(level) => Kind::Tagged(*level),
            html::Item::Caption(_) => Kind::Caption,
            html::Item::Text => Kind::Paragraph,
        })
        .collect();
    let reasons: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|(item, _)| match item {
            html::Item::Caption(why) => vec![format!("HTML: {why}")],
            html::Item::Heading(level) => vec![format!("an HTML <h{level}> heading")],
            html::Item::Text => Vec::new(),
        })
        .collect();
    let title = page.title.clone().unwrap_or_else(|| file_stem(&source.source));
    assemble(&source.source, title, &blocks, &kinds, &reasons, outline, sink)
}

/// Number of words in `text`, counted as whitespace-separated tokens.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Cuts a paragraph into passages of at most `max_words` words, at sentence boundaries only.
/// Pieces are balanced in length; a single sentence longer than the limit stays whole.
pub fn split_paragraph(text: &str, max_words: usize) -> Vec<String> {
    let total = word_count(text);
    if total <= max_words {
        return vec![text.to_string()];
    }
    let parts = total.div_ceil(max_words);
    let target = total.div_ceil(parts);
    let mut pieces = Vec::with_capacity(parts);
    let mut current = String::new();
    let mut current_words = 0;
    for sentence in sentences(text) {
        let words = word_count(sentence);
        if current_words > 0 && words > 0 && (current_words + words > max_words || current_words >= target) {
            pieces.push(current.trim().to_string());
            current.clear();
            current_words = 0;
        }
        current.push_str(sentence);
        current_words += words;
    }
    if current_words > 0 {
        pieces.push(current.trim().to_string());
    }
    pieces
}

/// Cuts a passage longer than `max_bytes` into pieces of at most that many bytes, nothing
/// lost: each piece ends at the last whitespace that fits, and only a single word longer than
/// the cap is cut inside, at a character boundary. Shorter text is returned as it is.
pub fn cap_passage(text: String, max_bytes: usize) -> Vec<String> {
    if text.len() <= max_bytes {
        return vec![text];
    }
    let mut pieces = Vec::with_capacity(text.len() / max_bytes.max(1) + 1);
    let mut rest = text.as_str();
    while rest.len() > max_bytes {
        let mut limit = max_bytes;
        while !rest.is_char_boundary(limit) {
            limit -= 1;
        }
        if limit == 0 {
            // A cap smaller than one character still moves on by a character.
            limit = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        // A space right after the cap is a word boundary too.
        let next = rest[limit..].chars().next().map_or(0, char::len_utf8);
        let cut = match rest[..limit + next].rfind(char::is_whitespace) {
            Some(space) if space > 0 => space,
            _ => limit,
        };
        let piece = rest[..cut].trim_end();
        if !piece.is_empty() {
            pieces.push(piece.to_string());
        }
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest.to_string());
    }
    pieces
}

/// The sentences of a paragraph (Unicode sentence rules), each running up to whitespace or the
/// end: a boundary inside a run of non-space characters (`why?Because`) is no place to cut, as
/// cutting there would split a word in two.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (offset, sentence) in text.split_sentence_bound_indices() {
        let end = offset + sentence.len();
        let rest = &text[end..];
        if rest.is_empty() || sentence.ends_with(char::is_whitespace) || rest.starts_with(char::is_whitespace)
        {
            out.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// A run of non-blank lines.
#[derive(Debug, Clone, PartialEq)]
struct Block<'a> {
    lines: Vec<&'a str>,
}

impl Block<'_> {
    /// The block's text with every run of whitespace collapsed to one space.
    fn normalised(&self) -> String {
        let mut out = String::new();
        for word in self.lines.iter().flat_map(|line| line.split_whitespace()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        out
    }

    /// A single line short enough to be a heading or a caption, with at least one letter.
    fn is_short_line(&self) -> bool {
        if self.lines.len() != 1 {
            return false;
        }
        let line = self.lines[0].trim();
        line.chars().count() <= MAX_SHORT_LINE_CHARS
            && word_count(line) <= MAX_SHORT_LINE_WORDS
            && line.chars().any(char::is_alphabetic)
    }
}

/// What a block is in the document's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A heading; its level is settled later (plain text) or known (Markdown `#` count).
    Heading(Option<usize>),
    /// A plain-text heading after a paragraph that ends its siblings' pattern: it closes
    /// their parent and stands beside it (the article moves on to a new part).
    OuterHeading,
    /// A heading whose level and text the markup states (HTML `h1`–`h6`): taken as written.
    Tagged(usize),
    Caption,
    Paragraph,
}

/// Splits text into blocks separated by blank lines. In Markdown a fenced code block stays
/// one block even across blank lines.
fn blocks(text: &str, format: Format) -> Vec<Block<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut in_fence = false;
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let blank = line.trim().is_empty();
        if format == Format::Markdown && line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if blank && !in_fence {
            if !current.is_empty() {
                blocks.push(Block {
                    lines: std::mem::take(&mut current),
                });
            }
        } else if !blank {
            current.push(line);
        }
    }
    if !current.is_empty() {
        blocks.push(Block { lines: current });
    }
    blocks
}

/// A plain-text title is the first line, unless that line is too long to be one.
fn text_title<'a, 'b>(blocks: &'b [Block<'a>]) -> (Option<String>, &'b [Block<'a>]) {
    match blocks.first() {
        Some(first) if first.lines.len() == 1 && first.lines[0].trim().chars().count() <= MAX_TITLE_CHARS => {
            (Some(first.normalised()), &blocks[1..])
        }
        _ => (None, blocks),
    }
}

/// YAML front matter (`---` lines around `key: value` lines) opening a Markdown file: its
/// `title:` and the text after it. The block itself is never a passage.
fn front_matter(text: &str) -> (Option<String>, &str) {
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
fn is_link_definitions(block: &Block) -> bool {
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
fn setext_heading(block: &Block) -> Option<usize> {
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
fn markdown_title<'a, 'b>(blocks: &'b [Block<'a>]) -> (Option<String>, &'b [Block<'a>]) {
    match blocks.first() {
        Some(first) if first.lines.len() == 1 && atx_heading(first.lines[0]).is_some() => {
            let (_, text) = atx_heading(first.lines[0]).unwrap_or((1, ""));
            (Some(text.to_string()), &blocks[1..])
        }
        Some(first) if setext_heading(first) == Some(1) => (Some(setext_text(first)), &blocks[1..]),
        _ => (None, blocks),
    }
}

/// The title used when a file has none: its file name without extension.
fn file_stem(source: &str) -> String {
    let name = source.rsplit('/').next().unwrap_or(source);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_string(),
        _ => name.to_string(),
    }
}

/// The text of a heading block: without its `#` marks in Markdown, as written in plain text
/// (where a `#` is a word of the document like any other).
fn heading_text(block: &Block, kind: Kind) -> String {
    if matches!(kind, Kind::Tagged(_)) {
        return block.normalised();
    }
    if matches!(kind, Kind::Heading(Some(_))) && setext_heading(block).is_some() {
        return setext_text(block);
    }
    match (kind, atx_heading(block.lines[0])) {
        (Kind::Heading(Some(_)), Some((_, text))) => text.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => block.normalised(),
    }
}

/// One piece of evidence about a short line between two paragraphs: its rule's name and its
/// weight (positive: a caption; negative: a heading).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    pub rule: &'static str,
    pub weight: f32,
}

/// The signal of a line sharing its siblings' pattern.
const FOLLOWS_PATTERN: &str = "follows its siblings' pattern";

/// The signal of a line breaking its siblings' pattern after the last of them.
const ENDS_PATTERN: &str = "breaks its siblings' pattern after the last of them";

/// Plain-text structure. A short line between blank lines without closing punctuation is
/// heading-shaped. One that stands between two paragraphs is a heading or a caption: the
/// evidence of [`caption_signals`] is weighed and a line reaching [`CAPTION_THRESHOLD`] is a
/// caption. Headings get no levels here; `assemble` nests runs of them.
fn classify_text(blocks: &[Block], hints: &Hints) -> (Vec<Kind>, Vec<Vec<String>>) {
    let lines = short_lines(blocks);
    let groups = sibling_groups(&lines);
    let mut reasons = vec![Vec::new(); blocks.len()];
    let kinds = (0..blocks.len())
        .map(|i| match &lines[i] {
            None => Kind::Paragraph,
            Some(line) if is_between_paragraphs(&lines, i) => {
                let signals = caption_signals(blocks, &lines, &groups, hints, i);
                let weight: f32 = signals.iter().map(|s| s.weight).sum();
                let listed = signals.iter().map(|s| format!("{} {:+}", s.rule, s.weight));
                if weight >= CAPTION_THRESHOLD {
                    reasons[i] = listed.collect();
                    return Kind::Caption;
                }
                reasons[i] = vec![
                    short_line_reason(line),
                    format!("between two paragraphs, caption evidence {weight:+} under {CAPTION_THRESHOLD}"),
                ];
                reasons[i].extend(listed);
                if signals.iter().any(|s| s.rule == ENDS_PATTERN) {
                    reasons[i].push("it ends its siblings' pattern: it closes their parent".into());
                    Kind::OuterHeading
                } else if closes_the_document(&lines, &groups, &signals, i) {
                    reasons[i].push(CLOSING.into());
                    Kind::OuterHeading
                } else {
                    reasons[i].push("after a paragraph: a sibling of the heading before".into());
                    Kind::Heading(None)
                }
            }
            Some(line) => {
                reasons[i] = vec![short_line_reason(line)];
                let before = i > 0 && lines[i - 1].is_some();
                let after = i + 1 < lines.len() && lines[i + 1].is_some();
                reasons[i].push(
                    match (before, after) {
                        (_, true) => "followed directly by a heading: its parent",
                        (true, false) => "after a heading: its child",
                        (false, false) if i == 0 => "opens the text",
                        (false, false) => "after a paragraph: a sibling of the heading before",
                    }
                    .into(),
                );
                Kind::Heading(None)
            }
        })
        .collect();
    (kinds, reasons)
}

/// Why a plain-text line is heading-shaped.
fn short_line_reason(line: &str) -> String {
    let words = word_count(line);
    let plural = if words == 1 { "" } else { "s" };
    format!("a short line ({words} word{plural}) alone between blank lines, without closing punctuation")
}

/// The reason given for a heading [`closes_the_document`] places at the top.
const CLOSING: &str =
    "opens a last section of one paragraph after a part of two sub-sections or more: it closes that part";

/// A lone heading between paragraphs that opens the document's last section, that section a
/// single paragraph, after two or more would-be siblings it shares no pattern with: the
/// closing words of the whole article, not one more sub-section of the part before.
fn closes_the_document(
    lines: &[Option<String>],
    groups: &[Option<usize>],
    signals: &[Signal],
    i: usize,
) -> bool {
    let last_section_of_one_paragraph = i + 2 == lines.len();
    let siblings_before = groups[i].map_or(0, |group| (0..i).filter(|&j| groups[j] == Some(group)).count());
    let follows_pattern = signals
        .iter()
        .any(|s| s.weight < 0.0 && s.rule == FOLLOWS_PATTERN);
    last_section_of_one_paragraph && siblings_before >= 2 && !follows_pattern
}

/// The text of every heading-shaped block (a short line without closing punctuation).
fn short_lines(blocks: &[Block]) -> Vec<Option<String>> {
    blocks
        .iter()
        .map(|b| {
            (b.is_short_line() && !ends_with_closing_punctuation(b.lines[0].trim())).then(|| b.normalised())
        })
        .collect()
}

/// A short line with a paragraph on each side: the only place a caption can stand.
fn is_between_paragraphs(lines: &[Option<String>], i: usize) -> bool {
    i > 0 && lines[i - 1].is_none() && i + 1 < lines.len() && lines[i + 1].is_none()
}

/// The would-be sibling group of each short line that would be a leaf heading (the last of a
/// run, or a lone line). A run of two or more lines opens a new parent, hence a new group.
fn sibling_groups(lines: &[Option<String>]) -> Vec<Option<usize>> {
    let mut groups = vec![None; lines.len()];
    let mut group = 0;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].is_none() {
            i += 1;
            continue;
        }
        let run_end = (i..lines.len())
            .find(|&j| lines[j].is_none())
            .unwrap_or(lines.len());
        if run_end - i > 1 {
            group += 1;
        }
        groups[run_end - 1] = Some(group);
        i = run_end;
    }
    groups
}

/// The shapes a line shares with its siblings: its first word, and the set of its lower-case
/// words ("Role of a CEO" and "Role of a CTO" share both; "X vs Y" lines share `vs`).
fn pattern_keys(line: &str) -> Vec<String> {
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let mut keys = Vec::new();
    if let Some(first) = words.first() {
        keys.push(format!("first:{}", first.to_lowercase()));
    }
    let mut lower: Vec<&str> = words
        .iter()
        .skip(1)
        .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
        .map(String::as_str)
        .collect();
    lower.sort_unstable();
    lower.dedup();
    if !lower.is_empty() {
        keys.push(format!("lower:{}", lower.join(" ")));
    }
    keys
}

/// The evidence that the short line `i`, standing between two paragraphs, is a caption rather
/// than a heading. Each signal is one rule of the text; none decides alone unless it is strong.
fn caption_signals(
    blocks: &[Block],
    lines: &[Option<String>],
    groups: &[Option<usize>],
    hints: &Hints,
    i: usize,
) -> Vec<Signal> {
    let mut signals = Vec::new();
    let Some(line) = lines[i].as_deref() else {
        return signals;
    };
    let mut push = |rule, weight| signals.push(Signal { rule, weight });
    if let Some(group) = groups[i] {
        let siblings: Vec<(usize, &str)> = (0..lines.len())
            .filter(|&j| groups[j] == Some(group))
            .filter_map(|j| lines[j].as_deref().map(|l| (j, l)))
            .collect();
        match sibling_pattern(i, line, &siblings) {
            Pattern::Follows => push(FOLLOWS_PATTERN, -2.0),
            Pattern::BreaksWithin => push("breaks the pattern of the siblings around it", 2.0),
            Pattern::BreaksAfter => push(ENDS_PATTERN, 1.0),
            Pattern::None => {}
        }
    }
    let role_name = is_role_full_name(line, hints);
    if role_name {
        push("full name of a role with its acronym", 2.5);
    }
    if has_label_prefix(line) {
        push("label before a colon (figure, link)", 2.0);
    }
    if reads_as_link(line) {
        push("reads as link text", 2.0);
    }
    if line.trim_end().ends_with('?') {
        push("a question between two paragraphs", 0.5);
    }
    // A role's name is capitalised whatever it stands for: its capitals say nothing.
    if is_title_case(line) && !role_name {
        push("title case", -1.0);
    }
    let (before, after) = (blocks[i - 1].normalised(), blocks[i + 1].normalised());
    let same = same_subject(&before, &after, hints);
    if !same {
        push("the paragraph after turns to another subject", -1.0);
    }
    let following = paragraphs_after(lines, i);
    if following == 1 && same {
        push("would open a one-paragraph section on the same subject", 0.75);
    }
    if following >= 3 {
        push("would open a section of several paragraphs", -1.0);
    }
    if opens_as_continuation(&blocks[i + 1].normalised()) {
        push("next paragraph continues the one before", 0.75);
    }
    signals
}

/// How a line stands to the pattern its would-be siblings share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// No pattern is shared by two lines besides this one.
    None,
    Follows,
    /// Breaks it with pattern lines on both sides: the pattern goes on after it.
    BreaksWithin,
    /// Breaks it after the last pattern line: the pattern may simply have ended.
    BreaksAfter,
}

/// How the line `i` stands to the pattern most of its `siblings` (indexes and texts) share.
fn sibling_pattern(i: usize, line: &str, siblings: &[(usize, &str)]) -> Pattern {
    let own = pattern_keys(line);
    let mut counts: Vec<(String, usize, usize)> = Vec::new();
    for &(j, sibling) in siblings.iter().filter(|(j, _)| *j != i) {
        for key in pattern_keys(sibling) {
            match counts.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, n, last)) => {
                    *n += 1;
                    *last = j;
                }
                None => counts.push((key, 1, j)),
            }
        }
    }
    let Some(best) = counts.iter().map(|(_, n, _)| *n).max() else {
        return Pattern::None;
    };
    if own
        .iter()
        .any(|k| counts.iter().any(|(key, n, _)| key == k && *n + 1 >= best.max(2)))
    {
        return Pattern::Follows;
    }
    if best < 2 {
        return Pattern::None;
    }
    let goes_on = counts.iter().any(|(_, n, last)| *n == best && *last > i);
    if goes_on {
        Pattern::BreaksWithin
    } else {
        Pattern::BreaksAfter
    }
}

/// A line in title case (three or more words of four letters or more, all capitalised) reads
/// as a heading.
fn is_title_case(line: &str) -> bool {
    let long: Vec<&str> = line
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 4)
        .collect();
    long.len() >= 3
        && long
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
}

/// "Chief Executive Officer (CEO)": a role's name followed by another of its names in
/// parentheses, and nothing else.
fn is_role_full_name(line: &str, hints: &Hints) -> bool {
    let Some((name, rest)) = line.trim().split_once('(') else {
        return false;
    };
    let Some(short) = rest.strip_suffix(')') else {
        return false;
    };
    let (name, short) = (name.trim().to_lowercase(), short.trim().to_lowercase());
    name != short
        && hints.roles.iter().any(|names| {
            let lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
            lower.contains(&name) && lower.contains(&short)
        })
}

/// "Figure 2: The team", "Source: survey": a label of one or two words, capitalised, before
/// a colon with text after it.
fn has_label_prefix(line: &str) -> bool {
    let Some((label, rest)) = line.split_once(':') else {
        return false;
    };
    let words = word_count(label);
    (1..=2).contains(&words)
        && label.trim_start().chars().next().is_some_and(char::is_uppercase)
        && !rest.trim().is_empty()
}

/// A line pointing somewhere: an address, or an arrow or ellipsis at its end.
fn reads_as_link(line: &str) -> bool {
    let line = line.trim();
    line.contains("://")
        || line.starts_with("www.")
        || line.ends_with(['→', '»', '›', '…'])
        || line.ends_with("...")
        || line.ends_with(">>")
}

/// Number of paragraphs from `i + 1` up to the next short line or the end.
fn paragraphs_after(lines: &[Option<String>], i: usize) -> usize {
    lines[i + 1..].iter().take_while(|l| l.is_none()).count()
}

/// Content words (five letters or more, lower-cased) of a paragraph, without the words of
/// role names, which every paragraph of a comparison shares.
fn content_words(text: &str, hints: &Hints) -> std::collections::BTreeSet<String> {
    let role_words: std::collections::BTreeSet<String> = hints
        .roles
        .iter()
        .flatten()
        .flat_map(|name| name.split_whitespace())
        .map(str::to_lowercase)
        .collect();
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 5)
        .map(str::to_lowercase)
        .filter(|w| !role_words.contains(w))
        .collect()
}

/// Two paragraphs speak of the same subject when a fifth of the content words of the shorter
/// one occur in the other.
fn same_subject(a: &str, b: &str, hints: &Hints) -> bool {
    let (a, b) = (content_words(a, hints), content_words(b, hints));
    let smaller = a.len().min(b.len());
    smaller > 0 && a.intersection(&b).count() * 5 >= smaller
}

/// A paragraph that opens as a continuation: a short lower-case opening phrase closed by a
/// comma ("Furthermore,", "On the other hand,"), or a pronoun pointing back. One weak signal.
fn opens_as_continuation(paragraph: &str) -> bool {
    let words: Vec<&str> = paragraph.split_whitespace().take(4).collect();
    if let Some(end) = words.iter().position(|w| w.ends_with(',')) {
        let lower_after_first = words[1..=end]
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_lowercase));
        if lower_after_first {
            return true;
        }
    }
    let first = words.first().map(|w| w.to_lowercase()).unwrap_or_default();
    matches!(first.as_str(), "they" | "it" | "he" | "she")
}

/// The text of a setext heading: its lines without the underline.
fn setext_text(block: &Block) -> String {
    Block {
        lines: block.lines[..block.lines.len() - 1].to_vec(),
    }
    .normalised()
}

/// Markdown structure: `#` lines are headings with their level; a block holding only an image
/// or only a link is a caption; everything else is a paragraph.
fn classify_markdown(blocks: &[Block]) -> Vec<Kind> {
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
            if is_markdown_caption(&block.normalised()) {
                Kind::Caption
            } else {
                Kind::Paragraph
            }
        })
        .collect()
}

/// An ATX heading `## Text` gives its level and text (closing `#`s removed).
fn atx_heading(line: &str) -> Option<(usize, &str)> {
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
    if text.is_empty() {
        None
    } else {
        Some((level, text))
    }
}

/// A Markdown block that is only an image (`![alt](url)`) or only a link (`[text](url)`).
fn is_markdown_caption(text: &str) -> bool {
    let inner = text.strip_prefix('!').unwrap_or(text);
    inner.starts_with('[') && inner.ends_with(')') && inner.contains("](") && !inner[1..].contains("\n")
}

/// A line ending in `.`, `!`, `,`, `;`, `:` or an ellipsis (or their CJK and Arabic forms)
/// reads as a sentence, not a title. A question mark does not count: questions are common
/// headings.
fn ends_with_closing_punctuation(line: &str) -> bool {
    let end = line.trim_end_matches(['"', '\'', ')', ']', '”', '’', '*', '_', '」', '』', '）']);
    end.ends_with([
        '.', '!', ',', ';', ':', '…', '。', '！', '，', '；', '：', '،', '؛', '۔',
    ])
}

/// Builds sections and passages from classified blocks, and counts the sections. In plain text
/// a run of headings nests (a heading followed directly by a heading is its parent) and a lone
/// heading is a sibling of the previous section that held text. Without `outline`, sections
/// are counted but not kept. Passages go to `sink` as they are cut.
fn assemble(
    source: &str,
    title: String,
    blocks: &[Block],
    kinds: &[Kind],
    reasons: &[Vec<String>],
    outline: bool,
    sink: &mut dyn FnMut(&str, Passage),
) -> (Document, usize) {
    let mut sections = vec![Section {
        path: Vec::new(),
        heading_reasons: Vec::new(),
        captions: Vec::new(),
        caption_reasons: Vec::new(),
        passages: 0,
    }];
    let mut headings = 0;
    let mut passages = 0;
    // Open headings, outermost first, with their levels.
    let mut open: Vec<(usize, String)> = Vec::new();
    // The heading path of `open`, built when a passage or a kept section needs it.
    let mut path: Vec<String> = Vec::new();
    let mut path_is_current = true;
    let mut i = 0;
    while i < blocks.len() {
        match kinds[i] {
            Kind::Heading(_) | Kind::OuterHeading | Kind::Tagged(_) => {
                let run_end = (i..blocks.len())
                    .find(|&j| !matches!(kinds[j], Kind::Heading(_) | Kind::OuterHeading | Kind::Tagged(_)))
                    .unwrap_or(blocks.len());
                let run = run_end - i;
                let leaf_level = open.last().map_or(1, |(level, _)| *level);
                for (offset, j) in (i..run_end).enumerate() {
                    let level = match kinds[j] {
                        Kind::Heading(Some(level)) | Kind::Tagged(level) => level,
                        Kind::OuterHeading => leaf_level.saturating_sub(1).max(1),
                        _ if run > 1 => offset + 1,
                        _ => leaf_level,
                    };
                    while open.last().is_some_and(|(l, _)| *l >= level) {
                        open.pop();
                    }
                    open.push((level, heading_text(&blocks[j], kinds[j])));
                    headings += 1;
                    path_is_current = false;
                    if outline {
                        path = open.iter().map(|(_, text)| text.clone()).collect();
                        path_is_current = true;
                        sections.push(Section {
                            path: path.clone(),
                            heading_reasons: reasons[j].clone(),
                            captions: Vec::new(),
                            caption_reasons: Vec::new(),
                            passages: 0,
                        });
                    }
                }
                i = run_end;
                continue;
            }
            Kind::Caption => {
                if let Some(section) = sections.last_mut().filter(|_| outline) {
                    section.captions.push(blocks[i].normalised());
                    section.caption_reasons.push(reasons[i].clone());
                }
            }
            Kind::Paragraph => {
                if !path_is_current {
                    path = open.iter().map(|(_, text)| text.clone()).collect();
                    path_is_current = true;
                }
                let pieces = split_paragraph(&blocks[i].normalised(), MAX_PASSAGE_WORDS);
                for text in pieces.into_iter().flat_map(|p| cap_passage(p, MAX_PASSAGE_BYTES)) {
                    passages += 1;
                    sink(
                        &title,
                        Passage {
                            ordinal: passages,
                            section: path.clone(),
                            text,
                        },
                    );
                    if let Some(section) = sections.last_mut() {
                        section.passages += 1;
                    }
                }
            }
        }
        i += 1;
    }
    let root = &sections[0];
    if !outline || (root.passages == 0 && root.captions.is_empty()) {
        sections.remove(0);
    }
    let document = Document {
        source: source.to_string(),
        title,
        sections,
        passages: Vec::new(),
    };
    (document, headings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_doc(text: &str) -> Document {
        document(&SourceText {
            source: "dir/sample.txt".into(),
            format: Format::Text,
            text: text.into(),
        })
    }

    fn md_doc(text: &str) -> Document {
        document(&SourceText {
            source: "notes.md".into(),
            format: Format::Markdown,
            text: text.into(),
        })
    }

    fn paths(doc: &Document) -> Vec<String> {
        doc.sections.iter().map(|s| s.path.join(" > ")).collect()
    }

    const BODY: &str = "This paragraph has enough words to be body text and it ends with a full stop.";

    #[test]
    fn passages_without_outline_are_those_of_the_document() {
        let text = format!(
            "T\n\nTop\n\nChild\n\n{BODY}\n\nCaption line\n\nFurthermore, more text.\n\nNext\n\n{BODY}"
        );
        let source = SourceText {
            source: "a.txt".into(),
            format: Format::Text,
            text,
        };
        let full = document(&source);
        let (lean, sections) = passages(&source);
        assert_eq!(lean.passages, full.passages);
        assert_eq!(lean.title, full.title);
        assert_eq!(
            sections,
            full.sections.iter().filter(|s| !s.path.is_empty()).count()
        );
        assert!(lean.sections.is_empty());
    }

    #[test]
    fn first_line_is_the_title() {
        let doc = text_doc(&format!("My Title\n\n{BODY}\n"));
        assert_eq!(doc.title, "My Title");
        assert_eq!(doc.passages.len(), 1);
        assert!(doc.passages[0].section.is_empty());
    }

    #[test]
    fn heading_followed_by_heading_is_its_parent() {
        let doc = text_doc(&format!(
            "T\n\nTop\n\nChild one\n\n{BODY}\n\nChild two\n\n{BODY}\n\nNext top\n\nChild three\n\n{BODY}"
        ));
        assert_eq!(
            paths(&doc),
            [
                "Top",
                "Top > Child one",
                "Top > Child two",
                "Next top",
                "Next top > Child three"
            ]
        );
        assert_eq!(doc.passages[1].section, ["Top", "Child two"]);
    }

    #[test]
    fn lone_headings_are_siblings_at_top_level_without_parents() {
        let doc = text_doc(&format!("T\n\nOne\n\n{BODY}\n\nTwo\n\n{BODY}"));
        assert_eq!(paths(&doc), ["One", "Two"]);
    }

    fn text_doc_with(text: &str, hints: &Hints) -> Document {
        document_with(
            &SourceText {
                source: "doc.txt".into(),
                text: text.into(),
                format: Format::Text,
            },
            hints,
        )
    }

    fn role_hints() -> Hints {
        Hints {
            roles: vec![vec!["PT".into(), "Picture Technician".into()]],
        }
    }

    const WIDGETS: &str =
        "Widgets are small parts that widget makers assemble into larger machines every day.";

    #[test]
    fn role_full_name_with_acronym_is_a_caption_not_a_section() {
        let doc = text_doc_with(
            &format!("T\n\nSection\n\n{BODY}\n\nPicture Technician (PT)\n\nFurthermore, the text goes on here as before.\n"),
            &role_hints(),
        );
        assert_eq!(paths(&doc), ["Section"]);
        assert_eq!(doc.sections[0].captions, ["Picture Technician (PT)"]);
        assert_eq!(doc.passages.len(), 2);
        assert_eq!(doc.passages[1].section, ["Section"]);
        assert!(doc.passages.iter().all(|p| !p.text.contains("Picture")));
    }

    #[test]
    fn role_full_name_without_taxonomy_is_no_signal() {
        let doc = text_doc(&format!(
            "T\n\nSection\n\n{BODY}\n\nPicture Technician (PT)\n\nThe text goes on here as before.\n"
        ));
        assert_eq!(paths(&doc), ["Section", "Picture Technician (PT)"]);
    }

    #[test]
    fn question_inside_one_thought_is_a_caption() {
        let doc = text_doc(&format!(
            "T\n\nSection\n\n{WIDGETS}\n\nWhat is a widget?\n\nIn addition, widget makers sell widgets to machines makers.\n"
        ));
        assert_eq!(doc.sections[0].captions, ["What is a widget?"]);
        assert_eq!(doc.passages.len(), 2);
    }

    #[test]
    fn line_breaking_its_siblings_pattern_is_a_caption() {
        let text = format!(
            "T\n\nTop\n\nRole of a A\n\n{BODY}\n\nRole of a B\n\n{BODY}\n\nNotes on the paragraph\n\n{BODY}\n\nRole of a C\n\n{BODY}\n"
        );
        let doc = text_doc(&text);
        assert_eq!(
            paths(&doc),
            [
                "Top",
                "Top > Role of a A",
                "Top > Role of a B",
                "Top > Role of a C"
            ]
        );
        assert_eq!(doc.sections[2].captions, ["Notes on the paragraph"]);
    }

    #[test]
    fn line_following_its_siblings_pattern_is_a_heading_even_before_a_connective() {
        let doc = text_doc(&format!(
            "T\n\nTop\n\nRole of a A\n\n{BODY}\n\nRole of a B\n\nFurthermore, this goes on.\n"
        ));
        assert_eq!(paths(&doc), ["Top", "Top > Role of a A", "Top > Role of a B"]);
    }

    #[test]
    fn heading_ending_its_siblings_pattern_leaves_their_parent() {
        let doc = text_doc(&format!(
            "T\n\nTop\n\nRole of a A\n\n{BODY}\n\nRole of a B\n\n{BODY}\n\nRole of a C\n\n{BODY}\n\nWhich Pays More Money?\n\nSalaries differ widely between countries.\n"
        ));
        assert_eq!(
            paths(&doc),
            [
                "Top",
                "Top > Role of a A",
                "Top > Role of a B",
                "Top > Role of a C",
                "Which Pays More Money?"
            ]
        );
    }

    #[test]
    fn markdown_setext_headings_give_levels_and_a_title() {
        let doc = md_doc("The Title\n=========\n\nIntro text.\n\nPart One\n--------\n\nBody of part one.\n");
        assert_eq!(doc.title, "The Title");
        assert_eq!(paths(&doc), ["", "Part One"]);
        assert_eq!(doc.passages[1].section, ["Part One"]);
    }

    #[test]
    fn markdown_front_matter_gives_the_title_and_is_no_passage() {
        let doc =
            md_doc("---\ntitle: \"Front Title\"\nauthor: someone\n---\n\n# Section\n\nBody text here.\n");
        assert_eq!(doc.title, "Front Title");
        assert_eq!(paths(&doc), ["Section"]);
        assert_eq!(doc.passages.len(), 1);
        assert!(doc.passages.iter().all(|p| !p.text.contains("author")));
    }

    #[test]
    fn markdown_link_reference_definitions_are_no_passages() {
        let doc = md_doc("# T\n\nSee [the guide][g].\n\n[g]: https://example.com/guide \"Guide\"\n[h]: https://example.com\n");
        assert_eq!(doc.passages.len(), 1);
        assert_eq!(doc.passages[0].text, "See [the guide][g].");
    }

    #[test]
    fn figure_label_before_a_colon_is_a_caption() {
        let doc = text_doc(&format!(
            "T\n\nSection\n\n{BODY}\n\nFigure 2: The team at work\n\n{BODY}\n"
        ));
        assert_eq!(paths(&doc), ["Section"]);
        assert_eq!(doc.sections[0].captions, ["Figure 2: The team at work"]);
    }

    #[test]
    fn heading_with_a_long_colon_label_stays_a_heading() {
        let doc = text_doc(&format!(
            "T\n\nSection\n\n{BODY}\n\nConflict and Resolution: Handling Overlaps\n\n{BODY}\n\n{BODY}\n"
        ));
        assert_eq!(
            paths(&doc),
            ["Section", "Conflict and Resolution: Handling Overlaps"]
        );
    }

    #[test]
    fn line_reading_as_a_link_is_a_caption() {
        let doc = text_doc(&format!(
            "T\n\nSection\n\n{BODY}\n\nSee the full guide →\n\n{BODY}\n"
        ));
        assert_eq!(doc.sections[0].captions, ["See the full guide →"]);
    }

    #[test]
    fn connective_opening_alone_does_not_make_a_caption() {
        let doc = text_doc(&format!(
            "T\n\nSection\n\n{BODY}\n\nA Lone Sub Heading\n\nFurthermore, a new matter starts.\n"
        ));
        assert_eq!(paths(&doc), ["Section", "A Lone Sub Heading"]);
    }

    #[test]
    fn continuation_opening_is_a_short_lowercase_phrase_with_a_comma_or_a_pronoun() {
        for (text, expected) in [
            ("Furthermore, yes", true),
            ("On the other hand, no", true),
            ("They do it", true),
            ("The CEO, or chief", false),
            ("In a dynamic business environment, we", false),
            ("Theyre", false),
        ] {
            assert_eq!(opens_as_continuation(text), expected, "{text}");
        }
    }

    #[test]
    fn same_subject_needs_shared_content_words() {
        let none = Hints::default();
        assert!(same_subject(WIDGETS, "Widget makers love widgets.", &none));
        assert!(!same_subject(WIDGETS, "Rivers flow to oceans.", &none));
    }

    #[test]
    fn question_line_before_fresh_paragraph_is_a_heading() {
        let doc = text_doc(&format!(
            "T\n\n{BODY}\n\nWhat does a widget do?\n\nA widget does things.\n"
        ));
        assert_eq!(paths(&doc), ["", "What does a widget do?"]);
    }

    #[test]
    fn short_cjk_sentence_with_full_stop_is_a_paragraph() {
        let doc = text_doc(&format!("T\n\n{BODY}\n\n検索 エンジン は 文書 を 探す。\n"));
        assert_eq!(doc.passages.len(), 2);
        assert!(doc.sections.iter().all(|s| s.path.is_empty()));
    }

    #[test]
    fn short_sentence_with_full_stop_is_a_paragraph() {
        let doc = text_doc(&format!("T\n\n{BODY}\n\nThat is all.\n"));
        assert_eq!(doc.passages.len(), 2);
        assert_eq!(doc.passages[1].text, "That is all.");
    }

    #[test]
    fn whitespace_is_normalised_and_lines_joined() {
        let doc = text_doc("T\n\nfirst   line\nsecond\tline.\r\n");
        assert_eq!(doc.passages[0].text, "first line second line.");
    }

    #[test]
    fn crlf_line_ends_behave_like_lf() {
        let lf = text_doc(&format!("T\n\nHead\n\n{BODY}\n"));
        let crlf = text_doc(&format!("T\r\n\r\nHead\r\n\r\n{BODY}\r\n"));
        assert_eq!(lf, crlf);
    }

    #[test]
    fn long_paragraph_is_cut_at_sentence_boundaries_below_the_limit() {
        let sentence = "Alpha beta gamma delta epsilon zeta eta theta iota kappa. ";
        let paragraph = sentence.repeat(30);
        let pieces = split_paragraph(paragraph.trim(), 120);
        assert!(pieces.len() >= 3);
        for piece in &pieces {
            assert!(word_count(piece) <= 120, "{} words", word_count(piece));
            assert!(piece.ends_with('.'));
        }
        assert_eq!(pieces.join(" "), paragraph.trim());
    }

    #[test]
    fn run_on_paragraph_is_cut_at_a_word_boundary_under_the_byte_cap() {
        // No sentence end anywhere: only the byte cap cuts it.
        let paragraph = "runon word ".repeat(2000);
        let doc = text_doc(&format!("T\n\n{}\n", paragraph.trim()));
        assert!(doc.passages.len() >= 5, "{} passages", doc.passages.len());
        for passage in &doc.passages {
            assert!(
                passage.text.len() <= MAX_PASSAGE_BYTES,
                "{} bytes",
                passage.text.len()
            );
            assert!(!passage.text.starts_with(' ') && !passage.text.ends_with(' '));
            assert!(passage.text.split(' ').all(|w| w == "runon" || w == "word"));
        }
        let joined: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined.join(" "), paragraph.trim(), "nothing lost");
    }

    #[test]
    fn passage_cap_cuts_only_a_word_longer_than_the_cap() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("short text", 100, &["short text"]),
            ("aaaa bbbb cccc", 9, &["aaaa bbbb", "cccc"]),
            ("aaaa bbbb cccc", 4, &["aaaa", "bbbb", "cccc"]),
            ("abcdefghij", 4, &["abcd", "efgh", "ij"]),
            ("ab cdefghij", 4, &["ab", "cdef", "ghij"]),
            // A character is never split: é is two bytes.
            ("ééé", 3, &["é", "é", "é"]),
            ("x  \n y", 1, &["x", "y"]),
        ];
        for (text, cap, want) in cases {
            assert_eq!(cap_passage(text.to_string(), *cap), *want, "{text:?} at {cap}");
        }
    }

    #[test]
    fn single_sentence_longer_than_the_limit_stays_whole() {
        let sentence = "word ".repeat(200);
        let pieces = split_paragraph(sentence.trim(), 120);
        assert_eq!(pieces.len(), 1);
    }

    #[test]
    fn markdown_headings_give_levels_and_first_heading_is_title() {
        let doc = md_doc(&format!("# Title\n\nIntro text here.\n\n## A\n\n{BODY}\n\n### A1\n\n{BODY}\n\n## B\n\n![a picture](x.png)\n\n{BODY}"));
        assert_eq!(doc.title, "Title");
        assert_eq!(paths(&doc), ["", "A", "A > A1", "B"]);
        assert_eq!(doc.sections[3].captions, ["![a picture](x.png)"]);
        assert_eq!(doc.passages.len(), 4);
    }

    #[test]
    fn markdown_fence_keeps_blank_lines_inside_one_block() {
        let doc = md_doc("# T\n\n```\ncode\n\nmore code\n```\n");
        assert_eq!(doc.passages.len(), 1);
        assert!(doc.passages[0].text.contains("more code"));
    }

    #[test]
    fn file_without_title_line_uses_file_stem() {
        let long = "word ".repeat(60);
        let doc = text_doc(&long);
        assert_eq!(doc.title, "sample");
        assert_eq!(doc.passages.len(), 1);
    }

    #[test]
    fn ordinals_count_passages_from_one() {
        let doc = text_doc(&format!("T\n\n{BODY}\n\nH\n\n{BODY}\n\n{BODY}"));
        let ordinals: Vec<u64> = doc.passages.iter().map(|p| p.ordinal).collect();
        assert_eq!(ordinals, [1, 2, 3]);
    }

    #[test]
    fn article_outline_has_four_top_sections_and_ten_subsections() {
        let text = include_str!("../../corpus/product-manager-vs-ceo-vs-cto.txt");
        // The role names of the article's taxonomy, as prepare passes them.
        let hints = Hints {
            roles: vec![
                vec!["Product Manager".into()],
                vec!["CEO".into(), "Chief Executive Officer".into()],
                vec!["CTO".into(), "Chief Technology Officer".into()],
            ],
        };
        let doc = document_with(
            &SourceText {
                source: "product-manager-vs-ceo-vs-cto.txt".into(),
                format: Format::Text,
                text: text.into(),
            },
            &hints,
        );
        let top: Vec<_> = doc.sections.iter().filter(|s| s.path.len() == 1).collect();
        let sub: Vec<_> = doc.sections.iter().filter(|s| s.path.len() == 2).collect();
        assert_eq!(top.len(), 4, "{:?}", paths(&doc));
        assert_eq!(sub.len(), 10, "{:?}", paths(&doc));
        let captions: Vec<&String> = doc.sections.iter().flat_map(|s| &s.captions).collect();
        assert_eq!(
            captions,
            [
                "What is a project manager?",
                "Chief Executive Officer (CEO)",
                "Chief Technology Officer (CTO)"
            ]
        );
        for p in &doc.passages {
            assert!(
                word_count(&p.text) > MAX_SHORT_LINE_WORDS,
                "stray short passage {:?}",
                p.text
            );
        }
    }
    #[test]
    fn cut_never_falls_inside_a_word() {
        assert_eq!(
            sentences("Why?Because it is. Next one."),
            ["Why?Because it is. ", "Next one."]
        );
        let paragraph = format!(
            "{} why?Because {}",
            "word ".repeat(100).trim(),
            "more ".repeat(100).trim()
        );
        let pieces = split_paragraph(&paragraph, 120);
        assert_eq!(pieces.join(" "), paragraph);
    }

    fn html_doc(text: &str) -> Document {
        document(&SourceText {
            source: "page.html".into(),
            format: Format::Html,
            text: text.into(),
        })
    }

    #[test]
    fn html_headings_nest_by_level_and_captions_stay_with_their_section() {
        let doc = html_doc(
            "<title>Page</title><h1>Page</h1><p>Intro.</p><h2>A</h2><h3>A1</h3><p>One.</p>\
             <figure><figcaption>Figure 1: a chart</figcaption></figure><p>Two.</p><h2>B</h2><p>Three.</p>",
        );
        assert_eq!(doc.title, "Page");
        assert_eq!(paths(&doc), ["", "A", "A > A1", "B"]);
        assert_eq!(doc.sections[2].captions, ["Figure 1: a chart"]);
        assert_eq!(doc.sections[2].caption_reasons, [["HTML: a figure caption"]]);
        assert_eq!(doc.sections[2].heading_reasons, ["an HTML <h3> heading"]);
        let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Intro.", "One.", "Two.", "Three."]);
    }

    #[test]
    fn html_heading_text_is_taken_as_written() {
        let doc = html_doc("<h2># Notes</h2><p>Body.</p>");
        assert_eq!(paths(&doc), ["# Notes"]);
        assert_eq!(doc.title, "page");
    }

    #[test]
    fn markdown_table_rows_are_passages_and_the_separator_row_is_dropped() {
        let doc =
            md_doc("# T\n\n| Role | Reports to |\n|:-----|-----------:|\n| CTO  | CEO |\n|  | board |\n");
        let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Role | Reports to", "CTO | CEO", "board"]);
    }

    #[test]
    fn markdown_bars_without_a_separator_row_are_a_paragraph() {
        let doc = md_doc("# T\n\nEither a | b or c.\nNo table here.\n");
        assert_eq!(doc.passages.len(), 1);
        assert_eq!(doc.passages[0].text, "Either a | b or c. No table here.");
    }

    #[test]
    fn markdown_list_items_nested_or_not_are_passages_without_markers() {
        let doc = md_doc("# T\n\n- First item\n  goes on here\n  - Nested item\n    1. Deeper, numbered\n* Star item\n2) Other number\n- [A link](https://x.org)\n");
        let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "First item goes on here",
                "Nested item",
                "Deeper, numbered",
                "Star item",
                "Other number"
            ]
        );
        assert_eq!(doc.sections[0].captions, ["[A link](https://x.org)"]);
    }

    #[test]
    fn markdown_html_blocks_show_their_text_never_their_tags() {
        let doc = md_doc("# T\n\n<div align=\"center\">\n  <img src=\"logo.png\" alt=\"Project logo\">\n</div>\n\n<!-- a note to editors -->\n\n<details><summary>More</summary>Hidden &amp; shown.</details>\n\n<h2>Usage</h2>\n\nRun it.\n\n<https://example.org> is a link, not HTML.\n");
        assert_eq!(paths(&doc), ["", "Usage"]);
        assert_eq!(doc.sections[0].captions, ["Project logo"]);
        let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "More",
                "Hidden & shown.",
                "Run it.",
                "<https://example.org> is a link, not HTML."
            ]
        );
        assert_eq!(
            doc.sections[1].heading_reasons,
            ["an HTML <h2> heading in Markdown"]
        );
    }

    #[test]
    fn markdown_block_quote_is_a_passage_without_its_marks() {
        let doc = md_doc("# T\n\n> Quoted words\n> go on.\n> > Nested reply.\n\n>\n");
        let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Quoted words go on. Nested reply."]);
    }

    #[test]
    fn markdown_level_one_heading_after_only_a_logo_is_the_title() {
        let doc = md_doc("<p align=\"center\"><img src=\"logo.png\" alt=\"Logo\"></p>\n\n[![build](b.svg)](ci)\n\n# My Tool\n\nIt does things.\n\n## Use\n\nRun it.\n");
        assert_eq!(doc.title, "My Tool");
        assert_eq!(paths(&doc), ["", "Use"]);
        assert_eq!(doc.sections[0].captions, ["Logo", "[![build](b.svg)](ci)"]);
        let doc = md_doc("![Logo](l.png)\n\n## Not a title\n\nText.\n");
        assert_eq!(doc.title, "notes");
    }

    #[test]
    fn markdown_html_h1_opening_the_file_is_its_title() {
        let doc = md_doc("<h1 align=\"center\">My Tool</h1>\n\nIt does things.\n");
        assert_eq!(doc.title, "My Tool");
        assert_eq!(doc.passages.len(), 1);
    }

    /// An article of two parts, the second with two sub-sections, then `closing` over the
    /// given paragraphs.
    fn closing_article(closing: &str, paragraphs: &[&str]) -> Document {
        let tail: String = paragraphs.iter().map(|p| format!("\n\n{p}")).collect();
        text_doc(&format!(
            "T\n\nFirst Part\n\nIntro Here\n\n{BODY}\n\nSecond Part\n\nWater Supply Lines\n\n{BODY}\n\nHow Pumps Fail?\n\n{WIDGETS}\n\n{closing}{tail}\n"
        ))
    }

    #[test]
    fn closing_heading_of_one_paragraph_after_two_sub_sections_stands_at_the_top() {
        let doc = closing_article(
            "Final Words",
            &["Rivers flow to oceans and the story of this article ends."],
        );
        assert_eq!(paths(&doc).last().map(String::as_str), Some("Final Words"));
        let last = doc.sections.last().expect("a section");
        assert!(
            last.heading_reasons.iter().any(|r| r == CLOSING),
            "{:?}",
            last.heading_reasons
        );
    }

    #[test]
    fn closing_rule_needs_one_paragraph_two_siblings_and_no_shared_pattern() {
        // Two paragraphs: one more sub-section.
        let doc = closing_article(
            "Final Words",
            &["Rivers flow to oceans.", "Seas are salty and deep."],
        );
        assert_eq!(
            paths(&doc).last().map(String::as_str),
            Some("Second Part > Final Words")
        );
        // It follows its siblings' pattern (`How …?`): one more sub-section.
        let doc = closing_article(
            "How Pipes Burst?",
            &["Rivers flow to oceans and the story of this article ends."],
        );
        assert_eq!(
            paths(&doc).last().map(String::as_str),
            Some("Second Part > How Pipes Burst?")
        );
        // Only one sub-section before it: the part may go on.
        let doc = text_doc(&format!(
            "T\n\nFirst Part\n\nIntro Here\n\n{BODY}\n\nFinal Words\n\nRivers flow to oceans and the story ends.\n"
        ));
        assert_eq!(
            paths(&doc).last().map(String::as_str),
            Some("First Part > Final Words")
        );
    }

    #[test]
    fn plain_text_headings_say_where_they_stand() {
        let doc = text_doc(&format!("T\n\nTop\n\nChild\n\n{BODY}\n\nNext\n\n{BODY}\n"));
        let last = |i: usize| {
            doc.sections[i]
                .heading_reasons
                .last()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(last(0), "followed directly by a heading: its parent");
        assert_eq!(last(1), "after a heading: its child");
        assert!(doc.sections[0].heading_reasons[0].starts_with("a short line (1 word)"));
        assert!(doc.sections[2]
            .heading_reasons
            .iter()
            .any(|r| r.contains("caption evidence")));
    }

    #[test]
    fn hash_in_a_plain_text_heading_is_kept() {
        let doc = text_doc(&format!("T\n\n# Notes\n\n{BODY}\n"));
        assert_eq!(paths(&doc), ["# Notes"]);
    }
}

/// Properties of segmentation over generated documents: nothing is lost or duplicated, and
/// passages respect the length limit.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// File name of generated documents; its stem is the title when the text gives none, and
    /// no generated word equals it.
    const SOURCE_STEM: &str = "generated_sample";

    /// Words a document is made of: plain, Unicode, sentence ends, continuation openers,
    /// Markdown-looking marks, and words with a sentence boundary inside.
    const VOCABULARY: &[&str] = &[
        "the",
        "product",
        "manager",
        "CEO",
        "CTO",
        "market",
        "strategy",
        "team",
        "builds",
        "leads",
        "café",
        "naïve",
        "日本語",
        "検索",
        "مدير",
        "المنتج",
        "🚀",
        "Ωmega",
        "straße",
        "done.",
        "why?",
        "stop!",
        "end.",
        "etc.",
        "e.g.",
        "Dr.",
        "(CEO)",
        "\"quoted\"",
        "well,",
        "so;",
        "note:",
        "—",
        "Furthermore,",
        "In",
        "addition,",
        "They",
        "Also",
        "However,",
        "#",
        "##",
        "```",
        "-",
        "*",
        "1.",
        "2024",
        "why?Because",
        "end.Next",
        "a.b",
        "x\u{a0}y",
        "tab\tbed",
    ];

    /// Words for Markdown bodies: no `#`, fence or list marks, which Markdown reads as
    /// structure.
    fn markdown_word() -> impl Strategy<Value = String> {
        proptest::sample::select(VOCABULARY)
            .prop_filter("structure mark", |w| {
                !w.starts_with('#') && !w.starts_with("```") && !matches!(*w, "-" | "*" | "1.")
            })
            .prop_map(str::to_string)
    }

    /// Words of a generated document: its text, and the words a reader sees in order.
    type Generated = (String, Vec<String>);

    /// Markdown pieces people write besides paragraphs and `#` headings: a list with nested
    /// items, a table (its separator row shows nothing, a bar parts its cells), or an HTML
    /// block (tags and comments show nothing).
    fn markdown_rich_block() -> impl Strategy<Value = Generated> {
        let words = || prop::collection::vec(markdown_word(), 1..8);
        let list = prop::collection::vec((0usize..3, any::<bool>(), words()), 1..6).prop_map(|items| {
            let mut text = String::new();
            let mut seen = Vec::new();
            for (depth, ordered, words) in items {
                let marker = if ordered { "1." } else { "-" };
                text.push_str(&format!("{}{marker} {}\n", "  ".repeat(depth), words.join(" ")));
                seen.extend(words);
            }
            (text, seen)
        });
        let table = prop::collection::vec(prop::collection::vec(words(), 2..4), 1..4).prop_map(|rows| {
            let mut text = String::new();
            let mut seen = Vec::new();
            for (r, cells) in rows.iter().enumerate() {
                let shown: Vec<String> = cells.iter().map(|c| c.join(" ")).collect();
                text.push_str(&format!("| {} |\n", shown.join(" | ")));
                if r == 0 {
                    text.push_str(&format!("|{}\n", "---|".repeat(cells.len())));
                }
                for (c, cell) in cells.iter().enumerate() {
                    if c > 0 {
                        seen.push("|".to_string());
                    }
                    seen.extend(cell.iter().cloned());
                }
            }
            (text, seen)
        });
        let html = (words(), words()).prop_map(|(a, b)| {
            let text = format!(
                "<div class=\"note\">\n<!-- hidden note -->\n<p>{}</p>\n<script>var x = 1;</script>\n<p><em>{}</em></p>\n</div>\n",
                a.join(" "),
                b.join(" ")
            );
            (text, a.into_iter().chain(b).collect())
        });
        prop_oneof![list, table, html]
    }

    /// A Markdown document mixing paragraphs, `#` headings and the pieces of
    /// [`markdown_rich_block`], separated by blank lines.
    fn markdown_rich_document() -> impl Strategy<Value = Generated> {
        let paragraph = prop::collection::vec(markdown_word(), 1..40).prop_map(|w| (w.join(" ") + "\n", w));
        let heading = (1usize..4, prop::collection::vec(markdown_word(), 1..6))
            .prop_map(|(level, w)| (format!("{} {}\n", "#".repeat(level), w.join(" ")), w));
        let item = prop_oneof![2 => paragraph, 1 => heading, 2 => markdown_rich_block()];
        prop::collection::vec(item, 0..10).prop_map(|items| {
            let mut text = String::new();
            let mut seen = Vec::new();
            for (piece, words) in items {
                text.push_str(&piece);
                text.push('\n');
                seen.extend(words);
            }
            (text, seen)
        })
    }

    /// An HTML page: an optional `h1` (the title), then headings, paragraphs with inline
    /// markup, lists, quotations, figures and link-only paragraphs, among navigation, scripts
    /// and comments whose words must never show.
    fn html_document() -> impl Strategy<Value = Generated> {
        let words = || prop::collection::vec(word(), 1..30);
        let escape = |w: &[String]| {
            w.iter()
                .map(|w| w.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"))
                .collect::<Vec<_>>()
        };
        let piece = prop_oneof![
            (2usize..5, prop::collection::vec(word(), 1..6))
                .prop_map(move |(level, w)| (format!("<h{level}>{}</h{level}>", escape(&w).join(" ")), w)),
            words().prop_map(move |w| {
                let mut shown = escape(&w);
                shown[0] = format!("<b>{}</b>", shown[0]);
                (format!("<p>{}</p>", shown.join("\n  ")), w)
            }),
            prop::collection::vec(words(), 1..4).prop_map(move |items| {
                let li: Vec<String> = items
                    .iter()
                    .map(|w| format!("<li>{}</li>", escape(w).join(" ")))
                    .collect();
                (format!("<ul>{}</ul>", li.join("")), items.concat())
            }),
            words().prop_map(move |w| (
                format!("<blockquote><p>{}</p></blockquote>", escape(&w).join(" ")),
                w
            )),
            words().prop_map(move |w| {
                (
                    format!(
                        "<figure><img src=a.png alt=\"\"><figcaption>{}</figcaption></figure>",
                        escape(&w).join(" ")
                    ),
                    w,
                )
            }),
            words().prop_map(move |w| (format!("<p><a href=\"/x\">{}</a></p>", escape(&w).join(" ")), w)),
            Just((
                "<nav><a href=/>market strategy</a></nav><!-- team --><script>leads()</script>".to_string(),
                Vec::new()
            )),
        ];
        (
            proptest::option::of(prop::collection::vec(word(), 1..6)),
            prop::collection::vec(piece, 0..12),
        )
            .prop_map(move |(h1, pieces)| {
                let mut text = String::from("<!DOCTYPE html><html><head><style>p {}</style></head><body>\n");
                let mut seen = Vec::new();
                if let Some(h1) = h1 {
                    text.push_str(&format!("<h1>{}</h1>\n", escape(&h1).join(" ")));
                    seen.extend(h1);
                }
                for (markup, words) in pieces {
                    text.push_str(&markup);
                    text.push('\n');
                    seen.extend(words);
                }
                text.push_str("<footer>product team</footer></body></html>\n");
                (text, seen)
            })
    }

    /// The words of a generated document, split as a reader splits them.
    fn seen_words(seen: &[String]) -> Vec<&str> {
        seen.iter().flat_map(|w| w.split_whitespace()).collect()
    }

    fn word() -> impl Strategy<Value = String> {
        proptest::sample::select(VOCABULARY).prop_map(str::to_string)
    }

    /// A block: a short line (heading- or caption-shaped), or a paragraph of one to three
    /// hundred words over one or more lines.
    fn block(word: BoxedStrategy<String>) -> impl Strategy<Value = Vec<Vec<String>>> {
        prop_oneof![
            3 => prop::collection::vec(word.clone(), 1..8).prop_map(|line| vec![line]),
            3 => prop::collection::vec(prop::collection::vec(word.clone(), 1..30), 1..4),
            2 => prop::collection::vec(word.clone(), 100..300).prop_map(|words| {
                words.chunks(17).map(<[String]>::to_vec).collect()
            }),
        ]
    }

    /// What separates blocks: one or more blank lines, some holding spaces or tabs.
    fn gap() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![Just(""), Just("  "), Just("\t"), Just(" \u{3000}")],
            1..4,
        )
        .prop_map(|lines| lines.join("\n") + "\n")
    }

    /// A plain-text document: blocks separated by blank-line runs, with LF or CRLF line ends.
    fn text_document() -> impl Strategy<Value = (String, bool)> {
        (
            prop::collection::vec((block(word().boxed()), gap()), 0..14),
            any::<bool>(),
        )
            .prop_map(|(blocks, crlf)| (render(&blocks, crlf), crlf))
    }

    /// A Markdown document: `#` headings of levels 1 to 3 among paragraphs and short lines.
    fn markdown_document() -> impl Strategy<Value = String> {
        let heading = (1usize..4, prop::collection::vec(markdown_word(), 1..6))
            .prop_map(|(level, words)| vec![vec![format!("{} {}", "#".repeat(level), words.join(" "))]]);
        let item = prop_oneof![1 => heading, 3 => block(markdown_word().boxed())];
        prop::collection::vec((item, gap()), 0..14).prop_map(|blocks| {
            let blocks: Vec<(Vec<Vec<String>>, String)> = blocks;
            render(&blocks, false)
        })
    }

    fn render(blocks: &[(Vec<Vec<String>>, String)], crlf: bool) -> String {
        let mut text = String::new();
        for (lines, gap) in blocks {
            for line in lines {
                text.push_str(&line.join(" "));
                text.push('\n');
            }
            text.push_str(gap);
        }
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        text
    }

    fn segment(text: &str, format: Format) -> Document {
        let extension = match format {
            Format::Text => "txt",
            Format::Markdown => "md",
            Format::Html => "html",
        };
        document(&SourceText {
            source: format!("notes/{SOURCE_STEM}.{extension}"),
            format,
            text: text.to_string(),
        })
    }

    /// The words a reader sees in the document; in Markdown a heading's `#` marks are markup.
    fn document_words(text: &str, format: Format) -> Vec<&str> {
        text.split_whitespace()
            .filter(|w| format == Format::Text || !w.chars().all(|c| c == '#'))
            .collect()
    }

    /// Checks that `doc_words` is exactly: the title, then for each section its heading, then
    /// its captions and passages interleaved, each caption and passage in order.
    fn every_word_in_one_place(doc: &Document, doc_words: &[&str]) -> Result<(), String> {
        let mut pos = 0;
        if doc.title != SOURCE_STEM {
            let title: Vec<&str> = doc.title.split_whitespace().collect();
            if doc_words.get(..title.len()) != Some(title.as_slice()) {
                return Err(format!("title {:?} does not open the document", doc.title));
            }
            pos = title.len();
        }
        let mut passages = doc.passages.iter();
        for section in &doc.sections {
            if let Some(heading) = section.path.last() {
                let heading: Vec<&str> = heading.split_whitespace().collect();
                if doc_words.get(pos..pos + heading.len()) != Some(heading.as_slice()) {
                    return Err(format!("heading {:?} not at word {pos}", section.path));
                }
                pos += heading.len();
            }
            let own: Vec<&Passage> = passages.by_ref().take(section.passages).collect();
            if own.len() != section.passages || own.iter().any(|p| p.section != section.path) {
                return Err(format!("passages of {:?} do not match its count", section.path));
            }
            let body: Vec<&str> = own.iter().flat_map(|p| p.text.split_whitespace()).collect();
            let captions: Vec<Vec<&str>> = section
                .captions
                .iter()
                .map(|c| c.split_whitespace().collect())
                .collect();
            let len = body.len() + captions.iter().map(Vec::len).sum::<usize>();
            let Some(span) = doc_words.get(pos..pos + len) else {
                return Err(format!("section {:?} runs past the end", section.path));
            };
            if !interleaves(span, &captions, &body) {
                return Err(format!("words of section {:?} out of place", section.path));
            }
            pos += len;
        }
        if passages.next().is_some() {
            return Err("passages outside every section".into());
        }
        if pos != doc_words.len() {
            return Err(format!("{} of {} words placed", pos, doc_words.len()));
        }
        Ok(())
    }

    /// Is `span` the caption blocks (each whole, in order) and the body words (in order) merged?
    fn interleaves(span: &[&str], captions: &[Vec<&str>], body: &[&str]) -> bool {
        let mut reachable = vec![vec![false; body.len() + 1]; captions.len() + 1];
        reachable[0][0] = true;
        for c in 0..=captions.len() {
            for b in 0..=body.len() {
                if !reachable[c][b] {
                    continue;
                }
                let at = captions[..c].iter().map(Vec::len).sum::<usize>() + b;
                if b < body.len() && span[at] == body[b] {
                    reachable[c][b + 1] = true;
                }
                if c < captions.len() && span.get(at..at + captions[c].len()) == Some(captions[c].as_slice())
                {
                    reachable[c + 1][b] = true;
                }
            }
        }
        reachable[captions.len()][body.len()]
    }

    /// A passage over the limit must be one sentence that cannot be cut.
    fn within_limit(doc: &Document) -> Result<(), String> {
        for passage in &doc.passages {
            if passage.text.trim().is_empty() {
                return Err("empty passage".into());
            }
            let words = word_count(&passage.text);
            if words > MAX_PASSAGE_WORDS && sentences(&passage.text).len() > 1 {
                return Err(format!("passage {} has {words} words", passage.ordinal));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn plain_text_loses_no_word((text, crlf) in text_document()) {
            let doc = segment(&text, Format::Text);
            let words = document_words(&text, Format::Text);
            prop_assert_eq!(every_word_in_one_place(&doc, &words), Ok(()), "{:#?}", doc);
            prop_assert_eq!(within_limit(&doc), Ok(()));
            if crlf {
                prop_assert_eq!(segment(&text.replace("\r\n", "\n"), Format::Text), doc);
            }
        }

        #[test]
        fn markdown_loses_no_word(text in markdown_document()) {
            let doc = segment(&text, Format::Markdown);
            let words = document_words(&text, Format::Markdown);
            prop_assert_eq!(every_word_in_one_place(&doc, &words), Ok(()), "{:#?}", doc);
            prop_assert_eq!(within_limit(&doc), Ok(()));
        }

        #[test]
        fn markdown_lists_tables_and_html_lose_no_word((text, seen) in markdown_rich_document()) {
            let doc = segment(&text, Format::Markdown);
            prop_assert_eq!(every_word_in_one_place(&doc, &seen_words(&seen)), Ok(()), "{}\n{:#?}", text, doc);
            prop_assert_eq!(within_limit(&doc), Ok(()));
            prop_assert!(doc.passages.iter().all(|p| !p.text.contains('<')), "{:#?}", doc);
        }

        #[test]
        fn html_loses_no_word((text, seen) in html_document()) {
            let doc = segment(&text, Format::Html);
            prop_assert_eq!(every_word_in_one_place(&doc, &seen_words(&seen)), Ok(()), "{}\n{:#?}", text, doc);
            prop_assert_eq!(within_limit(&doc), Ok(()));
        }

        #[test]
        fn long_paragraph_pieces_join_back(words in prop::collection::vec(word(), 1..600)) {
            let paragraph = words.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
            let pieces = split_paragraph(&paragraph, MAX_PASSAGE_WORDS);
            prop_assert_eq!(pieces.join(" "), paragraph);
            for piece in &pieces {
                prop_assert!(word_count(piece) <= MAX_PASSAGE_WORDS || sentences(piece).len() == 1);
            }
        }
    }
}
