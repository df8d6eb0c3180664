//! Every kind of bad input gets one clear answer: exit 2 with one line on stderr starting
//! `rsearch: `, or a warning naming the file with the rest still indexed. Never a panic.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use common::{assert_no_panic, one_error_line, one_warning, TestEnv, ARTICLE};
use rsearch::search::{self, Request};

/// The article's passage count: what a corpus of only the article indexes.
const ARTICLE_PASSAGES: usize = 41;

#[test]
fn missing_corpus_folder_is_an_error() {
    let env = TestEnv::new();
    for args in [
        vec!["index", "--corpus", "nowhere"],
        vec!["query", "cto", "--corpus", "nowhere"],
    ] {
        let message = one_error_line(env.run(&args));
        assert_eq!(
            message, "rsearch: corpus folder nowhere cannot be read: No such file or directory (os error 2)",
            "{args:?}"
        );
    }
    assert!(!env.index().join("CURRENT").exists());
}

#[test]
fn empty_corpus_folder_is_an_error() {
    let env = TestEnv::new();
    fs::create_dir(env.root().join("empty")).expect("mkdir");
    let message = one_error_line(env.run(&["index", "--corpus", "empty"]));
    assert_eq!(
        message,
        "rsearch: corpus folder empty holds no .txt, .md or .html file"
    );
}

#[test]
fn folder_without_txt_or_md_is_an_error() {
    let env = TestEnv::new();
    let other = env.root().join("other");
    fs::create_dir_all(other.join("sub")).expect("mkdir");
    fs::write(other.join("notes.csv"), "a,b\n").expect("write");
    fs::write(other.join("sub/paper.pdf"), "%PDF-1.4").expect("write");
    fs::write(other.join(".hidden.txt"), "hidden text").expect("write");
    let message = one_error_line(env.run(&["index", "--corpus", "other"]));
    assert_eq!(
        message,
        "rsearch: corpus folder other holds no .txt, .md or .html file"
    );
}

#[test]
fn zero_byte_file_is_skipped_with_a_warning() {
    let env = TestEnv::new();
    fs::write(env.corpus().join("empty.txt"), "").expect("write");
    let run = env.run(&["index"]);
    let stdout = run.stdout.clone();
    assert_eq!(
        one_warning(run),
        "rsearch: warning: skipping empty.txt: empty file"
    );
    assert!(stdout.starts_with("indexed 1 file, 41 passages"), "{stdout}");
}

#[test]
fn non_utf8_file_is_indexed_with_invalid_bytes_replaced() {
    let env = TestEnv::new();
    let mut bytes = b"Latin-1 notes\n\nThe caf".to_vec();
    bytes.push(0xe9); // "é" in Latin-1: not UTF-8
    bytes.extend_from_slice(b" sells quinoa porridge to every CTO.\n");
    fs::write(env.corpus().join("latin1.txt"), bytes).expect("write");
    let run = env.run(&["index"]);
    assert_eq!(
        one_warning(run),
        "rsearch: warning: latin1.txt is not valid UTF-8 (first bad byte at offset 22): \
         invalid bytes replaced by U+FFFD"
    );
    let hit = &env.query_json(&["quinoa"]).hits[0];
    assert_eq!(hit.source, "latin1.txt");
    assert_eq!(hit.text, "The caf\u{fffd} sells quinoa porridge to every CTO.");
}

#[test]
fn binary_file_named_txt_is_skipped_with_a_warning() {
    let env = TestEnv::new();
    let blob: Vec<u8> = (0..4096u32)
        .map(|i| if i % 4 == 0 { 0 } else { (i % 251) as u8 })
        .collect();
    fs::write(env.corpus().join("blob.txt"), blob).expect("write");
    let run = env.run(&["index"]);
    let stdout = run.stdout.clone();
    assert_eq!(
        one_warning(run),
        "rsearch: warning: skipping blob.txt: binary file"
    );
    assert!(stdout.starts_with("indexed 1 file, 41 passages"), "{stdout}");
}

