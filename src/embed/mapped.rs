//! The query side of the embedding model: all-MiniLM-L6-v2 run on one text straight from the
//! memory-mapped weights file, so a query process reads only the pages the forward pass needs.
//!
//! A whole-process query cannot afford candle's loading, which copies all 87 MB of weights
//! (most of them the word-embedding table, of which a query uses a dozen rows) into fresh
//! memory: about 60 ms against a 6 ms lexical search. Here the weights stay in the file's
//! mapping and the matrix products are the `gemm` kernels candle itself runs; the word pieces
//! come from `vocab.txt` (`wordpiece.rs`) rather than from parsing `tokenizer.json`.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use candle_transformers::models::bert::{Config, HiddenAct};
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use tokenizers::Tokenizer;

use super::{DIMENSIONS, MAX_TOKENS};

/// all-MiniLM-L6-v2's shape (its `config.json`), checked against the weights when mapped.
const LAYERS: usize = 6;
const HEADS: usize = 12;
const INTERMEDIATE: usize = 1536;
const LAYER_NORM_EPS: f32 = 1e-12;

/// Refuses a configuration other than all-MiniLM-L6-v2's shape, which the forward pass is
/// written for.
pub(super) fn check(config: &Config) -> Result<()> {
    let shape = (
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.intermediate_size,
    );
    if shape != (DIMENSIONS, LAYERS, HEADS, INTERMEDIATE) || config.hidden_act != HiddenAct::Gelu {
        bail!(
            "its shape (width {}, {} layers, {} heads, inner width {}, {:?}) is not all-MiniLM-L6-v2's",
            shape.0,
            shape.1,
            shape.2,
            shape.3,
            config.hidden_act
        );
    }
    Ok(())
}

/// The model's weights, mapped read-only: each tensor is a slice of the mapping.
pub(super) struct MappedModel {
    map: Mmap,
    /// Tensor name → (byte range in the mapping, shape).
    tensors: HashMap<String, (std::ops::Range<usize>, Vec<usize>)>,
    vocab_size: usize,
    positions: usize,
}

impl MappedModel {
    /// Maps `model.safetensors` and reads its header; the tensors the forward pass uses must be
    /// there, in f32, with the model's shapes.
    pub(super) fn open(path: &Path) -> Result<MappedModel> {
        if cfg!(target_endian = "big") {
            bail!("the mapped model needs a little-endian machine");
        }
        let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
        // SAFETY: the mapping is read-only and rsearch never writes the weights file; a model
        // folder rewritten under a running process is outside what any reader can guard against.
        let map = unsafe { Mmap::map(&file) }.with_context(|| format!("mapping {}", path.display()))?;
        let tensors = {
            let parsed = SafeTensors::deserialize(&map)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            let base = map.as_ptr() as usize;
            parsed
                .tensors()
                .into_iter()
                .filter(|(_, view)| view.dtype() == Dtype::F32)
                .map(|(name, view)| {
                    let start = view.data().as_ptr() as usize - base;
                    (name, (start..start + view.data().len(), view.shape().to_vec()))
                })
                .collect()
        };
        let mut model = MappedModel {
            map,
            tensors,
            vocab_size: 0,
            positions: 0,
        };
        model.vocab_size = model.shape("embeddings.word_embeddings.weight")?[0];
        model.positions = model.shape("embeddings.position_embeddings.weight")?[0];
        model.tensor(
            "embeddings.word_embeddings.weight",
            &[model.vocab_size, DIMENSIONS],
        )?;
        model.tensor(
            "embeddings.position_embeddings.weight",
            &[model.positions, DIMENSIONS],
        )?;
        for layer in 0..LAYERS {
            Layer::of(&model, layer)?;
        }
        Ok(model)
    }

    fn shape(&self, name: &str) -> Result<&[usize]> {
        match self.tensors.get(name) {
            Some((_, shape)) if shape.len() == 2 => Ok(shape),
            Some(_) => bail!("weights tensor {name} is not a matrix"),
            None => bail!("the weights have no f32 tensor {name}"),
        }
    }

