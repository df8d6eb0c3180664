//! `rsearch serve`: open the index fresh, as `query` does, then serve it over HTTP until
//! SIGINT or SIGTERM; with `--remote`, serve a remote collection instead.

use anyhow::Result;

use super::query::local_taxonomy;
use super::settings::ServeSettings;
use super::{open_index, Outcome};
use crate::embed::QueryEmbedder;
use crate::index::{BuildSettings, CorpusChoice, Freshness, IndexDir};
use crate::serve;

pub fn run(settings: &ServeSettings) -> Result<Outcome> {
    if let Some(remote) = &settings.remote {
        // Role and topic names resolve with the corpus's taxonomy, as `query --remote` does.
        let remote = serve::Remote {
            url: remote.url.clone(),
            client: remote.client.clone(),
            collection: remote.collection.clone(),
            taxonomy: local_taxonomy(&settings.index)?,
        };
        serve::run_remote(
            remote,
            settings.listen,
            settings.cors.as_deref(),
            settings.access_log,
        )?;
        return Ok(Outcome::Success);
    }
    let live = open_index(&settings.index)?;
    // The server keeps the index in sync with the corpus it was just checked against, unless
    // told to serve it as it is.
    let corpus = match (&settings.index.freshness, &settings.index.corpus) {
        (Freshness::AsIs, _) => None,
        (Freshness::Refresh, CorpusChoice::Given(path)) => Some(path.clone()),
        (Freshness::Refresh, CorpusChoice::AsBuilt { .. }) => Some(live.stamp.corpus.clone()),
    };
    // Searches by meaning embed each query with the model loaded here, once.
    let embedder = match (&live.vectors, settings.index.vectors.model.as_deref()) {
        (Some(_), Some(model)) => Some(QueryEmbedder::load(model)?),
        _ => None,
    };
    serve::run(
        live,
        serve::Settings {
            index: IndexDir::new(&settings.index.root)?,
            corpus,
            build: BuildSettings {
                memory: settings.index.memory,
                full: false,
                vectors: settings.index.vectors.clone(),
            },
            listen: settings.listen,
            cors: settings.cors.clone(),
            access_log: settings.access_log,
            embedder,
        },
    )?;
    Ok(Outcome::Success)
}
