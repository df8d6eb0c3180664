//! Test harness: a temporary copy of the project's `corpus/` and a runner for the built binary.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
        let output = command.output().expect("run rsearch");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
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
