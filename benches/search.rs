//! In-process benchmarks: query latency on the bundled article and on a generated corpus of
//! a few MB (built here, so the benchmark runs on a fresh clone), and segmentation throughput.
//! Run with `cargo bench`; whole-process figures against ripgrep come from `benches/compare.sh`.

use std::fs;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsearch::index::{self, LiveIndex};
use rsearch::model::{Format, SourceText};
use rsearch::search::{self, Request};
use rsearch::segment;

/// Queries of the kinds people type: one word, two words, a phrase, a typo.
const QUERIES: &[&str] = &[
    "cybersecurity",
    "market research",
    "\"board of directors\"",
    "strategie",
];

/// Files and paragraphs of the generated corpus: about 4 MB of text.
const GENERATED_FILES: usize = 160;
const SECTIONS_PER_FILE: usize = 12;
const PARAGRAPHS_PER_SECTION: usize = 6;

/// Words the generated articles are made of; a few rare ones give queries selective terms.
const WORDS: &[&str] = &[
    "the",
    "company",
    "product",
    "market",
    "research",
    "team",
    "strategy",
    "customer",
    "data",
    "security",
    "cybersecurity",
    "board",
    "directors",
    "investors",
    "growth",
    "revenue",
    "vision",
    "technology",
    "roadmap",
    "engineering",
    "design",
    "decision",
    "leadership",
    "culture",
    "risk",
    "compliance",
    "platform",
    "feature",
    "release",
    "quality",
    "budget",
    "hiring",
    "partner",
    "of",
    "and",
    "to",
    "in",
    "with",
    "for",
    "on",
    "a",
    "is",
    "are",
    "that",
    "their",
    "its",
];

/// A small deterministic generator (64-bit LCG): the same corpus on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound
    }
}

/// One plain-text article: a title, headed sections, paragraphs of sentences.
fn article(rng: &mut Lcg, n: usize) -> String {
    let mut text = format!("Generated article {n}\n\n");
    for section in 0..SECTIONS_PER_FILE {
        text.push_str(&format!(
            "Section {section} on {}\n\n",
            WORDS[rng.next(WORDS.len())]
        ));
        for _ in 0..PARAGRAPHS_PER_SECTION {
            let sentences = 2 + rng.next(6);
            for _ in 0..sentences {
                let words = 6 + rng.next(14);
                let sentence: Vec<&str> = (0..words).map(|_| WORDS[rng.next(WORDS.len())]).collect();
                let sentence = sentence.join(" ");
                let mut chars = sentence.chars();
                if let Some(first) = chars.next() {
                    text.extend(first.to_uppercase());
                    text.push_str(chars.as_str());
                }
                text.push_str(". ");
            }
            text.push_str("\n\n");
        }
    }
    text
}

/// Writes the generated corpus into `dir` and returns its total size in bytes.
fn generate(dir: &Path) -> u64 {
    let mut rng = Lcg(42);
    let mut bytes = 0;
    for n in 0..GENERATED_FILES {
        let text = article(&mut rng, n);
        bytes += text.len() as u64;
        let folder = dir.join(format!("part-{}", n % 8));
        fs::create_dir_all(&folder).expect("create corpus folder");
        fs::write(folder.join(format!("article-{n:03}.txt")), text).expect("write article");
    }
    bytes
}

/// Indexes `corpus_dir` into a fresh folder under `work` and opens it.
fn build(corpus_dir: &Path, work: &Path) -> LiveIndex {
    index::build_and_open(corpus_dir, &work.join("index"), 64 << 20).expect("build index")
}

fn query_latency(c: &mut Criterion) {
    let work = tempfile::tempdir().expect("temp dir");
    let article_corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let article_work = work.path().join("article");
    fs::create_dir_all(&article_work).expect("mkdir");
    let generated = work.path().join("generated");
    let generated_bytes = generate(&generated);
    let generated_work = work.path().join("generated-index");
    fs::create_dir_all(&generated_work).expect("mkdir");
    let corpora = [
        ("article", build(&article_corpus, &article_work)),
        ("generated", build(&generated, &generated_work)),
    ];
    eprintln!(
        "generated corpus: {GENERATED_FILES} files, {:.1} MB",
        generated_bytes as f64 / 1e6
    );
    let mut group = c.benchmark_group("query");
    for (name, opened) in &corpora {
        for query in QUERIES {
            let request = Request::new(query, 10);
            group.bench_with_input(BenchmarkId::new(*name, query), &request, |b, request| {
                b.iter(|| search::run(opened, black_box(request)).expect("search"))
            });
        }
    }
    group.finish();
}

fn segmentation(c: &mut Criterion) {
    let mut rng = Lcg(7);
    let texts: Vec<SourceText> = (0..40)
        .map(|n| SourceText {
            source: format!("article-{n}.txt"),
            format: Format::Text,
            text: article(&mut rng, n),
        })
        .collect();
    let bytes: usize = texts.iter().map(|t| t.text.len()).sum();
    let mut group = c.benchmark_group("segmentation");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("document", |b| {
        b.iter(|| {
            for text in &texts {
                black_box(segment::document(black_box(text)));
            }
        })
    });
    group.bench_function("passages", |b| {
        b.iter(|| {
            for text in &texts {
                black_box(segment::passages(black_box(text)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, query_latency, segmentation);
criterion_main!(benches);
