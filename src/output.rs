//! Output: prints results, outlines and label tables for people (coloured or plain, wrapped to
//! the terminal) or as JSON. Never touches tantivy.

use std::io::{self, Write};

use serde::Serialize;

use crate::label::{Category, Kind, Taxonomy};
use crate::model::{Document, Facets, Hit, Labels, Neighbor, Results, Snippet};

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
pub const BREADCRUMB: &str = " › ";
/// Indent of a hit's body lines.
const INDENT: &str = "   ";
/// Narrowest text column wrapping will produce.
const MIN_WRAP: usize = 30;

/// How output is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Readable blocks.
    Human,
    /// One JSON object.
    Json,
    /// One JSON object per hit, one per line.
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

/// JSON contract of `rsearch query --json`: one object with the query, the number of matching
/// passages before `--limit`, label counts over all of them, the hits best first, and the
/// spelling suggestion (`null` when every word is known). With `--by-role`, `by_role` maps each
/// role slug to its best hits. Field names are stable; fields may be added, none renamed.
#[derive(Serialize)]
pub struct JsonResults<'a> {
    pub query: &'a str,
    pub total_hits: usize,
    pub hits: Vec<JsonHit<'a>>,
    pub facets: JsonFacets,
    pub did_you_mean: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_role: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One hit: `source` is the corpus-relative path, `document` the title, `section` the heading
/// path, `roles`/`topics` slugs, `text` the whole passage, `snippet` its best window and
/// `highlights` the byte ranges `[start, end)` of matched words in `snippet`. `explanation`
/// and `context` appear with `--explain` and `--context`.
#[derive(Serialize)]
pub struct JsonHit<'a> {
    pub rank: usize,
    pub id: &'a str,
    pub score: f32,
    pub source: &'a str,
    pub document: &'a str,
    pub ordinal: u64,
    pub section: &'a [String],
    pub roles: &'a [String],
    pub topics: &'a [String],
    pub text: &'a str,
    pub snippet: &'a str,
    pub highlights: Vec<[usize; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<JsonExplanation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<JsonContext<'a>>,
}

/// Score parts per term and field (`typo`: matched through typo tolerance) and label reasons.
#[derive(Serialize)]
pub struct JsonExplanation<'a> {
    pub terms: Vec<JsonTermScore<'a>>,
    pub labels: &'a [String],
}

#[derive(Serialize)]
pub struct JsonTermScore<'a> {
    pub field: &'a str,
    pub term: &'a str,
    pub score: f32,
    pub freq: Option<f32>,
    pub idf: Option<f32>,
    pub boost: f32,
    pub typo: bool,
}

/// Passages before and after a hit, in document order.
#[derive(Serialize)]
pub struct JsonContext<'a> {
    pub before: Vec<JsonNeighbor<'a>>,
    pub after: Vec<JsonNeighbor<'a>>,
}

#[derive(Serialize)]
pub struct JsonNeighbor<'a> {
    pub id: &'a str,
    pub ordinal: u64,
    pub section: &'a [String],
    pub text: &'a str,
}

/// Hits per role and per topic slug, over all hits.
#[derive(Serialize)]
pub struct JsonFacets {
    pub roles: serde_json::Map<String, serde_json::Value>,
    pub topics: serde_json::Map<String, serde_json::Value>,
}

/// The best hits of one role, for `--by-role`.
#[derive(Debug, Clone)]
pub struct RoleResults<'a> {
    pub role: &'a Category,
    pub results: Results,
}

impl Printer {
    /// Writes query results.
    pub fn print(&self, results: &Results, out: &mut dyn Write) -> io::Result<()> {
        match self.style {
            Style::Json => {
                serde_json::to_writer(&mut *out, &json_results(results, None))?;
                writeln!(out)
            }
            Style::JsonLines => self.print_json_lines(&results.hits, out),
            Style::Human => {
                for hit in &results.hits {
                    self.print_hit(hit, out)?;
                    writeln!(out)?;
                }
                self.print_footer(results, out)
            }
        }
    }

