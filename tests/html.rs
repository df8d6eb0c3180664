//! HTML input: a web page of the bundled article (headings as `h2`/`h3`, captions as
//! `figcaption` and link-only paragraphs, with navigation, header, footer and scripts around
//! it) is cut into the same passages, sections and labels as the `.txt`; `.htm` files are read
//! and searched like any other; `sections --explain` says why each heading is one.

mod common;

use std::fs;
use std::path::Path;

use common::{JsonOutline, TestEnv};
use serde_json::Value;

const ARTICLE_HTML: &str = "tests/fixtures/html/product-manager-vs-ceo-vs-cto.html";

/// A corpus folder holding the HTML rendering of the article and the corpus's taxonomy.
fn html_corpus(env: &TestEnv) -> String {
    let dir = env.root().join("html-corpus");
    fs::create_dir_all(&dir).expect("create corpus");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::copy(
        root.join(ARTICLE_HTML),
        dir.join("product-manager-vs-ceo-vs-cto.html"),
    )
    .expect("copy page");
    fs::copy(env.corpus().join("taxonomy.toml"), dir.join("taxonomy.toml")).expect("copy taxonomy");
    dir.display().to_string()
}

/// An exported passage: ordinal, section, roles, topics, text.
type Exported = (u64, Vec<String>, Vec<String>, Vec<String>, String);

/// Every exported passage of the corpus, in order.
fn passages(env: &TestEnv, corpus: &str) -> Vec<Exported> {
    let run = env
        .run(&["export", "--corpus", corpus, "--format", "ndjson"])
        .expect_code(0);
    run.stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("JSON line");
            let strings = |key: &str| -> Vec<String> {
                v[key]
                    .as_array()
                    .expect("array")
                    .iter()
                    .map(|s| s.as_str().expect("string").to_string())
                    .collect()
            };
            (
                v["ordinal"].as_u64().expect("ordinal"),
                strings("section"),
                strings("roles"),
                strings("topics"),
                v["text"].as_str().expect("text").to_string(),
            )
        })
        .collect()
}

