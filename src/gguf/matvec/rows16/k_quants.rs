//! The K-quants' tiles: 256 columns, activations on one step per 256.

use std::arch::x86_64::*;

use super::super::kernels::vnni::write_run;
use super::super::sums_of_32;
use super::{four, join, pack_nibbles, signed16, unsigned16, Layout, Prepared, ROWS};
use crate::gguf::dequant::scale_min_k4;

/// 256 activations prepared for the kernels: each written as three signed bytes `a_k` of a
/// 24-bit integer `v` on the run's step, as `vnni` writes them, in natural order.
#[repr(C, align(64))]
pub(super) struct Run {
    bytes: [[i8; 256]; 3],
    /// `32 sum(a_k)` over each sixteen activations, for each byte `k` (Q6_K's `q - 32`).
    offsets: [[i32; 3]; 16],
    /// The sum of each 32 activations, in f32 (Q4_K's mins).
    sums: [f32; 8],
    step: f32,
}

impl Prepared for Run {
    const COLS: usize = 256;
    unsafe fn prepare(x: &[f32]) -> Vec<Run> {
        prepare(x)
    }
}

/// `x` (a multiple of 256 values) prepared for the kernels.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn prepare(x: &[f32]) -> Vec<Run> {
    assert!(x.len().is_multiple_of(256), "activations come in runs of 256");
    x.chunks_exact(256)
        .zip(sums_of_32::<256>(x))
        .map(|(values, sums)| {
            let mut run = Run {
                bytes: [[0; 256]; 3],
                offsets: [[0; 3]; 16],
                sums,
                step: 0.0,
            };
            // SAFETY: the features are enabled here.
            run.step = unsafe { write_run(values, |i| i, &mut run.bytes, &mut [0; 64], 0) };
            for (s, offsets) in run.offsets.iter_mut().enumerate() {
                for (k, bytes) in run.bytes.iter().enumerate() {
                    offsets[k] = 32 * bytes[16 * s..16 * s + 16].iter().map(|&a| a as i32).sum::<i32>();
                }
            }
            run
        })
        .collect()
}

/// Q4_K: `w = d sc_j q - dmin m_j` for sub-blocks `j` of 32. Tile: the sixteen rows' `d`
/// (f16), their `dmin` (f16), the six-bit scales as bytes, sub-block by sub-block (`sc[j][l]`
/// at 64), the mins likewise (at 192), then from 320 for each sub-block `j` and each eight of
/// its columns `8p..8p + 8` 64 bytes: byte `4l + i` holds row `l`'s weight `32j + 8p + i` in
/// its low nibble and `32j + 8p + 4 + i` in its high nibble.
pub(super) struct Q4K;
impl Layout for Q4K {
    const BLOCK: usize = 144;
    const TILE: usize = 320 + 2048;
    type Act = Run;

    fn repack(b: &[u8], l: usize, tile: &mut [u8]) {
        tile[2 * l..2 * l + 2].copy_from_slice(&b[0..2]);
        tile[32 + 2 * l..32 + 2 * l + 2].copy_from_slice(&b[2..4]);
        for j in 0..8 {
            (tile[64 + ROWS * j + l], tile[192 + ROWS * j + l]) = scale_min_k4(j, &b[4..16]);
        }
        // Weight `c` of the block: nibble `c / 32 % 2` of byte `c % 32` of chunk `c / 64`.
        let weight = |c: usize| (b[16 + 32 * (c / 64) + c % 32] >> (4 * (c / 32 % 2))) & 15;
        pack_nibbles(weight, l, &mut tile[320..]);
    }

    #[inline(always)]
    unsafe fn dot(p: *const u8, x: &Run, acc: __m512) -> __m512 {
        let nibble = _mm512_set1_epi8(0x0f);
        let (mut sum, mut mins) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for j in 0..8 {
            let mut s = [_mm512_setzero_si512(); 3];
            for e in 0..4 {
                let v = _mm512_loadu_si512(p.add(320 + 256 * j + 64 * e) as *const _);
                let lo = _mm512_and_si512(v, nibble);
                let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), nibble);
                let c = 32 * j + 8 * e;
                for (k, s) in s.iter_mut().enumerate() {
                    *s = _mm512_dpbusd_epi32(*s, lo, four(&x.bytes[k], c));
                    *s = _mm512_dpbusd_epi32(*s, hi, four(&x.bytes[k], c + 4));
                }
            }
            sum = _mm512_fmadd_ps(join(s), unsigned16(p.add(64 + ROWS * j)), sum);
            mins = _mm512_fmadd_ps(unsigned16(p.add(192 + ROWS * j)), _mm512_set1_ps(x.sums[j]), mins);
        }
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i));
        let dmin = _mm512_cvtph_ps(_mm256_loadu_si256(p.add(32) as *const __m256i));
        let acc = _mm512_fnmadd_ps(dmin, mins, acc);
        _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(x.step)), sum, acc)
    }
}

