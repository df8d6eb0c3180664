//! Fusion of the two rankings of a hybrid search: BM25 (words) and cosine similarity
//! (meaning), combined by reciprocal rank so neither score's scale has to be calibrated.
//! The words' ranking counts as far as the query's words are in the corpus at all.

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
    weighted_reciprocal_rank(lexical, semantic, 1.0)
}

/// How much the words' ranking counts in a fusion: the share of the query's words that some
/// passage holds (as typed, by a typo or by a synonym). A query in other words than the
/// corpus's matches passages on its incidental words ("plan" in "the floor plan of a home"),
/// and those matches should not push down what the meaning found; a query whose every word
/// the corpus has keeps both rankings at equal weight. No words at all: weight 1 (an empty
/// lexical list has nothing to weigh).
pub fn lexical_weight(words: usize, found: usize) -> f32 {
    if words == 0 {
        1.0
    } else {
        found.min(words) as f32 / words as f32
    }
}

/// Reciprocal rank fusion with the lexical list weighted: a passage scores
/// `lexical_weight / (RRF_K + lexical rank) + 1 / (RRF_K + semantic rank)`; ties go to the
/// better lexical rank, then the better semantic rank.
pub fn weighted_reciprocal_rank<K: Clone + Eq + std::hash::Hash>(
    lexical: &[K],
    semantic: &[K],
    lexical_weight: f32,
) -> Vec<Fused<K>> {
    let mut by_key: HashMap<K, Fused<K>> = HashMap::new();
    for (list, is_lexical) in [(lexical, true), (semantic, false)] {
        let weight = if is_lexical { lexical_weight } else { 1.0 };
        for (i, key) in list.iter().enumerate() {
            let entry = by_key.entry(key.clone()).or_insert_with(|| Fused {
                key: key.clone(),
                score: 0.0,
                lexical_rank: None,
                semantic_rank: None,
            });
            let rank = i + 1;
            entry.score += weight / (RRF_K + rank as f32);
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
    fn the_lexical_weight_is_the_share_of_words_found() {
        for (words, found, expected) in [(4, 4, 1.0), (4, 1, 0.25), (2, 0, 0.0), (0, 0, 1.0), (1, 3, 1.0)] {
            assert_eq!(
                lexical_weight(words, found),
                expected,
                "{words} words, {found} found"
            );
        }
    }

    #[test]
    fn a_weak_lexical_side_lets_the_meaning_rank_first() {
        // "a" is first by words alone, "c" first by meaning alone: at equal weight the words
        // win the tie; at half weight the meaning's first passage comes first.
        let lexical = ["a", "b"];
        let semantic = ["c"];
        let equal = weighted_reciprocal_rank(&lexical, &semantic, 1.0);
        assert_eq!(equal[0].key, "a");
        let weak = weighted_reciprocal_rank(&lexical, &semantic, 0.5);
        let keys: Vec<&str> = weak.iter().map(|f| f.key).collect();
        assert_eq!(keys, ["c", "a", "b"]);
        assert_eq!(weak[1].lexical_rank, Some(1));
    }

    #[test]
    fn full_weight_is_plain_reciprocal_rank_fusion() {
        let lexical = ["a", "b", "c"];
        let semantic = ["c", "d", "a"];
        assert_eq!(
            weighted_reciprocal_rank(&lexical, &semantic, 1.0),
            reciprocal_rank(&lexical, &semantic)
        );
    }

    #[test]
    fn a_lexical_weight_of_zero_ranks_by_meaning_and_keeps_the_words_ranks() {
        let fused = weighted_reciprocal_rank(&["a", "b"], &["b", "c"], 0.0);
        let keys: Vec<&str> = fused.iter().map(|f| f.key).collect();
        assert_eq!(keys, ["b", "c", "a"]);
        assert_eq!(fused[2].lexical_rank, Some(1));
    }

    #[test]
    fn one_empty_list_keeps_the_other_in_order() {
        let fused = reciprocal_rank(&[], &["x", "y"]);
        let keys: Vec<&str> = fused.iter().map(|f| f.key).collect();
        assert_eq!(keys, ["x", "y"]);
        assert_eq!(fused[1].lexical_rank, None);
    }
}