#[test]
fn twenty_megabyte_file_without_a_line_break_is_indexed() {
    let env = TestEnv::new();
    let article = fs::read_to_string(env.corpus().join(ARTICLE)).expect("read");
    let one_line = article.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut huge = String::with_capacity(20 << 20);
    while huge.len() < (20 << 20) - one_line.len() {
        huge.push_str(&one_line);
        huge.push(' ');
    }
    huge.push_str("The last sentence mentions a zanzibar.");
    assert!(huge.len() > 20_000_000 && !huge.contains('\n'));
    fs::write(env.corpus().join("huge.txt"), &huge).expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(run.stdout.starts_with("indexed 2 files"), "{}", run.stdout);
    let results = env.query_json(&["zanzibar", "--full"]);
    assert_eq!(results.total_hits, 1);
    assert_eq!(results.hits[0].source, "huge.txt");
    assert!(results.hits[0].text.ends_with("mentions a zanzibar."));
}

#[test]
fn run_on_paragraph_without_a_sentence_end_is_cut_under_the_passage_cap() {
    let env = TestEnv::new();
    // 100 KB of words with no full stop: one sentence, which used to be one passage.
    let words: Vec<String> = (0..20_000).map(|i| format!("w{i}")).collect();
    let text = format!("Run on\n\naardvark {} zanzibar\n", words.join(" "));
    fs::write(env.corpus().join("runon.txt"), &text).expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(run.stdout.starts_with("indexed 2 files"), "{}", run.stdout);
    let first = &env.query_json(&["aardvark", "--full"]).hits[0];
    let last = &env.query_json(&["zanzibar", "--full"]).hits[0];
    for hit in [first, last] {
        assert_eq!(hit.source, "runon.txt");
        assert!(hit.text.len() <= 4096, "{} bytes", hit.text.len());
    }
    assert!(first.text.starts_with("aardvark w0 w1 "), "{}", &first.text[..40]);
    assert!(last.text.ends_with(" w19999 zanzibar"));
    // Nothing lost: the passages in between hold every word, cut only between words.
    let passages = last.ordinal as usize;
    assert!(passages >= 25, "{passages} passages");
    let run = env.run(&["show", "runon.txt:1", "--context", "100", "--format", "json"]);
    let shown: serde_json::Value = serde_json::from_str(&run.expect_code(0).stdout).expect("json");
    let mut all = vec![shown["text"].as_str().expect("text").to_string()];
    for after in shown["context"]["after"].as_array().expect("after") {
        if after["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("runon.txt:"))
        {
            all.push(after["text"].as_str().expect("text").to_string());
        }
    }
    assert_eq!(all.len(), passages);
    assert_eq!(all.join(" "), text.lines().nth(2).expect("line"));
}

#[test]
fn control_characters_are_escaped_for_people_and_exact_in_json() {
    let env = TestEnv::new();
    let evil = "evil\x1b[31m.txt";
    fs::write(
        env.corpus().join(evil),
        "Escapes \x1b]0;pwned\x07 in the title line\n\n\
         The zanzibar passage \x1b[2J clears the screen and turns \x1b[31mred\x1b[0m text on a \
         terminal that writes what it is given, which no search tool should ever do to anyone.\n",
    )
    .expect("write");
    fs::write(env.corpus().join("empty\x07.txt"), "").expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert_eq!(
        run.stderr,
        "rsearch: warning: skipping empty\\u{7}.txt: empty file\n"
    );
    let id = format!("{evil}:1");
    for args in [
        vec!["query", "zanzibar"],
        vec!["query", "zanzibar", "--full", "--explain", "--context", "1"],
        vec!["query", "zanzibar", "--color", "always", "--full"],
        vec!["sections"],
        vec!["show", &id],
    ] {
        let run = env.run(&args);
        assert_no_panic(&run);
        let out = &run.stdout;
        for raw in ["\x1b[2J", "\x1b]0;", "\x07", "\x1b[31m."] {
            assert!(!out.contains(raw), "{args:?} wrote {raw:?} raw:\n{out}");
        }
        assert!(out.contains("evil\\u{1b}[31m.txt"), "{args:?}:\n{out}");
        if !args.contains(&"always") {
            assert!(!out.contains('\x1b'), "{args:?}:\n{out}");
        }
    }
    let shown = env.run(&["query", "zanzibar", "--full"]).stdout;
    assert!(
        shown.contains("passage \\u{1b}[2J clears the screen and turns \\u{1b}[31mred\\u{1b}[0m text"),
        "{shown}"
    );
    let outline = env.run(&["sections"]).stdout;
    assert!(
        outline.contains("Escapes \\u{1b}]0;pwned\\u{7} in the title line"),
        "{outline}"
    );
    let hit = &env.query_json(&["zanzibar"]).hits[0];
    assert_eq!(hit.source, evil);
    assert!(hit.text.contains("passage \x1b[2J clears"), "{}", hit.text);
    assert_eq!(hit.document, "Escapes \x1b]0;pwned\x07 in the title line");
}

#[test]
fn symlink_loop_is_reported_and_the_rest_indexed() {
    let env = TestEnv::new();
    fs::create_dir(env.corpus().join("sub")).expect("mkdir");
    symlink("..", env.corpus().join("sub/up")).expect("symlink");
    symlink("self", env.corpus().join("self")).expect("symlink");
    let run = env.run(&["index"]).expect_code(0);
    assert_no_panic(&run);
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        warnings,
        [
            "rsearch: warning: skipping corpus/self: Too many levels of symbolic links (os error 40)",
            "rsearch: warning: skipping corpus/sub/up: folder already read (symlink loop)",
        ]
    );
    assert!(
        run.stdout.starts_with("indexed 1 file, 41 passages"),
        "{}",
        run.stdout
    );
}

