//! The index folder under hostile file systems: another user's or a read-only index, a full
//! disk, a writer stopped while it holds the lock, and an index folder or symlinks inside the
//! corpus. Each test runs the binary on a copy of the corpus; the ones about permissions run it
//! as `nobody` when the tests run as root (as CI does), and the full disk is a small tmpfs in a
//! mount namespace of its own.

mod common;
#[path = "support/typesense.rs"]
mod typesense;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{
    chmod_tree, finish_within, is_root, one_error_line, JsonResults, Run, SmallDisk, TestEnv, ARTICLE,
};

const QUERY: &str = "market research";

/// Every hit's id, sorted: what a query answers, whatever the segment layout.
fn answer(results: &JsonResults) -> (usize, Vec<String>) {
    let mut ids: Vec<String> = results.hits.iter().map(|h| h.id.clone()).collect();
    ids.sort();
    (results.total_hits, ids)
}

/// Every path under `root` (relative), sorted.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).expect("read folder").flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).expect("under root").display().to_string());
            if entry.file_type().expect("type").is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// A document with a word no other passage has.
const QUOKKA: &str = "Quokkas\n\nThe quokka is a small wallaby that lives on Rottnest Island.\n";

#[test]
fn another_users_index_answers_without_the_lock_and_says_once_it_cannot_refresh() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let own = env.query_json(&[QUERY, "--limit", "100"]);
    // Every file of the index is readable by others as far as the umask allows: as far as it
    // allows for a file made here the ordinary way.
    let probe = env.root().join("probe");
    fs::write(&probe, "x").expect("write");
    let allowed = fs::metadata(&probe).expect("stat").permissions().mode() & 0o044;
    fs::remove_file(&probe).expect("remove");
    for path in tree(&env.index()) {
        let mode = fs::metadata(env.index().join(&path))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & allowed, allowed, "{path} has mode {mode:o}");
    }
    if !is_root() {
        chmod_tree(&env.index(), 0o555);
    }
    let before = tree(&env.index());

    let run = env.run_as_other_user(&["query", QUERY, "--limit", "100", "--json"]);
    let run = run.expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(answer(&run.json()), answer(&own));

    // The corpus changed: the index cannot be updated by this user, and says so in one line.
    fs::write(env.corpus().join("quokka.txt"), QUOKKA).expect("write");
    let run = env
        .run_as_other_user(&["query", QUERY, "--limit", "100", "--json"])
        .expect_code(0);
    assert_eq!(
        run.stderr,
        "rsearch: warning: cannot update the index in index: opening lock index/.lock: Permission \
         denied (os error 13); searching it as it was built\n"
    );
    assert_eq!(answer(&run.json()), answer(&own));
    let run = env.run_as_other_user(&["query", "quokka"]).expect_code(1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(
        tree(&env.index()),
        before,
        "the reader wrote into the index folder"
    );

    if !is_root() {
        chmod_tree(&env.index(), 0o755);
    }
    // Its owner updates it.
    let run = env.run(&["query", "quokka"]).expect_code(0);
    assert!(run.stderr.contains("updating the index"), "{}", run.stderr);
}

#[test]
fn a_refused_index_folder_gets_nothing_written_into_it() {
    let env = TestEnv::new();
    let other = env.root().join("other");
    fs::create_dir(&other).expect("mkdir");
    fs::write(other.join("keep.csv"), "a,b\n").expect("write");
    for args in [
        vec!["index", "--index", "other"],
        vec!["query", QUERY, "--index", "other"],
    ] {
        let message = one_error_line(env.run(&args));
        assert_eq!(
            message,
            "rsearch: index folder other holds other files (keep.csv); give --index an empty or new folder",
            "{args:?}"
        );
        assert_eq!(tree(&other), ["keep.csv"], "{args:?}");
    }
}

