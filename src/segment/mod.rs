//! Segmentation: turns a document's text (plain text, Markdown, HTML) into a title, a section tree and passages.
//! Pure (no I/O): every rule about where a heading is and where a passage is cut lives here.

use unicode_segmentation::UnicodeSegmentation;

mod html;
mod inline;
mod list;
mod markdown;
#[cfg(test)]
mod properties;
mod signals;
mod stream;
#[cfg(test)]
mod tests;
mod text_stream;

use list::*;
use markdown::*;
use signals::*;

use crate::model::{Document, Format, Passage, Section, SourceText};
pub use stream::MarkdownPieces;
pub use text_stream::{TextOutline, TextPieces, TextPlan};

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
    match source.format {
        Format::Html => split_html(source, outline, sink),
        Format::Markdown => {
            let mut assembly = None;
            markdown_into(&source.text, &source.source, &mut assembly, outline, true, sink);
            let assembly = assembly.unwrap_or_else(|| Assembly::markdown(file_stem(&source.source), outline));
            assembly.finish(&source.source)
        }
        Format::Text => {
            let blocks = blocks(&source.text, Format::Text);
            let (title, body) = text_title(&blocks);
            let title = title.unwrap_or_else(|| file_stem(&source.source));
            // Reasons are only shown in an outline: without one, none is written.
            let (kinds, reasons) = classify_text(body, hints, outline);
            assemble(&source.source, title, body, &kinds, &reasons, outline, sink)
        }
    }
}

/// Cuts Markdown text into `assembly`: the whole document, or one piece of it that starts and
/// ends between blocks (outside a fenced block), fed in order. The piece that opens the
/// document (`assembly` still `None`) holds its front matter and title, and starts the
/// assembly; it is refused (false, nothing cut) while it cannot settle them yet (front matter
/// not closed, or nothing but captions before where the title may stand), unless it is the
/// `last` piece.
fn markdown_into(
    text: &str,
    source: &str,
    assembly: &mut Option<Assembly>,
    outline: bool,
    last: bool,
    sink: &mut dyn FnMut(&str, Passage),
) -> bool {
    let opening = assembly.is_none();
    let (front_title, body_text) = if opening { front_matter(text) } else { (None, text) };
    if opening && !last && body_text.len() == text.len() && opens_front_matter(text) {
        return false;
    }
    // With front matter, the block after it decides whether a `# Title` repeats the title.
    if opening && !last && front_title.is_some() && body_text.trim().is_empty() {
        return false;
    }
    // Only the document's start may drop a byte order mark: a later piece keeps it as text.
    let mut blocks = if opening {
        blocks(body_text, Format::Markdown)
    } else {
        raw_blocks(body_text, Format::Markdown)
    };
    blocks.retain(|block| !is_link_definitions(block));
    // Markdown blocks that hold several pieces (HTML, tables, lists), read into owned texts
    // that the pieces' blocks borrow, listed with their block's index (few blocks have any);
    // `stated[i]` is what the markup says block `i` is; it stays empty (nothing stated of
    // any block) when no block holds pieces, as in most files.
    let pieces: Vec<(usize, Vec<Piece>)> = blocks
        .iter()
        .enumerate()
        .filter_map(|(i, block)| markdown_pieces(block).map(|list| (i, list)))
        .collect();
    let mut stated: Vec<Option<(Kind, &str)>> = Vec::new();
    if !pieces.is_empty() {
        let mut expanded = Vec::with_capacity(blocks.len());
        stated.reserve(blocks.len());
        let mut pieces = pieces.iter().peekable();
        for (i, block) in blocks.into_iter().enumerate() {
            match pieces.next_if(|(at, _)| *at == i) {
                None => {
                    expanded.push(block);
                    stated.push(None);
                }
                Some((_, list)) => {
                    for (kind, text, why) in list {
                        expanded.push(Block {
                            lines: text.split('\n').collect(),
                        });
                        stated.push(kind.map(|kind| (kind, *why)));
                    }
                }
            }
        }
        blocks = expanded;
    }
    if opening && front_title.is_none() && !title_first(&mut blocks, &mut stated) && !last {
        return false;
    }
    let (title, body, stated) = if !opening {
        (None, &blocks[..], &stated[..])
    } else if let Some(front) = &front_title {
        // A heading opening the body that repeats the front matter's title is that title.
        match markdown_title(&blocks) {
            (Some(heading), rest)
                if stated.first().is_none_or(Option::is_none)
                    && inline::plain(heading.clone()).to_lowercase()
                        == inline::plain(front.clone()).to_lowercase() =>
            {
                (None, rest, stated.get(1..).unwrap_or_default())
            }
            _ => (None, &blocks[..], &stated[..]),
        }
    } else if matches!(stated.first(), Some(Some((Kind::Tagged(1), _)))) {
        // An HTML `<h1>` opening the file is its title as a `#` heading would be.
        (
            Some(blocks[0].normalised()),
            &blocks[1..],
            stated.get(1..).unwrap_or_default(),
        )
    } else {
        let (title, body) = markdown_title(&blocks);
        (
            title,
            body,
            stated.get(blocks.len() - body.len()..).unwrap_or_default(),
        )
    };
    if opening {
        let title = front_title
            .or(title)
            .map_or_else(|| file_stem(source), inline::plain);
        *assembly = Some(Assembly::markdown(title, outline));
    }
    let mut kinds = classify_markdown(body);
    // Reasons are only shown in an outline: without one, none is written.
    let mut reasons: Vec<Vec<String>> = kinds
        .iter()
        .filter(|_| outline)
        .map(|k| match k {
            Kind::Caption => vec!["a Markdown block that is only an image or a link".to_string()],
            Kind::Heading(Some(level)) => vec![format!("a Markdown heading of level {level}")],
            Kind::BoldLine => {
                vec!["a short Markdown line set in bold alone: a heading under the last one".to_string()]
            }
            _ => Vec::new(),
        })
        .collect();
    for (i, said) in stated.iter().enumerate() {
        if let Some((kind, why)) = said {
            kinds[i] = *kind;
            if !outline {
                continue;
            }
            reasons[i] = match kind {
                Kind::Tagged(level) => vec![format!("an HTML <h{level}> heading in Markdown")],
                _ if why.is_empty() => Vec::new(),
                _ => vec![why.to_string()],
            };
        }
    }
    if let Some(assembly) = assembly {
        assembly.feed(body, &kinds, &reasons, sink);
    }
    true
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
        .filter(|_| outline)
        .map(|(item, _)| match item {
            html::Item::Caption(why) => vec![format!("HTML: {why}")],
            html::Item::Heading(level) => vec![format!("an HTML <h{level}> heading")],
            html::Item::Text => Vec::new(),
        })
        .collect();
    let title = page.title.clone().unwrap_or_else(|| file_stem(&source.source));
    let mut assembly = Assembly {
        text_lists: false,
        ..Assembly::new(title, outline)
    };
    assembly.feed(&blocks, &kinds, &reasons, sink);
    assembly.finish(&source.source)
}

