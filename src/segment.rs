//! Segmentation: turns a document's text into a title, a section tree and passages.
//! Pure (no I/O): every rule about where a heading is and where a passage is cut lives here.

use unicode_segmentation::UnicodeSegmentation;

use crate::model::{Document, Format, Passage, Section, SourceText};

/// A paragraph longer than this many words is cut at sentence boundaries.
pub const MAX_PASSAGE_WORDS: usize = 120;
/// A line with more words than this is never a heading or a caption.
const MAX_SHORT_LINE_WORDS: usize = 12;
/// A line with more characters than this is never a heading or a caption.
const MAX_SHORT_LINE_CHARS: usize = 100;
/// A first line longer than this is body text, not a title.
const MAX_TITLE_CHARS: usize = 200;

/// Openers that make a paragraph continue the one before it. A short line sitting between
/// a paragraph and such a continuation cannot open a section: it is a caption.
const CONTINUATIONS: &[&str] = &[
    "additionally",
    "also",
    "besides",
    "consequently",
    "furthermore",
    "hence",
    "however",
    "in addition",
    "in particular",
    "likewise",
    "meanwhile",
    "moreover",
    "nevertheless",
    "nonetheless",
    "similarly",
    "still",
    "that said",
    "therefore",
    "they",
    "thus",
];

/// Splits one source file into its document: title, sections and passages.
pub fn document(source: &SourceText) -> Document {
    split(source, true).0
}

/// What indexing needs of a source file: the document's title and passages (its `sections`
/// left empty) and its number of sections. Cut exactly as [`document`] cuts, but without the
/// outline, which a table of contents nested hundreds of headings deep makes large.
pub fn passages(source: &SourceText) -> (Document, usize) {
    split(source, false)
}

