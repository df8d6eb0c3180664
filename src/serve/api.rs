//! The JSON API: turns HTTP parameters into the same searches the command line runs and
//! answers with the same JSON; every error is `{"error": {"code", "message"}}`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::{blocking, AppState};
use crate::index::LiveIndex;
use crate::label::Taxonomy;
use crate::model::LabelKind as Kind;
use crate::output::json::{JsonByRole, JsonHit, JsonLabels, JsonOutline, JsonResults};
use crate::output::RoleResults;
use crate::search::{self, Request};

/// Longest query accepted, in characters: far beyond anything typed, short of abuse.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most hits one request may ask for (`limit`), and the deepest page (`offset`).
pub const MAX_LIMIT: usize = 100;
pub const MAX_OFFSET: usize = 1000;
/// Most neighbours on each side (`context`).
pub const MAX_CONTEXT: usize = 20;
/// Largest request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Hits by default, and per role with `by_role`, as on the command line.
const DEFAULT_LIMIT: usize = 10;
const DEFAULT_LIMIT_PER_ROLE: usize = 2;
/// Search modes; only lexical (BM25) search exists in this build.
const MODES: &[&str] = &["lexical"];
/// Parameters of `/api/search`.
const SEARCH_PARAMS: &[&str] = &[
    "q", "role", "topic", "limit", "offset", "mode", "by_role", "explain", "exact", "prefix", "context",
];

/// An answer other than success: an HTTP status, a stable code and a sentence for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// An error of the server itself (a damaged index, a failed update), never of the input.
    pub fn internal(error: &anyhow::Error) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{error:#}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, json_headers(), body.to_string()).into_response()
    }
}

fn json_headers() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "application/json")]
}

/// A JSON body already serialised (from the wire structs `--json` prints).
fn json(body: Vec<u8>) -> Response {
    (StatusCode::OK, json_headers(), body).into_response()
}

/// A search as the API asks for it, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    pub q: String,
    pub roles: Vec<String>,
    pub topics: Vec<String>,
    pub limit: Option<usize>,
    pub offset: usize,
    pub mode: String,
    pub by_role: bool,
    pub explain: bool,
    pub exact: bool,
    pub prefix: bool,
    pub context: usize,
}

/// `GET /api/search?q=…`: parameters in the query string; `role` and `topic` may repeat.
pub async fn search_get(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = params_of_query(raw.as_deref().unwrap_or(""))?;
    search(state, params).await
}

/// `POST /api/search` with a JSON object: the same names; `role` and `topic` a string or a list.
pub async fn search_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body).await?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    search(state, search_params(map)?).await
}

async fn search(state: Arc<AppState>, params: SearchParams) -> Result<Response, ApiError> {
    let live = Arc::clone(&state.live);
    blocking(&state, move || {
        let opened = live.get();
        run_search(&opened, &params)
    })
    .await
}

/// Runs a checked search on one index and serialises it as `query --json` does.
pub fn run_search(opened: &LiveIndex, params: &SearchParams) -> Result<Vec<u8>, ApiError> {
    let taxonomy = &opened.taxonomy;
    let roles = resolve(taxonomy, Kind::Role, &params.roles)?;
    let topics = resolve(taxonomy, Kind::Topic, &params.topics)?;
    let default_limit = if params.by_role {
        DEFAULT_LIMIT_PER_ROLE
    } else {
        DEFAULT_LIMIT
    };
    let limit = params.limit.unwrap_or(default_limit);
    let request = Request {
        query: params.q.clone(),
        roles: roles.clone(),
        topics,
        limit: limit + params.offset,
        typos: !params.exact,
        explain: params.explain,
        context: params.context,
        prefix: params.prefix,
    };
    let mut results = guarded(|| search::run(opened, &request))?;
    // Ranks stay those of the whole list, so page two starts at rank `offset + 1`.
    results.hits.drain(..params.offset.min(results.hits.len()));
    if params.by_role {
        if taxonomy.roles.is_empty() {
            return Err(ApiError::bad_request(
                "by_role needs roles, and the index has no taxonomy",
            ));
        }
        let chosen: Vec<_> = taxonomy
            .roles
            .iter()
            .filter(|r| roles.is_empty() || roles.contains(&r.slug))
            .collect();
        let slugs: Vec<String> = chosen.iter().map(|r| r.slug.clone()).collect();
        let per_role_request = Request { limit, ..request };
        let per_role: Vec<RoleResults> = guarded(|| search::run_per_role(opened, &per_role_request, &slugs))?
            .into_iter()
            .zip(chosen)
            .map(|(results, role)| RoleResults { role, results })
            .collect();
        to_json(&JsonResults::new(&results, Some(JsonByRole::new(&per_role))))
    } else {
        to_json(&JsonResults::new(&results, None))
    }
}

/// `GET /api/passages/{id}?context=N`: one passage by id with N neighbours on each side.
pub async fn passage(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut map = pairs_to_map(raw.as_deref().unwrap_or(""), &[])?;
    known_only(&map, &["context"])?;
    let context = get_usize(&mut map, "context")?.unwrap_or(0);
    if context > MAX_CONTEXT {
        return Err(ApiError::bad_request(format!(
            "context must be at most {MAX_CONTEXT}"
        )));
    }
    let live = Arc::clone(&state.live);
    blocking(&state, move || {
        let opened = live.get();
        let Some(hit) = guarded(|| search::show(&opened, &id, context))? else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no passage with id \"{id}\" in the index (ids look like file.txt:12)"),
            ));
        };
        to_json(&JsonHit::new(&hit))
    })
    .await
}

