//! Fusion of the two rankings of a hybrid search: BM25 (words) and cosine similarity
//! (meaning), combined by reciprocal rank so neither score's scale has to be calibrated.

use std::collections::HashMap;

/// Rank offset of reciprocal rank fusion (Cormack et al. 2009): damps the weight of the very
/// first ranks so that agreement between the two lists counts more than one list's top.
pub const RRF_K: f32 = 60.0;

/// One passage of the fused ranking, with where it stood in each list (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Fused<K> {
    pub key: K,
    pub score: f32,
    pub lexical_rank: Option<usize>,
    pub semantic_rank: Option<usize>,
}

/// Reciprocal rank fusion: each passage scores `Σ 1 / (RRF_K + rank)` over the lists it is in;
/// ties go to the better lexical rank, then the better semantic rank.
pub fn reciprocal_rank<K: Clone + Eq + std::hash::Hash>(lexical: &[K], semantic: &[K]) -> Vec<Fused<K>> {
    let mut by_key: HashMap<K, Fused<K>> = HashMap::new();
    for (list, is_lexical) in [(lexical, true), (semantic, false)] {
        for (i, key) in list.iter().enumerate() {
            let entry = by_key.entry(key.clone()).or_insert_with(|| Fused {
                key: key.clone(),
                score: 0.0,
                lexical_rank: None,
                semantic_rank: None,
            });
            let rank = i + 1;
            entry.score += 1.0 / (RRF_K + rank as f32);
            if is_lexical {
                entry.lexical_rank = Some(rank);
            } else {
                entry.semantic_rank = Some(rank);
            }
        }
    }
    let mut fused: Vec<Fused<K>> = by_key.into_values().collect();
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(
                a.lexical_rank
                    .unwrap_or(usize::MAX)
                    .cmp(&b.lexical_rank.unwrap_or(usize::MAX)),
            )
            .then(
                a.semantic_rank
                    .unwrap_or(usize::MAX)
                    .cmp(&b.semantic_rank.unwrap_or(usize::MAX)),
            )
    });
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passage_in_both_lists_beats_the_top_of_one() {
        let fused = reciprocal_rank(&["a", "b"], &["c", "b"]);
        assert_eq!(fused[0].key, "b");
        assert_eq!(fused[0].lexical_rank, Some(2));
        assert_eq!(fused[0].semantic_rank, Some(2));
    }

    #[test]
    fn equal_scores_go_to_the_better_lexical_rank() {
        let fused = reciprocal_rank(&["a"], &["c"]);
        let keys: Vec<&str> = fused.iter().map(|f| f.key).collect();
        assert_eq!(keys, ["a", "c"]);
    }

    #[test]
    fn one_empty_list_keeps_the_other_in_order() {
        let fused = reciprocal_rank(&[], &["x", "y"]);
        let keys: Vec<&str> = fused.iter().map(|f| f.key).collect();
        assert_eq!(keys, ["x", "y"]);
        assert_eq!(fused[1].lexical_rank, None);
    }
}
