//! `rsearch serve`: one process keeps the index open and answers the JSON API and the search
//! page over HTTP, updating the index in the background as the corpus changes.
//!
//! Built on axum and tokio: the maintained, widely used Rust HTTP stack (hyper underneath), with
//! graceful shutdown, routing and body limits built in, so none of that is hand-written here.

mod api;
mod fresh;
mod outline;
mod page;
mod params;
mod remote;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;

pub use api::{run_search, ApiError};
pub use fresh::{Live, UpdateReport};
pub use params::{params_of_query, search_params, SearchParams};
pub use remote::{run_remote, Remote};

use crate::embed::QueryEmbedder;
use crate::index::{BuildSettings, IndexDir, LiveIndex};

/// Longest a request may take before it is answered with 503; a search takes milliseconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How the server runs, settled from the command line.
#[derive(Debug)]
pub struct Settings {
    pub index: IndexDir,
    /// Corpus to keep the index in sync with; `None` serves the index as it is.
    pub corpus: Option<PathBuf>,
    pub build: BuildSettings,
    pub listen: SocketAddr,
    /// The one origin (besides the page itself) whose pages may call the API.
    pub cors: Option<String>,
    /// One line per request on stderr.
    pub access_log: bool,
    /// The embedding model for queries by meaning, loaded once at start.
    pub embedder: Option<QueryEmbedder>,
}

/// What every handler shares: the live index and the bound on concurrent searches.
pub struct AppState {
    live: Arc<Live>,
    /// Searches are CPU-bound: running more at once than there are cores only adds latency
    /// (p99 on the 197 MB corpus with 16 connections: 22 ms with two per core, 14 ms with one),
    /// so they queue here (the wait counts toward the request timeout).
    searches: Semaphore,
    access_log: bool,
    cors: Option<HeaderValue>,
    /// Shared by every search by meaning (it is read-only).
    embedder: Option<Arc<QueryEmbedder>>,
}

/// Serves `opened` until SIGINT or SIGTERM; requests in flight are answered first, and a
/// running index update is allowed to finish.
pub fn run(opened: LiveIndex, settings: Settings) -> Result<()> {
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("listening on {}", settings.listen))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let passages = opened.reader.searcher().num_docs();
    let watching = settings.corpus.is_some();
    let live = Arc::new(Live::new(
        settings.index,
        settings.corpus,
        settings.build,
        opened,
        !settings.access_log,
    ));
    let cors = cors_origin(settings.cors.as_deref())?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let state = Arc::new(AppState {
        live: Arc::clone(&live),
        searches: Semaphore::new(cores),
        access_log: settings.access_log,
        cors,
        embedder: settings.embedder.map(Arc::new),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (live, stop) = (Arc::clone(&live), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("rsearch-watch".into())
            .spawn(move || fresh::watch(&live, &stop))
            .context("starting the index watcher")?
    };
    let banner = format!(
        "rsearch: serving {passages} passages at http://{address}/{} (Ctrl-C stops)",
        if watching { "; watching the corpus" } else { "" }
    );
    let served = serve_http(listener, router(state), &banner);
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    served?;
    eprintln!("rsearch: stopped");
    Ok(())
}

/// The `--cors` origin as a header value (a trailing `/` dropped); a value no header can
/// carry is an error naming it.
fn cors_origin(origin: Option<&str>) -> Result<Option<HeaderValue>> {
    origin
        .map(|origin| {
            HeaderValue::from_str(origin.trim_end_matches('/'))
                .with_context(|| format!("--cors {origin:?} is not a valid origin"))
        })
        .transpose()
}

/// Announces `banner` on stderr, then serves `app` on `listener` until SIGINT or SIGTERM,
/// answering the requests in flight before returning.
fn serve_http(listener: std::net::TcpListener, app: Router, banner: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the server runtime")?;
    eprintln!("{banner}");
    runtime
        .block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
        })
        .context("serving HTTP")
}

/// What the middleware of every request needs, whichever backend answers: who may call from
/// another origin, and whether to log.
trait Manners: Send + Sync + 'static {
    fn cors(&self) -> Option<&HeaderValue>;
    fn access_log(&self) -> bool;
}

impl Manners for AppState {
    fn cors(&self) -> Option<&HeaderValue> {
        self.cors.as_ref()
    }

    fn access_log(&self) -> bool {
        self.access_log
    }
}

/// The routes: the page and its assets, the API, and JSON errors for everything else.
fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/search", get(api::search_get).post(api::search_post))
        .route("/passages/{*id}", get(api::passage))
        .route("/sections", get(api::sections))
        .route("/labels", get(api::labels))
        .route("/health", get(api::health))
        .route("/reindex", post(api::reindex))
        .fallback(api::not_found);
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::asset))
        .nest("/api", api)
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            around::<AppState>,
        ))
        .with_state(state)
}

/// Around every request: the origin check and CORS headers, the timeout, JSON bodies for
/// errors the router makes itself (405), and the access log line.
async fn around<S: Manners>(State(state): State<Arc<S>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let origin = request.headers().get(header::ORIGIN).cloned();
    let allowed = origin.as_ref().is_some_and(|o| state.cors() == Some(o));
    let mut response = if method == Method::OPTIONS && allowed {
        preflight()
    } else if method == Method::POST && origin.is_some() && !allowed && !same_origin(&request) {
        // A page elsewhere must not make the server reindex (or search) on a visitor's behalf.
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "requests from other sites are refused (see --cors)",
        )
        .into_response()
    } else {
        match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
            Ok(response) => json_error_body(response),
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
            )
            .into_response(),
        }
    };
    if let (true, Some(origin)) = (allowed, origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    if state.access_log() {
        eprintln!(
            "{method} {path} {} {:.1}ms",
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    response
}

/// The answer to a CORS preflight from the allowed origin.
fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

/// Whether a request's `Origin` names the host it was sent to (the page calling its server).
fn same_origin(request: &Request) -> bool {
    let headers = request.headers();
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority == host)
}

/// Gives an error the router made itself (405 with an empty body) the API's JSON form.
fn json_error_body(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut error = ApiError::new(status, code, message).into_response();
    if let Some(allow) = allow {
        error.headers_mut().insert(header::ALLOW, allow);
    }
    error
}

/// Runs a step that reads the index on the blocking pool, at most [`AppState::searches`] at
/// once, and answers with its JSON.
async fn blocking(
    state: &AppState,
    step: impl FnOnce() -> Result<Vec<u8>, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let _permit = state
        .searches
        .acquire()
        .await
        .map_err(|e| ApiError::internal(&e.into()))?;
    let body = tokio::task::spawn_blocking(step)
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!("search stopped: {e}")))??;
    Ok(api::ok_json(body))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    eprintln!("rsearch: stopping; answering the requests in flight");
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
