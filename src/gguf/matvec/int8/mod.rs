//! Block dots with activations quantized to 8 bits, as llama.cpp decodes.
//!
//! The f32 kernels ([`super::kernels`]) spend most of their time turning weights into floats;
//! here the activations are turned into bytes instead, once per product: `x ≈ d q` with
//! `d = max|x| / 127` and signed bytes `q`, per 256 values for the K-quants (llama.cpp's Q8_K)
//! and per 32 for the 32-weight formats (its Q8_0). A sub-block's `sum(w_int q)` is then an
//! exact integer sum, 32 byte products per instruction on AVX2 (`vpmaddubsw`, [`avx2`]).
//! Offsets and mins (`-8 d sum(x)`, `m sum(x)`) use the exact sums of the f32 activations.
//! What changes is the rounding of the activations, at most half a step, `max|x| / 254`, per
//! value: the price [`crate::model::DecodeActivations::Int8`] documents and its tests bound.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
pub(super) use avx2::hsum;

use crate::gguf::dequant::f16_at;
#[cfg(target_arch = "x86_64")]
use crate::gguf::matvec::kernels::avx2::{f16, k4_mins};

/// `N` activations as `d * q`, with exact f32 sums of each 16 activations (the first
/// `N / 16` of `sums`).
#[derive(Clone, Debug)]
pub(super) struct Quantized<const N: usize> {
    pub d: f32,
    pub q: [i8; N],
    pub sums: [f32; 16],
}

/// Per 256 values: the activations of the K-quants.
pub(super) type Q8K = Quantized<256>;
/// Per 32 values: the activations of the 32-weight formats.
pub(super) type Q8B = Quantized<32>;

impl<const N: usize> Quantized<N> {
    /// Quantizes `N` activations: `q = round(x / d)`, `d = max|x| / 127` (all zero: `d = 0`).
    pub fn new(x: &[f32]) -> Self {
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let mut y = Quantized {
            d: amax / 127.0,
            q: [0; N],
            sums: [0.0; 16],
        };
        if x.iter().any(|v| !v.is_finite()) {
            // Keeps a NaN or inf input visible in the output rather than quietly rounding it.
            y.d = f32::NAN;
        } else if amax > 0.0 {
            let inv = 127.0 / amax;
            for (q, v) in y.q.iter_mut().zip(x) {
                *q = (v * inv).round() as i8;
            }
        }
        for (s, c) in y.sums.iter_mut().zip(x.chunks_exact(16)) {
            *s = c.iter().sum();
        }
        y
    }

    /// Sum of the activations `16 i..16 (i + n)`.
    #[inline(always)]
    fn sum(&self, i: usize, n: usize) -> f32 {
        self.sums[i..i + n].iter().sum()
    }
}

/// A row of activations quantized in groups of `N` (its length a multiple of `N`).
pub(super) fn quantize<const N: usize>(x: &[f32]) -> Vec<Quantized<N>> {
    x.chunks_exact(N).map(Quantized::new).collect()
}

/// A block format with an 8-bit-activation kernel: blocks of `TS` bytes, activations per `N`.
pub(super) trait Int8Block<const TS: usize, const N: usize> {
    /// The block's dot with its quantized activations `y`, in plain integer arithmetic.
    fn dot(block: &[u8; TS], y: &Quantized<N>) -> f32;
    /// [`Int8Block::dot`] with AVX2: eight lanes added to `acc` and a scalar part returned.
    /// # Safety
    /// The CPU must have AVX2, FMA and F16C.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot_avx2(
        block: &[u8; TS],
        y: &Quantized<N>,
        acc: std::arch::x86_64::__m256,
    ) -> (std::arch::x86_64::__m256, f32);
}

/// `sum_j q[j] y[j]` with the weights `q` (unsigned) from `weight(j)`.
#[inline(always)]
fn int_sum(n: usize, weight: impl Fn(usize) -> u8, y: &[i8]) -> i32 {
    (0..n).map(|j| weight(j) as i32 * y[j] as i32).sum()
}

/// The five-bit weight `j` of a Q5_0/Q5_1 block whose `qh` starts at `b[at]`.
#[inline(always)]
fn q5(b: &[u8], at: usize, j: usize) -> u8 {
    let qh = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let nibble = if j < 16 {
        b[at + 4 + j] & 15
    } else {
        b[at + 4 + j - 16] >> 4
    };
    nibble | ((((qh >> j) & 1) << 4) as u8)
}

/// The four-bit weight `j` of a Q4_0/Q4_1 block whose nibbles start at `b[at]`.
#[inline(always)]
fn q4(b: &[u8], at: usize, j: usize) -> u8 {
    if j < 16 {
        b[at + j] & 15
    } else {
        b[at + j - 16] >> 4
    }
}

