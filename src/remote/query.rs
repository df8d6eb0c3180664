//! Queries answered by a remote collection: a request becomes the engine's search, its answer
//! becomes rsearch's `Results` (hits, facets, snippets from the engine's highlights).

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::{typesense, Client};
use crate::label::{Category, Taxonomy};
use crate::model::{passage_id, Context, Facets, Hit, LabelKind, Labels, Neighbor, Results, Snippet};
use crate::search::{self, Request};

/// Words each side of the matched words in a snippet.
const SNIPPET_AFFIX_WORDS: &str = "16";
/// Longest snippet when the engine highlighted nothing in the text, in characters.
const OPENING_CHARS: usize = 220;

/// Runs `request` on the remote collection and maps the engine's answer to `Results`: the same
/// hits, facets and snippets a local search gives. The engine ranks and highlights; `score` is
/// its text-match score relative to the best hit (1 for the best), `did_you_mean` is `None`.
/// Facets follow `taxonomy`'s order when one is given. Explanations and context are not
/// available remotely and are not asked for.
pub fn search(
    client: &Client,
    collection: &str,
    request: &Request,
    taxonomy: Option<&Taxonomy>,
) -> Result<Results> {
    let mut results = Results {
        query: request.query.clone(),
        ..Results::default()
    };
    let q = engine_query(&request.query);
    if q.is_empty() {
        return Ok(results);
    }
    let filter = filter_by(&request.roles, &request.topics);
    let per_page = request.limit.clamp(1, typesense::MAX_PER_PAGE).to_string();
    let mut params: Vec<(&str, &str)> = vec![
        ("q", &q),
        ("query_by", "text,section,document"),
        // rsearch weighs a heading match half a text match and a title match less still.
        ("query_by_weights", "4,2,1"),
        // The last word also matches as the start of longer words when asked (the page's
        // search-as-you-type); a command-line query never asks.
        ("prefix", if request.prefix { "true" } else { "false" }),
        ("num_typos", if request.typos { "2" } else { "0" }),
        // rsearch's typo budget: one typo from 5 letters, two from 9.
        ("min_len_1typo", "5"),
        ("min_len_2typo", "9"),
        ("facet_by", "roles,topics"),
        ("max_facet_values", "250"),
        ("per_page", &per_page),
        ("highlight_fields", "text"),
        ("highlight_affix_num_tokens", SNIPPET_AFFIX_WORDS),
        ("exclude_fields", "digest"),
    ];
    if !filter.is_empty() {
        params.push(("filter_by", &filter));
    }
    let answer = client.search(collection, &params)?;
    results.total_hits = answer["found"].as_u64().unwrap_or(0) as usize;
    let hits = answer["hits"].as_array().map(Vec::as_slice).unwrap_or_default();
    let best = hits
        .first()
        .and_then(|h| h["text_match"].as_f64())
        .filter(|&s| s > 0.0)
        .unwrap_or(1.0);
    for (i, raw) in hits.iter().take(request.limit).enumerate() {
        results.hits.push(hit(raw, i + 1, best)?);
    }
    results.facets = Facets {
        roles: facet(&answer, "roles", taxonomy.map(|t| t.list(LabelKind::Role))),
        topics: facet(&answer, "topics", taxonomy.map(|t| t.list(LabelKind::Topic))),
    };
    Ok(results)
}