/// Q6_K (block layout in `kernels`' `Q6_K`): `w = d sc_s (q - 32)` for sub-blocks `s` of 16.
/// Tile: the sixteen rows' `d` (f16), their signed scales, sub-block by sub-block (`sc[s][l]`
/// at 32), then from 288 the weights' low four bits, for each sub-block `s` and each eight of
/// its columns `8p..8p + 8` 64 bytes whose byte `4l + i` holds row `l`'s weight `16s + 8p + i`
/// in its low nibble and `16s + 8p + 4 + i` in its high one, and from 2,336 their top two bits,
/// 64 bytes a sub-block whose byte `4l + i` holds those of weight `16s + 4r + i` at bits `2r`.
pub(super) struct Q6K;
impl Layout for Q6K {
    const BLOCK: usize = 210;
    const TILE: usize = 288 + 2048 + 1024;
    type Act = Run;

    fn repack(b: &[u8], l: usize, tile: &mut [u8]) {
        tile[2 * l..2 * l + 2].copy_from_slice(&b[208..210]);
        for s in 0..16 {
            tile[32 + ROWS * s + l] = b[192 + s];
        }
        // Weight `c` of the block: in half `n`, `32g + i` is nibble `g / 2` of
        // `ql[i + 32 (g % 2)]` with bits `2g..2g+2` of `qh[i]` above it.
        let weight = |c: usize| {
            let (n, g, i) = (c / 128, c % 128 / 32, c % 32);
            let low = (b[64 * n + i + 32 * (g % 2)] >> (4 * (g / 2))) & 15;
            low | (((b[128 + 32 * n + i] >> (2 * g)) & 3) << 4)
        };
        pack_nibbles(|c| weight(c) & 15, l, &mut tile[288..2336]);
        for (s, byte) in tile[2336..].chunks_exact_mut(64).enumerate() {
            for i in 0..4 {
                byte[4 * l + i] = (0..4).map(|r| (weight(16 * s + 4 * r + i) >> 4) << (2 * r)).sum();
            }
        }
    }

    #[inline(always)]
    unsafe fn dot(p: *const u8, x: &Run, acc: __m512) -> __m512 {
        let (nibble, two_bits) = (_mm512_set1_epi8(0x0f), _mm512_set1_epi8(0x30));
        let mut sum = _mm512_setzero_ps();
        for s in 0..16 {
            let low = |e: usize| _mm512_loadu_si512(p.add(288 + 128 * s + 64 * e) as *const _);
            let (v0, v1) = (low(0), low(1));
            let h = _mm512_loadu_si512(p.add(2336 + 64 * s) as *const _);
            // Columns 4r..4r + 4 of the sub-block: low bits, and the top two moved to 4-5.
            let nibbles = [
                _mm512_and_si512(v0, nibble),
                _mm512_and_si512(_mm512_srli_epi16::<4>(v0), nibble),
                _mm512_and_si512(v1, nibble),
                _mm512_and_si512(_mm512_srli_epi16::<4>(v1), nibble),
            ];
            let tops = [
                _mm512_slli_epi16::<4>(h),
                _mm512_slli_epi16::<2>(h),
                h,
                _mm512_srli_epi16::<2>(h),
            ];
            // `32 sum(a_k)` taken first: the sums are of `q - 32`, exact in integers.
            let mut sums = x.offsets[s].map(|o| _mm512_set1_epi32(-o));
            for r in 0..4 {
                // nibbles | (tops & 0x30)
                let w = _mm512_ternarylogic_epi32::<0xF8>(nibbles[r], tops[r], two_bits);
                for (k, a) in sums.iter_mut().enumerate() {
                    *a = _mm512_dpbusd_epi32(*a, w, four(&x.bytes[k], 16 * s + 4 * r));
                }
            }
            sum = _mm512_fmadd_ps(join(sums), signed16(p.add(32 + ROWS * s)), sum);
        }
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i));
        _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(x.step)), sum, acc)
    }
}
