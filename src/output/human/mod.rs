//! The human printer: hits, summaries, outlines and label tables as readable blocks, with ANSI
//! colour or `**` highlight markers, wrapped to the terminal's width when it has one.

use std::collections::HashMap;
use std::io::{self, Write};

use super::text::{
    full_with_highlights, mark, ranges_in_line, snippet_with_ellipses, terminal_safe, wrap_lines,
};
use super::{count_of, reason_text, Outline, Report, RoleResults};
use crate::label::Taxonomy;
use crate::model::{Document, Explanation, Facets, Hit, LabelKind, Labels, Neighbor, Results};

mod outline;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const BOLD_RED: &str = "\x1b[1;31m";
const MAGENTA: &str = "\x1b[35m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const DIM: &str = "\x1b[2m";
/// Highlight markers when colour is off.
const MARK_OPEN: &str = "**";
const MARK_CLOSE: &str = "**";
/// Separator between headings of a section path.
const BREADCRUMB: &str = " › ";
/// Indent of a hit's body lines.
const INDENT: &str = "   ";
/// Narrowest text column wrapping will produce.
const MIN_WRAP: usize = 30;

/// Prints for people: `color` paints with ANSI codes, `full` shows whole passages instead of
/// snippets, `width` wraps text lines (`None`: one line a paragraph).
pub(super) struct Human {
    pub color: bool,
    pub full: bool,
    pub width: Option<usize>,
}

impl Human {
    pub fn write(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        match *report {
            Report::Results(results) => {
                self.hits(&results.hits, out)?;
                self.footer(results, out)
            }
            Report::ByRole { overall, roles } => self.by_role(overall, roles, out),
            Report::Passage(hit) => self.hit(hit, out),
            Report::Outline {
                outlines,
                taxonomy,
                explain,
            } => self.outline(outlines, taxonomy, explain, out),
            Report::Labels { taxonomy, counts } => self.label_table(taxonomy, counts, out),
        }
    }

    /// Each hit followed by a blank line.
    fn hits(&self, hits: &[Hit], out: &mut dyn Write) -> io::Result<()> {
        for hit in hits {
            self.hit(hit, out)?;
            writeln!(out)?;
        }
        Ok(())
    }

    fn by_role(&self, overall: &Results, roles: &[RoleResults], out: &mut dyn Write) -> io::Result<()> {
        for r in roles {
            let heading = format!("── {} ({}) ", r.role.name, r.role.slug);
            let rule = "─".repeat(
                self.width
                    .unwrap_or(72)
                    .saturating_sub(heading.chars().count())
                    .min(60),
            );
            writeln!(out, "{}", self.paint(BOLD, &format!("{heading}{rule}")))?;
            if r.results.hits.is_empty() {
                let none = format!("no passage about {} matches", r.role.name);
                writeln!(out, "{INDENT}{}", self.paint(DIM, &none))?;
                writeln!(out)?;
            }
            self.hits(&r.results.hits, out)?;
        }
        self.footer(overall, out)
    }

    /// `2 of 9 passages   roles: …   topics: …`, or that nothing matched.
    fn footer(&self, results: &Results, out: &mut dyn Write) -> io::Result<()> {
        let shown = results.hits.len();
        let summary = if results.total_hits == 0 {
            format!("no passage matches {:?}", results.query)
        } else if shown < results.total_hits {
            format!("{shown} of {} passages", results.total_hits)
        } else {
            format!("{} passage{}", shown, if shown == 1 { "" } else { "s" })
        };
        writeln!(
            out,
            "{}",
            self.paint(DIM, &format!("{summary}{}", facet_line(&results.facets)))
        )
    }

    /// A hit: rank, id, score and labels; where it is; its text between its neighbours; and,
    /// when asked for, why it scored and is labelled as it is.
    fn hit(&self, hit: &Hit, out: &mut dyn Write) -> io::Result<()> {
        let mut header = format!(
            "{} {}",
            self.paint(MAGENTA, &format!("{}.", hit.rank)),
            self.paint(GREEN, &hit.id)
        );
        if hit.score > 0.0 {
            header.push_str(&format!(
                "  {}",
                self.paint(DIM, &format!("score {}", score_text(hit.score)))
            ));
        }
        let labels = self.labels(&hit.labels);
        if !labels.is_empty() {
            header.push_str(&format!("  {labels}"));
        }
        writeln!(out, "{header}")?;
        writeln!(
            out,
            "{INDENT}{}",
            self.paint(BLUE, &place(&hit.document, &hit.section))
        )?;
        let before: &[Neighbor] = hit.context.as_ref().map_or(&[], |c| &c.before);
        let after: &[Neighbor] = hit.context.as_ref().map_or(&[], |c| &c.after);
        for neighbour in before {
            self.neighbour(hit, neighbour, out)?;
        }
        let (body, ranges) = if self.full {
            full_with_highlights(hit)
        } else {
            snippet_with_ellipses(&hit.snippet, &hit.text)
        };
        let prefix = if hit.context.is_some() {
            format!("{INDENT}{}: ", hit.ordinal)
        } else {
            INDENT.to_string()
        };
        writeln!(out, "{}", self.wrapped(&body, &ranges, &prefix))?;
        for neighbour in after {
            self.neighbour(hit, neighbour, out)?;
        }
        match &hit.explanation {
            Some(explanation) => self.explanation(hit.score, explanation, out),
            None => Ok(()),
        }
    }

    /// The score as a sum of its terms, then one line per label with its reason.
    fn explanation(&self, score: f32, explanation: &Explanation, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{INDENT}{}",
            self.paint(BOLD, &format!("score {} =", score_text(score)))
        )?;
        if let Some(fusion) = &explanation.fusion {
            let side = |rank: Option<usize>, what: String| match rank {
                Some(rank) => format!("rank {rank}, {what}"),
                None => "not among its best".to_string(),
            };
            let words = side(
                fusion.lexical_rank,
                format!("BM25 {:.2}", fusion.bm25.unwrap_or_default()),
            );
            let meaning = side(
                fusion.semantic_rank,
                format!("similarity {:.3}", fusion.similarity.unwrap_or_default()),
            );
            // The words' weight is shown only where it weighs something: in a hybrid fusion.
            let weight = fusion
                .lexical_weight
                .map(|w| format!(", words weighted {w:.2}"))
                .unwrap_or_default();
            writeln!(
                out,
                "{INDENT}  fused rank {} by reciprocal rank (k 60){weight}",
                fusion.fused_rank
            )?;
            writeln!(out, "{INDENT}  words:   {words}")?;
            writeln!(out, "{INDENT}  meaning: {meaning}")?;
        }
        for term in &explanation.terms {
            let mut parts = Vec::new();
            if let Some(freq) = term.freq {
                parts.push(format!("freq {freq}"));
            }
            if let Some(idf) = term.idf {
                parts.push(format!("idf {idf:.2}"));
            }
            if (term.boost - 1.0).abs() > f32::EPSILON {
                parts.push(format!("boost {}", term.boost));
            }
            let typo = match (&term.synonym, term.typo) {
                (Some(word), _) => format!(" (synonym of {})", terminal_safe(word)),
                (None, true) => " (typo match)".to_string(),
                (None, false) => String::new(),
            };
            writeln!(
                out,
                "{INDENT}  {:>6.2}  {}:{}{typo}  {}",
                term.score,
                terminal_safe(&term.field),
                terminal_safe(&term.term),
                self.paint(DIM, &parts.join(", "))
            )?;
        }
        writeln!(out, "{INDENT}{}", self.paint(BOLD, "labels"))?;
        for reason in &explanation.labels {
            writeln!(out, "{INDENT}  {}", terminal_safe(&reason_text(reason)))?;
        }
        Ok(())
    }

    /// A context passage, grep-style: `ordinal-` and its text, its section when it differs.
    fn neighbour(&self, hit: &Hit, neighbour: &Neighbor, out: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        if neighbour.section != hit.section {
            text.push_str(&format!("[{}] ", place(&hit.document, &neighbour.section)));
        }
        text.push_str(&neighbour.text);
        let prefix = format!("{INDENT}{}- ", neighbour.ordinal);
        let wrapped = self.wrapped(&text, &[], &prefix);
        writeln!(out, "{}", self.paint_safe(DIM, &wrapped))
    }

    /// A passage's labels, wherever they are shown: `product-manager ceo · differences`, roles
    /// in cyan and topics in yellow; empty when it has none.
    fn labels(&self, labels: &Labels) -> String {
        [
            self.paint(CYAN, &labels.roles.join(" ")),
            self.paint(YELLOW, &labels.topics.join(" ")),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
    }

    /// `prefix` then `text` with highlights, wrapped to the width with continuation lines
    /// indented like the prefix.
    fn wrapped(&self, text: &str, ranges: &[(usize, usize)], prefix: &str) -> String {
        let Some(width) = self.width else {
            return format!("{prefix}{}", self.mark(text, ranges));
        };
        let indent = " ".repeat(prefix.chars().count());
        let column = width.saturating_sub(indent.len()).max(MIN_WRAP);
        let mut out = String::new();
        for (i, (start, end)) in wrap_lines(text, column).into_iter().enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&indent);
            } else {
                out.push_str(prefix);
            }
            out.push_str(&self.mark(&text[start..end], &ranges_in_line(ranges, start, end)));
        }
        out
    }

    /// Highlights in bold red, or between `**` without colour.
    fn mark(&self, text: &str, ranges: &[(usize, usize)]) -> String {
        if self.color {
            mark(text, ranges, BOLD_RED, RESET)
        } else {
            mark(text, ranges, MARK_OPEN, MARK_CLOSE)
        }
    }

    /// `text` in a colour, its control characters escaped ([`terminal_safe`]): every name,
    /// heading and id from a file goes through here or through [`Human::mark`].
    fn paint(&self, colour: &str, text: &str) -> String {
        self.paint_safe(colour, &terminal_safe(text))
    }

    /// As [`Human::paint`], for text already escaped (wrapped lines, whose line breaks are
    /// the printer's own).
    fn paint_safe(&self, colour: &str, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("{colour}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// Where a passage is: its heading path, or the document title before the first heading.
fn place(document: &str, section: &[String]) -> String {
    if section.is_empty() {
        document.to_string()
    } else {
        section.join(BREADCRUMB)
    }
}

/// `   roles: cto 4 · ceo 2   topics: differences 5`, most hits first (empty when no label).
fn facet_line(facets: &Facets) -> String {
    let mut line = String::new();
    for (name, counts) in [("roles", &facets.roles), ("topics", &facets.topics)] {
        if !counts.is_empty() {
            let mut sorted: Vec<&(String, u64)> = counts.iter().collect();
            sorted.sort_by_key(|entry| std::cmp::Reverse(entry.1));
            let parts: Vec<String> = sorted.iter().map(|(slug, n)| format!("{slug} {n}")).collect();
            line.push_str(&format!("   {name}: {}", parts.join(" · ")));
        }
    }
    line
}

/// A score as shown: two decimals, four for the small scores of rank fusion.
fn score_text(score: f32) -> String {
    if score < 0.1 {
        format!("{score:.4}")
    } else {
        format!("{score:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(color: bool) -> Human {
        Human {
            color,
            full: false,
            width: None,
        }
    }

    #[test]
    fn plain_markers_wrap_highlights_without_colour() {
        assert_eq!(human(false).mark("a cyber b", &[(2, 7)]), "a **cyber** b");
    }

    #[test]
    fn colour_output_uses_escape_codes() {
        assert!(human(true)
            .mark("a cyber b", &[(2, 7)])
            .contains("\x1b[1;31mcyber\x1b[0m"));
    }

    #[test]
    fn wrapped_lines_keep_highlights_and_indent() {
        let p = Human {
            width: Some(40),
            ..human(false)
        };
        let text = "one two three four five six seven eight nine ten eleven";
        let at = text.find("eleven").unwrap_or(0);
        let out = p.wrapped(text, &[(at, at + 6)], "   ");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines
            .iter()
            .all(|l| l.chars().count() <= 40 && l.starts_with("   ")));
        assert!(lines[1].ends_with("**eleven**"));
    }

    #[test]
    fn labels_join_roles_and_topics_and_skip_an_empty_side() {
        let labels = |roles: &[&str], topics: &[&str]| Labels {
            roles: roles.iter().map(|s| s.to_string()).collect(),
            topics: topics.iter().map(|s| s.to_string()).collect(),
        };
        let cases = [
            (labels(&["pm", "ceo"], &["skills"]), "pm ceo · skills"),
            (labels(&[], &["skills"]), "skills"),
            (labels(&["cto"], &[]), "cto"),
            (labels(&[], &[]), ""),
        ];
        for (given, expected) in cases {
            assert_eq!(human(false).labels(&given), expected);
        }
    }

    #[test]
    fn facet_line_lists_most_hits_first() {
        let facets = Facets {
            roles: vec![("a".into(), 1), ("b".into(), 4)],
            topics: vec![("t".into(), 2)],
        };
        assert_eq!(facet_line(&facets), "   roles: b 4 · a 1   topics: t 2");
    }
}