/// One passage by id (`source:ordinal`) with up to `around` neighbours on each side, as
/// `search::show` gives it from a local index: rank 1, score 0, the whole text as its snippet.
/// One search fetches the passage and its neighbours by their ids; `None` when the collection
/// has no passage with that id.
pub fn passage(client: &Client, collection: &str, id: &str, around: usize) -> Result<Option<Hit>> {
    let Some((source, ordinal)) = id
        .rsplit_once(':')
        .and_then(|(source, n)| Some((source, n.parse::<u64>().ok()?)))
    else {
        return Ok(None);
    };
    // A backtick cannot be quoted inside a filter, and no exported id has one in practice.
    if id.contains('`') {
        return Ok(None);
    }
    let first = ordinal.saturating_sub(around as u64).max(1);
    let ids: Vec<String> = (first..=ordinal.saturating_add(around as u64))
        .map(|n| format!("`{}`", passage_id(source, n)))
        .collect();
    let filter = format!("id:[{}]", ids.join(","));
    let per_page = ids.len().clamp(1, typesense::MAX_PER_PAGE).to_string();
    let params = [
        ("q", "*"),
        ("query_by", "text"),
        ("filter_by", filter.as_str()),
        ("per_page", per_page.as_str()),
        ("exclude_fields", "digest"),
    ];
    let answer = client.search(collection, &params)?;
    let mut found = Vec::new();
    for raw in answer["hits"].as_array().map(Vec::as_slice).unwrap_or_default() {
        found.push(hit(raw, 1, 1.0)?);
    }
    // Neighbours are passages of the same document, whatever order the engine listed them in.
    found.retain(|h| h.source == source);
    found.sort_by_key(|h| h.ordinal);
    let Some(at) = found.iter().position(|h| h.ordinal == ordinal) else {
        return Ok(None);
    };
    let neighbor = |h: &Hit| Neighbor {
        id: h.id.clone(),
        ordinal: h.ordinal,
        section: h.section.clone(),
        text: h.text.clone(),
    };
    let context = Context {
        before: found[..at].iter().map(neighbor).collect(),
        after: found[at + 1..].iter().map(neighbor).collect(),
    };
    let mut passage = found.swap_remove(at);
    passage.score = 0.0;
    passage.snippet = Snippet {
        text: passage.text.clone(),
        highlights: Vec::new(),
    };
    passage.context = Some(context);
    Ok(Some(passage))
}

/// Passage counts per role and topic over the whole collection, and the number of passages,
/// ordered as `search` orders facets.
pub fn label_counts(client: &Client, collection: &str, taxonomy: Option<&Taxonomy>) -> Result<(Facets, u64)> {
    let params = [
        ("q", "*"),
        ("query_by", "text"),
        ("facet_by", "roles,topics"),
        ("max_facet_values", "250"),
        ("per_page", "1"),
        ("include_fields", "id"),
    ];
    let answer = client.search(collection, &params)?;
    let facets = Facets {
        roles: facet(&answer, "roles", taxonomy.map(|t| t.list(LabelKind::Role))),
        topics: facet(&answer, "topics", taxonomy.map(|t| t.list(LabelKind::Topic))),
    };
    Ok((facets, answer["found"].as_u64().unwrap_or(0)))
}

