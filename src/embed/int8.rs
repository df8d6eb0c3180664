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

/// Token rows in 8 bits: each row's largest magnitude maps to ±127 (so −128 never occurs,
/// which the AVX2 kernel's sign trick relies on), with that row's scale.
pub(super) struct QuantRows {
    codes: Vec<i8>,
    scales: Vec<f32>,
    inputs: usize,
}

impl QuantRows {
    /// The rows of `x` (`inputs` numbers each) rounded to 8 bits: every number within half a
    /// step (its row's scale / 2) of the original.
    pub(super) fn of(x: &[f32], inputs: usize) -> QuantRows {
        let inputs = inputs.max(1);
        let mut codes = Vec::with_capacity(x.len());
        let mut scales = Vec::with_capacity(x.len() / inputs);
        for row in x.chunks_exact(inputs) {
            let top = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if !(top > 0.0 && top.is_finite()) {
                // All zeros (or an infinity, which no layer makes): the row contributes
                // nothing rather than spreading a NaN. A NaN alone counts as 0 (`max` skips
                // it and the cast below makes it 0).
                scales.push(0.0);
                codes.extend(std::iter::repeat_n(0i8, inputs));
                continue;
            }
            let scale = top / 127.0;
            let inverse = 127.0 / top;
            scales.push(scale);
            // In range by construction (|v| ≤ top); the clamp only guards rounding.
            codes.extend(
                row.iter()
                    .map(|&v| (v * inverse).round().clamp(-127.0, 127.0) as i8),
            );
        }
        QuantRows {
            codes,
            scales,
            inputs,
        }
    }

    fn rows(&self) -> usize {
        self.scales.len()
    }
}

/// Token rows in 16 bits: each row's largest magnitude maps to the largest code for which no
/// dot product with a row of 8-bit weights (at most 127 each) can overflow 32 bits, at most
/// 32,767 (11,008 for rows of 1,536 numbers: still 2,000 times finer than 8 bits).
pub(super) struct WideRows {
    codes: Vec<i16>,
    scales: Vec<f32>,
    inputs: usize,
}

impl WideRows {
    /// The rows of `x` (`inputs` numbers each) rounded to 16-bit codes, as [`QuantRows::of`].
    pub(super) fn of(x: &[f32], inputs: usize) -> WideRows {
        let inputs = inputs.max(1);
        let top_code = (i32::MAX as usize / (127 * inputs)).min(i16::MAX as usize) as f32;
        let mut codes = Vec::with_capacity(x.len());
        let mut scales = Vec::with_capacity(x.len() / inputs);
        for row in x.chunks_exact(inputs) {
            let top = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if !(top > 0.0 && top.is_finite()) {
                scales.push(0.0);
                codes.extend(std::iter::repeat_n(0i16, inputs));
                continue;
            }
            scales.push(top / top_code);
            let inverse = top_code / top;
            codes.extend(
                row.iter()
                    .map(|&v| (v * inverse).round().clamp(-top_code, top_code) as i16),
            );
        }
        WideRows {
            codes,
            scales,
            inputs,
        }
    }

    fn rows(&self) -> usize {
        self.scales.len()
    }
}

/// `y = x Wᵀ + b` for the 16-bit token rows `x`, as [`linear`].
pub(super) fn linear_wide(x: &WideRows, weight: &[i8], scales: &[f32], bias: &[f32]) -> Vec<f32> {
    finish(&dots_wide(x, weight, bias.len()), &x.scales, scales, bias)
}

