//! Matrices repacked sixteen rows at a time for AVX-512 VNNI decoding: Q4_K, Q6_K
//! ([`k_quants`]), Q4_0, Q4_1, Q5_0 and Q8_0 ([`blocks32`]).
//!
//! The block kernels of [`super::kernels`] dot one row's block at a time: each `vpdpbusd` sums
//! four products into each of sixteen lanes that belong to the same row, so every 16 or 32
//! weights end in lanes that must be joined, converted and scaled one by one, and the scales
//! moved to those lanes (the f32 kernels of the 32-weight formats convert every weight). Here
//! lane `l` of every register is row `l` of sixteen: one `vpdpbusd` meets four weights of each
//! of the sixteen rows with the same four activation bytes (broadcast from memory), a whole
//! sub-block's sums stay in their lanes, and the sixteen rows' scales are a vector loaded as
//! it is. The activations are written as in [`super::kernels`]' `vnni` (24-bit integers on
//! one step per 256 or per 32 values, f32's precision; that module explains the scheme), in
//! natural order, and each sub-block's sums are taken in integers, so the products are the
//! f32 model's up to the rounding of f32 arithmetic. llama.cpp repacks Q4_K and Q4_0 eight
//! rows at a time (`block_q4_Kx8`, `block_q4_0x8`) for the same reason.
//!
//! Layout: rows in groups of sixteen, each group's tiles (256 or 32 columns) in turn, in
//! output-row order (a row map is applied when repacking). Each format's tile is described at
//! its [`Layout`] impl; a tile holds the same bytes as the sixteen blocks, the K-quants'
//! scales unpacked into one byte each (Q4_K: 2,368 bytes a tile against 2,304), so each token
//! reads as much as before. A matrix is repacked on its first product that takes this path,
//! into memory of its own (the blocks stay for the other paths).

use std::arch::x86_64::*;

use rayon::prelude::*;

use super::{prefetch, QuantMatrix, PREFETCH_BYTES};
use crate::gguf::{GgmlType, SharedBytes};

mod blocks32;
mod k_quants;

/// Rows per group: one register's sixteen lanes.
const ROWS: usize = 16;

// Tasks of whole groups.
const _: () = assert!(super::ROWS_PER_TASK.is_multiple_of(ROWS));

/// A matrix in the layout of the module.
#[derive(Clone, Debug)]
pub(super) struct Rows16 {
    bytes: SharedBytes,
    /// Tiles per row group.
    tiles: usize,
    /// [`Rows16::product_in`] for the matrix's format.
    product: unsafe fn(&Rows16, &QuantMatrix, &[f32], usize) -> Vec<f32>,
}

/// One tile's columns of activations, prepared for the kernels.
trait Prepared: Sized + Sync {
    /// Columns of a tile.
    const COLS: usize;
    /// `x` (a whole number of tiles' columns) prepared, tile by tile.
    /// # Safety
    /// The CPU must have AVX-512 F and BW.
    unsafe fn prepare(x: &[f32]) -> Vec<Self>;
}

/// A block format's tile: its bytes, how a block is written into it, and its kernel.
trait Layout {
    /// Bytes of a block (one tile's columns of one row), and of a tile of sixteen.
    const BLOCK: usize;
    const TILE: usize;
    /// The activations the kernel takes.
    type Act: Prepared;
    /// Writes `block` as row `l` of `tile`.
    fn repack(block: &[u8], l: usize, tile: &mut [u8]);
    /// `acc` plus the tile's sixteen dots with `x`, lane `l` for row `l`.
    /// # Safety
    /// `tile` points at [`Layout::TILE`] bytes; the CPU has AVX-512 F, BW and VNNI.
    unsafe fn dot(tile: *const u8, x: &Self::Act, acc: __m512) -> __m512;
}

impl Rows16 {
    /// `q` repacked, or `None` when its format has no such layout or its rows are not a
    /// multiple of sixteen.
    pub(super) fn new(q: &QuantMatrix) -> Option<Self> {
        if !q.rows.is_multiple_of(ROWS) || q.rows == 0 {
            return None;
        }
        Some(match q.ty {
            GgmlType::Q4_K => Self::repack::<k_quants::Q4K>(q),
            GgmlType::Q6_K => Self::repack::<k_quants::Q6K>(q),
            GgmlType::Q4_0 => Self::repack::<blocks32::Q40>(q),
            GgmlType::Q4_1 => Self::repack::<blocks32::Q41>(q),
            GgmlType::Q5_0 => Self::repack::<blocks32::Q50>(q),
            GgmlType::Q8_0 => Self::repack::<blocks32::Q80>(q),
            _ => return None,
        })
    }

