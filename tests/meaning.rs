//! Search by meaning with the real embedding model: loading it, the article's vectors, a query
//! in other words, incremental updates of the vectors, and everything working without it.
//!
//! The model is found through `RSEARCH_MODEL` or in `models/all-MiniLM-L6-v2` of the project
//! (`scripts/fetch-model.sh`, which CI runs first); these tests fail, not skip, without it.

mod common;

use std::path::PathBuf;

use common::{TestEnv, ARTICLE};
use rsearch::embed::{self, Embedder, QueryEmbedder};
use rsearch::index::{CorpusChoice, Freshness, OpenSettings, VectorSettings, Vectors};

/// The model folder the tests use.
fn model() -> PathBuf {
    let dir = std::env::var_os(embed::MODEL_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(embed::DEFAULT_MODEL_DIR));
    assert!(
        dir.join("model.safetensors").is_file(),
        "no embedding model in {}: run scripts/fetch-model.sh",
        dir.display()
    );
    dir
}

/// Runs rsearch with the model found through the environment.
fn run(env: &TestEnv, args: &[&str]) -> common::Run {
    let model = model();
    env.run_with_env(args, &[(embed::MODEL_ENV, model.to_str().expect("model path"))])
}

fn query_json(env: &TestEnv, args: &[&str]) -> common::JsonResults {
    let mut all = vec!["query"];
    all.extend_from_slice(args);
    all.push("--json");
    run(env, &all).expect_code(0).json()
}

#[test]
fn the_model_gives_related_sentences_close_vectors_and_unrelated_ones_far() {
    let embedder = Embedder::load(&model()).expect("load model");
    let v = embedder
        .embed(&[
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "A man is riding a horse.",
        ])
        .expect("embed");
    assert_eq!(v[0].len(), embed::DIMENSIONS);
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    // The figures sentence-transformers gives for the same sentences.
    assert!((embed::similarity(&v[0], &v[1]) - 0.7553).abs() < 0.002);
    assert!((embed::similarity(&v[0], &v[2]) - 0.2474).abs() < 0.002);
}

#[test]
fn a_query_embedded_from_the_mapped_weights_has_the_vector_a_passage_would() {
    let model = model();
    let embedder = Embedder::load(&model).expect("load model");
    // The f32 weights: the half and 8-bit copies are checked against these below.
    let queries = QueryEmbedder::load_full_precision(&model).expect("map model");
    assert_eq!(queries.fingerprint, embedder.fingerprint);
    let long = "Product Managers collaborate with cross-functional teams. ".repeat(40);
    let texts = [
        "who talks to investors?",
        "hackers",
        "Don't re-use C++/C# code: x86_64, 3.14159, e-mail@example.com (cf. §2) -- O'Reilly's \"unaffable\" naïveté!",
        "xyzzyqwv unbelievably antidisestablishmentarianism [CLS][SEP] ＡＢＣ",
        "Café CRÈME, naïve résumé [MASK] 東京 emoji 🙂 and tabs\tinside",
        "",
        long.as_str(),
    ];
    let mut reference = tokenizers::Tokenizer::from_file(model.join("tokenizer.json")).expect("tokenizer");
    reference.with_padding(None);
    reference
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: 256,
            ..Default::default()
        }))
        .expect("truncation");
    for text in texts {
        let ids = reference.encode(text, true).expect("encode");
        assert_eq!(queries.token_ids(text).expect("ids"), ids.get_ids(), "{text:?}");
    }
    let expected = embedder.embed(&texts).expect("embed");
    for (text, expected) in texts.iter().zip(&expected) {
        let got = queries.embed(text).expect("embed query");
        let cosine = embed::similarity(&got.vector, expected);
        assert!(cosine > 0.9999, "{text:?}: cosine {cosine}");
    }
}

#[test]
fn the_article_gets_a_vector_per_passage_and_sentence() {
    let env = TestEnv::new();
    let built = run(&env, &["index"]).expect_code(0);
    assert!(built.stderr.contains("embedded 41 passages"), "{}", built.stderr);
    let settings = OpenSettings {
        root: env.index(),
        corpus: CorpusChoice::Given(env.corpus()),
        freshness: Freshness::AsIs,
        memory: 50 << 20,
        vectors: VectorSettings::default(),
    };
    let live = rsearch::index::open_fresh(&settings, &Default::default(), &|_| {}).expect("open index");
    let stored = live.vectors.as_ref().expect("the index has vectors");
    let vectors = stored.load().expect("vectors read back");
    assert_eq!(stored.rows().expect("header"), vectors.len());
    for ordinal in 1..=41 {
        let id = format!("{ARTICLE}:{ordinal}");
        assert!(vectors.get(&format!("{id}#0")).is_some(), "{id} has no vector");
    }
    assert!(vectors.len() > 41, "no sentence vectors: {}", vectors.len());
    // A passage under a heading has a row for its headings; the two before the first one none.
    assert!(
        vectors.get(&format!("{ARTICLE}:9#h")).is_some(),
        "passage 9 has no heading row"
    );
    assert!(
        vectors.get(&format!("{ARTICLE}:1#h")).is_none(),
        "passage 1 has a heading row"
    );
    let embedder = Embedder::load(&model()).expect("load model");
    let query = embedder
        .embed(&["protecting data from attackers"])
        .expect("embed");
    let near = vectors.nearest_passages(&query[0]);
    assert_eq!(near[0].passage, format!("{ARTICLE}:25"));
}

