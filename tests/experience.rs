//! End-to-end behaviour of the query experience: typo tolerance, facets, role comparison,
//! explanations, structure views and terminal manners, on the real article.

mod common;

use std::collections::BTreeMap;

use common::{TestEnv, ARTICLE};

#[test]
fn misspelled_word_finds_the_cybersecurity_passage_first_and_highlights_it() {
    let env = TestEnv::new();
    let results = env.query_json(&["cybersecurty"]);
    let top = &results.hits[0];
    assert!(
        top.text.contains("cybersecurity and data protection"),
        "{}",
        top.text
    );
    assert_eq!(top.highlighted(), ["cybersecurity"]);
}

#[test]
fn misspelled_word_finds_the_stakeholder_passages() {
    let env = TestEnv::new();
    let results = env.query_json(&["stakeholdrs", "--limit", "50"]);
    assert!(results.total_hits >= 3);
    for hit in &results.hits {
        assert!(hit.text.contains("stakeholders"), "{}", hit.text);
        assert!(
            hit.highlighted().iter().any(|w| w == "stakeholders"),
            "{:?}",
            hit.highlighted()
        );
    }
}

#[test]
fn unknown_word_gets_a_did_you_mean_on_stderr_and_in_json() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let run = env.run(&["query", "cybersecurty"]).expect_code(0);
    assert_eq!(run.stderr.trim(), "did you mean: cybersecurity?");
    let json = env.query_json(&["cybersecurty"]);
    assert_eq!(json.did_you_mean.as_deref(), Some("cybersecurity"));
    let known = env.query_json(&["cybersecurity"]);
    assert_eq!(known.did_you_mean, None);
}

#[test]
fn did_you_mean_keeps_the_rest_of_the_query() {
    let env = TestEnv::new();
    let json = env.query_json(&["market reserch"]);
    assert_eq!(json.did_you_mean.as_deref(), Some("market research"));
}

#[test]
fn exact_flag_turns_typo_tolerance_off() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let run = env.run(&["query", "cybersecurty", "--exact"]).expect_code(1);
    assert!(
        run.stderr.contains("did you mean: cybersecurity?"),
        "{}",
        run.stderr
    );
}

#[test]
fn words_under_five_letters_must_match_exactly() {
    let env = TestEnv::new();
    // "dta" is one edit from "data" but too short for a typo.
    env.run(&["query", "dta"]).expect_code(1);
    // "dataa" has five letters: one typo is allowed.
    let results = env.query_json(&["dataa"]);
    assert!(results.hits[0].text.to_lowercase().contains("data"));
}

#[test]
fn exact_matches_rank_above_typo_matches() {
    // `cybersecurity` is in one passage of the article, so typo tolerance runs; a second file
    // repeats a misspelling of it, which scores higher than the exact passage unless typo
    // matches weigh less.
    let env = TestEnv::new();
    std::fs::write(
        env.corpus().join("typo.txt"),
        "Cybersecurty notes\n\ncybersecurty cybersecurty cybersecurty cybersecurty.\n",
    )
    .expect("write typo file");
    let exact = env.query_json(&["cybersecurity", "--exact", "--limit", "100"]);
    let tolerant = env.query_json(&["cybersecurity", "--limit", "100"]);
    assert!(
        tolerant.total_hits > exact.total_hits,
        "typo matches must add hits: {} vs {}",
        tolerant.total_hits,
        exact.total_hits
    );
    let exact_ids: Vec<&str> = exact.hits.iter().map(|h| h.id.as_str()).collect();
    let leading: Vec<&str> = tolerant
        .hits
        .iter()
        .take(exact_ids.len())
        .map(|h| h.id.as_str())
        .collect();
    assert_eq!(
        leading, exact_ids,
        "exact hits must come first, in the same order"
    );
}

#[test]
fn facet_counts_equal_the_hits_per_label_before_the_limit() {
    let env = TestEnv::new();
    let all = env.query_json(&["company", "--limit", "1000"]);
    let limited = env.query_json(&["company", "--limit", "3"]);
    let mut roles: BTreeMap<String, u64> = BTreeMap::new();
    let mut topics: BTreeMap<String, u64> = BTreeMap::new();
    for hit in &all.hits {
        for r in &hit.roles {
            *roles.entry(r.clone()).or_default() += 1;
        }
        for t in &hit.topics {
            *topics.entry(t.clone()).or_default() += 1;
        }
    }
    assert_eq!(all.hits.len(), all.total_hits);
    assert_eq!(all.facets.roles, roles);
    assert_eq!(all.facets.topics, topics);
    assert_eq!(limited.facets.roles, roles, "facets must not depend on --limit");
}

