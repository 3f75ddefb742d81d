//! Dequantisation of GGML tensor data to `f32`.
//!
//! Block layouts follow `ggml/src/ggml-common.h`, and the arithmetic follows
//! `dequantize_row_*` in `ggml-quants.c` operation by operation (same operand
//! order, no fused multiply-add), so results are bit-identical to ggml and to
//! gguf-py's `gguf.quants.dequantize`. Blocks are independent, so the work is
//! split across rayon's thread pool in groups of blocks.

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use rayon::prelude::*;

use super::GgmlType;

/// Why a byte buffer could not be dequantised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DequantError {
    /// The type has no dequantiser here (e.g. IQ or ternary formats).
    #[error("unsupported tensor type {0}")]
    Unsupported(GgmlType),
    /// The element count does not split into whole blocks of the type.
    #[error("{n_elements} elements is not a multiple of the {ty} block size {block_size}")]
    NotBlockMultiple {
        /// The tensor type.
        ty: GgmlType,
        /// Elements requested.
        n_elements: usize,
        /// Elements per block of `ty`.
        block_size: usize,
    },
    /// The byte buffer does not hold exactly the blocks the element count needs.
    #[error("{ty} data for {n_elements} elements must be {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The tensor type.
        ty: GgmlType,
        /// Elements requested.
        n_elements: usize,
        /// Bytes the element count implies.
        expected: usize,
        /// Bytes supplied.
        actual: usize,
    },
}

/// The types [`dequantize`] handles.
pub const SUPPORTED_TYPES: &[GgmlType] = &[
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];

/// Whether [`dequantize`] supports `ty`.
pub fn is_supported(ty: GgmlType) -> bool {
    SUPPORTED_TYPES.contains(&ty)
}

/// Dequantises `n_elements` values of type `ty` stored in `bytes`.
///
/// `bytes` must hold exactly `n_elements / block_size` blocks; anything else is
/// an error rather than a silent truncation, because a mismatch means the
/// caller computed the tensor's extent wrongly.
pub fn dequantize(ty: GgmlType, bytes: &[u8], n_elements: usize) -> Result<Vec<f32>, DequantError> {
    if !is_supported(ty) {
        return Err(DequantError::Unsupported(ty));
    }
    // Every supported type has known sizes; fall back to Unsupported anyway
    // rather than unwrap.
    let (Some(block_size), Some(type_size)) = (ty.block_size(), ty.type_size()) else {
        return Err(DequantError::Unsupported(ty));
    };
    if !n_elements.is_multiple_of(block_size) {
        return Err(DequantError::NotBlockMultiple {
            ty,
            n_elements,
            block_size,
        });
    }
    let expected = (n_elements / block_size).checked_mul(type_size);
    if expected != Some(bytes.len()) {
        return Err(DequantError::SizeMismatch {
            ty,
            n_elements,
            expected: expected.unwrap_or(usize::MAX),
            actual: bytes.len(),
        });
    }
    let mut out = vec![0f32; n_elements];
    match ty {
        GgmlType::F32 => run_blocks::<1, 4>(bytes, &mut out, |b, y| y[0] = f32::from_le_bytes(*b)),
        GgmlType::F16 => dequant_f16(bytes, &mut out),
        GgmlType::BF16 => run_blocks::<1, 2>(bytes, &mut out, |b, y| {
            y[0] = bf16::from_bits(u16::from_le_bytes(*b)).to_f32()
        }),
        GgmlType::Q4_0 => run_blocks::<32, 18>(bytes, &mut out, q4_0),
        GgmlType::Q4_1 => run_blocks::<32, 20>(bytes, &mut out, q4_1),
        GgmlType::Q5_0 => run_blocks::<32, 22>(bytes, &mut out, q5_0),
        GgmlType::Q5_1 => run_blocks::<32, 24>(bytes, &mut out, q5_1),
        GgmlType::Q8_0 => run_blocks::<32, 34>(bytes, &mut out, q8_0),
        GgmlType::Q2_K => run_blocks::<256, 84>(bytes, &mut out, q2_k),
        GgmlType::Q3_K => run_blocks::<256, 110>(bytes, &mut out, q3_k),
        GgmlType::Q4_K => run_blocks::<256, 144>(bytes, &mut out, q4_k),
        GgmlType::Q5_K => run_blocks::<256, 176>(bytes, &mut out, q5_k),
        GgmlType::Q6_K => run_blocks::<256, 210>(bytes, &mut out, q6_k),
        _ => return Err(DequantError::Unsupported(ty)),
    }
    Ok(out)
}