#[test]
fn a_query_in_other_words_is_found_by_meaning_with_its_closest_sentence() {
    let env = TestEnv::new();
    run(&env, &["query", "keeping an eye on rivals", "--mode", "lexical"]).expect_code(1);
    let results = query_json(&env, &["keeping an eye on rivals"]);
    let top = &results.hits[0];
    assert_eq!(top.ordinal, 5, "{}", top.text);
    assert!(
        top.snippet.starts_with("They monitor industry developments"),
        "{}",
        top.snippet
    );
    assert!(top.highlights.is_empty());
    assert!(results.total_hits >= results.hits.len());
}

#[test]
fn hybrid_is_the_default_and_explains_both_rankings() {
    let env = TestEnv::new();
    let results = query_json(&env, &["who talks to investors?", "--explain"]);
    let fusion = results.hits[0]
        .explanation
        .as_ref()
        .and_then(|e| e.fusion.as_ref())
        .expect("a hybrid explanation");
    assert_eq!(fusion.fused_rank, 1);
    assert!(fusion.lexical_rank.is_some() && fusion.bm25.is_some());
    assert!(fusion.semantic_rank.is_some() && fusion.similarity.is_some());
    let plain = run(
        &env,
        &["query", "who talks to investors?", "--explain", "--limit", "1"],
    )
    .expect_code(0);
    assert!(plain.stdout.contains("fused rank 1"), "{}", plain.stdout);
    assert!(plain.stdout.contains("meaning: rank"), "{}", plain.stdout);
}

#[test]
fn role_filters_apply_to_passages_found_by_meaning() {
    let env = TestEnv::new();
    let results = query_json(
        &env,
        &["keeping an eye on rivals", "--role", "ceo", "--mode", "semantic"],
    );
    assert!(!results.hits.is_empty());
    for hit in &results.hits {
        assert!(hit.roles.contains(&"ceo".to_string()), "{hit:?}");
    }
    assert_eq!(
        results.facets.roles.get("ceo").copied(),
        Some(results.total_hits as u64)
    );
}

#[test]
fn an_added_file_gets_vectors_and_the_others_keep_theirs() {
    let env = TestEnv::new();
    run(&env, &["index"]).expect_code(0);
    std::fs::write(
        env.corpus().join("security.txt"),
        "Network security\n\nThe firewall keeps intruders out of the company network. Every login is logged.\n",
    )
    .expect("write file");
    let updated = run(&env, &["index"]).expect_code(0);
    assert!(updated.stdout.contains("1 added"), "{}", updated.stdout);
    assert!(
        updated.stderr.contains("embedded 1 passages"),
        "{}",
        updated.stderr
    );
    let results = query_json(&env, &["stopping hackers", "--mode", "semantic", "--limit", "3"]);
    assert_eq!(
        results.hits[0].source, "security.txt",
        "{:?}",
        results.hits[0].text
    );
    let article = query_json(&env, &["keeping an eye on rivals", "--mode", "semantic"]);
    assert_eq!(article.hits[0].ordinal, 5);
}

#[test]
fn without_the_model_search_is_by_words_and_meaning_says_how_to_get_it() {
    let env = TestEnv::new();
    let no_model = env.root().join("no-model");
    std::fs::create_dir_all(&no_model).expect("folder");
    let env_vars = [(embed::MODEL_ENV, no_model.to_str().expect("path"))];
    let words = env
        .run_with_env(&["query", "cybersecurity", "--json"], &env_vars)
        .expect_code(0);
    assert_eq!(words.json().hits[0].ordinal, 25);
    assert!(words.json().hits[0].explanation.is_none());
    let meaning = env
        .run_with_env(&["query", "cybersecurity", "--mode", "semantic"], &env_vars)
        .expect_code(2);
    assert_eq!(meaning.stderr.lines().count(), 1, "{}", meaning.stderr);
    assert!(
        meaning.stderr.contains("scripts/fetch-model.sh"),
        "{}",
        meaning.stderr
    );
}

/// The passage vectors file of the live generation.
fn vectors_file(env: &TestEnv) -> PathBuf {
    let current = std::fs::read_to_string(env.index().join("CURRENT")).expect("CURRENT");
    let generation = env.index().join(current.trim());
    std::fs::read_dir(&generation)
        .expect("generation")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vectors-"))
        })
        .expect("a vectors file")
}

