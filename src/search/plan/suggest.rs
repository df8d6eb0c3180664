//! Spelling suggestions: the query with each word the index lacks replaced by the closest
//! indexed word, as a passage writes it.

use anyhow::Result;
use tantivy::Searcher;

use super::terms::surface_form;
use super::Plan;
use crate::index::Fields;

impl Plan {
    /// The query with each unknown word replaced by the indexed word closest to it, as it is
    /// written in a passage; `None` when every word is known or nothing is close.
    pub(in crate::search) fn did_you_mean(
        &self,
        searcher: &Searcher,
        fields: &Fields,
        query: &str,
    ) -> Result<Option<String>> {
        let mut replacements = Vec::new();
        for (word, candidate) in &self.unknown {
            if let Some(term) = candidate {
                if let Some(surface) = surface_form(searcher, fields, term)? {
                    replacements.push((word.to_lowercase(), surface));
                }
            }
        }
        if replacements.is_empty() {
            return Ok(None);
        }
        let fix = |part: &str| {
            let core = part.trim_matches(|c: char| !c.is_alphanumeric());
            match replacements.iter().find(|(w, _)| *w == core.to_lowercase()) {
                Some((_, surface)) if !core.is_empty() => part.replacen(core, surface, 1),
                _ => part.to_string(),
            }
        };
        // `foo:cybersecurty` is searched as two words: each side of a colon is corrected alone.
        let corrected: Vec<String> = query
            .split_whitespace()
            .map(|token| token.split(':').map(fix).collect::<Vec<_>>().join(":"))
            .collect();
        Ok(Some(corrected.join(" ")))
    }
}
