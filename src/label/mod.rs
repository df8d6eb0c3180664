//! Labelling: the taxonomy of roles and topics (`taxonomy.toml`) and the rules that give a
//! passage its labels. Pure: parsing (`parse.rs`) takes text, labelling takes a heading path and
//! a passage; synonyms (`synonym.rs`) are only read here and used by the search.

use unicode_segmentation::UnicodeSegmentation;

use crate::model::{Evidence, LabelKind, Labels, Reason};

mod parse;
mod synonym;

pub use parse::TaxonomyError;
pub use synonym::Synonym;

/// File name of the taxonomy inside a corpus folder.
pub const TAXONOMY_FILE: &str = "taxonomy.toml";

/// Roles and topics of a corpus. Roles are found by aliases, topics by keywords; both match
/// whole words, case-insensitively.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Taxonomy {
    pub roles: Vec<Category>,
    pub topics: Vec<Category>,
    /// Words readers use that the text may not, expanded at query time only.
    pub synonyms: Vec<Synonym>,
}

/// One role or topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub slug: String,
    pub name: String,
    /// Aliases of a role or keywords of a topic, as written in the taxonomy.
    pub terms: Vec<String>,
    /// A topic given to passages outside any section (introduction, conclusion).
    pub outside_sections: bool,
    /// `terms` as lower-case word sequences, for matching.
    patterns: Vec<Vec<String>>,
}

impl Taxonomy {
    /// The roles and topics a passage is about, without the evidence.
    pub fn label(&self, section: &[String], text: &str) -> Labels {
        let reasons = self.explain(section, text);
        let pick = |kind| {
            reasons
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.slug.clone())
                .collect()
        };
        Labels {
            roles: pick(LabelKind::Role),
            topics: pick(LabelKind::Topic),
        }
    }

    /// The labels of a passage with the evidence for each. Roles come from aliases in the text;
    /// failing that, from the nearest heading that names one. Topics come from the nearest
    /// heading with a keyword; failing that, from the text; a passage outside any section gets
    /// the `outside_sections` topics.
    pub fn explain(&self, section: &[String], text: &str) -> Vec<Reason> {
        let text_words = words(text);
        let mut reasons = from_text(LabelKind::Role, &self.roles, &text_words);
        if reasons.is_empty() {
            reasons = from_headings(LabelKind::Role, &self.roles, section);
        }
        let mut topics = if section.is_empty() {
            self.topics
                .iter()
                .filter(|t| t.outside_sections)
                .map(|t| Reason {
                    kind: LabelKind::Topic,
                    slug: t.slug.clone(),
                    evidence: Evidence::OutsideSections,
                })
                .collect()
        } else {
            from_headings(LabelKind::Topic, &self.topics, section)
        };
        if topics.is_empty() {
            topics = from_text(LabelKind::Topic, &self.topics, &text_words);
        }
        reasons.extend(topics);
        reasons
    }

    /// Finds the slug a user means by `value`: a slug, name or alias/keyword, in any case.
    /// An unknown value is an error listing the valid slugs.
    pub fn resolve(&self, kind: LabelKind, value: &str) -> Result<&str, TaxonomyError> {
        let list = self.list(kind);
        let wanted = words(value);
        let found = list.iter().find(|c| {
            c.slug.eq_ignore_ascii_case(value.trim())
                || words(&c.name) == wanted
                || c.patterns.contains(&wanted)
                || c.patterns
                    .iter()
                    .any(|p| p.len() == wanted.len() && plural_at(p, &wanted))
        });
        match found {
            Some(category) => Ok(&category.slug),
            None if list.is_empty() => Err(TaxonomyError(format!(
                "unknown {kind} \"{value}\": the index has no taxonomy, so there are no {kind}s to filter by"
            ))),
            None => {
                let valid: Vec<String> = list.iter().map(|c| format!("{} ({})", c.slug, c.name)).collect();
                Err(TaxonomyError(format!(
                    "unknown {kind} \"{value}\"; valid {kind}s: {}",
                    valid.join(", ")
                )))
            }
        }
    }

    /// The roles or the topics.
    pub fn list(&self, kind: LabelKind) -> &[Category] {
        match kind {
            LabelKind::Role => &self.roles,
            LabelKind::Topic => &self.topics,
        }
    }
}

