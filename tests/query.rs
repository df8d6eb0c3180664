//! End-to-end behaviour of `rsearch query` on the real article.

mod common;

use common::{TestEnv, ARTICLE};

#[test]
fn cybersecurity_ranks_the_cybersecurity_passage_first_labelled_cto() {
    let env = TestEnv::new();
    let results = env.query_json(&["cybersecurity"]);
    let top = &results.hits[0];
    assert!(
        top.text.contains("cybersecurity and data protection"),
        "{}",
        top.text
    );
    assert_eq!(top.roles, ["cto"]);
    assert_eq!(top.rank, 1);
}

#[test]
fn query_builds_the_index_on_first_use_and_says_so() {
    let env = TestEnv::new();
    let first = env.run(&["query", "cybersecurity"]).expect_code(0);
    assert!(first.stderr.contains("building the index"), "{}", first.stderr);
    assert_eq!(first.stderr.lines().count(), 1, "{}", first.stderr);
    assert!(env.index().join("CURRENT").exists());
    let second = env.run(&["query", "cybersecurity"]).expect_code(0);
    assert!(second.stderr.is_empty(), "{}", second.stderr);
}

#[test]
fn role_filter_returns_only_passages_with_that_role() {
    let env = TestEnv::new();
    let results = env.query_json(&["investors", "--role", "ceo"]);
    assert!(!results.hits.is_empty());
    for hit in &results.hits {
        assert!(hit.roles.contains(&"ceo".to_string()), "{hit:?}");
    }
    let unfiltered = env.query_json(&["investors"]);
    assert!(unfiltered.total_hits >= results.total_hits);
}

#[test]
fn role_filter_accepts_name_or_alias_in_any_case() {
    let env = TestEnv::new();
    let by_slug = env.query_json(&["technologies", "--role", "cto"]);
    for value in ["CTO", "Chief Technology Officer", "chief technology officers"] {
        let by_alias = env.query_json(&["technologies", "--role", value]);
        assert_eq!(by_alias.total_hits, by_slug.total_hits, "{value}");
    }
}

#[test]
fn repeated_role_flags_mean_any_of() {
    let env = TestEnv::new();
    let ceo = env
        .query_json(&["company", "--role", "ceo", "--limit", "100"])
        .total_hits;
    let cto = env.query_json(&["company", "--role", "cto", "--limit", "100"]);
    let both = env.query_json(&["company", "--role", "ceo", "--role", "cto", "--limit", "100"]);
    assert!(both.total_hits >= ceo.max(cto.total_hits));
    for hit in &both.hits {
        assert!(hit.roles.iter().any(|r| r == "ceo" || r == "cto"), "{hit:?}");
    }
}

#[test]
fn topic_filter_keeps_only_that_topic() {
    let env = TestEnv::new();
    let results = env.query_json(&["skills", "--role", "cto", "--topic", "skills"]);
    for hit in &results.hits {
        assert!(
            hit.topics.contains(&"skills".to_string()) && hit.roles.contains(&"cto".to_string()),
            "{hit:?}"
        );
    }
    assert!(results.hits[0].section.last().is_some_and(|s| s.contains("CTO")));
}

#[test]
fn unknown_role_fails_with_exit_2_listing_the_valid_roles() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let run = env.run(&["query", "investors", "--role", "cfo"]).expect_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    for slug in ["product-manager", "ceo", "cto"] {
        assert!(run.stderr.contains(slug), "{}", run.stderr);
    }
    assert!(run.stdout.is_empty());
}

