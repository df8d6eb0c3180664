//! The segment layout an index is left in: a full build's segments merged into a few large
//! ones, and an update's small segments merged so deleted passages stop counting.

use anyhow::{Context as _, Result};
use tantivy::index::SegmentId;
use tantivy::{Index, IndexWriter};

/// Segments up to this many passages that lost passages in an update are merged at once, so
/// the BM25 statistics count no deleted passage (larger ones wait for their turn to merge).
const PURGE_MAX_DOCS: u32 = 20_000;

/// Largest segment, in passages, that the final merge of a full build makes (about 70 MB of
/// index): a merge maps its segments into memory, so this bounds the resident memory it takes.
const FINAL_SEGMENT_MAX_DOCS: u64 = 450_000;

/// Merges the segments a full build flushed into as few as [`FINAL_SEGMENT_MAX_DOCS`] allows,
/// one merge at a time, so that a query opens few files and looks each term up in few
/// dictionaries. The build itself merges nothing: each passage is written once while indexing
/// and once here (a merge policy merged small segments again and again), and only one merge
/// holds its segments in memory at a time. The generation is not live yet, so a crash here
/// leaves a temporary folder to remove, never a half-merged index.
pub(super) fn merge_into_few(index: &Index, writer: &mut IndexWriter) -> Result<()> {
    // Only ids and counts are kept: a segment's files are removed once nothing holds its meta.
    let segments: Vec<_> = index
        .searchable_segment_metas()
        .context("listing index segments")?
        .iter()
        .map(|m| (m.id(), u64::from(m.num_docs())))
        .collect();
    let total: u64 = segments.iter().map(|(_, docs)| docs).sum();
    let groups = total.div_ceil(FINAL_SEGMENT_MAX_DOCS).max(1) as usize;
    for group in balanced_groups(segments, groups) {
        if group.len() >= 2 {
            writer.merge(&group).wait().context("merging index segments")?;
        }
    }
    writer
        .garbage_collect_files()
        .wait()
        .context("removing merged segments")?;
    Ok(())
}

/// Splits items weighed by a count into `groups` groups of about equal weight (heaviest
/// first, each into the lightest group so far).
pub(super) fn balanced_groups<T>(mut items: Vec<(T, u64)>, groups: usize) -> Vec<Vec<T>> {
    items.sort_by_key(|(_, weight)| std::cmp::Reverse(*weight));
    let mut out: Vec<(u64, Vec<T>)> = (0..groups.max(1)).map(|_| (0, Vec::new())).collect();
    for (item, weight) in items {
        if let Some(lightest) = out.iter_mut().min_by_key(|(sum, _)| *sum) {
            lightest.0 += weight;
            lightest.1.push(item);
        }
    }
    out.into_iter().map(|(_, group)| group).collect()
}

/// After an update, merges the small segments that lost passages together with the segments
/// the update added, so deleted passages stop counting in the BM25 statistics (term and
/// passage counts are then exact; tantivy estimates the merged average passage length from
/// rounded lengths). Large segments are left alone: merging them would take seconds, and there
/// the few deleted passages shift statistics over a million passages by a few in a million,
/// until their segment is merged or `--full` rebuilds.
pub(super) fn purge_deleted(index: &Index, writer: &mut IndexWriter, before: &[SegmentId]) -> Result<()> {
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

    /// Items, how many groups, the groups expected.
    type GroupCase = (Vec<(char, u64)>, usize, Vec<Vec<char>>);

    #[test]
    fn balanced_groups_spread_the_weight_evenly_and_keep_every_item() {
        let cases: [GroupCase; 4] = [
            (
                vec![('a', 5), ('b', 4), ('c', 3), ('d', 3)],
                2,
                vec![vec!['a', 'd'], vec!['b', 'c']],
            ),
            (vec![('a', 1), ('b', 1)], 1, vec![vec!['a', 'b']]),
            (vec![('a', 1)], 3, vec![vec!['a'], vec![], vec![]]),
            (Vec::new(), 0, vec![vec![]]),
        ];
        for (items, groups, expected) in cases {
            assert_eq!(
                balanced_groups(items.clone(), groups),
                expected,
                "{items:?} in {groups}"
            );
        }
    }
}
