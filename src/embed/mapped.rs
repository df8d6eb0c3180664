//! The query side of the embedding model: all-MiniLM-L6-v2 run on one text straight from the
//! memory-mapped weights file, so a query process reads only the pages the forward pass needs.
//!
//! A whole-process query cannot afford candle's loading, which copies all 87 MB of weights
//! (most of them the word-embedding table, of which a query uses a dozen rows) into fresh
//! memory: about 60 ms against a 6 ms lexical search. Here the weights stay in the file's
//! mapping and the matrix products are the `gemm` kernels candle itself runs (for a long
//! text) or fused multiply-adds over up to eight tokens at a time (a short one); the layers'
//! weight matrices are read from the 8-bit copy beside the model when a build made one
//! ([`QUANT_FILE`], `quantized.rs`), a quarter of the bytes to fault in, else from the
//! half-precision copy ([`HALF_FILE`]); the word pieces come from `vocab.txt` and its table
//! (`wordpiece.rs`) rather than from parsing `tokenizer.json`.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use candle_transformers::models::bert::{Config, HiddenAct};
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use tokenizers::Tokenizer;

use super::quantized::{self, Damaged, Quant, QuantMatrix, QUANT_FILE};
use super::{activation, int8};
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
    /// The layers' weight matrices in half precision ([`HALF_FILE`]), when that copy is there
    /// and made from these weights: half the bytes for a query to read.
    half: Option<Half>,
    /// The layers' weights in 8 bits with a scale a row, and their biases and norms
    /// ([`QUANT_FILE`]), when that copy is there and made from these weights: preferred to
    /// the half copy while none of its parts fails its check.
    quant: Option<Quant>,
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
        let tensors: HashMap<String, (std::ops::Range<usize>, Vec<usize>)> = {
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
            half: None,
            quant: None,
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
        let half_path = path.with_file_name(HALF_FILE);
        model.half = Half::open(&half_path, path, model.half_values())?;
        model.quant = Quant::open(
            &path.with_file_name(QUANT_FILE),
            source_stamp(path),
            &MappedModel::quant_layout(),
        )?;
        Ok(model)
    }

    pub(super) fn has_half(&self) -> bool {
        self.half.is_some()
    }

    /// Whether the 8-bit copy serves the layers (it is there, current, and no part of it has
    /// failed its check).
    pub(super) fn has_quant(&self) -> bool {
        self.quant().is_some()
    }

    /// Whether the 8-bit copy serves and was found checked whole by an earlier process.
    pub(super) fn quant_was_recorded(&self) -> bool {
        self.quant().is_some_and(Quant::was_recorded)
    }

    /// Forgets the half copy: the f32 weights serve (or the 8-bit copy, while there).
    pub(super) fn drop_half(&mut self) {
        self.half = None;
    }

    /// Forgets the 8-bit copy: the half or f32 weights serve.
    pub(super) fn drop_quant(&mut self) {
        self.quant = None;
    }

    fn quant(&self) -> Option<&Quant> {
        self.quant.as_ref().filter(|q| !q.is_damaged())
    }

    /// What the 8-bit copy holds: each layer's biases and layer-norm vectors and the
    /// embeddings' norm and token-type rows, then the matrices of [`MappedModel::half_order`].
    fn quant_layout() -> quantized::Layout {
        let mut vectors = vec![
            ("embeddings.LayerNorm.weight".to_string(), DIMENSIONS),
            ("embeddings.LayerNorm.bias".to_string(), DIMENSIONS),
            (
                "embeddings.token_type_embeddings.weight".to_string(),
                2 * DIMENSIONS,
            ),
        ];
        for layer in 0..LAYERS {
            let name = |part: &str| format!("encoder.layer.{layer}.{part}");
            for (part, size) in [
                ("attention.self.query.bias", DIMENSIONS),
                ("attention.self.key.bias", DIMENSIONS),
                ("attention.self.value.bias", DIMENSIONS),
                ("attention.output.dense.bias", DIMENSIONS),
                ("attention.output.LayerNorm.weight", DIMENSIONS),
                ("attention.output.LayerNorm.bias", DIMENSIONS),
                ("intermediate.dense.bias", INTERMEDIATE),
                ("output.dense.bias", DIMENSIONS),
                ("output.LayerNorm.weight", DIMENSIONS),
                ("output.LayerNorm.bias", DIMENSIONS),
            ] {
                vectors.push((name(part), size));
            }
        }
        quantized::Layout {
            vectors,
            matrices: MappedModel::half_order(),
        }
    }

    /// The layers' weight matrices in the order the half copy stores them, with their shapes.
    fn half_order() -> Vec<(String, usize, usize)> {
        let mut order = Vec::new();
        for layer in 0..LAYERS {
            let name = |part: &str| format!("encoder.layer.{layer}.{part}.weight");
            for part in [
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
            ] {
                order.push((name(part), DIMENSIONS, DIMENSIONS));
            }
            order.push((name("intermediate.dense"), INTERMEDIATE, DIMENSIONS));
            order.push((name("output.dense"), DIMENSIONS, INTERMEDIATE));
        }
        order
    }

    /// How many numbers the half copy holds.
    fn half_values(&self) -> usize {
        MappedModel::half_order()
            .iter()
            .map(|(_, rows, columns)| rows * columns)
            .sum()
    }

    /// Where the weight matrix `name` starts in the half copy.
    fn half_offset(name: &str) -> Option<usize> {
        let mut at = 0;
        for (other, rows, columns) in MappedModel::half_order() {
            if other == name {
                return Some(at);
            }
            at += rows * columns;
        }
        None
    }

    /// The weight matrix `name` (`outputs` × `inputs`): from the 8-bit copy when there is one,
    /// else from the half copy when there is one.
    fn weight(&self, name: &str, outputs: usize, inputs: usize) -> Result<Weights<'_>> {
        let full = self.tensor(name, &[outputs, inputs])?;
        if let Some(quant) = self.quant() {
            if let Some((part, matrix)) = quant.matrix(name, outputs, inputs) {
                return Ok(Weights::Quant(quant, part, matrix));
            }
        }
        Ok(match (&self.half, MappedModel::half_offset(name)) {
            (Some(half), Some(at)) => Weights::Half(&half.values()[at..at + outputs * inputs]),
            _ => Weights::Full(full),
        })
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
        let vector = match self.forward(ids) {
            // A part of the 8-bit copy failed its check before it was used: it is now marked
            // damaged, and the same text runs again on the half or f32 weights.
            Err(e) if e.is::<Damaged>() => self.forward(ids),
            other => other,
        }?;
        if let Some(quant) = self.quant() {
            quant.record_checked();
        }
        Ok(vector)
    }

    fn forward(&self, ids: &[u32]) -> Result<Vec<f32>> {
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
        let types = self.vector("embeddings.token_type_embeddings.weight", 2 * DIMENSIONS)?;
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
            Layer::of(self, layer)?.forward(&mut x, n)?;
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

/// The half-precision copy of the layers' weight matrices, made beside `model.safetensors` by
/// the first build that embeds passages ([`write_half_copy`]).
pub(super) const HALF_FILE: &str = "rsearch-layers-f16.bin";
/// First bytes of the half copy; the digits are its layout's version.
const HALF_MAGIC: &[u8; 8] = b"RSHALF01";
/// Magic, then the size and modification time (ns) of the weights file it was made from, then
/// the count of numbers: 32 bytes, so the numbers that follow are aligned.
const HALF_HEADER: usize = 32;

/// The half copy, mapped; used only when made from the weights file as it is now.
struct Half {
    map: Mmap,
}

impl Half {
    /// The copy at `path` if it is there, complete, and made from `source` as it is now (same
    /// size and modification time); `None` otherwise, and the f32 weights serve.
    fn open(path: &Path, source: &Path, values: usize) -> Result<Option<Half>> {
        let Ok(file) = File::open(path) else {
            return Ok(None);
        };
        let (Ok(copy), Some(stamp)) = (file.metadata(), source_stamp(source)) else {
            return Ok(None);
        };
        if copy.len() != (HALF_HEADER + 2 * values) as u64 {
            return Ok(None);
        }
        // SAFETY: mapped read-only; the copy is only ever replaced by renaming a new file over
        // it, which leaves this mapping on the old one.
        let map = unsafe { Mmap::map(&file) }.with_context(|| format!("mapping {}", path.display()))?;
        let header = half_header(stamp, values);
        if map[..HALF_HEADER] != header[..] {
            return Ok(None);
        }
        Ok(Some(Half { map }))
    }

    fn values(&self) -> &[u16] {
        bytemuck::cast_slice(&self.map[HALF_HEADER..])
    }
}

/// The size and modification time (ns since 1970) of the weights file.
fn source_stamp(source: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(source).ok()?;
    let time = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some((meta.len(), time.as_nanos() as u64))
}

fn half_header((size, time): (u64, u64), values: usize) -> [u8; HALF_HEADER] {
    let mut header = [0u8; HALF_HEADER];
    header[..8].copy_from_slice(HALF_MAGIC);
    header[8..16].copy_from_slice(&size.to_le_bytes());
    header[16..24].copy_from_slice(&time.to_le_bytes());
    header[24..32].copy_from_slice(&(values as u64).to_le_bytes());
    header
}

/// Writes the half-precision copy and the 8-bit copy of the layers' weights beside
/// `model.safetensors` in `dir`, each unless an up-to-date, intact one is there: through a
/// temporary file renamed over the old, so a query maps a whole copy or none. Returns whether
/// both copies are there afterwards.
pub(super) fn write_copies(dir: &Path) -> Result<bool> {
    let source = dir.join("model.safetensors");
    let model = MappedModel::open(&source)?;
    let Some(stamp) = source_stamp(&source) else {
        return Ok(false);
    };
    let half = model.half.is_some() || {
        let values = model.half_values();
        let mut bytes = Vec::with_capacity(HALF_HEADER + 2 * values);
        bytes.extend_from_slice(&half_header(stamp, values));
        for (name, rows, columns) in MappedModel::half_order() {
            for &v in model.tensor(&name, &[rows, columns])? {
                bytes.extend_from_slice(&half::f16::from_f32(v).to_bits().to_le_bytes());
            }
        }
        replace(dir, HALF_FILE, &bytes)
    };
    let intact = model.quant.as_ref().is_some_and(|quant| {
        let intact = MappedModel::half_order().iter().all(|(name, rows, columns)| {
            quant
                .matrix(name, *rows, *columns)
                .is_some_and(|(part, matrix)| quant.verify(part, matrix).is_ok())
        });
        quant.record_checked();
        intact
    });
    let quant = intact || {
        let full = MappedModel {
            half: None,
            quant: None,
            ..model
        };
        let bytes = quantized::encode(
            stamp,
            &MappedModel::quant_layout(),
            |name| {
                let size = MappedModel::quant_layout()
                    .vectors
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, size)| *size);
                full.vector(name, size)
            },
            |name| {
                let (_, rows, columns) = MappedModel::half_order()
                    .into_iter()
                    .find(|(n, _, _)| n == name)
                    .unwrap_or_default();
                full.tensor(name, &[rows, columns])
            },
        )?;
        replace(dir, QUANT_FILE, &bytes)
    };
    Ok(half && quant)
}