#[test]
fn a_full_disk_is_named_and_the_last_index_answers_until_an_update_succeeds() {
    let env = TestEnv::new();
    let Some(disk) = SmallDisk::mount(&env, "disk", 2048) else {
        // Not root, or no mount namespaces here: there is no honest full disk to test on.
        eprintln!("skipped: a tmpfs in a private mount namespace needs root");
        return;
    };
    let index = disk.path("disk/index");
    disk.run(&["index", "--index", "disk/index"]).expect_code(0);
    let query = [
        "query",
        QUERY,
        "--limit",
        "100",
        "--json",
        "--index",
        "disk/index",
    ];
    let before = disk.run(&query).expect_code(0);
    assert!(before.stderr.is_empty(), "{}", before.stderr);
    let files_before = tree(&index);

    disk.fill("disk/filler");
    for i in 0..3 {
        fs::copy(
            env.corpus().join(ARTICLE),
            env.corpus().join(format!("copy-{i}.txt")),
        )
        .expect("copy");
    }
    // A query that cannot update answers from the last commit, with a warning, every time.
    for _ in 0..2 {
        let run = disk.run(&query).expect_code(0);
        assert_eq!(
            run.stderr,
            "rsearch: corpus changed since the index was built; updating the index in disk/index\n\
             rsearch: warning: cannot write the index in disk/index: No space left on device; \
             searching the index as it was built\n"
        );
        assert_eq!(answer(&run.json()), answer(&before.json()));
        assert_eq!(tree(&index), files_before, "the failed update left files behind");
    }
    for args in [
        vec!["index", "--index", "disk/index"],
        vec!["index", "--index", "disk/index", "--full"],
    ] {
        let message = one_error_line(disk.run(&args));
        assert_eq!(
            message, "rsearch: cannot write the index in disk/index: No space left on device",
            "{args:?}"
        );
        assert_eq!(tree(&index), files_before, "{args:?} left files behind");
    }

    fs::remove_file(disk.path("disk/filler")).expect("remove filler");
    let run = disk.run(&query).expect_code(0);
    assert_eq!(
        run.stderr,
        "rsearch: corpus changed since the index was built; updating the index in disk/index\n"
    );
    assert_eq!(run.json().total_hits, 4 * before.json().total_hits);
}

#[test]
fn an_index_on_read_only_media_answers_and_says_it_cannot_refresh() {
    let env = TestEnv::new();
    let Some(disk) = SmallDisk::mount(&env, "disk", 2048) else {
        eprintln!("skipped: a tmpfs in a private mount namespace needs root");
        return;
    };
    disk.run(&["index", "--index", "disk/index"]).expect_code(0);
    let query = [
        "query",
        QUERY,
        "--limit",
        "100",
        "--json",
        "--index",
        "disk/index",
    ];
    let before = disk.run(&query).expect_code(0);
    disk.remount_read_only();
    let run = disk.run(&query).expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(answer(&run.json()), answer(&before.json()));
    fs::write(env.corpus().join("quokka.txt"), QUOKKA).expect("write");
    let run = disk.run(&query).expect_code(0);
    assert_eq!(
        run.stderr,
        "rsearch: warning: cannot update the index in disk/index: opening lock disk/index/.lock: \
         Read-only file system (os error 30); searching it as it was built\n"
    );
    assert_eq!(answer(&run.json()), answer(&before.json()));
}

/// Sends a signal to a process this test started.
fn signal(pid: u32, name: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -{name} {pid}")])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

#[test]
fn a_stopped_writer_holding_the_lock_blocks_neither_queries_nor_writers_for_ever() {
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let article = fs::read_to_string(env.corpus().join(ARTICLE)).expect("read");
    let mut copies = 0;
    // Stop a full build while it holds the lock: once its temporary generation exists.
    let mut writer = loop {
        copies += 100;
        for i in 0..copies {
            fs::write(env.corpus().join(format!("copy-{i:04}.txt")), &article).expect("write");
        }
        let mut writer = env.spawn(&["index", "--full"]);
        let building = || {
            fs::read_dir(env.index())
                .expect("read index")
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        };
        let started = (0..2000).any(|_| {
            std::thread::sleep(Duration::from_millis(2));
            building()
        });
        signal(writer.id(), "STOP");
        // Stopped before it published: its temporary generation is still there.
        if started && building() && writer.try_wait().expect("wait").is_none() {
            break writer;
        }
        signal(writer.id(), "CONT");
        let _ = writer.wait();
        assert!(copies < 400, "no build lasted long enough to be stopped");
    };
    fs::write(env.corpus().join("quokka.txt"), QUOKKA).expect("write");
    // What the committed index answers (an earlier attempt may have finished a build).
    let committed = env
        .run(&["query", QUERY, "--limit", "100000", "--json", "--no-refresh"])
        .expect_code(0);

    let query = env.spawn(&["query", QUERY, "--limit", "100000", "--json"]);
    let run = finish_within(query, Duration::from_secs(60));
    // With a bound of 1 s on the holder's silence; well before the default bound (30 s).
    let second = finish_within(
        env.spawn_with_env(&["index"], &[("RSEARCH_LOCK_WAIT", "1")]),
        Duration::from_secs(20),
    );
    let pid = writer.id();
    signal(writer.id(), "CONT");
    let run = run
        .expect("the query waited for the stopped writer")
        .expect_code(0);
    assert_eq!(
        run.stderr,
        format!(
            "rsearch: waiting for another rsearch (pid {pid}) writing index\n\
             rsearch: warning: another rsearch is still writing index after 3 s; searching the index \
             as it is\n"
        )
    );
    assert_eq!(answer(&run.json()), answer(&committed.json()));
    let second = second
        .expect("the second writer waited for the stopped one")
        .expect_code(2);
    assert_eq!(
        second.stderr,
        format!(
            "rsearch: waiting for another rsearch (pid {pid}) writing index\n\
             rsearch: gave up waiting for another rsearch (pid {pid}) writing index: no sign of life \
             from it for 1 s (is it stopped or hung?)\n"
        )
    );
    assert!(second.stdout.is_empty(), "{}", second.stdout);

    // Resumed, the writer finishes, and the next query takes in the change it did not see.
    let _ = writer.wait();
    let run = env.run(&["query", "quokka"]).expect_code(0);
    assert!(run.stdout.contains("quokka.txt"), "{}", run.stdout);
}

/// Sends a signal to a process that may have ended already; whether it was sent.
fn try_signal(pid: u32, name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("kill -{name} {pid} 2>/dev/null")])
        .status()
        .expect("run kill")
        .success()
}