/// Elements handed to one rayon task: large enough to amortise scheduling,
/// small enough to balance 2–64 threads on a 100k-element tensor.
const ELEMS_PER_TASK: usize = 16 * 1024;

/// Applies `f` to every (block bytes, output block) pair, in parallel.
///
/// Fixed-size array references let the compiler drop every bounds check
/// inside the per-block kernels. Callers guarantee `bytes.len() / TS ==
/// out.len() / BS`.
fn run_blocks<const BS: usize, const TS: usize>(
    bytes: &[u8],
    out: &mut [f32],
    f: impl Fn(&[u8; TS], &mut [f32; BS]) + Sync,
) {
    let blocks_per_task = (ELEMS_PER_TASK / BS).max(1);
    out.par_chunks_mut(BS * blocks_per_task)
        .zip(bytes.par_chunks(TS * blocks_per_task))
        .for_each(|(o, b)| {
            for (ob, bb) in o.chunks_exact_mut(BS).zip(b.chunks_exact(TS)) {
                // chunks_exact yields exactly BS / TS items, so these conversions
                // cannot fail.
                let bb: &[u8; TS] = bb.try_into().unwrap_or_else(|_| unreachable!());
                let ob: &mut [f32; BS] = ob.try_into().unwrap_or_else(|_| unreachable!());
                f(bb, ob);
            }
        });
}

/// F16 goes through half's slice conversion, which uses F16C when the CPU
/// has it; the bytes are copied to an aligned `u16` buffer first because the
/// tensor data need not be 2-byte aligned.
fn dequant_f16(bytes: &[u8], out: &mut [f32]) {
    const CHUNK: usize = 4096;
    out.par_chunks_mut(CHUNK)
        .zip(bytes.par_chunks(CHUNK * 2))
        .for_each(|(o, b)| {
            let mut buf = [f16::ZERO; CHUNK];
            let buf = &mut buf[..o.len()];
            for (h, pair) in buf.iter_mut().zip(b.chunks_exact(2)) {
                *h = f16::from_bits(u16::from_le_bytes([pair[0], pair[1]]));
            }
            buf.convert_to_f32_slice(o);
        });
}

/// The f16 at `b[i..i + 2]` as f32 (exact), in plain integer arithmetic: `half`'s
/// conversion is a call behind a run-time CPU check, which the block kernels (see
/// `matvec.rs`) pay once per block if it is not inlined.
#[inline(always)]
pub(super) fn f16_at(b: &[u8], i: usize) -> f32 {
    let h = u16::from_le_bytes([b[i], b[i + 1]]);
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    match exp {
        // Zero and subnormals: man * 2^-24, exact in f32.
        0 => f32::from_bits((man as f32 * (1.0 / 16_777_216.0)).to_bits() | sign),
        31 => f32::from_bits(sign | 0x7f80_0000 | (man << 13)),
        _ => f32::from_bits(sign | ((exp + 112) << 23) | (man << 13)),
    }
}

#[inline(always)]
fn q4_0(b: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        let x0 = (qs[j] & 0x0F) as i32 - 8;
        let x1 = (qs[j] >> 4) as i32 - 8;
        y[j] = x0 as f32 * d;
        y[j + 16] = x1 as f32 * d;
    }
}

#[inline(always)]
fn q4_1(b: &[u8; 20], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qs = &b[4..20];
    for j in 0..16 {
        let x0 = (qs[j] & 0x0F) as f32;
        let x1 = (qs[j] >> 4) as f32;
        y[j] = x0 * d + m;
        y[j + 16] = x1 * d + m;
    }
}