/// Writes `bytes` as `dir/name` through a temporary file renamed over it; whether it worked.
fn replace(dir: &Path, name: &str, bytes: &[u8]) -> bool {
    let path = dir.join(name);
    let temp = dir.join(format!("{name}.tmp-{}", std::process::id()));
    let written = std::fs::write(&temp, bytes).and_then(|_| std::fs::rename(&temp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.is_ok()
}

/// A weight matrix as stored: the model's f32 numbers, their half-precision copy, or their
/// 8-bit copy (with the copy and the matrix's part number, for its check).
#[derive(Clone, Copy)]
enum Weights<'a> {
    Full(&'a [f32]),
    Half(&'a [u16]),
    Quant(&'a Quant, usize, QuantMatrix<'a>),
}

impl Weights<'_> {
    /// The matrix in f32, for the paths that multiply f32 numbers (gemm, and processors
    /// without AVX2): borrowed, or widened once.
    fn widened(&self) -> std::borrow::Cow<'_, [f32]> {
        match *self {
            Weights::Full(weight) => std::borrow::Cow::Borrowed(weight),
            Weights::Half(half) => half.iter().map(|&h| half::f16::from_bits(h).to_f32()).collect(),
            Weights::Quant(_, _, m) => {
                let columns = m.values.len() / m.scales.len().max(1);
                m.values
                    .chunks(columns.max(1))
                    .zip(m.scales)
                    .flat_map(|(row, &s)| row.iter().map(move |&q| s * f32::from(q)))
                    .collect()
            }
        }
    }
}

/// The token rows a dense layer reads: their numbers, and the same rounded to 8 bits, made
/// once for the layers that share the input (query, key and value).
struct Input<'x> {
    x: &'x [f32],
    rows: usize,
    quantized: std::cell::OnceCell<int8::QuantRows>,
    wide: std::cell::OnceCell<int8::WideRows>,
}