#[test]
fn unreadable_file_is_skipped_with_a_warning() {
    let env = TestEnv::new();
    let secret = env.corpus().join("secret.txt");
    fs::write(
        &secret,
        "Secret\n\nA paragraph about the okapi, kept from readers.\n",
    )
    .expect("write");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).expect("chmod");
    let run = env.run(&["index"]).expect_code(0);
    assert_no_panic(&run);
    if fs::read(&secret).is_ok() {
        // Running as root (as CI does), mode 000 does not stop reads: the file is indexed like
        // any other, which is what the test can observe here.
        assert!(run.stderr.is_empty(), "{}", run.stderr);
        assert!(run.stdout.starts_with("indexed 2 files"), "{}", run.stdout);
    } else {
        assert_eq!(
            run.stderr.trim_end(),
            format!(
                "rsearch: warning: skipping secret.txt: reading {}: Permission denied (os error 13)",
                Path::new("corpus").join("secret.txt").display()
            )
        );
        assert!(
            run.stdout.starts_with("indexed 1 file, 41 passages"),
            "{}",
            run.stdout
        );
    }
}

fn with_taxonomy(text: &str) -> TestEnv {
    let env = TestEnv::new();
    fs::write(env.corpus().join("taxonomy.toml"), text).expect("write");
    env
}

#[test]
fn taxonomy_syntax_error_names_line_and_column() {
    let env = with_taxonomy("[[role]]\nslug = \"a\"\nname = \n");
    let message = one_error_line(env.run(&["index"]));
    assert_eq!(
        message,
        "rsearch: taxonomy corpus/taxonomy.toml: line 3, column 8: string values must be quoted, \
         expected literal string"
    );
    assert!(!env.index().join("CURRENT").exists());
}

#[test]
fn taxonomy_duplicate_slug_is_an_error() {
    let env = with_taxonomy("[[role]]\nslug = \"a\"\nname = \"A\"\n[[role]]\nslug = \"a\"\nname = \"B\"\n");
    let message = one_error_line(env.run(&["index"]));
    assert_eq!(
        message,
        "rsearch: taxonomy corpus/taxonomy.toml: duplicate role slug \"a\""
    );
}

