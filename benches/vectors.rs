//! The nearest-passage scan on real sentence vectors: how well quantised rows rank against
//! exact f32 ones (recall@10), what a row costs to scan and to read, and how big the file is,
//! on the rows of an f32 vectors file (`RSVEC002`) and on larger sets made from them.
//!
//! ```sh
//! rsearch index --corpus SOME-CORPUS --index /tmp/idx --vectors   # with an rsearch that writes RSVEC002
//! cargo bench --bench vectors -- --vectors /tmp/idx/gen-…/vectors-….bin \
//!     --queries queries.txt --model models/all-MiniLM-L6-v2 --sizes 66000,300000,1200000
//! ```
//!
//! Larger sets repeat the file's rows, each copy moved by a little noise and made unit length
//! again: their scan and read times are real, their rankings are not (so recall is measured on
//! the file's own rows only). The "f32" lines scan as rsearch did before rows were quantised:
//! every row's cosine, all rows sorted, then grouped by passage.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rsearch::embed::{self, QueryEmbedder};
use rsearch::index::Vectors;

/// Rows of an f32 vectors file: ids and their numbers.
struct Exact {
    fingerprint: String,
    dimensions: usize,
    ids: Vec<String>,
    data: Vec<f32>,
}

fn read_exact(path: &PathBuf) -> Exact {
    let bytes = std::fs::read(path).expect("read the vectors file");
    assert_eq!(
        &bytes[..8],
        b"RSVEC002",
        "an f32 vectors file (RSVEC002) is needed"
    );
    let mut at = 8;
    let u32_at = |at: &mut usize| {
        let n = u32::from_le_bytes(bytes[*at..*at + 4].try_into().expect("u32"));
        *at += 4;
        n as usize
    };
    let string_at = |at: &mut usize| {
        let n = u32_at(at);
        let text = String::from_utf8(bytes[*at..*at + n].to_vec()).expect("utf-8");
        *at += n;
        text
    };
    let fingerprint = string_at(&mut at);
    let dimensions = u32_at(&mut at);
    let rows = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("u64")) as usize;
    at += 8;
    let ids: Vec<String> = (0..rows).map(|_| string_at(&mut at)).collect();
    let data = bytes[at..at + rows * dimensions * 4]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Exact {
        fingerprint,
        dimensions,
        ids,
        data,
    }
}

fn passage(id: &str) -> &str {
    id.rsplit_once('#').map_or(id, |(p, _)| p)
}