/// How finely a dense layer's input tokens are rounded when its weights are in 8 bits.
#[derive(Clone, Copy)]
enum TokenBits {
    /// An input with no outlying numbers (the attention's output).
    Eight,
    /// A layer-normalised input, or the feed-forward block's inner numbers.
    Sixteen,
}

impl<'x> Input<'x> {
    fn new(x: &'x [f32], rows: usize) -> Input<'x> {
        Input {
            x,
            rows,
            quantized: std::cell::OnceCell::new(),
            wide: std::cell::OnceCell::new(),
        }
    }

    fn in_16_bits(&self) -> &int8::WideRows {
        self.wide
            .get_or_init(|| int8::WideRows::of(self.x, self.x.len() / self.rows.max(1)))
    }

    fn in_8_bits(&self) -> &int8::QuantRows {
        self.quantized
            .get_or_init(|| int8::QuantRows::of(self.x, self.x.len() / self.rows.max(1)))
    }
}

/// A dense layer `y = x Wᵀ + b`, its weight stored output-major as PyTorch writes it.
struct Linear<'a> {
    tokens: TokenBits,
    weight: Weights<'a>,
    bias: &'a [f32],
    inputs: usize,
    outputs: usize,
}

impl<'a> Linear<'a> {
    fn of(
        model: &'a MappedModel,
        name: &str,
        tokens: TokenBits,
        inputs: usize,
        outputs: usize,
    ) -> Result<Linear<'a>> {
        Ok(Linear {
            tokens,
            weight: model.weight(&format!("{name}.weight"), outputs, inputs)?,
            bias: bias(model, &format!("{name}.bias"), outputs)?,
            inputs,
            outputs,
        })
    }

    /// `rows` input rows of `x` → `rows` output rows; an 8-bit matrix is checked first. A
    /// short text's rows meet an 8-bit matrix in 8 bits too (integer products, `int8.rs`).
    fn apply(&self, input: &Input<'_>) -> Result<Vec<f32>, Damaged> {
        let (x, rows) = (input.x, input.rows);
        assert_eq!(x.len(), rows * self.inputs, "linear input size");
        if let Weights::Quant(quant, part, matrix) = self.weight {
            quant.verify(part, matrix)?;
            if rows <= DIRECT_ROWS {
                let (values, scales) = (matrix.values, matrix.scales);
                return Ok(match self.tokens {
                    TokenBits::Eight => int8::linear(input.in_8_bits(), values, scales, self.bias),
                    TokenBits::Sixteen => int8::linear_wide(input.in_16_bits(), values, scales, self.bias),
                });
            }
        }
        if rows <= DIRECT_ROWS {
            return Ok(self.apply_direct(x, rows));
        }
        // A long text: gemm, on the numbers in f32 (a copy widened once).
        let widened = self.weight.widened();
        let weight: &[f32] = &widened;
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
                weight.as_ptr(),
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
        Ok(y)
    }
}

