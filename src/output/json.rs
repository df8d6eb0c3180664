//! The JSON wire format: one typed struct for each JSON form rsearch prints, whose doc comment
//! is its contract, and the writer that turns a report into one of them.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::ser::{Error as _, SerializeMap};
use serde::{Serialize, Serializer};

use super::{count_of, reason_text, Outline, Report, RoleResults};
use crate::label::{Category, Taxonomy};
use crate::model::{Facets, Hit, Neighbor, Results, TermScore};

/// JSON contract of `rsearch query --json`: one object with the query, the number of matching
/// passages before `--limit`, label counts over all of them, the hits best first, and the
/// spelling suggestion (`null` when every word is known). With `--by-role`, `by_role` maps each
/// role slug to its best hits. Field names are stable; fields may be added, none renamed.
#[derive(Serialize)]
pub struct JsonResults<'a> {
    pub query: &'a str,
    pub total_hits: usize,
    pub hits: Vec<JsonHit<'a>>,
    pub facets: JsonFacets<'a>,
    pub did_you_mean: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_role: Option<JsonByRole<'a>>,
}

/// One hit, as an element of `hits`, a line of `query --format jsonl` and the whole of
/// `show --format json`: `source` is the corpus-relative path, `document` the title, `section`
/// the heading path, `roles`/`topics` slugs, `text` the whole passage, `snippet` its best window
/// and `highlights` the byte ranges `[start, end)` of matched words in `snippet`. `explanation`
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

/// `--explain`: the score's parts, one per term and field, largest first, and one line per
/// label saying why the passage carries it (`role cto: "CTOs" ×2 in text`). `fusion`, in
/// semantic and hybrid modes (else `null`): where the hit stood by words (`bm25`,
/// `lexical_rank`) and by meaning (`similarity`, `semantic_rank`), each `null` when it was not
/// among that side's best, its `fused_rank`, and `lexical_weight`, the weight the words'
/// ranking had in the fusion (hybrid mode; `null` in semantic mode).
#[derive(Serialize)]
pub struct JsonExplanation<'a> {
    pub terms: Vec<JsonTermScore<'a>>,
    pub labels: Vec<String>,
    pub fusion: Option<JsonFusion>,
}

/// The two rankings behind a hit of a search by meaning.
#[derive(Serialize)]
pub struct JsonFusion {
    pub bm25: Option<f32>,
    pub lexical_rank: Option<usize>,
    pub similarity: Option<f32>,
    pub semantic_rank: Option<usize>,
    pub fused_rank: usize,
    pub lexical_weight: Option<f32>,
}

/// The BM25 contribution of one term in one field: `term` is the indexed (stemmed) term or a
/// phrase's words, `freq` and `idf` are `null` when tantivy did not report them, `boost` is the
/// product of the field, typo and synonym weights, `typo` says the term matched through typo
/// tolerance, `synonym` names the typed word (indexed form) a synonym term stands for, else null.
#[derive(Serialize)]
pub struct JsonTermScore<'a> {
    pub field: &'a str,
    pub term: &'a str,
    pub score: f32,
    pub freq: Option<f32>,
    pub idf: Option<f32>,
    pub boost: f32,
    pub typo: bool,
    pub synonym: Option<&'a str>,
}

/// `--context N`: up to N passages before and after a hit in its document, in document order.
#[derive(Serialize)]
pub struct JsonContext<'a> {
    pub before: Vec<JsonNeighbor<'a>>,
    pub after: Vec<JsonNeighbor<'a>>,
}

/// A passage shown around a hit: its id, 1-based ordinal, heading path and whole text.
#[derive(Serialize)]
pub struct JsonNeighbor<'a> {
    pub id: &'a str,
    pub ordinal: u64,
    pub section: &'a [String],
    pub text: &'a str,
}

/// Hits per role and per topic slug, over all hits before `--limit`; slugs in alphabetical
/// order, labels no hit carries left out.
#[derive(Serialize)]
pub struct JsonFacets<'a> {
    pub roles: BTreeMap<&'a str, u64>,
    pub topics: BTreeMap<&'a str, u64>,
}

/// `--by-role`: each chosen role's slug, in alphabetical order, mapped to that role's best hits
/// (an empty list when none matches).
pub struct JsonByRole<'a>(pub BTreeMap<&'a str, Vec<JsonHit<'a>>>);

impl Serialize for JsonByRole<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // These hits have always gone out through `serde_json::Value`, which writes an object's
        // keys in alphabetical order and an `f32` with `f64` digits (`1.9786139726638794`
        // where `hits` has `1.978614`); they still do, so that readers get the same bytes.
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (slug, hits) in &self.0 {
            let value = serde_json::to_value(hits).map_err(S::Error::custom)?;
            map.serialize_entry(slug, &value)?;
        }
        map.end()
    }
}

/// JSON contract of `rsearch sections --json`: an array with one of these per document, in
/// corpus order: its corpus-relative `source`, `title`, number of `passages`, and `sections`
/// in reading order.
#[derive(Serialize)]
pub struct JsonOutline<'a> {
    pub source: &'a str,
    pub title: &'a str,
    pub passages: usize,
    pub sections: Vec<JsonSection<'a>>,
}