#[test]
fn a_live_writer_is_waited_for_however_long_it_takes() {
    // The bound on a holder's silence, and how long the second writer must wait past it.
    const SILENCE: u64 = 3;
    let waited_for = Duration::from_secs(3 * SILENCE);
    let env = TestEnv::new();
    let article = fs::read_to_string(env.corpus().join(ARTICLE)).expect("read");
    let mut copies = 0;
    loop {
        copies += 100;
        for i in 0..copies {
            fs::write(env.corpus().join(format!("copy-{i:04}.txt")), &article).expect("write");
        }
        let mut writer = env.spawn(&["index", "--full"]);
        let pid = writer.id();
        let holds = || {
            fs::read_to_string(env.index().join(".lock"))
                .is_ok_and(|text| text.contains(&format!("pid {pid}\n")))
        };
        let took = (0..6000).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            holds() || writer.try_wait().expect("wait").is_some()
        });
        assert!(took && holds(), "the writer never took the lock");
        let second = env.spawn_with_env(&["index"], &[("RSEARCH_LOCK_WAIT", &SILENCE.to_string())]);
        // A writer on a busy machine: stopped nine tenths of the time, each time for less than
        // the bound, for three times the bound in all. Between stops it beats again.
        let started = std::time::Instant::now();
        let mut alive = true;
        while alive && started.elapsed() < waited_for {
            alive = try_signal(pid, "STOP");
            std::thread::sleep(Duration::from_millis(900));
            alive &= try_signal(pid, "CONT");
            std::thread::sleep(Duration::from_millis(100));
            alive &= writer.try_wait().expect("wait").is_none();
        }
        let second = finish_within(second, Duration::from_secs(300)).expect("the second writer ended");
        let first = finish_within(writer, Duration::from_secs(300)).expect("the writer ended");
        if !alive {
            // The build ended before the test could keep it going for long enough: a bigger one.
            assert!(copies < 800, "no build lasted long enough");
            continue;
        }
        first.expect_code(0);
        let second = second.expect_code(0);
        assert_eq!(
            second.stderr,
            format!("rsearch: waiting for another rsearch (pid {pid}) writing index\n")
        );
        assert!(
            second
                .stdout
                .starts_with(&format!("index is up to date: {} files", copies + 1)),
            "{}",
            second.stdout
        );
        break;
    }
}

/// A corpus with an index folder inside it that holds a Markdown placeholder, as the default
/// `index/` of this repository does, and an index built there.
fn corpus_with_index_inside() -> TestEnv {
    let env = TestEnv::new();
    fs::create_dir(env.corpus().join("idx")).expect("mkdir");
    fs::write(
        env.corpus().join("idx/README.md"),
        "# The index\n\nThe index of this corpus lives here; quokkas are not documents.\n",
    )
    .expect("write");
    env.run(&["index", "--index", "corpus/idx"]).expect_code(0);
    env
}

