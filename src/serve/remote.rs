//! `rsearch serve --remote`: the same page and JSON API, answered from a remote collection
//! (`remote::search`) instead of a local index, with the same wire structs as a local serve.
//!
//! The engine ranks and highlights; rsearch resolves role and topic names with the corpus's
//! taxonomy and shapes the answers. Nothing is indexed or watched here: `rsearch push` loads.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::api::{self, resolve, to_json, ApiError, DEFAULT_LIMIT, DEFAULT_LIMIT_PER_ROLE};
use super::params::{context_param, known_only, pairs_to_map, params_of_query, SearchParams};
use super::{around, cors_origin, page, serve_http, Manners};
use crate::label::Taxonomy;
use crate::model::{LabelKind as Kind, Results};
use crate::output::json::{JsonByRole, JsonCategory, JsonHit, JsonLabels, JsonResults};
use crate::output::RoleResults;
use crate::remote::{self, typesense::MAX_PER_PAGE, Client};
use crate::search::{Mode, Request};

/// A remote collection to answer from.
pub struct Remote {
    /// The `--remote` value, for messages and `/api/health`.
    pub url: String,
    pub client: Client,
    pub collection: String,
    /// The corpus's taxonomy: resolves role and topic names and orders facets. Without one,
    /// values are taken as slugs and labels listed as the engine counts them.
    pub taxonomy: Option<Taxonomy>,
}

/// What every handler shares when serving a remote collection.
struct RemoteState {
    remote: Remote,
    access_log: bool,
    cors: Option<HeaderValue>,
}

impl Manners for RemoteState {
    fn cors(&self) -> Option<&HeaderValue> {
        self.cors.as_ref()
    }

    fn access_log(&self) -> bool {
        self.access_log
    }
}

/// Serves the page and the API from `remote` until SIGINT or SIGTERM. The collection is read
/// once first, so a wrong key, an unreachable engine or a missing collection stops here with
/// one line rather than on the first search.
pub fn run_remote(remote: Remote, listen: SocketAddr, cors: Option<&str>, access_log: bool) -> Result<()> {
    let (_, passages) = remote::label_counts(&remote.client, &remote.collection, None)
        .with_context(|| format!("reading collection {} at {}", remote.collection, remote.url))?;
    let cors = cors_origin(cors)?;
    let listener = std::net::TcpListener::bind(listen).with_context(|| format!("listening on {listen}"))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let banner = format!(
        "rsearch: serving {passages} passages of collection {} at {} at http://{address}/ (Ctrl-C stops)",
        remote.collection, remote.url
    );
    let state = Arc::new(RemoteState {
        remote,
        access_log,
        cors,
    });
    serve_http(listener, router(state), &banner)?;
    eprintln!("rsearch: stopped");
    Ok(())
}

/// The same routes as a local serve; the endpoints that read or write the corpus say why
/// they cannot answer here.
fn router(state: Arc<RemoteState>) -> Router {
    let api = Router::new()
        .route("/search", get(search_get).post(search_post))
        .route("/passages/{*id}", get(passage))
        .route("/sections", get(sections))
        .route("/labels", get(labels))
        .route("/health", get(health))
        .route("/reindex", post(reindex))
        .fallback(api::not_found);
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::asset))
        .nest("/api", api)
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            around::<RemoteState>,
        ))
        .with_state(state)
}

async fn search_get(
    State(state): State<Arc<RemoteState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = params_of_query(raw.as_deref().unwrap_or(""))?;
    on_engine(state, move |remote| search(remote, &params)).await
}

async fn search_post(
    State(state): State<Arc<RemoteState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let params = api::body_params(&headers, body).await?;
    on_engine(state, move |remote| search(remote, &params)).await
}

/// Runs a checked search on the collection and serialises it as a local serve does. What the
/// engine cannot give (explanations, context, search by meaning, pages beyond its last) is a
/// 400 saying so.
fn search(remote: &Remote, params: &SearchParams) -> Result<Vec<u8>, ApiError> {
    let refused = |what: &str| {
        Err(ApiError::bad_request(format!(
            "{what} is not available when serving a remote collection"
        )))
    };
    if params.explain {
        return refused("explain");
    }
    if params.context > 0 {
        return refused("context");
    }
    // The engine ranks by its own words: only the lexical mode (the default here) runs.
    match params.mode {
        Some(crate::search::Mode::Semantic) => return refused("mode semantic"),
        Some(crate::search::Mode::Hybrid) => return refused("mode hybrid"),
        Some(crate::search::Mode::Lexical) | None => {}
    }
    let (roles, topics) = match &remote.taxonomy {
        Some(t) => (
            resolve(t, Kind::Role, &params.roles)?,
            resolve(t, Kind::Topic, &params.topics)?,
        ),
        None => (
            remote::label_slugs(&params.roles),
            remote::label_slugs(&params.topics),
        ),
    };
    let limit = params.limit.unwrap_or(if params.by_role {
        DEFAULT_LIMIT_PER_ROLE
    } else {
        DEFAULT_LIMIT
    });
    if limit + params.offset > MAX_PER_PAGE {
        return Err(ApiError::bad_request(format!(
            "offset + limit must be at most {MAX_PER_PAGE} when serving a remote collection"
        )));
    }
    let request = Request {
        query: params.q.clone(),
        roles: roles.clone(),
        topics,
        limit: limit + params.offset,
        typos: !params.exact,
        explain: false,
        context: 0,
        prefix: params.prefix,
        // The engine ranks by its own words: no local synonyms, no vectors.
        synonyms: false,
        mode: Mode::Lexical,
    };
    let mut results = engine(remote, &request)?;
    // Ranks stay those of the whole list, so page two starts at rank `offset + 1`.
    results.hits.drain(..params.offset.min(results.hits.len()));
    if !params.by_role {
        return to_json(&JsonResults::new(&results, None));
    }
    let Some(taxonomy) = remote.taxonomy.as_ref().filter(|t| !t.roles.is_empty()) else {
        return Err(ApiError::bad_request(
            "by_role needs roles, and the corpus has no taxonomy",
        ));
    };
    let mut per_role = Vec::new();
    for role in taxonomy
        .roles
        .iter()
        .filter(|r| roles.is_empty() || roles.contains(&r.slug))
    {
        let one = Request {
            roles: vec![role.slug.clone()],
            limit,
            ..request.clone()
        };
        per_role.push(RoleResults {
            role,
            results: engine(remote, &one)?,
        });
    }
    to_json(&JsonResults::new(&results, Some(JsonByRole::new(&per_role))))
}

