//! The segment layout an index is left in: a full build's segments merged into a few large
//! ones, and an update's small segments merged so deleted passages stop counting.

use anyhow::{Context as _, Result};
use std::fs;
use std::path::Path;

use tantivy::index::{SegmentComponent, SegmentId};
use tantivy::schema::document::Document;
use tantivy::{Index, IndexWriter};

/// Segments up to this many passages that lost passages in an update are merged at once, so
/// the BM25 statistics count no deleted passage (larger ones wait for their turn to merge).
const PURGE_MAX_DOCS: u32 = 20_000;

/// Largest segment, in passages, that the final merge of a full build makes (about 95 MB of
/// index): a merge maps its segments into memory, so this bounds the resident memory it takes
/// (2 segments for the 197 MB corpus, whose two merges at once peak at 205-208 MB; one merge
/// of all of it peaked at 253 MB).
const FINAL_SEGMENT_MAX_DOCS: u64 = 650_000;

/// Merges the segments a full build flushed into as few as [`FINAL_SEGMENT_MAX_DOCS`] allows,
/// so that a query opens few files and looks each term up in few
/// dictionaries. The build itself merges nothing: each passage is written once while indexing
/// and once here (a merge policy merged small segments again and again); the merges run side
/// by side, one a core. Segments are merged with those flushed just before
/// and after them ([`contiguous_groups`] in the order their files were written): the files are
/// indexed in corpus order, so each merged segment holds one stretch of the corpus, whose
/// words its dictionary holds, instead of every stretch's (0.9 MB less of dictionaries in
/// three segments of the 197 MB corpus). The generation is not live yet, so a crash here
/// leaves a temporary folder to remove, never a half-merged index.
pub(super) fn merge_into_few<D: Document>(
    index: &Index,
    writer: &mut IndexWriter<D>,
    dir: &Path,
) -> Result<()> {
    // Only ids and counts are kept: a segment's files are removed once nothing holds its meta.
    let mut segments: Vec<_> = index
        .searchable_segment_metas()
        .context("listing index segments")?
        .iter()
        .map(|m| {
            let written = fs::metadata(dir.join(m.relative_path(SegmentComponent::Store)))
                .and_then(|meta| meta.modified())
                .ok();
            (written, m.id(), u64::from(m.num_docs()))
        })
        .collect();
    // Ties (and times that cannot be read) keep an order, so that the groups are the same.
    segments.sort_by_key(|(written, id, _)| (*written, id.uuid_string()));
    let segments: Vec<_> = segments.into_iter().map(|(_, id, docs)| (id, docs)).collect();
    let total: u64 = segments.iter().map(|(_, docs)| docs).sum();
    let groups = total.div_ceil(FINAL_SEGMENT_MAX_DOCS).max(1) as usize;
    // glibc's allocator keeps what the indexing threads freed (about 70 MB of their buffers
    // on the 197 MB corpus), which the merge's mapped files came on top of in the build's peak.
    crate::prepare::return_freed_memory();
    // The merges run at once, on tantivy's merge threads: a merge is one thread's work (the
    // merges are about 12 % of a build's CPU), and one after the other they left the second
    // core idle. Both hold their segments mapped at once: the 197 MB corpus's build peaks at
    // 205-208 MB in them instead of 158 MB while indexing.
    let merges: Vec<_> = contiguous_groups(segments, groups)
        .into_iter()
        .filter(|group| group.len() >= 2)
        .map(|group| writer.merge(&group))
        .collect();
    for merge in merges {
        merge.wait().context("merging index segments")?;
    }
    writer
        .garbage_collect_files()
        .wait()
        .context("removing merged segments")?;
    Ok(())
}

/// Splits items weighed by a count, in order, into at most `groups` runs of neighbours of
/// about equal weight: each item goes to the run its middle falls in, so a run is off its
/// share by at most half an item's weight at each end.
pub(super) fn contiguous_groups<T>(items: Vec<(T, u64)>, groups: usize) -> Vec<Vec<T>> {
    let groups = groups.max(1) as u128;
    let total = u128::from(items.iter().map(|(_, weight)| *weight).sum::<u64>());
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut before = 0u128;
    for (item, weight) in items {
        let weight = u128::from(weight);
        let middle = 2 * before + weight;
        let group = if total == 0 {
            0
        } else {
            ((middle * groups) / (2 * total)).min(groups - 1) as usize
        };
        before += weight;
        if out.len() <= group {
            out.resize_with(group + 1, Vec::new);
        }
        out[group].push(item);
    }
    out.retain(|group| !group.is_empty());
    out
}

/// After an update, merges the small segments that lost passages together with the segments
/// the update added, so deleted passages stop counting in the BM25 statistics (term and
/// passage counts are then exact; tantivy estimates the merged average passage length from
/// rounded lengths). Large segments are left alone: merging them would take seconds, and there
/// the few deleted passages shift statistics over a million passages by a few in a million,
/// until their segment is merged or `--full` rebuilds.
pub(super) fn purge_deleted<D: Document>(
    index: &Index,
    writer: &mut IndexWriter<D>,
    before: &[SegmentId],
) -> Result<()> {
    let metas = index
        .searchable_segment_metas()
        .context("listing index segments")?;
    let merge: Vec<_> = metas
        .iter()
        .filter(|m| m.max_doc() <= PURGE_MAX_DOCS && (m.has_deletes() || !before.contains(&m.id())))
        .map(|m| m.id())
        .collect();
    let with_deletes = metas.iter().any(|m| merge.contains(&m.id()) && m.has_deletes());
    if merge.len() >= 2 || with_deletes {
        writer.merge(&merge).wait().context("merging updated segments")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items in order, how many groups, the groups expected.
    type GroupCase = (Vec<(char, u64)>, usize, Vec<Vec<char>>);

    #[test]
    fn contiguous_groups_keep_neighbours_together_with_about_equal_weight() {
        let cases: [GroupCase; 7] = [
            (
                vec![('a', 5), ('b', 4), ('c', 3), ('d', 3)],
                2,
                vec![vec!['a', 'b'], vec!['c', 'd']],
            ),
            (
                vec![('a', 1), ('b', 1), ('c', 1), ('d', 1), ('e', 1), ('f', 1)],
                3,
                vec![vec!['a', 'b'], vec!['c', 'd'], vec!['e', 'f']],
            ),
            (
                vec![('a', 10), ('b', 1), ('c', 1), ('d', 10)],
                2,
                vec![vec!['a', 'b'], vec!['c', 'd']],
            ),
            (vec![('a', 1), ('b', 1)], 1, vec![vec!['a', 'b']]),
            (vec![('a', 1)], 3, vec![vec!['a']]),
            (vec![('a', 0), ('b', 0)], 2, vec![vec!['a', 'b']]),
            (Vec::new(), 0, vec![]),
        ];
        for (items, groups, expected) in cases {
            assert_eq!(
                contiguous_groups(items.clone(), groups),
                expected,
                "{items:?} in {groups}"
            );
        }
    }
}
