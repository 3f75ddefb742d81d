//! The 32-weight formats' tiles (Q4_0, Q4_1, Q5_0, Q8_0): 32 columns, one block of each of
//! sixteen rows, activations on one step per 32 (models such as SmolLM2 and Gemma 3 have
//! widths that are no multiple of 256).

use std::arch::x86_64::*;

use super::super::kernels::vnni::write_run;
use super::{four, join, pack_nibbles, Layout, Prepared, ROWS};

/// 32 activations prepared for the kernels: each written as three signed bytes `a_k` of a
/// 24-bit integer on the run's step, as `vnni` writes them, in natural order.
#[repr(C, align(32))]
pub(super) struct Run32 {
    bytes: [[i8; 32]; 3],
    /// `sum(a_k)` for each byte `k` (for the weights' offsets: `q - 8`, `q - 16`, `q - 128`).
    byte_sums: [i32; 3],
    /// The sum of the 32 activations, in f32 (Q4_1's mins).
    sum: f32,
    step: f32,
}

impl Prepared for Run32 {
    const COLS: usize = 32;
    unsafe fn prepare(x: &[f32]) -> Vec<Run32> {
        prepare(x)
    }
}

/// `x` (a multiple of 32 values) prepared for the kernels.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn prepare(x: &[f32]) -> Vec<Run32> {
    assert!(x.len().is_multiple_of(32), "activations come in runs of 32");
    x.chunks_exact(32)
        .map(|values| {
            let mut run = Run32 {
                bytes: [[0; 32]; 3],
                byte_sums: [0; 3],
                sum: values.iter().sum(),
                step: 0.0,
            };
            // SAFETY: the features are enabled here.
            run.step = unsafe { write_run(values, |i| i, &mut run.bytes, &mut [0; 8], 0) };
            run.byte_sums = run.bytes.map(|b| b.iter().map(|&a| a as i32).sum());
            run
        })
        .collect()
}

/// The weight of nibble `c` of the 16 bytes `qs` (low halves are weights 0-15, high 16-31).
fn nibble(qs: &[u8], c: usize) -> u8 {
    (qs[c % 16] >> (4 * (c / 16))) & 15
}

/// Each row's `sum((q - offset) v)` for the 256 bytes of nibbles at `p` (as [`pack_nibbles`]
/// writes them), in f32; with `fifth`, 16 added to each weight whose bit is set in the eight
/// 64-bit masks there (one per four columns, bit `4l + i` for row `l`'s column `4r + i`).
#[inline(always)]
unsafe fn nibble_dots(p: *const u8, x: &Run32, offset: i32, fifth: Option<*const u8>) -> __m512 {
    let mask = _mm512_set1_epi8(0x0f);
    let mut s = x.byte_sums.map(|a| _mm512_set1_epi32(-offset * a));
    for e in 0..4 {
        let v = _mm512_loadu_si512(p.add(64 * e) as *const _);
        let mut lo = _mm512_and_si512(v, mask);
        let mut hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), mask);
        if let Some(f) = fifth {
            let bits = |r: usize| f.add(8 * r).cast::<u64>().read_unaligned();
            let sixteen = _mm512_set1_epi8(16);
            lo = _mm512_mask_add_epi8(lo, bits(2 * e), lo, sixteen);
            hi = _mm512_mask_add_epi8(hi, bits(2 * e + 1), hi, sixteen);
        }
        for (k, s) in s.iter_mut().enumerate() {
            *s = _mm512_dpbusd_epi32(*s, lo, four(&x.bytes[k], 8 * e));
            *s = _mm512_dpbusd_epi32(*s, hi, four(&x.bytes[k], 8 * e + 4));
        }
    }
    join(s)
}

/// The sixteen rows' f16 at `p`, times the activations' step.
#[inline(always)]
unsafe fn scales(p: *const u8, x: &Run32) -> __m512 {
    _mm512_mul_ps(
        _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)),
        _mm512_set1_ps(x.step),
    )
}

/// Q4_0: `w = d (q - 8)`. Tile: the sixteen rows' `d` (f16), then the nibbles from 32.
pub(super) struct Q40;
impl Layout for Q40 {
    const BLOCK: usize = 18;
    const TILE: usize = 32 + 256;
    type Act = Run32;

    fn repack(b: &[u8], l: usize, tile: &mut [u8]) {
        tile[2 * l..2 * l + 2].copy_from_slice(&b[0..2]);
        pack_nibbles(|c| nibble(&b[2..18], c), l, &mut tile[32..]);
    }

    #[inline(always)]
    unsafe fn dot(p: *const u8, x: &Run32, acc: __m512) -> __m512 {
        _mm512_fmadd_ps(scales(p, x), nibble_dots(p.add(32), x, 8, None), acc)
    }
}