#[test]
fn human_output_ends_with_a_facet_footer() {
    let env = TestEnv::new();
    let run = env
        .run(&["query", "investors", "--color", "never"])
        .expect_code(0);
    let footer = run.stdout.lines().last().unwrap_or_default();
    assert!(
        footer.contains("roles: ceo 2") && footer.contains("topics:"),
        "{footer}"
    );
}

#[test]
fn by_role_returns_only_that_roles_passages_under_each_role() {
    let env = TestEnv::new();
    let json = env.query_json(&["market research", "--by-role"]);
    let by_role = json.by_role.expect("by_role");
    assert_eq!(
        by_role.keys().collect::<Vec<_>>(),
        ["ceo", "cto", "product-manager"]
    );
    for (role, hits) in &by_role {
        assert!(hits.len() <= 2, "default limit per role is 2");
        for hit in hits {
            assert!(hit.roles.contains(role), "{role}: {hit:?}");
        }
    }
    assert!(!by_role["product-manager"].is_empty());
}

#[test]
fn by_role_says_when_a_role_has_no_hit() {
    let env = TestEnv::new();
    let run = env
        .run(&["query", "market research", "--by-role", "--color", "never"])
        .expect_code(0);
    assert!(run.stdout.contains("── CTO (cto)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("no passage about CTO matches"),
        "{}",
        run.stdout
    );
    let pm = run.stdout.find("── Product Manager").unwrap_or(usize::MAX);
    let ceo = run.stdout.find("── CEO").unwrap_or(0);
    assert!(pm < ceo, "roles in taxonomy order");
}

#[test]
fn explain_gives_term_scores_and_the_alias_behind_each_label() {
    let env = TestEnv::new();
    let json = env.query_json(&["investors", "--explain"]);
    let explanation = json.hits[0].explanation.as_ref().expect("explanation");
    let term = &explanation.terms[0];
    assert_eq!((term.field.as_str(), term.term.as_str()), ("text", "investor"));
    assert!(
        (term.score - json.hits[0].score).abs() < 1e-3,
        "{} vs {}",
        term.score,
        json.hits[0].score
    );
    assert!(
        explanation
            .labels
            .iter()
            .any(|l| l.starts_with("role ceo: \"CEOs\"")),
        "{:?}",
        explanation.labels
    );
    let run = env
        .run(&["query", "investors", "--explain", "--color", "never"])
        .expect_code(0);
    assert!(
        run.stdout.contains("text:investor") && run.stdout.contains("role ceo: \"CEOs\""),
        "{}",
        run.stdout
    );
}

#[test]
fn explain_marks_typo_matches() {
    let env = TestEnv::new();
    let json = env.query_json(&["cybersecurty", "--explain"]);
    let terms = &json.hits[0].explanation.as_ref().expect("explanation").terms;
    assert!(
        terms.iter().any(|t| t.typo && t.term == "cybersecur"),
        "{terms:?}"
    );
}

#[test]
fn explain_names_the_heading_when_a_label_comes_from_it() {
    let env = TestEnv::new();
    let json = env.query_json(&["evaluate new technologies", "--explain", "--role", "cto"]);
    let labels = &json.hits[0].explanation.as_ref().expect("explanation").labels;
    assert!(labels.iter().any(|l| l.contains("in heading")), "{labels:?}");
}

#[test]
fn sections_prints_the_outline_without_caption_headings() {
    let env = TestEnv::new();
    let run = env.run(&["sections"]).expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let top = lines
        .iter()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.contains("before the first heading"))
        .count();
    let sub = lines
        .iter()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .count();
    assert_eq!(top, 4, "{}", run.stdout);
    assert_eq!(sub, 10, "{}", run.stdout);
    for caption in [
        "What is a project manager?",
        "Chief Executive Officer (CEO)",
        "Chief Technology Officer (CTO)",
    ] {
        let line = lines
            .iter()
            .find(|l| l.contains(caption))
            .expect("caption listed");
        assert!(line.trim_start().starts_with("caption: "), "{line}");
        assert!(line.contains("(why: "), "a caption says why it is one: {line}");
    }
    let ceo = lines
        .iter()
        .find(|l| l.contains("Chief Executive Officer (CEO)"))
        .expect("caption listed");
    assert!(ceo.contains("full name of a role with its acronym"), "{ceo}");
    assert!(
        run.stdout
            .contains("Role of a CTO  4 passages  cto · responsibilities"),
        "{}",
        run.stdout
    );
}

