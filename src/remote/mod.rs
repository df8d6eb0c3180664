//! Remote engines: loads a corpus's passages into a running Typesense (`push`) and answers
//! queries from it as `Results`, so rsearch's front end works over a cluster as over a local index.
//!
//! `push` keeps no state on this machine: every document in the collection carries its
//! `digest` (see `export`), and a push reads the collection's ids and digests, then sends
//! only the passages added or changed since and deletes the ones that are gone. A collection
//! dropped, or loaded from another machine, is therefore brought up to date just the same.

mod query;
pub mod typesense;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::corpus::Scan;
use crate::export::{self, Format, Record};
use crate::label::Taxonomy;
use crate::model::Progress;

pub use query::{engine_query, filter_by, label_counts, label_slugs, passage, search, unmark};
pub use typesense::Client;

/// Collection used when none is named.
pub const DEFAULT_COLLECTION: &str = "rsearch";
/// Environment variable holding the API key when none is named.
pub const DEFAULT_API_KEY_ENV: &str = "TYPESENSE_API_KEY";
/// Passages sent in one import request, and the most bytes one request carries.
const BATCH_PASSAGES: usize = 2000;
const BATCH_BYTES: usize = 8 << 20;

/// Where a remote collection lives: `typesense://HOST:PORT[,HOST:PORT…]`, every node of a
/// cluster listed so that any of them can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub nodes: Vec<String>,
}

impl Target {
    /// Parses `typesense://HOST:PORT[,HOST:PORT…]`; any other scheme, a missing port or an
    /// empty host is an error saying what is expected.
    pub fn parse(url: &str) -> Result<Target> {
        let Some(rest) = url.strip_prefix("typesense://") else {
            bail!("remote {url:?} is not supported: expected typesense://HOST:PORT[,HOST:PORT…]");
        };
        let rest = rest.trim_end_matches('/');
        let mut nodes = Vec::new();
        for node in rest.split(',') {
            let valid = node
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
            if !valid {
                bail!("remote {url:?}: node {node:?} is not HOST:PORT");
            }
            nodes.push(node.to_string());
        }
        Ok(Target { nodes })
    }
}

/// What a push changed in the collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSummary {
    /// The collection did not exist and was created.
    pub created: bool,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub files: u64,
    pub bytes: u64,
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

/// Brings `collection` up to date with the corpus: creates it when missing, upserts passages
/// whose id is new or whose digest differs, in batches, and deletes ids the corpus no longer
/// has. Passages are read, segmented and labelled as `export` does.
pub fn push(
    client: &Client,
    collection: &str,
    scan: &Scan,
    taxonomy: &Taxonomy,
    progress: &Progress,
) -> Result<PushSummary> {
    let started = Instant::now();
    let mut summary = PushSummary::default();
    if !client.has_collection(collection)? {
        client.create_collection(collection)?;
        summary.created = true;
    }
    let mut remote: HashMap<String, String> = if summary.created {
        HashMap::new()
    } else {
        client.digests(collection)?
    };
    let mut batch: Vec<u8> = Vec::new();
    let mut in_batch = 0usize;
    let flush = |batch: &mut Vec<u8>, in_batch: &mut usize| -> Result<()> {
        if *in_batch > 0 {
            client.import(collection, batch)?;
        }
        batch.clear();
        *in_batch = 0;
        Ok(())
    };
    let exported = export::for_each_file(scan, taxonomy, progress, |records: &[Record]| {
        for record in records {
            match remote.remove(&record.id) {
                Some(digest) if digest == record.digest => {
                    summary.unchanged += 1;
                    continue;
                }
                Some(_) => summary.updated += 1,
                None => summary.added += 1,
            }
            export::write_record(Format::TypesenseJsonl, record, &mut batch)?;
            in_batch += 1;
            if in_batch >= BATCH_PASSAGES || batch.len() >= BATCH_BYTES {
                flush(&mut batch, &mut in_batch)?;
            }
        }
        Ok(())
    })?;
    flush(&mut batch, &mut in_batch)?;
    let mut gone: Vec<String> = remote.into_keys().collect();
    gone.sort();
    client
        .delete(collection, &gone)
        .context("removing passages the corpus no longer has")?;
    summary.removed = gone.len() as u64;
    summary.files = exported.files;
    summary.bytes = exported.bytes;
    summary.warnings = exported.warnings;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_lists_every_node_of_a_cluster() {
        assert_eq!(
            Target::parse("typesense://127.0.0.1:8108").unwrap().nodes,
            vec!["127.0.0.1:8108"]
        );
        assert_eq!(
            Target::parse("typesense://a:1,b:2/").unwrap().nodes,
            vec!["a:1", "b:2"]
        );
    }

    #[test]
    fn target_needs_the_scheme_and_a_port() {
        for bad in [
            "http://a:1",
            "typesense://a",
            "typesense://:1",
            "typesense://a:0",
            "typesense://a:x",
            "typesense://a:1,",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
