//! Arbitrary bytes as a web page, segmented as `.html`: reading it never panics, no passage
//! is empty or over the byte cap, and no heading or caption is empty. Pages nested deeper than
//! the parser's bound are flattened, so that no input takes time growing with the square of
//! its depth (libFuzzer's timeout catches one that does).

#![no_main]

use libfuzzer_sys::fuzz_target;
use rsearch::model::{Format, SourceText};
use rsearch::segment;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).replace('\0', " ");
    let document = segment::document(&SourceText {
        source: "fuzzed-page.html".into(),
        format: Format::Html,
        text,
    });
    assert!(!document.title.trim().is_empty(), "empty title");
    for passage in &document.passages {
        assert!(!passage.text.trim().is_empty(), "empty passage");
        assert!(passage.text.len() <= segment::MAX_PASSAGE_BYTES, "passage over the cap");
    }
    for section in &document.sections {
        assert!(
            section.path.iter().all(|heading| !heading.trim().is_empty()),
            "empty heading in {:?}",
            section.path
        );
        assert!(
            section.captions.iter().all(|caption| !caption.trim().is_empty()),
            "empty caption"
        );
    }
});