    /// `q`'s blocks written into tiles of layout `L`, sixteen output rows to a group.
    fn repack<L: Layout>(q: &QuantMatrix) -> Self {
        let tiles = q.cols / L::Act::COLS;
        let data = q.bytes.as_slice();
        let stored = |r: usize| q.row_map.as_ref().map_or(r, |m| m[r] as usize);
        let bytes = SharedBytes::resident(q.rows / ROWS * tiles * L::TILE, |out| {
            out.par_chunks_exact_mut(L::TILE).enumerate().for_each(|(n, tile)| {
                let (g, t) = (n / tiles, n % tiles);
                for l in 0..ROWS {
                    let at = stored(ROWS * g + l) * q.row_bytes + L::BLOCK * t;
                    L::repack(&data[at..at + L::BLOCK], l, tile);
                }
            })
        });
        Rows16 {
            bytes,
            tiles,
            product: Self::product_in::<L>,
        }
    }

    /// `x W^T` for the `m` rows of `x`, as [`QuantMatrix::matmul_t`] (`q` is the matrix
    /// this was repacked from).
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VNNI.
    pub(super) unsafe fn product(&self, q: &QuantMatrix, x: &[f32], m: usize) -> Vec<f32> {
        (self.product)(self, q, x, m)
    }

    unsafe fn product_in<L: Layout>(&self, q: &QuantMatrix, x: &[f32], m: usize) -> Vec<f32> {
        // Prepared once here rather than in every task.
        let xs = L::Act::prepare(x);
        // Tasks are whole groups: `ROWS_PER_TASK` is a multiple of sixteen, as are the rows.
        q.in_tasks(m, |rows| self.dots::<L>(rows, &xs, m))
    }

    /// Dots of output rows `rows` (a range of whole groups) with each of the `m` inputs
    /// prepared in `xs` (`tiles` each), output-row major as [`QuantMatrix::in_tasks`]
    /// assembles them.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn dots<L: Layout>(&self, rows: std::ops::Range<usize>, xs: &[L::Act], m: usize) -> Vec<f32> {
        assert!(rows.start.is_multiple_of(ROWS) && rows.end.is_multiple_of(ROWS));
        assert_eq!(xs.len(), m * self.tiles, "tiles of activations per input");
        let group_bytes = self.tiles * L::TILE;
        let task = &self.bytes.as_slice()[rows.start / ROWS * group_bytes..rows.end / ROWS * group_bytes];
        prefetch(&task[..PREFETCH_BYTES.min(task.len())]);
        let mut out = vec![0f32; rows.len() * m];
        for g in 0..task.len() / group_bytes {
            for i in 0..m {
                let mut acc = _mm512_setzero_ps();
                for (t, x) in xs[i * self.tiles..(i + 1) * self.tiles].iter().enumerate() {
                    let at = g * group_bytes + t * L::TILE;
                    if i == 0 {
                        let ahead = (at + PREFETCH_BYTES).min(task.len());
                        prefetch(&task[ahead..(ahead + L::TILE).min(task.len())]);
                    }
                    // SAFETY: `L::TILE` bytes from `at` (inside `task`, whole tiles);
                    // the features are enabled here.
                    acc = L::dot(task[at..at + L::TILE].as_ptr(), x, acc);
                }
                let mut dots = [0f32; ROWS];
                _mm512_storeu_ps(dots.as_mut_ptr(), acc);
                for (l, d) in dots.into_iter().enumerate() {
                    out[(ROWS * g + l) * m + i] = d;
                }
            }
        }
        out
    }
}

/// Writes row `l`'s four-bit weights `weight(c)` into `out`: 64 bytes for each eight columns
/// `8e..8e + 8`, whose byte `4l + i` holds weight `8e + i` in its low nibble and `8e + 4 + i`
/// in its high one.
fn pack_nibbles(weight: impl Fn(usize) -> u8, l: usize, out: &mut [u8]) {
    for (e, bytes) in out.chunks_exact_mut(64).enumerate() {
        for i in 0..4 {
            bytes[4 * l + i] = weight(8 * e + i) | (weight(8 * e + 4 + i) << 4);
        }
    }
}

/// The four activation bytes from `c` of `bytes`, in every lane.
#[inline(always)]
unsafe fn four(bytes: &[i8], c: usize) -> __m512i {
    _mm512_set1_epi32(bytes[c..c + 4].as_ptr().cast::<i32>().read_unaligned())
}

/// The sixteen bytes at `p` in f32 lanes, read as unsigned or signed.
#[inline(always)]
unsafe fn unsigned16(p: *const u8) -> __m512 {
    _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(p as *const __m128i)))
}
#[inline(always)]
unsafe fn signed16(p: *const u8) -> __m512 {
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p as *const __m128i)))
}

/// A sub-block's three integer sums (one per activation byte) as one f32 dot: the top two
/// joined exactly (`(s2 << 8) + s1` stays below `2^24`: at most 32 weights of size at most 16
/// (four bits, or Q5_0's `q - 16`) or 16 of Q6_K's `q - 32` times a signed byte, shifted by
/// 8), the lowest added in f32. (For eight-bit weights the join is no longer exact in
/// integers: [`blocks32`] joins them in f32.)
#[inline(always)]
unsafe fn join(s: [__m512i; 3]) -> __m512 {
    let top = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_slli_epi32::<8>(s[2]), s[1]));
    _mm512_fmadd_ps(top, _mm512_set1_ps(256.0), _mm512_cvtepi32_ps(s[0]))
}