#[test]
fn a_search_by_words_never_opens_the_vectors_file() {
    let env = TestEnv::new();
    run(&env, &["index"]).expect_code(0);
    let file = vectors_file(&env);
    // A folder in the file's place cannot be read as one (even by root, whom permissions
    // do not stop): a search that opened it would fail or rebuild the index.
    std::fs::remove_file(&file).expect("remove vectors");
    std::fs::create_dir(&file).expect("folder in its place");
    let current = std::fs::read_to_string(env.index().join("CURRENT")).expect("CURRENT");
    let words = run(&env, &["query", "cybersecurity", "--mode", "lexical", "--json"]).expect_code(0);
    assert!(words.stderr.is_empty(), "{}", words.stderr);
    assert_eq!(words.json().hits[0].ordinal, 25);
    let after = std::fs::read_to_string(env.index().join("CURRENT")).expect("CURRENT");
    assert_eq!(after, current, "a search by words rebuilt the index");
    assert!(file.is_dir());
    // A search by meaning reads it, finds it unreadable and rebuilds the index.
    let meaning = run(&env, &["query", "keeping an eye on rivals", "--json"]).expect_code(0);
    assert!(meaning.stderr.contains("damaged"), "{}", meaning.stderr);
    assert_eq!(meaning.json().hits[0].ordinal, 5);
    assert!(vectors_file(&env).is_file());
}

#[test]
fn a_damaged_vectors_file_is_found_by_a_search_by_meaning_and_rebuilt() {
    let env = TestEnv::new();
    run(&env, &["index"]).expect_code(0);
    let file = vectors_file(&env);
    let mut bytes = std::fs::read(&file).expect("read vectors");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&file, &bytes).expect("write vectors");
    let refused = run(
        &env,
        &[
            "query",
            "keeping an eye on rivals",
            "--mode",
            "semantic",
            "--no-refresh",
        ],
    )
    .expect_code(2);
    assert!(refused.stderr.contains("damaged"), "{}", refused.stderr);
    let repaired = run(
        &env,
        &[
            "query",
            "keeping an eye on rivals",
            "--mode",
            "semantic",
            "--json",
        ],
    )
    .expect_code(0);
    assert!(
        repaired.stderr.contains("damaged")
            && repaired
                .stderr
                .contains(&*file.file_name().expect("name").to_string_lossy()),
        "{}",
        repaired.stderr
    );
    assert_eq!(repaired.json().hits[0].ordinal, 5);
    let again = run(&env, &["query", "keeping an eye on rivals", "--mode", "semantic"]).expect_code(0);
    assert!(again.stderr.is_empty(), "{}", again.stderr);
}

#[test]
fn the_half_precision_copy_gives_the_vectors_of_the_full_weights() {
    let model = model();
    assert!(
        embed::prepare_query_weights(&model).expect("half copy"),
        "no half copy could be written in {}",
        model.display()
    );
    let half = QueryEmbedder::load_half_precision(&model).expect("map model");
    assert!(half.uses_half_copy());
    let full = QueryEmbedder::load_full_precision(&model).expect("map model");
    assert!(!full.uses_half_copy());
    // The article's judged queries and its sentences.
    let judged = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/judgements/article.tsv"),
    )
    .expect("judgements");
    let article = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(ARTICLE),
    )
    .expect("article");
    let mut texts: Vec<&str> = judged
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').nth(1))
        .collect();
    assert!(texts.len() >= 40, "{}", texts.len());
    // Every third of them (the product is slow in a test build), and some of the article's
    // sentences.
    texts = texts.into_iter().step_by(3).collect();
    texts.extend(embed::sentences(&article).into_iter().step_by(20).take(6));
    let mut worst = (1.0f32, "");
    for text in texts {
        let cosine = embed::similarity(
            &half.embed(text).expect("half").vector,
            &full.embed(text).expect("full").vector,
        );
        if cosine < worst.0 {
            worst = (cosine, text);
        }
    }
    assert!(worst.0 > 0.999, "cosine {} for {:?}", worst.0, worst.1);
}

/// A copy of one development-set article (its text and taxonomy) indexed with vectors in the
/// test's folder; returns the corpus and index arguments for `query`.
fn devset(env: &TestEnv, name: &str) -> [String; 4] {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/devset")
        .join(name);
    let corpus = env.root().join(name);
    std::fs::create_dir_all(&corpus).expect("folder");
    for file in ["article.txt", "taxonomy.toml"] {
        std::fs::copy(from.join(file), corpus.join(file)).expect("copy devset file");
    }
    let index = env.root().join(format!("{name}-index"));
    let args = [
        "--corpus".to_string(),
        corpus.to_string_lossy().into_owned(),
        "--index".to_string(),
        index.to_string_lossy().into_owned(),
    ];
    let mut build = vec!["index"];
    build.extend(args.iter().map(String::as_str));
    run(env, &build).expect_code(0);
    args
}