    /// The tensor `name` as numbers, checked to have `shape`.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let Some((range, actual)) = self.tensors.get(name) else {
            bail!("the weights have no f32 tensor {name}");
        };
        if actual != shape {
            bail!("weights tensor {name} has shape {actual:?}, expected {shape:?}");
        }
        bytemuck::try_cast_slice(&self.map[range.clone()])
            .map_err(|e| anyhow::anyhow!("weights tensor {name} is not aligned: {e}"))
    }

    /// The unit-length sentence vector of one tokenized text (`[CLS] … [SEP]`): the model's
    /// token vectors, averaged and normalised as [`super::Embedder::embed`] does.
    pub(super) fn embed_ids(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let n = ids.len().min(self.positions);
        if n == 0 {
            return Ok(vec![0.0; DIMENSIONS]);
        }
        let words = self.tensor(
            "embeddings.word_embeddings.weight",
            &[self.vocab_size, DIMENSIONS],
        )?;
        let positions = self.tensor(
            "embeddings.position_embeddings.weight",
            &[self.positions, DIMENSIONS],
        )?;
        let types = self.tensor("embeddings.token_type_embeddings.weight", &[2, DIMENSIONS])?;
        let mut x = vec![0.0f32; n * DIMENSIONS];
        for (t, &id) in ids[..n].iter().enumerate() {
            let id = id as usize;
            if id >= self.vocab_size {
                bail!("token id {id} outside the model's vocabulary");
            }
            let row = &mut x[t * DIMENSIONS..(t + 1) * DIMENSIONS];
            let word = &words[id * DIMENSIONS..(id + 1) * DIMENSIONS];
            let position = &positions[t * DIMENSIONS..(t + 1) * DIMENSIONS];
            for (i, value) in row.iter_mut().enumerate() {
                *value = word[i] + position[i] + types[i];
            }
        }
        let norm = Norm::of(self, "embeddings.LayerNorm")?;
        norm.apply(&mut x);
        for layer in 0..LAYERS {
            Layer::of(self, layer)?.forward(&mut x, n);
        }
        let mut mean = vec![0.0f32; DIMENSIONS];
        for row in x.chunks_exact(DIMENSIONS) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        let length = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        // The mean's 1/n cancels in the normalisation.
        Ok(mean.into_iter().map(|v| v / length).collect())
    }
}

/// A dense layer `y = x Wᵀ + b`, its weight stored output-major as PyTorch writes it.
struct Linear<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    inputs: usize,
    outputs: usize,
}

