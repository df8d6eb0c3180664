//! `push`, `query --remote` and `serve --remote` against a real Typesense: one node started
//! per test on free loopback ports, and a three-node cluster that loses its leader. Skipped with a note when the
//! server is not installed, except under CI (see `support/typesense.rs`).

mod common;
#[path = "support/typesense.rs"]
mod typesense;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use common::server::Server;
use common::{Run, TestEnv, ARTICLE};
use serde_json::Value;
use typesense::{Cluster, API_KEY};

const COLLECTION: &str = "articles";

/// Runs rsearch with the test server's API key in the environment.
fn run(env: &TestEnv, args: &[&str]) -> Run {
    env.run_with_env(args, &[("TYPESENSE_API_KEY", API_KEY)])
}

fn push(env: &TestEnv, server: &Cluster) -> Run {
    run(
        env,
        &["push", "--to", &server.remote(), "--collection", COLLECTION],
    )
    .expect_code(0)
}

/// Every document of the collection, by id, as the engine stores it.
fn documents(address: &str) -> BTreeMap<String, Value> {
    let (status, body) = export_of(address);
    assert_eq!(status, 200, "{body}");
    parse_export(&body)
}

/// The collection's export endpoint: status and body.
fn export_of(address: &str) -> (u16, String) {
    typesense::send(
        address,
        "GET",
        &format!("/collections/{COLLECTION}/documents/export"),
        b"",
    )
}

fn parse_export(body: &str) -> BTreeMap<String, Value> {
    body.lines()
        .map(|line| {
            let doc: Value = serde_json::from_str(line).unwrap();
            (doc["id"].as_str().unwrap().to_string(), doc)
        })
        .collect()
}

/// The passages `rsearch export` gives for the corpus, by id.
fn exported(env: &TestEnv) -> BTreeMap<String, Value> {
    run(env, &["export", "--format", "typesense-jsonl"])
        .expect_code(0)
        .stdout
        .lines()
        .map(|line| {
            let doc: Value = serde_json::from_str(line).unwrap();
            (doc["id"].as_str().unwrap().to_string(), doc)
        })
        .collect()
}

#[test]
fn push_loads_every_passage_with_its_id_and_labels() {
    let Some(server) = typesense::single() else { return };
    let env = TestEnv::new();
    let first = push(&env, &server);
    assert!(
        first.stdout.starts_with(&format!(
            "pushed 1 file to collection {COLLECTION} (created): 41 added, 0 updated, 0 removed, 0 unchanged passages"
        )),
        "{}",
        first.stdout
    );
    let stored = documents(&server.nodes[0].address());
    let expected = exported(&env);
    assert_eq!(stored.len(), 41);
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (id, doc) in &expected {
        for field in ["roles", "topics", "section", "text", "ordinal", "digest"] {
            assert_eq!(stored[id][field], doc[field], "{id} {field}");
        }
    }
    // A second push finds nothing to send.
    let again = push(&env, &server);
    assert!(
        again
            .stdout
            .contains(": 0 added, 0 updated, 0 removed, 41 unchanged passages"),
        "{}",
        again.stdout
    );
}

