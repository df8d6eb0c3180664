//! `rsearch serve` over real loopback sockets: every endpoint, every error status, the page,
//! CORS, the access log, freshness (corpus changes, reindex, another writer) and shutdown.

mod common;

use std::fs;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::server::{encode, Server};
use common::{TestEnv, ARTICLE};
use serde_json::Value;

const ZEPPELIN: &str = "Airships\n\nHistory\n\nThe zeppelin was a rigid airship used for passenger travel.\n";

fn search(server: &Server, query: &str) -> Value {
    let response = server.get(&format!("/api/search?q={}", encode(query)));
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

fn ids(results: &Value) -> Vec<String> {
    results["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .map(|h| h["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Highlighted words of every hit.
fn highlighted(results: &Value) -> Vec<String> {
    let mut words = Vec::new();
    for hit in results["hits"].as_array().into_iter().flatten() {
        let snippet = hit["snippet"].as_str().unwrap_or_default();
        for range in hit["highlights"].as_array().into_iter().flatten() {
            let (s, e) = (
                range[0].as_u64().unwrap_or(0) as usize,
                range[1].as_u64().unwrap_or(0) as usize,
            );
            words.push(snippet[s..e].to_lowercase());
        }
    }
    words
}

/// Waits up to 15 s for `done`, polling.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn search_answers_the_same_json_as_query_json() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    for (params, flags) in [
        ("q=cybersecurity", vec!["cybersecurity"]),
        (
            "q=market+research&role=ceo&limit=3",
            vec!["market research", "--role", "ceo", "--limit", "3"],
        ),
        (
            "q=market+research&by_role=true",
            vec!["market research", "--by-role"],
        ),
        (
            "q=cybersecurty&explain=true&context=1",
            vec!["cybersecurty", "--explain", "--context", "1"],
        ),
    ] {
        let api = server.get(&format!("/api/search?{params}"));
        assert_eq!(api.status, 200, "{}", api.body);
        assert_eq!(api.header("content-type"), Some("application/json"));
        let mut args = vec!["query"];
        args.extend(flags.iter());
        args.extend(["--json", "--no-refresh"]);
        let cli = env.run(&args).expect_code(0);
        let cli: Value = serde_json::from_str(&cli.stdout).expect("CLI JSON");
        assert_eq!(api.json(), cli, "{params}");
    }
}

/// The embedding model's folder (`RSEARCH_MODEL`, else the project's `models/`), as
/// tests/meaning.rs finds it.
fn model() -> String {
    let dir = std::env::var("RSEARCH_MODEL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("{}/models/all-MiniLM-L6-v2", env!("CARGO_MANIFEST_DIR")));
    assert!(
        std::path::Path::new(&dir).join("model.safetensors").is_file(),
        "no embedding model in {dir}: run scripts/fetch-model.sh"
    );
    dir
}

#[test]
fn searches_by_meaning_answer_the_same_json_as_query_json() {
    let env = TestEnv::new();
    let model = model();
    let server = Server::start(&env, &["--model", &model]);
    for (params, flags) in [
        ("q=keeping+an+eye+on+rivals", vec!["keeping an eye on rivals"]),
        (
            "q=keeping+an+eye+on+rivals&mode=semantic&explain=true",
            vec!["keeping an eye on rivals", "--mode", "semantic", "--explain"],
        ),
        (
            "q=hackers&mode=hybrid&role=cto&limit=3",
            vec!["hackers", "--mode", "hybrid", "--role", "cto", "--limit", "3"],
        ),
        ("q=funding&by_role=true", vec!["funding", "--by-role"]),
        ("q=investors&mode=lexical", vec!["investors", "--mode", "lexical"]),
    ] {
        let api = server.get(&format!("/api/search?{params}"));
        assert_eq!(api.status, 200, "{params}: {}", api.body);
        let mut args = vec!["query"];
        args.extend(flags.iter());
        args.extend(["--json", "--no-refresh", "--model", &model]);
        let cli = env.run(&args).expect_code(0);
        let cli: Value = serde_json::from_str(&cli.stdout).expect("CLI JSON");
        assert_eq!(api.json(), cli, "{params}");
    }
    // Hybrid by default: the passage that says it in other words comes first, found by meaning.
    let results = server
        .get("/api/search?q=keeping+an+eye+on+rivals&explain=true")
        .json();
    assert_eq!(results["hits"][0]["ordinal"], 5, "{results}");
    let fusion = &results["hits"][0]["explanation"]["fusion"];
    assert_eq!(fusion["semantic_rank"], 1, "{results}");
    let post = server.post(
        "/api/search",
        r#"{"q": "keeping an eye on rivals", "mode": "semantic", "limit": 1}"#,
    );
    assert_eq!(post.status, 200, "{}", post.body);
    assert_eq!(post.json()["hits"][0]["ordinal"], 5);
}

#[test]
fn a_search_by_meaning_without_vectors_says_what_is_missing() {
    let env = TestEnv::new();
    let model = model();
    env.run(&["index", "--no-vectors", "--model", &model])
        .expect_code(0);
    let server = Server::start(&env, &["--model", &model, "--no-refresh"]);
    for mode in ["semantic", "hybrid"] {
        let response = server.get(&format!("/api/search?q=rivals&mode={mode}"));
        assert_eq!(response.status, 409, "{}", response.body);
        let error = &response.json()["error"];
        assert_eq!(error["code"], "no_meaning");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains("rsearch index --vectors"), "{message}");
    }
    // Without a mode the server searches by words, as `query` does.
    assert_eq!(search(&server, "investors")["total_hits"], 2);
}

#[test]
fn post_takes_the_same_parameters_as_a_json_body() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let get = server.get("/api/search?q=skills&role=cto&role=ceo&limit=2&exact=true");
    let post = server.post(
        "/api/search",
        r#"{"q": "skills", "role": ["cto", "ceo"], "limit": 2, "exact": true}"#,
    );
    assert_eq!(post.status, 200, "{}", post.body);
    assert_eq!(post.json(), get.json());
    let one = server.post(
        "/api/search",
        r#"{"q": "skills", "role": "Chief Technology Officer"}"#,
    );
    let results = one.json();
    assert!(results["total_hits"].as_u64().unwrap_or(0) > 0);
    for hit in results["hits"].as_array().into_iter().flatten() {
        assert!(
            hit["roles"]
                .as_array()
                .is_some_and(|r| r.contains(&Value::from("cto"))),
            "{hit}"
        );
    }
}

