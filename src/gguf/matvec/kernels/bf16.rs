//! f32 products on AVX-512 BF16 (`vdpbf16ps`: 32 products an instruction), exact to f32.
//!
//! Each activation is split into three bf16 values that sum to it exactly (`x = hi + mid +
//! lo`: bf16 keeps 8 significant bits, f32 24), and each weight's integer (at most six bits,
//! or the signed `q - 32` of Q6_K) is exact in bf16. Every product `q * part` is then exact
//! in f32, and `sum(q x)` is a sum of exact f32 products rounded as it accumulates, as the
//! f32 kernels' is: the activations are not quantized. Summing `lo`, then `mid`, then `hi`
//! into one accumulator adds the small terms first. Weights reach bf16 through a table
//! (`vpermw`), 32 at a time, from bytes widened to 16-bit lanes. (At the edges of the range
//! the split is not exact: the instructions read bf16 subnormals as zero, which loses parts
//! below about 1e-38, and a value within a bf16 rounding of f32's largest rounds to
//! infinity, which leaves a NaN.)
//!
//! The split activations are laid out per 32 values as `[hi; 32] [mid; 32] [lo; 32]`
//! ([`split`]); a pair of 16-bit lanes `(2i, 2i + 1)` of weights meets the same pair of
//! activations, so weight `l` of a 32-weight run lands in f32 lane `l / 2`.

use std::arch::x86_64::*;

use super::avx2::{f16, k4_mins};
use crate::gguf::matvec::int8::k4_scales_mins;

/// bf16 values per 32 activations: three parts of 32.
pub(in crate::gguf::matvec) const PER_32: usize = 96;

/// `x` (a multiple of 32 values) split into bf16 parts laid out as the module describes.
/// # Safety
/// The CPU must have AVX-512 F, BW and BF16.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub(in crate::gguf::matvec) unsafe fn split(x: &[f32]) -> Vec<u16> {
    assert!(x.len().is_multiple_of(32), "activations come in runs of 32");
    let mut out = vec![0u16; x.len() / 32 * PER_32];
    for (chunk, dst) in x.chunks_exact(32).zip(out.chunks_exact_mut(PER_32)) {
        for half in 0..2 {
            // SAFETY: 16 values of `chunk` from `16 * half`.
            let mut rest = unsafe { _mm512_loadu_ps(chunk.as_ptr().add(16 * half)) };
            for part in 0..3 {
                let b = _mm512_cvtneps_pbh(rest);
                let bits: __m256i = std::mem::transmute::<__m256bh, __m256i>(b);
                // bf16 is the top half of an f32: what is left is exact in f32.
                let back = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(bits)));
                rest = _mm512_sub_ps(rest, back);
                // SAFETY: 16 values of `dst` from `32 * part + 16 * half`, inside its 96.
                unsafe { _mm256_storeu_si256(dst.as_mut_ptr().add(32 * part + 16 * half) as *mut __m256i, bits) };
            }
        }
    }
    // What is left after three parts is zero: `hi` takes the top 8 of 24 bits, `mid` the
    // next, `lo` the last (`tests` checks the sums).
    out
}

/// The dot of 32 bf16 weights `w` with the split activations at `x` (96 values), smallest
/// part first; sixteen lanes, lane `i` holding weights `2i` and `2i + 1`.
#[inline(always)]
unsafe fn dot32(w: __m512i, x: *const u16) -> __m512 {
    // (No closure for the loads: a closure does not take on its caller's target features.)
    let w = std::mem::transmute::<__m512i, __m512bh>(w);
    let mut a = _mm512_setzero_ps();
    for part in [2, 1, 0] {
        let xs = _mm512_loadu_si512(x.add(32 * part) as *const _);
        a = _mm512_dpbf16_ps(a, w, std::mem::transmute::<__m512i, __m512bh>(xs));
    }
    a
}

/// A table of 32 bf16 values for `vpermw`: entry `j` is `f(j)`.
#[inline(always)]
unsafe fn table(f: impl Fn(i32) -> i32, from: i32) -> __m512i {
    let mut t = [0u16; 32];
    for (j, v) in t.iter_mut().enumerate() {
        *v = ((f(from + j as i32) as f32).to_bits() >> 16) as u16;
    }
    _mm512_loadu_si512(t.as_ptr() as *const _)
}

/// The 32 bytes at `p` widened to 16-bit lanes.
#[inline(always)]
unsafe fn widen32(p: *const u8) -> __m512i {
    _mm512_cvtepu8_epi16(_mm256_loadu_si256(p as *const __m256i))
}