#[inline(always)]
pub(super) fn q5_0(b: &[u8; 22], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let xh0 = (((qh >> j) << 4) & 0x10) as u8;
        let xh1 = ((qh >> (j + 12)) & 0x10) as u8;
        let x0 = ((qs[j] & 0x0F) | xh0) as i32 - 16;
        let x1 = ((qs[j] >> 4) | xh1) as i32 - 16;
        y[j] = x0 as f32 * d;
        y[j + 16] = x1 as f32 * d;
    }
}

#[inline(always)]
pub(super) fn q5_1(b: &[u8; 24], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..16 {
        let xh0 = (((qh >> j) << 4) & 0x10) as u8;
        let xh1 = ((qh >> (j + 12)) & 0x10) as u8;
        let x0 = ((qs[j] & 0x0F) | xh0) as f32;
        let x1 = ((qs[j] >> 4) | xh1) as f32;
        y[j] = x0 * d + m;
        y[j + 16] = x1 * d + m;
    }
}

#[inline(always)]
fn q8_0(b: &[u8; 34], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (yj, &q) in y.iter_mut().zip(&b[2..34]) {
        *yj = q as i8 as f32 * d;
    }
}

/// Unpacks the j-th 6-bit (scale, min) pair of a Q4_K/Q5_K `scales[12]` field
/// (`get_scale_min_k4` in ggml-quants.c).
#[inline(always)]
pub(super) fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

#[inline(always)]
pub(super) fn q2_k(b: &[u8; 84], y: &mut [f32; 256]) {
    let scales = &b[0..16];
    let qs_all = &b[16..80];
    let d = f16_at(b, 80);
    let dmin = f16_at(b, 82);
    let mut is = 0;
    for n in 0..2 {
        let q = &qs_all[32 * n..32 * n + 32];
        for shift_i in 0..4 {
            let shift = 2 * shift_i;
            for half_i in 0..2 {
                let sc = scales[is];
                is += 1;
                let dl = d * (sc & 0x0F) as f32;
                let ml = dmin * (sc >> 4) as f32;
                let base = 128 * n + 32 * shift_i + 16 * half_i;
                for l in 0..16 {
                    let v = ((q[16 * half_i + l] >> shift) & 3) as f32;
                    y[base + l] = dl * v - ml;
                }
            }
        }
    }
}

#[inline(always)]
pub(super) fn q3_k(b: &[u8; 110], y: &mut [f32; 256]) {
    let hmask = &b[0..32];
    let qs_all = &b[32..96];
    let sc_raw = &b[96..108];
    let d_all = f16_at(b, 108);

    // Sixteen 6-bit signed scales: low nibbles from bytes 0..8, top two bits
    // from bytes 8..12 (the kmask1/kmask2 shuffle in ggml).
    let mut scales = [0i8; 16];
    for (i, s) in scales.iter_mut().enumerate() {
        let low = if i < 8 { sc_raw[i] & 0x0F } else { sc_raw[i - 8] >> 4 };
        let high = (sc_raw[8 + i % 4] >> (2 * (i / 4))) & 3;
        *s = ((low | (high << 4)) as i8).wrapping_sub(32);
    }

    let mut is = 0;
    let mut m: u8 = 1;
    for n in 0..2 {
        let q = &qs_all[32 * n..32 * n + 32];
        for shift_i in 0..4 {
            let shift = 2 * shift_i;
            for half_i in 0..2 {
                let dl = d_all * scales[is] as f32;
                is += 1;
                let base = 128 * n + 32 * shift_i + 16 * half_i;
                for l in 0..16 {
                    let k = 16 * half_i + l;
                    let low = ((q[k] >> shift) & 3) as i8;
                    let sub = if hmask[k] & m != 0 { 0 } else { 4 };
                    y[base + l] = dl * (low - sub) as f32;
                }
            }
            m = m.wrapping_shl(1);
        }
    }
}

