//! Output: prints results for people (coloured or plain) or as JSON. Never touches tantivy.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::{Facets, Hit, Results, Snippet};

const RESET: &str = "\x1b[0m";
const BOLD_RED: &str = "\x1b[1;31m";
const MAGENTA: &str = "\x1b[35m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const BLUE: &str = "\x1b[34m";
/// Highlight markers when colour is off.
const MARK_OPEN: &str = "**";
const MARK_CLOSE: &str = "**";
/// Separator between headings of a section path.
pub const BREADCRUMB: &str = " › ";

/// How hits are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Human,
    Json,
}

/// Prints results in one style; human output may use ANSI colour.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub style: Style,
    pub color: bool,
    /// Print each hit's whole passage instead of its snippet.
    pub full: bool,
}

/// JSON contract of `rsearch query --json`: one object with the query, the number of matching
/// passages before `--limit`, label counts over all of them, and the hits best first. Field
/// names are stable; new fields may be added, none renamed or removed.
#[derive(Serialize)]
pub struct JsonResults<'a> {
    pub query: &'a str,
    pub total_hits: usize,
    pub hits: Vec<JsonHit<'a>>,
    pub facets: JsonFacets,
}

/// One hit: `source` is the corpus-relative path, `document` the title, `section` the heading
/// path, `roles`/`topics` slugs, `text` the whole passage, `snippet` its best window and
/// `highlights` the byte ranges `[start, end)` of matched words in `snippet`.
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
}

/// Hits per role and per topic slug, over all hits.
#[derive(Serialize)]
pub struct JsonFacets {
    pub roles: serde_json::Map<String, serde_json::Value>,
    pub topics: serde_json::Map<String, serde_json::Value>,
}

impl Printer {
    /// Writes the results in the printer's style.
    pub fn print(&self, results: &Results, out: &mut dyn Write) -> io::Result<()> {
        match self.style {
            Style::Json => {
                serde_json::to_writer(&mut *out, &json_results(results))?;
                writeln!(out)
            }
            Style::Human => self.print_human(results, out),
        }
    }

    fn print_human(&self, results: &Results, out: &mut dyn Write) -> io::Result<()> {
        for hit in &results.hits {
            self.print_hit(hit, out)?;
            writeln!(out)?;
        }
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
        writeln!(
            out,
            "{} {}  {}  {}",
            self.paint(MAGENTA, &format!("{}.", hit.rank)),
            self.paint(GREEN, &hit.id),
            self.paint(DIM, &format!("score {:.2}", hit.score)),
            labels
        )?;
        let place = if hit.section.is_empty() {
            hit.document.clone()
        } else {
            hit.section.join(BREADCRUMB)
        };
        writeln!(out, "   {}", self.paint(BLUE, &place))?;
        let body = if self.full {
            self.highlight_full(hit)
        } else {
            self.highlight(&hit.snippet, &hit.text)
        };
        writeln!(out, "   {body}")
    }

    /// The snippet with highlights, and `…` where it cuts the passage.
    fn highlight(&self, snippet: &Snippet, passage: &str) -> String {
        let mut out = String::new();
        let at = passage.find(&snippet.text);
        if at.is_some_and(|i| i > 0) {
            out.push('…');
        }
        out.push_str(&self.mark(&snippet.text, &snippet.highlights));
        if at.is_some_and(|i| i + snippet.text.len() < passage.len()) {
            out.push('…');
        }
        out
    }

    /// The whole passage, with the snippet's highlights carried over.
    fn highlight_full(&self, hit: &Hit) -> String {
        match hit.text.find(&hit.snippet.text) {
            Some(offset) => {
                let shifted: Vec<(usize, usize)> = hit
                    .snippet
                    .highlights
                    .iter()
                    .map(|(s, e)| (s + offset, e + offset))
                    .collect();
                self.mark(&hit.text, &shifted)
            }
            None => hit.text.clone(),
        }
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

/// `   roles: cto 4 · ceo 2   topics: differences 5` (empty when no hit has a label).
fn facet_line(facets: &Facets) -> String {
    let mut line = String::new();
    for (name, counts) in [("roles", &facets.roles), ("topics", &facets.topics)] {
        if !counts.is_empty() {
            let parts: Vec<String> = counts.iter().map(|(slug, n)| format!("{slug} {n}")).collect();
            line.push_str(&format!("   {name}: {}", parts.join(" · ")));
        }
    }
    line
}

/// The JSON wire form of results.
pub fn json_results(results: &Results) -> JsonResults<'_> {
    let map = |counts: &[(String, u64)]| {
        counts
            .iter()
            .map(|(slug, n)| (slug.clone(), serde_json::Value::from(*n)))
            .collect()
    };
    JsonResults {
        query: &results.query,
        total_hits: results.total_hits,
        hits: results
            .hits
            .iter()
            .map(|hit| JsonHit {
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
            })
            .collect(),
        facets: JsonFacets {
            roles: map(&results.facets.roles),
            topics: map(&results.facets.topics),
        },
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
    fn snippet_inside_a_passage_gets_ellipses() {
        let snippet = Snippet {
            text: "middle".into(),
            highlights: vec![],
        };
        assert_eq!(printer(false).highlight(&snippet, "start middle end"), "…middle…");
    }
}