#[test]
fn sections_leaves_out_an_index_folder_inside_the_corpus() {
    let env = corpus_with_index_inside();
    let run = env.run(&["sections", "--json"]).expect_code(0);
    let outlines: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let sources: Vec<&str> = outlines
        .as_array()
        .expect("a list")
        .iter()
        .map(|outline| outline["source"].as_str().expect("source"))
        .collect();
    assert_eq!(sources, [ARTICLE]);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn export_leaves_out_an_index_folder_inside_the_corpus() {
    let env = corpus_with_index_inside();
    let run = env.run(&["export"]).expect_code(0);
    assert_eq!(run.stdout.lines().count(), 41, "{}", run.stdout);
    assert!(!run.stdout.contains("quokka"), "{}", run.stdout);
    // A corpus that holds nothing else is empty, as for `index`.
    fs::remove_file(env.corpus().join(ARTICLE)).expect("remove");
    let line = one_error_line(env.run(&["export"]));
    assert_eq!(
        line,
        "rsearch: corpus folder corpus holds no .txt, .md or .html file"
    );
}

#[test]
fn push_leaves_out_an_index_folder_inside_the_corpus() {
    let Some(server) = typesense::single() else { return };
    let env = corpus_with_index_inside();
    let run = env
        .run_with_env(
            &["push", "--to", &server.remote(), "--collection", "articles"],
            &[("TYPESENSE_API_KEY", typesense::API_KEY)],
        )
        .expect_code(0);
    assert!(
        run.stdout
            .starts_with("pushed 1 file to collection articles (created): 41 added, 0 updated, 0 removed"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_index_folder_inside_the_corpus_is_not_read_as_part_of_it() {
    let env = TestEnv::new();
    let built = env.run(&["index", "--index", "corpus/idx"]).expect_code(0);
    assert!(
        built.stdout.starts_with("indexed 1 file, 41 passages"),
        "{}",
        built.stdout
    );
    for _ in 0..3 {
        let run = env.run(&["query", QUERY, "--index", "corpus/idx"]).expect_code(0);
        assert!(run.stderr.is_empty(), "every query saw a change: {}", run.stderr);
    }
    let run = env.run(&["index", "--index", "corpus/idx"]).expect_code(0);
    assert!(
        run.stdout.starts_with("index is up to date: 1 file, 41 passages"),
        "{}",
        run.stdout
    );
    // The same when the first query builds it.
    let run = env
        .run(&["query", QUERY, "--index", "corpus/idx2"])
        .expect_code(0);
    assert!(run.stderr.starts_with("rsearch: no index yet"), "{}", run.stderr);
    let run = env
        .run(&["query", QUERY, "--index", "corpus/idx2"])
        .expect_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn a_link_out_of_the_corpus_is_reported_once() {
    let env = TestEnv::new();
    let outside = env.root().join("outside");
    fs::create_dir_all(outside.join("sub")).expect("mkdir");
    fs::write(outside.join("a.txt"), QUOKKA).expect("write");
    fs::write(outside.join("sub/b.txt"), "Bees\n\nBees make honey.\n").expect("write");
    // A link further out from inside the linked folder is under the link already reported.
    fs::create_dir(env.root().join("further")).expect("mkdir");
    fs::write(env.root().join("further/c.md"), "# Cats\n\nCats sleep.\n").expect("write");
    symlink("../../further", outside.join("sub/further")).expect("symlink");
    symlink("../outside", env.corpus().join("elsewhere")).expect("symlink");
    let run = env.run(&["index"]).expect_code(0);
    let target = fs::canonicalize(&outside).expect("canonical");
    assert_eq!(
        run.stderr,
        format!(
            "rsearch: warning: corpus/elsewhere leads out of the corpus folder (to {}); read as \
             part of the corpus\n",
            target.display()
        )
    );
    assert!(run.stdout.starts_with("indexed 4 files"), "{}", run.stdout);
    let run = env.run(&["query", "quokka"]).expect_code(0);
    assert!(run.stdout.contains("elsewhere/a.txt"), "{}", run.stdout);
}

#[test]
fn a_second_link_to_a_folder_already_read_is_not_called_a_loop() {
    let env = TestEnv::new();
    fs::create_dir(env.corpus().join("animals")).expect("mkdir");
    fs::write(env.corpus().join("animals/quokka.txt"), QUOKKA).expect("write");
    symlink("animals", env.corpus().join("zoo")).expect("symlink");
    let run = env.run(&["index"]).expect_code(0);
    assert_eq!(
        run.stderr,
        "rsearch: warning: skipping corpus/zoo: same folder as corpus/animals, already read\n"
    );
    assert!(run.stdout.starts_with("indexed 2 files"), "{}", run.stdout);
    let run: Run = env.run(&["query", "quokka", "--json"]).expect_code(0);
    assert_eq!(run.json().total_hits, 1);
}
