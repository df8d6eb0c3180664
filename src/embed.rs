//! Meaning: turns passages and queries into sentence vectors with all-MiniLM-L6-v2, run in
//! process with candle, so that a passage saying the same thing in other words is found.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::Tokenizer;

mod activation;
mod int8;
mod mapped;
mod quantized;
mod wordpiece;

/// Length of a sentence vector.
pub const DIMENSIONS: usize = 384;
/// Environment variable naming the model folder when `--model` is not given.
pub const MODEL_ENV: &str = "RSEARCH_MODEL";
/// Where `scripts/fetch-model.sh` puts the model, relative to the working folder.
pub const DEFAULT_MODEL_DIR: &str = "models/all-MiniLM-L6-v2";
/// How to get the model, said whenever it is needed and missing.
pub const HOW_TO_GET: &str =
    "run scripts/fetch-model.sh (or point --model or RSEARCH_MODEL at an all-MiniLM-L6-v2 folder)";
/// The model was trained on inputs of at most 256 word pieces (sentence-transformers'
/// `max_seq_length`); longer passages are cut, as they were in training.
const MAX_TOKENS: usize = 256;
/// Passages embedded in one forward pass: enough to keep matrix products efficient, few enough
/// that padding to the longest stays cheap (batches are formed from passages of similar length).
const BATCH: usize = 32;

/// The model folder to use: `--model`, else `RSEARCH_MODEL`, else `models/all-MiniLM-L6-v2`
/// under the working folder; `None` when the folder chosen lacks the model's files (an
/// explicit `--model` that lacks them is an error, so a typo is not silently ignored).
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>> {
    if let Some(dir) = explicit {
        if !is_model_dir(dir) {
            bail!(
                "--model {} holds no model (config.json, tokenizer.json, model.safetensors)",
                dir.display()
            );
        }
        return Ok(Some(dir.to_path_buf()));
    }
    let from_env = std::env::var_os(MODEL_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let dir = from_env.unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_DIR));
    Ok(is_model_dir(&dir).then_some(dir))
}

/// Names a model folder's weights without loading them (folder name and weights size), as
/// [`Embedder::fingerprint`] does: vectors of another model cannot be compared.
pub fn fingerprint(dir: &Path) -> Result<String> {
    let weights = dir.join("model.safetensors");
    let size = std::fs::metadata(&weights)
        .with_context(|| format!("reading {}", weights.display()))?
        .len();
    Ok(format!("{}/{size}", folder_name(dir)))
}

fn folder_name(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_model_dir(dir: &Path) -> bool {
    ["config.json", "tokenizer.json", "model.safetensors"]
        .iter()
        .all(|f| dir.join(f).is_file())
}

/// A loaded sentence-embedding model: BERT weights and their word-piece tokenizer.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    /// Names the weights (file size and model folder name): vectors made by another model
    /// cannot be compared with this one's.
    pub fingerprint: String,
}