fn devset_query(env: &TestEnv, place: &[String; 4], args: &[&str]) -> common::JsonResults {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(place.iter().map(String::as_str));
    query_json(env, &all)
}

#[test]
fn words_the_corpus_lacks_do_not_push_down_what_the_meaning_found() {
    let env = TestEnv::new();
    let place = devset(&env, "nurse-doctor-pharmacist");
    // Of "checking blood pressure and pulse" the article holds only "check" (a pharmacist
    // checks prescriptions); the passage on vital signs says the rest in other words.
    let query = "checking blood pressure and pulse";
    let meaning = devset_query(&env, &place, &[query, "--mode", "semantic"]);
    assert_eq!(meaning.hits[0].ordinal, 2, "{}", meaning.hits[0].text);
    let words = devset_query(&env, &place, &[query, "--mode", "lexical"]);
    assert_ne!(words.hits[0].ordinal, 2, "{}", words.hits[0].text);
    let results = devset_query(&env, &place, &[query, "--explain"]);
    let top = &results.hits[0];
    assert_eq!(top.ordinal, 2, "{}", top.text);
    let fusion = top
        .explanation
        .as_ref()
        .and_then(|e| e.fusion.as_ref())
        .expect("a hybrid explanation");
    assert_eq!(fusion.semantic_rank, Some(1));
}

#[test]
fn on_the_article_a_query_in_other_words_ranks_by_meaning_first() {
    let env = TestEnv::new();
    // "headed" and "coming" are not in the article: the words side ranks passages on "company"
    // and "years" alone; the long-term vision passages say it in other words.
    let results = query_json(&env, &["where the company is headed in the coming years"]);
    let top = &results.hits[0];
    assert!([6, 18].contains(&top.ordinal), "{}: {}", top.ordinal, top.text);
}

#[test]
fn a_query_whose_words_the_corpus_holds_still_ranks_by_both() {
    let env = TestEnv::new();
    let place = devset(&env, "nurse-doctor-pharmacist");
    for (query, ordinal) in [
        ("vital signs", 2),
        ("\"ward rounds\"", 10),
        ("specialsts", 5),
        ("who can prescribe medicine?", 8),
    ] {
        let results = devset_query(&env, &place, &[query]);
        assert_eq!(
            results.hits[0].ordinal, ordinal,
            "{query}: {}",
            results.hits[0].text
        );
    }
}

/// The article's passages as `export` gives them: id and text.
fn article_passages(env: &TestEnv) -> Vec<(String, String)> {
    let export = run(env, &["export", "--format", "ndjson"]).expect_code(0);
    export
        .stdout
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("an ndjson line");
            let field = |name: &str| value[name].as_str().expect("a string field").to_string();
            (field("id"), field("text"))
        })
        .collect()
}

/// The exact f32 vectors of the article's passages and sentences, by row id.
fn exact_rows(env: &TestEnv, embedder: &Embedder) -> Vec<(String, Vec<f32>)> {
    let mut rows = Vec::new();
    for (id, text) in article_passages(env) {
        let units = embed::passage_units(&text);
        let vectors = embedder.embed(&units).expect("embed");
        for (k, vector) in vectors.into_iter().enumerate() {
            rows.push((Vectors::row_id(&id, k), vector));
        }
    }
    rows
}

/// Queries of every kind the article is searched with: other words, questions, exact words.
const SCAN_QUERIES: &[&str] = &[
    "keeping an eye on rivals",
    "who talks to investors?",
    "protecting data from attackers",
    "cybersecurity",
    "publicity",
    "funding",
    "hiring engineers",
    "deciding what to build next",
    "board of directors",
    "company culture and values",
    "technical debt",
    "market research",
];

