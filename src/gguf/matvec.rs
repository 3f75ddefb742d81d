//! Products of a few activation rows with a quantized GGUF matrix, read in its blocks.
//!
//! Decoding one token multiplies a single activation row by every weight matrix: the work
//! is a stream through the weights, bound by memory bandwidth. Kept as f32 the weights of
//! SmolLM2-135M are 540 MB per token; in their GGUF blocks (Q4_1, 5 bits a weight) they are
//! 85 MB. The common decoding formats (Q4_0, Q4_1, Q8_0) are dotted straight from their
//! integers, `d * sum(q x) + m * sum(x)` as llama.cpp does, with each block's `sum(x)`
//! computed once per product; the others are expanded block by block into a stack buffer by
//! the same function [`dequantize`](super::dequant::dequantize) uses and dotted there. Either
//! way the weights are exactly the dequantized matrix's; only the order of the additions
//! differs from a dense product.

use rayon::prelude::*;

use super::dequant::{f16_at, is_supported, q2_k, q3_k, q4_k, q5_0, q5_1, q5_k, q6_k};
use super::{GgmlType, SharedBytes};

/// A `[rows, cols]` weight matrix kept in its GGUF blocks.
#[derive(Clone, Debug)]
pub struct QuantMatrix {
    bytes: SharedBytes,
    ty: GgmlType,
    rows: usize,
    cols: usize,
    /// Bytes per stored row.
    row_bytes: usize,
    /// Stored row of each output row, when the two orders differ.
    row_map: Option<Vec<u32>>,
}

/// Output rows per parallel task: enough to amortise scheduling, few enough to balance.
const ROWS_PER_TASK: usize = 64;

impl QuantMatrix {
    /// Wraps a tensor of type `ty` whose PyTorch-order shape is `[rows, cols]`, or `None`
    /// when `ty` is not a block type this module reads (f32, f16 and bf16 are not: they
    /// gain nothing over the dense path) or the bytes do not match the shape.
    pub fn new(bytes: SharedBytes, ty: GgmlType, rows: usize, cols: usize) -> Option<Self> {
        let (bs, ts) = (ty.block_size()?, ty.type_size()?);
        if !is_supported(ty) || bs == 1 || cols % bs != 0 || bytes.as_slice().len() != rows * (cols / bs) * ts {
            return None;
        }
        Some(QuantMatrix {
            bytes,
            ty,
            rows,
            cols,
            row_bytes: cols / bs * ts,
            row_map: None,
        })
    }

    /// Reads output row `r` from stored row `map[r]` (a permutation of the rows).
    pub fn with_row_map(mut self, map: Vec<u32>) -> Self {
        assert_eq!(map.len(), self.rows, "one stored row per output row");
        self.row_map = Some(map);
        self
    }

    /// Rows and columns.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// `x W^T` for `x` holding `m` rows of `cols` values: `[m, rows]`, row-major.
    pub fn matmul_t(&self, x: &[f32], m: usize) -> Vec<f32> {
        assert_eq!(x.len(), m * self.cols, "x holds m rows of cols values");
        if m == 0 {
            return Vec::new();
        }
        let tasks: Vec<std::ops::Range<usize>> = (0..self.rows)
            .step_by(ROWS_PER_TASK)
            .map(|a| a..(a + ROWS_PER_TASK).min(self.rows))
            .collect();
        // Each task returns its rows' dots, output-row major.
        let parts: Vec<Vec<f32>> = tasks.par_iter().map(|r| self.dots(r.clone(), x, m)).collect();
        let mut out = vec![0f32; m * self.rows];
        for (r, part) in tasks.iter().zip(&parts) {
            for (k, dots) in part.chunks_exact(m).enumerate() {
                for (i, d) in dots.iter().enumerate() {
                    out[i * self.rows + r.start + k] = *d;
                }
            }
        }
        out
    }

