//! `rsearch export`: the line formats (pinned by golden files, since OpenSearch and Quickwit
//! cannot run here), stable ids and labels equal to the local index's, whole-or-nothing
//! `--out`, and the engine configurations of `deploy/` checked against what export writes.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{TestEnv, ARTICLE};
use serde::Deserialize;
use serde_json::Value;

/// Mirror of an exported passage, written independently of the code that emits it.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Exported {
    id: String,
    source: String,
    document: String,
    section: Vec<String>,
    ordinal: u64,
    roles: Vec<String>,
    topics: Vec<String>,
    text: String,
    digest: String,
}

/// The fields every exported passage has, in the order export writes them.
const FIELDS: [&str; 9] = [
    "id", "source", "document", "section", "ordinal", "roles", "topics", "text", "digest",
];

fn project_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn parse_lines(text: &str) -> Vec<Exported> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line ({e}): {line}")))
        .collect()
}

/// Compares `actual` with the golden file; `RSEARCH_BLESS=1` rewrites the file instead.
fn assert_golden(name: &str, actual: &str) {
    let path = project_file(&format!("tests/golden/{name}"));
    if std::env::var_os("RSEARCH_BLESS").is_some() {
        fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\nexpected: {}\nactual:   {}\n(RSEARCH_BLESS=1 rewrites it when the change is meant)",
            first + 1,
            expected.lines().nth(first).unwrap_or("<end>"),
            actual.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

#[test]
fn ndjson_export_of_the_article_matches_the_golden_file() {
    let env = TestEnv::new();
    let run = env.run(&["export", "--format", "ndjson"]).expect_code(0);
    assert_golden("article.ndjson", &run.stdout);
    let passages = parse_lines(&run.stdout);
    assert_eq!(passages.len(), 41);
    for line in run.stdout.lines() {
        let object: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(
            object.keys().map(String::as_str).collect::<Vec<_>>().len(),
            FIELDS.len()
        );
    }
}

#[test]
fn opensearch_bulk_export_interleaves_action_lines_with_ids() {
    let env = TestEnv::new();
    let run = env.run(&["export", "--format", "opensearch-bulk"]).expect_code(0);
    assert_golden("article.opensearch-bulk.ndjson", &run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 82);
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).unwrap();
        let passage: Exported = serde_json::from_str(pair[1]).unwrap();
        assert_eq!(action, serde_json::json!({"index": {"_id": passage.id}}));
    }
}

#[test]
fn typesense_export_has_string_ids_and_the_same_passages() {
    let env = TestEnv::new();
    let typesense = env.run(&["export", "--format", "typesense-jsonl"]).expect_code(0);
    let ndjson = env.run(&["export"]).expect_code(0);
    assert_eq!(parse_lines(&typesense.stdout), parse_lines(&ndjson.stdout));
}

#[test]
fn exported_ids_and_labels_are_those_of_the_local_index() {
    let env = TestEnv::new();
    let exported = parse_lines(&env.run(&["export"]).expect_code(0).stdout);
    let local = env.query_json(&["role OR roles OR ceo OR cto OR product OR the", "--limit", "1000"]);
    let by_id: BTreeMap<&str, &common::JsonHit> = local.hits.iter().map(|h| (h.id.as_str(), h)).collect();
    let mut compared = 0;
    for passage in &exported {
        assert_eq!(passage.id, format!("{}:{}", passage.source, passage.ordinal));
        if let Some(hit) = by_id.get(passage.id.as_str()) {
            assert_eq!(
                (&hit.roles, &hit.topics, &hit.section, &hit.text),
                (&passage.roles, &passage.topics, &passage.section, &passage.text),
                "{}",
                passage.id
            );
            compared += 1;
        }
    }
    assert!(compared >= 30, "only {compared} passages compared");
    // Label counts over the whole export equal `rsearch labels`.
    let labels: Value = serde_json::from_str(&env.run(&["labels", "--json"]).expect_code(0).stdout).unwrap();
    for kind in ["roles", "topics"] {
        for entry in labels[kind].as_array().unwrap() {
            let slug = entry["slug"].as_str().unwrap();
            let exported_count = exported
                .iter()
                .filter(|p| {
                    if kind == "roles" { &p.roles } else { &p.topics }
                        .iter()
                        .any(|s| s == slug)
                })
                .count() as u64;
            assert_eq!(
                exported_count,
                entry["passages"].as_u64().unwrap(),
                "{kind} {slug}"
            );
        }
    }
}