#[test]
fn labels_lists_roles_and_topics_with_passage_counts() {
    let env = TestEnv::new();
    let run = env.run(&["labels"]).expect_code(0);
    assert!(run.stdout.contains("Chief Technology Officer"), "{}", run.stdout);
    let all = env.query_json(&[
        "company OR the OR role OR skills OR ceo OR cto OR product",
        "--limit",
        "1000",
    ]);
    let cto_line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("cto "))
        .expect("cto line");
    let count: u64 = cto_line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(count >= all.facets.roles["cto"], "{cto_line}");
}

#[test]
fn sections_json_lists_each_document_with_its_sections_in_reading_order() {
    let env = TestEnv::new();
    let run = env.run(&["sections", "--json"]).expect_code(0);
    let outlines: Vec<common::JsonOutline> =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{}", run.stdout));
    assert_eq!(outlines.len(), 1);
    let article = &outlines[0];
    assert_eq!(article.source, ARTICLE);
    assert_eq!(
        article.title,
        "Product Manager vs CEO vs CTO: Unveiling Key Differences and Roles"
    );
    assert_eq!(article.passages, 41);
    assert_eq!(
        article.sections.iter().map(|s| s.passages).sum::<usize>(),
        article.passages
    );
    assert!(article.sections[0].path.is_empty());
    let cto = article
        .sections
        .iter()
        .find(|s| s.path == ["Understanding the Core Responsibilities", "Role of a CTO"])
        .expect("Role of a CTO section");
    assert_eq!(cto.passages, 4);
    assert_eq!(cto.captions, ["Chief Technology Officer (CTO)"]);
    for section in &article.sections {
        assert_eq!(
            section.caption_reasons.len(),
            section.captions.len(),
            "{:?}",
            section.path
        );
    }
    assert!(
        cto.caption_reasons[0]
            .iter()
            .any(|r| r.contains("full name of a role")),
        "{:?}",
        cto.caption_reasons
    );
}

#[test]
fn labels_json_lists_the_taxonomy_with_passage_counts() {
    let env = TestEnv::new();
    let run = env.run(&["labels", "--json"]).expect_code(0);
    let labels: common::JsonLabels =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{}", run.stdout));
    let slugs: Vec<&str> = labels.roles.iter().map(|r| r.slug.as_str()).collect();
    assert_eq!(slugs, ["product-manager", "ceo", "cto"]);
    assert_eq!(labels.topics.len(), 6);
    let cto = &labels.roles[2];
    assert_eq!(cto.name, "CTO");
    assert!(
        cto.terms.iter().any(|t| t == "Chief Technology Officer"),
        "{:?}",
        cto.terms
    );
    let all = env.query_json(&["cto OR ctos OR chief", "--role", "cto", "--limit", "1000"]);
    assert_eq!(cto.passages, all.facets.roles["cto"]);
}