#[inline(always)]
pub(super) fn q4_k(b: &[u8; 144], y: &mut [f32; 256]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for c in 0..4 {
        let q = &qs[32 * c..32 * c + 32];
        let (sc1, m1) = scale_min_k4(2 * c, scales);
        let (sc2, m2) = scale_min_k4(2 * c + 1, scales);
        let d1 = d * sc1 as f32;
        let m1 = dmin * m1 as f32;
        let d2 = d * sc2 as f32;
        let m2 = dmin * m2 as f32;
        let (lo, hi) = y[64 * c..64 * c + 64].split_at_mut(32);
        for l in 0..32 {
            lo[l] = d1 * (q[l] & 0x0F) as f32 - m1;
            hi[l] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

#[inline(always)]
pub(super) fn q5_k(b: &[u8; 176], y: &mut [f32; 256]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for c in 0..4 {
        let ql = &qs[32 * c..32 * c + 32];
        let (sc1, m1) = scale_min_k4(2 * c, scales);
        let (sc2, m2) = scale_min_k4(2 * c + 1, scales);
        let d1 = d * sc1 as f32;
        let m1 = dmin * m1 as f32;
        let d2 = d * sc2 as f32;
        let m2 = dmin * m2 as f32;
        let u1 = 1u8 << (2 * c);
        let u2 = 2u8 << (2 * c);
        let (lo, hi) = y[64 * c..64 * c + 64].split_at_mut(32);
        for l in 0..32 {
            let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            lo[l] = d1 * ((ql[l] & 0x0F) + h1) as f32 - m1;
            hi[l] = d2 * ((ql[l] >> 4) + h2) as f32 - m2;
        }
    }
}

#[inline(always)]
pub(super) fn q6_k(b: &[u8; 210], y: &mut [f32; 256]) {
    let d = f16_at(b, 208);
    for n in 0..2 {
        let ql = &b[64 * n..64 * n + 64];
        let qh = &b[128 + 32 * n..128 + 32 * n + 32];
        let sc = &b[192 + 8 * n..192 + 8 * n + 8];
        let yy = &mut y[128 * n..128 * n + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i8 - 32;
            let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
            yy[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            yy[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            yy[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            yy[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_is_exact_for_every_bit_pattern() {
        for h in 0..=u16::MAX {
            let (got, want) = (f16_at(&h.to_le_bytes(), 0), f16::from_bits(h).to_f32());
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{h:#06x}"
            );
        }
    }

    #[test]
    fn rejects_bad_lengths() {
        assert!(matches!(
            dequantize(GgmlType::Q4_0, &[0; 18], 31),
            Err(DequantError::NotBlockMultiple { .. })
        ));
        assert!(matches!(
            dequantize(GgmlType::Q4_0, &[0; 17], 32),
            Err(DequantError::SizeMismatch { .. })
        ));
        assert!(matches!(
            dequantize(GgmlType::Q4_0, &[0; 36], 32),
            Err(DequantError::SizeMismatch { .. })
        ));
        assert_eq!(
            dequantize(GgmlType::IQ2_XXS, &[0; 66], 256),
            Err(DequantError::Unsupported(GgmlType::IQ2_XXS))
        );
        assert_eq!(
            dequantize(GgmlType::Other(99), &[], 0),
            Err(DequantError::Unsupported(GgmlType::Other(99)))
        );
    }

    #[test]
    fn empty_is_fine() {
        assert_eq!(dequantize(GgmlType::Q6_K, &[], 0), Ok(vec![]));
    }

    #[test]
    fn q8_0_by_hand() {
        let mut b = vec![0u8; 34];
        b[0..2].copy_from_slice(&f16::from_f32(0.5).to_bits().to_le_bytes());
        for (i, q) in b[2..].iter_mut().enumerate() {
            *q = (i as i8 - 16) as u8;
        }
        let y = dequantize(GgmlType::Q8_0, &b, 32).unwrap();
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v, (i as f32 - 16.0) * 0.5);
        }
    }

    #[test]
    fn large_f16_crosses_chunks() {
        let n = 4096 * 3 + 17;
        let bytes: Vec<u8> = (0..n)
            .flat_map(|i| f16::from_f32(i as f32 * 0.25).to_bits().to_le_bytes())
            .collect();
        let y = dequantize(GgmlType::F16, &bytes, n).unwrap();
        for (i, v) in y.iter().enumerate() {
            assert_eq!(*v, f16::from_f32(i as f32 * 0.25).to_f32());
        }
    }
}
