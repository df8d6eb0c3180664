//! Synonyms of the taxonomy: words readers type that the article does not use, expanded at
//! query time to lower-weighted alternatives.

mod common;

use common::TestEnv;

/// The real corpus with `entries` appended to its taxonomy.
fn env_with(entries: &str) -> TestEnv {
    let env = TestEnv::new();
    let path = env.corpus().join("taxonomy.toml");
    let mut text = std::fs::read_to_string(&path).expect("taxonomy");
    text.push('\n');
    text.push_str(entries);
    std::fs::write(&path, text).expect("write taxonomy");
    env
}

#[test]
fn a_word_the_article_lacks_finds_passages_with_its_synonym_highlighted() {
    let env = env_with("[[synonym]]\nword = \"funding\"\nfinds = [\"investors\"]\n");
    let results = env.query_json(&["funding"]);
    let found: Vec<u64> = results.hits.iter().map(|h| h.ordinal).collect();
    assert_eq!(found, [22, 8]);
    assert_eq!(results.hits[0].highlighted(), ["investors"]);
    assert_eq!(results.did_you_mean, None);
}

#[test]
fn the_word_typed_outranks_its_synonym() {
    let env = env_with("[[synonym]]\nsame = [\"cybersecurity\", \"infrastructure\"]\n");
    let results = env.query_json(&["cybersecurity", "--limit", "20"]);
    let with_word: Vec<bool> = results
        .hits
        .iter()
        .map(|h| h.text.to_lowercase().contains("cybersecurity"))
        .collect();
    assert!(with_word.contains(&false), "the synonym found nothing more");
    let first_without = with_word.iter().position(|w| !w).unwrap_or(with_word.len());
    assert!(
        with_word[first_without..].iter().all(|w| !w),
        "a passage with only the synonym ranks above one with the word: {with_word:?}"
    );
}

#[test]
fn exact_and_quoted_phrases_turn_synonyms_off() {
    let env = env_with("[[synonym]]\nword = \"funding\"\nfinds = [\"investors\"]\n");
    env.run(&["query", "funding", "--exact"]).expect_code(1);
    env.run(&["query", "\"funding\""]).expect_code(1);
}

#[test]
fn a_multi_word_synonym_is_searched_as_a_phrase() {
    let env = env_with("[[synonym]]\nword = \"intruders\"\nfinds = [\"data protection\"]\n");
    let results = env.query_json(&["intruders", "--limit", "50"]);
    assert_eq!(results.total_hits, 1, "{:?}", results.hits);
    assert_eq!(results.hits[0].ordinal, 25);
    let highlighted = results.hits[0].highlighted();
    assert!(
        highlighted.starts_with(&["data".to_string(), "protection".to_string()]),
        "{highlighted:?}"
    );
}

#[test]
fn typed_words_matching_a_multi_word_entry_expand_together() {
    let env = env_with("[[synonym]]\nword = \"news outlets\"\nfinds = [\"media\"]\n");
    let results = env.query_json(&["news outlets"]);
    assert_eq!(results.hits[0].ordinal, 8);
}

#[test]
fn explain_names_the_word_a_synonym_stands_for() {
    let env = env_with("[[synonym]]\nword = \"funding\"\nfinds = [\"investors\"]\n");
    let results = env.query_json(&["funding", "--explain"]);
    let terms = &results.hits[0].explanation.as_ref().expect("explanation").terms;
    assert!(
        terms
            .iter()
            .any(|t| t.term == "investor" && t.synonym.as_deref() == Some("fund")),
        "{terms:?}"
    );
    let plain = env
        .run(&["query", "funding", "--explain", "--limit", "1"])
        .expect_code(0);
    assert!(plain.stdout.contains("(synonym of fund)"), "{}", plain.stdout);
}

#[test]
fn editing_synonyms_updates_the_index_in_place_without_a_rebuild() {
    let env = env_with("");
    env.run(&["index"]).expect_code(0);
    let generation = || std::fs::read_to_string(env.index().join("CURRENT")).expect("CURRENT");
    let before = generation();
    let path = env.corpus().join("taxonomy.toml");
    let mut text = std::fs::read_to_string(&path).expect("taxonomy");
    text.push_str("\n[[synonym]]\nword = \"rivals\"\nfinds = [\"competitors\"]\n");
    std::fs::write(&path, text).expect("write taxonomy");
    let run = env.run(&["query", "rivals", "--json"]).expect_code(0);
    assert!(run.stderr.contains("updating the index"), "{}", run.stderr);
    assert!(run.json().hits[0].text.contains("competitor"), "{}", run.stdout);
    assert_eq!(generation(), before, "the index was built anew");
    let again = env.run(&["index"]).expect_code(0);
    assert!(again.stdout.contains("index is up to date"), "{}", again.stdout);
}
