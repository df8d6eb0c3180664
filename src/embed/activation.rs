//! GELU over a whole layer's numbers at once, in straight-line arithmetic the compiler turns
//! into vector instructions, instead of one call of the library's error function a number.
//!
//! The error function is Abramowitz and Stegun's 7.1.26 (absolute error below 1.5e-7) with
//! its exponential computed as Cephes' `expf` does; the tests hold it to within 1e-6 of the
//! exact GELU that candle runs for the passages' vectors.

/// `values[i] = gelu(values[i])`, GELU with the error function as BERT's `gelu` activation.
pub(super) fn gelu_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor was just checked to have AVX2 and FMA.
        unsafe { gelu_avx2(values) };
        return;
    }
    gelu_all(values);
}

/// The same loop compiled for eight numbers a vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(values: &mut [f32]) {
    gelu_all(values);
}

#[inline(always)]
fn gelu_all(values: &mut [f32]) {
    for v in values.iter_mut() {
        *v = gelu(*v);
    }
}

/// `0.5 x (1 + erf(x / √2))`. For x < 0, `1 + erf` is computed directly as `erfc(|x| / √2)`
/// rather than as a difference of numbers close to 1, so small results keep their precision.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152_1, 1.061_405_4];
    let a = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + P * a);
    let poly = ((((A[4] * t + A[3]) * t + A[2]) * t + A[1]) * t + A[0]) * t;
    let erfc = poly * exp_negative(-a * a);
    let one_plus_erf = if x < 0.0 { erfc } else { 2.0 - erfc };
    0.5 * x * one_plus_erf
}

/// e^x for x ≤ 0 (relative error about 1e-7), as Cephes' `expf`: x = n ln 2 + r with
/// |r| ≤ ln 2 / 2, e^r by a polynomial, 2^n put in the exponent bits. Below −87 it gives
/// e^−87 (about 1.6e-38), which is 0 for every use here.
#[inline(always)]
fn exp_negative(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 0.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // n is in −126..=0, so n + 127 is a valid exponent.
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(x: f32) -> f32 {
        (candle_core::cpu::erf::erf_f64(f64::from(x) * std::f64::consts::FRAC_1_SQRT_2) + 1.0) as f32
            * 0.5
            * x
    }

    #[test]
    fn gelu_is_within_a_millionth_of_the_exact_one() {
        let xs: Vec<f32> = (-20_000..=20_000).map(|i| i as f32 / 1000.0).collect();
        let mut ys = xs.clone();
        gelu_in_place(&mut ys);
        let mut plain = xs.clone();
        gelu_all(&mut plain);
        for ((&x, &y), &p) in xs.iter().zip(&ys).zip(&plain) {
            assert!(
                (y - exact(x)).abs() <= 1e-6 * x.abs().max(1.0),
                "gelu({x}) = {y}, exact {}",
                exact(x)
            );
            assert_eq!(y.to_bits(), p.to_bits(), "vector and plain code differ at {x}");
        }
        // Far out: x itself, or 0, with no NaN or infinity.
        let mut far = [-1e30, -100.0, 100.0, 1e30, 0.0];
        gelu_in_place(&mut far);
        for (y, want) in far.iter().zip([0.0, 0.0, 100.0, 1e30, 0.0]) {
            assert!((y - want).abs() <= 1e-30, "{far:?}");
        }
    }

    #[test]
    fn exp_is_within_its_rounding_for_non_positive_numbers() {
        for i in 0..=8700 {
            let x = -(i as f32) / 100.0;
            let e = exp_negative(x);
            let want = f64::from(x).exp();
            assert!(
                ((f64::from(e) - want) / want).abs() < 3e-7,
                "exp({x}) = {e}, exact {want}"
            );
        }
    }
}
