//! Preparing a file for search: read → segment → label, the one step shared by building the
//! index, outlining the corpus (`sections`) and exporting it, with the taxonomy read once.

use std::fs;

use anyhow::{Context as _, Result};

use crate::corpus::{self, FileEntry, Scan};
use crate::label::{Taxonomy, TAXONOMY_FILE};
use crate::model::{Document, Format, Labels, Passage};
use crate::segment;

/// Reads and parses the corpus's taxonomy (an empty one when it has none), with its text.
/// A build calls it first; a caller may call it before announcing a build that would fail.
pub fn read_taxonomy(scan: &Scan) -> Result<(Taxonomy, Option<String>)> {
    let Some(entry) = &scan.taxonomy else {
        // A folder named like the taxonomy is a mistake to say, not a corpus without labels.
        let path = scan.root.join(TAXONOMY_FILE);
        if fs::metadata(&path).is_ok_and(|meta| meta.is_dir()) {
            anyhow::bail!("taxonomy {} is a folder, not a file", path.display());
        }
        return Ok((Taxonomy::default(), None));
    };
    let text =
        fs::read_to_string(&entry.path).with_context(|| format!("reading {}", entry.path.display()))?;
    let taxonomy = Taxonomy::parse(&text)
        .with_context(|| format!("taxonomy {}", scan.root.join(TAXONOMY_FILE).display()))?;
    Ok((taxonomy, Some(text)))
}

/// How a file is cut: with its outline (sections with their captions), which `sections`
/// prints, or into passages only, which is all the index needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    WithOutline,
    PassagesOnly,
}

/// A file read, cut into passages and labelled.
#[derive(Debug, Clone)]
pub struct PreparedFile {
    /// Its `sections` are empty unless [`Cut::WithOutline`] was asked for.
    pub document: Document,
    /// Number of headings (sections) of the document, whichever the cut.
    pub sections: usize,
    /// The labels of each passage, `labels[i]` for `document.passages[i]`.
    pub labels: Vec<Labels>,
}

/// What came of preparing one file. Every problem is a warning (pushed by [`file`]), never
/// an error: one bad file must not stop the rest.
#[derive(Debug)]
pub enum Prepared {
    Ready(PreparedFile),
    /// Empty or binary: nothing to index, and nothing to read again until it changes.
    Skipped,
    /// It could not be read (permissions, vanished); the next build tries again.
    Unreadable,
}

/// What came of streaming one file's passages with [`each_passage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streamed {
    /// Its passages were handed on: how many, and its number of headings.
    Ready { passages: u64, sections: usize },
    /// As [`Prepared::Skipped`].
    Skipped,
    /// As [`Prepared::Unreadable`]; passages handed on before the read failed (partway
    /// through a file read a piece at a time) are not to be kept.
    Unreadable,
}

/// Reads one file and hands each passage, labelled, to `each` (with the file's source and
/// title) as segmentation cuts it: the passages [`file`] gives with [`Cut::PassagesOnly`],
/// none of them kept, so a large file costs its text and not a copy of every passage besides.
/// Warnings as with [`file`].
pub fn each_passage(
    entry: &FileEntry,
    taxonomy: &Taxonomy,
    warnings: &mut Vec<String>,
    each: &mut dyn FnMut(&str, &str, &Passage, &Labels),
) -> Streamed {
    if entry.size >= PIECES_MIN_BYTES {
        match corpus::format_of(&entry.source).unwrap_or(Format::Text) {
            Format::Markdown => return each_passage_in_pieces(entry, taxonomy, warnings, each),
            Format::Text => return each_passage_in_two_passes(entry, taxonomy, warnings, each),
            Format::Html => {}
        }
    }
    let source = match corpus::read(entry, warnings) {
        Ok(Some(source)) => source,
        Ok(None) => return Streamed::Skipped,
        Err(e) => {
            warnings.push(format!("skipping {}: {e:#}", entry.source));
            return Streamed::Unreadable;
        }
    };
    let mut labeller = Labeller::new(&source.source, taxonomy);
    let (_, sections) = segment::each_passage(&source, &hints(taxonomy), &mut |title, passage| {
        labeller.hand(title, &passage, each)
    });
    Streamed::Ready {
        passages: labeller.passages,
        sections,
    }
}

