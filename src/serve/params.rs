//! Parameters of the API: a query string or a JSON body turned into a checked search, with
//! one clear 400 for each thing wrong (unknown names, bad numbers, values out of range).

use serde_json::{Map, Value};

use super::api::ApiError;
use crate::search::Mode;

/// Longest query accepted, in characters: far beyond anything typed, short of abuse.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most hits one request may ask for (`limit`), and the deepest page (`offset`).
pub const MAX_LIMIT: usize = 100;
pub const MAX_OFFSET: usize = 1000;
/// Most neighbours on each side (`context`).
pub const MAX_CONTEXT: usize = 20;
/// Search modes, as `query --mode` names them.
const MODES: &[(&str, Mode)] = &[
    ("lexical", Mode::Lexical),
    ("semantic", Mode::Semantic),
    ("hybrid", Mode::Hybrid),
];
/// Parameters of `/api/search`.
const SEARCH_PARAMS: &[&str] = &[
    "q", "role", "topic", "limit", "offset", "mode", "by_role", "explain", "exact", "prefix", "context",
];

/// A search as the API asks for it, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    pub q: String,
    pub roles: Vec<String>,
    pub topics: Vec<String>,
    pub limit: Option<usize>,
    pub offset: usize,
    /// `None`: hybrid when the server can search by meaning, else lexical (as `query`).
    pub mode: Option<Mode>,
    pub by_role: bool,
    pub explain: bool,
    pub exact: bool,
    pub prefix: bool,
    pub context: usize,
}

/// Parses a query string into a JSON-like map: `role` and `topic` (the names in `lists`)
/// collect every value in a list, any other name may appear once.
pub(super) fn pairs_to_map(raw: &str, lists: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("the query string cannot be read: {e}")))?;
    let mut map = Map::new();
    for (key, value) in pairs {
        if lists.contains(&key.as_str()) {
            if let Value::Array(list) = map.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                list.push(Value::String(value));
            }
        } else if map.insert(key.clone(), Value::String(value)).is_some() {
            return Err(ApiError::bad_request(format!("parameter {key} is given twice")));
        }
    }
    Ok(map)
}

/// The `context` of a passage request (neighbours on each side): 0 when absent, at most
/// [`MAX_CONTEXT`], and no other parameter.
pub(super) fn context_param(raw: Option<&str>) -> Result<usize, ApiError> {
    let mut map = pairs_to_map(raw.unwrap_or(""), &[])?;
    known_only(&map, &["context"])?;
    let context = get_usize(&mut map, "context")?.unwrap_or(0);
    if context > MAX_CONTEXT {
        return Err(ApiError::bad_request(format!(
            "context must be at most {MAX_CONTEXT}"
        )));
    }
    Ok(context)
}

/// Checks the parameters of a search from a query string.
pub fn params_of_query(raw: &str) -> Result<SearchParams, ApiError> {
    search_params(pairs_to_map(raw, &["role", "topic"])?)
}

/// Checks the parameters of a search, from a query string or a JSON body.
pub fn search_params(mut map: Map<String, Value>) -> Result<SearchParams, ApiError> {
    known_only(&map, SEARCH_PARAMS)?;
    let q = get_string(&mut map, "q")?
        .ok_or_else(|| ApiError::bad_request("parameter q (the query) is missing"))?;
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(format!(
            "the query is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = get_usize(&mut map, "limit")?;
    if limit.is_some_and(|n| n == 0 || n > MAX_LIMIT) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let offset = get_usize(&mut map, "offset")?.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ApiError::bad_request(format!(
            "offset must be at most {MAX_OFFSET}"
        )));
    }
    let context = get_usize(&mut map, "context")?.unwrap_or(0);
    if context > MAX_CONTEXT {
        return Err(ApiError::bad_request(format!(
            "context must be at most {MAX_CONTEXT}"
        )));
    }
    let mode = match get_string(&mut map, "mode")? {
        None => None,
        Some(name) => match MODES.iter().find(|(n, _)| *n == name) {
            Some(&(_, mode)) => Some(mode),
            None => {
                let names: Vec<&str> = MODES.iter().map(|(n, _)| *n).collect();
                return Err(ApiError::bad_request(format!(
                    "unknown mode {name:?}; valid: {}",
                    names.join(", ")
                )));
            }
        },
    };
    Ok(SearchParams {
        q,
        roles: get_list(&mut map, "role")?,
        topics: get_list(&mut map, "topic")?,
        limit,
        offset,
        mode,
        by_role: get_bool(&mut map, "by_role")?,
        explain: get_bool(&mut map, "explain")?,
        exact: get_bool(&mut map, "exact")?,
        prefix: get_bool(&mut map, "prefix")?,
        context,
    })
}

