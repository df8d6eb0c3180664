//! End-to-end behaviour of incremental indexing: `rsearch index` re-indexes only the files that
//! were added, changed or removed, and answers exactly as a full rebuild would.

mod common;

use std::collections::BTreeMap;
use std::fs;

use common::{JsonResults, TestEnv, ARTICLE};

const AIRSHIPS: &str =
    "Airships\n\nHistory\n\nThe zeppelin was a rigid airship used for passenger travel.\n\n\
The CEO of the airline met investors to discuss market research on zeppelin routes.\n";
const LIGHTHOUSES: &str =
    "Lighthouses\n\nKeepers\n\nA lighthouse keeper tended the lamp through the night.\n\n\
Lighthouse keepers also kept records of ships and the weather for the port authority.\n";

/// Queries whose hits are compared between an update and a full rebuild.
const QUERIES: &[&str] = &[
    "cybersecurity",
    "market research",
    "zeppelin",
    "lighthouse keeper",
    "investors",
    "\"board of directors\"",
    "strategy",
];

/// A corpus of three files, indexed once.
fn indexed_env() -> TestEnv {
    let env = TestEnv::new();
    fs::write(env.corpus().join("airships.txt"), AIRSHIPS).expect("write");
    fs::create_dir(env.corpus().join("coast")).expect("mkdir");
    fs::write(env.corpus().join("coast/lighthouses.txt"), LIGHTHOUSES).expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(run.stdout.starts_with("indexed 3 files"), "{}", run.stdout);
    env
}

/// What a query answered: the number of hits, the facets, and every hit's content by id.
struct Answer {
    total_hits: usize,
    facets: String,
    hits: BTreeMap<String, (f32, String)>,
}

fn answer(results: &JsonResults) -> Answer {
    let hits = results
        .hits
        .iter()
        .map(|h| {
            let shown = format!(
                "{} {:?} {:?} {:?} {:?} {:?} {:?}",
                h.document, h.section, h.roles, h.topics, h.text, h.snippet, h.highlights
            );
            (h.id.clone(), (h.score, shown))
        })
        .collect();
    Answer {
        total_hits: results.total_hits,
        facets: format!("{:?}", results.facets),
        hits,
    }
}

fn search_all(env: &TestEnv) -> Vec<Answer> {
    QUERIES
        .iter()
        .map(|query| {
            let run = env.run(&["query", query, "--json", "--limit", "100", "--no-refresh"]);
            assert!(run.code == 0 || run.code == 1, "{query}: {}", run.stderr);
            answer(&run.json())
        })
        .collect()
}

/// The updated index finds the same passages as a full rebuild of the same corpus, with the
/// same content, labels and snippets. Scores agree to within 0.5%: tantivy estimates a merged
/// segment's average passage length from rounded lengths once passages were deleted.
fn assert_same_as_full_rebuild(env: &TestEnv) {
    let updated = search_all(env);
    let run = env.run(&["index", "--full"]).expect_code(0);
    assert!(run.stdout.starts_with("indexed "), "{}", run.stdout);
    let rebuilt = search_all(env);
    for ((query, updated), rebuilt) in QUERIES.iter().zip(&updated).zip(&rebuilt) {
        assert_eq!(updated.total_hits, rebuilt.total_hits, "query {query:?}");
        assert_eq!(updated.facets, rebuilt.facets, "query {query:?}");
        let ids = |a: &Answer| a.hits.keys().cloned().collect::<Vec<_>>();
        assert_eq!(ids(updated), ids(rebuilt), "query {query:?}");
        for (id, (score, shown)) in &updated.hits {
            let (rebuilt_score, rebuilt_shown) = &rebuilt.hits[id];
            assert_eq!(shown, rebuilt_shown, "query {query:?}, hit {id}");
            assert!(
                (score - rebuilt_score).abs() <= 0.005 * rebuilt_score.abs(),
                "query {query:?}, hit {id}: score {score} after the update, {rebuilt_score} rebuilt"
            );
        }
    }
}