impl Category {
    fn new(slug: String, name: String, terms: Vec<String>, outside_sections: bool) -> Category {
        // Terms that read the same as words ("CTOs" and "CTOs'") are one pattern: keep the first.
        let mut unique_terms: Vec<String> = Vec::new();
        let mut patterns: Vec<Vec<String>> = Vec::new();
        for term in terms {
            let pattern = words(&term);
            if pattern.is_empty() || !patterns.contains(&pattern) {
                patterns.push(pattern);
                unique_terms.push(term);
            }
        }
        let terms = unique_terms;
        Category {
            slug: slug.trim().to_string(),
            name: name.trim().to_string(),
            terms,
            outside_sections,
            patterns,
        }
    }

    /// How often each term occurs in `text_words`, for the terms that occur. A term's last
    /// word also matches its plural (`writer` finds `writers`, `company` `companies`), and an
    /// occurrence counts for the first term written that way, else the first it is a plural of.
    fn matches(&self, text_words: &[String]) -> Vec<(String, usize)> {
        let mut counts = vec![0usize; self.terms.len()];
        for start in 0..text_words.len() {
            let rest = &text_words[start..];
            let exact = self
                .patterns
                .iter()
                .position(|p| !p.is_empty() && rest.starts_with(p));
            let found = exact.or_else(|| self.patterns.iter().position(|p| plural_at(p, rest)));
            if let Some(term) = found {
                counts[term] += 1;
            }
        }
        self.terms
            .iter()
            .zip(counts)
            .filter(|&(_, n)| n > 0)
            .map(|(term, n)| (term.clone(), n))
            .collect()
    }
}

/// Categories whose terms occur in the text.
fn from_text(kind: LabelKind, list: &[Category], text_words: &[String]) -> Vec<Reason> {
    list.iter()
        .filter_map(|c| {
            let found = c.matches(text_words);
            (!found.is_empty()).then(|| Reason {
                kind,
                slug: c.slug.clone(),
                evidence: Evidence::Text(found),
            })
        })
        .collect()
}

/// Categories named by the deepest heading of the path that names any.
fn from_headings(kind: LabelKind, list: &[Category], section: &[String]) -> Vec<Reason> {
    for heading in section.iter().rev() {
        let heading_words = words(heading);
        let reasons: Vec<Reason> = list
            .iter()
            .filter_map(|c| {
                let found = c.matches(&heading_words);
                (!found.is_empty()).then(|| Reason {
                    kind,
                    slug: c.slug.clone(),
                    evidence: Evidence::Heading {
                        heading: heading.clone(),
                        terms: found.into_iter().map(|(t, _)| t).collect(),
                    },
                })
            })
            .collect();
        if !reasons.is_empty() {
            return reasons;
        }
    }
    Vec::new()
}

/// Do `words` open with `pattern` with its last word in the plural (`-s`; `-es` after s, x,
/// z, ch, sh; `-ies` for a `-y` after a consonant)?
fn plural_at(pattern: &[String], words: &[String]) -> bool {
    let Some((last, head)) = pattern.split_last() else {
        return false;
    };
    if words.len() < pattern.len() || words[..head.len()] != *head {
        return false;
    }
    let word = words[head.len()].as_str();
    let Some(ending) = word.strip_prefix(last.as_str()) else {
        return last.strip_suffix('y').is_some_and(|stem| {
            !stem.ends_with(['a', 'e', 'i', 'o', 'u']) && word.strip_prefix(stem) == Some("ies")
        });
    };
    let sibilant = ["s", "x", "z", "ch", "sh"].iter().any(|end| last.ends_with(end));
    last.chars().any(char::is_alphabetic) && (ending == "s" || (sibilant && ending == "es"))
}