#[test]
fn ids_and_digests_are_stable_and_follow_the_text() {
    let env = TestEnv::new();
    let first = parse_lines(&env.run(&["export"]).expect_code(0).stdout);
    let again = parse_lines(&env.run(&["export"]).expect_code(0).stdout);
    assert_eq!(first, again);
    let path = env.corpus().join(ARTICLE);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replacen("cybersecurity", "network security", 1)).unwrap();
    let edited = parse_lines(&env.run(&["export"]).expect_code(0).stdout);
    let changed: Vec<&str> = first
        .iter()
        .zip(&edited)
        .filter(|(a, b)| a.digest != b.digest)
        .map(|(a, _)| a.id.as_str())
        .collect();
    assert_eq!(changed, vec![format!("{ARTICLE}:25")]);
    assert_eq!(
        first.iter().map(|p| &p.id).collect::<Vec<_>>(),
        edited.iter().map(|p| &p.id).collect::<Vec<_>>()
    );
}

#[test]
fn out_file_is_written_whole_with_a_summary_line() {
    let env = TestEnv::new();
    let run = env.run(&["export", "--out", "passages.ndjson"]).expect_code(0);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("exported 41 passages of 1 file"),
        "{}",
        run.stdout
    );
    let written = fs::read_to_string(env.root().join("passages.ndjson")).unwrap();
    assert_eq!(parse_lines(&written).len(), 41);
    let leftovers: Vec<_> = fs::read_dir(env.root())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn out_file_in_a_missing_folder_is_one_error_line() {
    let env = TestEnv::new();
    let run = env
        .run(&["export", "--out", "nowhere/passages.ndjson"])
        .expect_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("rsearch: creating nowhere/passages.ndjson"),
        "{}",
        run.stderr
    );
    assert!(!env.root().join("nowhere").exists());
}

#[test]
fn missing_corpus_is_one_error_line() {
    let env = TestEnv::new();
    let run = env.run(&["export", "--corpus", "nowhere"]).expect_code(2);
    assert!(
        run.stderr
            .starts_with("rsearch: corpus folder nowhere cannot be read"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

fn read_json(path: &str) -> Value {
    let text = fs::read_to_string(project_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid JSON: {e}"))
}

#[test]
fn opensearch_template_maps_every_exported_field() {
    let template = read_json("deploy/opensearch/index-template.json");
    assert!(template["index_patterns"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    let mappings = &template["template"]["mappings"];
    assert_eq!(
        mappings["dynamic"], "strict",
        "an unmapped field must be refused, not guessed"
    );
    let properties = mappings["properties"].as_object().unwrap();
    let mut mapped: Vec<&str> = properties.keys().map(String::as_str).collect();
    mapped.sort_unstable();
    let mut fields = FIELDS.to_vec();
    fields.sort_unstable();
    assert_eq!(mapped, fields);
    assert_eq!(properties["text"]["type"], "text");
    assert_eq!(properties["text"]["analyzer"], "english");
    assert_eq!(properties["section"]["type"], "text");
    assert_eq!(properties["section"]["fields"]["keyword"]["type"], "keyword");
    for keyword in ["id", "source", "roles", "topics"] {
        assert_eq!(properties[keyword]["type"], "keyword", "{keyword}");
    }
    assert_eq!(properties["ordinal"]["type"], "long");
}

#[test]
fn quickwit_config_maps_every_exported_field() {
    let config = read_json("deploy/quickwit/index-config.json");
    assert_eq!(config["index_id"], "rsearch");
    assert_eq!(config["doc_mapping"]["mode"], "strict");
    let mappings = config["doc_mapping"]["field_mappings"].as_array().unwrap();
    let field = |name: &str| {
        mappings
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no mapping for {name}"))
    };
    assert_eq!(mappings.len(), FIELDS.len());
    for name in FIELDS {
        field(name);
    }
    for label in ["roles", "topics"] {
        assert_eq!(field(label)["type"], "array<text>");
        assert_eq!(field(label)["tokenizer"], "raw");
        assert_eq!(field(label)["fast"], true);
    }
    assert_eq!(field("section")["type"], "array<text>");
    assert_eq!(field("text")["record"], "position");
    assert_eq!(field("ordinal")["type"], "u64");
    let defaults: Vec<&str> = config["search_settings"]["default_search_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(defaults, ["text", "section", "document"]);
}

#[test]
fn typesense_schema_declares_every_exported_field() {
    let schema = read_json("deploy/typesense/schema.json");
    let fields = schema["fields"].as_array().unwrap();
    let mut declared: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    declared.push("id"); // Typesense's own id field is never declared.
    declared.sort_unstable();
    let mut expected = FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(declared, expected);
    let field = |name: &str| fields.iter().find(|f| f["name"] == name).unwrap();
    for label in ["roles", "topics"] {
        assert_eq!(field(label)["type"], "string[]");
        assert_eq!(field(label)["facet"], true);
    }
    assert_eq!(field("ordinal")["type"], "int64");
}