/// One search on the engine; an engine that cannot be reached or refuses is a 502.
fn engine(remote: &Remote, request: &Request) -> Result<Results, ApiError> {
    remote::search(
        &remote.client,
        &remote.collection,
        request,
        remote.taxonomy.as_ref(),
    )
    .map_err(|e| engine_error(&e))
}

/// `GET /api/passages/{id}?context=N`, from the collection.
async fn passage(
    State(state): State<Arc<RemoteState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let context = context_param(raw.as_deref())?;
    on_engine(state, move |remote| {
        let found = remote::passage(&remote.client, &remote.collection, &id, context)
            .map_err(|e| engine_error(&e))?;
        let Some(hit) = found else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!(
                    "no passage with id \"{id}\" in collection {} (ids look like file.txt:12)",
                    remote.collection
                ),
            ));
        };
        to_json(&JsonHit::new(&hit))
    })
    .await
}

/// `GET /api/labels`: the taxonomy with the collection's passage counts; without a taxonomy,
/// the labels the collection has, named by their slugs.
async fn labels(
    State(state): State<Arc<RemoteState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let map = pairs_to_map(raw.as_deref().unwrap_or(""), &[])?;
    known_only(&map, &[])?;
    on_engine(state, |remote| {
        let (counts, _) = remote::label_counts(&remote.client, &remote.collection, remote.taxonomy.as_ref())
            .map_err(|e| engine_error(&e))?;
        if let Some(taxonomy) = &remote.taxonomy {
            return to_json(&JsonLabels::new(taxonomy, &counts));
        }
        fn category((slug, passages): &(String, u64)) -> JsonCategory<'_> {
            JsonCategory {
                name: slug,
                passages: *passages,
                slug,
                terms: &[],
            }
        }
        to_json(&JsonLabels {
            roles: counts.roles.iter().map(category).collect(),
            topics: counts.topics.iter().map(category).collect(),
        })
    })
    .await
}

/// `GET /api/health`: the collection, its passage count, and that nothing is watched here.
async fn health(State(state): State<Arc<RemoteState>>) -> Result<Response, ApiError> {
    on_engine(state, |remote| {
        let (_, passages) =
            remote::label_counts(&remote.client, &remote.collection, None).map_err(|e| engine_error(&e))?;
        to_json(&serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "remote": remote.url,
            "collection": remote.collection,
            "passages": passages,
            "watching": false,
        }))
    })
    .await
}

/// `GET /api/sections`: outlines are made from the corpus, which this server does not read.
async fn sections() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "remote",
        "outlines come from the corpus, and this server answers from a remote collection (run rsearch sections)",
    )
}

/// `POST /api/reindex`: the collection is loaded by `rsearch push`, not by this server.
async fn reindex() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "remote",
        "this server answers from a remote collection; update it with rsearch push",
    )
}

/// Runs a step that calls the engine on the blocking pool (the client waits on the network)
/// and answers with its JSON.
async fn on_engine(
    state: Arc<RemoteState>,
    step: impl FnOnce(&Remote) -> Result<Vec<u8>, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let body = tokio::task::spawn_blocking(move || step(&state.remote))
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!("search stopped: {e}")))??;
    Ok(api::ok_json(body))
}

/// The engine could not be reached or refused: the fault is upstream, not in the request.
fn engine_error(error: &anyhow::Error) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "remote_failed", format!("{error:#}"))
}

impl std::fmt::Debug for Remote {
    // The client holds the API key: it stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote({} / {})", self.url, self.collection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_without_a_taxonomy_are_slugs_once_each() {
        let given = ["CTO".to_string(), " cto".to_string(), "Skills".to_string()];
        assert_eq!(remote::label_slugs(&given), ["cto", "skills"]);
    }
}
