//! Typesense client: the few HTTP calls rsearch makes (collection create, batch import, digest
//! export, delete, search), over every node of a cluster with retries and one-line errors.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::thread::sleep;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use serde::Deserialize;
use serde_json::Value;

/// The collection schema of `deploy/typesense/schema.json`; `push` creates collections from it,
/// so the file in the repository and what rsearch creates cannot differ.
pub const SCHEMA: &str = include_str!("../../deploy/typesense/schema.json");
/// Rounds over all nodes before a request gives up; the pause before round `n` is
/// `RETRY_PAUSE × 4^(n-1)` (0.2 s, 0.8 s, 3.2 s: long enough for a cluster to elect a leader).
const ROUNDS: u32 = 4;
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Time allowed for one request, a large import included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Ids a single `DELETE … filter_by=id:[…]` names: keeps its URL well under server limits.
const DELETE_BATCH: usize = 100;
/// Hits Typesense returns at most per page.
pub const MAX_PER_PAGE: usize = 250;

/// A Typesense cluster (or single node), reached over plain HTTP with an admin API key.
/// Cloning shares the connection pool.
#[derive(Clone)]
pub struct Client {
    /// `host:port` of every node, tried in order; a node that fails is skipped for the rest of
    /// the call.
    nodes: Vec<String>,
    api_key: String,
    agent: ureq::Agent,
}

/// A reply the server sent: status and body.
struct Reply {
    status: u16,
    body: String,
}

/// What a request sends.
enum Body<'a> {
    None,
    Bytes(&'a [u8]),
}

