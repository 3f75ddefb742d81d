//! Q4_K, Q6_K and Q5_0 products on AVX-512 VNNI (`vpdpbusd`: 64 byte products an
//! instruction), with activations held to f32's precision.
//!
//! Each run of 256 activations is written as 24-bit integers on a common step, `x = step *
//! v` with `|v| <= 127 * 2^16` (`step = max|x| / (127 * 2^16)`): the largest keeps 23 of
//! f32's 24 significant bits, and every value is off by at most half a step, `2^-24` of the
//! run's largest (`v = x / step` is found in f64, so only its own rounding counts). Each `v`
//! is stored as three signed bytes (`v = a0 + 2^8 a1 + 2^16 a2`), and a weight's integer
//! (four or six bits) meets each byte in one
//! `vpdpbusd`; the three sums are joined in integers (`(s2 << 8 + s1) << 8 + s0`, exact:
//! four six-bit weights times `v` stay below 2^31), converted to f32 once per four weights
//! and scaled by the sub-block's scale. Against the three bf16 products per weight that held
//! activations exactly to f32 before, it is half the multiply instructions; the result is
//! within the reference tests' tolerance (BENCHMARKS.md measures how far from the exact
//! product). (A run holding an infinity or a NaN does not give the f32 product's NaN: its
//! step is not finite.)
//!
//! Layout of a run ([`Act24`]): within each 128 values the order is `0..32, 64..96, 32..64,
//! 96..128`, so a Q4_K register of 64 weight bytes, whose low nibbles are weights `0..32` and
//! `64..96` of the 128, meets 64 consecutive activation bytes. Q5_0 blocks (32 weights, in
//! models whose width is no multiple of 256) take runs of 32 on a step each ([`Act24x32`]),
//! in their natural order, 32 byte products an instruction.

use std::arch::x86_64::*;

use super::avx2::{f16, k4_mins};
use crate::gguf::matvec::int8::k4_scales_mins;

/// The largest `|v|`: `2^16 * 127`, so the top byte of a balanced split stays a signed byte.
const V_MAX: f32 = 127.0 * 65536.0;

/// 256 activations prepared for the kernels (see the module).
#[repr(C, align(64))]
pub(in crate::gguf::matvec) struct Act24 {
    /// Byte `k` of each `v` (`a0`, `a1`, `a2`), in the module's order.
    bytes: [[i8; 256]; 3],
    /// `32 * (v_4i + ... + v_4i+3)` for each four values in that order: Q6_K's `q - 32`.
    offsets: [i32; 64],
    /// The sum of each 32 activations in natural order, in f32 (Q4_K's mins).
    sums: [f32; 8],
    step: f32,
}

/// Where value `i` (0..256) of a run goes in the module's order.
fn position(i: usize) -> usize {
    const RUNS: [usize; 4] = [0, 2, 1, 3];
    i / 128 * 128 + RUNS[i % 128 / 32] * 32 + i % 32
}

/// `x` (a multiple of 256 values) prepared for the kernels.
/// # Safety
/// The CPU must have AVX-512 F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(in crate::gguf::matvec) unsafe fn prepare(x: &[f32]) -> Vec<Act24> {
    assert!(x.len().is_multiple_of(256), "activations come in runs of 256");
    x.chunks_exact(256)
        .zip(super::super::sums_of_32::<256>(x))
        .map(|(run, sums)| {
            let mut a = Act24 {
                bytes: [[0; 256]; 3],
                offsets: [0; 64],
                sums,
                step: 0.0,
            };
            // SAFETY: the features are enabled here.
            a.step = unsafe { write_run(run, position, &mut a.bytes, &mut a.offsets, 32) };
            a
        })
        .collect()
}

/// 32 activations prepared for the kernels of the 32-weight formats ([`q5_0`]): written as
/// [`Act24`]'s are, on a step of their own, in their natural order.
#[repr(C, align(32))]
pub(in crate::gguf::matvec) struct Act24x32 {
    /// Byte `k` of each `v`.
    bytes: [[i8; 32]; 3],
    /// `16 * (v_4i + ... + v_4i+3)` for each four values: Q5_0's `q - 16`.
    offsets: [i32; 8],
    step: f32,
}

