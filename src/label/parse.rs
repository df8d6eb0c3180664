//! Reading `taxonomy.toml`: the file's shape, and the checks that turn a file a person wrote
//! into a usable taxonomy or one error line naming the place.

use std::fmt;

use serde::Deserialize;

use super::{Category, Taxonomy};
use crate::model::LabelKind;

// The file as written; unknown keys are errors so that a misspelt key (`alias` for `aliases`)
// is reported instead of silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTaxonomy {
    #[serde(default)]
    role: Vec<RawRole>,
    #[serde(default)]
    topic: Vec<RawTopic>,
    #[serde(default)]
    synonym: Vec<super::synonym::RawSynonym>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    slug: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    slug: String,
    name: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    outside_sections: bool,
}

/// A taxonomy file that cannot be used; the message is one line and names the place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxonomyError(pub String);

impl fmt::Display for TaxonomyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TaxonomyError {}

impl Taxonomy {
    /// Parses `taxonomy.toml` text. Rejects syntax errors (with line and column), duplicate
    /// slugs, and empty slugs, names, aliases or keywords.
    pub fn parse(text: &str) -> Result<Taxonomy, TaxonomyError> {
        let raw: RawTaxonomy = toml::from_str(text).map_err(|e| {
            let place = e
                .span()
                .map(|span| {
                    let (line, column) = line_column(text, span.start);
                    format!("line {line}, column {column}: ")
                })
                .unwrap_or_default();
            TaxonomyError(format!("{place}{}", e.message().trim().replace('\n', " ")))
        })?;
        let roles = raw
            .role
            .into_iter()
            .map(|r| Category::new(r.slug, r.name, r.aliases, false))
            .collect();
        let topics = raw
            .topic
            .into_iter()
            .map(|t| Category::new(t.slug, t.name, t.keywords, t.outside_sections))
            .collect();
        let synonyms = super::synonym::expansions(raw.synonym)?;
        let taxonomy = Taxonomy {
            roles,
            topics,
            synonyms,
        };
        taxonomy.validate()?;
        Ok(taxonomy)
    }

    fn validate(&self) -> Result<(), TaxonomyError> {
        for (kind, list, what) in [
            (LabelKind::Role, &self.roles, "alias"),
            (LabelKind::Topic, &self.topics, "keyword"),
        ] {
            for (i, category) in list.iter().enumerate() {
                if category.slug.trim().is_empty() {
                    return Err(TaxonomyError(format!("{kind} #{} has an empty slug", i + 1)));
                }
                if category.name.trim().is_empty() {
                    return Err(TaxonomyError(format!(
                        "{kind} \"{}\" has an empty name",
                        category.slug
                    )));
                }
                if list[..i].iter().any(|other| other.slug == category.slug) {
                    return Err(TaxonomyError(format!(
                        "duplicate {kind} slug \"{}\"",
                        category.slug
                    )));
                }
                for (term, pattern) in category.terms.iter().zip(&category.patterns) {
                    if term.trim().is_empty() {
                        return Err(TaxonomyError(format!(
                            "{kind} \"{}\" has an empty {what}",
                            category.slug
                        )));
                    }
                    // "++" alone would match nothing: words are what a passage is matched on.
                    if pattern.is_empty() {
                        return Err(TaxonomyError(format!(
                            "{kind} \"{}\": {what} \"{}\" has no letter or digit, so it matches nothing",
                            category.slug,
                            term.trim()
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = Taxonomy::parse("[[role]]\nslug = \"a\"\nname = \n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 3, column"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn duplicate_slug_is_rejected() {
        let text = "[[role]]\nslug = \"a\"\nname = \"A\"\n[[role]]\nslug = \"a\"\nname = \"B\"\n";
        assert_eq!(
            Taxonomy::parse(text).unwrap_err().to_string(),
            "duplicate role slug \"a\""
        );
    }

    #[test]
    fn empty_alias_is_rejected() {
        let text = "[[role]]\nslug = \"a\"\nname = \"A\"\naliases = [\"A\", \" \"]\n";
        assert_eq!(
            Taxonomy::parse(text).unwrap_err().to_string(),
            "role \"a\" has an empty alias"
        );
    }

    #[test]
    fn alias_without_a_word_character_is_rejected_by_name() {
        let text = "[[role]]\nslug = \"a\"\nname = \"A\"\naliases = [\"A\", \"++\"]\n";
        assert_eq!(
            Taxonomy::parse(text).unwrap_err().to_string(),
            "role \"a\": alias \"++\" has no letter or digit, so it matches nothing"
        );
        let text = "[[topic]]\nslug = \"t\"\nname = \"T\"\nkeywords = [\" #. \"]\n";
        assert_eq!(
            Taxonomy::parse(text).unwrap_err().to_string(),
            "topic \"t\": keyword \"#.\" has no letter or digit, so it matches nothing"
        );
    }

    #[test]
    fn unknown_key_is_rejected() {
        let text = "[[role]]\nslug = \"a\"\nname = \"A\"\nalias = [\"A\"]\n";
        assert!(Taxonomy::parse(text).unwrap_err().to_string().contains("alias"));
    }
}
