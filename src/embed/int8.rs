//! Dense layers in integers: each token's numbers rounded to 8 or 16 bits with a scale a token,
//! then multiplied with the 8-bit weights as exact integer dot products (VNNI, else AVX2, else
//! plain code).
//!
//! With the weights already in 8 bits ([`super::quantized`]), a product of f32 numbers spends
//! most of its work widening each weight to f32; integer products take 32 (8-bit tokens) or
//! 16 (16-bit tokens) weights an instruction instead of 8. The sums are exact 32-bit integers,
//! so every kernel gives the same numbers as the plain one, which the tests check; only the
//! rounding of the tokens' numbers changes the result. Eight bits serve where a layer's input
//! has no outlying numbers (the attention's output); a layer-normalised input has a few
//! numbers far larger than the rest, which 8 bits would round away (cosine 0.9970 to the
//! full-weight vectors instead of 0.9994), so it gets 16.

/// Token rows rounded to integer codes: each row's largest magnitude maps to the largest code
/// `top` (so an 8-bit row never holds −128, which the AVX2 kernel's sign trick relies on), with
/// that row's scale; every number is within half a step (scale / 2) of the original.
pub(super) struct Rows<C> {
    codes: Vec<C>,
    scales: Vec<f32>,
    inputs: usize,
}

/// Token rows in 8 bits (codes −127..=127).
pub(super) type QuantRows = Rows<i8>;
/// Token rows in 16 bits: the largest code is the largest for which no dot product with a row
/// of 8-bit weights (at most 127 each) can overflow 32 bits, at most 32,767 (11,008 for rows of
/// 1,536 numbers: still 2,000 times finer than 8 bits).
pub(super) type WideRows = Rows<i16>;

impl QuantRows {
    /// The rows of `x` (`inputs` numbers each) in 8 bits.
    pub(super) fn of(x: &[f32], inputs: usize) -> QuantRows {
        Rows::round(x, inputs, 127.0, |v| v as i8)
    }
}

impl WideRows {
    /// The rows of `x` (`inputs` numbers each) in 16 bits.
    pub(super) fn of(x: &[f32], inputs: usize) -> WideRows {
        let top = (i32::MAX as usize / (127 * inputs.max(1))).min(i16::MAX as usize);
        Rows::round(x, inputs, top as f32, |v| v as i16)
    }
}

impl<C: Copy + Default> Rows<C> {
    fn round(x: &[f32], inputs: usize, top_code: f32, cast: fn(f32) -> C) -> Rows<C> {
        let inputs = inputs.max(1);
        let rows = x.len() / inputs;
        let mut codes = vec![C::default(); rows * inputs];
        let mut scales = Vec::with_capacity(rows);
        for (row, out) in x.chunks_exact(inputs).zip(codes.chunks_exact_mut(inputs)) {
            let top = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if !(top > 0.0 && top.is_finite()) {
                // All zeros (or an infinity, which no layer makes): the row contributes
                // nothing rather than spreading a NaN. A NaN alone counts as 0 (`max` skips
                // it and the cast makes it 0).
                scales.push(0.0);
                continue;
            }
            scales.push(top / top_code);
            round_row(row, top_code / top, top_code, cast, out);
        }
        Rows {
            codes,
            scales,
            inputs,
        }
    }
}

/// `out[i] = round(row[i] × inverse)`, clamped to ±`top` (in range by construction; the clamp
/// only guards rounding), compiled for eight numbers a vector where the processor has AVX2.
fn round_row<C>(row: &[f32], inverse: f32, top: f32, cast: fn(f32) -> C, out: &mut [C]) {
    #[inline(always)]
    fn each<C>(row: &[f32], inverse: f32, top: f32, cast: fn(f32) -> C, out: &mut [C]) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o = cast((v * inverse).round_ties_even().clamp(-top, top));
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn each_avx2<C>(row: &[f32], inverse: f32, top: f32, cast: fn(f32) -> C, out: &mut [C]) {
        each(row, inverse, top, cast, out);
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor was just checked to have AVX2.
        unsafe { each_avx2(row, inverse, top, cast, out) };
        return;
    }
    each(row, inverse, top, cast, out);
}

/// `y = x Wᵀ + b` for the 8-bit token rows `x` and the 8-bit weight `weight` (`outputs` ×
/// `inputs`, row-major, one scale a row in `scales`): each output is the exact integer dot
/// product times the token's and the weight row's scales, plus the bias.
pub(super) fn linear(x: &QuantRows, weight: &[i8], scales: &[f32], bias: &[f32]) -> Vec<f32> {
    finish(&dots(x, weight, bias.len()), &x.scales, scales, bias)
}

