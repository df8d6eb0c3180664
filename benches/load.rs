//! Load benchmark of `rsearch serve`: N keep-alive connections over loopback send a fixed count
//! of searches; prints throughput, latency percentiles and errors, then the same while the
//! index is updated again and again, and the server's memory when idle.
//!
//! ```sh
//! cargo bench --bench load                                   # the bundled article
//! cargo bench --bench load -- --corpus /tmp/rsearch-corpora/corpora/large \
//!     --queries /tmp/rsearch-corpora/queries/large.txt --requests 20000
//! ```
//!
//! The corpus is copied once into `target/load/<name>/` (the reindex phase edits the copy,
//! never the original) and indexed there by the server on first start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queries used when no file is given (the bundled article's subjects).
const ARTICLE_QUERIES: &[&str] = &[
    "market research",
    "cybersecurity",
    "\"board of directors\"",
    "investors -media",
    "stakeholdrs",
    "technical skills",
    "product roadmap",
    "who talks to investors?",
    "strategy",
    "collaborating",
];

struct Options {
    corpus: PathBuf,
    queries: Vec<String>,
    connections: usize,
    requests: usize,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let mut corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut queries: Vec<String> = ARTICLE_QUERIES.iter().map(|q| q.to_string()).collect();
    let mut connections = 16;
    let mut requests = 20_000;
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--corpus" => corpus = PathBuf::from(value()),
            "--queries" => {
                let path = value();
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                queries = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(String::from)
                    .collect();
            }
            "--connections" => connections = value().parse().expect("--connections N"),
            "--requests" => requests = value().parse().expect("--requests N"),
            // `cargo bench` passes --bench to every bench binary.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    Options {
        corpus,
        queries,
        connections,
        requests,
    }
}

fn main() {
    let options = options();
    let name = options
        .corpus
        .file_name()
        .map_or("corpus".into(), |n| n.to_string_lossy().into_owned());
    let work = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/load")
        .join(&name);
    let corpus = work.join("corpus");
    if !corpus.join(".complete").exists() {
        let _ = std::fs::remove_dir_all(&corpus);
        std::fs::create_dir_all(&work).expect("work folder");
        let copied = Command::new("cp")
            .arg("-r")
            .arg(&options.corpus)
            .arg(&corpus)
            .status()
            .expect("cp");
        assert!(copied.success(), "copying the corpus failed");
        std::fs::write(corpus.join(".complete"), "").expect("mark copy");
    }
    // The index is built by `rsearch index`, so the server's memory is that of serving only.
    let built = Command::new(env!("CARGO_BIN_EXE_rsearch"))
        .arg("index")
        .arg("--corpus")
        .arg(&corpus)
        .arg("--index")
        .arg(work.join("index"))
        .status()
        .expect("rsearch index");
    assert!(built.success(), "building the index failed");
    let server = Server::start(&corpus, &work.join("index"));
    let started = memory(server.child.id());
    let paths: Vec<String> = options
        .queries
        .iter()
        .map(|q| format!("/api/search?q={}", encode(q)))
        .collect();
    // Warm the page cache and the server before measuring.
    let _ = run_load(&server.address, &paths, 4, 400.min(options.requests));
    let warm = memory(server.child.id());
    println!(
        "corpus   {} (copy in {}), {} queries",
        options.corpus.display(),
        corpus.display(),
        paths.len()
    );
    println!("server RSS idle after start          {started}");
    println!("server RSS idle after 400 searches   {warm}");
    println!(
        "{:<24} {:>5} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "phase", "conns", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    let sequential = run_load(&server.address, &paths, 1, (options.requests / 10).max(100));
    sequential.print("one connection");
    let steady = run_load(&server.address, &paths, options.connections, options.requests);
    steady.print("concurrent");

    // Again while the corpus changes and the index is updated back to back.
    let stop = Arc::new(AtomicBool::new(false));
    let updates = {
        let (stop, corpus, address) = (Arc::clone(&stop), corpus.clone(), server.address.clone());
        std::thread::spawn(move || reindex_loop(&corpus, &address, &stop))
    };
    let during = run_load(&server.address, &paths, options.connections, options.requests);
    stop.store(true, Ordering::Relaxed);
    let (rounds, update_ms) = updates.join().expect("reindex thread");
    during.print("during reindex");
    println!(
        "reindexes during the run: {rounds}, median {:.0} ms each (one file changed, one added)",
        median(update_ms)
    );
    println!(
        "server RSS idle after the runs       {}",
        memory(server.child.id())
    );
}

/// Latencies and errors of one run.
struct Run {
    connections: usize,
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Run {
    fn print(&self, phase: &str) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let total = self.latencies.len() + self.errors;
        println!(
            "{phase:<24} {:>5} {total:>8} {:>6} {:>9.0} {:>9.2} {:>9.2} {:>9.2}",
            self.connections,
            self.errors,
            total as f64 / self.elapsed.as_secs_f64(),
            at(0.50),
            at(0.99),
            at(1.0),
        );
    }
}

/// Sends `requests` searches over `connections` keep-alive connections, each taking the next
/// request number until all are sent.
fn run_load(address: &str, paths: &[String], connections: usize, requests: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new((Vec::with_capacity(requests), 0usize)));
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (next, results) = (Arc::clone(&next), Arc::clone(&results));
            let (address, paths) = (address.to_string(), paths.to_vec());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut connection: Option<Connection> = None;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= requests {
                        break;
                    }
                    let path = &paths[n % paths.len()];
                    let sent = Instant::now();
                    let ok = match connection.as_mut() {
                        Some(c) => c.get(path),
                        None => Connection::open(&address).and_then(|mut c| {
                            let ok = c.get(path);
                            connection = Some(c);
                            ok
                        }),
                    };
                    match ok {
                        Ok(200) => latencies.push(sent.elapsed()),
                        _ => {
                            errors += 1;
                            connection = None;
                        }
                    }
                }
                let mut all = results.lock().expect("results");
                all.0.extend(latencies);
                all.1 += errors;
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("load worker");
    }
    let elapsed = started.elapsed();
    let (latencies, errors) = std::mem::take(&mut *results.lock().expect("results"));
    Run {
        connections,
        latencies,
        errors,
        elapsed,
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    address: String,
}