#[test]
fn show_prints_a_passage_with_its_neighbours() {
    let env = TestEnv::new();
    let id = format!("{ARTICLE}:25");
    let run = env
        .run(&["show", &id, "--context", "1", "--color", "never"])
        .expect_code(0);
    assert!(
        run.stdout.contains("24- CTOs collaborate closely"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("25: In addition, CTOs play a crucial role in cybersecurity"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("26- [Distinguishing the Key Differences › Product Manager vs CTO]"),
        "{}",
        run.stdout
    );
    let missing = env.run(&["show", "nope.txt:1"]).expect_code(2);
    assert!(
        missing.stderr.contains("no passage with id"),
        "{}",
        missing.stderr
    );
}

#[test]
fn query_context_attaches_neighbours_to_each_hit() {
    let env = TestEnv::new();
    let json = env.query_json(&["cybersecurity", "--context", "2"]);
    let hit = &json.hits[0];
    let context = hit.context.as_ref().expect("context");
    let before: Vec<u64> = context.before.iter().map(|n| n.ordinal).collect();
    let after: Vec<u64> = context.after.iter().map(|n| n.ordinal).collect();
    assert_eq!(before, [hit.ordinal - 2, hit.ordinal - 1]);
    assert_eq!(after, [hit.ordinal + 1, hit.ordinal + 2]);
}

#[test]
fn first_passage_has_no_context_before_it() {
    let env = TestEnv::new();
    let run = env
        .run(&["show", &format!("{ARTICLE}:1"), "-C", "2", "--json"])
        .expect_code(0);
    let hit: common::JsonHit = serde_json::from_str(&run.stdout).expect("json hit");
    let context = hit.context.expect("context");
    assert!(context.before.is_empty());
    assert_eq!(context.after.len(), 2);
}

#[test]
fn color_never_output_has_no_escape_codes() {
    // Under a pseudo-terminal `auto` colours, so only `never` can keep the escapes out.
    let env = TestEnv::new();
    let control = env.run_on_tty("query cybersecurity");
    assert!(control.contains('\x1b'), "auto on a terminal colours:\n{control}");
    for args in [
        "query cybersecurity --color never --explain -C 1",
        "query 'market research' --by-role --color never",
    ] {
        let out = env.run_on_tty(args);
        assert!(out.contains("1. "), "{args}: {out}");
        assert!(!out.contains('\x1b'), "{args}: {out}");
    }
}

#[test]
fn jsonl_prints_one_hit_per_line() {
    let env = TestEnv::new();
    let run = env
        .run(&["query", "company", "--format", "jsonl", "--limit", "4"])
        .expect_code(0);
    let hits: Vec<common::JsonHit> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one hit per line"))
        .collect();
    assert_eq!(hits.iter().map(|h| h.rank).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn completions_generate_for_each_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = env.run(&["completions", shell]).expect_code(0);
        assert!(
            run.stdout.contains("rsearch") && run.stdout.contains("by-role"),
            "{shell}"
        );
    }
    env.run(&["completions", "tcsh"]).expect_code(2);
}

#[test]
fn man_page_renders_roff() {
    let env = TestEnv::new();
    let run = env.run(&["man"]).expect_code(0);
    assert!(
        run.stdout.contains(".TH rsearch 1") && run.stdout.contains("query"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
}

#[test]
fn help_of_every_command_shows_an_example() {
    let env = TestEnv::new();
    let top = env.run(&["--help"]).expect_code(0);
    assert!(top.stdout.contains("Examples:"));
    for command in [
        "index",
        "query",
        "sections",
        "labels",
        "show",
        "completions",
        "man",
    ] {
        let run = env.run(&[command, "--help"]).expect_code(0);
        assert!(run.stdout.contains("Example"), "{command}: {}", run.stdout);
    }
}

#[test]
fn rare_word_also_matches_its_correct_spelling_below_the_exact_match() {
    let env = TestEnv::new();
    std::fs::write(
        env.corpus().join("budget.txt"),
        "Budget notes\n\nThe quarterly budgt review was late again this year.\n\n\
         The quarterly budget review was late again this year.\n",
    )
    .expect("write");
    let tolerant = env.query_json(&["budgt"]);
    let texts: Vec<&str> = tolerant.hits.iter().map(|h| h.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "The quarterly budgt review was late again this year.",
            "The quarterly budget review was late again this year."
        ],
        "the exact match ranks above the typo match of the same text"
    );
    assert!(tolerant.hits[0].score > tolerant.hits[1].score);
    assert_eq!(tolerant.hits[1].highlighted(), ["budget"]);
    let exact = env.query_json(&["budgt", "--exact"]);
    assert_eq!(exact.total_hits, 1);
}

#[test]
fn first_letter_typo_counts_double() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    // "narket" is one substitution from "market", but on the first letter: two typos, and a
    // six-letter word allows one.
    env.run(&["query", "narket"]).expect_code(1);
    // The same typo further in is forgiven.
    assert!(env.query_json(&["maeket"]).hits[0].text.contains("market"));
}