fn split(source: &SourceText, outline: bool) -> (Document, usize) {
    let blocks = blocks(&source.text, source.format);
    let (title, body) = match source.format {
        Format::Text => text_title(&blocks),
        Format::Markdown => markdown_title(&blocks),
    };
    let title = title.unwrap_or_else(|| file_stem(&source.source));
    let kinds = match source.format {
        Format::Text => classify_text(body),
        Format::Markdown => classify_markdown(body),
    };
    assemble(&source.source, title, body, &kinds, outline)
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
    for sentence in text.split_sentence_bounds() {
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

/// A Markdown title is a `#` heading that opens the file.
fn markdown_title<'a, 'b>(blocks: &'b [Block<'a>]) -> (Option<String>, &'b [Block<'a>]) {
    match blocks.first() {
        Some(first) if first.lines.len() == 1 && atx_heading(first.lines[0]).is_some() => {
            let (_, text) = atx_heading(first.lines[0]).unwrap_or((1, ""));
            (Some(text.to_string()), &blocks[1..])
        }
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

/// The text of a heading block, without Markdown `#` marks.
fn heading_text(block: &Block) -> String {
    match atx_heading(block.lines[0]) {
        Some((_, text)) => text.split_whitespace().collect::<Vec<_>>().join(" "),
        None => block.normalised(),
    }
}

/// Plain-text structure. A short line between blank lines without closing punctuation is a
/// heading, unless the text flows on across it (it sits between two paragraphs and the second
/// continues the first, e.g. opens with "Furthermore"): then it is a caption. Headings get no
/// levels here; `assemble` nests runs of them.
fn classify_text(blocks: &[Block]) -> Vec<Kind> {
    let heading_shaped: Vec<bool> = blocks
        .iter()
        .map(|b| b.is_short_line() && !ends_with_closing_punctuation(b.lines[0].trim()))
        .collect();
    (0..blocks.len())
        .map(|i| {
            if !heading_shaped[i] {
                return Kind::Paragraph;
            }
            let after_paragraph = i > 0 && !heading_shaped[i - 1];
            let next_continues =
                i + 1 < blocks.len() && !heading_shaped[i + 1] && continues(&blocks[i + 1].normalised());
            if after_paragraph && next_continues {
                Kind::Caption
            } else {
                Kind::Heading(None)
            }
        })
        .collect()
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

/// A line ending in `.`, `!`, `,`, `;`, `:` or an ellipsis reads as a sentence, not a title.
/// A question mark does not count: questions are common headings.
fn ends_with_closing_punctuation(line: &str) -> bool {
    let end = line.trim_end_matches(['"', '\'', ')', ']', '”', '’', '*', '_']);
    end.ends_with(['.', '!', ',', ';', ':', '…'])
}

/// Does this paragraph open with a word that carries on from the paragraph before it?
fn continues(paragraph: &str) -> bool {
    let lower: String = paragraph.chars().take(40).collect::<String>().to_lowercase();
    CONTINUATIONS.iter().any(|opener| {
        lower
            .strip_prefix(opener)
            .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphanumeric()))
    })
}

/// Builds sections and passages from classified blocks, and counts the sections. In plain text
/// a run of headings nests (a heading followed directly by a heading is its parent) and a lone
/// heading is a sibling of the previous section that held text. Without `outline`, sections
/// are counted but not kept.
fn assemble(
    source: &str,
    title: String,
    blocks: &[Block],
    kinds: &[Kind],
    outline: bool,
) -> (Document, usize) {
    let mut sections = vec![Section {
        path: Vec::new(),
        captions: Vec::new(),
        passages: 0,
    }];
    let mut headings = 0;
    let mut passages = Vec::new();
    // Open headings, outermost first, with their levels.
    let mut open: Vec<(usize, String)> = Vec::new();
    // The heading path of `open`, built when a passage or a kept section needs it.
    let mut path: Vec<String> = Vec::new();
    let mut path_is_current = true;
    let mut i = 0;
    while i < blocks.len() {
        match kinds[i] {
            Kind::Heading(_) => {
                let run_end = (i..blocks.len())
                    .find(|&j| !matches!(kinds[j], Kind::Heading(_)))
                    .unwrap_or(blocks.len());
                let run = run_end - i;
                let leaf_level = open.last().map_or(1, |(level, _)| *level);
                for (offset, j) in (i..run_end).enumerate() {
                    let level = match kinds[j] {
                        Kind::Heading(Some(level)) => level,
                        _ if run > 1 => offset + 1,
                        _ => leaf_level,
                    };
                    while open.last().is_some_and(|(l, _)| *l >= level) {
                        open.pop();
                    }
                    open.push((level, heading_text(&blocks[j])));
                    headings += 1;
                    path_is_current = false;
                    if outline {
                        path = open.iter().map(|(_, text)| text.clone()).collect();
                        path_is_current = true;
                        sections.push(Section {
                            path: path.clone(),
                            captions: Vec::new(),
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
                }
            }
            Kind::Paragraph => {
                if !path_is_current {
                    path = open.iter().map(|(_, text)| text.clone()).collect();
                    path_is_current = true;
                }
                for text in split_paragraph(&blocks[i].normalised(), MAX_PASSAGE_WORDS) {
                    passages.push(Passage {
                        ordinal: passages.len() as u64 + 1,
                        section: path.clone(),
                        text,
                    });
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
        passages,
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

    #[test]
    fn caption_line_does_not_open_a_section() {
        let doc = text_doc(&format!(
            "T\n\nSection\n\n{BODY}\n\nPicture of a thing (PT)\n\nFurthermore, the text goes on here as before.\n"
        ));
        assert_eq!(paths(&doc), ["Section"]);
        assert_eq!(doc.sections[0].captions, ["Picture of a thing (PT)"]);
        assert_eq!(doc.passages.len(), 2);
        assert_eq!(doc.passages[1].section, ["Section"]);
        assert!(doc.passages.iter().all(|p| !p.text.contains("Picture")));
    }

    #[test]
    fn question_caption_before_a_continuation_is_not_a_passage() {
        let doc = text_doc(&format!(
            "T\n\nSection\n\n{BODY}\n\nWhat is a widget?\n\nIn addition, widgets exist.\n"
        ));
        assert_eq!(doc.sections[0].captions, ["What is a widget?"]);
        assert_eq!(doc.passages.len(), 2);
    }

    #[test]
    fn question_line_before_fresh_paragraph_is_a_heading() {
        let doc = text_doc(&format!(
            "T\n\n{BODY}\n\nWhat does a widget do?\n\nA widget does things.\n"
        ));
        assert_eq!(paths(&doc), ["", "What does a widget do?"]);
    }

    #[test]
    fn short_sentence_with_full_stop_is_a_paragraph() {
        let doc = text_doc(&format!("T\n\n{BODY}\n\nThat is all.\n"));
        assert_eq!(doc.passages.len(), 2);
        assert_eq!(doc.passages[1].text, "That is all.");
    }

    #[test]
    fn continuation_opener_must_be_a_whole_word() {
        assert!(continues("Furthermore, yes"));
        assert!(continues("In addition to this"));
        assert!(!continues("Thusly named"));
        assert!(!continues("In a dynamic business"));
        assert!(!continues("Theyre"));
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
        let text = include_str!("../corpus/product-manager-vs-ceo-vs-cto.txt");
        let doc = document(&SourceText {
            source: "product-manager-vs-ceo-vs-cto.txt".into(),
            format: Format::Text,
            text: text.into(),
        });
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
}
