//! Inputs that once crashed a fuzz target (`fuzz/`), replayed on every test run: each file of
//! `tests/fuzz-regressions/<target>/` is run the way that target runs its input.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::TestEnv;
use rsearch::model::{Format, SourceText};
use rsearch::search::{self, Request};
use rsearch::segment;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut found: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| (e.path(), fs::read(e.path()).expect("read regression input")))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn query_inputs_that_crashed_now_search() {
    let env = TestEnv::new();
    let opened = env.open_index();
    let cases = inputs("query");
    assert!(!cases.is_empty());
    for (path, bytes) in cases {
        let Ok(query) = std::str::from_utf8(&bytes) else {
            continue;
        };
        for limit in [1, 10] {
            let request = Request {
                explain: true,
                context: 1,
                ..Request::new(query, limit)
            };
            let results =
                search::run(&opened, &request).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            assert!(results.hits.len() <= limit);
        }
    }
}

#[test]
fn exists_syntax_beside_a_word_searches_the_word() {
    // Found by fuzzing: `title:*` made tantivy ask for a fast field and fail the search.
    // What is left, a field name and a word apart, searches the word in the passages.
    let env = TestEnv::new();
    for (query, word) in [
        ("title:* cto", "cto"),
        ("section:* ceo", "ceo"),
        ("text: * cybersecurity", "cybersecurity"),
    ] {
        let run = env.run(&["query", query, "--json"]).expect_code(0);
        let top = &run.json().hits[0];
        assert!(top.text.to_lowercase().contains(word), "{query}: {}", top.text);
    }
}

#[test]
fn an_excluded_phrase_removes_exactly_the_passages_that_hold_it() {
    // Found by fuzzing: `ceo -media+ceo` (an excluded phrase) stopped tantivy's phrase scorer
    // on an assertion. Excluding a phrase now answers, and answers right.
    let env = TestEnv::new();
    let total = |query: &str| env.run(&["query", query, "--json", "--limit", "50"]).json();
    let all = total("ceo").total_hits;
    let both = total("+ceo +\"board of directors\"").total_hits;
    let without = total("ceo -\"board of directors\"");
    assert!(both > 0 && both < all, "{both} of {all}");
    assert_eq!(without.total_hits, all - both);
    assert!(without
        .hits
        .iter()
        .all(|hit| !hit.text.to_lowercase().contains("board of directors")));
    let run = env.run(&["query", "ceo -media+ceo", "--json"]);
    assert!(run.json().total_hits > 0);
}

#[test]
fn segment_inputs_that_crashed_now_segment() {
    for (path, bytes) in inputs("segment") {
        let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
        for (source, format) in [
            ("doc.txt", Format::Text),
            ("doc.md", Format::Markdown),
            ("doc.html", Format::Html),
        ] {
            let document = segment::document(&SourceText {
                source: source.to_string(),
                format,
                text: text.clone(),
            });
            assert!(
                document.passages.iter().all(|p| !p.text.trim().is_empty()),
                "{}",
                path.display()
            );
        }
    }
}

/// Query shapes that reach the corners of tantivy's score explanation: phrases, phrase
/// prefixes, slop, fields, ranges, typos and repeated words, each explained for every hit.
#[test]
fn odd_query_shapes_explain_every_hit() {
    let env = TestEnv::new();
    let opened = env.open_index();
    let shapes = [
        "\"market res\"*",
        "\"board of directors\"~2",
        "title:\"product manager\"",
        "\"cto cto\"",
        "cto cto cto",
        "\"ccc title itle\"l [ S",
        "[a TO z]",
        "title:cto section:skills",
        "cybersecurty stakeholdrs",
        "\"market research\" -media +ceo",
        "\"the of\"",
        "\"role of a cto\"",
    ];
    for query in shapes {
        for limit in [1, 10] {
            let request = Request {
                explain: true,
                context: 1,
                ..Request::new(query, limit)
            };
            let results = search::run(&opened, &request).unwrap_or_else(|e| panic!("{query}: {e:#}"));
            for hit in &results.hits {
                let explanation = hit.explanation.as_ref().expect("an explanation");
                assert!(!explanation.terms.is_empty(), "{query}: no terms explained");
            }
        }
    }
}

#[test]
fn html_inputs_that_crashed_now_segment() {
    for (path, bytes) in inputs("html") {
        let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
        let document = segment::document(&SourceText {
            source: "page.html".to_string(),
            format: Format::Html,
            text,
        });
        for passage in &document.passages {
            assert!(!passage.text.trim().is_empty(), "{}", path.display());
            assert!(
                passage.text.len() <= segment::MAX_PASSAGE_BYTES,
                "{}",
                path.display()
            );
        }
    }
}
