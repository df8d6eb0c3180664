//! Explanations: condenses tantivy's score explanation into one entry per term and field,
//! and adds the evidence for each label.

use anyhow::{Context as _, Result};
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query};
use tantivy::schema::{Field, Schema};
use tantivy::DocSet as _;
use tantivy::{DocAddress, Searcher};

use super::Plan;
use crate::index::LiveIndex;
use crate::model::{Explanation, TermScore};

/// Condenses tantivy's score explanation to one entry per term and field, and adds the
/// reasons for each label.
pub(super) fn explain(
    live: &LiveIndex,
    searcher: &Searcher,
    address: DocAddress,
    plan: &Plan,
    section: &[String],
    text: &str,
) -> Result<Explanation> {
    let mut leaves = Vec::new();
    leaf_queries(plan.query.as_ref(), &mut leaves);
    let mut terms = Vec::new();
    for leaf in leaves {
        if let Some(explanation) = explain_leaf(leaf, searcher, address)? {
            let tree: serde_json::Value = serde_json::from_str(&explanation.to_pretty_json())?;
            collect_terms(&tree, 1.0, &live.index.schema(), plan, &mut terms);
        }
    }
    terms.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(Explanation {
        terms,
        ..labels_only(live, section, text)
    })
}

/// The reasons for a hit's labels, with no score parts (a passage found by meaning alone).
pub(super) fn labels_only(live: &LiveIndex, section: &[String], text: &str) -> Explanation {
    Explanation {
        terms: Vec::new(),
        labels: live.taxonomy.explain(section, text),
        fusion: None,
    }
}

/// The scoring clauses of a query, boolean queries opened down to their leaves (a term, a
/// phrase, a boosted field). Excluded clauses add nothing to a score.
fn leaf_queries<'q>(query: &'q dyn Query, out: &mut Vec<&'q dyn Query>) {
    match query.downcast_ref::<BooleanQuery>() {
        Some(boolean) => {
            for (occur, clause) in boolean.clauses() {
                if *occur != Occur::MustNot {
                    leaf_queries(clause.as_ref(), out);
                }
            }
        }
        None => out.push(query),
    }
}

/// One leaf's explanation for a passage, or `None` when the leaf does not match it.
///
/// tantivy's explain seeks a fresh scorer to the passage, but a phrase scorer starts on its
/// first match: explaining a passage before that match (a phrase beside a required word,
/// `"market research" +ceo`) seeks backwards, which tantivy forbids. The leaf is explained
/// only when its first match is at or before the passage, so no seek goes backwards.
fn explain_leaf(
    leaf: &dyn Query,
    searcher: &Searcher,
    address: DocAddress,
) -> Result<Option<tantivy::query::Explanation>> {
    let weight = leaf
        .weight(EnableScoring::enabled_from_searcher(searcher))
        .context("explaining a score")?;
    let reader = searcher.segment_reader(address.segment_ord);
    let first = weight.scorer(reader, 1.0).context("explaining a score")?.doc();
    if first > address.doc_id {
        return Ok(None);
    }
    Ok(weight.explain(reader, address.doc_id).ok())
}

/// Walks an explanation tree (tantivy's JSON form), multiplying boosts on the way down.
fn collect_terms(
    node: &serde_json::Value,
    boost: f32,
    schema: &Schema,
    plan: &Plan,
    out: &mut Vec<TermScore>,
) {
    let description = node["description"].as_str().unwrap_or_default();
    let value = node["value"].as_f64().unwrap_or_default() as f32;
    let details = node["details"].as_array().map(Vec::as_slice).unwrap_or_default();
    if let Some(factor) = description
        .strip_prefix("Boost x")
        .and_then(|rest| rest.split_whitespace().next())
    {
        let factor: f32 = factor.parse().unwrap_or(1.0);
        for child in details {
            collect_terms(child, boost * factor, schema, plan, out);
        }
        return;
    }
    if description.starts_with("TermQuery") || description == "Phrase Scorer" {
        let (field, term) = node["context"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find_map(|s| s.as_str().and_then(|s| parse_term_context(s, schema)))
            })
            .unwrap_or_else(|| (String::new(), "phrase".to_string()));
        let find = |name: &str| -> Option<f32> {
            let mut stack = vec![node];
            while let Some(n) = stack.pop() {
                if n["description"].as_str().is_some_and(|d| d.starts_with(name)) {
                    return n["value"].as_f64().map(|v| v as f32);
                }
                stack.extend(n["details"].as_array().into_iter().flatten());
            }
            None
        };
        let freq = find("freq,");
        let idf = find("idf");
        out.push(TermScore {
            typo: plan.typo_terms.contains(&term),
            synonym: plan.synonym_terms.get(&term).cloned(),
            field,
            term,
            score: value * boost,
            freq,
            idf,
            boost,
        });
        return;
    }
    for child in details {
        collect_terms(child, boost, schema, plan, out);
    }
}

/// Reads `Term=Term(field=5, type=Str, "cybersecur")` into the field name and term text.
fn parse_term_context(context: &str, schema: &Schema) -> Option<(String, String)> {
    let rest = context.strip_prefix("Term=Term(field=")?;
    let id: u32 = rest.split(',').next()?.trim().parse().ok()?;
    let name = schema.get_field_name(Field::from_field_id(id)).to_string();
    let start = rest.find('"')?;
    let end = rest.rfind('"')?;
    (end > start).then(|| (name, rest[start + 1..end].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::field;
    use tantivy::Term;

    #[test]
    fn term_context_gives_field_and_text() {
        let schema = crate::index::schema();
        let text = schema.get_field(field::TEXT).expect("text field");
        let context = format!("Term={:?}", Term::from_field_text(text, "cybersecur"));
        assert_eq!(
            parse_term_context(&context, &schema),
            Some(("text".into(), "cybersecur".into()))
        );
    }
}