/// `x` (a multiple of 32 values) prepared for the 32-weight kernels.
/// # Safety
/// The CPU must have AVX-512 F and BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(in crate::gguf::matvec) unsafe fn prepare_32(x: &[f32]) -> Vec<Act24x32> {
    assert!(x.len().is_multiple_of(32), "activations come in runs of 32");
    x.chunks_exact(32)
        .map(|run| {
            let mut a = Act24x32 {
                bytes: [[0; 32]; 3],
                offsets: [0; 8],
                step: 0.0,
            };
            // SAFETY: the features are enabled here.
            a.step = unsafe { write_run(run, |i| i, &mut a.bytes, &mut a.offsets, 16) };
            a
        })
        .collect()
}

/// Writes the `N` values of `run` as integers on the run's step (returned): value `i`'s three
/// balanced bytes at `bytes[k][at(i)]` (`at` keeps each sixteen together, from a multiple of
/// 16), and `factor` times each four values' sum at `offsets[at(i) / 4]`.
#[inline(always)]
pub(in crate::gguf::matvec) unsafe fn write_run<const N: usize>(
    run: &[f32],
    at: impl Fn(usize) -> usize,
    bytes: &mut [[i8; N]; 3],
    offsets: &mut [i32],
    factor: i32,
) -> f32 {
    assert_eq!(run.len(), N);
    let step = run.iter().fold(0f32, |m, v| m.max(v.abs())) / V_MAX;
    // (A run too small for a step, below about 1e-38, is left at zero.)
    let inv = _mm512_set1_pd(if step > 0.0 { 1.0 / step as f64 } else { 0.0 });
    for (j, sixteen) in run.chunks_exact(16).enumerate() {
        let p = sixteen.as_ptr();
        let v = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(steps(p, inv)), steps(p.add(8), inv));
        // Balanced bytes: each is the low byte read as signed, the rest carried up.
        let up = _mm512_srai_epi32::<8>(_mm512_sub_epi32(v, low_signed(v)));
        let top = _mm512_srai_epi32::<8>(_mm512_sub_epi32(up, low_signed(up)));
        let to = at(16 * j);
        assert!(to.is_multiple_of(16) && to + 16 <= N);
        for (k, part) in [v, up, top].into_iter().enumerate() {
            // SAFETY: 16 bytes of `bytes[k]` from `to` (checked above).
            _mm_storeu_si128(
                bytes[k].as_mut_ptr().add(to) as *mut __m128i,
                _mm512_cvtepi32_epi8(part),
            );
        }
        let mut vs = [0i32; 16];
        _mm512_storeu_si512(vs.as_mut_ptr() as *mut _, v);
        for (f, four) in vs.chunks_exact(4).enumerate() {
            offsets[to / 4 + f] = factor * four.iter().sum::<i32>();
        }
    }
    step
}

/// The eight f32 at `p` in steps (`x * inv`, rounded), found in f64.
#[inline(always)]
unsafe fn steps(p: *const f32, inv: __m512d) -> __m256i {
    _mm512_cvtpd_epi32(_mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p)), inv))
}

/// The low byte of each lane, read as signed.
#[inline(always)]
unsafe fn low_signed(v: __m512i) -> __m512i {
    _mm512_srai_epi32::<24>(_mm512_slli_epi32::<24>(v))
}

/// `sum(w v)` over each four bytes, in sixteen lanes: 64 weight bytes `w` (unsigned) against
/// the 64 prepared activations from `at`.
#[inline(always)]
unsafe fn dot64(w: __m512i, x: &Act24, at: usize) -> __m512i {
    let byte = |k: usize| _mm512_load_si512(x.bytes[k].as_ptr().add(at) as *const _);
    let s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, byte(2));
    let s = _mm512_dpbusd_epi32(_mm512_slli_epi32::<8>(s), w, byte(1));
    _mm512_dpbusd_epi32(_mm512_slli_epi32::<8>(s), w, byte(0))
}