/// Labels a file's passages as they are cut and hands them on, counting them: what every way
/// of cutting a file in [`each_passage`] shares.
struct Labeller<'a> {
    source: &'a str,
    taxonomy: &'a Taxonomy,
    /// Labelling without a taxonomy finds nothing: then no passage is labelled.
    unlabelled: bool,
    no_labels: Labels,
    passages: u64,
}

impl<'a> Labeller<'a> {
    fn new(source: &'a str, taxonomy: &'a Taxonomy) -> Labeller<'a> {
        Labeller {
            source,
            taxonomy,
            unlabelled: taxonomy.roles.is_empty() && taxonomy.topics.is_empty(),
            no_labels: Labels::default(),
            passages: 0,
        }
    }

    /// Hands `passage`, with its labels, to `each`.
    fn hand(&mut self, title: &str, passage: &Passage, each: &mut dyn FnMut(&str, &str, &Passage, &Labels)) {
        self.passages += 1;
        if self.unlabelled {
            each(self.source, title, passage, &self.no_labels);
        } else {
            let labels = self.taxonomy.label(&passage.section, &passage.text);
            each(self.source, title, passage, &labels);
        }
    }
}

/// A Markdown or plain-text file this large is read and cut a piece at a time (see
/// [`each_passage`]).
pub const PIECES_MIN_BYTES: u64 = 16 << 20;
/// The size of those pieces.
const PIECE_BYTES: usize = 1 << 20;
/// The size of the pieces of a plain-text file: smaller, as the first pass's plan is held
/// beside them while the writer's threads fill (the read buffer and the text gathered up to
/// a cut take about 6 MB with pieces of 1 MB, 1.5 MB with these; the passages are the same
/// whatever the size).
const TEXT_PIECE_BYTES: usize = 256 << 10;

/// [`each_passage`] of a large Markdown file, read and cut a piece at a time: its passages
/// need only what is near them (unlike plain text, whose headings are told from captions by
/// patterns across the document), so memory holds a piece of its text, not all of it.
fn each_passage_in_pieces(
    entry: &FileEntry,
    taxonomy: &Taxonomy,
    warnings: &mut Vec<String>,
    each: &mut dyn FnMut(&str, &str, &Passage, &Labels),
) -> Streamed {
    let mut labeller = Labeller::new(&entry.source, taxonomy);
    let mut sink = |title: &str, passage: Passage| labeller.hand(title, &passage, each);
    let mut pieces = segment::MarkdownPieces::new(&entry.source, PIECE_BYTES);
    match corpus::read_pieces(entry, PIECE_BYTES, warnings, &mut |text| {
        pieces.feed(text, &mut sink)
    }) {
        Ok(true) => {}
        Ok(false) => return Streamed::Skipped,
        Err(e) => {
            warnings.push(format!("skipping {}: {e:#}", entry.source));
            return Streamed::Unreadable;
        }
    }
    let (_, sections) = pieces.finish(&mut sink);
    Streamed::Ready {
        passages: labeller.passages,
        sections,
    }
}

/// [`each_passage`] of a large plain-text file, read twice a piece at a time: telling its
/// headings from captions weighs patterns across the whole document, so the first read keeps
/// only what that weighing needs of each block (a short line's text, a few flags) and the
/// second cuts the passages, as cutting the whole text would. A file that changed between the
/// two reads is unreadable this time (its passages already handed on are not to be kept).
fn each_passage_in_two_passes(
    entry: &FileEntry,
    taxonomy: &Taxonomy,
    warnings: &mut Vec<String>,
    each: &mut dyn FnMut(&str, &str, &Passage, &Labels),
) -> Streamed {
    let hints = hints(taxonomy);
    fix_allocator_thresholds();
    let mut outline = segment::TextOutline::new(&hints, TEXT_PIECE_BYTES);
    match corpus::read_pieces(entry, TEXT_PIECE_BYTES, warnings, &mut |text| outline.feed(text)) {
        Ok(true) => {}
        Ok(false) => return Streamed::Skipped,
        Err(e) => {
            warnings.push(format!("skipping {}: {e:#}", entry.source));
            return Streamed::Unreadable;
        }
    }
    let plan = outline.finish();
    // The first read's state (a few entries a block: about 25 MB for the 436,000 blocks of a
    // 200 MB text) is freed; glibc keeps it in the reading thread's heap, which the passages
    // handed on reuse only in part, under the writer's threads' own.
    return_freed_memory();
    let mut labeller = Labeller::new(&entry.source, taxonomy);
    let mut sink = |title: &str, passage: Passage| labeller.hand(title, &passage, each);
    let mut pieces = segment::TextPieces::new(&entry.source, plan, TEXT_PIECE_BYTES);
    // The first read gave the warnings about the text; the second gives the same ones.
    let read = corpus::read_pieces(entry, TEXT_PIECE_BYTES, &mut Vec::new(), &mut |text| {
        pieces.feed(text, &mut sink)
    });
    if let Err(e) = read {
        warnings.push(format!("skipping {}: {e:#}", entry.source));
        return Streamed::Unreadable;
    }
    match pieces.finish(&mut sink) {
        Some((_, sections)) => Streamed::Ready {
            passages: labeller.passages,
            sections,
        },
        None => {
            warnings.push(format!("skipping {}: it changed while it was read", entry.source));
            Streamed::Unreadable
        }
    }
}

