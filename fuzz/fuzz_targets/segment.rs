//! Arbitrary bytes as a document, read as plain text and as Markdown: segmentation never
//! panics, no passage is empty or over the byte cap, and in plain text every word of the
//! document is placed exactly once (title, a heading, a caption or a passage); a word longer
//! than the cap may be cut, so then only its characters are checked.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rsearch::model::{Document, Format, SourceText};
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
