//! End-to-end behaviour of `rsearch index` and of keeping the index fresh.

mod common;

use std::fs;

use common::{TestEnv, ARTICLE};

#[test]
fn index_prints_a_one_line_summary() {
    let env = TestEnv::new();
    let run = env.run(&["index"]).expect_code(0);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("1 file")
            && run.stdout.contains("passages")
            && run.stdout.contains("14 sections"),
        "{}",
        run.stdout
    );
}

#[test]
fn index_is_rebuilt_when_the_corpus_changes() {
    let env = TestEnv::new();
    env.run(&["query", "zeppelin"]).expect_code(1);
    let added = env.corpus().join("airships.txt");
    fs::write(
        &added,
        "Airships\n\nThe zeppelin was a rigid airship used for passenger travel.\n",
    )
    .expect("write");
    let run = env.run(&["query", "zeppelin", "--json"]).expect_code(0);
    assert!(run.stderr.contains("corpus changed"), "{}", run.stderr);
    assert_eq!(run.json().hits[0].source, "airships.txt");
    fs::remove_file(&added).expect("remove");
    env.run(&["query", "zeppelin"]).expect_code(1);
}

#[test]
fn edited_file_is_picked_up_on_the_next_query() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let path = env.corpus().join(ARTICLE);
    let mut text = fs::read_to_string(&path).expect("read");
    text.push_str("\n\nQuokkas are mentioned only in this new closing paragraph.\n");
    fs::write(&path, text).expect("write");
    let results = env.query_json(&["quokkas"]);
    assert_eq!(results.total_hits, 1);
}

#[test]
fn taxonomy_change_relabels_passages() {
    let env = TestEnv::new();
    let before = env.query_json(&["cybersecurity"]);
    assert_eq!(before.hits[0].roles, ["cto"]);
    let path = env.corpus().join("taxonomy.toml");
    let taxonomy = fs::read_to_string(&path)
        .expect("read")
        .replace("slug = \"cto\"", "slug = \"tech-lead\"");
    fs::write(&path, taxonomy).expect("write");
    let after = env.query_json(&["cybersecurity"]);
    assert_eq!(after.hits[0].roles, ["tech-lead"]);
}

#[test]
fn no_refresh_searches_the_index_as_built() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    fs::write(
        env.corpus().join("new.txt"),
        "New\n\nA paragraph about narwhals.\n",
    )
    .expect("write");
    env.run(&["query", "narwhals", "--no-refresh"]).expect_code(1);
    env.run(&["query", "narwhals"]).expect_code(0);
}

#[test]
fn no_refresh_without_an_index_is_an_error() {
    let env = TestEnv::new();
    let run = env.run(&["query", "cto", "--no-refresh"]).expect_code(2);
    assert!(
        run.stderr.contains("no index") && run.stderr.contains("rsearch index"),
        "{}",
        run.stderr
    );
}

#[test]
fn corpus_without_taxonomy_still_indexes_and_searches_without_labels() {
    let env = TestEnv::new();
    fs::remove_file(env.corpus().join("taxonomy.toml")).expect("remove");
    let results = env.query_json(&["cybersecurity"]);
    assert!(results.hits[0].roles.is_empty() && results.hits[0].topics.is_empty());
    let run = env
        .run(&["query", "cybersecurity", "--role", "cto"])
        .expect_code(2);
    assert!(run.stderr.contains("no taxonomy"), "{}", run.stderr);
}

#[test]
fn index_refuses_a_folder_holding_other_files() {
    let env = TestEnv::new();
    let run = env.run(&["index", "--index", "corpus"]).expect_code(2);
    assert!(run.stderr.contains("holds other files"), "{}", run.stderr);
}

#[test]
fn markdown_and_nested_folders_are_indexed_in_a_stable_order() {
    let env = TestEnv::new();
    let nested = env.corpus().join("notes/deep");
    fs::create_dir_all(&nested).expect("mkdir");
    fs::write(
        nested.join("b.md"),
        "# Platypus notes\n\n## Habitat\n\nThe platypus lives in rivers.\n",
    )
    .expect("write");
    fs::write(
        env.corpus().join("notes/a.md"),
        "# More\n\nAnother platypus fact.\n",
    )
    .expect("write");
    let results = env.query_json(&["platypus"]);
    let sources: Vec<&str> = results.hits.iter().map(|h| h.source.as_str()).collect();
    assert!(
        sources.contains(&"notes/deep/b.md") && sources.contains(&"notes/a.md"),
        "{sources:?}"
    );
    let habitat = results
        .hits
        .iter()
        .find(|h| h.source == "notes/deep/b.md")
        .expect("hit");
    assert_eq!(habitat.section, ["Habitat"]);
    assert_eq!(habitat.document, "Platypus notes");
}

#[test]
fn usage_errors_are_one_line_with_exit_2() {
    let env = TestEnv::new();
    for args in [
        vec!["query"],
        vec!["frobnicate"],
        vec!["query", "x", "--limit", "many"],
    ] {
        let run = env.run(&args).expect_code(2);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
    }
}
