//! Index: the tantivy schema (field names defined once), the index folder and its generations,
//! full builds and incremental updates, and opening the live index fresh for a search.
//!
//! | file | job |
//! |---|---|
//! | `schema.rs` | fields, analyzer, searchable fields, longest word, passage → document |
//! | `folder.rs` | the folder: `CURRENT`, the lock and its bounded waits, generations, leftovers |
//! | `directory.rs` | tantivy's directory of a generation: readable files, a meta lock that never hangs |
//! | `stamp.rs` | the stamp of each commit, the per-file manifest and the watch, as lines of text |
//! | `build.rs` | full build; incremental update (diff the manifest, apply) |
//! | `open.rs` | open the live generation: stamp, tantivy's index, taxonomy copy, vectors; why it is unfit |
//! | `fresh.rs` | judge the live index current (beside a search, or before), build or repair it |
//! | `vectors.rs` | passage and sentence vectors: the file, making them, nearest passages |
//! | `stem.rs` | stemming that remembers the words it has stemmed (for writing); stemming some words only (snippets) |

use std::path::Path;

use anyhow::{anyhow, Result};

mod build;
mod directory;
mod feed;
mod folder;
mod fresh;
mod open;
mod schema;
mod segments;
mod stamp;
mod stem;
mod vectors;

pub use build::{build_or_update, BuildKind, BuildSettings, BuildSummary};
pub use folder::{scan_corpus_without_indexes, writer_wait, IndexDir, WriteLock};
pub use fresh::{
    check, open_fresh, repair, search_while_checking, CorpusChoice, Freshness, Notice, OpenSettings,
};
pub use open::{LiveIndex, Unfit};
pub use schema::{
    analyzer, field, schema, snippet_analyzer, Fields, ANALYZER, FORMAT_VERSION, MAX_WORD_BYTES,
};
pub use stamp::Stamp;
pub use vectors::{Near, StoredVectors, VectorChoice, VectorSettings, Vectors, AUTO_VECTORS_MAX_BYTES};

use crate::corpus;
use crate::model::Progress;
use build::build_full;

/// Builds a new index of the corpus at `corpus_root` in the folder `index_root` and opens it,
/// for callers that search in process (the tests' harness, the benchmarks, the fuzz targets).
/// `memory` is the writer's budget in bytes.
pub fn build_and_open(corpus_root: &Path, index_root: &Path, memory: usize) -> Result<LiveIndex> {
    let dir = IndexDir::new(index_root)?;
    let scan = corpus::scan(corpus_root)?;
    let lock = dir.lock(&|_, _| {})?;
    let settings = BuildSettings {
        memory,
        full: true,
        vectors: VectorSettings {
            choice: VectorChoice::Never,
            model: None,
        },
    };
    build_full(&dir, &scan, settings, &Progress::default(), &lock)?;
    drop(lock);
    open::open_live(&dir).map_err(|why| anyhow!("{why} in {}", dir.root().display()))
}