impl Client {
    /// A client for `nodes` (`host:port`, at least one).
    pub fn new(nodes: Vec<String>, api_key: String) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .build();
        Client {
            nodes,
            api_key,
            agent: config.into(),
        }
    }

    /// The nodes as given, for messages.
    pub fn describe(&self) -> String {
        self.nodes.join(",")
    }

    /// Whether the collection exists.
    pub fn has_collection(&self, name: &str) -> Result<bool> {
        let reply = self.send("GET", &format!("/collections/{}", encode(name)), &[], Body::None)?;
        match reply.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.refused(&reply, &format!("reading collection {name}"))),
        }
    }

    /// Creates the collection from the schema of `deploy/typesense/schema.json`.
    pub fn create_collection(&self, name: &str) -> Result<()> {
        let mut schema: Value = serde_json::from_str(SCHEMA).context("the built-in Typesense schema")?;
        schema["name"] = Value::String(name.to_string());
        let body = serde_json::to_vec(&schema)?;
        let reply = self.send("POST", "/collections", &[], Body::Bytes(&body))?;
        match reply.status {
            200 | 201 => Ok(()),
            _ => Err(self.refused(&reply, &format!("creating collection {name}"))),
        }
    }

    /// Upserts documents given as JSON lines; fails, naming the first refused document, when
    /// the server rejects any of them.
    pub fn import(&self, collection: &str, jsonl: &[u8]) -> Result<usize> {
        let path = format!("/collections/{}/documents/import", encode(collection));
        let reply = self.send("POST", &path, &[("action", "upsert")], Body::Bytes(jsonl))?;
        if reply.status != 200 {
            return Err(self.refused(&reply, &format!("importing into {collection}")));
        }
        let mut imported = 0;
        for line in reply.body.lines().filter(|l| !l.trim().is_empty()) {
            let outcome: ImportLine = serde_json::from_str(line)
                .with_context(|| format!("typesense answered an import with {line:?}"))?;
            if !outcome.success {
                let id = outcome
                    .document
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<Value>(d).ok())
                    .and_then(|d| d["id"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "?".to_string());
                bail!(
                    "typesense at {} refused passage {id}: {}",
                    self.describe(),
                    outcome.error.unwrap_or_default()
                );
            }
            imported += 1;
        }
        Ok(imported)
    }

    /// Every document's id and digest (`""` when a document has none), read as a stream.
    pub fn digests(&self, collection: &str) -> Result<HashMap<String, String>> {
        let path = format!("/collections/{}/documents/export", encode(collection));
        let query = [("include_fields", "id,digest")];
        let mut last = None;
        for node in self.order() {
            let url = format!("http://{node}{path}");
            let mut request = self.agent.get(&url).header("X-TYPESENSE-API-KEY", &self.api_key);
            for (k, v) in query {
                request = request.query(k, v);
            }
            let mut response = match request.call() {
                Ok(r) => r,
                Err(e) => {
                    last = Some(anyhow!("cannot reach typesense at {node}: {e}"));
                    continue;
                }
            };
            let status = response.status().as_u16();
            if status != 200 {
                let body = response.body_mut().read_to_string().unwrap_or_default();
                let reply = Reply { status, body };
                if retryable(status) {
                    last = Some(self.refused(&reply, "exporting ids"));
                    continue;
                }
                return Err(self.refused(&reply, &format!("reading the ids of {collection}")));
            }
            let mut digests = HashMap::new();
            let reader = BufReader::new(response.body_mut().as_reader());
            for line in reader.lines() {
                let line = line.with_context(|| format!("reading the ids of {collection} from {node}"))?;
                if line.trim().is_empty() {
                    continue;
                }
                let entry: ExportLine =
                    serde_json::from_str(&line).with_context(|| format!("typesense exported {line:?}"))?;
                digests.insert(entry.id, entry.digest.unwrap_or_default());
            }
            return Ok(digests);
        }
        Err(last.unwrap_or_else(|| anyhow!("no typesense node given")))
    }

    /// Deletes documents by id, in batches.
    pub fn delete(&self, collection: &str, ids: &[String]) -> Result<usize> {
        let mut deleted = 0;
        // A backtick cannot be quoted inside a filter: such ids are deleted one by one.
        let (quotable, odd): (Vec<&String>, Vec<&String>) = ids.iter().partition(|id| !id.contains('`'));
        for batch in quotable.chunks(DELETE_BATCH) {
            let filter = format!(
                "id:[{}]",
                batch
                    .iter()
                    .map(|id| format!("`{id}`"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let path = format!("/collections/{}/documents", encode(collection));
            let reply = self.send("DELETE", &path, &[("filter_by", &filter)], Body::None)?;
            if reply.status != 200 {
                return Err(self.refused(&reply, &format!("deleting passages from {collection}")));
            }
            let answer: Value = serde_json::from_str(&reply.body).unwrap_or_default();
            deleted += answer["num_deleted"].as_u64().unwrap_or(0) as usize;
        }
        for id in odd {
            let path = format!("/collections/{}/documents/{}", encode(collection), encode(id));
            let reply = self.send("DELETE", &path, &[], Body::None)?;
            match reply.status {
                200 => deleted += 1,
                404 => {}
                _ => return Err(self.refused(&reply, &format!("deleting passage {id}"))),
            }
        }
        Ok(deleted)
    }

    /// Runs a search with the given parameters and returns the parsed answer.
    pub fn search(&self, collection: &str, params: &[(&str, &str)]) -> Result<Value> {
        let path = format!("/collections/{}/documents/search", encode(collection));
        let reply = self.send("GET", &path, params, Body::None)?;
        match reply.status {
            200 => serde_json::from_str(&reply.body).context("typesense answered the search with bad JSON"),
            404 => bail!(
                "typesense at {} has no collection {collection}; load it with `rsearch push`",
                self.describe()
            ),
            _ => Err(self.refused(&reply, "searching")),
        }
    }

    /// Nodes in the order to try them.
    fn order(&self) -> impl Iterator<Item = &String> {
        self.nodes.iter()
    }

    /// Sends a request to the first node that answers, going round all nodes up to `ROUNDS`
    /// times: a node that cannot be reached, is not ready (503) or is overloaded (429, 5xx) is
    /// passed over. Any other answer, an error status included, is returned to the caller.
    fn send(&self, method: &str, path: &str, query: &[(&str, &str)], body: Body) -> Result<Reply> {
        let mut last: Option<String> = None;
        for round in 0..ROUNDS {
            if round > 0 {
                sleep(RETRY_PAUSE * 4u32.pow(round - 1));
            }
            for node in self.order() {
                match self.send_once(node, method, path, query, &body) {
                    Ok(reply) if retryable(reply.status) => {
                        last = Some(format!(
                            "{node} answered {} {}",
                            reply.status,
                            message(&reply.body)
                        ));
                    }
                    Ok(reply) => return Ok(reply),
                    Err(e) => last = Some(format!("{node}: {e}")),
                }
            }
        }
        Err(anyhow!(
            "cannot reach typesense at {} after {ROUNDS} tries ({})",
            self.describe(),
            last.unwrap_or_default()
        ))
    }

    fn send_once(
        &self,
        node: &str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &Body,
    ) -> Result<Reply, ureq::Error> {
        let url = format!("http://{node}{path}");
        let key = self.api_key.as_str();
        let mut response = match (method, body) {
            ("POST", Body::Bytes(bytes)) => {
                let mut request = self.agent.post(&url).header("X-TYPESENSE-API-KEY", key);
                for (k, v) in query {
                    request = request.query(*k, *v);
                }
                request.send(*bytes)?
            }
            _ => {
                let mut request = match method {
                    "DELETE" => self.agent.delete(&url),
                    _ => self.agent.get(&url),
                }
                .header("X-TYPESENSE-API-KEY", key);
                for (k, v) in query {
                    request = request.query(*k, *v);
                }
                request.call()?
            }
        };
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()?;
        Ok(Reply { status, body })
    }

    /// The error for an answer the server gave but rsearch cannot go on with.
    fn refused(&self, reply: &Reply, doing: &str) -> anyhow::Error {
        let hint = match reply.status {
            401 | 403 => " (check the API key)",
            _ => "",
        };
        anyhow!(
            "typesense at {} refused {doing}: {} {}{hint}",
            self.describe(),
            reply.status,
            message(&reply.body)
        )
    }
}

/// One line of an import's answer.
#[derive(Deserialize)]
struct ImportLine {
    success: bool,
    error: Option<String>,
    document: Option<String>,
}

/// One line of a digest export.
#[derive(Deserialize)]
struct ExportLine {
    id: String,
    digest: Option<String>,
}

/// Statuses that say "try another node or later": not ready or lagging, overloaded, gateway.
fn retryable(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// The server's `message`, or the body itself when it is not JSON.
fn message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().chars().take(200).collect())
}

/// Percent-encodes a path segment (collection names and ids may hold `/`, `:`, spaces).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode("a/b c.txt:2"), "a%2Fb%20c.txt%3A2");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn server_message_is_taken_from_json_or_the_raw_body() {
        assert_eq!(message(r#"{"message": "Not Found"}"#), "Not Found");
        assert_eq!(message("plain"), "plain");
    }

    #[test]
    fn only_unavailable_statuses_are_retried() {
        for status in [429, 500, 502, 503, 504] {
            assert!(retryable(status), "{status}");
        }
        for status in [200, 201, 400, 401, 404, 409, 422] {
            assert!(!retryable(status), "{status}");
        }
    }

    #[test]
    fn built_in_schema_is_valid_json_with_faceted_labels() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let fields = schema["fields"].as_array().unwrap();
        for label in ["roles", "topics"] {
            let field = fields.iter().find(|f| f["name"] == label).unwrap();
            assert_eq!(field["type"], "string[]");
            assert_eq!(field["facet"], true);
        }
    }
}
