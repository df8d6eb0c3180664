//! The JSON API: turns HTTP parameters into the same searches the command line runs and
//! answers with the same JSON; every error is `{"error": {"code", "message"}}`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::params::{
    context_param, get_string, get_usize, known_only, pairs_to_map, params_of_query, search_params,
    SearchParams, MAX_LIMIT,
};
use super::{blocking, AppState};
use crate::embed::{self, QueryEmbedder, QueryVector};
use crate::index::LiveIndex;
use crate::label::Taxonomy;
use crate::model::LabelKind as Kind;
use crate::output::json::{JsonByRole, JsonHit, JsonLabels, JsonOutline, JsonResults};
use crate::output::RoleResults;
use crate::search::{self, Mode, Request};

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Hits by default, and per role with `by_role`, as on the command line.
pub(super) const DEFAULT_LIMIT: usize = 10;
pub(super) const DEFAULT_LIMIT_PER_ROLE: usize = 2;
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

pub(super) fn json_headers() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "application/json")]
}

/// A JSON body already serialised (from the wire structs `--json` prints).
fn json(body: Vec<u8>) -> Response {
    (StatusCode::OK, json_headers(), body).into_response()
}

/// `GET /api/search?q=…`: parameters in the query string; `role` and `topic` may repeat.
pub async fn search_get(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = params_of_query(raw.as_deref().unwrap_or(""))?;
    search(state, params).await
}

/// The search parameters of a `POST /api/search` body: a JSON object with the names of the
/// query string.
pub(super) async fn body_params(headers: &HeaderMap, body: Body) -> Result<SearchParams, ApiError> {
    let bytes = read_body(headers, body).await?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    search_params(map)
}

/// `POST /api/search` with a JSON object: the same names; `role` and `topic` a string or a list.
pub async fn search_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    search(state, body_params(&headers, body).await?).await
}

async fn search(state: Arc<AppState>, params: SearchParams) -> Result<Response, ApiError> {
    let live = Arc::clone(&state.live);
    let embedder = state.embedder.clone();
    blocking(&state, move || {
        let opened = live.get();
        run_search(&opened, &params, embedder.as_deref())
    })
    .await
}

/// Runs a checked search on one index and serialises it as `query --json` does; `embedder`
/// is the model the server loaded at start, if any.
pub fn run_search(
    opened: &LiveIndex,
    params: &SearchParams,
    embedder: Option<&QueryEmbedder>,
) -> Result<Vec<u8>, ApiError> {
    let taxonomy = &opened.taxonomy;
    let roles = resolve(taxonomy, Kind::Role, &params.roles)?;
    let topics = resolve(taxonomy, Kind::Topic, &params.topics)?;
    let default_limit = if params.by_role {
        DEFAULT_LIMIT_PER_ROLE
    } else {
        DEFAULT_LIMIT
    };
    let limit = params.limit.unwrap_or(default_limit);
    let (mode, vector) = meaning(opened, params, embedder)?;
    let request = Request {
        query: params.q.clone(),
        roles: roles.clone(),
        topics,
        limit: limit + params.offset,
        typos: !params.exact,
        explain: params.explain,
        context: params.context,
        prefix: params.prefix,
        synonyms: !params.exact,
        mode,
    };
    let vector = vector.as_ref();
    let mut results = guarded(|| search::run_in_mode(opened, &request, vector))?;
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
        let per_role: Vec<RoleResults> =
            guarded(|| search::run_per_role(opened, &per_role_request, &slugs, vector))?
                .into_iter()
                .zip(chosen)
                .map(|(results, role)| RoleResults { role, results })
                .collect();
        to_json(&JsonResults::new(&results, Some(JsonByRole::new(&per_role))))
    } else {
        to_json(&JsonResults::new(&results, None))
    }
}

/// The mode of a search and, by meaning, the query's vector. Without `mode`: hybrid when the
/// index has vectors of the model the server loaded, else lexical, as `query` decides. A mode
/// by meaning the server cannot run is a 409 saying what is missing.
fn meaning(
    opened: &LiveIndex,
    params: &SearchParams,
    embedder: Option<&QueryEmbedder>,
) -> Result<(Mode, Option<QueryVector>), ApiError> {
    let usable = match (embedder, &opened.vectors) {
        (Some(embedder), Some(vectors)) => vectors.fingerprint().map_or(true, |v| v == embedder.fingerprint),
        _ => false,
    };
    let mode = match params.mode {
        Some(Mode::Lexical) => return Ok((Mode::Lexical, None)),
        None if !usable => return Ok((Mode::Lexical, None)),
        None => Mode::Hybrid,
        Some(mode) => mode,
    };
    let unavailable = |message: String| ApiError::new(StatusCode::CONFLICT, "no_meaning", message);
    if opened.vectors.is_none() {
        return Err(unavailable(
            "the index has no passage vectors; run `rsearch index --vectors`".into(),
        ));
    }
    let Some(embedder) = embedder else {
        return Err(unavailable(format!(
            "search by meaning needs the embedding model, which the server did not load: {}",
            embed::HOW_TO_GET
        )));
    };
    if !usable {
        return Err(unavailable(
            "the index's passage vectors were made by another model; run `rsearch index --vectors --full`"
                .into(),
        ));
    }
    let vector = embedder.embed(&params.q).map_err(|e| ApiError::internal(&e))?;
    Ok((mode, Some(vector)))
}

/// `GET /api/passages/{id}?context=N`: one passage by id with N neighbours on each side.
pub async fn passage(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let context = context_param(raw.as_deref())?;
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
pub(super) fn to_json(value: &impl serde::Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::internal(&e.into()))
}

/// Reads a request body up to [`MAX_BODY_BYTES`]; more is a 413.
pub(super) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
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

/// Slugs for role or topic values (slug, name or alias); an unknown one is a 400 naming the
/// valid ones, as `--role` does.
pub(super) fn resolve(taxonomy: &Taxonomy, kind: Kind, values: &[String]) -> Result<Vec<String>, ApiError> {
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