impl Embedder {
    /// Loads the model folder (`config.json`, `tokenizer.json`, `model.safetensors`). The
    /// tokenizer's own padding is turned off: every text is padded only to the longest of its
    /// batch, and pooling ignores the padding.
    pub fn load(dir: &Path) -> Result<Embedder> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let config: Config = serde_json::from_str(&read("config.json")?)
            .with_context(|| format!("reading {}", dir.join("config.json").display()))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.join("tokenizer.json").display()))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| anyhow::anyhow!("setting up the tokenizer: {e}"))?;
        let weights = dir.join("model.safetensors");
        let fingerprint = fingerprint(dir)?;
        let device = Device::Cpu;
        // SAFETY: the weights file is mapped read-only; rsearch never writes it, and a model
        // folder changed under a running process is outside what any reader can guard against.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DTYPE, &device) }
            .with_context(|| format!("reading {}", weights.display()))?;
        let model = BertModel::load(vb, &config).with_context(|| format!("loading {}", weights.display()))?;
        if config.hidden_size != DIMENSIONS {
            bail!(
                "model in {} makes vectors of {} numbers, rsearch expects {DIMENSIONS}",
                dir.display(),
                config.hidden_size
            );
        }
        Ok(Embedder {
            model,
            tokenizer,
            device,
            fingerprint,
        })
    }

    /// One unit-length vector per text, in order: the mean of the model's token vectors over
    /// the text's real tokens (padding excluded), L2-normalised, so a dot product is a cosine.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        // Batches of similar lengths waste little on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let longest = chunk
                .iter()
                .map(|&i| encodings[i].get_ids().len())
                .max()
                .unwrap_or(0)
                .max(1);
            let mut ids = Vec::with_capacity(chunk.len() * longest);
            let mut mask = Vec::with_capacity(chunk.len() * longest);
            for &i in chunk {
                let these = encodings[i].get_ids();
                ids.extend_from_slice(these);
                mask.extend(std::iter::repeat_n(1u32, these.len()));
                ids.extend(std::iter::repeat_n(0u32, longest - these.len()));
                mask.extend(std::iter::repeat_n(0u32, longest - these.len()));
            }
            let pooled = self.forward(ids, mask, chunk.len(), longest)?;
            for (row, &i) in pooled.into_iter().zip(chunk) {
                vectors[i] = row;
            }
        }
        Ok(vectors)
    }

    fn forward(&self, ids: Vec<u32>, mask: Vec<u32>, rows: usize, columns: usize) -> Result<Vec<Vec<f32>>> {
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (rows, columns), &self.device)?;
            let mask = Tensor::from_vec(mask, (rows, columns), &self.device)?;
            let types = ids.zeros_like()?;
            let tokens = self.model.forward(&ids, &types, Some(&mask))?;
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = tokens.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norms)?.to_vec2::<f32>()
        };
        run().context("running the embedding model")
    }
}

/// Makes what a query reads beside the model, each unless an up-to-date, intact one is there:
/// the layers' weights in 8 bits (`rsearch-layers-i8.bin`, 11 MB, a quarter of the f32 bytes,
/// which a query uses), in half precision (`rsearch-layers-f16.bin`, 21 MB, used when the
/// 8-bit copy is missing or damaged) and the word pieces' hash table (`rsearch-vocab.bin`).
/// Returns whether all are there: a model folder rsearch cannot write keeps serving queries
/// from the f32 weights and `vocab.txt` alone, with the same word pieces.
pub fn prepare_query_weights(dir: &Path) -> Result<bool> {
    let weights = mapped::write_copies(dir)?;
    let vocab = dir.join("vocab.txt");
    let table = !vocab.is_file() || wordpiece::Vocab::write_table(&vocab)?;
    Ok(weights && table)
}

/// Whether the word pieces' table beside the model's `vocab.txt` is current and intact, so a
/// query reads it rather than building it.
pub fn has_vocab_table(dir: &Path) -> bool {
    wordpiece::Vocab::has_table(&dir.join("vocab.txt"))
}

/// A query's sentence vector, with the fingerprint of the model that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryVector {
    pub fingerprint: String,
    pub vector: Vec<f32>,
}

/// The model as a query needs it: one text at a time, from the memory-mapped weights, ready
/// in a few milliseconds where [`Embedder::load`] takes tens. Its vectors are the
/// [`Embedder`]'s (same model, same pooling) to within float rounding.
pub struct QueryEmbedder {
    model: mapped::MappedModel,
    tokenizer: QueryTokenizer,
    /// Names the weights, as [`Embedder::fingerprint`].
    pub fingerprint: String,
}