#[test]
fn remote_facets_over_all_passages_equal_rsearch_labels() {
    let Some(server) = typesense::single() else { return };
    let env = TestEnv::new();
    push(&env, &server);
    let path = format!(
        "/collections/{COLLECTION}/documents/search?q=*&query_by=text&facet_by=roles,topics&max_facet_values=100&per_page=1"
    );
    let answer = typesense::get(&server.nodes[0].address(), &path).expect("search all");
    assert_eq!(answer["found"], 41);
    let labels: Value =
        serde_json::from_str(&run(&env, &["labels", "--json"]).expect_code(0).stdout).unwrap();
    for (i, kind) in ["roles", "topics"].iter().enumerate() {
        let remote: BTreeMap<String, u64> = answer["facet_counts"][i]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["value"].as_str().unwrap().to_string(),
                    c["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(answer["facet_counts"][i]["field_name"], *kind);
        let local: BTreeMap<String, u64> = labels[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["slug"].as_str().unwrap().to_string(),
                    l["passages"].as_u64().unwrap(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(remote, local, "{kind}");
    }
}

#[test]
fn remote_query_prints_the_local_json_contract() {
    let Some(server) = typesense::single() else { return };
    let env = TestEnv::new();
    push(&env, &server);
    let remote = server.remote();
    let args = [
        "query",
        "cybersecurity",
        "--remote",
        &remote,
        "--collection",
        COLLECTION,
        "--json",
    ];
    let results = run(&env, &args).expect_code(0).json();
    let local = env.query_json(&["cybersecurity"]);
    assert_eq!(results.total_hits, local.total_hits);
    assert_eq!(results.hits[0].id, local.hits[0].id);
    assert_eq!(results.hits[0].id, format!("{ARTICLE}:25"));
    assert_eq!(results.hits[0].roles, local.hits[0].roles);
    assert_eq!(results.hits[0].section, local.hits[0].section);
    assert_eq!(results.hits[0].highlighted(), vec!["cybersecurity"]);
    assert!(results.hits[0].text.contains(&results.hits[0].snippet));
    assert_eq!(results.did_you_mean, None);
    assert_eq!(results.facets.roles, local.facets.roles);
    assert_eq!(results.facets.topics, local.facets.topics);
    // Plain output has the same shape as a local query's.
    let plain = run(
        &env,
        &[
            "query",
            "cybersecurity",
            "--remote",
            &remote,
            "--collection",
            COLLECTION,
        ],
    );
    let plain = plain.expect_code(0);
    assert!(
        plain
            .stdout
            .starts_with(&format!("1. {ARTICLE}:25  score 1.00  cto · differences")),
        "{}",
        plain.stdout
    );
    assert!(plain.stdout.contains("**cybersecurity**"), "{}", plain.stdout);
}

#[test]
fn filtered_remote_query_returns_only_that_label() {
    let Some(server) = typesense::single() else { return };
    let env = TestEnv::new();
    push(&env, &server);
    let remote = server.remote();
    for (flag, value, slug) in [
        ("--role", "CTO", "cto"),
        ("--role", "Chief Executive Officer", "ceo"),
        ("--topic", "skills", "skills"),
    ] {
        let args = [
            "query",
            "business",
            "--remote",
            &remote,
            "--collection",
            COLLECTION,
            flag,
            value,
            "--json",
            "--limit",
            "50",
        ];
        let results = run(&env, &args).expect_code(0).json();
        assert!(!results.hits.is_empty(), "{value}");
        for hit in &results.hits {
            let labels = if flag == "--role" { &hit.roles } else { &hit.topics };
            assert!(labels.iter().any(|l| l == slug), "{} lacks {slug}", hit.id);
        }
        let counts = if flag == "--role" {
            &results.facets.roles
        } else {
            &results.facets.topics
        };
        assert_eq!(
            counts.get(slug).copied(),
            Some(results.total_hits as u64),
            "{value}"
        );
    }
    // No hit is exit 1, as locally.
    let bogus = run(
        &env,
        &[
            "query",
            "xylophone",
            "--remote",
            &remote,
            "--collection",
            COLLECTION,
        ],
    )
    .expect_code(1);
    assert!(bogus.stdout.starts_with("no passage matches"), "{}", bogus.stdout);
}

#[test]
fn push_after_a_corpus_change_sends_exactly_the_changes() {
    let Some(server) = typesense::single() else { return };
    let env = TestEnv::new();
    fs::write(
        env.corpus().join("notes.md"),
        "# Notes\n\nA first note about hiring.\n\nA second note about budgets.\n\nA third note about roadmaps.\n",
    )
    .unwrap();
    let first = push(&env, &server);
    assert!(
        first
            .stdout
            .contains(": 44 added, 0 updated, 0 removed, 0 unchanged"),
        "{}",
        first.stdout
    );
    // One passage edited, one file removed, one added.
    let article = env.corpus().join(ARTICLE);
    let text = fs::read_to_string(&article).unwrap();
    fs::write(&article, text.replacen("cybersecurity", "network security", 1)).unwrap();
    fs::remove_file(env.corpus().join("notes.md")).unwrap();
    fs::write(
        env.corpus().join("more.md"),
        "# More\n\nOne more note.\n\nAnd the last one.\n",
    )
    .unwrap();
    let second = push(&env, &server);
    assert!(
        second
            .stdout
            .contains(": 2 added, 1 updated, 3 removed, 40 unchanged passages"),
        "{}",
        second.stdout
    );
    let stored = documents(&server.nodes[0].address());
    let expected = exported(&env);
    assert_eq!(
        stored.keys().collect::<BTreeSet<_>>(),
        expected.keys().collect::<BTreeSet<_>>()
    );
    for (id, doc) in &expected {
        assert_eq!(stored[id]["digest"], doc["digest"], "{id}");
    }
    assert!(stored[&format!("{ARTICLE}:25")]["text"]
        .as_str()
        .unwrap()
        .contains("network security"));
    let remote = server.remote();
    let found = run(
        &env,
        &[
            "query",
            "cybersecurity",
            "--remote",
            &remote,
            "--collection",
            COLLECTION,
            "--exact",
        ],
    );
    found.expect_code(1);
}

#[test]
fn refused_key_and_unreachable_server_are_one_error_line() {
    let Some(server) = typesense::single() else { return };
    let env = TestEnv::new();
    let remote = server.remote();
    let refused = env
        .run_with_env(&["push", "--to", &remote], &[("TYPESENSE_API_KEY", "wrong")])
        .expect_code(2);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("refused"), "{}", refused.stderr);
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);
    let no_key = env
        .run_with_env(&["query", "x", "--remote", &remote], &[("TYPESENSE_API_KEY", "")])
        .expect_code(2);
    assert!(
        no_key.stderr.starts_with("rsearch: no API key for"),
        "{}",
        no_key.stderr
    );
    let missing = run(
        &env,
        &["query", "cto", "--remote", &remote, "--collection", "nothing"],
    )
    .expect_code(2);
    assert!(
        missing.stderr.contains("has no collection nothing"),
        "{}",
        missing.stderr
    );
    let bad_url = run(&env, &["push", "--to", "http://127.0.0.1:8108"]).expect_code(2);
    assert!(
        bad_url.stderr.contains("expected typesense://HOST:PORT"),
        "{}",
        bad_url.stderr
    );
    drop(server);
    let gone = run(&env, &["query", "cto", "--remote", &remote]).expect_code(2);
    assert_eq!(gone.stderr.lines().count(), 1, "{}", gone.stderr);
    assert!(gone.stderr.contains("cannot reach typesense"), "{}", gone.stderr);
}

#[test]
fn cluster_answers_with_its_leader_stopped() {
    let Some(mut cluster) = typesense::cluster(3) else {
        return;
    };
    let env = TestEnv::new();
    push(&env, &cluster);
    // Every node has every passage before the leader goes.
    for node in &cluster.nodes {
        let mut count = 0;
        for _ in 0..50 {
            // A follower still catching up answers 503 (not ready or lagging): ask again.
            let (status, body) = export_of(&node.address());
            count = if status == 200 {
                parse_export(&body).len()
            } else {
                0
            };
            if count == 41 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(count, 41, "{}", node.address());
    }
    let leader = cluster.leader().expect("a leader");
    cluster.nodes[leader].stop();
    let remote = cluster.remote();
    let args = [
        "query",
        "cybersecurity",
        "--remote",
        &remote,
        "--collection",
        COLLECTION,
        "--json",
    ];
    let results = run(&env, &args).expect_code(0).json();
    assert_eq!(results.hits[0].id, format!("{ARTICLE}:25"));
    assert_eq!(results.total_hits, 1);
}

/// Keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// Each hit's id with its labels and section, by id: what must not depend on the engine.
fn passages(results: &Value) -> BTreeMap<String, (Value, Value, Value)> {
    results["hits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            (
                h["id"].as_str().unwrap_or_default().to_string(),
                (h["roles"].clone(), h["topics"].clone(), h["section"].clone()),
            )
        })
        .collect()
}