/// Sixteen lanes: the first eight `a`, the rest `b`.
#[inline(always)]
unsafe fn halves(a: i32, b: i32) -> __m512i {
    _mm512_mask_blend_epi32(0xff00, _mm512_set1_epi32(a), _mm512_set1_epi32(b))
}

/// Q4_K (layout in [`super::k4_dot`]): `acc + d step sum_j sc_j sum(q_j v_j) - dmin sum_j m_j
/// sum(x_j)`. The 64 bytes from `16 + 64p` hold, low nibbles, sub-blocks `4p` and `4p + 2`,
/// high nibbles `4p + 1` and `4p + 3`.
#[inline(always)]
pub(in crate::gguf::matvec) unsafe fn q4_k(b: &[u8; 144], x: &Act24, acc: __m512) -> __m512 {
    let (sc, m) = k4_scales_mins(&b[4..16]);
    let scales = _mm512_castps256_ps512(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
        sc.as_ptr() as *const __m128i
    ))));
    let nibble = _mm512_set1_epi8(0x0f);
    let mut sum = _mm512_setzero_ps();
    for p in 0..2 {
        let v = _mm512_loadu_si512(b.as_ptr().add(16 + 64 * p) as *const _);
        let lo = _mm512_and_si512(v, nibble);
        let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), nibble);
        for (h, w) in [lo, hi].into_iter().enumerate() {
            let s = dot64(w, x, 128 * p + 64 * h);
            let sub = (4 * p + h) as i32;
            let scale = _mm512_permutexvar_ps(halves(sub, sub + 2), scales);
            sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, sum);
        }
    }
    let mins = _mm512_zextps256_ps512(k4_mins(b, &m, _mm256_loadu_ps(x.sums.as_ptr())));
    let block = _mm512_fmadd_ps(_mm512_set1_ps(f16(b, 0) * x.step), sum, mins);
    _mm512_add_ps(acc, block)
}

/// Q6_K (layout in [`super::Q6_K`]): `acc + d step sum_s sc_s sum((q_s - 32) v_s)`. In the
/// module's order the 128 values of half `n` are weights `g = 0, 2` of [`super::Q6_K`]'s
/// groups, then `g = 1, 3`: nibbles from the low, then the high halves of `ql`'s first 32
/// bytes, and then of its last 32.
#[inline(always)]
pub(in crate::gguf::matvec) unsafe fn q6_k(b: &[u8; 210], x: &Act24, acc: __m512) -> __m512 {
    let p = b.as_ptr();
    let scales = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p.add(192) as *const __m128i)));
    let (nibble, two_bits) = (_mm512_set1_epi8(0x0f), _mm512_set1_epi8(0x30));
    // Sixteen-bit lanes of the first half shifted left by 4, of the second not at all.
    let shift = _mm512_mask_blend_epi16(0xffff_0000, _mm512_set1_epi16(4), _mm512_setzero_si512());
    let mut sum = _mm512_setzero_ps();
    for n in 0..2 {
        let ql = _mm512_loadu_si512(p.add(64 * n) as *const _);
        let ql_hi = _mm512_srli_epi16::<4>(ql);
        let qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(p.add(128 + 32 * n) as *const __m256i));
        // First 32 bytes of `ql` with their high nibbles (g = 0, 2), then the last 32 (1, 3).
        let nibbles = [
            _mm512_shuffle_i64x2::<0x44>(ql, ql_hi),
            _mm512_shuffle_i64x2::<0xEE>(ql, ql_hi),
        ];
        // The two bits above each: bits 0-1 and 4-5 of `qh`, then bits 2-3 and 6-7, at 4-5.
        let high = [
            _mm512_and_si512(_mm512_sllv_epi16(qh, shift), two_bits),
            _mm512_and_si512(_mm512_sllv_epi16(_mm512_srli_epi16::<2>(qh), shift), two_bits),
        ];
        for h in 0..2 {
            // (nibbles & 0x0f) | high
            let w = _mm512_ternarylogic_epi32::<0xEA>(nibble, nibbles[h], high[h]);
            let at = 128 * n + 64 * h;
            let offsets = _mm512_load_si512(x.offsets.as_ptr().add(at / 4) as *const _);
            let s = _mm512_sub_epi32(dot64(w, x, at), offsets);
            // Lanes of four: sub-blocks 8n + 2h, 8n + 2h + 1, then 8n + 2h + 4, 8n + 2h + 5.
            let sub = (8 * n + 2 * h) as i32;
            let which = _mm512_setr_epi32(
                sub,
                sub,
                sub,
                sub,
                sub + 1,
                sub + 1,
                sub + 1,
                sub + 1,
                sub + 4,
                sub + 4,
                sub + 4,
                sub + 4,
                sub + 5,
                sub + 5,
                sub + 5,
                sub + 5,
            );
            sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(which, scales), sum);
        }
    }
    _mm512_fmadd_ps(_mm512_set1_ps(f16(b, 208) * x.step), sum, acc)
}