/// Q4_K (layout in [`super::k4_dot`]): `acc + d sum_j sc_j dot(q_j, x_j) - dmin sum_j m_j
/// sum(x_j)`; `x` the block's 768 split activations, `x_sums` the sums of each 32.
#[inline(always)]
pub(in crate::gguf::matvec) unsafe fn q4_k(b: &[u8; 144], x: &[u16], x_sums: &[f32; 8], acc: __m512) -> __m512 {
    debug_assert!(x.len() >= 8 * PER_32);
    let (sc, m) = k4_scales_mins(&b[4..16]);
    // Entry j is j's low nibble: the low nibbles need no mask.
    let nibble = table(|j| j & 15, 0);
    let (mut even, mut odd) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    for c in 0..4 {
        let v = widen32(b.as_ptr().add(16 + 32 * c));
        let lo = dot32(_mm512_permutexvar_epi16(v, nibble), x.as_ptr().add(PER_32 * 2 * c));
        let hi = _mm512_permutexvar_epi16(_mm512_srli_epi16::<4>(v), nibble);
        let hi = dot32(hi, x.as_ptr().add(PER_32 * (2 * c + 1)));
        even = _mm512_fmadd_ps(_mm512_set1_ps(sc[2 * c] as f32), lo, even);
        odd = _mm512_fmadd_ps(_mm512_set1_ps(sc[2 * c + 1] as f32), hi, odd);
    }
    let mins = _mm512_zextps256_ps512(k4_mins(b, &m, _mm256_loadu_ps(x_sums.as_ptr())));
    let block = _mm512_fmadd_ps(_mm512_set1_ps(f16(b, 0)), _mm512_add_ps(even, odd), mins);
    _mm512_add_ps(acc, block)
}

/// Q6_K (layout in [`super::Q6_K`]): `acc + d sum_s sc_s dot(q_s - 32, x_s)`. The 32 weights
/// of group `g` of half `n` are one run of activations; lanes 0-7 are sub-block `8n + 2g`,
/// 8-15 the next.
#[inline(always)]
pub(in crate::gguf::matvec) unsafe fn q6_k(b: &[u8; 210], x: &[u16], acc: __m512) -> __m512 {
    debug_assert!(x.len() >= 8 * PER_32);
    let p = b.as_ptr();
    // Entry j of the 64 is j - 32 (`vpermt2w` reads six bits of each index).
    let (low, high) = (table(|j| j - 32, 0), table(|j| j - 32, 32));
    let scales = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p.add(192) as *const __m128i)));
    let low_bits = _mm512_set1_epi16(0x0f);
    let mut parts = [_mm512_setzero_ps(); 4];
    for n in 0..2 {
        let ql = [widen32(p.add(64 * n)), widen32(p.add(64 * n + 32))];
        let qh = widen32(p.add(128 + 32 * n));
        // Bits 2g, 2g + 1 of qh moved to bits 4, 5.
        let h = [
            _mm512_slli_epi16::<4>(qh),
            _mm512_slli_epi16::<2>(qh),
            qh,
            _mm512_srli_epi16::<2>(qh),
        ];
        for g in 0..4 {
            let nibbles = if g < 2 {
                ql[g % 2]
            } else {
                _mm512_srli_epi16::<4>(ql[g % 2])
            };
            // Bits 0-3 from the nibbles, the rest from `h` (bits above 5 are not read).
            let q = _mm512_ternarylogic_epi32::<0xCA>(low_bits, nibbles, h[g]);
            let w = _mm512_permutex2var_epi16(low, q, high);
            let s = dot32(w, x.as_ptr().add(PER_32 * (4 * n + g)));
            let sub = (8 * n + 2 * g) as i32;
            let which = _mm512_set_epi32(
                sub + 1,
                sub + 1,
                sub + 1,
                sub + 1,
                sub + 1,
                sub + 1,
                sub + 1,
                sub + 1,
                sub,
                sub,
                sub,
                sub,
                sub,
                sub,
                sub,
                sub,
            );
            parts[g] = _mm512_fmadd_ps(_mm512_permutexvar_ps(which, scales), s, parts[g]);
        }
    }
    let sum = _mm512_add_ps(_mm512_add_ps(parts[0], parts[1]), _mm512_add_ps(parts[2], parts[3]));
    _mm512_fmadd_ps(_mm512_set1_ps(f16(b, 208)), sum, acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_parts_sum_exactly_to_the_activations() {
        if !super::super::super::has_bf16() {
            return;
        }
        let mut s = 1u64;
        let mut x: Vec<f32> = (0..4096)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                f32::from_bits((s >> 32) as u32)
            })
            .filter(|v| v.is_finite() && v.abs() < 1e30 && v.abs() > 1e-30)
            .take(2048)
            .collect();
        x.extend([0.0, -0.0, 1.0, -3.5, 1e-20, 65504.0, 0.1, 1.0 / 3.0]);
        x.truncate(x.len() / 32 * 32);
        // SAFETY: the features were detected above.
        let parts = unsafe { split(&x) };
        let bf = |v: u16| f32::from_bits((v as u32) << 16);
        for (k, v) in x.iter().enumerate() {
            let at = k / 32 * PER_32 + k % 32;
            let (hi, mid, lo) = (bf(parts[at]), bf(parts[at + 32]), bf(parts[at + 64]));
            assert_eq!(hi + mid + lo, *v, "value {k}: {hi} + {mid} + {lo}");
            assert_eq!((hi as f64) + (mid as f64) + (lo as f64), *v as f64, "value {k}");
        }
    }
}