#[test]
fn changed_file_is_reindexed_alone_and_matches_a_full_rebuild() {
    let env = indexed_env();
    let path = env.corpus().join("airships.txt");
    fs::write(
        &path,
        format!("{AIRSHIPS}\nLater the zeppelin gave way to aircraft, and a quokka was seen.\n"),
    )
    .expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(
        run.stdout.contains("0 added, 1 changed, 0 removed"),
        "{}",
        run.stdout
    );
    let results = env.query_json(&["quokka", "--no-refresh"]);
    assert_eq!(results.total_hits, 1);
    assert_eq!(results.hits[0].source, "airships.txt");
    // The passages of the old version are gone, not duplicated.
    let zeppelin = env.query_json(&["zeppelin", "--no-refresh", "--limit", "100"]);
    let ids: Vec<&str> = zeppelin.hits.iter().map(|h| h.id.as_str()).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "{ids:?}");
    assert_same_as_full_rebuild(&env);
}

#[test]
fn added_file_is_indexed_alone_and_matches_a_full_rebuild() {
    let env = indexed_env();
    fs::write(
        env.corpus().join("coast/narwhals.md"),
        "# Narwhals\n\n## Tusks\n\nThe narwhal's tusk is a long tooth; a CTO once studied it.\n",
    )
    .expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(
        run.stdout.contains("1 added, 0 changed, 0 removed") && run.stdout.contains("now 4 files"),
        "{}",
        run.stdout
    );
    let results = env.query_json(&["narwhal", "--no-refresh"]);
    assert_eq!(results.hits[0].source, "coast/narwhals.md");
    assert_eq!(results.hits[0].section, ["Tusks"]);
    assert_same_as_full_rebuild(&env);
}

#[test]
fn removed_file_loses_its_passages_and_matches_a_full_rebuild() {
    let env = indexed_env();
    fs::remove_file(env.corpus().join("coast/lighthouses.txt")).expect("remove");
    let run = env.run(&["index"]).expect_code(0);
    assert!(
        run.stdout.contains("0 added, 0 changed, 1 removed") && run.stdout.contains("now 2 files"),
        "{}",
        run.stdout
    );
    env.run(&["query", "lighthouse", "--no-refresh"]).expect_code(1);
    assert_same_as_full_rebuild(&env);
}

#[test]
fn several_changes_at_once_match_a_full_rebuild() {
    let env = indexed_env();
    fs::remove_file(env.corpus().join("airships.txt")).expect("remove");
    fs::write(
        env.corpus().join("coast/lighthouses.txt"),
        format!("{LIGHTHOUSES}\nThe CEO of the port met the board of directors.\n"),
    )
    .expect("write");
    fs::write(
        env.corpus().join("zeppelins.txt"),
        "Zeppelins\n\nThe zeppelin returned, renamed.\n",
    )
    .expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(
        run.stdout.contains("1 added, 1 changed, 1 removed"),
        "{}",
        run.stdout
    );
    assert_same_as_full_rebuild(&env);
}

#[test]
fn unchanged_corpus_is_left_as_it_is() {
    let env = indexed_env();
    let run = env.run(&["index"]).expect_code(0);
    assert!(
        run.stdout.starts_with("index is up to date: 3 files"),
        "{}",
        run.stdout
    );
}

#[test]
fn full_flag_rebuilds_everything() {
    let env = indexed_env();
    let run = env.run(&["index", "--full"]).expect_code(0);
    assert!(run.stdout.starts_with("indexed 3 files"), "{}", run.stdout);
}

