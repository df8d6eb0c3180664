//! Synonyms of `taxonomy.toml`: words readers type that the corpus may not use, each with the
//! words it also finds; searched at query time only, so editing them relabels nothing.

use serde::Deserialize;

use super::{words, TaxonomyError};

/// A word (or words) a reader may type, and what else it should find: each alternative is
/// searched too, weighing less than the word typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonym {
    pub word: String,
    pub alternatives: Vec<String>,
}

/// `same = [...]` (each finds the others) or `word = "..."` with `finds = [...]` (one way).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSynonym {
    #[serde(default)]
    same: Vec<String>,
    word: Option<String>,
    #[serde(default)]
    finds: Vec<String>,
}

/// The synonym entries as expansions, one per word a reader may type. An entry is either a
/// group of equivalent words (at least two) or one word with the words it also finds; empty
/// words are rejected, and a word listed twice collects the alternatives of both entries.
pub(super) fn expansions(raw: Vec<RawSynonym>) -> Result<Vec<Synonym>, TaxonomyError> {
    let mut out: Vec<Synonym> = Vec::new();
    let mut add = |word: &str, alternatives: Vec<String>| {
        let word = word.trim().to_string();
        match out.iter_mut().find(|s| words(&s.word) == words(&word)) {
            Some(existing) => {
                for alternative in alternatives {
                    if !existing.alternatives.contains(&alternative) {
                        existing.alternatives.push(alternative);
                    }
                }
            }
            None => out.push(Synonym { word, alternatives }),
        }
    };
    for (i, entry) in raw.into_iter().enumerate() {
        let n = i + 1;
        let listed = entry.same.iter().chain(&entry.finds).chain(&entry.word);
        if listed.into_iter().any(|w| words(w).is_empty()) {
            return Err(TaxonomyError(format!("synonym #{n} has an empty word")));
        }
        let trimmed = |list: &[String]| list.iter().map(|w| w.trim().to_string()).collect::<Vec<_>>();
        match (entry.same.is_empty(), entry.word) {
            (false, None) if entry.finds.is_empty() => {
                if entry.same.len() < 2 {
                    return Err(TaxonomyError(format!(
                        "synonym #{n}: `same` needs at least two words"
                    )));
                }
                let group = trimmed(&entry.same);
                for word in &group {
                    let others = group.iter().filter(|w| *w != word).cloned().collect();
                    add(word, others);
                }
            }
            (true, Some(word)) if !entry.finds.is_empty() => add(&word, trimmed(&entry.finds)),
            _ => {
                return Err(TaxonomyError(format!(
                    "synonym #{n} needs either `same = [...]` or `word = \"...\"` with `finds = [...]`"
                )))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::label::{Synonym, Taxonomy};

    #[test]
    fn synonym_group_makes_each_word_find_the_others() {
        let t = Taxonomy::parse("[[synonym]]\nsame = [\"publicity\", \"press coverage\", \"media\"]\n")
            .expect("parses");
        assert_eq!(t.synonyms.len(), 3);
        assert_eq!(t.synonyms[0].word, "publicity");
        assert_eq!(t.synonyms[0].alternatives, ["press coverage", "media"]);
        assert_eq!(t.synonyms[1].alternatives, ["publicity", "media"]);
    }

    #[test]
    fn one_way_synonym_expands_only_its_word() {
        let t =
            Taxonomy::parse("[[synonym]]\nword = \"funding\"\nfinds = [\"investors\", \"fundraising\"]\n")
                .expect("parses");
        assert_eq!(
            t.synonyms,
            [Synonym {
                word: "funding".into(),
                alternatives: vec!["investors".into(), "fundraising".into()]
            }]
        );
    }

    #[test]
    fn a_word_in_two_entries_collects_both_expansions() {
        let text = "[[synonym]]\nsame = [\"hackers\", \"attackers\"]\n[[synonym]]\nword = \"Hackers\"\nfinds = [\"cybersecurity\"]\n";
        let t = Taxonomy::parse(text).expect("parses");
        assert_eq!(t.synonyms[0].alternatives, ["attackers", "cybersecurity"]);
    }

    #[test]
    fn malformed_synonyms_are_rejected_with_their_number() {
        for (text, message) in [
            (
                "[[synonym]]\nsame = [\"alone\"]\n",
                "synonym #1: `same` needs at least two words",
            ),
            (
                "[[synonym]]\nsame = [\"a\", \" \"]\n",
                "synonym #1 has an empty word",
            ),
            ("[[synonym]]\nword = \"funding\"\n", "synonym #1 needs either"),
            (
                "[[synonym]]\nsame = [\"a\", \"b\"]\nword = \"c\"\nfinds = [\"d\"]\n",
                "synonym #1 needs either",
            ),
        ] {
            let error = Taxonomy::parse(text).expect_err(text).0;
            assert!(error.starts_with(message), "{text:?} gave {error:?}");
        }
    }
}