impl Linear<'_> {
    /// The same product as dot products of each weight row with each input row: for a short
    /// query, gemm's packing of the whole weight matrix costs more than the product itself.
    /// Each weight row is read once, from the mapping, for all the tokens.
    fn apply_direct(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut y = vec![0.0f32; rows * self.outputs];
        #[cfg(target_arch = "x86_64")]
        if self.inputs.is_multiple_of(8)
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            // SAFETY: the processor was just checked to have AVX2, FMA and F16C; the sizes
            // the kernels rely on are checked on entry.
            unsafe {
                match self.weight {
                    Weights::Full(w) => linear_avx2(x, rows, self.inputs, w, &[], self.bias, &mut y),
                    Weights::Half(w) => linear_avx2_half(x, rows, self.inputs, w, &[], self.bias, &mut y),
                    Weights::Quant(_, _, m) => {
                        linear_avx2_i8(x, rows, self.inputs, m.values, m.scales, self.bias, &mut y)
                    }
                }
            };
            return y;
        }
        let widened = self.weight.widened();
        let weight: &[f32] = &widened;
        for (j, (w, b)) in weight.chunks_exact(self.inputs).zip(self.bias).enumerate() {
            for (t, input) in x.chunks_exact(self.inputs).enumerate() {
                y[t * self.outputs + j] = b + dot_lanes(input, w);
            }
        }
        y
    }
}