/// Number of words in `text`, counted as whitespace-separated tokens.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The number of words of a text whose words are already separated by single spaces (as
/// [`Block::normalised`] gives it): its spaces plus one, counted without splitting it.
fn normalised_words(text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        text.bytes().filter(|&b| b == b' ').count() + 1
    }
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
        let mut out = String::with_capacity(self.lines.iter().map(|line| line.len() + 1).sum());
        for line in &self.lines {
            push_collapsed(&mut out, line);
        }
        out
    }

    /// A single line short enough to be a heading or a caption, with at least one letter.
    fn is_short_line(&self) -> bool {
        if self.lines.len() != 1 {
            return false;
        }
        let line = self.lines[0].trim();
        // A character takes one to four bytes: most lines are settled by their length.
        let few_chars = line.len() <= MAX_SHORT_LINE_CHARS
            || (line.len() <= 4 * MAX_SHORT_LINE_CHARS && line.chars().count() <= MAX_SHORT_LINE_CHARS);
        few_chars
            && line.split_whitespace().nth(MAX_SHORT_LINE_WORDS).is_none()
            && line.chars().any(char::is_alphabetic)
    }
}

/// Appends the words of `line` to `out`, each after one space unless `out` is empty: the
/// words `split_whitespace` gives, found byte by byte when the line is ASCII (most are), where
/// the Unicode white space is the six ASCII spacing bytes.
fn push_collapsed(out: &mut String, line: &str) {
    fn space(b: u8) -> bool {
        matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
    }
    if !line.is_ascii() {
        for word in line.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        return;
    }
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && space(bytes[i]) {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !space(bytes[i]) {
            i += 1;
        }
        if i > start {
            if !out.is_empty() {
                out.push(' ');
            }
            // An ASCII line: every byte is a character boundary.
            out.push_str(&line[start..i]);
        }
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
    /// A short Markdown line set in bold and standing alone (`**Key responsibilities:**`), as
    /// pages turned into Markdown write a subheading: a heading one level under the last
    /// heading that is not one, beside the previous one.
    BoldLine,
    Caption,
    Paragraph,
}

/// Splits text into blocks separated by blank lines. In Markdown a fenced code block stays
/// one block even across blank lines.
fn blocks(text: &str, format: Format) -> Vec<Block<'_>> {
    raw_blocks(text.strip_prefix('\u{feff}').unwrap_or(text), format)
}