/// The factor of a 32-weight block's activation sum, `m - d offset`, for `w = d (q - offset) + m`
/// with `d` at `b[0..2]` and `m` at `b[min_at..]` (no min: 0).
#[inline(always)]
fn sum_factor(b: &[u8], offset: f32, min_at: Option<usize>) -> f32 {
    min_at.map_or(0.0, |at| f16_at(b, at)) - f16_at(b, 0) * offset
}

/// Implements [`Int8Block`] for a 32-weight format from its weights (`$q(b, $at, j)` in
/// portable code, `avx2::$avx(b, $at, ..)` with AVX2), offset and min: `w = d (q - offset) +
/// m`, so `sum(w x) = d dy sum(q yq) + (m - d offset) sum(x)`.
macro_rules! int8_32 {
    ($ty:ident, $ts:literal, $q:ident, $avx:ident, $at:literal, $offset:literal, $min_at:expr) => {
        #[allow(non_camel_case_types)]
        pub(super) struct $ty;
        impl Int8Block<$ts, 32> for $ty {
            #[inline(always)]
            fn dot(b: &[u8; $ts], y: &Q8B) -> f32 {
                let q = int_sum(32, |j| $q(b, $at, j), &y.q);
                f16_at(b, 0) * y.d * q as f32 + sum_factor(b, $offset, $min_at) * y.sum(0, 2)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline(always)]
            unsafe fn dot_avx2(
                b: &[u8; $ts],
                y: &Q8B,
                acc: std::arch::x86_64::__m256,
            ) -> (std::arch::x86_64::__m256, f32) {
                let q = avx2::$avx(b, $at, &y.q, f16_at(b, 0) * y.d, acc);
                (q, sum_factor(b, $offset, $min_at) * y.sum(0, 2))
            }
        }
    };
}

int8_32!(Q4_0, 18, q4, four_bit, 2, 8.0, None);
int8_32!(Q4_1, 20, q4, four_bit, 4, 0.0, Some(2));
int8_32!(Q5_0, 22, q5, five_bit, 2, 16.0, None);
int8_32!(Q5_1, 24, q5, five_bit, 4, 0.0, Some(2));

/// Q8_0: `w = d q` with signed bytes `q`.
#[allow(non_camel_case_types)]
pub(super) struct Q8_0;
impl Int8Block<34, 32> for Q8_0 {
    #[inline(always)]
    fn dot(b: &[u8; 34], y: &Q8B) -> f32 {
        let s: i32 = (0..32).map(|j| b[2 + j] as i8 as i32 * y.q[j] as i32).sum();
        f16_at(b, 0) * y.d * s as f32
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 34], y: &Q8B, acc: std::arch::x86_64::__m256) -> (std::arch::x86_64::__m256, f32) {
        (avx2::q8_0(b, &y.q, f16_at(b, 0) * y.d, acc), 0.0)
    }
}

/// The eight six-bit scales and mins packed in `s` (12 bytes, as the dequantizer's
/// `scale_min_k4` reads them), unpacked
/// four at a time in 32-bit words as llama.cpp does.
#[inline(always)]
pub(super) fn k4_scales_mins(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let w = |i: usize| u32::from_le_bytes([s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]]);
    let (w0, w1, w2) = (w(0), w(1), w(2));
    let (six, four, two) = (0x3f3f_3f3f, 0x0f0f_0f0f, 0x0303_0303);
    let sc_lo = w0 & six;
    let sc_hi = (w2 & four) | (((w0 >> 6) & two) << 4);
    let m_lo = w1 & six;
    let m_hi = ((w2 >> 4) & four) | (((w1 >> 6) & two) << 4);
    let join = |a: u32, b: u32| {
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&a.to_le_bytes());
        out[4..].copy_from_slice(&b.to_le_bytes());
        out
    };
    (join(sc_lo, sc_hi), join(m_lo, m_hi))
}

/// The scales of a Q4_K block and its mins' part, `-dmin sum_j m_j sum(x_j)`.
#[inline(always)]
fn q4k_scales(b: &[u8; 144], y: &Q8K) -> ([i16; 8], f32) {
    let (scales, mins) = k4_scales_mins(&b[4..16]);
    let m: f32 = (mins.iter().zip(y.sums.chunks_exact(2)))
        .map(|(&m, s)| m as f32 * (s[0] + s[1]))
        .sum();
    (scales.map(|v| v as i16), -f16_at(b, 2) * m)
}