#[test]
fn quantised_rows_rank_the_article_as_exact_f32_rows_do() {
    let env = TestEnv::new();
    let embedder = Embedder::load(&model()).expect("load model");
    let exact = exact_rows(&env, &embedder);
    let mut stored = Vectors::new(&embedder.fingerprint, embed::DIMENSIONS);
    for (id, vector) in &exact {
        stored.insert(id, vector);
    }
    // Through the file: what a search reads is what was written.
    let file = env.root().join("vectors.bin");
    stored.write(&file).expect("write vectors");
    let stored = Vectors::read(&file).expect("read vectors");
    assert_eq!(stored.len(), exact.len());
    let size = std::fs::metadata(&file).expect("size").len() as usize;
    assert!(size * 3 < exact.len() * embed::DIMENSIONS * 4, "{size} bytes");
    for text in SCAN_QUERIES {
        let query = &embedder.embed(&[*text]).expect("embed query")[0];
        // Exact: every row's f32 cosine, a passage taking its best row.
        let mut best: Vec<(&str, f32)> = Vec::new();
        for (id, vector) in &exact {
            let passage = id.rsplit_once('#').expect("row id").0;
            let similarity = embed::similarity(query, vector);
            match best.iter_mut().find(|(p, _)| *p == passage) {
                Some(entry) => entry.1 = entry.1.max(similarity),
                None => best.push((passage, similarity)),
            }
        }
        best.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let near = stored.nearest_passages(query);
        let top_exact: Vec<&str> = best.iter().take(10).map(|(p, _)| *p).collect();
        let top_stored: Vec<&str> = near.iter().take(10).map(|n| n.passage).collect();
        // The same first 10, but for passages tied with the 10th within rounding.
        let exact_of = |passage: &str| best.iter().find(|(p, _)| *p == passage).map(|(_, s)| *s);
        let tenth = best[9].1;
        for passage in top_stored.iter().filter(|p| !top_exact.contains(p)) {
            let similarity = exact_of(passage).expect("a passage");
            assert!(
                similarity >= tenth - 0.003,
                "{text}: {passage} ({similarity}) in {top_stored:?}"
            );
        }
        for passage in top_exact.iter().filter(|p| !top_stored.contains(p)) {
            let similarity = exact_of(passage).expect("a passage");
            assert!(
                similarity <= tenth + 0.003,
                "{text}: {passage} ({similarity}) missing"
            );
        }
        assert_eq!(top_stored[..3], top_exact[..3], "{text}");
        // A wrong scale or rounding moves cosines by hundredths; half a step a number moves
        // them by about a thousandth.
        for (n, (passage, similarity)) in near.iter().zip(&best).map(|(n, b)| (n, (b.0, b.1))).take(10) {
            assert!(
                (n.similarity - similarity).abs() < 0.003,
                "{text}: {passage} {} against {similarity}",
                n.similarity
            );
        }
        // The floor a search by meaning keeps passages above.
        let floor = 0.25;
        let kept: Vec<&str> = stored.passages_near(query, floor).map(|n| n.passage).collect();
        let kept_exact: Vec<&str> = best
            .iter()
            .filter(|(_, s)| *s >= floor + 0.003)
            .map(|(p, _)| *p)
            .collect();
        // Every passage clearly above the floor is kept, none clearly under it.
        for passage in &kept_exact {
            assert!(kept.contains(passage), "{text}: {passage} not kept");
        }
        for passage in &kept {
            let similarity = exact_of(passage).expect("a passage");
            assert!(
                similarity >= floor - 0.003,
                "{text}: {passage} ({similarity}) kept"
            );
        }
    }
}

#[test]
fn a_vectors_file_cut_short_is_refused_and_rebuilt() {
    let env = TestEnv::new();
    run(&env, &["index"]).expect_code(0);
    let file = vectors_file(&env);
    let bytes = std::fs::read(&file).expect("read vectors");
    assert_eq!(&bytes[..8], b"RSVEC003");
    std::fs::write(&file, &bytes[..bytes.len() * 2 / 3]).expect("cut the file");
    let args = ["query", "keeping an eye on rivals", "--mode", "semantic"];
    let refused = run(&env, &[&args[..], &["--no-refresh"]].concat()).expect_code(2);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("damaged"), "{}", refused.stderr);
    let repaired = run(&env, &[&args[..], &["--json"]].concat()).expect_code(0);
    assert!(
        repaired
            .stderr
            .contains(&*file.file_name().expect("name").to_string_lossy()),
        "{}",
        repaired.stderr
    );
    assert_eq!(repaired.json().hits[0].ordinal, 5);
    let rebuilt = std::fs::read(vectors_file(&env)).expect("read vectors");
    assert_eq!(rebuilt.len(), bytes.len());
}

/// The live index's vectors, read.
fn live_vectors(env: &TestEnv) -> Vectors {
    Vectors::read(&vectors_file(env)).expect("read vectors")
}