/// The scan as it was: every row's f32 cosine, sorted, grouped by passage.
fn exact_passages<'a>(exact: &'a Exact, query: &[f32]) -> Vec<(&'a str, f32)> {
    let mut scored: Vec<(&str, f32)> = exact
        .ids
        .iter()
        .zip(exact.data.chunks_exact(exact.dimensions))
        .map(|(id, v)| (id.as_str(), embed::similarity(query, v)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut best: HashMap<&str, f32> = HashMap::new();
    for (id, s) in &scored {
        best.entry(passage(id)).or_insert(*s);
    }
    let mut found: Vec<(&str, f32)> = best.into_iter().collect();
    found.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    found
}

/// A larger set: `n` rows, copies of the file's rows moved by noise of about `noise` a number.
fn synthesise(exact: &Exact, n: usize, noise: f32) -> Exact {
    let d = exact.dimensions;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let mut ids = Vec::with_capacity(n);
    let mut data = Vec::with_capacity(n * d);
    for i in 0..n {
        let row = i % exact.ids.len();
        let copy = i / exact.ids.len();
        let id = &exact.ids[row];
        ids.push(format!("copy{copy}/{id}"));
        let v: Vec<f32> = exact.data[row * d..(row + 1) * d]
            .iter()
            .map(|x| x + noise * next())
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        data.extend(v.into_iter().map(|x| x / norm));
    }
    Exact {
        fingerprint: exact.fingerprint.clone(),
        dimensions: d,
        ids,
        data,
    }
}

fn quantised(exact: &Exact) -> Vectors {
    let mut vectors = Vectors::new(&exact.fingerprint, exact.dimensions);
    for (id, v) in exact.ids.iter().zip(exact.data.chunks_exact(exact.dimensions)) {
        vectors.insert(id, v);
    }
    vectors
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn per_row(d: Duration, rows: usize) -> String {
    format!("{:.1} ns/row", d.as_nanos() as f64 / rows as f64)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut path, mut queries, mut model, mut sizes) = (None, None, None, vec![]);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--vectors" => path = args.next().map(PathBuf::from),
            "--queries" => queries = args.next().map(PathBuf::from),
            "--model" => model = args.next().map(PathBuf::from),
            "--sizes" => {
                sizes = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect()
            }
            _ => {}
        }
    }
    let Some(path) = path else {
        eprintln!(
            "usage: cargo bench --bench vectors -- --vectors FILE --queries FILE --model DIR [--sizes N,N…]"
        );
        return;
    };
    let model = model.unwrap_or_else(|| PathBuf::from(embed::DEFAULT_MODEL_DIR));
    let exact = read_exact(&path);
    let rows = exact.ids.len();
    let texts: Vec<String> = match &queries {
        Some(q) => std::fs::read_to_string(q)
            .expect("read queries")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect(),
        None => vec!["what a compiler does".into(), "memory of a computer".into()],
    };
    let embedder = QueryEmbedder::load(&model).expect("load the model");
    let query_vectors: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| embedder.embed(t).expect("embed a query").vector)
        .collect();
    let quantised_rows = quantised(&exact);
    println!(
        "{} rows of {} numbers, {} queries",
        rows,
        exact.dimensions,
        query_vectors.len()
    );

    // Rankings: exact f32 against quantised rows (the byte scan and the second, exact-query
    // scoring), and against the byte scan alone (the coarse score, not scored again).
    let (mut recall, mut recall_coarse, mut worst, mut floor_same) = (0.0, 0.0, 0f32, 0usize);
    let (mut swapped, mut widest_swap, mut above, mut above_found) = (0usize, 0f32, 0usize, 0usize);
    for q in &query_vectors {
        let truth = exact_passages(&exact, q);
        let top: Vec<&str> = truth.iter().take(10).map(|(p, _)| *p).collect();
        let got = quantised_rows.nearest_passages(q);
        let mine: Vec<&str> = got.iter().take(10).map(|n| n.passage).collect();
        recall += top.iter().filter(|p| mine.contains(p)).count() as f64 / top.len() as f64;
        let exact_of: HashMap<&str, f32> = truth.iter().copied().collect();
        // A passage ranked in the first 10 in place of one of the exact 10: how much lower
        // its exact cosine is than the exact 10th.
        if let Some(tenth) = truth.get(9) {
            for p in mine.iter().filter(|p| !top.contains(p)) {
                swapped += 1;
                widest_swap = widest_swap.max(tenth.1 - exact_of[p]);
            }
        }
        for near in got.iter().take(100) {
            worst = worst.max((near.similarity - exact_of[near.passage]).abs());
        }
        // The passages at or above the floor a search by meaning keeps (0.25), first 100.
        let kept_truth: Vec<&str> = truth
            .iter()
            .filter(|(_, s)| *s >= 0.25)
            .take(100)
            .map(|(p, _)| *p)
            .collect();
        let kept: Vec<&str> = quantised_rows
            .passages_near(q, 0.25)
            .take(100)
            .map(|n| n.passage)
            .collect();
        floor_same += usize::from(kept_truth == kept);
        let all_kept: Vec<&str> = quantised_rows.passages_near(q, 0.25).map(|n| n.passage).collect();
        let all_truth: Vec<&str> = truth
            .iter()
            .filter(|(_, s)| *s >= 0.25)
            .map(|(p, _)| *p)
            .collect();
        above += all_truth.len();
        above_found += all_truth.iter().filter(|p| all_kept.contains(p)).count();
        // The coarse score alone: query quantised too.
        let (qc, qs) = rsearch::index::quantise(q);
        let coarse_query: Vec<f32> = qc.iter().map(|&c| f32::from(c) * qs).collect();
        let coarse: Vec<&str> = quantised_rows
            .nearest_passages(&coarse_query)
            .iter()
            .take(10)
            .map(|n| n.passage)
            .collect();
        recall_coarse += top.iter().filter(|p| coarse.contains(p)).count() as f64 / top.len() as f64;
    }
    let n = query_vectors.len() as f64;
    println!(
        "recall@10 of passages, quantised rows scored again exactly: {:.4}; byte scores alone: {:.4}",
        recall / n,
        recall_coarse / n
    );
    println!("largest cosine error among the first 100 passages: {worst:.5}");
    println!(
        "passages in a first 10 in place of an exact one: {swapped}, each at most {widest_swap:.5} below the exact 10th"
    );
    println!(
        "passages at or above 0.25 exactly: {above}, of them found by the quantised scan: {above_found}"
    );
    println!(
        "queries whose passages above 0.25 (first 100) are the same list: {floor_same} of {}",
        query_vectors.len()
    );

    // File sizes and reading.
    let dir = std::env::temp_dir().join(format!("rsearch-bench-vectors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let f32_size = std::fs::metadata(&path).expect("size").len();
    let file = dir.join("vectors.bin");
    quantised_rows.write(&file).expect("write");
    let q_size = std::fs::metadata(&file).expect("size").len();
    println!(
        "file: f32 {f32_size} bytes, quantised {q_size} bytes ({:.2}×smaller)",
        f32_size as f64 / q_size as f64
    );

    let mut sets = vec![(rows, None)];
    sets.extend(sizes.iter().map(|&n| (n, Some(synthesise(&exact, n, 0.02)))));
    println!(
        "rows       f32 scan      quantised scan (floor 0.25)   read+check file   first search (grouping)"
    );
    for (n, synthetic) in &sets {
        let set = synthetic.as_ref().unwrap_or(&exact);
        let q = quantised(set);
        q.write(&file).expect("write");
        let f32_scan = (*n <= 400_000).then(|| {
            median(
                query_vectors
                    .iter()
                    .take(20)
                    .map(|v| {
                        let t = Instant::now();
                        black_box(exact_passages(set, v).len());
                        t.elapsed()
                    })
                    .collect(),
            )
        });
        let read = median(
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    black_box(Vectors::read(&file).expect("read").len());
                    t.elapsed()
                })
                .collect(),
        );
        let fresh = Vectors::read(&file).expect("read");
        let t = Instant::now();
        black_box(fresh.passages_near(&query_vectors[0], 0.25).take(100).count());
        let first = t.elapsed();
        let scan = median(
            query_vectors
                .iter()
                .map(|v| {
                    let t = Instant::now();
                    black_box(fresh.passages_near(v, 0.25).take(100).count());
                    t.elapsed()
                })
                .collect(),
        );
        println!(
            "{n:>9}  {:>26}  {:>12.2} ms {:>14}   {:>8.2} ms   {:>8.2} ms",
            f32_scan.map_or("-".to_string(), |d| format!(
                "{:.2} ms {}",
                d.as_secs_f64() * 1e3,
                per_row(d, *n)
            )),
            scan.as_secs_f64() * 1e3,
            per_row(scan, *n),
            read.as_secs_f64() * 1e3,
            first.as_secs_f64() * 1e3,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
