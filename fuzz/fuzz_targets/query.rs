//! Arbitrary text as a query against an index of the bundled article, built once: a search
//! never panics and never fails, whatever the query.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rsearch::index::{self, LiveIndex};
use rsearch::search::{self, Request};

/// The index of `corpus/`, built on first use in a folder kept for the whole run.
fn article_index() -> &'static LiveIndex {
    static INDEX: OnceLock<(tempfile::TempDir, LiveIndex)> = OnceLock::new();
    let (_, live) = INDEX.get_or_init(|| {
        let folder = tempfile::tempdir().expect("temporary folder");
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
        let live = index::build_and_open(&corpus, &folder.path().join("index"), 50 << 20)
            .expect("index builds and opens");
        (folder, live)
    });
    live
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let live = article_index();
    for limit in [1, 10] {
        let request = Request {
            explain: true,
            context: 1,
            ..Request::new(query, limit)
        };
        let results = search::run(live, &request).expect("any text is a valid query");
        assert!(results.hits.len() <= limit);
        assert!(results.total_hits >= results.hits.len());
    }
});
