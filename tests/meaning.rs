//! Search by meaning with the real embedding model: loading it, the article's vectors, a query
//! in other words, incremental updates of the vectors, and everything working without it.
//!
//! The model is found through `RSEARCH_MODEL` or in `models/all-MiniLM-L6-v2` of the project
//! (`scripts/fetch-model.sh`, which CI runs first); these tests fail, not skip, without it.

mod common;

use std::path::PathBuf;

use common::{TestEnv, ARTICLE};
use rsearch::embed::{self, Embedder, QueryEmbedder};
use rsearch::index::{CorpusChoice, Freshness, OpenSettings, VectorSettings};

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
    let queries = QueryEmbedder::load(&model).expect("map model");
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
    let half = QueryEmbedder::load(&model).expect("map model");
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