/// `y = x Wᵀ + b` for the 8-bit token rows `x` and the 8-bit weight `weight` (`outputs` ×
/// `inputs`, row-major, one scale a row in `scales`): each output is the exact integer dot
/// product times the token's and the weight row's scales, plus the bias.
pub(super) fn linear(x: &QuantRows, weight: &[i8], scales: &[f32], bias: &[f32]) -> Vec<f32> {
    finish(&dots(x, weight, bias.len()), &x.scales, scales, bias)
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

/// The integer dot products of every token row with every weight row, token-major
/// (`rows` × `outputs`), by the fastest kernel the processor runs.
fn dots(x: &QuantRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    assert_eq!(weight.len(), outputs * x.inputs, "weight size");
    #[cfg(target_arch = "x86_64")]
    {
        if vnni() {
            // SAFETY: the processor was just checked to have AVX-512 VNNI and VL.
            return unsafe { dots_vnni(x, weight, outputs) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor was just checked to have AVX2.
            return unsafe { dots_avx2(x, weight, outputs) };
        }
    }
    dots_plain(x, weight, outputs)
}

/// The integer dot products of every 16-bit token row with every weight row, as [`dots`].
fn dots_wide(x: &WideRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    assert_eq!(weight.len(), outputs * x.inputs, "weight size");
    #[cfg(target_arch = "x86_64")]
    {
        if vnni() {
            // SAFETY: the processor was just checked to have AVX-512 VNNI and VL.
            return unsafe { dots_wide_vnni(x, weight, outputs) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor was just checked to have AVX2.
            return unsafe { dots_wide_avx2(x, weight, outputs) };
        }
    }
    dots_wide_plain(x, weight, outputs)
}

/// The 16-bit dot products one number at a time: what the vector kernels must equal.
fn dots_wide_plain(x: &WideRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    let inputs = x.inputs;
    let mut sums = vec![0i32; x.rows() * outputs];
    for (t, out) in sums.chunks_exact_mut(outputs.max(1)).enumerate() {
        let token = &x.codes[t * inputs..(t + 1) * inputs];
        for (o, w) in out.iter_mut().zip(weight.chunks_exact(inputs)) {
            *o = wide_tail(token, w, 0);
        }
    }
    sums
}

/// Plain sum of the 16-bit products from `from` on.
fn wide_tail(token: &[i16], weight: &[i8], from: usize) -> i32 {
    token[from..]
        .iter()
        .zip(&weight[from..])
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// The 16-bit kernels, VNNI (`vpdpwssd`: pairs of 16-bit products added to 32-bit sums in one
/// instruction) or AVX2 (`vpmaddwd` then an add): 16 weights, widened once to 16 bits, feed
/// every token of a group.
macro_rules! wide_kernel {
    ($name:ident, $features:literal, $step:expr) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $name(x: &WideRows, weight: &[i8], outputs: usize) -> Vec<i32> {
            use std::arch::x86_64::*;
            let (inputs, rows) = (x.inputs, x.rows());
            let part = inputs - inputs % 16;
            let mut sums = vec![0i32; rows * outputs];
            for (j, w) in weight.chunks_exact(inputs).enumerate() {
                for (start, size) in groups(rows) {
                    let mut acc = [_mm256_setzero_si256(); 8];
                    let mut i = 0;
                    while i < part {
                        // SAFETY: i + 16 ≤ part ≤ inputs = w.len(); each token row t < rows
                        // holds `inputs` codes; unaligned loads.
                        let wv = _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(w.as_ptr().add(i).cast()) });
                        for (k, a) in acc.iter_mut().enumerate().take(size) {
                            let at = (start + k) * inputs + i;
                            let xv = unsafe { _mm256_loadu_si256(x.codes.as_ptr().add(at).cast()) };
                            *a = $step(*a, xv, wv);
                        }
                        i += 16;
                    }
                    for (k, a) in acc.iter().enumerate().take(size) {
                        let t = start + k;
                        let token = &x.codes[t * inputs..(t + 1) * inputs];
                        sums[t * outputs + j] = sum_lanes(*a) + wide_tail(token, w, part);
                    }
                }
            }
            sums
        }
    };
}

wide_kernel!(dots_wide_vnni, "avx2,avx512vnni,avx512vl", |a, x, w| {
    _mm256_dpwssd_epi32(a, x, w)
});
wide_kernel!(dots_wide_avx2, "avx2", |a, x, w| _mm256_add_epi32(
    a,
    _mm256_madd_epi16(x, w)
));

/// Whether the processor has 8-bit dot products on 256-bit vectors (AVX-512 VNNI with VL).
#[cfg(target_arch = "x86_64")]
fn vnni() -> bool {
    std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512vl")
}

/// The dot products one number at a time: what the vector kernels must equal.
fn dots_plain(x: &QuantRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    let inputs = x.inputs;
    let mut sums = vec![0i32; x.rows() * outputs];
    for (t, out) in sums.chunks_exact_mut(outputs.max(1)).enumerate() {
        let token = &x.codes[t * inputs..(t + 1) * inputs];
        for (o, w) in out.iter_mut().zip(weight.chunks_exact(inputs)) {
            *o = token
                .iter()
                .zip(w)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum();
        }
    }
    sums
}

/// The part of a row the vector kernels take 32 numbers at a time; the rest is summed plainly.
fn vector_part(inputs: usize) -> usize {
    inputs - inputs % 32
}

/// Plain sum of the products past the vector part (none for the model's widths).
fn tail(token: &[i8], weight: &[i8], from: usize) -> i32 {
    token[from..]
        .iter()
        .zip(&weight[from..])
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

/// Token rows are taken eight at a time, then four, two and one, so each 32 weights, once
/// loaded, feed as many sums as there are tokens left (up to eight).
fn groups(rows: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut t = 0;
    std::iter::from_fn(move || {
        let size = [8, 4, 2, 1].into_iter().find(|&g| g <= rows - t)?;
        t += size;
        Some((t - size, size))
    })
}

/// VNNI: `vpdpbusd` multiplies unsigned by signed bytes, so the tokens' codes are shifted by
/// 128 into 1..=255 and 128 × (the weight row's sum) is taken off each dot product; the row's
/// sum comes from the same instruction with all-ones bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
fn dots_vnni(x: &QuantRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    use std::arch::x86_64::*;
    let (inputs, rows) = (x.inputs, x.rows());
    let part = vector_part(inputs);
    let shifted: Vec<u8> = x.codes.iter().map(|&c| (c as u8) ^ 0x80).collect();
    let mut sums = vec![0i32; rows * outputs];
    let ones = _mm256_set1_epi8(1);
    for (j, w) in weight.chunks_exact(inputs).enumerate() {
        let mut row_sum = _mm256_setzero_si256();
        let mut i = 0;
        while i < part {
            // SAFETY: i + 32 ≤ part ≤ inputs = w.len(); unaligned loads.
            let wv = unsafe { _mm256_loadu_si256(w.as_ptr().add(i).cast()) };
            row_sum = _mm256_dpbusd_epi32(row_sum, ones, wv);
            i += 32;
        }
        let offset = 128 * sum_lanes(row_sum);
        for (start, size) in groups(rows) {
            let mut acc = [_mm256_setzero_si256(); 8];
            let mut i = 0;
            while i < part {
                // SAFETY: as above, and each token row t < rows holds `inputs` bytes.
                let wv = unsafe { _mm256_loadu_si256(w.as_ptr().add(i).cast()) };
                for (k, a) in acc.iter_mut().enumerate().take(size) {
                    let xv =
                        unsafe { _mm256_loadu_si256(shifted.as_ptr().add((start + k) * inputs + i).cast()) };
                    *a = _mm256_dpbusd_epi32(*a, xv, wv);
                }
                i += 32;
            }
            for (k, a) in acc.iter().enumerate().take(size) {
                let t = start + k;
                let token = &x.codes[t * inputs..(t + 1) * inputs];
                sums[t * outputs + j] = sum_lanes(*a) - offset + tail(token, w, part);
            }
        }
    }
    sums
}

/// AVX2: `vpmaddubsw` multiplies unsigned by signed bytes into pairs of 16-bit sums, which
/// saturate; with the token's magnitude (≤ 127) as the unsigned side and the weight given the
/// token's sign, a pair is at most 2 × 127 × 127 and never saturates.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dots_avx2(x: &QuantRows, weight: &[i8], outputs: usize) -> Vec<i32> {
    use std::arch::x86_64::*;
    let (inputs, rows) = (x.inputs, x.rows());
    let part = vector_part(inputs);
    let magnitudes: Vec<u8> = x.codes.iter().map(|&c| c.unsigned_abs()).collect();
    let mut sums = vec![0i32; rows * outputs];
    let ones = _mm256_set1_epi16(1);
    for (j, w) in weight.chunks_exact(inputs).enumerate() {
        for (start, size) in groups(rows) {
            let mut acc = [_mm256_setzero_si256(); 8];
            let mut i = 0;
            while i < part {
                // SAFETY: i + 32 ≤ part ≤ inputs = w.len(); each token row t < rows holds
                // `inputs` bytes; unaligned loads.
                let wv = unsafe { _mm256_loadu_si256(w.as_ptr().add(i).cast()) };
                for (k, a) in acc.iter_mut().enumerate().take(size) {
                    let at = (start + k) * inputs + i;
                    let sign = unsafe { _mm256_loadu_si256(x.codes.as_ptr().add(at).cast()) };
                    let magnitude = unsafe { _mm256_loadu_si256(magnitudes.as_ptr().add(at).cast()) };
                    let pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(wv, sign));
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(pairs, ones));
                }
                i += 32;
            }
            for (k, a) in acc.iter().enumerate().take(size) {
                let t = start + k;
                let token = &x.codes[t * inputs..(t + 1) * inputs];
                sums[t * outputs + j] = sum_lanes(*a) + tail(token, w, part);
            }
        }
    }
    sums
}

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
    fn groups_cover_every_token_once_largest_first() {
        for rows in 0..20 {
            let all: Vec<(usize, usize)> = groups(rows).collect();
            assert_eq!(all.iter().map(|g| g.1).sum::<usize>(), rows);
            assert!(all
                .windows(2)
                .all(|w| w[0].0 + w[0].1 == w[1].0 && w[0].1 >= w[1].1));
        }
        assert_eq!(groups(13).collect::<Vec<_>>(), [(0, 8), (8, 4), (12, 1)]);
    }

    /// Every kernel the processor runs gives the plain sums exactly, for widths with and
    /// without a tail past the vector part and every token count up to 19.
    #[test]
    fn vector_kernels_equal_the_plain_sums() {
        for (inputs, outputs) in [(384, 7), (33, 5), (31, 3), (96, 1), (1, 2), (1536, 3)] {
            let (scales, weight) = weights(outputs, inputs, inputs as u64);
            for rows in 1..20 {
                let x = QuantRows::of(&numbers(rows * inputs, 7 + rows as u64), inputs);
                let plain = dots_plain(&x, &weight, outputs);
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: AVX2 checked.
                        let avx2 = unsafe { dots_avx2(&x, &weight, outputs) };
                        assert_eq!(avx2, plain, "avx2 {inputs}×{outputs}, {rows} rows");
                    }
                    if vnni() {
                        // SAFETY: VNNI checked.
                        let vnni = unsafe { dots_vnni(&x, &weight, outputs) };
                        assert_eq!(vnni, plain, "vnni {inputs}×{outputs}, {rows} rows");
                    }
                }
                assert_eq!(dots(&x, &weight, outputs), plain);
                assert_eq!(scales.len(), outputs);
            }
        }
    }

    /// The same for the 16-bit kernels.
    #[test]
    fn wide_vector_kernels_equal_the_plain_sums() {
        for (inputs, outputs) in [(384, 7), (17, 5), (15, 3), (96, 1), (1, 2), (1536, 3)] {
            let (_, weight) = weights(outputs, inputs, inputs as u64);
            for rows in 1..20 {
                let x = WideRows::of(&numbers(rows * inputs, 7 + rows as u64), inputs);
                let plain = dots_wide_plain(&x, &weight, outputs);
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: AVX2 checked.
                        let avx2 = unsafe { dots_wide_avx2(&x, &weight, outputs) };
                        assert_eq!(avx2, plain, "avx2 {inputs}×{outputs}, {rows} rows");
                    }
                    if vnni() {
                        // SAFETY: VNNI checked.
                        let vnni = unsafe { dots_wide_vnni(&x, &weight, outputs) };
                        assert_eq!(vnni, plain, "vnni {inputs}×{outputs}, {rows} rows");
                    }
                }
                assert_eq!(dots_wide(&x, &weight, outputs), plain);
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
        assert_eq!(dots_wide(&top, &weight, 1), [expected as i32]);
        assert_eq!(dots_wide_plain(&top, &weight, 1), [expected as i32]);
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
        assert_eq!(dots_plain(&x, &weight, 2), expected);
        assert_eq!(dots(&x, &weight, 2), expected);
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
