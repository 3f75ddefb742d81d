//! Kernels on host memory for the CPU backend: the MLP's gated activation, the attention
//! softmax, and the dot product and `y += a·x` of the SAE trainer's sparse step.
//!
//! burn-flex evaluates `exp` (inside SiLU, sigmoid, tanh and softmax) one element at a time
//! through libm's scalar `expf`, which took about 8% of a SmolLM2 forward pass; masked scores
//! (-1e30) even send `expf` down its slow underflow path. The kernels here use a polynomial
//! `exp` written so the compiler vectorises it, and are compiled twice: for the baseline
//! x86-64 target and, picked at run time, for AVX2.

/// `exp(x)` for f32, within 5e-7 relative error on [-87.3, 88.3] (clamped above, flushed to 0
/// below); branch-free, so loops over it vectorise.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Adding 1.5 * 2^23 rounds to an integer in the low mantissa bits (round to nearest),
    // without a call to `roundf` that the baseline target lacks as an instruction.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let xc = x.clamp(-87.3, 88.3);
    let t = xc * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = xc - n * LN2_HI - n * LN2_LO;
    // e^r on |r| <= ln2/2: Taylor to degree 6, relative error below 2e-7.
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let k = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let scale = f32::from_bits(((k + 127) as u32) << 23);
    if x < -87.3 {
        0.0
    } else {
        p * scale
    }
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn gate_body<const GELU: bool>(gate: &mut [f32], up: &[f32]) {
    let c = (2.0f32 / std::f32::consts::PI).sqrt();
    for (g, &u) in gate.iter_mut().zip(up) {
        let x = *g;
        // GELU-tanh is x * (1 + tanh(y)) / 2 = x * sigmoid(2y), with y = c (x + 0.044715 x^3).
        let act = if GELU {
            x * sigmoid(2.0 * c * (x + 0.044715 * x * x * x))
        } else {
            x * sigmoid(x)
        };
        *g = act * u;
    }
}