#[test]
fn taxonomy_alias_without_a_word_character_is_an_error_naming_it() {
    let env = with_taxonomy("[[role]]\nslug = \"cpp\"\nname = \"C++\"\naliases = [\"C++\", \"++\"]\n");
    let message = one_error_line(env.run(&["index"]));
    assert_eq!(
        message,
        "rsearch: taxonomy corpus/taxonomy.toml: role \"cpp\": alias \"++\" has no letter or digit, \
         so it matches nothing"
    );
}

#[test]
fn taxonomy_alias_with_symbols_labels_only_that_token() {
    let env = with_taxonomy(
        "[[role]]\nslug = \"c\"\nname = \"C\"\naliases = [\"C\"]\n\
         [[role]]\nslug = \"cpp\"\nname = \"C++\"\naliases = [\"C++\"]\n\
         [[role]]\nslug = \"dotnet\"\nname = \".NET\"\naliases = [\".NET\"]\n",
    );
    fs::write(
        env.corpus().join("languages.txt"),
        "Languages\n\nThe zanzibar service is written in C++ and runs on .NET servers.\n\n\
         The quokka tool is plain C with a net gain.\n",
    )
    .expect("write");
    let zanzibar = &env.query_json(&["zanzibar"]).hits[0];
    assert_eq!(zanzibar.roles, ["cpp", "dotnet"]);
    let quokka = &env.query_json(&["quokka"]).hits[0];
    assert_eq!(quokka.roles, ["c"]);
    let only_cpp = env.query_json(&["zanzibar quokka", "--role", "C++"]);
    assert_eq!(only_cpp.total_hits, 1);
}

#[test]
fn taxonomy_empty_alias_is_an_error() {
    let env = with_taxonomy("[[role]]\nslug = \"a\"\nname = \"A\"\naliases = [\"A\", \"\"]\n");
    let message = one_error_line(env.run(&["index"]));
    assert_eq!(
        message,
        "rsearch: taxonomy corpus/taxonomy.toml: role \"a\" has an empty alias"
    );
}

#[test]
fn broken_taxonomy_leaves_the_built_index_untouched() {
    let env = TestEnv::new();
    let before = env.query_json(&["cybersecurity"]);
    fs::write(env.corpus().join("taxonomy.toml"), "[[role]]\nslug = \n").expect("write");
    let message = one_error_line(env.run(&["query", "cybersecurity"]));
    assert!(message.contains("line 2, column 8"), "{message}");
    let after = env
        .run(&["query", "cybersecurity", "--no-refresh", "--json"])
        .expect_code(0);
    assert_eq!(after.json().hits[0].id, before.hits[0].id);
}

#[test]
fn index_path_that_is_a_file_is_an_error() {
    let env = TestEnv::new();
    fs::write(env.root().join("afile"), "x").expect("write");
    for args in [
        vec!["index", "--index", "afile"],
        vec!["query", "cto", "--index", "afile"],
    ] {
        let message = one_error_line(env.run(&args));
        assert_eq!(message, "rsearch: index path afile is a file, not a folder");
    }
    assert_eq!(fs::read_to_string(env.root().join("afile")).expect("read"), "x");
}

/// The live generation's folder of a built index.
fn live_generation(env: &TestEnv) -> std::path::PathBuf {
    let name = fs::read_to_string(env.index().join("CURRENT")).expect("CURRENT");
    env.index().join(name.trim())
}