#[test]
fn an_update_quantises_a_changed_files_rows_and_keeps_the_others_bytes() {
    let env = TestEnv::new();
    let changed = env.corpus().join("security.txt");
    std::fs::write(
        &changed,
        "Network security\n\nThe firewall keeps intruders out. Every login is logged. Passwords expire.\n",
    )
    .expect("write file");
    run(&env, &["index"]).expect_code(0);
    let before = live_vectors(&env);
    let text = "Backups are copied to another site every night. A restore is tested each month.";
    std::fs::write(&changed, format!("Network security\n\n{text}\n")).expect("rewrite file");
    let updated = run(&env, &["index"]).expect_code(0);
    assert!(updated.stdout.contains("1 changed"), "{}", updated.stdout);
    let after = live_vectors(&env);
    // Rows of the files not read again are the same bytes.
    let kept: Vec<&str> = before
        .ids()
        .filter(|id| !id.starts_with("security.txt:"))
        .collect();
    assert!(!kept.is_empty());
    for id in &kept {
        assert_eq!(after.get(id), before.get(id), "{id}");
    }
    // The changed file's rows are its new texts quantised: each number within half a step.
    let embedder = Embedder::load(&model()).expect("load model");
    let mut units = embed::passage_units(text);
    let mut expected: Vec<String> = (0..units.len())
        .map(|k| Vectors::row_id("security.txt:1", k))
        .collect();
    // Its 14 words also give three windows of 8 words every 4, the last ending on the last word.
    units.extend([
        "Backups are copied to another site every night.",
        "another site every night. A restore is tested",
        "A restore is tested each month.",
    ]);
    expected.extend((1..=3).map(|k| Vectors::window_id("security.txt:1", k)));
    let fresh = embedder.embed(&units).expect("embed");
    let mut new_ids: Vec<&str> = after.ids().filter(|id| id.starts_with("security.txt:")).collect();
    new_ids.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(new_ids, sorted);
    for (id, exact) in expected.iter().zip(&fresh) {
        let stored = after.get(id).expect("a row");
        let step = exact.iter().fold(0f32, |m, x| m.max(x.abs())) / 127.0;
        for (s, x) in stored.iter().zip(exact) {
            assert!((s - x).abs() <= step / 2.0 + 1e-4, "{id}: {s} against {x}");
        }
        assert_ne!(before.get(id), Some(stored), "{id} kept its old vector");
    }
    let results = query_json(
        &env,
        &["restoring lost files", "--mode", "semantic", "--limit", "1"],
    );
    assert_eq!(results.hits[0].source, "security.txt");
}

/// The article's judged queries (every `step`-th) and some of its sentences, of one to a few
/// dozen word pieces (so every grouping of tokens the dense layers use is run), and a text
/// long enough for the matrix-product path.
fn sample_texts(step: usize) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let judged = std::fs::read_to_string(root.join("benches/judgements/article.tsv")).expect("judgements");
    let article = std::fs::read_to_string(root.join("corpus").join(ARTICLE)).expect("article");
    let mut texts: Vec<String> = judged
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').nth(1))
        .step_by(step)
        .map(str::to_string)
        .collect();
    texts.extend(
        embed::sentences(&article)
            .into_iter()
            .step_by(20)
            .take(4)
            .map(str::to_string),
    );
    texts.extend(["ceo".to_string(), "a b".to_string()]);
    texts.push("Product Managers collaborate with cross-functional teams. ".repeat(5));
    texts
}

#[test]
fn the_8_bit_copy_gives_vectors_close_to_the_full_weights() {
    let model = model();
    assert!(
        embed::prepare_query_weights(&model).expect("copies"),
        "no copies could be written in {}",
        model.display()
    );
    let quantized = QueryEmbedder::load(&model).expect("map model");
    assert!(quantized.uses_quantized_copy());
    let full = QueryEmbedder::load_full_precision(&model).expect("map model");
    assert!(!full.uses_quantized_copy() && !full.uses_half_copy());
    let mut worst = (1.0f32, String::new());
    for text in sample_texts(3) {
        let cosine = embed::similarity(
            &quantized.embed(&text).expect("8-bit").vector,
            &full.embed(&text).expect("full").vector,
        );
        if cosine < worst.0 {
            worst = (cosine, text);
        }
    }
    eprintln!("8-bit copy: worst cosine {} for {:?}", worst.0, worst.1);
    assert!(quantized.uses_quantized_copy(), "a part failed its check");
    // Rounding each weight to 8 bits moves the article's texts by a cosine of at most 0.0006;
    // a kernel that dropped a scale, a token or a column would move them far more.
    assert!(worst.0 > 0.998, "cosine {} for {:?}", worst.0, worst.1);
}

/// A model folder of the test's own (the files a query reads, copied), with the copies a
/// build writes beside the model.
fn private_model(env: &TestEnv) -> PathBuf {
    let from = model();
    let dir = env.root().join("model");
    std::fs::create_dir_all(&dir).expect("model folder");
    for file in ["config.json", "tokenizer.json", "vocab.txt", "model.safetensors"] {
        std::fs::copy(from.join(file), dir.join(file)).expect("copy model file");
    }
    assert!(embed::prepare_query_weights(&dir).expect("copies"));
    dir
}

fn flip_byte(path: &std::path::Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= 0x10;
    std::fs::write(path, bytes).expect("write");
}

fn touch(path: &std::path::Path, seconds_ago: u64) {
    let time = std::time::SystemTime::now() - std::time::Duration::from_secs(seconds_ago);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .expect("set time");
}

