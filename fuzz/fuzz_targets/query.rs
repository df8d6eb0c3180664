//! Arbitrary text as a query against an index of the bundled article, built once: a search
//! never panics and never fails, whatever the query.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rsearch::corpus;
use rsearch::model::Progress;
use rsearch::index::{BuildSettings, IndexDir, Opened};
use rsearch::search::{self, Request};

/// The index of `corpus/`, built on first use in a folder kept for the whole run.
fn article_index() -> &'static Opened {
    static INDEX: OnceLock<(tempfile::TempDir, Opened)> = OnceLock::new();
    let (_, opened) = INDEX.get_or_init(|| {
        let folder = tempfile::tempdir().expect("temporary folder");
        let dir = IndexDir::new(&folder.path().join("index")).expect("index folder");
        let scan =
            corpus::scan(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus")).expect("bundled corpus");
        let lock = dir.lock().expect("lock");
        dir.build(&scan, BuildSettings { memory: 50 << 20, full: true }, &Progress::default(), &lock)
            .expect("index builds");
        drop(lock);
        let opened = dir.open().unwrap_or_else(|why| panic!("index opens: {why}"));
        (folder, opened)
    });
    opened
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let opened = article_index();
    for limit in [1, 10] {
        let request = Request {
            explain: true,
            context: 1,
            ..Request::new(query, limit)
        };
        let results = search::run(opened, &request).expect("any text is a valid query");
        assert!(results.hits.len() <= limit);
        assert!(results.total_hits >= results.hits.len());
    }
});