/// Lower-case words of `text` (Unicode word boundaries; `’` read as `'` so "CEO’s" is "ceo's"),
/// each with the symbols that make it another token: `+` and `#` right after it (`C++`, `C#`)
/// and a `.` right before it at the start of a token (`.NET`). So the alias `C++` matches the
/// token `C++` only, and the alias `C` does not match inside `C++`.
fn words(text: &str) -> Vec<String> {
    let text = text.replace('’', "'");
    let mut out = Vec::new();
    for (start, segment) in text.split_word_bound_indices() {
        if !segment.chars().any(char::is_alphanumeric) {
            continue;
        }
        let end = start + segment.len();
        let suffix = text[end..]
            .find(|c: char| c != '+' && c != '#')
            .unwrap_or(text.len() - end);
        let mut before = text[..start].chars().rev();
        let dotted = before.next() == Some('.')
            && before
                .next()
                .is_none_or(|c| c.is_whitespace() || "([{\"'/“‘".contains(c));
        let start = if dotted { start - 1 } else { start };
        let word = text[start..end + suffix].to_lowercase();
        // A possessive is its word: "publisher's" names the publisher.
        match word.strip_suffix("'s") {
            Some(base) if !base.is_empty() => out.push(base.to_string()),
            _ => out.push(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article_taxonomy() -> Taxonomy {
        Taxonomy::parse(include_str!("../../corpus/taxonomy.toml")).expect("article taxonomy parses")
    }

    fn path(headings: &[&str]) -> Vec<String> {
        headings.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn roles_come_from_aliases_in_the_text() {
        let t = article_taxonomy();
        let labels = t.label(&path(&["X"]), "CTOs and the Chief Executive Officer meet.");
        assert_eq!(labels.roles, ["ceo", "cto"]);
    }

    #[test]
    fn aliases_match_whole_words_only() {
        let t = article_taxonomy();
        assert!(t.label(&[], "The directors met the board.").roles.is_empty());
        assert!(t.label(&[], "no CEOship, no CTOish").roles.is_empty());
    }

    fn languages() -> Taxonomy {
        Taxonomy::parse(
            r#"
[[role]]
slug = "c"
name = "C"
aliases = ["C"]
[[role]]
slug = "cpp"
name = "C++"
aliases = ["C++"]
[[role]]
slug = "csharp"
name = "C Sharp"
aliases = ["C#"]
[[role]]
slug = "dotnet"
name = ".NET"
aliases = [".NET"]
[[role]]
slug = "node"
name = "Node.js"
aliases = ["Node.js"]
[[role]]
slug = "net"
name = "Net"
aliases = ["Net"]
"#,
        )
        .expect("languages parse")
    }

    #[test]
    fn alias_with_symbols_matches_only_that_token() {
        let t = languages();
        let cases: &[(&str, &[&str])] = &[
            ("Written in C++, not C.", &["c", "cpp"]),
            ("Written in C++ only.", &["cpp"]),
            ("c++ and C# code", &["cpp", "csharp"]),
            ("A plan B or plan C", &["c"]),
            ("Ported to .NET last year", &["dotnet"]),
            ("(.NET) and the net profit", &["dotnet", "net"]),
            ("The net result", &["net"]),
            ("Node.js servers", &["node"]),
            ("A node in the graph, in JS", &[]),
            ("The ASP.NET site", &[]),
            ("C/C++ libraries", &["c", "cpp"]),
            ("Then...C", &["c"]),
        ];
        for (text, want) in cases {
            assert_eq!(t.label(&[], text).roles, *want, "{text}");
        }
        assert_eq!(t.resolve(LabelKind::Role, "c++"), Ok("cpp"));
        assert_eq!(t.resolve(LabelKind::Role, "C"), Ok("c"));
        assert_eq!(t.resolve(LabelKind::Role, "c#"), Ok("csharp"));
    }

    #[test]
    fn possessives_and_plurals_of_an_alias_match_without_being_listed() {
        let t = Taxonomy::parse(
            "[[role]]\nslug = \"publisher\"\nname = \"Publisher\"\naliases = [\"publisher\"]\n\n\
             [[role]]\nslug = \"coach\"\nname = \"Coach\"\naliases = [\"coach\"]\n\n\
             [[role]]\nslug = \"deputy\"\nname = \"Deputy\"\naliases = [\"deputy\"]\n\n\
             [[role]]\nslug = \"pm\"\nname = \"Product Manager\"\naliases = [\"product manager\"]\n",
        )
        .expect("taxonomy parses");
        for (text, roles) in [
            ("It is the publisher's risk.", vec!["publisher"]),
            ("It is the publisher’s risk.", vec!["publisher"]),
            ("Publishers pay.", vec!["publisher"]),
            ("Two coaches and three deputies.", vec!["coach", "deputy"]),
            ("Product managers write specs.", vec!["pm"]),
            // Not plurals of the alias: other words that start with it.
            (
                "Publishing, coaching, publishers-to-be aside: a deputyship.",
                vec![],
            ),
            ("Products manager.", vec![]),
        ] {
            let labels = t.label(&[], text);
            let want: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
            if text.starts_with("Publishing") {
                // "publishers-to-be" holds the plural as a word of its own.
                assert_eq!(labels.roles, ["publisher"], "{text}");
            } else {
                assert_eq!(labels.roles, want, "{text}");
            }
        }
        assert_eq!(t.resolve(LabelKind::Role, "Publishers"), Ok("publisher"));
        // An occurrence counts once, for the alias written that way when there is one.
        let ceo = article_taxonomy();
        let reasons = ceo.explain(&[], "CEOs and a CEO.");
        let Some(Evidence::Text(found)) = reasons.first().map(|r| &r.evidence) else {
            panic!("no text evidence: {reasons:?}");
        };
        assert_eq!(found, &[("CEO".to_string(), 1), ("CEOs".to_string(), 1)]);
    }

    #[test]
    fn possessive_alias_is_matched() {
        let t = article_taxonomy();
        assert_eq!(t.label(&[], "CEO's should possess skills.").roles, ["ceo"]);
        assert_eq!(t.label(&[], "CEO’s should possess skills.").roles, ["ceo"]);
    }

    #[test]
    fn passage_naming_no_role_takes_nearest_heading_role() {
        let t = article_taxonomy();
        let labels = t.label(
            &path(&["Understanding the Core Responsibilities", "Role of a CTO"]),
            "They evaluate new technologies.",
        );
        assert_eq!(labels.roles, ["cto"]);
    }

    #[test]
    fn comparison_heading_does_not_add_roles_the_text_does_not_name() {
        let t = article_taxonomy();
        let labels = t.label(
            &path(&["Distinguishing the Key Differences", "Product Manager vs CEO"]),
            "Product Managers play a crucial role.",
        );
        assert_eq!(labels.roles, ["product-manager"]);
    }

    #[test]
    fn topics_come_from_the_nearest_heading_first() {
        let t = article_taxonomy();
        let labels = t.label(
            &path(&[
                "The Interplay of Roles in a Business Setting",
                "Conflict and Resolution: Navigating Role Overlaps",
            ]),
            "Skills and collaboration matter.",
        );
        assert_eq!(labels.topics, ["conflict"]);
    }

    #[test]
    fn topics_fall_back_to_the_text() {
        let t = article_taxonomy();
        let labels = t.label(&path(&["Miscellany"]), "Good skills are essential.");
        assert_eq!(labels.topics, ["skills"]);
    }

    #[test]
    fn passage_outside_sections_is_overview() {
        let t = article_taxonomy();
        assert_eq!(
            t.label(&[], "We examine skills and differences.").topics,
            ["overview"]
        );
    }

    #[test]
    fn explain_gives_the_alias_and_its_count() {
        let t = article_taxonomy();
        let reasons = t.explain(&path(&["Role of a CTO"]), "CTOs lead. CTOs build.");
        assert_eq!(
            reasons[0],
            Reason {
                kind: LabelKind::Role,
                slug: "cto".into(),
                evidence: Evidence::Text(vec![("CTOs".into(), 2)]),
            }
        );
    }

    #[test]
    fn resolve_accepts_slug_name_or_alias_in_any_case() {
        let t = article_taxonomy();
        for value in [
            "cto",
            "CTO",
            "Chief Technology Officer",
            "chief technology officers",
        ] {
            assert_eq!(t.resolve(LabelKind::Role, value), Ok("cto"), "{value}");
        }
        assert_eq!(t.resolve(LabelKind::Topic, "Skills"), Ok("skills"));
    }

    #[test]
    fn unknown_role_lists_the_valid_ones() {
        let err = article_taxonomy()
            .resolve(LabelKind::Role, "cfo")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown role \"cfo\""), "{err}");
        for slug in ["product-manager", "ceo", "cto"] {
            assert!(err.contains(slug), "{err}");
        }
    }
}