    /// Dots of output rows `rows` with each of the `m` rows of `x`.
    fn dots(&self, rows: std::ops::Range<usize>, x: &[f32], m: usize) -> Vec<f32> {
        let job = Job {
            data: self.bytes.as_slice(),
            row_bytes: self.row_bytes,
            cols: self.cols,
            row_map: self.row_map.as_deref(),
            rows,
            x,
            m,
        };
        match self.ty {
            GgmlType::Q4_0 => job.run::<32, 18, Q4_0>(),
            GgmlType::Q4_1 => job.run::<32, 20, Q4_1>(),
            GgmlType::Q5_0 => job.run::<32, 22, Q5_0>(),
            GgmlType::Q5_1 => job.run::<32, 24, Q5_1>(),
            GgmlType::Q8_0 => job.run::<32, 34, Q8_0>(),
            GgmlType::Q2_K => job.run::<256, 84, Q2_K>(),
            GgmlType::Q3_K => job.run::<256, 110, Q3_K>(),
            GgmlType::Q4_K => job.run::<256, 144, Q4_K>(),
            GgmlType::Q5_K => job.run::<256, 176, Q5_K>(),
            GgmlType::Q6_K => job.run::<256, 210, Q6_K>(),
            _ => unreachable!("QuantMatrix::new admits only the block types listed here"),
        }
    }
}

/// One block format: how a block of `TS` bytes (`BS` weights) is dotted with activations.
/// Implemented by a marker type per format, so each kernel instance calls it statically and
/// inlines it (a function pointer, or a closure through `Fn`, stayed an out-of-line call).
trait Block<const BS: usize, const TS: usize> {
    /// `acc` plus the block's dot with `x` in eight lanes, and a scalar part to add as well;
    /// `x_sum` is the sum of `x`, and `w` scratch space for the weights. (By value: a
    /// `&mut` accumulator stayed in memory across blocks.)
    fn dot(block: &[u8; TS], x: &[f32; BS], x_sum: f32, w: &mut [f32; BS], acc: [f32; 8]) -> ([f32; 8], f32);
}

// The sums below use `mul_add`: one instruction in the AVX2+FMA build every x86-64 CPU of the
// last decade takes, a (slow, exact) library call in the baseline build kept for the rest.

/// `s[l] += q[j] * x[j]` over `j = 8c + l`, for integer weights `q(j)`.
#[inline(always)]
fn int_dot<const BS: usize>(q: impl Fn(usize) -> f32, x: &[f32; BS]) -> [f32; 8] {
    let mut s = [0f32; 8];
    for c in 0..BS / 8 {
        for l in 0..8 {
            s[l] = q(c * 8 + l).mul_add(x[c * 8 + l], s[l]);
        }
    }
    s
}

/// `s[l] += lo(q[j]) * x[j] + hi(q[j]) * x[16 + j]` over the 16 bytes `q` of a 4-bit block
/// (low nibbles hold weights 0-15, high nibbles 16-31).
#[inline(always)]
fn nibble_dot(qs: &[u8], x: &[f32; 32]) -> [f32; 8] {
    let mut s = [0f32; 8];
    for c in 0..2 {
        for l in 0..8 {
            let (q, j) = (qs[c * 8 + l], c * 8 + l);
            s[l] = ((q & 15) as f32).mul_add(x[j], s[l]);
            s[l] = ((q >> 4) as f32).mul_add(x[16 + j], s[l]);
        }
    }
    s
}

/// `acc + d * s`, lane by lane.
#[inline(always)]
fn add_scaled(mut acc: [f32; 8], d: f32, s: [f32; 8]) -> [f32; 8] {
    for l in 0..8 {
        acc[l] = d.mul_add(s[l], acc[l]);
    }
    acc
}

/// Q4_0: `w = d * (q - 8)`, nibbles `q` (low halves first).
struct Q4_0;
impl Block<32, 18> for Q4_0 {
    #[inline(always)]
    fn dot(b: &[u8; 18], x: &[f32; 32], x_sum: f32, _: &mut [f32; 32], acc: [f32; 8]) -> ([f32; 8], f32) {
        let d = f16_at(b, 0);
        (add_scaled(acc, d, nibble_dot(&b[2..18], x)), -8.0 * d * x_sum)
    }
}