#[inline(always)]
fn softmax_body(x: &mut [f32], row_len: usize) {
    const LANES: usize = 8;
    for row in x.chunks_exact_mut(row_len) {
        // Lane-wise maxima and sums so the reductions vectorise (a scalar fold would not).
        let mut m = [f32::NEG_INFINITY; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for c in chunks.by_ref() {
            for j in 0..LANES {
                m[j] = if c[j] > m[j] { c[j] } else { m[j] };
            }
        }
        let max = chunks
            .remainder()
            .iter()
            .chain(&m)
            .fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
        let mut s = [0f32; LANES];
        let mut chunks = row.chunks_exact_mut(LANES);
        for c in chunks.by_ref() {
            for j in 0..LANES {
                c[j] = exp(c[j] - max);
                s[j] += c[j];
            }
        }
        let mut sum: f32 = s.iter().sum();
        for v in chunks.into_remainder() {
            *v = exp(*v - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

// Thirty-two lanes: four independent vector accumulators, so consecutive fused multiply-adds
// do not wait on each other's results.
const DOT_LANES: usize = 32;

#[inline(always)]
fn dot_body(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(DOT_LANES), b.chunks_exact(DOT_LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut s = [0f32; DOT_LANES];
    for (x, y) in ca.zip(cb) {
        for j in 0..DOT_LANES {
            s[j] = x[j].mul_add(y[j], s[j]);
        }
    }
    s.iter().sum::<f32>() + tail
}

#[inline(always)]
fn axpy_body(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = a.mul_add(x, *y);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    // SAFETY (all): callers check that the CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        super::dot_body(a, b)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        super::axpy_body(a, x, y)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gate<const GELU: bool>(gate: &mut [f32], up: &[f32]) {
        super::gate_body::<GELU>(gate, up)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn softmax(x: &mut [f32], row_len: usize) {
        super::softmax_body(x, row_len)
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// `Σ a[i]·b[i]` over the shorter slice's length.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 and FMA were detected just above.
        return unsafe { avx2::dot(&a[..n], &b[..n]) };
    }
    dot_body(&a[..n], &b[..n])
}

/// `y[i] += a·x[i]` over the shorter slice's length.
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 and FMA were detected just above.
        return unsafe { avx2::axpy(a, x, y) };
    }
    axpy_body(a, x, y)
}

/// `gate <- act(gate) * up`, with `act` SiLU or (when `gelu`) GELU-tanh; the slices have
/// equal length.
pub fn gated_activation(gate: &mut [f32], up: &[f32], gelu: bool) {
    assert_eq!(gate.len(), up.len(), "gate and up projections differ in size");
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 and FMA were detected just above.
        unsafe {
            if gelu {
                avx2::gate::<true>(gate, up)
            } else {
                avx2::gate::<false>(gate, up)
            }
        }
        return;
    }
    if gelu {
        gate_body::<true>(gate, up)
    } else {
        gate_body::<false>(gate, up)
    }
}

/// Softmax, in place, over each consecutive run of `row_len` values.
pub fn softmax_rows(x: &mut [f32], row_len: usize) {
    assert!(
        row_len > 0 && x.len().is_multiple_of(row_len),
        "softmax rows of {row_len} do not tile {}",
        x.len()
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 and FMA were detected just above.
        unsafe { avx2::softmax(x, row_len) };
        return;
    }
    softmax_body(x, row_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_across_the_f32_range() {
        let mut worst = 0f64;
        for i in 0..=200_000 {
            let x = -87.0 + 175.3 * i as f32 / 200_000.0;
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(exp(-1e30), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        assert!(exp(1e30).is_finite());
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn kernels_match_the_textbook_formulas() {
        let xs: Vec<f32> = (0..1003).map(|i| (i as f32 * 0.731).sin() * 12.0).collect();
        let up: Vec<f32> = (0..1003).map(|i| (i as f32 * 0.37).cos()).collect();
        for gelu in [false, true] {
            let mut g = xs.clone();
            gated_activation(&mut g, &up, gelu);
            for ((&x, &u), &got) in xs.iter().zip(&up).zip(&g) {
                let x = x as f64;
                let act = if gelu {
                    let y = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
                    0.5 * x * (1.0 + y.tanh())
                } else {
                    x / (1.0 + (-x).exp())
                };
                assert!((got as f64 - act * u as f64).abs() < 1e-5, "gelu={gelu} x={x}");
            }
        }
        // Rows of 17 (a remainder after two vector chunks) with a masked tail, plus one row
        // masked entirely (padding queries), which must come out uniform as before.
        let mut rows: Vec<f32> = xs[..17 * 5].to_vec();
        rows[20..34].fill(-1e30);
        rows[68..85].fill(-1e30);
        let want: Vec<f64> = rows
            .chunks(17)
            .flat_map(|r| {
                let m = r.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
                let e: Vec<f64> = r.iter().map(|&v| (v as f64 - m).exp()).collect();
                let s: f64 = e.iter().sum();
                e.into_iter().map(move |v| v / s)
            })
            .collect();
        softmax_rows(&mut rows, 17);
        for (g, w) in rows.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-6, "{g} vs {w}");
        }
        assert_eq!(rows[20], 0.0, "masked keys get exactly zero weight");

        // Lengths around the 32-lane chunks, so both the vector part and the tail count.
        for n in [0, 5, 32, 63, 576, 1003] {
            let want: f64 = xs[..n].iter().zip(&up).map(|(&a, &b)| a as f64 * b as f64).sum();
            assert!((dot(&xs[..n], &up[..n]) as f64 - want).abs() < 1e-3, "dot over {n}");
            let mut y = up[..n].to_vec();
            axpy(0.5, &xs[..n], &mut y);
            for i in 0..n {
                assert!((y[i] - (up[i] + 0.5 * xs[i])).abs() < 1e-5, "axpy over {n}");
            }
        }
    }
}