#[test]
fn a_damaged_or_stale_8_bit_copy_is_ignored_and_rebuilt() {
    let env = TestEnv::new();
    let dir = private_model(&env);
    let copy = dir.join("rsearch-layers-i8.bin");
    let text = "who talks to investors?";
    let quantized = QueryEmbedder::load(&dir).expect("load");
    assert!(quantized.uses_quantized_copy());
    let with_copy = quantized.embed(text).expect("embed").vector;
    // Without the copy, the half copy serves: what a damaged copy must give.
    let aside = dir.join("aside.bin");
    std::fs::rename(&copy, &aside).expect("move copy");
    let without = QueryEmbedder::load(&dir).expect("load");
    assert!(!without.uses_quantized_copy() && without.uses_half_copy());
    let without = without.embed(text).expect("embed").vector;
    assert_ne!(with_copy, without);
    std::fs::rename(&aside, &copy).expect("restore copy");
    let size = std::fs::metadata(&copy).expect("copy").len() as usize;
    // A byte of a matrix (checked when first used), then one of the biases and norms (checked
    // on opening), then one of the checksums.
    for at in [size / 2, 512, 40] {
        flip_byte(&copy, at);
        let damaged = QueryEmbedder::load(&dir).expect("load");
        assert_eq!(damaged.embed(text).expect("embed").vector, without, "byte {at}");
        assert!(!damaged.uses_quantized_copy(), "byte {at}");
        // The next build that embeds writes it again.
        assert!(embed::prepare_query_weights(&dir).expect("copies"));
        let again = QueryEmbedder::load(&dir).expect("load");
        assert_eq!(again.embed(text).expect("embed").vector, with_copy, "byte {at}");
        assert!(again.uses_quantized_copy());
    }
    // Weights changed since the copy was made (a new time): neither copy is used until a
    // build writes them again.
    let before = std::fs::read(&copy).expect("copy");
    touch(&dir.join("model.safetensors"), 3600);
    let stale = QueryEmbedder::load(&dir).expect("load");
    assert!(!stale.uses_quantized_copy() && !stale.uses_half_copy());
    let full = QueryEmbedder::load_full_precision(&dir).expect("load");
    assert_eq!(
        stale.embed(text).expect("embed").vector,
        full.embed(text).expect("embed").vector
    );
    assert!(embed::prepare_query_weights(&dir).expect("copies"));
    assert_ne!(
        std::fs::read(&copy).expect("copy"),
        before,
        "the copy was not rewritten"
    );
    assert!(QueryEmbedder::load(&dir).expect("load").uses_quantized_copy());
}

#[test]
fn a_copy_checked_whole_is_recorded_and_a_later_change_is_still_caught() {
    let env = TestEnv::new();
    let dir = private_model(&env);
    let copy = dir.join("rsearch-layers-i8.bin");
    let record = dir.join("rsearch-layers-i8.checked");
    let text = "who talks to investors?";
    // A copy is recorded only once it has not changed for 2 s (a change within a coarse
    // clock's tick could keep its change time).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let settled = QueryEmbedder::load(&dir).expect("load");
    assert!(!settled.uses_copy_checked_before());
    let vector = settled.embed(text).expect("embed").vector;
    assert!(record.is_file(), "no record once the copy was checked whole");
    // The next process trusts the record: the same vector, no checksum computed.
    let trusted = QueryEmbedder::load(&dir).expect("load");
    assert!(trusted.uses_copy_checked_before());
    assert_eq!(trusted.embed(text).expect("embed").vector, vector);
    // A byte changed after the record: the file's change time no longer matches, its parts
    // are checked, and the damaged one is caught as without a record.
    let size = std::fs::metadata(&copy).expect("copy").len() as usize;
    flip_byte(&copy, size / 2);
    let damaged = QueryEmbedder::load(&dir).expect("load");
    assert!(!damaged.uses_copy_checked_before());
    assert_ne!(damaged.embed(text).expect("embed").vector, vector);
    assert!(!damaged.uses_quantized_copy());
    // A byte of the biases and norms (checked on opening) as well.
    assert!(embed::prepare_query_weights(&dir).expect("copies"));
    flip_byte(&copy, 512);
    let damaged = QueryEmbedder::load(&dir).expect("load");
    assert!(!damaged.uses_quantized_copy() && !damaged.uses_copy_checked_before());
}

#[test]
fn a_damaged_or_stale_vocabulary_table_is_ignored_and_rebuilt() {
    let env = TestEnv::new();
    let dir = private_model(&env);
    let table = dir.join("rsearch-vocab.bin");
    assert!(embed::has_vocab_table(&dir));
    let mut reference = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).expect("tokenizer");
    reference.with_padding(None);
    let texts = sample_texts(4);
    let expect_tokens = |why: &str| {
        let queries = QueryEmbedder::load(&dir).expect("load");
        for text in &texts {
            let ids = reference.encode(text.as_str(), true).expect("encode");
            assert_eq!(
                queries.token_ids(text).expect("ids"),
                ids.get_ids(),
                "{why}: {text:?}"
            );
        }
    };
    expect_tokens("current table");
    let size = std::fs::metadata(&table).expect("table").len() as usize;
    // A byte of the hash table, of the line starts, of the header.
    for at in [size - 100, 200, 20] {
        flip_byte(&table, at);
        assert!(!embed::has_vocab_table(&dir), "byte {at}");
        expect_tokens("damaged table");
        assert!(embed::prepare_query_weights(&dir).expect("copies"));
        assert!(embed::has_vocab_table(&dir), "byte {at}");
    }
    touch(&dir.join("vocab.txt"), 3600);
    assert!(!embed::has_vocab_table(&dir));
    expect_tokens("stale table");
    assert!(embed::prepare_query_weights(&dir).expect("copies"));
    assert!(embed::has_vocab_table(&dir));
    expect_tokens("rebuilt table");
}