/// Q4_1: `w = d * q + m`, nibbles `q` (low halves first).
struct Q4_1;
impl Block<32, 20> for Q4_1 {
    #[inline(always)]
    fn dot(b: &[u8; 20], x: &[f32; 32], x_sum: f32, _: &mut [f32; 32], acc: [f32; 8]) -> ([f32; 8], f32) {
        let (d, m) = (f16_at(b, 0), f16_at(b, 2));
        (add_scaled(acc, d, nibble_dot(&b[4..20], x)), m * x_sum)
    }
}

/// Q8_0: `w = d * q`, signed bytes `q`.
struct Q8_0;
impl Block<32, 34> for Q8_0 {
    #[inline(always)]
    fn dot(b: &[u8; 34], x: &[f32; 32], _: f32, _: &mut [f32; 32], acc: [f32; 8]) -> ([f32; 8], f32) {
        let d = f16_at(b, 0);
        (add_scaled(acc, d, int_dot(|j| b[2 + j] as i8 as f32, x)), 0.0)
    }
}

/// Formats dotted through their dequantizer: expand the block, then a dense dot.
macro_rules! expanded {
    ($($ty:ident, $f:ident, $bs:literal, $ts:literal;)*) => {$(
        #[allow(non_camel_case_types)]
        struct $ty;
        impl Block<$bs, $ts> for $ty {
            #[inline(always)]
            fn dot(b: &[u8; $ts], x: &[f32; $bs], _: f32, w: &mut [f32; $bs], mut acc: [f32; 8]) -> ([f32; 8], f32) {
                $f(b, w);
                for c in 0..$bs / 8 {
                    for l in 0..8 {
                        acc[l] += w[c * 8 + l] * x[c * 8 + l];
                    }
                }
                (acc, 0.0)
            }
        }
    )*};
}

expanded! {
    Q5_0, q5_0, 32, 22;
    Q5_1, q5_1, 32, 24;
    Q2_K, q2_k, 256, 84;
    Q3_K, q3_k, 256, 110;
    Q4_K, q4_k, 256, 144;
    Q5_K, q5_k, 256, 176;
    Q6_K, q6_k, 256, 210;
}

/// One task's share of [`QuantMatrix::matmul_t`].
struct Job<'a> {
    data: &'a [u8],
    row_bytes: usize,
    cols: usize,
    row_map: Option<&'a [u32]>,
    rows: std::ops::Range<usize>,
    x: &'a [f32],
    m: usize,
}