pub(super) fn known_only(map: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) if known.is_empty() => Err(ApiError::bad_request(format!(
            "unknown parameter {key:?}; this endpoint takes none"
        ))),
        Some(key) => Err(ApiError::bad_request(format!(
            "unknown parameter {key:?}; valid: {}",
            known.join(", ")
        ))),
    }
}

pub(super) fn get_string(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(format!("parameter {key} must be a string"))),
    }
}

pub(super) fn get_usize(map: &mut Map<String, Value>, key: &str) -> Result<Option<usize>, ApiError> {
    let bad = || ApiError::bad_request(format!("parameter {key} must be a whole number"));
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse::<usize>().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn get_bool(map: &mut Map<String, Value>, key: &str) -> Result<bool, ApiError> {
    let bad = || ApiError::bad_request(format!("parameter {key} must be true or false"));
    match map.remove(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::String(s)) => match s.as_str() {
            "true" | "1" | "yes" | "" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

fn get_list(map: &mut Map<String, Value>, key: &str) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::bad_request(format!("parameter {key} must be a string or a list of strings"));
    match map.remove(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(raw: &str) -> String {
        params_of_query(raw).err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn roles_and_topics_repeat_into_lists() {
        let params = params_of_query("q=market+research&role=cto&role=ceo&topic=skills").expect("valid");
        assert_eq!(params.q, "market research");
        assert_eq!(params.roles, ["cto", "ceo"]);
        assert_eq!(params.topics, ["skills"]);
        assert_eq!(params.limit, None);
        assert_eq!(params.mode, None);
        assert!(!params.by_role && !params.prefix);
    }

    #[test]
    fn every_mode_of_the_command_line_is_accepted() {
        for (raw, mode) in [
            ("q=a&mode=lexical", Mode::Lexical),
            ("q=a&mode=semantic", Mode::Semantic),
            ("q=a&mode=hybrid", Mode::Hybrid),
        ] {
            assert_eq!(params_of_query(raw).expect("valid").mode, Some(mode), "{raw}");
        }
    }

    #[test]
    fn every_bad_parameter_is_named_in_its_error() {
        for (raw, expected) in [
            ("", "parameter q (the query) is missing"),
            ("q=a&limit=0", "limit must be between 1 and 100"),
            ("q=a&limit=101", "limit must be between 1 and 100"),
            ("q=a&limit=ten", "parameter limit must be a whole number"),
            ("q=a&offset=5000", "offset must be at most 1000"),
            ("q=a&context=21", "context must be at most 20"),
            ("q=a&by_role=maybe", "parameter by_role must be true or false"),
            (
                "q=a&mode=meaning",
                "unknown mode \"meaning\"; valid: lexical, semantic, hybrid",
            ),
            ("q=a&colour=red", "unknown parameter \"colour\""),
            ("q=a&q=b", "parameter q is given twice"),
        ] {
            assert!(error_of(raw).starts_with(expected), "{raw:?}: {}", error_of(raw));
        }
    }

    #[test]
    fn a_query_longer_than_the_limit_is_refused() {
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert!(error_of(&format!("q={long}")).contains("longer than"));
        assert!(params_of_query(&format!("q={}", "a".repeat(MAX_QUERY_CHARS))).is_ok());
    }

    #[test]
    fn a_json_body_takes_lists_numbers_and_booleans() {
        let body = serde_json::json!({"q": "skills", "role": "cto", "limit": 3, "prefix": true});
        let Value::Object(map) = body else { unreachable!() };
        let params = search_params(map).expect("valid");
        assert_eq!(params.roles, ["cto"]);
        assert_eq!(params.limit, Some(3));
        assert!(params.prefix);
    }
}
