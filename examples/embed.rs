//! Checks the embedding model and measures its throughput: cosines of related and unrelated
//! sentences, the time to load either side of the model (candle's batches for builds, the
//! mapped weights for queries) and to embed a query, then passages per second over the texts
//! of a folder (one text a paragraph), batched with candle on one thread and one at a time from
//! the mapped weights.
//!
//! `cargo run --release --example embed -- [MODEL_DIR] [FOLDER]`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use rsearch::embed::{self, Embedder, QueryEmbedder};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(PathBuf::from)
        .or(embed::locate(None)?)
        .context("no model: run scripts/fetch-model.sh")?;
    let folder = args.next().unwrap_or_else(|| "corpus".to_string());
    let started = Instant::now();
    let model = Embedder::load(&dir)?;
    println!(
        "loaded {} in {:.0} ms",
        model.fingerprint,
        started.elapsed().as_secs_f64() * 1e3
    );
    for query in ["who talks to investors?", "hackers breaking into systems"] {
        let started = Instant::now();
        model.embed(&[query])?;
        println!(
            "embedded {query:?} in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    let started = Instant::now();
    let mapped = QueryEmbedder::load(&dir)?;
    println!(
        "mapped the weights and built the tokenizer in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    for query in ["who talks to investors?", "hackers breaking into systems"] {
        let started = Instant::now();
        mapped.embed(query)?;
        println!(
            "embedded {query:?} from the mapped weights in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    let pairs = [
        (
            "The CEO talks to the press.",
            "The chief executive gives interviews to journalists.",
        ),
        (
            "The CEO talks to the press.",
            "Heat conduction in composite slabs.",
        ),
        (
            "hackers",
            "CTOs play a crucial role in cybersecurity and data protection.",
        ),
        ("hackers", "Product Managers conduct market research."),
        ("A man is eating food.", "A man is eating a piece of bread."),
        ("A man is eating food.", "A man is riding a horse."),
    ];
    for (a, b) in pairs {
        let v = model.embed(&[a, b])?;
        println!("{:.4}  {a:?} ~ {b:?}", embed::similarity(&v[0], &v[1]));
    }
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(&folder).with_context(|| format!("reading {folder}"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt" || e == "md") {
            let text = std::fs::read_to_string(&path)?;
            texts.extend(
                text.split("\n\n")
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from),
            );
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let words: usize = refs.iter().map(|t| t.split_whitespace().count()).sum();
    let started = Instant::now();
    let vectors = model.embed(&refs)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "candle, batches: {} passages ({} words) in {seconds:.2} s: {:.1} passages/s",
        vectors.len(),
        words,
        vectors.len() as f64 / seconds,
    );
    let started = Instant::now();
    for text in &refs {
        mapped.embed(text)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "mapped, one at a time: {} passages in {seconds:.2} s: {:.1} passages/s",
        refs.len(),
        refs.len() as f64 / seconds,
    );
    Ok(())
}