/// `GET /api/labels`: the taxonomy with passage counts, as `labels --json`.
pub async fn labels(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let map = pairs_to_map(raw.as_deref().unwrap_or(""), &[])?;
    known_only(&map, &[])?;
    let live = Arc::clone(&state.live);
    blocking(&state, move || {
        let opened = live.get();
        let counts = guarded(|| search::label_counts(&opened))?;
        to_json(&JsonLabels::new(&opened.taxonomy, &counts))
    })
    .await
}

/// `GET /api/sections?source=…&limit=…&offset=…`: the outline of documents of the corpus, as
/// `sections --json`, a page of documents at a time (a large corpus has thousands).
pub async fn sections(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut map = pairs_to_map(raw.as_deref().unwrap_or(""), &[])?;
    known_only(&map, &["source", "limit", "offset"])?;
    let source = get_string(&mut map, "source")?;
    let limit = get_usize(&mut map, "limit")?.unwrap_or(MAX_LIMIT);
    let offset = get_usize(&mut map, "offset")?.unwrap_or(0);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let live = Arc::clone(&state.live);
    blocking(&state, move || {
        let opened = live.get();
        let corpus_root = opened.stamp.corpus.clone();
        let outlines =
            super::outline::outlines(&corpus_root, source.as_deref(), offset, limit, &opened.taxonomy)
                .map_err(|e| ApiError::internal(&e))?;
        if let (Some(source), true) = (&source, outlines.is_empty()) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no document {source:?} in the corpus"),
            ));
        }
        to_json(&outlines.iter().map(JsonOutline::new).collect::<Vec<_>>())
    })
    .await
}

/// `GET /api/health`: the served generation, its passage count, the corpus and the last update.
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    let opened = state.live.get();
    let status = state.live.status();
    let body = serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "index": state.live.root(),
        "generation": state.live.generation(),
        "corpus": opened.stamp.corpus,
        "passages": opened.reader.searcher().num_docs(),
        "watching": state.live.watches_corpus(),
        "reloads": status.reloads,
        "last_update": status.last_update,
        "last_error": status.last_error,
    });
    (StatusCode::OK, json_headers(), body.to_string()).into_response()
}

/// `POST /api/reindex`: walks the corpus and updates the index now; answers what changed.
pub async fn reindex(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    if !state.live.watches_corpus() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_corpus",
            "the server was started with --no-refresh and does not write the index",
        ));
    }
    let live = Arc::clone(&state.live);
    // An update may take long on a large corpus: it runs outside the search pool and the
    // request timeout, and a second call waits for the first.
    let report = tokio::task::spawn_blocking(move || live.reindex())
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!("reindex stopped: {e}")))?
        // The corpus, not the request, is at fault (say, a taxonomy with a syntax error); the
        // index is left as it was and keeps answering.
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reindex_failed",
                format!("{e:#}; the index is left as it was"),
            )
        })?;
    let body = serde_json::to_vec(&report).map_err(|e| ApiError::internal(&e.into()))?;
    Ok(json(body))
}

/// Unknown paths under `/api/`.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

pub(super) fn ok_json(body: Vec<u8>) -> Response {
    json(body)
}

/// Serialises one of the wire structs of `output::json`: the API and `--json` share the
/// schema and the serializer, so their answers cannot drift apart.
fn to_json(value: &impl serde::Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::internal(&e.into()))
}

/// Reads a request body up to [`MAX_BODY_BYTES`]; more is a 413.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())
}

/// Parses a query string into a JSON-like map: `role` and `topic` (the names in `lists`)
/// collect every value in a list, any other name may appear once.
fn pairs_to_map(raw: &str, lists: &[&str]) -> Result<Map<String, Value>, ApiError> {
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
    let mode = get_string(&mut map, "mode")?.unwrap_or_else(|| MODES[0].to_string());
    if !MODES.contains(&mode.as_str()) {
        return Err(ApiError::bad_request(format!(
            "unknown mode {mode:?}; valid: {}",
            MODES.join(", ")
        )));
    }
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

fn known_only(map: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
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

fn get_string(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(format!("parameter {key} must be a string"))),
    }
}

fn get_usize(map: &mut Map<String, Value>, key: &str) -> Result<Option<usize>, ApiError> {
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

/// Slugs for role or topic values (slug, name or alias); an unknown one is a 400 naming the
/// valid ones, as `--role` does.
fn resolve(taxonomy: &Taxonomy, kind: Kind, values: &[String]) -> Result<Vec<String>, ApiError> {
    let mut slugs: Vec<String> = Vec::new();
    for value in values {
        let slug = taxonomy
            .resolve(kind, value)
            .map_err(|e| ApiError::bad_request(e.to_string()))?
            .to_string();
        if !slugs.contains(&slug) {
            slugs.push(slug);
        }
    }
    Ok(slugs)
}

/// Runs a step on the index, turning a panic inside tantivy (a damaged index) into an error.
fn guarded<T>(step: impl FnOnce() -> anyhow::Result<T>) -> Result<T, ApiError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::internal(&e)),
        Err(_) => Err(ApiError::internal(&anyhow::anyhow!("searching the index failed"))),
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
        assert!(!params.by_role && !params.prefix);
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
            ("q=a&mode=semantic", "unknown mode \"semantic\"; valid: lexical"),
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