/// Segment files of the live generation with the given extension.
fn segment_files(env: &TestEnv, extension: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(live_generation(env))
        .expect("generation")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

/// Damages a built index one way, then checks `--no-refresh` refuses it in one line and a
/// plain query rebuilds it and answers as before.
fn damaged_index_is_refused_or_rebuilt(damage: impl Fn(&TestEnv), expected: &str) {
    let env = TestEnv::new();
    let before = env.query_json(&["market research", "--limit", "50"]);
    damage(&env);
    let message = one_error_line(env.run(&["query", "market research", "--no-refresh"]));
    assert!(
        message.contains(expected) && message.ends_with("; run `rsearch index` to rebuild it"),
        "{message}"
    );
    let run = env
        .run(&["query", "market research", "--limit", "50", "--json"])
        .expect_code(0);
    assert_no_panic(&run);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(expected) && run.stderr.contains("; building the index in index"),
        "{}",
        run.stderr
    );
    let after = run.json();
    let ids = |r: &common::JsonResults| {
        let mut ids: Vec<String> = r.hits.iter().map(|h| h.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(after.total_hits, before.total_hits);
    assert_eq!(ids(&after), ids(&before));
    env.run(&["query", "market research", "--no-refresh"])
        .expect_code(0);
}

#[test]
fn truncated_segment_file_is_refused_or_rebuilt() {
    damaged_index_is_refused_or_rebuilt(
        |env| {
            for file in segment_files(env, "term") {
                let bytes = fs::read(&file).expect("read");
                fs::write(&file, &bytes[..bytes.len() / 2]).expect("truncate");
            }
        },
        ".term: Footer magic byte mismatch)",
    );
}

#[test]
fn garbage_inside_stored_passages_is_refused_or_rebuilt() {
    // The files' footers stay intact, so opening succeeds; the damage shows when passages
    // are read, and the checksums name the file.
    damaged_index_is_refused_or_rebuilt(
        |env| {
            for file in segment_files(env, "store") {
                let mut bytes = fs::read(&file).expect("read");
                for b in bytes.iter_mut().take(64) {
                    *b ^= 0x5a;
                }
                fs::write(&file, bytes).expect("write");
            }
        },
        "index is damaged (bad checksum in ",
    );
}

#[test]
fn garbage_meta_file_is_refused_or_rebuilt() {
    damaged_index_is_refused_or_rebuilt(
        |env| fs::write(live_generation(env).join("meta.json"), [0xff, 0x00, 0x13]).expect("write"),
        "index is unreadable (Data corruption (in file `\"meta.json\"`): Meta file does not contain valid utf8 file)",
    );
}

#[test]
fn garbage_current_file_is_refused_or_rebuilt() {
    damaged_index_is_refused_or_rebuilt(
        |env| fs::write(env.index().join("CURRENT"), "gen-\u{1}garbage").expect("write"),
        "index is unreadable (CURRENT names \"gen-\\u{1}garbage\", which is missing)",
    );
}

#[test]
fn emptied_taxonomy_copy_is_refused_or_rebuilt() {
    damaged_index_is_refused_or_rebuilt(
        |env| fs::write(live_generation(env).join("taxonomy.toml"), "").expect("write"),
        "index is damaged (bad checksum in taxonomy.toml)",
    );
}

#[test]
fn ten_thousand_character_query_is_answered() {
    let env = TestEnv::new();
    let words = "cybersecurity market research ".repeat(400);
    let long = &words[..10_000];
    let results = env.query_json(&[long]);
    assert!(
        results.hits[0].text.contains("cybersecurity"),
        "{:?}",
        results.hits[0]
    );
    let one_word = "a".repeat(10_000);
    let run = env.run(&["query", &one_word]).expect_code(1);
    assert!(
        run.stderr.lines().all(|l| l.contains("building the index")),
        "{}",
        run.stderr
    );
}

#[test]
fn query_of_only_punctuation_or_stop_words_matches_nothing() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    for query in [
        "?!.,;:()\"",
        "...",
        "*",
        "the of and a to",
        "the",
        "\"of the\"",
        "is it?",
    ] {
        let run = env.run(&["query", query, "--json"]).expect_code(1);
        assert!(run.stderr.is_empty(), "{query:?}: {}", run.stderr);
        let results = run.json();
        assert_eq!(results.total_hits, 0, "{query:?}");
        assert!(results.hits.is_empty() && results.facets.roles.is_empty());
    }
    let run = env
        .run(&["query", "the of and a to", "--color", "never"])
        .expect_code(1);
    assert_eq!(run.stdout.trim_end(), "no passage matches \"the of and a to\"");
}

#[test]
fn limit_zero_is_an_error() {
    let env = TestEnv::new();
    let message = one_error_line(env.run(&["query", "cto", "--limit", "0"]));
    assert_eq!(
        message,
        "rsearch: invalid value '0' for '--limit <N>': must be at least 1"
    );
}

#[test]
fn thousands_of_parentheses_are_searched_not_a_stack_overflow() {
    let env = TestEnv::new();
    let query = format!("{}cybersecurity{}", "(".repeat(5000), ")".repeat(5000));
    let results = env.query_json(&[query.as_str()]);
    assert_eq!(results.total_hits, 1);
    assert_eq!(results.hits[0].id, "product-manager-vs-ceo-vs-cto.txt:25");
}

#[test]
fn huge_context_is_an_error() {
    let env = TestEnv::new();
    let message = one_error_line(env.run(&["query", "cto", "--context", "99999999999"]));
    assert_eq!(
        message,
        "rsearch: invalid value '99999999999' for '--context <N>': must be at most 100"
    );
    let message = one_error_line(env.run(&["show", "product-manager-vs-ceo-vs-cto.txt:25", "-C", "101"]));
    assert_eq!(
        message,
        "rsearch: invalid value '101' for '--context <N>': must be at most 100"
    );
}

#[test]
fn a_fuzzy_mark_after_a_word_searches_the_word() {
    let env = TestEnv::new();
    let results = env.query_json(&["cybersecurity~2"]);
    assert_eq!(results.total_hits, 1);
    assert_eq!(results.hits[0].id, "product-manager-vs-ceo-vs-cto.txt:25");
}

#[test]
fn a_taxonomy_that_is_a_folder_is_an_error() {
    let env = TestEnv::new();
    fs::remove_file(env.corpus().join("taxonomy.toml")).ok();
    fs::create_dir(env.corpus().join("taxonomy.toml")).expect("make folder");
    let corpus = env.corpus().display().to_string();
    let message = one_error_line(env.run(&["index", "--corpus", corpus.as_str()]));
    assert_eq!(
        message,
        format!("rsearch: taxonomy {corpus}/taxonomy.toml is a folder, not a file")
    );
}

#[test]
fn a_query_that_opens_with_a_dash_suggests_double_dash() {
    let env = TestEnv::new();
    let message = one_error_line(env.run(&["query", "-media"]));
    assert_eq!(
        message,
        "rsearch: unexpected argument '-m' found; to search for -media, write: rsearch query -- -media"
    );
}

#[test]
fn did_you_mean_corrects_the_word_after_an_unknown_field() {
    let env = TestEnv::new();
    let results = env.query_json(&["foo:cybersecurty"]);
    assert_eq!(results.did_you_mean.as_deref(), Some("foo:cybersecurity"));
}

#[test]
fn a_field_the_index_lacks_is_searched_as_words() {
    let env = TestEnv::new();
    let results = env.query_json(&["foo:cybersecurity"]);
    assert_eq!(results.total_hits, 1);
    assert!(results.hits[0].text.contains("cybersecurity"));
    assert_eq!(results.did_you_mean, None);
}

#[test]
fn no_hit_under_a_filter_says_how_many_match_without_it() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    // The one passage on cybersecurity is about the CTO.
    let run = env
        .run(&["query", "cybersecurity", "--role", "ceo"])
        .expect_code(1);
    assert_eq!(run.stdout.trim(), "no passage matches \"cybersecurity\"");
    assert_eq!(run.stderr, "without --role ceo, 1 passage matches\n");
    let run = env.run(&[
        "query",
        "market",
        "--role",
        "Chief Technology Officer",
        "--topic",
        "conflict",
        "--json",
    ]);
    let run = run.expect_code(1);
    assert_eq!(run.json().total_hits, 0, "the JSON is as without the hint");
    assert!(
        run.stderr
            .starts_with("without --role \"Chief Technology Officer\" --topic conflict, "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.ends_with(" passages match\n"), "{}", run.stderr);
    // A hit under the filter, or no filter at all: no hint.
    let run = env
        .run(&["query", "cybersecurity", "--role", "cto"])
        .expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let run = env.run(&["query", "zzzqqq"]).expect_code(1);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn utf16_utf8_bom_and_cr_only_files_are_decoded() {
    let env = TestEnv::new();
    let text = "Decoding\r\rThe zanzibarword passage.\r";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    fs::write(env.corpus().join("wide.txt"), utf16).expect("write");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(b"Bom title\n\nThe quokkaword passage.\n");
    fs::write(env.corpus().join("bom.txt"), bom).expect("write");
    let wide = env.query_json(&["zanzibarword"]);
    assert_eq!(wide.hits.len(), 1);
    assert_eq!(wide.hits[0].text, "The zanzibarword passage.");
    assert_eq!(wide.hits[0].document, "Decoding");
    let bom = env.query_json(&["quokkaword"]);
    assert_eq!(bom.hits[0].document, "Bom title");
}

#[test]
fn limit_of_a_million_returns_every_hit() {
    let env = TestEnv::new();
    let results = env.query_json(&["cto OR ceo OR manager", "--limit", "1000000"]);
    assert_eq!(results.hits.len(), results.total_hits);
    assert_eq!(results.total_hits, ARTICLE_PASSAGES);
    let ranks: Vec<usize> = results.hits.iter().map(|h| h.rank).collect();
    assert_eq!(ranks, (1..=ARTICLE_PASSAGES).collect::<Vec<_>>());
}

#[test]
fn cjk_arabic_and_emoji_queries_are_answered() {
    let env = TestEnv::new();
    fs::write(
        env.corpus().join("languages.txt"),
        "Languages\n\n検索 エンジン は 文書 を 探す。\n\nمدير المنتج يقود الفريق.\n\nLaunch day 🚀 went well.\n",
    )
    .expect("write");
    let cjk = env.query_json(&["検索"]);
    assert_eq!(cjk.hits[0].text, "検索 エンジン は 文書 を 探す。");
    let arabic = env.query_json(&["المنتج"]);
    assert_eq!(arabic.hits[0].text, "مدير المنتج يقود الفريق.");
    // Emoji are not words: the analyzer drops them, so nothing is searched.
    let run = env.run(&["query", "🚀", "--json"]).expect_code(1);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let run = env.run(&["query", "launch 🚀", "--json"]).expect_code(0);
    assert_eq!(run.json().hits[0].source, "languages.txt");
}

#[test]
fn nul_byte_in_a_file_is_read_as_a_space() {
    let env = TestEnv::new();
    fs::write(
        env.corpus().join("nul.txt"),
        "Nul\n\nA paragraph about the\0axolotl and its gills.\n",
    )
    .expect("write");
    let run = env.run(&["index"]).expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let hit = &env.query_json(&["axolotl"]).hits[0];
    assert_eq!(hit.text, "A paragraph about the axolotl and its gills.");
}

#[test]
fn nul_byte_in_a_query_is_searched_like_a_space() {
    // A command line cannot carry a NUL byte (the OS ends the argument there), so the query
    // is run through the library, as any caller embedding rsearch would.
    let env = TestEnv::new();
    let opened = env.open_index();
    let search = |query: &str| {
        search::run(
            &opened,
            &Request {
                explain: true,
                context: 1,
                ..Request::new(query, 5)
            },
        )
        .expect("search")
    };
    let plain = search("cybersecurity data");
    for query in [
        "cybersecurity\0data",
        "\0cybersecurity data\0",
        "cybersecurity \0 data",
    ] {
        let results = search(query);
        assert_eq!(results.total_hits, plain.total_hits, "{query:?}");
        assert_eq!(results.hits[0].id, plain.hits[0].id, "{query:?}");
    }
    assert_eq!(search("\0").total_hits, 0);
}