/// Gives the memory freed so far back to the system: glibc's allocator keeps freed memory in
/// its heaps for later allocations, and a thread's heap serves only that thread, so a large
/// state freed by one thread stays in the process's resident memory while others fill theirs.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: `malloc_trim` only returns free pages of glibc's heaps to the system; it
        // touches no memory in use and is safe to call from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Fixes glibc's allocator thresholds for the rest of the process: blocks of 4 MB or more are
/// mapped on their own, and free memory at the top of a heap beyond 1 MB goes back to the
/// system. Left to itself, glibc raises both each time a mapped block larger than the last is
/// freed (up to 32 and 64 MB): the first pass over a large plain-text file frees its tables
/// of 5–9 MB, after which the writer's buffers of a few MB came from the threads' heaps and
/// stayed there once freed, into the merge (a 200 MB text peaked at 111–135 MB where the
/// folder of the same text peaked at 110–116 MB; fixed: 103–105 MB). Glibc's own 128 KB for
/// the top of a heap costs a second of system time on that text; 1 MB costs none.
fn fix_allocator_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
        }
        // glibc's <malloc.h>.
        const M_TRIM_THRESHOLD: std::os::raw::c_int = -1;
        const M_MMAP_THRESHOLD: std::os::raw::c_int = -3;
        // SAFETY: `mallopt` only sets the allocator's parameters (under its own lock); it
        // touches no memory in use and is safe to call from any thread at any time.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, 1 << 20);
            mallopt(M_MMAP_THRESHOLD, 4 << 20);
        }
    }
}

/// Reads, segments and labels one file of the corpus, pushing any warning about it.
pub fn file(entry: &FileEntry, taxonomy: &Taxonomy, cut: Cut, warnings: &mut Vec<String>) -> Prepared {
    let source = match corpus::read(entry, warnings) {
        Ok(Some(source)) => source,
        Ok(None) => return Prepared::Skipped,
        Err(e) => {
            warnings.push(format!("skipping {}: {e:#}", entry.source));
            return Prepared::Unreadable;
        }
    };
    let (document, sections) = match cut {
        Cut::PassagesOnly => segment::passages_with(&source, &hints(taxonomy)),
        Cut::WithOutline => {
            let document = segment::document_with(&source, &hints(taxonomy));
            // The root section (text before the first heading) has no heading of its own.
            let headings = document.sections.iter().filter(|s| !s.path.is_empty()).count();
            (document, headings)
        }
    };
    // Labelling without a taxonomy finds nothing; skipping it saves a pass over every passage.
    let labels = if taxonomy.roles.is_empty() && taxonomy.topics.is_empty() {
        vec![Labels::default(); document.passages.len()]
    } else {
        document
            .passages
            .iter()
            .map(|p| taxonomy.label(&p.section, &p.text))
            .collect()
    };
    Prepared::Ready(PreparedFile {
        document,
        sections,
        labels,
    })
}

/// What segmentation may know of the taxonomy: each role's names, as plain data.
pub fn hints(taxonomy: &Taxonomy) -> segment::Hints {
    segment::Hints {
        roles: taxonomy
            .roles
            .iter()
            .map(|role| {
                std::iter::once(role.name.clone())
                    .chain(role.terms.iter().cloned())
                    .collect()
            })
            .collect(),
    }
}