#[test]
fn the_last_word_matches_as_a_prefix_only_when_asked() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let typed = server.get("/api/search?q=cybers").json();
    assert_eq!(typed["total_hits"], 0, "{typed}");
    let prefix = server.get("/api/search?q=cybers&prefix=true").json();
    assert_eq!(ids(&prefix), [format!("{ARTICLE}:25")]);
    assert_eq!(highlighted(&prefix), ["cybersecurity"]);
    assert_eq!(
        prefix["did_you_mean"],
        Value::Null,
        "a word being typed is no misspelling"
    );
    let research = server.get("/api/search?q=market+res&prefix=true&limit=3").json();
    assert!(
        highlighted(&research).contains(&"research".to_string()),
        "{research}"
    );
    // A space after the word says it is finished: no prefix expansion.
    let finished = server.get("/api/search?q=cybers+&prefix=true").json();
    assert_eq!(finished["total_hits"], 0);
}

#[test]
fn offset_pages_through_the_same_ranking() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let first = server.get("/api/search?q=market+research&limit=4").json();
    let second = server
        .get("/api/search?q=market+research&limit=2&offset=2")
        .json();
    assert_eq!(ids(&second), ids(&first)[2..4]);
    assert_eq!(second["hits"][0]["rank"], 3);
    assert_eq!(second["total_hits"], first["total_hits"]);
}

