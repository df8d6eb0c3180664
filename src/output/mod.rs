//! Output: turns results, outlines and label tables into text for people (`human`: coloured or
//! plain, wrapped to the terminal) or into the JSON wire format (`json`). Never touches tantivy.

mod human;
pub mod json;
mod text;

pub use text::terminal_safe;

use std::io::{self, Write};

use crate::label::{Category, Taxonomy};
use crate::model::{Document, Evidence, Facets, Hit, Labels, Reason, Results};

/// How output is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Readable blocks.
    Human,
    /// One JSON object.
    Json,
    /// One JSON object per hit, one per line (other reports print as with `Json`).
    JsonLines,
}

/// Prints in one style; human output may use ANSI colour and wrap to a width.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub style: Style,
    pub color: bool,
    /// Print each hit's whole passage instead of its snippet.
    pub full: bool,
    /// Wrap human output to this many columns (`None`: do not wrap).
    pub width: Option<usize>,
}

/// The best hits of one role, for `--by-role`.
#[derive(Debug, Clone)]
pub struct RoleResults<'a> {
    pub role: &'a Category,
    pub results: Results,
}

/// A document with the labels of each of its passages, for `sections`.
#[derive(Debug, Clone)]
pub struct Outline {
    pub document: Document,
    pub labels: Vec<Labels>,
}

/// Everything rsearch prints on stdout, one variant a command; each printer handles them all.
enum Report<'a> {
    /// `query`: hits best first, then the summary.
    Results(&'a Results),
    /// `query --by-role`: each role's best hits; `overall` gives the totals and facets.
    ByRole {
        overall: &'a Results,
        roles: &'a [RoleResults<'a>],
    },
    /// `show`: one passage with its context.
    Passage(&'a Hit),
    /// `sections`: the outline of every document.
    Outline {
        outlines: &'a [Outline],
        taxonomy: &'a Taxonomy,
        /// Show why each heading is one, not only why each caption is.
        explain: bool,
    },
    /// `labels`: the taxonomy with passage counts.
    Labels {
        taxonomy: &'a Taxonomy,
        counts: &'a Facets,
    },
}

impl Printer {
    /// Writes query results.
    pub fn print(&self, results: &Results, out: &mut dyn Write) -> io::Result<()> {
        self.write(&Report::Results(results), out)
    }

    /// Writes `--by-role` results: under a heading per role, that role's best hits.
    pub fn print_by_role(
        &self,
        overall: &Results,
        roles: &[RoleResults],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.write(&Report::ByRole { overall, roles }, out)
    }

    /// Writes one passage found by id, with its context.
    pub fn print_passage(&self, hit: &Hit, out: &mut dyn Write) -> io::Result<()> {
        self.write(&Report::Passage(hit), out)
    }

    /// Writes the outline of documents: headings as a tree with passage counts, labels and
    /// captions; with `explain`, why each heading is one.
    pub fn print_outline(
        &self,
        outlines: &[Outline],
        taxonomy: &Taxonomy,
        explain: bool,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.write(
            &Report::Outline {
                outlines,
                taxonomy,
                explain,
            },
            out,
        )
    }

    /// Writes the taxonomy with passage counts per role and topic.
    pub fn print_labels(&self, taxonomy: &Taxonomy, counts: &Facets, out: &mut dyn Write) -> io::Result<()> {
        self.write(&Report::Labels { taxonomy, counts }, out)
    }

    /// The one place the style is looked at: it picks the printer.
    fn write(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        match self.style {
            Style::Human => human::Human {
                color: self.color,
                full: self.full,
                width: self.width,
            }
            .write(report, out),
            Style::Json => json::write(report, false, out),
            Style::JsonLines => json::write(report, true, out),
        }
    }
}

/// How a label's reason reads, the same in human explanations and in JSON's
/// `explanation.labels`: `role cto: "CTOs" ×2 in text`.
fn reason_text(reason: &Reason) -> String {
    let evidence = match &reason.evidence {
        Evidence::Text(terms) => {
            let parts: Vec<String> = terms
                .iter()
                .map(|(term, n)| {
                    if *n > 1 {
                        format!("\"{term}\" ×{n}")
                    } else {
                        format!("\"{term}\"")
                    }
                })
                .collect();
            format!("{} in text", parts.join(", "))
        }
        Evidence::Heading { heading, terms } => {
            let quoted: Vec<String> = terms.iter().map(|t| format!("\"{t}\"")).collect();
            format!("{} in heading \"{heading}\"", quoted.join(", "))
        }
        Evidence::OutsideSections => "outside any section".to_string(),
    };
    format!("{} {}: {evidence}", reason.kind, reason.slug)
}

/// The count of `slug` in a facet list, 0 when it is not there.
fn count_of(counts: &[(String, u64)], slug: &str) -> u64 {
    counts.iter().find(|(s, _)| s == slug).map_or(0, |(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LabelKind;

    fn reason(kind: LabelKind, slug: &str, evidence: Evidence) -> Reason {
        Reason {
            kind,
            slug: slug.into(),
            evidence,
        }
    }

    #[test]
    fn reason_text_names_each_kind_of_evidence() {
        let cases = [
            (
                reason(LabelKind::Role, "cto", Evidence::Text(vec![("CTOs".into(), 2)])),
                r#"role cto: "CTOs" ×2 in text"#,
            ),
            (
                reason(
                    LabelKind::Role,
                    "ceo",
                    Evidence::Text(vec![("CEO".into(), 1), ("Chief Executive Officer".into(), 3)]),
                ),
                r#"role ceo: "CEO", "Chief Executive Officer" ×3 in text"#,
            ),
            (
                reason(
                    LabelKind::Topic,
                    "responsibilities",
                    Evidence::Heading {
                        heading: "Role of a CEO".into(),
                        terms: vec!["role of".into()],
                    },
                ),
                r#"topic responsibilities: "role of" in heading "Role of a CEO""#,
            ),
            (
                reason(LabelKind::Topic, "overview", Evidence::OutsideSections),
                "topic overview: outside any section",
            ),
        ];
        for (reason, expected) in cases {
            assert_eq!(reason_text(&reason), expected);
        }
    }
}