/// Q4_1: `w = d q + m`. Tile: the sixteen rows' `d` (f16), their `m` (f16), then the nibbles
/// from 64.
pub(super) struct Q41;
impl Layout for Q41 {
    const BLOCK: usize = 20;
    const TILE: usize = 64 + 256;
    type Act = Run32;

    fn repack(b: &[u8], l: usize, tile: &mut [u8]) {
        tile[2 * l..2 * l + 2].copy_from_slice(&b[0..2]);
        tile[32 + 2 * l..32 + 2 * l + 2].copy_from_slice(&b[2..4]);
        pack_nibbles(|c| nibble(&b[4..20], c), l, &mut tile[64..]);
    }

    #[inline(always)]
    unsafe fn dot(p: *const u8, x: &Run32, acc: __m512) -> __m512 {
        let m = _mm512_cvtph_ps(_mm256_loadu_si256(p.add(32) as *const __m256i));
        let acc = _mm512_fmadd_ps(m, _mm512_set1_ps(x.sum), acc);
        _mm512_fmadd_ps(scales(p, x), nibble_dots(p.add(64), x, 0, None), acc)
    }
}

/// Q5_0: `w = d (q - 16)`, five-bit `q`. Tile: the sixteen rows' `d` (f16), the low four bits
/// as Q4_0's from 32, then from 288 the fifth bits, one 64-bit mask for each four columns
/// `4r..4r + 4` whose bit `4l + i` is row `l`'s of column `4r + i`.
pub(super) struct Q50;
impl Layout for Q50 {
    const BLOCK: usize = 22;
    const TILE: usize = 32 + 256 + 64;
    type Act = Run32;

    /// (Sets the fifth bits of row `l` and leaves the others': the tiles start zeroed.)
    fn repack(b: &[u8], l: usize, tile: &mut [u8]) {
        tile[2 * l..2 * l + 2].copy_from_slice(&b[0..2]);
        pack_nibbles(|c| nibble(&b[6..22], c), l, &mut tile[32..288]);
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        for c in (0..32).filter(|c| qh >> c & 1 == 1) {
            let bit = 64 * (c / 4) + 4 * l + c % 4;
            tile[288 + bit / 8] |= 1 << (bit % 8);
        }
    }

    #[inline(always)]
    unsafe fn dot(p: *const u8, x: &Run32, acc: __m512) -> __m512 {
        _mm512_fmadd_ps(scales(p, x), nibble_dots(p.add(32), x, 16, Some(p.add(288))), acc)
    }
}

/// Q8_0: `w = d q`, signed bytes `q`. Tile: the sixteen rows' `d` (f16), then from 32 for
/// each four columns `4r..4r + 4` 64 bytes whose byte `4l + i` holds row `l`'s `q + 128` (an
/// unsigned byte, as `vpdpbusd` takes its weights) of column `4r + i`.
pub(super) struct Q80;
impl Layout for Q80 {
    const BLOCK: usize = 34;
    const TILE: usize = 32 + 512;
    type Act = Run32;

    fn repack(b: &[u8], l: usize, tile: &mut [u8]) {
        tile[2 * l..2 * l + 2].copy_from_slice(&b[0..2]);
        for (r, bytes) in tile[32..].chunks_exact_mut(64).enumerate() {
            for i in 0..4 {
                bytes[4 * l + i] = b[2 + 4 * r + i] ^ 0x80; // q + 128 as a byte
            }
        }
    }

    /// The three sums are joined in f32 (each converted exactly; eight-bit weights make
    /// `(s2 << 8) + s1` too wide for [`join`]'s exact integers).
    #[inline(always)]
    unsafe fn dot(p: *const u8, x: &Run32, acc: __m512) -> __m512 {
        let mut s = x.byte_sums.map(|a| _mm512_set1_epi32(-128 * a));
        for r in 0..8 {
            let w = _mm512_loadu_si512(p.add(32 + 64 * r) as *const _);
            for (k, s) in s.iter_mut().enumerate() {
                *s = _mm512_dpbusd_epi32(*s, w, four(&x.bytes[k], 4 * r));
            }
        }
        let [s0, s1, s2] = s.map(|v| _mm512_cvtepi32_ps(v));
        let dot = _mm512_fmadd_ps(s2, _mm512_set1_ps(65536.0), _mm512_mul_ps(s1, _mm512_set1_ps(256.0)));
        _mm512_fmadd_ps(scales(p, x), _mm512_add_ps(dot, s0), acc)
    }
}

// One tile per block.
const _: () = assert!(Q40::TILE == ROWS * Q40::BLOCK && Q41::TILE == ROWS * Q41::BLOCK);
const _: () = assert!(Q50::TILE == ROWS * Q50::BLOCK && Q80::TILE == ROWS * Q80::BLOCK);