#[test]
fn serve_remote_answers_as_a_local_serve() {
    let Some(server) = typesense::single() else { return };
    let env = TestEnv::new();
    push(&env, &server);
    let local = Server::start(&env, &["--quiet"]);
    let remote = server.remote();
    let served = Server::start_with_env(
        &env,
        &["--quiet", "--remote", &remote, "--collection", COLLECTION],
        &[("TYPESENSE_API_KEY", API_KEY)],
    );
    // Queries whose words the engine matches as the local index does (no stemming needed):
    // the same passages with the same labels, the same totals and facets, the same fields.
    for params in [
        "q=cybersecurity",
        "q=investors&role=Chief+Executive+Officer",
        "q=stakeholders",
        "q=%22board+of+directors%22",
        "q=skills&role=cto&topic=skills",
    ] {
        let path = format!("/api/search?{params}");
        let (mine, theirs) = (local.get(&path), served.get(&path));
        assert_eq!(theirs.status, 200, "{params}: {}", theirs.body);
        assert_eq!(theirs.header("content-type"), Some("application/json"));
        let (mine, theirs) = (mine.json(), theirs.json());
        assert_eq!(keys(&theirs), keys(&mine), "{params}");
        assert_eq!(passages(&theirs), passages(&mine), "{params}");
        assert_eq!(theirs["total_hits"], mine["total_hits"], "{params}");
        assert_eq!(theirs["facets"], mine["facets"], "{params}");
        assert_eq!(theirs["did_you_mean"], Value::Null);
        for (hit, local_hit) in theirs["hits"]
            .as_array()
            .unwrap()
            .iter()
            .zip(mine["hits"].as_array().unwrap())
        {
            assert_eq!(keys(hit), keys(local_hit), "{params}");
        }
    }
    // Snippets come from the engine's highlights.
    let one = served.get("/api/search?q=cybersecurity").json();
    let hit = &one["hits"][0];
    let (snippet, range) = (hit["snippet"].as_str().unwrap(), &hit["highlights"][0]);
    let (start, end) = (
        range[0].as_u64().unwrap() as usize,
        range[1].as_u64().unwrap() as usize,
    );
    assert_eq!(&snippet[start..end], "cybersecurity");
    // Role by role, the same roles compared and the same passages for each.
    let path = "/api/search?q=stakeholders&by_role=true&limit=10";
    let (mine, theirs) = (local.get(path).json(), served.get(path).json());
    assert_eq!(keys(&theirs["by_role"]), keys(&mine["by_role"]));
    for role in keys(&mine["by_role"]) {
        let ids = |v: &Value| -> BTreeSet<String> {
            v["by_role"][&role]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(ids(&theirs), ids(&mine), "{role}");
    }
    // A passage with its neighbours, and the label counts, are the same answers exactly.
    for path in [
        format!("/api/passages/{ARTICLE}:25?context=2"),
        format!("/api/passages/{ARTICLE}:1?context=1"),
        "/api/labels".to_string(),
    ] {
        assert_eq!(served.get(&path).json(), local.get(&path).json(), "{path}");
    }
    // What the engine cannot answer is refused with the usual error shape.
    for (path, status, code) in [
        (format!("/api/passages/{ARTICLE}:99"), 404, "not_found"),
        ("/api/search?q=cto&explain=true".to_string(), 400, "bad_request"),
        ("/api/search?q=cto&role=nobody".to_string(), 400, "bad_request"),
        ("/api/search?q=cto&mode=semantic".to_string(), 400, "bad_request"),
        ("/api/sections".to_string(), 409, "remote"),
    ] {
        let answer = served.get(&path);
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_eq!(answer.error_code(), code, "{path}");
    }
    let reindex = served.post("/api/reindex", "");
    assert_eq!(reindex.status, 409, "{}", reindex.body);
    let health = served.get("/api/health").json();
    assert_eq!(health["passages"], 41);
    assert_eq!(health["collection"], COLLECTION);
    let page = served.get("/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html"), "{}", page.body);
    // POST with a JSON body, as the local server takes it.
    let posted = served.post("/api/search", r#"{"q": "cybersecurity", "role": ["cto"]}"#);
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(passages(&posted.json()), passages(&one));
}

#[test]
fn serve_remote_refuses_to_start_on_a_missing_collection() {
    let Some(server) = typesense::single() else { return };
    let env = TestEnv::new();
    let remote = server.remote();
    let failed = run(
        &env,
        &[
            "serve",
            "--remote",
            &remote,
            "--collection",
            "nothing",
            "--listen",
            "127.0.0.1:0",
        ],
    )
    .expect_code(2);
    assert_eq!(failed.stderr.lines().count(), 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("has no collection nothing"),
        "{}",
        failed.stderr
    );
}