impl<'a> Linear<'a> {
    fn of(model: &'a MappedModel, name: &str, inputs: usize, outputs: usize) -> Result<Linear<'a>> {
        Ok(Linear {
            weight: model.tensor(&format!("{name}.weight"), &[outputs, inputs])?,
            bias: bias(model, &format!("{name}.bias"), outputs)?,
            inputs,
            outputs,
        })
    }

    /// `rows` input rows of `x` → `rows` output rows.
    fn apply(&self, x: &[f32], rows: usize) -> Vec<f32> {
        assert_eq!(x.len(), rows * self.inputs, "linear input size");
        if rows <= DIRECT_ROWS {
            return self.apply_direct(x, rows);
        }
        let mut y: Vec<f32> = self.bias.repeat(rows);
        // SAFETY: `y` is rows × outputs (row-major), `x` rows × inputs (row-major, checked
        // above), and the weight outputs × inputs, read as its transpose inputs × outputs
        // (column stride `inputs`, row stride 1); every index gemm forms stays inside them.
        unsafe {
            gemm::gemm(
                rows,
                self.outputs,
                self.inputs,
                y.as_mut_ptr(),
                1,
                self.outputs as isize,
                true,
                x.as_ptr(),
                1,
                self.inputs as isize,
                self.weight.as_ptr(),
                self.inputs as isize,
                1,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        y
    }
}

impl Linear<'_> {
    /// The same product as dot products of each weight row with each input row: for a short
    /// query, gemm's packing of the whole weight matrix costs more than the product itself.
    /// Each weight row is read once, from the mapping, for all the tokens.
    fn apply_direct(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut y = vec![0.0f32; rows * self.outputs];
        #[cfg(target_arch = "x86_64")]
        if self.inputs % 8 == 0
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the processor was just checked to have AVX2 and FMA; the sizes the
            // kernel relies on are checked on entry.
            unsafe { linear_avx2(x, rows, self.inputs, self.weight, self.bias, &mut y) };
            return y;
        }
        for (j, (w, b)) in self.weight.chunks_exact(self.inputs).zip(self.bias).enumerate() {
            for (t, input) in x.chunks_exact(self.inputs).enumerate() {
                y[t * self.outputs + j] = b + dot_lanes(input, w);
            }
        }
        y
    }
}

/// `y = x Wᵀ + b` for `rows` tokens with AVX2 and FMA: each weight row is loaded once and
/// multiplied into four tokens at a time, so four independent sums hide the latency of the
/// fused multiply-adds (one running sum would wait on the previous one at every step).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn linear_avx2(x: &[f32], rows: usize, inputs: usize, weight: &[f32], bias: &[f32], y: &mut [f32]) {
    use std::arch::x86_64::*;
    let outputs = bias.len();
    assert!(inputs % 8 == 0, "inputs a multiple of 8");
    assert!(x.len() >= rows * inputs && weight.len() >= outputs * inputs && y.len() >= rows * outputs);
    #[target_feature(enable = "avx2,fma")]
    fn sum(v: __m256) -> f32 {
        let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1)))
    }
    let xp = x.as_ptr();
    for (j, &b) in bias.iter().enumerate() {
        let w = weight.as_ptr().add(j * inputs);
        let mut t = 0;
        while t + 4 <= rows {
            let (x0, x1) = (xp.add(t * inputs), xp.add((t + 1) * inputs));
            let (x2, x3) = (xp.add((t + 2) * inputs), xp.add((t + 3) * inputs));
            let (mut a0, mut a1, mut a2, mut a3) = (
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
            );
            let mut i = 0;
            while i < inputs {
                let wv = _mm256_loadu_ps(w.add(i));
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i)), wv, a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x1.add(i)), wv, a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x2.add(i)), wv, a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x3.add(i)), wv, a3);
                i += 8;
            }
            y[t * outputs + j] = b + sum(a0);
            y[(t + 1) * outputs + j] = b + sum(a1);
            y[(t + 2) * outputs + j] = b + sum(a2);
            y[(t + 3) * outputs + j] = b + sum(a3);
            t += 4;
        }
        // The last tokens one at a time, the row split over four sums.
        while t < rows {
            let x0 = xp.add(t * inputs);
            let (mut a0, mut a1, mut a2, mut a3) = (
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
            );
            let mut i = 0;
            while i + 32 <= inputs {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i)), _mm256_loadu_ps(w.add(i)), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i + 8)), _mm256_loadu_ps(w.add(i + 8)), a1);
                a2 = _mm256_fmadd_ps(
                    _mm256_loadu_ps(x0.add(i + 16)),
                    _mm256_loadu_ps(w.add(i + 16)),
                    a2,
                );
                a3 = _mm256_fmadd_ps(
                    _mm256_loadu_ps(x0.add(i + 24)),
                    _mm256_loadu_ps(w.add(i + 24)),
                    a3,
                );
                i += 32;
            }
            while i < inputs {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i)), _mm256_loadu_ps(w.add(i)), a0);
                i += 8;
            }
            let all = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
            y[t * outputs + j] = b + sum(all);
            t += 1;
        }
    }
}

/// Up to this many tokens, a dense layer is computed as dot products rather than by gemm.
const DIRECT_ROWS: usize = 32;

/// A dot product over eight lanes, so the compiler can use vector registers.
#[inline(always)]
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn bias<'a>(model: &'a MappedModel, name: &str, size: usize) -> Result<&'a [f32]> {
    let Some((range, shape)) = model.tensors.get(name) else {
        bail!("the weights have no f32 tensor {name}");
    };
    if shape != &[size] {
        bail!("weights tensor {name} has shape {shape:?}, expected [{size}]");
    }
    bytemuck::try_cast_slice(&model.map[range.clone()])
        .map_err(|e| anyhow::anyhow!("weights tensor {name} is not aligned: {e}"))
}

/// Layer normalisation over each row of [`DIMENSIONS`] numbers.
struct Norm<'a> {
    gain: &'a [f32],
    bias: &'a [f32],
}