/// `y = x Wᵀ + b` for the 16-bit token rows `x`, as [`linear`].
pub(super) fn linear_wide(x: &WideRows, weight: &[i8], scales: &[f32], bias: &[f32]) -> Vec<f32> {
    finish(&dots_wide(x, weight, bias.len()), &x.scales, scales, bias)
}

/// Each output from its integer sum (token-major): times the token's scale and the weight
/// row's, plus the bias.
fn finish(sums: &[i32], tokens: &[f32], scales: &[f32], bias: &[f32]) -> Vec<f32> {
    let outputs = bias.len().max(1);
    let mut y = vec![0.0f32; sums.len()];
    for ((out, sums), &token) in y
        .chunks_exact_mut(outputs)
        .zip(sums.chunks_exact(outputs))
        .zip(tokens)
    {
        for (((o, &sum), &w), &b) in out.iter_mut().zip(sums).zip(scales).zip(bias) {
            *o = b + w * token * sum as f32;
        }
    }
    y
}

/// Which code computes the integer dot products: each gives the same sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Plain,
    /// `vpmaddubsw` (8-bit tokens) or `vpmaddwd` (16-bit), then adds.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// `vpdpbusd` or `vpdpwssd`: products and adds in one instruction (AVX-512 VNNI with VL,
    /// on 256-bit vectors).
    #[cfg(target_arch = "x86_64")]
    Vnni,
}

impl Kernel {
    /// The kernels this processor runs, fastest last.
    fn available() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::Plain];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                kernels.push(Kernel::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                kernels.push(Kernel::Vnni);
            }
        }
        kernels
    }

    fn best() -> Kernel {
        static BEST: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Kernel::available().pop().unwrap_or(Kernel::Plain))
    }
}

/// The integer dot products of every token row with every weight row, token-major
/// (`rows` × `outputs`), by the fastest kernel the processor runs.
fn dots(x: &QuantRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    dots_by(Kernel::best(), x, weight, outputs)
}

