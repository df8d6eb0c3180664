//! Arbitrary bytes as a document, read as plain text and as Markdown: segmentation never
//! panics, no passage is empty or over the byte cap, and in plain text every word of the
//! document is placed exactly once (title, a heading, a caption or a passage); a word longer
//! than the cap may be cut, so then only its characters are checked. Cut a piece at a time (as a
//! large file is: Markdown in one pass, plain text in two), the passages are those of the whole.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rsearch::model::{Document, Format, Passage, SourceText};
use rsearch::segment;

/// A file name whose stem (the title of a document without one) no input is likely to hold.
const SOURCE_STEM: &str = "fuzzed-input-without-title";

fn placed_words<'a>(document: &'a Document, text_words: &[&str]) -> Vec<&'a str> {
    let mut placed: Vec<&str> = Vec::new();
    let title: Vec<&str> = document.title.split_whitespace().collect();
    if document.title != SOURCE_STEM && text_words.starts_with(&title) {
        placed.extend(title);
    }
    for section in &document.sections {
        placed.extend(section.path.last().into_iter().flat_map(|h| h.split_whitespace()));
        placed.extend(section.captions.iter().flat_map(|c| c.split_whitespace()));
    }
    placed.extend(document.passages.iter().flat_map(|p| p.text.split_whitespace()));
    placed
}

/// `text` handed to `each` in chunks of `size` bytes (at character boundaries).
fn chunks(text: &str, size: usize, each: &mut dyn FnMut(&str)) {
    let mut rest = text;
    while !rest.is_empty() {
        let mut n = size.min(rest.len());
        while !rest.is_char_boundary(n) {
            n += 1;
        }
        each(&rest[..n]);
        rest = &rest[n..];
    }
}

/// The passages (with titles) and headings of `text` cut whole, and cut a piece at a time.
fn whole_and_pieces(source: &str, format: Format, text: &str, piece: usize) -> [(Vec<(String, Passage)>, usize); 2] {
    let hints = segment::Hints::default();
    let mut whole = Vec::new();
    let source_text = SourceText {
        source: source.to_string(),
        format,
        text: text.to_string(),
    };
    let (_, sections) = segment::each_passage(&source_text, &hints, &mut |title, p| whole.push((title.to_string(), p)));
    let mut streamed = Vec::new();
    let mut sink = |title: &str, p: Passage| streamed.push((title.to_string(), p));
    let streamed_sections = if format == Format::Text {
        let mut outline = segment::TextOutline::new(&hints, piece);
        chunks(text, 37, &mut |t| outline.feed(t));
        let mut pieces = segment::TextPieces::new(source, outline.finish(), piece);
        chunks(text, 37, &mut |t| pieces.feed(t, &mut sink));
        pieces.finish(&mut sink).expect("the same text read twice").1
    } else {
        let mut pieces = segment::MarkdownPieces::new(source, piece);
        chunks(text, 37, &mut |t| pieces.feed(t, &mut sink));
        pieces.finish(&mut sink).1
    };
    [(whole, sections), (streamed, streamed_sections)]
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).replace('\0', " ");
    for format in [Format::Text, Format::Markdown] {
        let extension = if format == Format::Text { "txt" } else { "md" };
        let document = segment::document(&SourceText {
            source: format!("{SOURCE_STEM}.{extension}"),
            format,
            text: text.clone(),
        });
        for passage in &document.passages {
            assert!(!passage.text.trim().is_empty(), "empty passage");
            assert!(passage.text.len() <= segment::MAX_PASSAGE_BYTES, "passage over the cap");
        }
        let [whole, pieces] = whole_and_pieces(&format!("{SOURCE_STEM}.{extension}"), format, &text, 64);
        assert_eq!(whole, pieces, "cut a piece at a time, the passages differ");
        if format == Format::Text {
            let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let mut words: Vec<&str> = body.split_whitespace().collect();
            let mut placed = placed_words(&document, &words);
            if words.iter().all(|w| w.len() <= segment::MAX_PASSAGE_BYTES) {
                words.sort_unstable();
                placed.sort_unstable();
                assert_eq!(placed, words, "words lost or duplicated");
            } else {
                let chars = |ws: &[&str]| {
                    let mut all: Vec<char> = ws.iter().flat_map(|w| w.chars()).collect();
                    all.sort_unstable();
                    all
                };
                assert_eq!(chars(&placed), chars(&words), "characters lost or duplicated");
            }
        }
    }
});