/// One section of a document: its heading `path` (empty for the text before the first
/// heading), the number of `passages` directly in it, and its picture and link `captions`.
#[derive(Serialize)]
pub struct JsonSection<'a> {
    pub path: &'a [String],
    /// Why the heading was read as one and placed where it is (`sections --explain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading_reasons: Option<&'a [String]>,
    pub passages: usize,
    pub captions: &'a [String],
    /// Why each caption is one: the signals that decided and their weights.
    pub caption_reasons: &'a [Vec<String>],
}

/// JSON contract of `rsearch labels --json`: the taxonomy's roles and topics, each in taxonomy
/// order, with the number of indexed passages that carry it.
#[derive(Serialize)]
pub struct JsonLabels<'a> {
    pub roles: Vec<JsonCategory<'a>>,
    pub topics: Vec<JsonCategory<'a>>,
}

/// One role or topic: its display `name`, number of `passages`, `slug`, and `terms` (a role's
/// aliases or a topic's keywords). The fields are in alphabetical order, as they have always
/// been printed.
#[derive(Serialize)]
pub struct JsonCategory<'a> {
    pub name: &'a str,
    pub passages: u64,
    pub slug: &'a str,
    pub terms: &'a [String],
}

/// Writes a report as JSON; `lines` prints query hits one object a line (JSON Lines), and
/// leaves the other reports as with one object.
pub(super) fn write(report: &Report, lines: bool, out: &mut dyn Write) -> io::Result<()> {
    match *report {
        Report::Results(results) if lines => hit_lines(&results.hits, out),
        Report::Results(results) => line(&JsonResults::new(results, None), out),
        Report::ByRole { roles, .. } if lines => {
            for role in roles {
                hit_lines(&role.results.hits, out)?;
            }
            Ok(())
        }
        Report::ByRole { overall, roles } => {
            line(&JsonResults::new(overall, Some(JsonByRole::new(roles))), out)
        }
        Report::Passage(hit) => line(&JsonHit::new(hit), out),
        Report::Outline {
            outlines, explain, ..
        } => {
            let outlines: Vec<JsonOutline> = outlines
                .iter()
                .map(|o| JsonOutline::with_reasons(o, explain))
                .collect();
            line(&outlines, out)
        }
        Report::Labels { taxonomy, counts } => line(&JsonLabels::new(taxonomy, counts), out),
    }
}

/// One value on one line.
fn line(value: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}

fn hit_lines(hits: &[Hit], out: &mut dyn Write) -> io::Result<()> {
    hits.iter().try_for_each(|hit| line(&JsonHit::new(hit), out))
}

impl<'a> JsonResults<'a> {
    /// The wire form of a query's results, with `--by-role`'s hits when given.
    pub fn new(results: &'a Results, by_role: Option<JsonByRole<'a>>) -> JsonResults<'a> {
        JsonResults {
            query: &results.query,
            total_hits: results.total_hits,
            hits: results.hits.iter().map(JsonHit::new).collect(),
            facets: JsonFacets::new(&results.facets),
            did_you_mean: results.did_you_mean.as_deref(),
            by_role,
        }
    }
}

impl<'a> JsonHit<'a> {
    /// The wire form of one hit.
    pub fn new(hit: &'a Hit) -> JsonHit<'a> {
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
                terms: e.terms.iter().map(JsonTermScore::new).collect(),
                labels: e.labels.iter().map(reason_text).collect(),
                fusion: e.fusion.as_ref().map(|f| JsonFusion {
                    bm25: f.bm25,
                    lexical_rank: f.lexical_rank,
                    similarity: f.similarity,
                    semantic_rank: f.semantic_rank,
                    fused_rank: f.fused_rank,
                    lexical_weight: f.lexical_weight,
                }),
            }),
            context: hit.context.as_ref().map(|c| JsonContext {
                before: c.before.iter().map(JsonNeighbor::new).collect(),
                after: c.after.iter().map(JsonNeighbor::new).collect(),
            }),
        }
    }
}