fn dots_by(kernel: Kernel, x: &QuantRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    let inputs = x.inputs;
    assert_eq!(weight.len(), outputs * inputs, "weight size");
    let part = inputs - inputs % 32;
    let mut sums = match kernel {
        Kernel::Plain => return plain(&x.codes, inputs, weight, outputs),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Kernel::available` found AVX2 on this processor.
        Kernel::Avx2 => unsafe { bytes_avx2(&x.codes, inputs, weight, outputs, part) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Vnni => {
            // `vpdpbusd` multiplies unsigned by signed bytes: the weights are shifted by 128
            // into 1..=255 as they are loaded, and 128 × the token's sum (over the same
            // numbers) is taken off each of its products. The token's sum costs a few hundred
            // additions; the weight row's, which the shift could take instead, a pass over
            // the whole matrix each product.
            // SAFETY: `Kernel::available` found AVX-512 VNNI and VL on this processor.
            let mut sums = unsafe { bytes_vnni(&x.codes, inputs, weight, outputs, part) };
            for (row, token) in sums
                .chunks_exact_mut(outputs.max(1))
                .zip(x.codes.chunks_exact(inputs))
            {
                let offset = 128 * token[..part].iter().map(|&c| i32::from(c)).sum::<i32>();
                for s in row {
                    *s -= offset;
                }
            }
            sums
        }
    };
    add_tails(&mut sums, &x.codes, inputs, weight, part);
    sums
}

/// The integer dot products of every 16-bit token row with every weight row, as [`dots`].
fn dots_wide(x: &WideRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    dots_wide_by(Kernel::best(), x, weight, outputs)
}

fn dots_wide_by(kernel: Kernel, x: &WideRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    let inputs = x.inputs;
    assert_eq!(weight.len(), outputs * inputs, "weight size");
    let part = inputs - inputs % 16;
    let mut sums = match kernel {
        Kernel::Plain => return plain(&x.codes, inputs, weight, outputs),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Kernel::available` found AVX2 on this processor.
        Kernel::Avx2 => unsafe { wide_avx2(&x.codes, inputs, weight, outputs, part) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Kernel::available` found AVX-512 VNNI and VL on this processor.
        Kernel::Vnni => unsafe { wide_vnni(&x.codes, inputs, weight, outputs, part) },
    };
    add_tails(&mut sums, &x.codes, inputs, weight, part);
    sums
}

/// The dot products one number at a time: what the vector kernels must equal.
fn plain<C: Copy + Into<i32>>(codes: &[C], inputs: usize, weight: &[i8], outputs: usize) -> Vec<i32> {
    let mut sums = vec![0i32; codes.len() / inputs.max(1) * outputs];
    add_tails(&mut sums, codes, inputs, weight, 0);
    sums
}

/// Adds to each sum the products past the vector part (`from` on; none for the model's widths).
fn add_tails<C: Copy + Into<i32>>(sums: &mut [i32], codes: &[C], inputs: usize, weight: &[i8], from: usize) {
    if from >= inputs {
        return;
    }
    let outputs = weight.len() / inputs;
    for (token, out) in codes
        .chunks_exact(inputs)
        .zip(sums.chunks_exact_mut(outputs.max(1)))
    {
        for (o, w) in out.iter_mut().zip(weight.chunks_exact(inputs)) {
            *o += token[from..]
                .iter()
                .zip(&w[from..])
                .map(|(&a, &b)| a.into() * i32::from(b))
                .sum::<i32>();
        }
    }
}

/// Token rows are taken in groups of at most eight, of sizes as even as can be (9 tokens are
/// 5 + 4, not 8 + 1), so each weight vector, once loaded, feeds several independent sums.
fn groups(rows: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = rows.div_ceil(8).max(1);
    (0..count)
        .map(move |g| (g * rows / count, (g + 1) * rows / count - g * rows / count))
        .filter(|&(_, size)| size > 0)
}

/// A vector kernel: `$group::<G>` sums G token rows (`inputs` codes apart) with one weight
/// row over its first `part` numbers, `$width` at a time: `$load` reads the weights once,
/// `$step` adds one token's products to its sum. `$name` runs it over every weight row and
/// group of tokens, token-major.
macro_rules! kernel {
    ($name:ident, $group:ident, $features:literal, $code:ty, $width:expr, $load:expr, $step:expr) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        /// SAFETY: `codes` holds G rows of `inputs` codes, `weight` holds `part` numbers.
        unsafe fn $group<const G: usize>(
            codes: *const $code,
            inputs: usize,
            weight: *const i8,
            part: usize,
        ) -> [i32; 8] {
            use std::arch::x86_64::*;
            let mut acc = [_mm256_setzero_si256(); G];
            let mut i = 0;
            while i < part {
                let w = $load(weight.add(i));
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = $step(*a, _mm256_loadu_si256(codes.add(k * inputs + i).cast()), w);
                }
                i += $width;
            }
            let mut sums = [0i32; 8];
            for (s, a) in sums.iter_mut().zip(acc) {
                *s = sum_lanes(a);
            }
            sums
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $name(codes: &[$code], inputs: usize, weight: &[i8], outputs: usize, part: usize) -> Vec<i32> {
            assert!(part <= inputs && part % $width == 0, "vector part");
            assert!(
                weight.len() == outputs * inputs && codes.len() % inputs == 0,
                "sizes"
            );
            let rows = codes.len() / inputs;
            let mut sums = vec![0i32; rows * outputs];
            for (j, w) in weight.chunks_exact(inputs).enumerate() {
                for (start, size) in groups(rows) {
                    let (x, w) = (codes[start * inputs..].as_ptr(), w.as_ptr());
                    // SAFETY: rows start..start + size hold `inputs` codes each and `w` holds
                    // `inputs` ≥ `part` numbers; the loads are unaligned.
                    let got = unsafe {
                        match size {
                            8 => $group::<8>(x, inputs, w, part),
                            7 => $group::<7>(x, inputs, w, part),
                            6 => $group::<6>(x, inputs, w, part),
                            5 => $group::<5>(x, inputs, w, part),
                            4 => $group::<4>(x, inputs, w, part),
                            3 => $group::<3>(x, inputs, w, part),
                            2 => $group::<2>(x, inputs, w, part),
                            _ => $group::<1>(x, inputs, w, part),
                        }
                    };
                    for (k, &sum) in got.iter().enumerate().take(size) {
                        sums[(start + k) * outputs + j] = sum;
                    }
                }
            }
            sums
        }
    };
}

// 8-bit tokens, VNNI: `vpdpbusd` adds four products of unsigned (the weights shifted by 128)
// by signed bytes (the codes) to each 32-bit lane.
kernel!(
    bytes_vnni,
    bytes_vnni_group,
    "avx2,avx512vnni,avx512vl",
    i8,
    32,
    |w: *const i8| _mm256_xor_si256(_mm256_loadu_si256(w.cast()), _mm256_set1_epi8(-128)),
    |a, x, w| _mm256_dpbusd_epi32(a, w, x)
);
// 8-bit tokens, AVX2: `vpmaddubsw` multiplies unsigned by signed bytes into pairs of 16-bit
// sums, which saturate; with the token's magnitude (≤ 127) as the unsigned side and the weight
// given the token's sign, a pair is at most 2 × 127 × 127 and never saturates.
kernel!(
    bytes_avx2,
    bytes_avx2_group,
    "avx2",
    i8,
    32,
    |w: *const i8| _mm256_loadu_si256(w.cast()),
    |a, x, w| _mm256_add_epi32(
        a,
        _mm256_madd_epi16(
            _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(w, x)),
            _mm256_set1_epi16(1)
        )
    )
);
// 16-bit tokens, VNNI: `vpdpwssd` adds two 16-bit products to each 32-bit lane; the weights
// are widened to 16 bits once for the group.
kernel!(
    wide_vnni,
    wide_vnni_group,
    "avx2,avx512vnni,avx512vl",
    i16,
    16,
    |w: *const i8| _mm256_cvtepi8_epi16(_mm_loadu_si128(w.cast())),
    |a, x, w| _mm256_dpwssd_epi32(a, x, w)
);
// 16-bit tokens, AVX2: `vpmaddwd`, then an add.
kernel!(
    wide_avx2,
    wide_avx2_group,
    "avx2",
    i16,
    16,
    |w: *const i8| _mm256_cvtepi8_epi16(_mm_loadu_si128(w.cast())),
    |a, x, w| _mm256_add_epi32(a, _mm256_madd_epi16(x, w))
);

/// The sum of a vector's eight 32-bit lanes (wrapping, as the lanes' own sums do).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_lanes(v: std::arch::x86_64::__m256i) -> i32 {
    use std::arch::x86_64::*;
    let halves = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    let pairs = _mm_add_epi32(halves, _mm_shuffle_epi32(halves, 0b01_00_11_10));
    _mm_cvtsi128_si32(_mm_add_epi32(pairs, _mm_shuffle_epi32(pairs, 0b10_11_00_01)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers from a fixed-seed generator (xorshift), spread over [−1, 1).
    fn numbers(count: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.max(1);
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn weights(outputs: usize, inputs: usize, seed: u64) -> (Vec<f32>, Vec<i8>) {
        super::super::quantized::quantize(&numbers(outputs * inputs, seed), inputs)
    }

    #[test]
    fn token_rows_are_within_half_a_step_and_never_minus_128() {
        let x = [0.5, -1.0, 0.25, 0.0, 0.0, 0.0, 3.0, -0.01, -3.0];
        let q = QuantRows::of(&x, 3);
        assert_eq!(q.codes[1], -127);
        assert_eq!(q.codes[8], -127);
        assert_eq!(q.scales[1], 0.0, "an all-zero row has scale 0");
        for (t, row) in x.chunks(3).enumerate() {
            for (i, v) in row.iter().enumerate() {
                let back = q.scales[t] * f32::from(q.codes[3 * t + i]);
                assert!((v - back).abs() <= q.scales[t] / 2.0 + 1e-6);
            }
        }
        let nan = QuantRows::of(&[f32::NAN, 1.0, f32::INFINITY, 1.0], 2);
        assert_eq!(&nan.codes[..2], &[0, 127], "a NaN counts as 0");
        assert_eq!(
            (nan.scales[1], &nan.codes[2..]),
            (0.0, &[0i8, 0][..]),
            "a row with an infinity is dropped"
        );
    }

    #[test]
    fn groups_cover_every_token_once_in_even_sizes() {
        for rows in 0..20 {
            let all: Vec<(usize, usize)> = groups(rows).collect();
            assert_eq!(all.iter().map(|g| g.1).sum::<usize>(), rows);
            assert!(all.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
            let sizes = all.iter().map(|g| g.1);
            assert!(sizes.clone().max().unwrap_or(0) - sizes.min().unwrap_or(0) <= 1);
        }
        assert_eq!(groups(9).collect::<Vec<_>>(), [(0, 4), (4, 5)]);
        assert_eq!(groups(17).collect::<Vec<_>>(), [(0, 5), (5, 6), (11, 6)]);
        assert!(groups(200).all(|(_, size)| (1..=8).contains(&size)));
    }

    /// Every kernel the processor runs gives the plain sums exactly, 8-bit and 16-bit, for
    /// widths with and without a tail past the vector part and every token count up to 19.
    #[test]
    fn vector_kernels_equal_the_plain_sums() {
        let kernels = Kernel::available();
        assert!(kernels.contains(&Kernel::best()));
        for (inputs, outputs) in [(384, 7), (33, 5), (31, 3), (17, 2), (96, 1), (1, 2), (1536, 3)] {
            let (_, weight) = weights(outputs, inputs, inputs as u64);
            for rows in 1..20 {
                let x = numbers(rows * inputs, 7 + rows as u64);
                let (bytes, wide) = (QuantRows::of(&x, inputs), WideRows::of(&x, inputs));
                let plain = dots_by(Kernel::Plain, &bytes, &weight, outputs);
                let plain_wide = dots_wide_by(Kernel::Plain, &wide, &weight, outputs);
                assert_eq!(
                    plain[0],
                    (0..inputs)
                        .map(|i| i32::from(bytes.codes[i]) * i32::from(weight[i]))
                        .sum::<i32>()
                );
                for &kernel in &kernels {
                    let what = format!("{kernel:?} {inputs}×{outputs}, {rows} rows");
                    assert_eq!(dots_by(kernel, &bytes, &weight, outputs), plain, "8-bit {what}");
                    assert_eq!(
                        dots_wide_by(kernel, &wide, &weight, outputs),
                        plain_wide,
                        "16-bit {what}"
                    );
                }
            }
        }
    }

    /// 16-bit rows are within half a step of a scale far finer than 8 bits', and the largest
    /// codes a row of 1,536 can hold sum without overflow.
    #[test]
    fn wide_rows_are_fine_and_their_largest_sums_fit() {
        let x = numbers(2 * 384, 11);
        let wide = WideRows::of(&x, 384);
        let bytes = QuantRows::of(&x, 384);
        for t in 0..2 {
            assert!(wide.scales[t] * 100.0 < bytes.scales[t]);
            for i in 0..384 {
                let back = wide.scales[t] * f32::from(wide.codes[384 * t + i]);
                assert!((x[384 * t + i] - back).abs() <= wide.scales[t] / 2.0 + 1e-7);
            }
        }
        let inputs = 1536;
        let top = WideRows::of(&vec![-1.0f32; inputs], inputs);
        let weight = vec![-127i8; inputs];
        let expected = i64::from(top.codes[0]) * -127 * inputs as i64;
        assert!(expected <= i64::from(i32::MAX) && top.codes[0] < -10_000);
        for kernel in Kernel::available() {
            assert_eq!(
                dots_wide_by(kernel, &top, &weight, 1),
                [expected as i32],
                "{kernel:?}"
            );
        }
    }

    /// Extreme codes (all ±127, the largest sums a row can make) do not overflow or saturate.
    #[test]
    fn the_largest_codes_sum_exactly() {
        let inputs = 1536;
        let x = QuantRows::of(&vec![1.0f32; inputs], inputs);
        let weight: Vec<i8> = (0..2 * inputs)
            .map(|i| if i < inputs { 127 } else { -127 })
            .collect();
        let expected = vec![127 * 127 * inputs as i32, -(127 * 127 * inputs as i32)];
        for kernel in Kernel::available() {
            assert_eq!(dots_by(kernel, &x, &weight, 2), expected, "{kernel:?}");
        }
    }

    /// The layer's numbers are those of the f32 product of the rounded tokens and weights,
    /// close to the product of the original numbers.
    #[test]
    fn the_layer_is_close_to_the_f32_product() {
        let (inputs, outputs, rows) = (384, 16, 5);
        let source = numbers(outputs * inputs, 3);
        let (scales, weight) = super::super::quantized::quantize(&source, inputs);
        let bias = numbers(outputs, 4);
        let x = numbers(rows * inputs, 5);
        let y = linear(&QuantRows::of(&x, inputs), &weight, &scales, &bias);
        for t in 0..rows {
            for j in 0..outputs {
                let exact: f32 = bias[j]
                    + x[t * inputs..(t + 1) * inputs]
                        .iter()
                        .zip(&source[j * inputs..(j + 1) * inputs])
                        .map(|(a, b)| a * b)
                        .sum::<f32>();
                // Each factor is off by at most half a step of 1/127 of its row's largest
                // (here ≤ 1): the sum by far less than 384 × 2 × 0.004.
                assert!(
                    (y[t * outputs + j] - exact).abs() < 0.1,
                    "{t},{j}: {} vs {exact}",
                    y[t * outputs + j]
                );
            }
        }
    }
}