    /// Writes `--by-role` results: under a heading per role, that role's best hits.
    pub fn print_by_role(
        &self,
        overall: &Results,
        roles: &[RoleResults],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        match self.style {
            Style::Json => {
                let by_role = roles
                    .iter()
                    .map(|r| {
                        let hits: Vec<JsonHit> = r.results.hits.iter().map(json_hit).collect();
                        (
                            r.role.slug.clone(),
                            serde_json::to_value(hits).unwrap_or_default(),
                        )
                    })
                    .collect();
                serde_json::to_writer(&mut *out, &json_results(overall, Some(by_role)))?;
                writeln!(out)
            }
            Style::JsonLines => {
                for r in roles {
                    self.print_json_lines(&r.results.hits, out)?;
                }
                Ok(())
            }
            Style::Human => {
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
                        writeln!(
                            out,
                            "{INDENT}{}",
                            self.paint(DIM, &format!("no passage about {} matches", r.role.name))
                        )?;
                        writeln!(out)?;
                    }
                    for hit in &r.results.hits {
                        self.print_hit(hit, out)?;
                        writeln!(out)?;
                    }
                }
                self.print_footer(overall, out)
            }
        }
    }

    /// Writes one passage found by id, with its context.
    pub fn print_passage(&self, hit: &Hit, out: &mut dyn Write) -> io::Result<()> {
        match self.style {
            Style::Json | Style::JsonLines => {
                serde_json::to_writer(&mut *out, &json_hit(hit))?;
                writeln!(out)
            }
            Style::Human => self.print_hit(hit, out),
        }
    }

    fn print_json_lines(&self, hits: &[Hit], out: &mut dyn Write) -> io::Result<()> {
        for hit in hits {
            serde_json::to_writer(&mut *out, &json_hit(hit))?;
            writeln!(out)?;
        }
        Ok(())
    }

    fn print_footer(&self, results: &Results, out: &mut dyn Write) -> io::Result<()> {
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

    fn print_hit(&self, hit: &Hit, out: &mut dyn Write) -> io::Result<()> {
        let labels = [
            self.paint(CYAN, &hit.labels.roles.join(" ")),
            self.paint(YELLOW, &hit.labels.topics.join(" ")),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
        let mut header = format!(
            "{} {}",
            self.paint(MAGENTA, &format!("{}.", hit.rank)),
            self.paint(GREEN, &hit.id)
        );
        if hit.score > 0.0 {
            header.push_str(&format!(
                "  {}",
                self.paint(DIM, &format!("score {:.2}", hit.score))
            ));
        }
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
            self.print_neighbour(hit, neighbour, out)?;
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
            self.print_neighbour(hit, neighbour, out)?;
        }
        if let Some(explanation) = &hit.explanation {
            writeln!(
                out,
                "{INDENT}{}",
                self.paint(BOLD, &format!("score {:.2} =", hit.score))
            )?;
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
                let typo = if term.typo { " (typo match)" } else { "" };
                writeln!(
                    out,
                    "{INDENT}  {:>6.2}  {}:{}{typo}  {}",
                    term.score,
                    term.field,
                    term.term,
                    self.paint(DIM, &parts.join(", "))
                )?;
            }
            writeln!(out, "{INDENT}{}", self.paint(BOLD, "labels"))?;
            for reason in &explanation.labels {
                writeln!(out, "{INDENT}  {reason}")?;
            }
        }
        Ok(())
    }

    /// A context passage, grep-style: `ordinal-` and its text, its section when it differs.
    fn print_neighbour(&self, hit: &Hit, neighbour: &Neighbor, out: &mut dyn Write) -> io::Result<()> {
        let mut text = String::new();
        if neighbour.section != hit.section {
            text.push_str(&format!("[{}] ", place(&hit.document, &neighbour.section)));
        }
        text.push_str(&neighbour.text);
        let prefix = format!("{INDENT}{}- ", neighbour.ordinal);
        let wrapped = self.wrapped(&text, &[], &prefix);
        writeln!(out, "{}", self.paint(DIM, &wrapped))
    }

    /// Writes the outline of documents: headings as a tree with passage counts, labels and
    /// captions.
    pub fn print_outline(
        &self,
        outlines: &[Outline],
        taxonomy: &Taxonomy,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if self.style != Style::Human {
            let json: Vec<JsonOutline> = outlines.iter().map(json_outline).collect();
            serde_json::to_writer(&mut *out, &json)?;
            return writeln!(out);
        }
        for outline in outlines {
            let doc = &outline.document;
            writeln!(
                out,
                "{}  {}  {}",
                self.paint(GREEN, &doc.source),
                self.paint(BOLD, &doc.title),
                self.paint(DIM, &format!("{} passages", doc.passages.len()))
            )?;
            for section in &doc.sections {
                let inside: Vec<usize> = (0..doc.passages.len())
                    .filter(|&i| doc.passages[i].section.starts_with(&section.path))
                    .filter(|&i| !section.path.is_empty() || doc.passages[i].section.is_empty())
                    .collect();
                let labels = union_labels(taxonomy, inside.iter().map(|&i| &outline.labels[i]));
                let depth = section.path.len().max(1);
                let heading = section
                    .path
                    .last()
                    .map_or("(before the first heading)".to_string(), |h| h.clone());
                let count = format!(
                    "{} passage{}",
                    inside.len(),
                    if inside.len() == 1 { "" } else { "s" }
                );
                writeln!(
                    out,
                    "{}{}  {}  {}",
                    "  ".repeat(depth),
                    self.paint(BLUE, &heading),
                    self.paint(DIM, &count),
                    self.label_text(&labels)
                )?;
                for caption in &section.captions {
                    writeln!(
                        out,
                        "{}{}",
                        "  ".repeat(depth + 1),
                        self.paint(DIM, &format!("caption: {caption}"))
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Writes the taxonomy with passage counts per role and topic.
    pub fn print_labels(&self, taxonomy: &Taxonomy, counts: &Facets, out: &mut dyn Write) -> io::Result<()> {
        let count_of =
            |list: &[(String, u64)], slug: &str| list.iter().find(|(s, _)| s == slug).map_or(0, |(_, n)| *n);
        if self.style != Style::Human {
            let entry = |c: &Category, n: u64| serde_json::json!({"slug": c.slug, "name": c.name, "terms": c.terms, "passages": n});
            let json = serde_json::json!({
                "roles": taxonomy.roles.iter().map(|c| entry(c, count_of(&counts.roles, &c.slug))).collect::<Vec<_>>(),
                "topics": taxonomy.topics.iter().map(|c| entry(c, count_of(&counts.topics, &c.slug))).collect::<Vec<_>>(),
            });
            serde_json::to_writer(&mut *out, &json)?;
            return writeln!(out);
        }
        if taxonomy.roles.is_empty() && taxonomy.topics.is_empty() {
            return writeln!(
                out,
                "the index has no taxonomy (add taxonomy.toml to the corpus folder)"
            );
        }
        for (title, list, counted, what, colour) in [
            ("roles", &taxonomy.roles, &counts.roles, "aliases", CYAN),
            ("topics", &taxonomy.topics, &counts.topics, "keywords", YELLOW),
        ] {
            writeln!(out, "{}", self.paint(BOLD, title))?;
            let slug_width = list.iter().map(|c| c.slug.chars().count()).max().unwrap_or(0);
            for category in list.iter() {
                let n = count_of(counted, &category.slug);
                let pad = " ".repeat(slug_width - category.slug.chars().count());
                writeln!(
                    out,
                    "  {}{pad}  {:>4} passages  {}: {}",
                    self.paint(colour, &category.slug),
                    n,
                    what,
                    category.terms.join(", ")
                )?;
            }
        }
        Ok(())
    }

    fn label_text(&self, labels: &Labels) -> String {
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
            let line_ranges: Vec<(usize, usize)> = ranges
                .iter()
                .filter(|(s, e)| *e > start && *s < end)
                .map(|(s, e)| ((*s).max(start) - start, (*e).min(end) - start))
                .collect();
            if i > 0 {
                out.push('\n');
                out.push_str(&indent);
            } else {
                out.push_str(prefix);
            }
            out.push_str(&self.mark(&text[start..end], &line_ranges));
        }
        out
    }

    fn mark(&self, text: &str, ranges: &[(usize, usize)]) -> String {
        let (open, close) = if self.color {
            (BOLD_RED, RESET)
        } else {
            (MARK_OPEN, MARK_CLOSE)
        };
        let mut out = String::with_capacity(text.len() + ranges.len() * 8);
        let mut last = 0;
        for &(start, end) in ranges {
            if start < last
                || end > text.len()
                || !text.is_char_boundary(start)
                || !text.is_char_boundary(end)
            {
                continue;
            }
            out.push_str(&text[last..start]);
            out.push_str(open);
            out.push_str(&text[start..end]);
            out.push_str(close);
            last = end;
        }
        out.push_str(&text[last..]);
        out
    }

    fn paint(&self, colour: &str, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("{colour}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// A document with the labels of each of its passages, for `sections`.
#[derive(Debug, Clone)]
pub struct Outline {
    pub document: Document,
    pub labels: Vec<Labels>,
}

#[derive(Serialize)]
struct JsonOutline<'a> {
    source: &'a str,
    title: &'a str,
    passages: usize,
    sections: Vec<JsonSection<'a>>,
}

#[derive(Serialize)]
struct JsonSection<'a> {
    path: &'a [String],
    passages: usize,
    captions: &'a [String],
}

fn json_outline(outline: &Outline) -> JsonOutline<'_> {
    JsonOutline {
        source: &outline.document.source,
        title: &outline.document.title,
        passages: outline.document.passages.len(),
        sections: outline
            .document
            .sections
            .iter()
            .map(|s| JsonSection {
                path: &s.path,
                passages: s.passages,
                captions: &s.captions,
            })
            .collect(),
    }
}

/// Roles and topics of several passages, each once, in taxonomy order.
fn union_labels<'a>(taxonomy: &Taxonomy, labels: impl Iterator<Item = &'a Labels>) -> Labels {
    let labels: Vec<&Labels> = labels.collect();
    let pick = |kind: Kind, of: fn(&Labels) -> &Vec<String>| -> Vec<String> {
        taxonomy
            .list(kind)
            .iter()
            .filter(|c| labels.iter().any(|l| of(l).contains(&c.slug)))
            .map(|c| c.slug.clone())
            .collect()
    };
    Labels {
        roles: pick(Kind::Role, |l| &l.roles),
        topics: pick(Kind::Topic, |l| &l.topics),
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

/// Byte ranges of `text` cut into lines of at most `column` characters, at spaces where possible.
fn wrap_lines(text: &str, column: usize) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let rest = &text[start..];
        if rest.chars().count() <= column {
            lines.push((start, text.len()));
            break;
        }
        let limit = rest.char_indices().nth(column).map_or(rest.len(), |(i, _)| i);
        let cut = rest[..limit].rfind(' ').filter(|&i| i > 0).unwrap_or(limit);
        lines.push((start, start + cut));
        start += cut;
        while text[start..].starts_with(' ') {
            start += 1;
        }
    }
    if lines.is_empty() {
        lines.push((0, 0));
    }
    lines
}

/// The snippet with `…` where it cuts the passage, and its highlights shifted to match.
fn snippet_with_ellipses(snippet: &Snippet, passage: &str) -> (String, Vec<(usize, usize)>) {
    let at = passage.find(&snippet.text);
    let mut text = String::new();
    let mut shift = 0;
    if at.is_some_and(|i| i > 0) {
        text.push('…');
        shift = '…'.len_utf8();
    }
    text.push_str(&snippet.text);
    if at.is_some_and(|i| i + snippet.text.len() < passage.len()) {
        text.push('…');
    }
    let ranges = snippet
        .highlights
        .iter()
        .map(|(s, e)| (s + shift, e + shift))
        .collect();
    (text, ranges)
}

/// The whole passage, with the snippet's highlights carried over.
fn full_with_highlights(hit: &Hit) -> (String, Vec<(usize, usize)>) {
    match hit.text.find(&hit.snippet.text) {
        Some(offset) if !hit.snippet.text.is_empty() => (
            hit.text.clone(),
            hit.snippet
                .highlights
                .iter()
                .map(|(s, e)| (s + offset, e + offset))
                .collect(),
        ),
        _ => (hit.text.clone(), Vec::new()),
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

fn json_neighbour(n: &Neighbor) -> JsonNeighbor<'_> {
    JsonNeighbor {
        id: &n.id,
        ordinal: n.ordinal,
        section: &n.section,
        text: &n.text,
    }
}

fn json_hit(hit: &Hit) -> JsonHit<'_> {
    JsonHit {
        rank: hit.rank,
        id: &hit.id,
        score: hit.score,
        source: &hit.source,
        document: &hit.document,
        ordinal: hit.ordinal,
        section: &hit.section,
        roles: &hit.labels.roles,
        topics: &hit.labels.topics,
        text: &hit.text,
        snippet: &hit.snippet.text,
        highlights: hit.snippet.highlights.iter().map(|&(s, e)| [s, e]).collect(),
        explanation: hit.explanation.as_ref().map(|e| JsonExplanation {
            terms: e
                .terms
                .iter()
                .map(|t| JsonTermScore {
                    field: &t.field,
                    term: &t.term,
                    score: t.score,
                    freq: t.freq,
                    idf: t.idf,
                    boost: t.boost,
                    typo: t.typo,
                })
                .collect(),
            labels: &e.labels,
        }),
        context: hit.context.as_ref().map(|c| JsonContext {
            before: c.before.iter().map(json_neighbour).collect(),
            after: c.after.iter().map(json_neighbour).collect(),
        }),
    }
}

/// The JSON wire form of results.
pub fn json_results(
    results: &Results,
    by_role: Option<serde_json::Map<String, serde_json::Value>>,
) -> JsonResults<'_> {
    let map = |counts: &[(String, u64)]| {
        counts
            .iter()
            .map(|(slug, n)| (slug.clone(), serde_json::Value::from(*n)))
            .collect()
    };
    JsonResults {
        query: &results.query,
        total_hits: results.total_hits,
        hits: results.hits.iter().map(json_hit).collect(),
        facets: JsonFacets {
            roles: map(&results.facets.roles),
            topics: map(&results.facets.topics),
        },
        did_you_mean: results.did_you_mean.as_deref(),
        by_role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(color: bool) -> Printer {
        Printer {
            style: Style::Human,
            color,
            full: false,
            width: None,
        }
    }

    #[test]
    fn plain_markers_wrap_highlights_without_colour() {
        assert_eq!(printer(false).mark("a cyber b", &[(2, 7)]), "a **cyber** b");
    }

    #[test]
    fn colour_output_uses_escape_codes() {
        assert!(printer(true)
            .mark("a cyber b", &[(2, 7)])
            .contains("\x1b[1;31mcyber\x1b[0m"));
    }

    #[test]
    fn bad_ranges_are_skipped_not_panicked_on() {
        assert_eq!(printer(false).mark("héllo", &[(1, 2), (0, 99)]), "héllo");
    }

    #[test]
    fn snippet_inside_a_passage_gets_ellipses_and_shifted_highlights() {
        let snippet = Snippet {
            text: "middle".into(),
            highlights: vec![(0, 6)],
        };
        let (text, ranges) = snippet_with_ellipses(&snippet, "start middle end");
        assert_eq!(printer(false).mark(&text, &ranges), "…**middle**…");
    }

    #[test]
    fn wrapping_breaks_at_spaces_within_the_width() {
        let lines = wrap_lines("alpha beta gamma delta", 11);
        let text = "alpha beta gamma delta";
        let parts: Vec<&str> = lines.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(parts, ["alpha beta", "gamma delta"]);
    }

    #[test]
    fn wrapped_lines_keep_highlights_and_indent() {
        let p = Printer {
            width: Some(40),
            ..printer(false)
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
    fn facet_line_lists_most_hits_first() {
        let facets = Facets {
            roles: vec![("a".into(), 1), ("b".into(), 4)],
            topics: vec![("t".into(), 2)],
        };
        assert_eq!(facet_line(&facets), "   roles: b 4 · a 1   topics: t 2");
    }
}