impl<'a> JsonTermScore<'a> {
    fn new(t: &'a TermScore) -> JsonTermScore<'a> {
        JsonTermScore {
            field: &t.field,
            term: &t.term,
            score: t.score,
            freq: t.freq,
            idf: t.idf,
            boost: t.boost,
            typo: t.typo,
            synonym: t.synonym.as_deref(),
        }
    }
}

impl<'a> JsonNeighbor<'a> {
    fn new(n: &'a Neighbor) -> JsonNeighbor<'a> {
        JsonNeighbor {
            id: &n.id,
            ordinal: n.ordinal,
            section: &n.section,
            text: &n.text,
        }
    }
}

impl<'a> JsonFacets<'a> {
    fn new(facets: &'a Facets) -> JsonFacets<'a> {
        let map = |counts: &'a [(String, u64)]| counts.iter().map(|(slug, n)| (slug.as_str(), *n)).collect();
        JsonFacets {
            roles: map(&facets.roles),
            topics: map(&facets.topics),
        }
    }
}

impl<'a> JsonByRole<'a> {
    /// The hits of each role of `--by-role`.
    pub fn new(roles: &'a [RoleResults]) -> JsonByRole<'a> {
        JsonByRole(
            roles
                .iter()
                .map(|r| {
                    (
                        r.role.slug.as_str(),
                        r.results.hits.iter().map(JsonHit::new).collect(),
                    )
                })
                .collect(),
        )
    }
}

impl<'a> JsonOutline<'a> {
    /// The wire form of one document's outline.
    pub fn new(outline: &'a Outline) -> JsonOutline<'a> {
        JsonOutline::with_reasons(outline, false)
    }

    /// The wire form of one document's outline, with each heading's reasons when `explain`.
    pub fn with_reasons(outline: &'a Outline, explain: bool) -> JsonOutline<'a> {
        let document = &outline.document;
        JsonOutline {
            source: &document.source,
            title: &document.title,
            passages: document.passages.len(),
            sections: document
                .sections
                .iter()
                .map(|s| JsonSection {
                    path: &s.path,
                    heading_reasons: explain.then_some(&s.heading_reasons[..]),
                    passages: s.passages,
                    captions: &s.captions,
                    caption_reasons: &s.caption_reasons,
                })
                .collect(),
        }
    }
}

impl<'a> JsonLabels<'a> {
    /// The taxonomy with each category's count from `counts` (0 when absent).
    pub fn new(taxonomy: &'a Taxonomy, counts: &Facets) -> JsonLabels<'a> {
        let list = |categories: &'a [Category], counted: &[(String, u64)]| {
            categories
                .iter()
                .map(|c| JsonCategory {
                    name: &c.name,
                    passages: count_of(counted, &c.slug),
                    slug: &c.slug,
                    terms: &c.terms,
                })
                .collect()
        };
        JsonLabels {
            roles: list(&taxonomy.roles, &counts.roles),
            topics: list(&taxonomy.topics, &counts.topics),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::Taxonomy;
    use crate::model::{Labels, Snippet};

    fn hit(score: f32) -> Hit {
        Hit {
            id: "a.txt:3".into(),
            rank: 1,
            score,
            source: "a.txt".into(),
            document: "A".into(),
            ordinal: 3,
            section: vec!["H".into()],
            labels: Labels {
                roles: vec!["cto".into()],
                topics: vec![],
            },
            text: "the cto".into(),
            snippet: Snippet {
                text: "the cto".into(),
                highlights: vec![(4, 7)],
            },
            explanation: None,
            context: None,
        }
    }

    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }

    #[test]
    fn hit_fields_come_in_contract_order() {
        assert_eq!(
            json(&JsonHit::new(&hit(1.5))),
            r#"{"rank":1,"id":"a.txt:3","score":1.5,"source":"a.txt","document":"A","ordinal":3,"section":["H"],"roles":["cto"],"topics":[],"text":"the cto","snippet":"the cto","highlights":[[4,7]]}"#
        );
    }

    #[test]
    fn facets_list_slugs_alphabetically() {
        let facets = Facets {
            roles: vec![("product-manager".into(), 8), ("ceo".into(), 2)],
            topics: vec![],
        };
        assert_eq!(
            json(&JsonFacets::new(&facets)),
            r#"{"roles":{"ceo":2,"product-manager":8},"topics":{}}"#
        );
    }

    #[test]
    fn by_role_hits_keep_alphabetical_keys_and_double_digits() {
        let taxonomy =
            Taxonomy::parse("[[role]]\nslug = \"cto\"\nname = \"CTO\"\n").expect("taxonomy parses");
        let roles = [RoleResults {
            role: &taxonomy.roles[0],
            results: Results {
                hits: vec![hit(1.978614)],
                ..Results::default()
            },
        }];
        let by_role = json(&JsonByRole::new(&roles));
        assert!(
            by_role.starts_with(r#"{"cto":[{"document":"A","highlights":[[4,7]],"id":"a.txt:3""#),
            "{by_role}"
        );
        assert!(by_role.contains(r#""score":1.9786139726638794,"#), "{by_role}");
    }

    #[test]
    fn labels_list_each_category_with_fields_in_alphabetical_order() {
        let taxonomy = Taxonomy::parse(
            "[[role]]\nslug = \"cto\"\nname = \"CTO\"\naliases = [\"CTO\"]\n\
             [[topic]]\nslug = \"skills\"\nname = \"Skills\"\nkeywords = [\"skill\"]\n",
        )
        .expect("taxonomy parses");
        let counts = Facets {
            roles: vec![("cto".into(), 4)],
            topics: vec![],
        };
        assert_eq!(
            json(&JsonLabels::new(&taxonomy, &counts)),
            r#"{"roles":[{"name":"CTO","passages":4,"slug":"cto","terms":["CTO"]}],"topics":[{"name":"Skills","passages":0,"slug":"skills","terms":["skill"]}]}"#
        );
    }
}