/// [`blocks`] of a text that is not the start of a document (a byte order mark there is text).
/// In Markdown, as CommonMark reads it, a block also ends where an ATX heading, a fence or a
/// thematic break interrupts it: each of those lines stands alone (a fenced block runs to its
/// closing fence), except inside an HTML block, which only a blank line ends.
fn raw_blocks(text: &str, format: Format) -> Vec<Block<'_>> {
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut in_fence = false;
    let markdown = format == Format::Markdown;
    fn end<'a>(current: &mut Vec<&'a str>, blocks: &mut Vec<Block<'a>>) {
        if !current.is_empty() {
            blocks.push(Block {
                lines: std::mem::take(current),
            });
        }
    }
    /// Ends a block at a blank line or the text's end: plain text read a paragraph a line
    /// gives a block a line.
    fn end_at_blank<'a>(current: &mut Vec<&'a str>, blocks: &mut Vec<Block<'a>>, markdown: bool) {
        if !markdown && lines_are_paragraphs(current) {
            blocks.extend(current.drain(..).map(|line| Block { lines: vec![line] }));
        }
        end(current, blocks);
    }
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let blank = line.trim().is_empty();
        if markdown && line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            if in_fence {
                // A fence opening inside a paragraph starts a block of its own.
                if current
                    .first()
                    .is_some_and(|first| !is_html_block_start(first.trim_start()))
                {
                    end(&mut current, &mut blocks);
                }
                current.push(line);
            } else {
                current.push(line);
                if current
                    .first()
                    .is_some_and(|first| first.trim_start().starts_with("```"))
                {
                    end(&mut current, &mut blocks);
                }
            }
            continue;
        }
        if blank && !in_fence {
            end_at_blank(&mut current, &mut blocks, markdown);
        } else if !blank {
            if markdown && !in_fence && interrupts_a_block(line, &current) {
                end(&mut current, &mut blocks);
                current.push(line);
                end(&mut current, &mut blocks);
                continue;
            }
            current.push(line);
        }
    }
    end_at_blank(&mut current, &mut blocks, markdown);
    blocks
}

/// Whether a plain-text block is written a paragraph a line, as text typed with one line
/// break between paragraphs is: no line runs on into the next (none ends with a comma or
/// without closing a sentence, unless it is heading-shaped, and none is followed by a line
/// opening in lower case), a line of more than [`MAX_SHORT_LINE_WORDS`] words closes a
/// sentence (but a first line, which may be a title), and there is a heading-shaped line (a
/// short one without closing punctuation, a question too) or every line is that long. A hard-wrapped
/// paragraph, whose lines end inside sentences, never is.
fn lines_are_paragraphs(lines: &[&str]) -> bool {
    if lines.len() < 2 {
        return false;
    }
    let ends_a_sentence = |line: &str| {
        line.trim_end_matches(['"', '\'', ')', ']', '”', '’', '」', '』', '）'])
            .ends_with(['.', '!', '?', ':', '…', '。', '！', '？', '：', '۔'])
    };
    let long = |line: &str| line.split_whitespace().nth(MAX_SHORT_LINE_WORDS).is_some();
    let mut headings = 0;
    let mut prose = 0;
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        if lines
            .get(i + 1)
            .and_then(|next| next.trim_start().chars().next())
            .is_some_and(char::is_lowercase)
        {
            return false;
        }
        if long(line) {
            if !ends_a_sentence(line) {
                // Only a first line may be that long without closing a sentence: a title.
                if i > 0 || line.chars().count() > MAX_TITLE_CHARS || ends_with_closing_punctuation(line) {
                    return false;
                }
                headings += 1;
                continue;
            }
            prose += 1;
        } else if line.ends_with([',', ';', '，', '；', '،', '؛']) {
            return false;
        } else if !ends_with_closing_punctuation(line) {
            // Heading-shaped (a question too), as a line alone between blank lines is.
            if !(Block { lines: vec![line] }).is_short_line() {
                return false;
            }
            headings += 1;
        }
    }
    prose > 0 && (headings > 0 || prose == lines.len())
}