impl Connection {
    fn open(address: &str) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            address: address.to_string(),
        })
    }

    /// Sends a GET and reads the whole answer; its status.
    fn get(&mut self, path: &str) -> std::io::Result<u16> {
        write!(
            self.writer,
            "GET {path} HTTP/1.1\r\nhost: {}\r\n\r\n",
            self.address
        )?;
        self.writer.flush()?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

/// Changes one file and adds one, then asks for a reindex, until stopped; the count of rounds
/// and the time each took.
fn reindex_loop(corpus: &Path, address: &str, stop: &AtomicBool) -> (usize, Vec<f64>) {
    let mut rounds = 0;
    let mut times = Vec::new();
    let edited = corpus.join("load-edited.txt");
    while !stop.load(Ordering::Relaxed) {
        let text = format!("Load round\n\nRound {rounds} of the load benchmark edits this file.\n");
        std::fs::write(&edited, text).expect("edit");
        std::fs::write(
            corpus.join(format!("load-added-{rounds}.txt")),
            "Added\n\nA file added during the load benchmark.\n",
        )
        .expect("add");
        let started = Instant::now();
        let mut connection = Connection::open(address).expect("connect");
        write!(
            connection.writer,
            "POST /api/reindex HTTP/1.1\r\nhost: {address}\r\ncontent-length: 0\r\n\r\n"
        )
        .expect("send");
        let mut status = String::new();
        connection.reader.read_line(&mut status).expect("answer");
        assert!(status.contains(" 200 "), "reindex failed: {status}");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        rounds += 1;
    }
    for round in 0..rounds {
        let _ = std::fs::remove_file(corpus.join(format!("load-added-{round}.txt")));
    }
    (rounds, times)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Resident memory of a process, from `/proc`: the total, its own heap and stacks (anon), and
/// the pages of memory-mapped index files it has touched (file; shared with the page cache).
fn memory(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    format!(
        "{:.1} MB (anon {:.1} MB, index files {:.1} MB)",
        mb("VmRSS:"),
        mb("RssAnon:"),
        mb("RssFile:")
    )
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The server under test, with its access log off; stopped when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(corpus: &Path, index: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rsearch"))
            .arg("serve")
            .arg("--corpus")
            .arg(corpus)
            .arg("--index")
            .arg(index)
            .args(["--listen", "127.0.0.1:0", "--quiet"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rsearch serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let address = loop {
            let line = lines
                .next()
                .and_then(Result::ok)
                .expect("server ended before listening");
            eprintln!("{line}");
            if let Some(at) = line.find("http://") {
                let rest = &line[at + 7..];
                break rest[..rest.find('/').unwrap_or(rest.len())].to_string();
            }
        };
        // Keep draining stderr so the server never blocks writing to it.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, address }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