/// Q5_0 (layout in [`super::q5_ints`]): `acc + d step sum((q - 16) v)`, in the low eight
/// lanes. The 32 five-bit weights are put in one register of bytes (nibbles `0..16` low,
/// `16..32` high, the fifth bits added from `qh` as a byte mask).
#[inline(always)]
pub(in crate::gguf::matvec) unsafe fn q5_0(b: &[u8; 22], x: &Act24x32, acc: __m512) -> __m512 {
    let nibble = _mm_set1_epi8(0x0f);
    let qs = _mm_loadu_si128(b.as_ptr().add(6) as *const __m128i);
    let low = _mm_and_si128(qs, nibble);
    let high = _mm_and_si128(_mm_srli_epi16::<4>(qs), nibble);
    let q = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(low), high);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let q = _mm256_mask_add_epi8(q, qh, q, _mm256_set1_epi8(16));
    let byte = |k: usize| _mm256_load_si256(x.bytes[k].as_ptr() as *const __m256i);
    let s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, byte(2));
    let s = _mm256_dpbusd_epi32(_mm256_slli_epi32::<8>(s), q, byte(1));
    let s = _mm256_dpbusd_epi32(_mm256_slli_epi32::<8>(s), q, byte(0));
    let s = _mm256_sub_epi32(s, _mm256_load_si256(x.offsets.as_ptr() as *const __m256i));
    let scale = _mm512_set1_ps(f16(b, 0) * x.step);
    _mm512_fmadd_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(s)), scale, acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_activations_are_within_half_a_step_and_their_bytes_add_up() {
        if !super::super::super::has_vnni() {
            return;
        }
        let mut s = 1u64;
        let mut x: Vec<f32> = (0..1024)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 10f32.powi((s % 7) as i32 - 3)
            })
            .collect();
        x[5] = 3700.0; // one run with an outlier
        x[300..556].fill(0.0); // and one of zeros
                               // SAFETY: the features were detected above.
        let runs = unsafe { prepare(&x) };
        for (r, (a, run)) in runs.iter().zip(x.chunks_exact(256)).enumerate() {
            let max = run.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_eq!(a.step, max / V_MAX, "run {r}");
            for (i, xv) in run.iter().enumerate() {
                let at = position(i);
                let v = a.bytes[0][at] as i64 + 256 * a.bytes[1][at] as i64 + 65536 * a.bytes[2][at] as i64;
                let err = (v as f64 * a.step as f64 - *xv as f64).abs();
                assert!(
                    err <= 0.5 * a.step as f64,
                    "run {r} value {i}: {v} steps for {xv}, err {} steps, max {max}",
                    err / a.step as f64
                );
            }
            for (f, o) in a.offsets.iter().enumerate() {
                let v: i64 = (0..4)
                    .map(|l| {
                        let at = 4 * f + l;
                        a.bytes[0][at] as i64 + 256 * a.bytes[1][at] as i64 + 65536 * a.bytes[2][at] as i64
                    })
                    .sum();
                assert_eq!(*o as i64, 32 * v, "run {r} offset {f}");
            }
        }
    }
}