impl std::fmt::Debug for QueryEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEmbedder")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl QueryEmbedder {
    /// Maps the model folder's weights (the layers' from their half-precision copy when
    /// [`prepare_query_weights`] made one) and reads its word pieces (`vocab.txt`, else the
    /// tokenizer of `tokenizer.json`).
    pub fn load(dir: &Path) -> Result<QueryEmbedder> {
        QueryEmbedder::load_with(dir, true, true)
    }

    /// As [`QueryEmbedder::load`], without the 8-bit copy: the half copy (when there) or the
    /// f32 weights serve.
    pub fn load_half_precision(dir: &Path) -> Result<QueryEmbedder> {
        QueryEmbedder::load_with(dir, true, false)
    }

    /// As [`QueryEmbedder::load`], on the f32 weights alone: what the half and 8-bit copies
    /// are checked against.
    pub fn load_full_precision(dir: &Path) -> Result<QueryEmbedder> {
        QueryEmbedder::load_with(dir, false, false)
    }

    /// Whether the layers' weights come from the half-precision copy (when the 8-bit copy
    /// does not serve).
    pub fn uses_half_copy(&self) -> bool {
        self.model.has_half() && !self.model.has_quant()
    }

    /// Whether the layers' weights come from the 8-bit copy (it is there, current, and none of
    /// its parts has failed its check so far).
    pub fn uses_quantized_copy(&self) -> bool {
        self.model.has_quant()
    }

    /// Whether the 8-bit copy serves and a record beside it said an earlier process had
    /// checked this very file whole, so its checksums were skipped (a copy written since has
    /// another change time, and is checked again).
    pub fn uses_copy_checked_before(&self) -> bool {
        self.model.quant_was_recorded()
    }

    fn load_with(dir: &Path, half: bool, quant: bool) -> Result<QueryEmbedder> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let config: Config =
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        mapped::check(&config).with_context(|| format!("model in {}", dir.display()))?;
        let weights = dir.join("model.safetensors");
        let mut model = mapped::MappedModel::open(&weights)?;
        if !half {
            model.drop_half();
        }
        if !quant {
            model.drop_quant();
        }
        Ok(QueryEmbedder {
            model,
            tokenizer: match dir.join("vocab.txt") {
                vocab if vocab.is_file() => QueryTokenizer::Vocab(wordpiece::Vocab::read(&vocab)?),
                _ => QueryTokenizer::Full(Box::new(mapped::full_tokenizer(dir)?)),
            },
            fingerprint: fingerprint(dir)?,
        })
    }

    /// The unit-length vector of one text (cut at 256 word pieces, as passages are).
    pub fn embed(&self, text: &str) -> Result<QueryVector> {
        let ids = self.token_ids(text)?;
        Ok(QueryVector {
            fingerprint: self.fingerprint.clone(),
            vector: self.model.embed_ids(&ids)?,
        })
    }

    /// The word-piece ids of one text, `[CLS]` and `[SEP]` included: those `tokenizer.json`
    /// gives, as the tests check.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        Ok(match &self.tokenizer {
            QueryTokenizer::Vocab(vocab) => vocab.encode(text, MAX_TOKENS)?,
            QueryTokenizer::Full(tokenizer) => tokenizer
                .encode(text, true)
                .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?
                .get_ids()
                .to_vec(),
        })
    }
}

/// Word pieces from `vocab.txt` (quick to read), else the full tokenizer of `tokenizer.json`.
enum QueryTokenizer {
    Vocab(wordpiece::Vocab),
    Full(Box<Tokenizer>),
}

/// Cosine of two unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The texts a passage is embedded as: the whole passage, then each of its sentences when it
/// has several. A short query is closer to the one sentence that says it than to a whole
/// paragraph, and the closest sentence is the snippet of a passage found by meaning.
pub fn passage_units(text: &str) -> Vec<&str> {
    let mut units = vec![text];
    let parts = sentences(text);
    if parts.len() > 1 {
        units.extend(parts);
    }
    units
}

/// The sentences of a text (Unicode sentence rules), trimmed, empty ones left out.
pub fn sentences(text: &str) -> Vec<&str> {
    use unicode_segmentation::UnicodeSegmentation;
    text.split_sentence_bounds()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_of_unit_vectors_is_their_dot_product() {
        assert_eq!(similarity(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert!((similarity(&[0.6, 0.8], &[0.6, 0.8]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_passage_is_embedded_whole_and_sentence_by_sentence() {
        assert_eq!(passage_units("One. Two."), ["One. Two.", "One.", "Two."]);
        assert_eq!(passage_units("Only one."), ["Only one."]);
    }

    #[test]
    fn explicit_model_folder_without_the_model_is_an_error() {
        let empty = std::env::temp_dir();
        assert!(locate(Some(&empty)).is_err());
    }
}