#[test]
fn the_explanation_gives_the_words_weight_in_hybrid_mode_only() {
    let env = TestEnv::new();
    let place = devset(&env, "nurse-doctor-pharmacist");
    let weight = |args: &[&str]| {
        let results = devset_query(&env, &place, args);
        results.hits[0]
            .explanation
            .as_ref()
            .and_then(|e| e.fusion.as_ref())
            .expect("an explanation of the fusion")
            .lexical_weight
    };
    // "checking" is in the article (as "checks"); "blood", "pressure" and "pulse" are not.
    let query = "checking blood pressure and pulse";
    assert_eq!(weight(&[query, "--explain"]), Some(0.25));
    assert_eq!(weight(&["vital signs", "--explain"]), Some(1.0));
    assert_eq!(weight(&[query, "--explain", "--mode", "semantic"]), None);
    let plain = run(&env, &{
        let mut args = vec!["query", query, "--explain"];
        args.extend(place.iter().map(String::as_str));
        args
    });
    assert!(plain.stdout.contains("words weighted 0.25"), "{}", plain.stdout);
}

#[test]
fn words_lost_in_a_short_passage_are_found_by_its_windows_of_words() {
    let env = TestEnv::new();
    let place = devset(&env, "nurse-doctor-pharmacist");
    // "bandaging injuries" is 0.18 from the sentence "Nurses monitor vital signs, give
    // medication, dress wounds and …" (below the floor); the window holding "dress wounds" is
    // far closer.
    let meaning = devset_query(&env, &place, &["bandaging injuries", "--mode", "semantic"]);
    assert_eq!(meaning.hits[0].ordinal, 2, "{}", meaning.hits[0].text);
    assert!(
        meaning.hits[0].snippet.starts_with("Nurses monitor vital signs"),
        "{}",
        meaning.hits[0].snippet
    );
    let results = devset_query(&env, &place, &["bandaging injuries"]);
    assert_eq!(results.hits[0].ordinal, 2, "{}", results.hits[0].text);
    let place = devset(&env, "pilot-attendant-controller");
    let results = devset_query(&env, &place, &["refreshments on board"]);
    assert_eq!(results.hits[0].ordinal, 4, "{}", results.hits[0].text);
}

#[test]
fn a_question_that_says_what_a_heading_says_finds_the_passage_under_it() {
    let env = TestEnv::new();
    let place = devset(&env, "data-roles");
    // "Which Role Pays More?" heads the answer, which says "earn more" of two roles by name; the
    // passage's heading row brings it first, where its own rows left it second.
    let query = "which role earns the most?";
    let meaning = devset_query(&env, &place, &[query, "--mode", "semantic"]);
    assert_eq!(meaning.hits[0].ordinal, 8, "{}", meaning.hits[0].text);
    let results = devset_query(&env, &place, &[query]);
    assert_eq!(results.hits[0].ordinal, 8, "{}", results.hits[0].text);
    assert_eq!(results.hits[0].section, ["Which Role Pays More?"]);
}

/// An index whose vectors file lacks a mark of the rows written today (`mark` gives it,
/// by reference): the next update that has anything to do embeds the whole corpus again.
fn vectors_without_a_mark_are_made_again_whole(mark: fn(&mut Vectors) -> &mut bool) {
    let env = TestEnv::new();
    run(&env, &["index"]).expect_code(0);
    // The same vectors as an rsearch without those rows wrote them: no mark.
    let mut old = live_vectors(&env);
    assert!(*mark(&mut old));
    *mark(&mut old) = false;
    old.write(&vectors_file(&env)).expect("write vectors");
    std::fs::write(
        env.corpus().join("security.txt"),
        "Network security\n\nThe firewall keeps intruders out of the company network.\n",
    )
    .expect("write file");
    let rebuilt = run(&env, &["index"]).expect_code(0);
    assert!(
        rebuilt.stderr.contains("embedded 42 passages"),
        "{}",
        rebuilt.stderr
    );
    assert!(*mark(&mut live_vectors(&env)));
}

#[test]
fn vectors_made_before_heading_rows_are_made_again_whole() {
    vectors_without_a_mark_are_made_again_whole(|v| &mut v.headings);
}

#[test]
fn vectors_made_before_windows_of_words_are_made_again_whole() {
    vectors_without_a_mark_are_made_again_whole(|v| &mut v.windows);
}