#[test]
fn query_updates_the_index_after_a_file_is_added_and_says_so() {
    let env = indexed_env();
    fs::write(
        env.corpus().join("coast/seals.txt"),
        "Seals\n\nA grey seal basked on the rocks below the lighthouse.\n",
    )
    .expect("write");
    let run = env.run(&["query", "seal", "--json"]).expect_code(0);
    assert!(
        run.stderr.contains("corpus changed") && run.stderr.contains("updating the index"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json().hits[0].source, "coast/seals.txt");
    let again = env.run(&["query", "seal"]).expect_code(0);
    assert!(again.stderr.is_empty(), "{}", again.stderr);
}

#[test]
fn taxonomy_change_rebuilds_every_passage() {
    let env = indexed_env();
    let path = env.corpus().join("taxonomy.toml");
    let taxonomy = fs::read_to_string(&path)
        .expect("read")
        .replace("slug = \"ceo\"", "slug = \"chief\"");
    fs::write(&path, taxonomy).expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(run.stdout.starts_with("indexed 3 files"), "{}", run.stdout);
    let results = env.query_json(&["zeppelin", "--no-refresh", "--limit", "100"]);
    let market = results
        .hits
        .iter()
        .find(|h| h.text.contains("market research"))
        .expect("hit");
    assert_eq!(market.roles, ["chief"]);
}

#[test]
fn a_file_edited_in_place_is_seen_by_the_next_query_of_a_small_corpus() {
    let env = indexed_env();
    let path = env.corpus().join(ARTICLE);
    let mut text = fs::read_to_string(&path).expect("read");
    text.push_str("\n\nWombats are mentioned only in this new closing paragraph.\n");
    fs::write(&path, text).expect("write");
    let run = env.run(&["query", "wombats", "--json"]).expect_code(0);
    assert!(run.stderr.contains("updating the index"), "{}", run.stderr);
    assert_eq!(run.json().total_hits, 1);
}

#[test]
fn a_query_sees_a_file_added_in_a_deep_folder_then_its_folder_renamed() {
    let env = indexed_env();
    let deep = env.corpus().join("coast/north/far");
    fs::create_dir_all(&deep).expect("mkdir");
    env.run(&["index"]).expect_code(0);
    fs::write(
        deep.join("puffins.txt"),
        "Puffins\n\nA puffin nested on the far northern cliffs.\n",
    )
    .expect("write");
    let run = env.run(&["query", "puffin", "--json"]).expect_code(0);
    assert!(run.stderr.contains("updating the index"), "{}", run.stderr);
    assert_eq!(run.json().hits[0].source, "coast/north/far/puffins.txt");
    fs::rename(env.corpus().join("coast/north"), env.corpus().join("coast/south")).expect("mv");
    let run = env.run(&["query", "puffin", "--json"]).expect_code(0);
    assert!(run.stderr.contains("updating the index"), "{}", run.stderr);
    let results = run.json();
    assert_eq!(results.total_hits, 1);
    assert_eq!(results.hits[0].source, "coast/south/far/puffins.txt");
    let again = env.run(&["query", "puffin"]).expect_code(0);
    assert!(again.stderr.is_empty(), "{}", again.stderr);
}

#[test]
fn a_query_over_hundreds_of_folders_sees_a_file_added_in_any_of_them() {
    // Enough folders that the watch is checked in pieces shared by two threads, the search's
    // taking its share once it has its answer.
    let env = indexed_env();
    for i in 0..240 {
        fs::create_dir_all(env.corpus().join(format!("region-{i:03}/shelf-of-records"))).expect("mkdir");
    }
    env.run(&["index"]).expect_code(0);
    let first = env.run(&["query", "lighthouse", "--json"]).expect_code(0);
    assert!(first.stderr.is_empty(), "{}", first.stderr);
    let again = env.run(&["query", "lighthouse", "--json"]).expect_code(0);
    assert_eq!(again.stdout, first.stdout);
    assert!(again.stderr.is_empty(), "{}", again.stderr);
    for (i, folder) in [
        "region-239/shelf-of-records",
        "region-120",
        "region-000/shelf-of-records",
    ]
    .into_iter()
    .enumerate()
    {
        let word = ["puffin", "gannet", "kittiwake"][i];
        fs::write(
            env.corpus().join(folder).join(format!("{word}.txt")),
            format!("Birds\n\nA {word} nested on the far northern cliffs.\n"),
        )
        .expect("write");
        let run = env.run(&["query", word, "--json"]).expect_code(0);
        assert!(
            run.stderr.contains("updating the index"),
            "{folder}: {}",
            run.stderr
        );
        assert_eq!(run.json().hits[0].source, format!("{folder}/{word}.txt"));
        let quiet = env.run(&["query", word, "--json"]).expect_code(0);
        assert!(quiet.stderr.is_empty(), "{folder}: {}", quiet.stderr);
        assert_eq!(quiet.stdout, run.stdout, "{folder}");
    }
}