#[test]
fn passages_sections_labels_and_health_answer() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let id = format!("{ARTICLE}:25");
    let passage = server.get(&format!("/api/passages/{}?context=1", encode(&id)));
    assert_eq!(passage.status, 200, "{}", passage.body);
    let passage = passage.json();
    assert_eq!(passage["id"], Value::from(id.clone()));
    assert!(passage["text"]
        .as_str()
        .is_some_and(|t| t.contains("cybersecurity")));
    assert_eq!(passage["context"]["before"][0]["ordinal"], 24);
    assert_eq!(passage["context"]["after"][0]["ordinal"], 26);
    // The id unencoded works too.
    assert_eq!(server.get(&format!("/api/passages/{id}")).status, 200);

    let sections = server.get("/api/sections").json();
    assert_eq!(sections[0]["source"], ARTICLE);
    assert_eq!(sections[0]["passages"], 41);
    let one = server.get(&format!("/api/sections?source={ARTICLE}")).json();
    assert_eq!(one.as_array().map(Vec::len), Some(1));

    let labels = server.get("/api/labels").json();
    let roles: Vec<&str> = labels["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["slug"].as_str())
        .collect();
    assert_eq!(roles, ["product-manager", "ceo", "cto"]);
    assert!(labels["roles"][2]["passages"].as_u64().unwrap_or(0) > 0);

    let health = server.get("/api/health").json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["passages"], 41);
    assert_eq!(health["watching"], true);
    assert!(
        health["generation"]
            .as_str()
            .is_some_and(|g| g.starts_with("gen-")),
        "{health}"
    );
}

#[test]
fn bad_requests_get_json_errors_with_the_right_status() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let long = "a".repeat(1001);
    for (path, status, code, message) in [
        (
            "/api/search",
            400,
            "bad_request",
            "parameter q (the query) is missing",
        ),
        (
            "/api/search?q=a&role=cfo",
            400,
            "bad_request",
            "valid roles: product-manager",
        ),
        (
            "/api/search?q=a&topic=cooking",
            400,
            "bad_request",
            "unknown topic",
        ),
        (
            "/api/search?q=a&limit=0",
            400,
            "bad_request",
            "limit must be between 1 and 100",
        ),
        ("/api/search?q=a&limit=x", 400, "bad_request", "whole number"),
        ("/api/search?q=a&mode=meaning", 400, "bad_request", "unknown mode"),
        (
            "/api/search?q=a&colour=red",
            400,
            "bad_request",
            "unknown parameter",
        ),
        (
            &format!("/api/search?q={long}"),
            400,
            "bad_request",
            "longer than 1000 characters",
        ),
        ("/api/passages/nope.txt:1", 404, "not_found", "no passage with id"),
        (
            "/api/passages/x?context=50",
            400,
            "bad_request",
            "context must be at most 20",
        ),
        ("/api/sections?source=nope.txt", 404, "not_found", "no document"),
        ("/api/labels?x=1", 400, "bad_request", "unknown parameter"),
        ("/api/nothing", 404, "not_found", "no such endpoint"),
        ("/nothing", 404, "not_found", "no such endpoint"),
        ("/assets/nothing.js", 404, "not_found", "no asset"),
    ] {
        let response = server.get(path);
        assert_eq!(response.status, status, "{path}: {}", response.body);
        assert_eq!(response.error_code(), code, "{path}");
        let text = response.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(text.contains(message), "{path}: {text}");
    }
    let wrong_method = server.request("DELETE", "/api/search?q=a", &[], b"");
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.error_code(), "method_not_allowed");
    assert!(wrong_method.header("allow").is_some_and(|a| a.contains("GET")));
    assert_eq!(server.get("/api/reindex").status, 405);

    let huge = format!(r#"{{"q": "{}"}}"#, "a".repeat(100_000));
    let too_large = server.post("/api/search", &huge);
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.error_code(), "payload_too_large");
    for body in ["{not json", "[1, 2]", r#"{"q": 5}"#, r#"{"q": "a", "role": [1]}"#] {
        let response = server.post("/api/search", body);
        assert_eq!(response.status, 400, "{body}: {}", response.body);
        assert_eq!(response.error_code(), "bad_request");
    }
    // Nothing a person types is an error: odd queries are searched.
    for query in ["?!.,;:()\"", "title:* cto", "🚀", "日本語", "a\u{0}b"] {
        let response = server.get(&format!("/api/search?q={}", encode(query)));
        assert_eq!(response.status, 200, "{query:?}: {}", response.body);
    }
}