/// `y = x Wᵀ + b` for `rows` tokens with AVX2 and FMA: each weight row is loaded once and
/// multiplied into four tokens at a time, so four independent sums hide the latency of the
/// fused multiply-adds (one running sum would wait on the previous one at every step). With
/// `scales` (8-bit weights) each output's sum is multiplied by its row's scale; without
/// (empty), by 1.
macro_rules! linear_kernel {
    ($name:ident, $weight:ty, $load:expr) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn $name(
            x: &[f32],
            rows: usize,
            inputs: usize,
            weight: &[$weight],
            scales: &[f32],
            bias: &[f32],
            y: &mut [f32],
        ) {
            use std::arch::x86_64::*;
            let load = $load;
            let outputs = bias.len();
            assert!(inputs.is_multiple_of(8), "inputs a multiple of 8");
            assert!(
                x.len() >= rows * inputs && weight.len() >= outputs * inputs && y.len() >= rows * outputs
            );
            assert!(
                scales.is_empty() || scales.len() == outputs,
                "one scale an output"
            );
            #[target_feature(enable = "avx2,fma")]
            fn sum(v: __m256) -> f32 {
                let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
                let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
                _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1)))
            }
            let xp = x.as_ptr();
            for (j, &b) in bias.iter().enumerate() {
                let s = if scales.is_empty() { 1.0 } else { scales[j] };
                let w = weight.as_ptr().add(j * inputs);
                let mut t = 0;
                // Tokens eight at a time while five or more are left, then four at a time
                // while two are: each weight vector, once widened, feeds that many sums, and a
                // group short of tokens repeats its last one (the extra sums are dropped), so
                // seven tokens are one group rather than four and three alone.
                while rows - t >= 2 {
                    let left = rows - t;
                    let group = if left >= 5 { 8 } else { 4 };
                    let mut xs = [xp; 8];
                    for (k, row) in xs.iter_mut().enumerate().take(group) {
                        *row = xp.add((t + k.min(left - 1)) * inputs);
                    }
                    let mut acc = [_mm256_setzero_ps(); 8];
                    let mut i = 0;
                    if group == 8 {
                        while i < inputs {
                            let wv = load(w.add(i));
                            for k in 0..8 {
                                acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[k].add(i)), wv, acc[k]);
                            }
                            i += 8;
                        }
                    } else {
                        while i < inputs {
                            let wv = load(w.add(i));
                            for k in 0..4 {
                                acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[k].add(i)), wv, acc[k]);
                            }
                            i += 8;
                        }
                    }
                    for (k, &a) in acc.iter().enumerate().take(group.min(left)) {
                        y[(t + k) * outputs + j] = b + s * sum(a);
                    }
                    t += group.min(left);
                }
                // A last token alone, the row split over four sums.
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
                        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i)), load(w.add(i)), a0);
                        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i + 8)), load(w.add(i + 8)), a1);
                        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i + 16)), load(w.add(i + 16)), a2);
                        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i + 24)), load(w.add(i + 24)), a3);
                        i += 32;
                    }
                    while i < inputs {
                        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0.add(i)), load(w.add(i)), a0);
                        i += 8;
                    }
                    let all = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
                    y[t * outputs + j] = b + s * sum(all);
                    t += 1;
                }
            }
        }
    };
}

