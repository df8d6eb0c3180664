//! Benchmark of `rsearch sections` on one generated file with thousands of headings: cutting
//! it with its outline, labelling its passages and printing the outline, as the command does.
//! Run with `cargo bench --bench sections`; the time per heading should not grow with their
//! number (the work is linear in passages and sections).

use std::hint::black_box;
use std::io;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsearch::label::Taxonomy;
use rsearch::model::{Format, SourceText};
use rsearch::output::{Outline, Printer, Style};
use rsearch::{prepare, segment};

/// Numbers of headings of the generated files: the time per heading is compared across them.
const HEADINGS: &[usize] = &[1_000, 4_000, 16_000];
/// Headings per chapter: each `#` chapter holds this many `##` sections.
const PER_CHAPTER: usize = 20;

/// A Markdown file of `headings` sections, nested two deep, each with three short paragraphs
/// naming roles and topics of the article's taxonomy.
fn generated(headings: usize) -> SourceText {
    let mut text = String::from("# Generated handbook\n\n");
    for n in 0..headings {
        if n % PER_CHAPTER == 0 {
            text.push_str(&format!("# Chapter {}\n\n", n / PER_CHAPTER));
        }
        text.push_str(&format!("## Role of a CTO, part {n}\n\n"));
        text.push_str("The CTO sets the technology strategy and leads the engineering team.\n\n");
        text.push_str("Product Managers research the market and talk to customers every week.\n\n");
        text.push_str(&format!(
            "The CEO reports to the board of directors about quarter {n}.\n\n"
        ));
    }
    SourceText {
        source: "handbook.md".into(),
        format: Format::Markdown,
        text,
    }
}

fn sections(c: &mut Criterion) {
    let taxonomy =
        Taxonomy::parse(include_str!("../corpus/taxonomy.toml")).expect("the article's taxonomy parses");
    let printer = Printer {
        style: Style::Human,
        color: false,
        full: false,
        width: None,
    };
    let hints = prepare::hints(&taxonomy);
    let mut group = c.benchmark_group("sections");
    group.sample_size(10);
    for &headings in HEADINGS {
        let source = generated(headings);
        group.throughput(Throughput::Elements(headings as u64));
        group.bench_with_input(BenchmarkId::from_parameter(headings), &source, |b, source| {
            b.iter(|| {
                let document = segment::document_with(black_box(source), &hints);
                let labels = document
                    .passages
                    .iter()
                    .map(|p| taxonomy.label(&p.section, &p.text))
                    .collect();
                let outline = Outline { document, labels };
                printer
                    .print_outline(std::slice::from_ref(&outline), &taxonomy, false, &mut io::sink())
                    .expect("printing to a sink");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sections);
criterion_main!(benches);