#[test]
fn the_page_and_its_assets_are_served_from_the_binary() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let page = server.get("/?q=cybersecurity");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    assert!(
        page.body.contains(r#"<label for="q">"#),
        "the search box has a label"
    );
    assert!(page
        .header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'none'")));
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "nothing fetched from elsewhere"
    );
    for (asset, kind) in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let response = server.get(&format!("/assets/{asset}"));
        assert_eq!(response.status, 200, "{asset}");
        assert!(
            response
                .header("content-type")
                .is_some_and(|t| t.starts_with(kind)),
            "{asset}"
        );
        assert!(
            !response.body.contains("https://"),
            "{asset} fetches nothing from elsewhere"
        );
    }
}

#[test]
fn other_origins_get_no_cors_and_cannot_post_unless_allowed() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let evil = [("origin", "http://evil.example")];
    let get = server.request("GET", "/api/search?q=cto", &evil, b"");
    assert_eq!(get.status, 200);
    assert_eq!(get.header("access-control-allow-origin"), None);
    let post = server.request("POST", "/api/reindex", &evil, b"");
    assert_eq!(post.status, 403);
    assert_eq!(post.error_code(), "forbidden_origin");
    let own = format!("http://{}", server.address);
    let same = server.request("POST", "/api/search", &[("origin", &own)], br#"{"q": "cto"}"#);
    assert_eq!(same.status, 200, "{}", same.body);
    drop(server);

    let allowed = Server::start(&env, &["--cors", "http://localhost:3000"]);
    let origin = [("origin", "http://localhost:3000")];
    let get = allowed.request("GET", "/api/search?q=cto", &origin, b"");
    assert_eq!(
        get.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let preflight = allowed.request(
        "OPTIONS",
        "/api/search",
        &[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert!(preflight
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));
    let post = allowed.request("POST", "/api/search", &origin, br#"{"q": "cto"}"#);
    assert_eq!(post.status, 200);
}

#[test]
fn each_request_logs_one_line_unless_quiet() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    server.get("/api/health");
    server.get("/api/passages/nope");
    eventually("two access log lines", || {
        let lines = server.log_lines();
        lines
            .iter()
            .any(|l| l.starts_with("GET /api/health 200 ") && l.ends_with("ms"))
            && lines.iter().any(|l| l.starts_with("GET /api/passages/nope 404 "))
    });
    drop(server);
    let quiet = Server::start(&env, &["--quiet"]);
    quiet.get("/api/health");
    let stopped = quiet.log.clone();
    assert!(quiet.stop().success());
    let lines = stopped.lock().expect("log").clone();
    assert!(!lines.iter().any(|l| l.contains("/api/health")), "{lines:?}");
}

#[test]
fn a_changed_corpus_is_indexed_in_the_background_and_on_reindex() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    assert_eq!(search(&server, "zeppelin")["total_hits"], 0);
    fs::write(env.corpus().join("airships.txt"), ZEPPELIN).expect("write");
    eventually("the new file to be searchable", || {
        search(&server, "zeppelin")["total_hits"] == 1
    });
    let health = server.get("/api/health").json();
    assert_eq!(health["passages"], 42);
    assert_eq!(health["last_update"]["added"], 1, "{health}");

    fs::write(
        env.corpus().join("lighthouses.txt"),
        "Lighthouses\n\nA keeper tended the lamp.\n",
    )
    .expect("write");
    let report = server.post("/api/reindex", "");
    assert_eq!(report.status, 200, "{}", report.body);
    let report = report.json();
    assert_eq!(report["kind"], "update");
    assert_eq!(report["added"], 1, "{report}");
    assert_eq!(
        (report["files"].as_u64(), report["passages"].as_u64()),
        (Some(3), Some(43)),
        "{report}"
    );
    assert_eq!(
        search(&server, "lighthouses")["total_hits"],
        1,
        "searchable as soon as reindex answers"
    );
}

#[test]
fn a_broken_taxonomy_leaves_the_index_serving_and_shows_in_health() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    fs::write(env.corpus().join("taxonomy.toml"), "[[role]\nslug = ").expect("write");
    eventually("the failed update to show in health", || {
        server.get("/api/health").json()["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("taxonomy"))
    });
    assert_eq!(
        search(&server, "cybersecurity")["total_hits"],
        1,
        "the old index still answers"
    );
    let reindex = server.post("/api/reindex", "");
    assert_eq!(reindex.status, 500);
    assert_eq!(reindex.error_code(), "reindex_failed");
    assert!(reindex.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("taxonomy")));
}