linear_kernel!(linear_avx2, f32, |w: *const f32| _mm256_loadu_ps(w));
// The half copy's eight numbers widened to f32 by the processor (F16C) as they are loaded.
linear_kernel!(linear_avx2_half, u16, |w: *const u16| _mm256_cvtph_ps(
    _mm_loadu_si128(w.cast())
));
// Eight 8-bit numbers sign-extended and converted to f32 as they are loaded; the row's scale
// is applied once to each sum.
linear_kernel!(linear_avx2_i8, i8, |w: *const i8| _mm256_cvtepi32_ps(
    _mm256_cvtepi8_epi32(_mm_loadl_epi64(w.cast()))
));

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
    model.vector(name, size)
}

impl MappedModel {
    /// The f32 vector `name` of `size` numbers: from the 8-bit copy's packed vectors when it
    /// is there (a few pages rather than a window of the weights file per vector).
    fn vector(&self, name: &str, size: usize) -> Result<&[f32]> {
        if let Some(values) = self.quant().and_then(|q| q.vector(name, size)) {
            return Ok(values);
        }
        let Some((range, shape)) = self.tensors.get(name) else {
            bail!("the weights have no f32 tensor {name}");
        };
        if shape.iter().product::<usize>() != size {
            bail!("weights tensor {name} has shape {shape:?}, expected {size} numbers");
        }
        bytemuck::try_cast_slice(&self.map[range.clone()])
            .map_err(|e| anyhow::anyhow!("weights tensor {name} is not aligned: {e}"))
    }
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
        let square = |part: &str, bits| Linear::of(model, &name(part), bits, DIMENSIONS, DIMENSIONS);
        let wide = TokenBits::Sixteen;
        Ok(Layer {
            query: square("attention.self.query", wide)?,
            key: square("attention.self.key", wide)?,
            value: square("attention.self.value", wide)?,
            attention_out: square("attention.output.dense", TokenBits::Eight)?,
            attention_norm: Norm::of(model, &name("attention.output.LayerNorm"))?,
            intermediate: Linear::of(model, &name("intermediate.dense"), wide, DIMENSIONS, INTERMEDIATE)?,
            output: Linear::of(model, &name("output.dense"), wide, INTERMEDIATE, DIMENSIONS)?,
            output_norm: Norm::of(model, &name("output.LayerNorm"))?,
        })
    }

    fn forward(&self, x: &mut [f32], n: usize) -> Result<(), Damaged> {
        let input = Input::new(x, n);
        let q = self.query.apply(&input)?;
        let k = self.key.apply(&input)?;
        let v = self.value.apply(&input)?;
        let context = attention(&q, &k, &v, n);
        let mut attended = self.attention_out.apply(&Input::new(&context, n))?;
        for (a, r) in attended.iter_mut().zip(x.iter()) {
            *a += r;
        }
        self.attention_norm.apply(&mut attended);
        let mut inner = self.intermediate.apply(&Input::new(&attended, n))?;
        activation::gelu_in_place(&mut inner);
        let mut out = self.output.apply(&Input::new(&inner, n))?;
        for (o, r) in out.iter_mut().zip(&attended) {
            *o += r;
        }
        self.output_norm.apply(&mut out);
        x.copy_from_slice(&out);
        Ok(())
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
