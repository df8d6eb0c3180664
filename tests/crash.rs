//! Crash safety and concurrency of the index folder: a build killed at any moment leaves the
//! previous index answering as before, readers keep answering while writers rebuild, writers
//! take turns, and an index of another format is rebuilt or refused.
//!
//! Rounds can be raised for a longer run by hand: `RSEARCH_KILL_ROUNDS=50` (kills) and
//! `RSEARCH_REBUILDS=40` (rebuilds while queries run).

mod common;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::{JsonResults, Run, TestEnv, ARTICLE};

const QUERY: &str = "market research";

fn rounds(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Adds `n` copies of the article to the corpus, so a build takes a while.
fn add_copies(env: &TestEnv, n: usize) {
    let article = fs::read_to_string(env.corpus().join(ARTICLE)).expect("read article");
    for i in 0..n {
        fs::write(env.corpus().join(format!("copy-{i:03}.txt")), &article).expect("write copy");
    }
}

/// What a query answers, independent of which build (and segment layout) answered it: every
/// hit, since copies of the article tie in score and a cut would fall among them by chance.
fn answer(results: &JsonResults) -> (usize, Vec<String>) {
    let mut ids: Vec<String> = results.hits.iter().map(|h| h.id.clone()).collect();
    ids.sort();
    (results.total_hits, ids)
}

/// Names in the index folder that start with `prefix`.
fn entries(index: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(index)
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// A small pseudo-random sequence (xorshift), seeded from the clock: kill moments differ from
/// run to run, and a failure message names the seed.
struct Moments(u64);

impl Moments {
    fn new() -> Moments {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Moments(nanos | 1)
    }

    /// A fraction in [0.02, 0.98).
    fn next_fraction(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        0.02 + 0.96 * ((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }
}

#[test]
fn killed_build_leaves_the_previous_index_answering_and_the_next_run_recovers() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let before = env
        .run(&["query", QUERY, "--json", "--limit", "100000", "--no-refresh"])
        .expect_code(0);
    add_copies(&env, 80);
    // How long a full build of the larger corpus takes here, to spread kills over it.
    let started = Instant::now();
    env.run(&["index", "--index", "reference"]).expect_code(0);
    let mut build_time = started.elapsed();
    let after = answer(
        &env.run(&[
            "query",
            QUERY,
            "--json",
            "--limit",
            "100000",
            "--index",
            "reference",
        ])
        .expect_code(0)
        .json(),
    );
    let mut moments = Moments::new();
    let seed = moments.0;
    let (mut killed, mut completed, mut as_before, mut leftovers) = (0, 0, 0, 0);
    for round in 0..rounds("RSEARCH_KILL_ROUNDS", 4) {
        let mut child = env.spawn(&["index"]);
        let spawned = Instant::now();
        thread::sleep(build_time.mul_f64(moments.next_fraction()));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().expect("wait");
        if status.success() {
            // Builds run faster than measured (the machine got quieter): aim earlier.
            completed += 1;
            build_time = build_time.min(spawned.elapsed()).mul_f64(0.8);
        } else {
            killed += 1;
        }
        leftovers += usize::from(!entries(&env.index(), ".tmp-").is_empty());
        let run = env
            .run(&["query", QUERY, "--json", "--limit", "100000", "--no-refresh"])
            .expect_code(0);
        assert!(
            run.stderr.is_empty(),
            "round {round}, seed {seed}: {}",
            run.stderr
        );
        as_before += usize::from(run.stdout == before.stdout);
        // Killed before its switch, the build left the old index exactly as it was; killed
        // after it (or done), the new index answers.
        assert!(
            run.stdout == before.stdout || answer(&run.json()) == after,
            "round {round}, seed {seed}: index answers neither as before nor as rebuilt"
        );
    }
    eprintln!(
        "{killed} builds killed, {completed} completed before the kill; {leftovers} left a \
         .tmp-* folder; the index answered as before {as_before} times, as rebuilt {} times \
         (seed {seed})",
        killed + completed - as_before
    );
    let run = env
        .run(&["query", QUERY, "--json", "--limit", "100000"])
        .expect_code(0);
    assert_eq!(answer(&run.json()), after);
    assert!(entries(&env.index(), ".tmp-").is_empty(), "leftovers remain");
    assert!(entries(&env.index(), "gen-").len() <= 2);
}

#[test]
fn leftover_of_a_killed_build_is_removed_by_the_next_query() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let leftover = env.index().join(".tmp-1-999999");
    fs::create_dir(&leftover).expect("mkdir");
    fs::write(leftover.join("meta.json"), "{").expect("write");
    let run = env.run(&["query", QUERY]).expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(!leftover.exists());
}

#[test]
fn index_removes_what_a_killed_build_left_even_with_nothing_to_do() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let live = fs::read_to_string(env.index().join("CURRENT")).expect("CURRENT");
    // What builds killed at each step leave: a temporary generation, a generation renamed but
    // never named by CURRENT (a later time than the live one), a half-written CURRENT.tmp.
    let temp = env.index().join(".tmp-1-999999");
    fs::create_dir(&temp).expect("mkdir");
    fs::write(temp.join("meta.json"), "{").expect("write");
    let unnamed = env.index().join("gen-99999999999999999999999");
    fs::create_dir(&unnamed).expect("mkdir");
    fs::write(unnamed.join("meta.json"), "{").expect("write");
    fs::write(env.index().join("CURRENT.tmp"), "gen-9").expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(
        run.stdout.starts_with("index is up to date: 1 file"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(!temp.exists(), ".tmp-* left");
    assert!(!unnamed.exists(), "unnamed generation left");
    assert!(!env.index().join("CURRENT.tmp").exists(), "CURRENT.tmp left");
    assert_eq!(
        fs::read_to_string(env.index().join("CURRENT")).expect("CURRENT"),
        live
    );
    env.run(&["query", QUERY, "--no-refresh"]).expect_code(0);
}

#[test]
fn queries_keep_answering_while_the_index_is_rebuilt() {
    let env = Arc::new(TestEnv::new());
    add_copies(&env, 20);
    env.run(&["index"]).expect_code(0);
    let reference = answer(&env.query_json(&[QUERY, "--limit", "100000"]));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (env, done) = (Arc::clone(&env), Arc::clone(&done));
        thread::spawn(move || {
            for _ in 0..rounds("RSEARCH_REBUILDS", 4) {
                env.run(&["index"]).expect_code(0);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut queries = 0;
    let mut flags = [None, Some("--no-refresh")].into_iter().cycle();
    while !done.load(Ordering::SeqCst) || queries == 0 {
        let mut args = vec!["query", QUERY, "--json", "--limit", "100000"];
        args.extend(flags.next().flatten());
        let run = env.run(&args);
        assert_eq!(run.code, 0, "query {queries} failed: {}", run.stderr);
        assert!(
            run.stderr
                .lines()
                .all(|l| l.starts_with("rsearch: waiting for another rsearch")),
            "query {queries}: {}",
            run.stderr
        );
        assert_eq!(answer(&run.json()), reference, "query {queries}");
        queries += 1;
    }
    writer.join().expect("writer thread");
    eprintln!("{queries} queries answered during the rebuilds, none failed");
}

#[test]
fn two_index_runs_at_once_both_succeed_and_the_index_is_valid() {
    let env = TestEnv::new();
    add_copies(&env, 10);
    env.run(&["index", "--index", "reference"]).expect_code(0);
    let reference = answer(&env.query_json(&[QUERY, "--limit", "100000", "--index", "reference"]));
    for _ in 0..3 {
        let first = env.spawn(&["index"]);
        let second = env.spawn(&["index"]);
        // Each run may wait for the other, and names it.
        let others = [second.id(), first.id()];
        for (run, other) in [Run::finish(first), Run::finish(second)].into_iter().zip(others) {
            let run = run.expect_code(0);
            // The second run may find the first one's index already up to date.
            assert!(
                run.stdout.starts_with("indexed 11 files")
                    || run.stdout.starts_with("index is up to date: 11 files"),
                "{}",
                run.stdout
            );
            assert!(
                run.stderr.is_empty()
                    || run.stderr
                        == format!("rsearch: waiting for another rsearch (pid {other}) writing index\n"),
                "{}",
                run.stderr
            );
        }
        let run = env
            .run(&["query", QUERY, "--json", "--limit", "100000", "--no-refresh"])
            .expect_code(0);
        assert_eq!(answer(&run.json()), reference);
        assert!(entries(&env.index(), ".tmp-").is_empty());
        assert!(!env.index().join("CURRENT.tmp").exists());
    }
}

#[test]
fn two_queries_on_a_missing_index_build_it_under_the_lock() {
    let env = TestEnv::new();
    let first = env.spawn(&["query", QUERY, "--json", "--limit", "100000"]);
    let second = env.spawn(&["query", QUERY, "--json", "--limit", "100000"]);
    let (first, second) = (
        Run::finish(first).expect_code(0),
        Run::finish(second).expect_code(0),
    );
    assert_eq!(answer(&first.json()), answer(&second.json()));
    let notes = format!("{}{}", first.stderr, second.stderr);
    assert!(
        notes.contains("no index yet; building the index in index"),
        "{notes}"
    );
    assert!(entries(&env.index(), ".tmp-").is_empty());
    assert!(entries(&env.index(), "gen-").len() <= 2);
}

/// Rewrites the live generation's stamp (tantivy's commit payload in `meta.json`) as another
/// rsearch would have written it: with `format`, and only that field when `bare`.
fn stamp_format(env: &TestEnv, format: u32, bare: bool) {
    let current = fs::read_to_string(env.index().join("CURRENT")).expect("CURRENT");
    let meta_path = env.index().join(current.trim()).join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&meta_path).expect("meta.json")).expect("JSON");
    let payload = meta["payload"].as_str().expect("payload").to_string();
    let mut stamp: serde_json::Value = serde_json::from_str(&payload).expect("stamp JSON");
    assert_eq!(stamp["format"], rsearch::index::FORMAT_VERSION);
    if bare {
        stamp = serde_json::json!({});
    }
    stamp["format"] = format.into();
    meta["payload"] = stamp.to_string().into();
    fs::write(&meta_path, meta.to_string()).expect("write meta.json");
}

#[test]
fn index_of_another_format_is_rebuilt() {
    let env = TestEnv::new();
    let before = answer(&env.query_json(&[QUERY, "--limit", "100000"]));
    for bare in [false, true] {
        stamp_format(&env, 999, bare);
        let run = env
            .run(&["query", QUERY, "--json", "--limit", "100000"])
            .expect_code(0);
        assert_eq!(
            run.stderr,
            format!(
                "rsearch: index has format 999, this rsearch writes {}; building the index in index\n",
                rsearch::index::FORMAT_VERSION
            )
        );
        assert_eq!(answer(&run.json()), before);
        let again = env.run(&["query", QUERY]).expect_code(0);
        assert!(again.stderr.is_empty(), "{}", again.stderr);
    }
}

#[test]
fn index_of_another_format_without_its_corpus_is_refused() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    stamp_format(&env, 999, false);
    fs::rename(env.corpus(), env.root().join("moved")).expect("move corpus");
    let run = env.run(&["query", QUERY]).expect_code(2);
    assert_eq!(
        run.stderr,
        format!(
            "rsearch: index has format 999, this rsearch writes {}, and it cannot be rebuilt: \
             corpus folder corpus cannot be read: No such file or directory (os error 2)\n",
            rsearch::index::FORMAT_VERSION
        )
    );
    let run = env.run(&["query", QUERY, "--no-refresh"]).expect_code(2);
    assert_eq!(
        run.stderr,
        format!(
            "rsearch: index has format 999, this rsearch writes {} in index; run `rsearch index` \
             to rebuild it\n",
            rsearch::index::FORMAT_VERSION
        )
    );
}