#[test]
fn a_commit_by_another_writer_is_picked_up() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    // Without a corpus to watch the server never writes; only the external build changes it.
    let server = Server::start(&env, &["--no-refresh"]);
    let before = server.get("/api/health").json();
    assert_eq!(before["watching"], false);
    assert_eq!(server.post("/api/reindex", "").status, 409);
    fs::write(env.corpus().join("airships.txt"), ZEPPELIN).expect("write");
    let corpus = env.corpus();
    let index = env.index();
    env.run(&[
        "index",
        "--corpus",
        &corpus.to_string_lossy(),
        "--index",
        &index.to_string_lossy(),
    ])
    .expect_code(0);
    eventually("the external update to be served", || {
        search(&server, "zeppelin")["total_hits"] == 1
    });
    env.run(&[
        "index",
        "--full",
        "--corpus",
        &corpus.to_string_lossy(),
        "--index",
        &index.to_string_lossy(),
    ])
    .expect_code(0);
    eventually("the new generation to be served", || {
        server.get("/api/health").json()["generation"] != before["generation"]
    });
    assert_eq!(search(&server, "zeppelin")["total_hits"], 1);
}

#[test]
fn reindexing_during_queries_fails_no_request() {
    let env = TestEnv::new();
    let server = Arc::new(Server::start(&env, &[]));
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (server, done, answered) = (Arc::clone(&server), Arc::clone(&done), Arc::clone(&answered));
            std::thread::spawn(move || {
                let queries = ["market research", "cybersecurity", "board of directors", "skills"];
                let mut failures = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    let query = queries[i % queries.len()];
                    let response = server.get(&format!("/api/search?q={}&limit=5", encode(query)));
                    if response.status != 200 || response.json()["total_hits"].as_u64().unwrap_or(0) == 0 {
                        failures.push(format!("{query}: {} {}", response.status, response.body));
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();
    let corpus = env.corpus();
    let index = env.index();
    for round in 0..6 {
        fs::write(corpus.join(format!("extra-{round}.txt")), ZEPPELIN).expect("write");
        if round % 2 == 0 {
            let report = server.post("/api/reindex", "");
            assert_eq!(report.status, 200, "{}", report.body);
        } else {
            // A full rebuild elsewhere: a new generation swapped in under the server's readers.
            env.run(&[
                "index",
                "--full",
                "--corpus",
                &corpus.to_string_lossy(),
                "--index",
                &index.to_string_lossy(),
            ])
            .expect_code(0);
        }
    }
    eventually("every extra file to be served", || {
        search(&server, "zeppelin")["total_hits"] == 6
    });
    done.store(true, Ordering::Relaxed);
    let failures: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        answered.load(Ordering::Relaxed) > 20,
        "too few requests to mean anything"
    );
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    assert_eq!(server.get("/api/health").status, 200);
    let log = server.log.clone();
    let status = server.stop();
    assert!(status.success(), "{status:?}");
    assert!(log.lock().expect("log").iter().any(|l| l == "rsearch: stopped"));
}

#[test]
fn a_busy_address_is_one_clear_error() {
    let env = TestEnv::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let run = env.run(&["serve", "--listen", &address]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("rsearch: listening on {address}: ")),
        "{}",
        run.stderr
    );
}