/// Q4_K (layout in [`super::kernels`]): `d dy sum_j sc_j sum(q4 yq) - dmin sum_j m_j sum(x_j)`.
#[allow(non_camel_case_types)]
pub(super) struct Q4_K;
impl Int8Block<144, 256> for Q4_K {
    #[inline(always)]
    fn dot(b: &[u8; 144], y: &Q8K) -> f32 {
        let (sc, mins) = q4k_scales(b, y);
        let qs = &b[16..144];
        let scaled: i32 = (0..8)
            .map(|j| {
                let shift = 4 * (j % 2);
                let s = int_sum(32, |l| (qs[32 * (j / 2) + l] >> shift) & 15, &y.q[32 * j..]);
                sc[j] as i32 * s
            })
            .sum();
        f16_at(b, 0) * y.d * scaled as f32 + mins
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 144], y: &Q8K, acc: std::arch::x86_64::__m256) -> (std::arch::x86_64::__m256, f32) {
        let (sc, m) = k4_scales_mins(&b[4..16]);
        let acc = avx2::q4_k(&b[16..144], &y.q, &sc, f16(b, 0) * y.d, acc);
        (
            std::arch::x86_64::_mm256_add_ps(acc, k4_mins(b, &m, avx2::sums_of_32(&y.sums))),
            0.0,
        )
    }
}

/// The signed scales of a Q6_K block and its offsets' part, `-32 d sum_s sc_s sum(x_s)`.
#[inline(always)]
fn q6k_scales(b: &[u8; 210], y: &Q8K) -> ([i16; 16], f32) {
    let mut sc = [0i16; 16];
    let mut offset = 0f32;
    for (s, v) in sc.iter_mut().enumerate() {
        *v = b[192 + s] as i8 as i16;
        offset += *v as f32 * y.sums[s];
    }
    (sc, -32.0 * f16_at(b, 208) * offset)
}

/// Q6_K (layout in [`super::kernels`]): with the six-bit `q6` unsigned,
/// `d dy sum_s sc_s sum(q6 yq) - 32 d sum_s sc_s sum(x_s)` over its 16 sub-blocks.
#[allow(non_camel_case_types)]
pub(super) struct Q6_K;
impl Int8Block<210, 256> for Q6_K {
    #[inline(always)]
    fn dot(b: &[u8; 210], y: &Q8K) -> f32 {
        let (sc, offset) = q6k_scales(b, y);
        let mut scaled = 0i32;
        for n in 0..2 {
            let (ql, qh) = (&b[64 * n..64 * n + 64], &b[128 + 32 * n..160 + 32 * n]);
            for g in 0..4 {
                let low = &ql[32 * (g % 2)..32 * (g % 2) + 32];
                let q6 = |l: usize| ((low[l] >> (4 * (g / 2))) & 15) | (((qh[l] >> (2 * g)) & 3) << 4);
                for h in 0..2 {
                    let at = 128 * n + 32 * g + 16 * h;
                    let s = int_sum(16, |l| q6(16 * h + l), &y.q[at..]);
                    scaled += sc[8 * n + 2 * g + h] as i32 * s;
                }
            }
        }
        f16_at(b, 208) * y.d * scaled as f32 + offset
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 210], y: &Q8K, acc: std::arch::x86_64::__m256) -> (std::arch::x86_64::__m256, f32) {
        use std::arch::x86_64::{_mm256_fmadd_ps, _mm256_set1_ps};
        let d = f16(b, 208);
        let acc = avx2::q6_k(b, &y.q, d * y.d, acc);
        let offsets = avx2::q6_k_scaled_sums(b, &y.sums);
        (_mm256_fmadd_ps(_mm256_set1_ps(-32.0 * d), offsets, acc), 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::dequant::scale_min_k4;

    #[test]
    fn packed_scales_unpack_as_the_dequantizer_reads_them() {
        for seed in 0..64u8 {
            let s: Vec<u8> = (0..12u8)
                .map(|i| i.wrapping_mul(73).wrapping_add(seed.wrapping_mul(151)))
                .collect();
            let (sc, m) = k4_scales_mins(&s);
            for j in 0..8 {
                assert_eq!((sc[j], m[j]), scale_min_k4(j, &s), "seed {seed} sub-block {j}");
            }
        }
    }

    #[test]
    fn quantized_activations_are_within_half_a_step() {
        let x: Vec<f32> = (0..256).map(|i| ((i * 53 % 211) as f32 - 105.0) / 7.0).collect();
        let y = Q8K::new(&x);
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_eq!(y.d, amax / 127.0);
        for (q, v) in y.q.iter().zip(&x) {
            assert!((y.d * *q as f32 - v).abs() <= y.d * 0.5 + 1e-6, "{v} -> {q}");
        }
        for (s, c) in y.sums.iter().zip(x.chunks_exact(16)) {
            assert_eq!(*s, c.iter().sum::<f32>());
        }
        assert!(Q8K::new(&[0.0; 256]).q.iter().all(|&q| q == 0));
        let mut bad = [1.0f32; 32];
        bad[3] = f32::NAN;
        assert!(Q8B::new(&bad).d.is_nan(), "a NaN activation must not vanish");
    }
}