impl<'a> Norm<'a> {
    fn of(model: &'a MappedModel, name: &str) -> Result<Norm<'a>> {
        Ok(Norm {
            gain: bias(model, &format!("{name}.weight"), DIMENSIONS)?,
            bias: bias(model, &format!("{name}.bias"), DIMENSIONS)?,
        })
    }

    fn apply(&self, x: &mut [f32]) {
        for row in x.chunks_exact_mut(DIMENSIONS) {
            let mean = row.iter().sum::<f32>() / DIMENSIONS as f32;
            let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / DIMENSIONS as f32;
            let scale = 1.0 / (variance + LAYER_NORM_EPS).sqrt();
            for ((v, g), b) in row.iter_mut().zip(self.gain).zip(self.bias) {
                *v = (*v - mean) * scale * g + b;
            }
        }
    }
}

/// One transformer layer: self-attention then the feed-forward block, each followed by a
/// residual sum and a layer normalisation (BERT's post-norm order).
struct Layer<'a> {
    query: Linear<'a>,
    key: Linear<'a>,
    value: Linear<'a>,
    attention_out: Linear<'a>,
    attention_norm: Norm<'a>,
    intermediate: Linear<'a>,
    output: Linear<'a>,
    output_norm: Norm<'a>,
}

impl<'a> Layer<'a> {
    fn of(model: &'a MappedModel, layer: usize) -> Result<Layer<'a>> {
        let name = |part: &str| format!("encoder.layer.{layer}.{part}");
        let square = |part: &str| Linear::of(model, &name(part), DIMENSIONS, DIMENSIONS);
        Ok(Layer {
            query: square("attention.self.query")?,
            key: square("attention.self.key")?,
            value: square("attention.self.value")?,
            attention_out: square("attention.output.dense")?,
            attention_norm: Norm::of(model, &name("attention.output.LayerNorm"))?,
            intermediate: Linear::of(model, &name("intermediate.dense"), DIMENSIONS, INTERMEDIATE)?,
            output: Linear::of(model, &name("output.dense"), INTERMEDIATE, DIMENSIONS)?,
            output_norm: Norm::of(model, &name("output.LayerNorm"))?,
        })
    }

    fn forward(&self, x: &mut [f32], n: usize) {
        let q = self.query.apply(x, n);
        let k = self.key.apply(x, n);
        let v = self.value.apply(x, n);
        let context = attention(&q, &k, &v, n);
        let mut attended = self.attention_out.apply(&context, n);
        for (a, r) in attended.iter_mut().zip(x.iter()) {
            *a += r;
        }
        self.attention_norm.apply(&mut attended);
        let mut inner = self.intermediate.apply(&attended, n);
        for value in &mut inner {
            *value = gelu(*value);
        }
        let mut out = self.output.apply(&inner, n);
        for (o, r) in out.iter_mut().zip(&attended) {
            *o += r;
        }
        self.output_norm.apply(&mut out);
        x.copy_from_slice(&out);
    }
}

/// Scaled dot-product attention of every token to every token, head by head (no padding: the
/// text is alone, so no position is masked).
fn attention(q: &[f32], k: &[f32], v: &[f32], n: usize) -> Vec<f32> {
    let width = DIMENSIONS / HEADS;
    let scale = 1.0 / (width as f32).sqrt();
    let mut context = vec![0.0f32; n * DIMENSIONS];
    let mut weights = vec![0.0f32; n];
    for head in 0..HEADS {
        // Token t's numbers for this head.
        let part = |t: usize| t * DIMENSIONS + head * width..t * DIMENSIONS + (head + 1) * width;
        for i in 0..n {
            let qi = &q[part(i)];
            for (j, w) in weights.iter_mut().enumerate() {
                *w = qi.iter().zip(&k[part(j)]).map(|(a, b)| a * b).sum::<f32>() * scale;
            }
            let top = weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut total = 0.0;
            for w in &mut weights {
                *w = (*w - top).exp();
                total += *w;
            }
            let out = part(i);
            for (j, w) in weights.iter().enumerate() {
                let vj = &v[part(j)];
                for (c, x) in context[out.clone()].iter_mut().zip(vj) {
                    *c += w / total * x;
                }
            }
        }
    }
    context
}

/// GELU with the exact error function, as BERT's `gelu` activation (candle's `gelu_erf`).
fn gelu(x: f32) -> f32 {
    (candle_core::cpu::erf::erf_f32(x * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * x
}

/// The model's own tokenizer from `tokenizer.json`, for a model folder without `vocab.txt`.
pub(super) fn full_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let json = dir.join("tokenizer.json");
    let mut tokenizer =
        Tokenizer::from_file(&json).map_err(|e| anyhow::anyhow!("reading {}: {e}", json.display()))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: MAX_TOKENS,
            ..Default::default()
        }))
        .map_err(|e| anyhow::anyhow!("setting up the tokenizer: {e}"))?;
    Ok(tokenizer)
}