#[test]
fn unknown_topic_fails_with_exit_2_listing_the_valid_topics() {
    let env = TestEnv::new();
    let run = env.run(&["query", "x", "--topic", "pricing"]).expect_code(2);
    assert!(
        run.stderr.contains("skills") && run.stderr.contains("collaboration"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_output_carries_every_contract_field() {
    let env = TestEnv::new();
    let results = env.query_json(&["market research"]);
    assert_eq!(results.query, "market research");
    assert!(results.total_hits >= results.hits.len());
    let hit = &results.hits[0];
    assert_eq!(hit.source, ARTICLE);
    assert_eq!(
        hit.document,
        "Product Manager vs CEO vs CTO: Unveiling Key Differences and Roles"
    );
    assert_eq!(hit.id, format!("{ARTICLE}:{}", hit.ordinal));
    assert!(!hit.section.is_empty());
    assert!(hit.score > 0.0);
    assert!(hit.text.contains(&hit.snippet) || hit.snippet.is_empty());
    for [start, end] in &hit.highlights {
        assert!(
            hit.snippet[*start..*end].to_lowercase().starts_with("market")
                || hit.snippet[*start..*end].to_lowercase().starts_with("research")
        );
    }
    let role_total: u64 = results.facets.roles.values().sum();
    assert!(role_total > 0);
}

#[test]
fn query_that_matches_nothing_exits_1() {
    let env = TestEnv::new();
    let run = env.run(&["query", "xylophone"]).expect_code(1);
    assert!(run.stdout.contains("no passage matches"), "{}", run.stdout);
    let json = env.run(&["query", "xylophone", "--json"]).expect_code(1).json();
    assert_eq!(json.total_hits, 0);
    assert!(json.hits.is_empty());
}

#[test]
fn question_with_punctuation_is_a_valid_query() {
    let env = TestEnv::new();
    let results = env.query_json(&["who talks to investors?"]);
    assert!(results.hits[0].text.contains("investors"));
}

#[test]
fn odd_query_syntax_never_fails() {
    let env = TestEnv::new();
    for query in [
        "\"",
        "AND",
        "OR",
        "+",
        "-",
        "((",
        "title:",
        "a:b:c",
        "[to",
        "*",
        "^2",
        "~",
        "\\",
        "!!!",
        "Note: skills",
    ] {
        let run = env.run(&["query", query]);
        assert!(
            run.code == 0 || run.code == 1,
            "{query:?} gave {}: {}",
            run.code,
            run.stderr
        );
        assert!(
            run.stderr.lines().all(|l| l.contains("building the index")),
            "{query:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn quoted_phrase_matches_the_words_in_order() {
    let env = TestEnv::new();
    let results = env.query_json(&["\"board of directors\"", "--limit", "50"]);
    assert!(!results.hits.is_empty());
    for hit in &results.hits {
        assert!(hit.text.contains("board of directors"), "{}", hit.text);
    }
}

#[test]
fn excluded_term_removes_passages() {
    let env = TestEnv::new();
    let all = env.query_json(&["investors", "--limit", "50"]);
    let run = env.run(&["query", "investors -media", "--json", "--limit", "50"]);
    let without = run.json();
    assert!(without.total_hits < all.total_hits);
    for hit in &without.hits {
        assert!(!hit.text.contains("media"), "{}", hit.text);
    }
}

#[test]
fn required_terms_and_and_operator_narrow_results() {
    let env = TestEnv::new();
    let either = env.query_json(&["investors media", "--limit", "50"]).total_hits;
    let both = env.query_json(&["investors AND media", "--limit", "50"]);
    let plus = env.query_json(&["+investors +media", "--limit", "50"]);
    assert!(both.total_hits < either);
    assert_eq!(both.total_hits, plus.total_hits);
    for hit in &both.hits {
        assert!(hit.text.contains("investors") && hit.text.contains("media"));
    }
}

#[test]
fn stemming_matches_other_forms_of_a_word() {
    let env = TestEnv::new();
    let results = env.query_json(&["collaborating", "--limit", "50"]);
    assert!(results.hits.iter().any(|h| h.text.contains("collaborate ")));
}

#[test]
fn heading_matches_count_but_less_than_body_matches() {
    let env = TestEnv::new();
    let results = env.query_json(&["interplay", "--limit", "50"]);
    // "interplay" is in one heading and in the body of the introduction.
    assert!(
        results.hits[0].text.contains("interplay"),
        "{:?}",
        results.hits[0]
    );
    assert!(results
        .hits
        .iter()
        .any(|h| !h.text.to_lowercase().contains("interplay")));
}

#[test]
fn limit_caps_hits_but_not_total() {
    let env = TestEnv::new();
    let results = env.query_json(&["company", "--limit", "2"]);
    assert_eq!(results.hits.len(), 2);
    assert!(results.total_hits > 2);
    assert_eq!(results.hits.iter().map(|h| h.rank).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn full_flag_prints_the_whole_passage() {
    let env = TestEnv::new();
    let snippet = env
        .run(&["query", "cybersecurity", "--color", "never"])
        .expect_code(0);
    let full = env
        .run(&["query", "cybersecurity", "--full", "--color", "never"])
        .expect_code(0);
    let ending = "relevant regulations and industry standards.";
    assert!(full.stdout.contains(ending), "{}", full.stdout);
    assert!(!snippet.stdout.contains(ending), "{}", snippet.stdout);
    assert!(full.stdout.contains("**cybersecurity**"));
}

#[test]
fn human_output_shows_rank_score_labels_breadcrumb_source_and_highlight() {
    let env = TestEnv::new();
    let run = env
        .run(&["query", "cybersecurity", "--color", "never"])
        .expect_code(0);
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("1. "), "{first}");
    assert!(
        first.contains(ARTICLE) && first.contains("score") && first.contains("cto"),
        "{first}"
    );
    assert!(
        run.stdout
            .contains("Distinguishing the Key Differences › Product Manager vs CEO"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("**cybersecurity**"));
    assert!(!run.stdout.contains('\x1b'));
}

#[test]
fn colour_is_used_only_when_asked_or_on_a_terminal() {
    let env = TestEnv::new();
    let always = env
        .run(&["query", "cybersecurity", "--color", "always"])
        .expect_code(0);
    assert!(always.stdout.contains("\x1b["));
    let auto_piped = env.run(&["query", "cybersecurity"]).expect_code(0);
    assert!(!auto_piped.stdout.contains('\x1b'));
    let never = env
        .run_with_env(
            &["query", "cybersecurity", "--color", "never"],
            &[("NO_COLOR", "1")],
        )
        .expect_code(0);
    assert!(!never.stdout.contains('\x1b'));
}

/// A query whose hits all fit in the top counts them from the top, a larger one in a second
/// pass over the index: both give the same total and label counts.
#[test]
fn totals_and_label_counts_agree_whether_every_hit_fits_in_the_top_or_not() {
    let env = TestEnv::new();
    for query in ["market research", "technology", "board of directors", "strategie"] {
        let all = env.query_json(&[query, "--limit", "100000"]);
        let one = env.query_json(&[query, "--limit", "1"]);
        assert!(all.total_hits > 1, "{query}");
        assert_eq!(all.total_hits, all.hits.len(), "{query}");
        assert_eq!(one.total_hits, all.total_hits, "{query}");
        assert!(!all.facets.roles.is_empty(), "{query}");
        assert_eq!(one.facets.roles, all.facets.roles, "{query}");
        assert_eq!(one.facets.topics, all.facets.topics, "{query}");
    }
}

/// The total and the label counts of a query larger than its top are counted beside the top
/// hits on another thread: with filters of each kind, both, or several of one kind, they equal
/// those made from every hit.
#[test]
fn counts_made_beside_the_top_equal_those_of_every_hit_under_every_filter() {
    let env = TestEnv::new();
    let filters: [&[&str]; 5] = [
        &[],
        &["--role", "ceo"],
        &["--topic", "responsibilities"],
        &["--role", "cto", "--topic", "skills"],
        &[
            "--role",
            "ceo",
            "--role",
            "product-manager",
            "--topic",
            "differences",
            "--topic",
            "skills",
        ],
    ];
    let mut counted = 0;
    for query in [
        "market research",
        "technology team",
        "product",
        "decisions OR strategy",
    ] {
        for filter in filters {
            let with = |limit: &str| {
                let mut args = vec![query, "--limit", limit, "--json"];
                args.extend_from_slice(filter);
                let mut all = vec!["query"];
                all.extend_from_slice(&args);
                env.run(&all).json()
            };
            let (all, top) = (with("100000"), with("2"));
            assert_eq!(all.total_hits, all.hits.len(), "{query} {filter:?}");
            assert_eq!(top.total_hits, all.total_hits, "{query} {filter:?}");
            assert_eq!(top.facets.roles, all.facets.roles, "{query} {filter:?}");
            assert_eq!(top.facets.topics, all.facets.topics, "{query} {filter:?}");
            if all.total_hits > 2 {
                counted += 1;
                assert_eq!(top.hits.len(), 2, "{query} {filter:?}");
            }
        }
    }
    assert!(
        counted >= 12,
        "only {counted} searches had more hits than their top"
    );
}
