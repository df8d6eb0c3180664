//! Test harness: a temporary copy of the project's `corpus/` and a runner for the built binary.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde::Deserialize;

pub mod server;

/// The article every test searches.
pub const ARTICLE: &str = "product-manager-vs-ceo-vs-cto.txt";

/// A temporary folder holding `corpus/` (a copy of the real one) and, once built, `index/`.
pub struct TestEnv {
    dir: tempfile::TempDir,
}

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl JsonHit {
    /// The highlighted words of the snippet.
    pub fn highlighted(&self) -> Vec<String> {
        self.highlights
            .iter()
            .map(|[s, e]| self.snippet[*s..*e].to_string())
            .collect()
    }
}

impl Run {
    /// The exit code and output of a finished process.
    pub fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Waits for a spawned run to end.
    pub fn finish(child: Child) -> Run {
        Run::from_output(child.wait_with_output().expect("wait for rsearch"))
    }

    /// Fails the test unless the run exited with `code`, showing its output.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Parses stdout as `query --json` output.
    pub fn json(&self) -> JsonResults {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{}", self.stdout))
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
            &dir.path().join("corpus"),
        );
        TestEnv { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn corpus(&self) -> PathBuf {
        self.root().join("corpus")
    }

    pub fn index(&self) -> PathBuf {
        self.root().join("index")
    }

    /// Runs `rsearch ARGS` in the temporary folder, with colour and environment settled.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rsearch"));
        command
            .args(args)
            .current_dir(self.root())
            .env_remove("NO_COLOR")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        Run::from_output(command.output().expect("run rsearch"))
    }

    /// Runs `rsearch ARGS` (one shell-quoted string) under a pseudo-terminal through `script`,
    /// so stdout is a terminal as a person's would be; returns what the terminal showed.
    pub fn run_on_tty(&self, args: &str) -> String {
        let bin = env!("CARGO_BIN_EXE_rsearch");
        let output = Command::new("script")
            .args(["-qec", &format!("{bin} {args}"), "/dev/null"])
            .current_dir(self.root())
            .env_remove("NO_COLOR")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .output()
            .expect("run script (util-linux) for a pseudo-terminal");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts `rsearch ARGS` in the temporary folder without waiting, output captured.
    pub fn spawn(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_rsearch"))
            .args(args)
            .current_dir(self.root())
            .env_remove("NO_COLOR")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rsearch")
    }

    /// Starts `rsearch ARGS` with extra environment variables, output captured.
    pub fn spawn_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rsearch"));
        command
            .args(args)
            .current_dir(self.root())
            .env_remove("NO_COLOR")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        command.spawn().expect("spawn rsearch")
    }

    /// Runs `rsearch ARGS` as a user who may read the test's folder but not write what this
    /// user made in it. As root (where permissions do not stop anything), through `setpriv`
    /// (util-linux) as `nobody`, with the folder opened for reading by others; otherwise as
    /// this user, after the caller took away its write permission.
    pub fn run_as_other_user(&self, args: &[&str]) -> Run {
        let mut command = if is_root() {
            fs::set_permissions(self.root(), fs::Permissions::from_mode(0o755)).expect("chmod test folder");
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_rsearch"));
            command
        } else {
            Command::new(env!("CARGO_BIN_EXE_rsearch"))
        };
        command
            .args(args)
            .current_dir(self.root())
            .env_remove("NO_COLOR")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        Run::from_output(
            command
                .output()
                .expect("run rsearch through setpriv (util-linux)"),
        )
    }

    /// Builds the index of the corpus through the library and opens it, for tests that call
    /// the search stage directly.
    pub fn open_index(&self) -> rsearch::index::LiveIndex {
        rsearch::index::build_and_open(&self.corpus(), &self.index(), 50 << 20).expect("build and open index")
    }

    /// `query --json`, expecting hits.
    pub fn query_json(&self, args: &[&str]) -> JsonResults {
        let mut all = vec!["query"];
        all.extend_from_slice(args);
        all.push("--json");
        self.run(&all).expect_code(0).json()
    }
}

/// Whether the tests run as root, whom file permissions do not stop.
pub fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Sets the permissions of `path` and everything under it: `mode` for folders, `mode` without
/// the execute bits for files.
pub fn chmod_tree(path: &Path, mode: u32) {
    let meta = fs::symlink_metadata(path).expect("stat");
    if meta.is_dir() {
        for entry in fs::read_dir(path).expect("read folder").flatten() {
            chmod_tree(&entry.path(), mode);
        }
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    } else if meta.is_file() {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o666)).expect("chmod");
    }
}