fn outline(env: &TestEnv, corpus: &str, extra: &[&str]) -> Vec<JsonOutline> {
    let mut args = vec!["sections", "--corpus", corpus, "--json"];
    args.extend_from_slice(extra);
    let run = env.run(&args).expect_code(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{}", run.stdout))
}

#[test]
fn html_page_of_the_article_gives_the_passages_sections_and_labels_of_the_text() {
    let env = TestEnv::new();
    let html = html_corpus(&env);
    let text = env.corpus().display().to_string();

    let from_text = passages(&env, &text);
    let from_html = passages(&env, &html);
    assert_eq!(from_text.len(), 41);
    assert_eq!(from_html.len(), from_text.len());
    for (t, h) in from_text.iter().zip(&from_html) {
        assert_eq!(h, t, "passage {} differs", t.0);
    }

    let text_outline = outline(&env, &text, &[]);
    let html_outline = outline(&env, &html, &[]);
    assert_eq!(html_outline[0].title, text_outline[0].title);
    assert_eq!(html_outline[0].source, "product-manager-vs-ceo-vs-cto.html");
    let shape = |o: &JsonOutline| -> Vec<(Vec<String>, usize, Vec<String>)> {
        o.sections
            .iter()
            .map(|s| (s.path.clone(), s.passages, s.captions.clone()))
            .collect()
    };
    assert_eq!(shape(&html_outline[0]), shape(&text_outline[0]));
    let reasons: Vec<&Vec<String>> = html_outline[0]
        .sections
        .iter()
        .flat_map(|s| &s.caption_reasons)
        .collect();
    assert_eq!(
        reasons,
        [
            &vec!["HTML: a block that is only link text".to_string()],
            &vec!["HTML: a figure caption".to_string()],
            &vec!["HTML: a figure caption".to_string()],
        ]
    );
}

#[test]
fn page_furniture_never_reaches_the_index() {
    let env = TestEnv::new();
    let html = html_corpus(&env);
    let all: String = passages(&env, &html)
        .into_iter()
        .map(|p| p.4)
        .collect::<Vec<_>>()
        .join("\n");
    for noise in [
        "Related posts",
        "All rights reserved",
        "dataLayer",
        "cookies",
        "About us",
        "font-family",
    ] {
        assert!(!all.contains(noise), "{noise:?} got into a passage");
    }
}

#[test]
fn htm_files_are_read_and_searched_with_their_sections() {
    let env = TestEnv::new();
    fs::create_dir_all(env.corpus().join("pages")).expect("folder");
    fs::write(
        env.corpus().join("pages/axolotl.htm"),
        "<html><head><title>Axolotl care</title></head><body><nav><a href=/>Home</a></nav>\
         <h1>Axolotl care</h1><h2>Water</h2><p>An axolotl needs cool, clean water &amp; a quiet tank.</p>\
         <h2>Food</h2><ul><li>Bloodworms twice a week</li><li>Pellets made for axolotls</li></ul></body></html>",
    )
    .expect("write page");
    let results = env.query_json(&["axolotl", "--limit", "10"]);
    let hits: Vec<_> = results
        .hits
        .iter()
        .filter(|h| h.source == "pages/axolotl.htm")
        .collect();
    // The title matches too, so every passage of the page is a hit; the nav link is none.
    assert_eq!(hits.len(), 3, "{:?}", results.hits);
    assert!(hits
        .iter()
        .all(|h| h.document == "Axolotl care" && !h.text.contains("Home")));
    let water = hits
        .iter()
        .find(|h| h.section == ["Water"])
        .expect("water passage");
    assert_eq!(water.text, "An axolotl needs cool, clean water & a quiet tank.");
    assert!(hits
        .iter()
        .any(|h| h.section == ["Food"] && h.text == "Pellets made for axolotls"));
}

#[test]
fn sections_explain_gives_each_heading_its_reasons() {
    let env = TestEnv::new();
    let text = env.corpus().display().to_string();
    let plain = outline(&env, &text, &[]);
    assert!(plain[0].sections.iter().all(|s| s.heading_reasons.is_none()));

    let explained = outline(&env, &text, &["--explain"]);
    let sections = &explained[0].sections;
    let reasons_of = |heading: &str| -> Vec<String> {
        sections
            .iter()
            .find(|s| s.path.last().map(String::as_str) == Some(heading))
            .and_then(|s| s.heading_reasons.clone())
            .unwrap_or_else(|| panic!("no reasons for {heading}"))
    };
    let parent = reasons_of("Understanding the Core Responsibilities");
    assert!(
        parent
            .iter()
            .any(|r| r.contains("followed directly by a heading: its parent")),
        "{parent:?}"
    );
    let lone = reasons_of("Role of a CEO");
    assert!(
        lone.iter()
            .any(|r| r.starts_with("follows its siblings' pattern -2")),
        "{lone:?}"
    );
    assert!(lone.iter().any(|r| r.contains("caption evidence")), "{lone:?}");
    for section in sections.iter().filter(|s| !s.path.is_empty()) {
        assert!(
            section.heading_reasons.as_ref().is_some_and(|r| !r.is_empty()),
            "{:?} has no reasons",
            section.path
        );
    }

    let human = env.run(&["sections", "--explain"]).expect_code(0).stdout;
    assert!(human.contains("heading, why: a short line (4 words)"), "{human}");
    let html = html_corpus(&env);
    let human = env
        .run(&["sections", "--explain", "--corpus", &html])
        .expect_code(0)
        .stdout;
    assert!(human.contains("heading, why: an HTML <h3> heading"), "{human}");
}

#[test]
fn a_page_of_another_article_reads_as_a_reader_sees_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html");
    let page = fs::read_to_string(root.join("head-chef-sous-chef-line-cook.html")).expect("page");
    let taxonomy_text =
        fs::read_to_string(root.join("head-chef-sous-chef-line-cook.toml")).expect("taxonomy");
    let taxonomy = rsearch::label::Taxonomy::parse(&taxonomy_text).expect("taxonomy parses");
    let doc = rsearch::segment::document_with(
        &rsearch::model::SourceText {
            source: "chef.html".into(),
            format: rsearch::model::Format::Html,
            text: page,
        },
        &rsearch::prepare::hints(&taxonomy),
    );
    // The h1 sits in a header that is dropped; the <title> adds the site's name to it.
    assert_eq!(
        doc.title,
        "Head Chef vs Sous Chef vs Line Cook: Who Runs the Kitchen?"
    );
    let paths: Vec<String> = doc.sections.iter().map(|s| s.path.join(" > ")).collect();
    assert_eq!(
        paths,
        [
            "",
            "The Three Roles",
            "The Three Roles > Head Chef",
            "The Three Roles > Sous Chef",
            "The Three Roles > Line Cook",
            "Pay and Hours",
            "Which Role Should You Aim For?"
        ]
    );
    let captions: Vec<&str> = doc
        .sections
        .iter()
        .flat_map(|s| &s.captions)
        .map(String::as_str)
        .collect();
    assert_eq!(
        captions,
        [
            "A head chef checking plates at the pass",
            "The pass is where every plate is checked.",
            "Read more: how much does a sous chef earn?",
            "Typical yearly pay",
        ]
    );
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    // The table of contents (its "Contents" line and its links) and the share bar are furniture
    // by their class names.
    assert_eq!(texts.len(), 15, "{texts:#?}");
    assert!(texts.contains(&"Sous chef | $50,000 | 50"));
    assert!(texts.contains(&"Start on the line, learn every station, then move up. Few skip a step."));
    assert!(texts.contains(
        &"The sous chef runs the kitchen when the head chef is away and trains new cooks. Sous chefs also plan the prep lists & check deliveries each morning."
    ));
    for noise in [
        "Log in",
        "Home",
        "Contents",
        "Share on X",
        "By A. Writer",
        "Advertisement",
        "Popular",
        "Write a comment",
        "2025",
        "console",
    ] {
        assert!(
            texts.iter().all(|t| !t.contains(noise)),
            "{noise:?} got into a passage"
        );
    }
    let line_cook = &doc.passages[5];
    assert_eq!(line_cook.section, ["The Three Roles", "Line Cook"]);
    assert_eq!(
        taxonomy.label(&line_cook.section, &line_cook.text).roles,
        ["line-cook"]
    );
}

#[test]
fn a_page_nested_twenty_thousand_deep_is_read_and_its_text_indexed() {
    // Parsing took time growing with the square of the depth (10,000 nested `div`s: 21 s in a
    // debug build); elements deeper than the bound are now flattened, their text kept. The
    // time limit only stops a test that would otherwise run for minutes.
    let env = TestEnv::new();
    let depth = 20_000;
    let page = format!(
        "<title>Deep page</title>{}<h2>Quokkas</h2><p>The quokka lives on Rottnest Island.</p>{}",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    fs::write(env.corpus().join("deep.html"), page).expect("write page");
    let run = common::finish_within(env.spawn(&["index"]), std::time::Duration::from_secs(120))
        .expect("indexing ended")
        .expect_code(0);
    assert!(run.stdout.starts_with("indexed 2 files"), "{}", run.stdout);
    let hits = env.query_json(&["rottnest island"]);
    assert_eq!(hits.hits[0].source, "deep.html");
    assert!(
        hits.hits[0].text.contains("The quokka lives on Rottnest Island."),
        "{}",
        hits.hits[0].text
    );
}