/// The query in the engine's syntax. Words, `"phrases"` and `-excluded` words mean the same
/// there; `+` (every word is required there unless too few passages match) and the `AND`/`OR`
/// operators have no equivalent and are dropped.
pub fn engine_query(query: &str) -> String {
    query
        .split_whitespace()
        .filter(|w| !matches!(*w, "AND" | "OR" | "&&" | "||"))
        .map(|w| w.trim_start_matches('+'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The engine filter for label slugs: any of the roles and any of the topics.
pub fn filter_by(roles: &[String], topics: &[String]) -> String {
    let mut parts = Vec::new();
    for (field, slugs) in [("roles", roles), ("topics", topics)] {
        if !slugs.is_empty() {
            let quoted: Vec<String> = slugs
                .iter()
                .map(|s| format!("`{}`", s.replace('`', "")))
                .collect();
            parts.push(format!("{field}:=[{}]", quoted.join(",")));
        }
    }
    parts.join(" && ")
}

/// One engine hit as a rsearch hit.
fn hit(raw: &Value, rank: usize, best: f64) -> Result<Hit> {
    let doc = &raw["document"];
    let text_of = |field: &str| doc[field].as_str().unwrap_or_default().to_string();
    let list_of = |field: &str| -> Vec<String> {
        doc[field]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let id = doc["id"]
        .as_str()
        .with_context(|| format!("the engine returned a passage without an id: {doc}"))?
        .to_string();
    let text = text_of("text");
    let marked = raw["highlights"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["field"] == "text"))
        .and_then(|h| h["snippet"].as_str());
    let snippet = match marked.map(unmark) {
        Some(snippet) if !snippet.highlights.is_empty() => snippet,
        _ => Snippet {
            text: search::opening(&text, OPENING_CHARS),
            highlights: Vec::new(),
        },
    };
    Ok(Hit {
        id,
        rank,
        score: (raw["text_match"].as_f64().unwrap_or(0.0) / best) as f32,
        source: text_of("source"),
        document: text_of("document"),
        ordinal: doc["ordinal"].as_u64().unwrap_or(0),
        section: list_of("section"),
        labels: Labels {
            roles: list_of("roles"),
            topics: list_of("topics"),
        },
        text,
        snippet,
        explanation: None,
        context: None,
    })
}

/// A snippet marked with `<mark>…</mark>` as plain text and the byte ranges of the marked words.
pub fn unmark(marked: &str) -> Snippet {
    const OPEN: &str = "<mark>";
    const CLOSE: &str = "</mark>";
    let mut text = String::with_capacity(marked.len());
    let mut highlights = Vec::new();
    let mut rest = marked;
    while let Some(start) = rest.find(OPEN) {
        text.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            rest = after;
            break;
        };
        let from = text.len();
        text.push_str(&after[..end]);
        highlights.push((from, text.len()));
        rest = &after[end + CLOSE.len()..];
    }
    text.push_str(rest);
    Snippet { text, highlights }
}

/// Label counts of one facet field, in taxonomy order when known (then any label the taxonomy
/// lacks), else in the engine's order (most hits first); labels with no hit are left out.
fn facet(answer: &Value, field: &str, order: Option<&[Category]>) -> Vec<(String, u64)> {
    let found: Vec<(String, u64)> = answer["facet_counts"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["field_name"] == field))
        .and_then(|f| f["counts"].as_array())
        .map(|counts| {
            counts
                .iter()
                .filter_map(|c| Some((c["value"].as_str()?.to_string(), c["count"].as_u64()?)))
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default();
    let Some(order) = order else { return found };
    let mut ordered: Vec<(String, u64)> = order
        .iter()
        .filter_map(|c| found.iter().find(|(slug, _)| *slug == c.slug).cloned())
        .collect();
    for entry in found {
        if !ordered.iter().any(|(s, _)| *s == entry.0) {
            ordered.push(entry);
        }
    }
    ordered
}

/// Label values taken as slugs when there is no local taxonomy to resolve them: trimmed,
/// lower-cased, each once.
pub fn label_slugs(values: &[String]) -> Vec<String> {
    let mut slugs: Vec<String> = Vec::new();
    for value in values {
        let slug = value.trim().to_lowercase();
        if !slugs.contains(&slug) {
            slugs.push(slug);
        }
    }
    slugs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmark_gives_plain_text_and_byte_ranges() {
        let s = unmark("In <mark>cybersécurité</mark> and <mark>data</mark>.");
        assert_eq!(s.text, "In cybersécurité and data.");
        assert_eq!(&s.text[s.highlights[0].0..s.highlights[0].1], "cybersécurité");
        assert_eq!(&s.text[s.highlights[1].0..s.highlights[1].1], "data");
        assert_eq!(unmark("no marks").highlights, vec![]);
    }

    #[test]
    fn operators_without_an_engine_equivalent_are_dropped() {
        assert_eq!(engine_query("+investors AND media"), "investors media");
        assert_eq!(engine_query("ceo OR cto -board"), "ceo cto -board");
        assert_eq!(engine_query("\"board of directors\""), "\"board of directors\"");
        assert_eq!(engine_query(" + AND "), "");
    }

    #[test]
    fn filter_is_any_of_each_kind_and_both_kinds() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(filter_by(&s(&[]), &s(&[])), "");
        assert_eq!(filter_by(&s(&["ceo", "cto"]), &s(&[])), "roles:=[`ceo`,`cto`]");
        assert_eq!(
            filter_by(&s(&["cto"]), &s(&["skills"])),
            "roles:=[`cto`] && topics:=[`skills`]"
        );
    }
}