/// Waits at most `limit` for a child to end; kills it and returns `None` when it does not
/// (a test of something that must not hang fails instead of hanging).
pub fn finish_within(mut child: Child, limit: std::time::Duration) -> Option<Run> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            return Some(Run::finish(child));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A small tmpfs mounted on a folder of a test in a mount namespace of its own, so that the
/// host never sees it: a real full disk. A holding process (`unshare`, util-linux) keeps the
/// namespace alive; runs enter it with `nsenter`, and this process reaches its files through
/// `/proc/PID/root`. Needs root: [`SmallDisk::mount`] gives `None` where the namespace or the
/// mount cannot be made.
pub struct SmallDisk {
    holder: Child,
    pid: u32,
    workdir: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `kilobytes` on `env.root()/folder` (created here).
    pub fn mount(env: &TestEnv, folder: &str, kilobytes: u64) -> Option<SmallDisk> {
        use std::io::BufRead;
        if !is_root() {
            return None;
        }
        let target = env.root().join(folder);
        fs::create_dir_all(&target).expect("mkdir mount point");
        let mut holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o size={kilobytes}k tmpfs \"$0\" && echo $$ && exec sleep 3600"
            ))
            .arg(&target)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("holder stdout");
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        match line.trim().parse() {
            Ok(pid) => Some(SmallDisk {
                holder,
                pid,
                workdir: env.root().to_path_buf(),
            }),
            Err(_) => {
                let _ = holder.kill();
                let _ = holder.wait();
                None
            }
        }
    }

    /// Where this process finds `relative` (to the test's folder) as the namespace sees it.
    pub fn path(&self, relative: &str) -> PathBuf {
        let inside = self.workdir.strip_prefix("/").unwrap_or(&self.workdir);
        PathBuf::from(format!("/proc/{}/root", self.pid))
            .join(inside)
            .join(relative)
    }

    /// Runs `rsearch ARGS` in the namespace, in the test's folder.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = Command::new("nsenter")
            .arg("-t")
            .arg(self.pid.to_string())
            .arg("-m")
            // The shell changes folder inside the namespace (nsenter's own --wd leaves a
            // working folder that `realpath` cannot resolve there).
            .args(["--", "sh", "-c", "cd \"$0\" && exec \"$@\""])
            .arg(&self.workdir)
            .arg(env!("CARGO_BIN_EXE_rsearch"))
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .output()
            .expect("run nsenter (util-linux)");
        Run::from_output(output)
    }

    /// Makes the disk read-only, as read-only media are.
    pub fn remount_read_only(&self) {
        let status = Command::new("nsenter")
            .arg("-t")
            .arg(self.pid.to_string())
            .args(["-m", "mount", "-o", "remount,ro"])
            .arg(self.workdir.join("disk"))
            .status()
            .expect("run nsenter (util-linux)");
        assert!(status.success(), "remount read-only");
    }

    /// Fills the disk: writes a file of zeros until no byte more fits.
    pub fn fill(&self, relative: &str) {
        use std::io::Write;
        let mut file = fs::File::create(self.path(relative)).expect("create filler");
        for chunk in [65536, 4096, 512, 1] {
            let zeros = vec![0u8; chunk];
            while file.write_all(&zeros).is_ok() {}
        }
        let _ = file.sync_all();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Asserts exit 2 with exactly one `rsearch: ` line on stderr, nothing on stdout; returns it.
pub fn one_error_line(run: Run) -> String {
    let run = run.expect_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("rsearch: "), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_no_panic(&run);
    run.stderr.trim_end().to_string()
}

/// Asserts a successful `index` whose only stderr line is one warning; returns the warning.
pub fn one_warning(run: Run) -> String {
    let run = run.expect_code(0);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("rsearch: warning: "), "{}", run.stderr);
    assert_no_panic(&run);
    run.stderr.trim_end().to_string()
}

/// Fails the test when stderr shows a panic or a backtrace.
pub fn assert_no_panic(run: &Run) {
    for marker in ["panicked", "internal error", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!run.stderr.contains(marker), "{}", run.stderr);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create corpus copy");
    for entry in fs::read_dir(from).expect("read corpus") {
        let entry = entry.expect("corpus entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy corpus file");
        }
    }
}

/// Mirror of the `query --json` contract, written independently of the code that emits it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonResults {
    pub query: String,
    pub total_hits: usize,
    pub hits: Vec<JsonHit>,
    pub facets: JsonFacets,
    pub did_you_mean: Option<String>,
    #[serde(default)]
    pub by_role: Option<std::collections::BTreeMap<String, Vec<JsonHit>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonHit {
    pub rank: usize,
    pub id: String,
    pub score: f32,
    pub source: String,
    pub document: String,
    pub ordinal: u64,
    pub section: Vec<String>,
    pub roles: Vec<String>,
    pub topics: Vec<String>,
    pub text: String,
    pub snippet: String,
    pub highlights: Vec<[usize; 2]>,
    #[serde(default)]
    pub explanation: Option<JsonExplanation>,
    #[serde(default)]
    pub context: Option<JsonContext>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExplanation {
    pub terms: Vec<JsonTermScore>,
    pub labels: Vec<String>,
    pub fusion: Option<JsonFusion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonFusion {
    pub bm25: Option<f32>,
    pub lexical_rank: Option<usize>,
    pub similarity: Option<f32>,
    pub semantic_rank: Option<usize>,
    pub fused_rank: usize,
    pub lexical_weight: Option<f32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonTermScore {
    pub field: String,
    pub term: String,
    pub score: f32,
    pub freq: Option<f32>,
    pub idf: Option<f32>,
    pub boost: f32,
    pub typo: bool,
    pub synonym: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonContext {
    pub before: Vec<JsonNeighbor>,
    pub after: Vec<JsonNeighbor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonNeighbor {
    pub id: String,
    pub ordinal: u64,
    pub section: Vec<String>,
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonFacets {
    pub roles: std::collections::BTreeMap<String, u64>,
    pub topics: std::collections::BTreeMap<String, u64>,
}

/// Mirror of one document of `sections --json`; unknown fields fail the test.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonOutline {
    pub source: String,
    pub title: String,
    pub passages: usize,
    pub sections: Vec<JsonSection>,
}

/// Mirror of one section of `sections --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSection {
    pub path: Vec<String>,
    /// Why the heading is one: only with `--explain`.
    #[serde(default)]
    pub heading_reasons: Option<Vec<String>>,
    pub passages: usize,
    pub captions: Vec<String>,
    /// One list of deciding signals per caption.
    pub caption_reasons: Vec<Vec<String>>,
}

/// Mirror of `labels --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonLabels {
    pub roles: Vec<JsonCategory>,
    pub topics: Vec<JsonCategory>,
}

/// Mirror of one role or topic of `labels --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonCategory {
    pub name: String,
    pub passages: u64,
    pub slug: String,
    pub terms: Vec<String>,
}