/// A plain-text title is the first line, unless that line is too long to be one, or a first
/// block that is a title hard-wrapped ([`is_wrapped_title`]).
fn text_title<'a, 'b>(blocks: &'b [Block<'a>]) -> (Option<String>, &'b [Block<'a>]) {
    match blocks.first() {
        Some(first) if first.lines.len() == 1 && first.lines[0].trim().chars().count() <= MAX_TITLE_CHARS => {
            (Some(first.normalised()), &blocks[1..])
        }
        Some(first) if is_wrapped_title(first) => (Some(first.normalised()), &blocks[1..]),
        _ => (None, blocks),
    }
}

/// A title hard-wrapped over two or three lines: at most [`MAX_TITLE_CHARS`] in all, no line
/// closing a sentence, the last without closing punctuation (a question is a title).
fn is_wrapped_title(block: &Block) -> bool {
    let ends_sentence = |line: &str| line.trim_end().ends_with(['.', '!', '。', '！']);
    (2..=3).contains(&block.lines.len())
        && block
            .lines
            .iter()
            .map(|l| l.trim().chars().count() + 1)
            .sum::<usize>()
            <= MAX_TITLE_CHARS + 1
        && !block.lines.iter().any(|l| ends_sentence(l))
        && block
            .lines
            .last()
            .is_some_and(|l| !ends_with_closing_punctuation(l.trim()))
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

/// Builds sections and passages from classified blocks, and counts the sections (see
/// [`Assembly`]), all the blocks at once.
fn assemble(
    source: &str,
    title: String,
    blocks: &[Block],
    kinds: &[Kind],
    reasons: &[Vec<String>],
    outline: bool,
    sink: &mut dyn FnMut(&str, Passage),
) -> (Document, usize) {
    let mut assembly = Assembly::new(title, outline);
    assembly.feed(blocks, kinds, reasons, sink);
    assembly.finish(source)
}

/// Sections and passages built from classified blocks, fed in document order in one or more
/// runs of blocks. In plain text a run of headings nests (a heading followed directly by a
/// heading is its parent) and a lone heading is a sibling of the previous section that held
/// text; a heading whose level is known (Markdown, HTML) needs no other block, so a document
/// may be fed a piece at a time. Without `outline`, sections are counted but not kept.
struct Assembly {
    title: String,
    outline: bool,
    /// Markdown: inline markup is taken out of headings, captions and passages.
    markdown: bool,
    /// Plain text: a paragraph holding a list gives a passage an item ([`text_list_pieces`]);
    /// Markdown and HTML state their lists in markup.
    text_lists: bool,
    /// The innermost open heading is a [`Kind::BoldLine`].
    bold_open: bool,
    sections: Vec<Section>,
    headings: usize,
    passages: u64,
    /// Open headings, outermost first, with their levels.
    open: Vec<(usize, String)>,
    /// The heading path of `open`, built when a passage or a kept section needs it.
    path: Vec<String>,
    path_is_current: bool,
}

impl Assembly {
    fn new(title: String, outline: bool) -> Assembly {
        Assembly {
            title,
            outline,
            markdown: false,
            text_lists: true,
            bold_open: false,
            sections: vec![Section {
                path: Vec::new(),
                heading_reasons: Vec::new(),
                captions: Vec::new(),
                caption_reasons: Vec::new(),
                passages: 0,
            }],
            headings: 0,
            passages: 0,
            open: Vec::new(),
            path: Vec::new(),
            path_is_current: true,
        }
    }

    /// An assembly of Markdown blocks, read as rendered (see [`inline::plain`]).
    fn markdown(title: String, outline: bool) -> Assembly {
        Assembly {
            markdown: true,
            text_lists: false,
            ..Assembly::new(title, outline)
        }
    }

    /// A block's text as a reader sees it: Markdown's inline markup taken out
    /// ([`inline::plain`], which never leaves it empty); fenced code shows its lines without
    /// the fences, as written (the fences too when the code is empty).
    fn shown(markdown: bool, block: &Block, text: String) -> String {
        let fenced = block
            .lines
            .first()
            .is_some_and(|l| l.trim_start().starts_with("```"));
        if !markdown {
            return text;
        }
        if !fenced {
            return inline::plain(text);
        }
        let closed = block.lines.len() > 1
            && block
                .lines
                .last()
                .is_some_and(|l| l.trim_start().starts_with("```"));
        let code = &block.lines[1..block.lines.len() - usize::from(closed)];
        let inside = Block { lines: code.to_vec() }.normalised();
        if inside.is_empty() {
            text
        } else {
            inside
        }
    }

    /// Takes the next blocks with their kinds (and their reasons, read only for an outline
    /// and may be empty without one); passages go to `sink` as they are cut.
    fn feed(
        &mut self,
        blocks: &[Block],
        kinds: &[Kind],
        reasons: &[Vec<String>],
        sink: &mut dyn FnMut(&str, Passage),
    ) {
        let Assembly {
            title,
            outline,
            markdown,
            text_lists,
            bold_open,
            sections,
            headings,
            passages,
            open,
            path,
            path_is_current,
        } = self;
        let outline = *outline;
        let markdown = *markdown;
        let mut i = 0;
        while i < blocks.len() {
            match kinds[i] {
                Kind::Heading(_) | Kind::OuterHeading | Kind::Tagged(_) | Kind::BoldLine => {
                    let run_end = (i..blocks.len())
                        .find(|&j| {
                            !matches!(
                                kinds[j],
                                Kind::Heading(_) | Kind::OuterHeading | Kind::Tagged(_) | Kind::BoldLine
                            )
                        })
                        .unwrap_or(blocks.len());
                    let run = run_end - i;
                    let leaf_level = open.last().map_or(1, |(level, _)| *level);
                    for (offset, j) in (i..run_end).enumerate() {
                        let level = match kinds[j] {
                            Kind::Heading(Some(level)) | Kind::Tagged(level) => level,
                            Kind::OuterHeading => leaf_level.saturating_sub(1).max(1),
                            // Beside an open bold line, else under the innermost heading.
                            Kind::BoldLine => {
                                open.last()
                                    .map_or(1, |(level, _)| if *bold_open { *level } else { level + 1 })
                            }
                            _ if run > 1 => offset + 1,
                            _ => leaf_level,
                        };
                        // A bold line is a subheading of its section: a heading of the
                        // markup's own (`#`, `<hN>`) closes it whatever the levels say, so
                        // a bold line before the first `#` heading is no parent of the rest.
                        if *bold_open && kinds[j] != Kind::BoldLine {
                            open.pop();
                            *bold_open = false;
                        }
                        while open.last().is_some_and(|(l, _)| *l >= level) {
                            open.pop();
                        }
                        let text = Assembly::shown(markdown, &blocks[j], heading_text(&blocks[j], kinds[j]));
                        open.push((level, text));
                        *bold_open = kinds[j] == Kind::BoldLine;
                        *headings += 1;
                        *path_is_current = false;
                        if outline {
                            *path = open.iter().map(|(_, text)| text.clone()).collect();
                            *path_is_current = true;
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
                        section
                            .captions
                            .push(Assembly::shown(markdown, &blocks[i], blocks[i].normalised()));
                        section.caption_reasons.push(reasons[i].clone());
                    }
                }
                Kind::Paragraph => {
                    if !*path_is_current {
                        *path = open.iter().map(|(_, text)| text.clone()).collect();
                        *path_is_current = true;
                    }
                    let mut emit = |text: String| {
                        *passages += 1;
                        sink(
                            title,
                            Passage {
                                ordinal: *passages,
                                section: path.clone(),
                                text,
                            },
                        );
                        if let Some(section) = sections.last_mut() {
                            section.passages += 1;
                        }
                    };
                    // A plain-text list gives a passage an item (Markdown's come as blocks).
                    let listed = if *text_lists {
                        text_list_pieces(&blocks[i])
                    } else {
                        None
                    };
                    let texts = listed.unwrap_or_else(|| {
                        vec![Assembly::shown(markdown, &blocks[i], blocks[i].normalised())]
                    });
                    for text in texts {
                        // Most paragraphs are one passage: they move on without a copy.
                        if normalised_words(&text) <= MAX_PASSAGE_WORDS && text.len() <= MAX_PASSAGE_BYTES {
                            emit(text);
                        } else {
                            for piece in split_paragraph(&text, MAX_PASSAGE_WORDS) {
                                for text in cap_passage(piece, MAX_PASSAGE_BYTES) {
                                    emit(text);
                                }
                            }
                        }
                    }
                }
            }
            i += 1;
        }
    }

    /// The document fed, with its number of headings.
    fn finish(self, source: &str) -> (Document, usize) {
        let mut sections = self.sections;
        let root = &sections[0];
        if !self.outline || (root.passages == 0 && root.captions.is_empty()) {
            sections.remove(0);
        }
        let document = Document {
            source: source.to_string(),
            title: self.title,
            sections,
            passages: Vec::new(),
        };
        (document, self.headings)
    }
}