impl Job<'_> {
    /// Runs the task for block format `E`, on AVX2 and FMA when the CPU has them.
    fn run<const BS: usize, const TS: usize, E: Block<BS, TS>>(&self) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA were detected just above.
            return unsafe { self.run_avx2::<BS, TS, E>() };
        }
        self.body::<BS, TS, E>()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2<const BS: usize, const TS: usize, E: Block<BS, TS>>(&self) -> Vec<f32> {
        self.body::<BS, TS, E>()
    }

    #[inline(always)]
    fn body<const BS: usize, const TS: usize, E: Block<BS, TS>>(&self) -> Vec<f32> {
        let per_row = self.cols / BS;
        let xs: Vec<&[f32; BS]> = self
            .x
            .chunks_exact(BS)
            .map(|c| c.try_into().expect("chunks_exact yields BS values"))
            .collect();
        let sums: Vec<f32> = xs.iter().map(|x| x.iter().sum()).collect();
        let mut out = Vec::with_capacity(self.rows.len() * self.m);
        let mut w = [0f32; BS];
        for r in self.rows.clone() {
            let stored = self.row_map.map_or(r, |m| m[r] as usize);
            let row = &self.data[stored * self.row_bytes..(stored + 1) * self.row_bytes];
            for i in 0..self.m {
                // Eight lanes summed at the end: independent sums in one vector register.
                let (mut acc, mut scalar) = ([0f32; 8], 0f32);
                for (b, block) in row.chunks_exact(TS).enumerate() {
                    let k = i * per_row + b;
                    let block = block.try_into().expect("chunks_exact yields TS bytes");
                    let (a, s) = E::dot(block, xs[k], sums[k], &mut w, acc);
                    (acc, scalar) = (a, scalar + s);
                }
                out.push(acc.iter().sum::<f32>() + scalar);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::dequant::{dequantize, SUPPORTED_TYPES};

    /// Blocks of pseudo-random bytes with small f16 scales where each type keeps them.
    fn blocks(ty: GgmlType, n_blocks: usize, seed: u64) -> Vec<u8> {
        let ts = ty.type_size().unwrap();
        let mut s = seed;
        let mut bytes: Vec<u8> = (0..n_blocks * ts)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 33) as u8
            })
            .collect();
        // f16 0.01 and -0.02 where the block's scales live, so no value is inf or NaN.
        let (d, m) = (
            half::f16::from_f32(0.01).to_le_bytes(),
            half::f16::from_f32(-0.02).to_le_bytes(),
        );
        for b in bytes.chunks_exact_mut(ts) {
            match ty {
                GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => b[..2].copy_from_slice(&d),
                GgmlType::Q4_1 | GgmlType::Q5_1 => {
                    b[..2].copy_from_slice(&d);
                    b[2..4].copy_from_slice(&m);
                }
                GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q2_K => {
                    let at = if ty == GgmlType::Q2_K { 80 } else { 0 };
                    b[at..at + 2].copy_from_slice(&d);
                    b[at + 2..at + 4].copy_from_slice(&d);
                }
                GgmlType::Q3_K | GgmlType::Q6_K => {
                    let at = ts - 2;
                    b[at..].copy_from_slice(&d);
                }
                _ => unreachable!("no scale layout for {ty:?} in this test"),
            }
        }
        bytes
    }

    #[test]
    fn products_equal_the_dequantized_matrix_for_every_block_type() {
        // Every block type the dequantizer reads (so a new one without a kernel fails here).
        for &ty in SUPPORTED_TYPES.iter().filter(|t| t.block_size() != Some(1)) {
            let (rows, cols, m) = (70, 512, 3);
            let bytes = blocks(ty, rows * cols / ty.block_size().unwrap(), 7);
            let w = dequantize(ty, &bytes, rows * cols).unwrap();
            assert!(w.iter().all(|v| v.is_finite()), "{ty:?}");
            let x: Vec<f32> = (0..m * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
            let shared = SharedBytes::from(bytes);
            let q = QuantMatrix::new(shared, ty, rows, cols).unwrap();
            // Rows read in reverse through the map.
            let q = q.with_row_map((0..rows as u32).rev().collect());
            let y = q.matmul_t(&x, m);
            for i in 0..m {
                for r in 0..rows {
                    let src = rows - 1 - r;
                    let exact: f64 = (0..cols)
                        .map(|c| w[src * cols + c] as f64 * x[i * cols + c] as f64)
                        .sum();
                    let scale: f64 = (0..cols)
                        .map(|c| (w[src * cols + c] as f64 * x[i * cols + c] as f64).abs())
                        .sum();
                    let got = y[i * rows + r] as f64;
                    assert!(
                        (got - exact).abs() <= 1e-5 * scale.max(1e-6),
                        "{ty:?} row {r} input {i}: {got} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn shapes_that_do_not_fit_the_blocks_are_refused() {
        let bytes = SharedBytes::from(vec![0u8; 20 * 4]);
        let q = QuantMatrix::new(bytes.clone(), GgmlType::Q4_1, 2, 64).unwrap();
        assert!(q.matmul_t(&[], 0).is_empty(), "an empty batch is no error");
        assert!(QuantMatrix::new(bytes.clone(), GgmlType::Q4_1, 2, 48).is_none());
        assert!(QuantMatrix::new(bytes.clone(), GgmlType::Q4_1, 3, 64).is_none());
        assert!(QuantMatrix::new(bytes, GgmlType::F32, 1, 20).is_none());
    }
}
