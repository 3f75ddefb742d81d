//! The f32 block kernels of [`super`] written with AVX2, FMA and F16C intrinsics. Eight
//! weight bytes at a time are widened from memory into 32-bit lanes (`vpmovzxbd`), their bit
//! fields cut out there with shifts and masks, converted to f32 and multiplied into the
//! activations, sums kept in registers and f16 scales converted by F16C. Unpacking a whole
//! block into the bytes of one register first, as the 8-bit kernels do, cost more in shuffles
//! across the register's halves than the arithmetic (BENCHMARKS.md). Same products as the
//! portable kernels, same f32 arithmetic per weight; only the order of additions differs
//! (`super::super::tests` checks both against the exact product).

use std::arch::x86_64::*;

use crate::gguf::matvec::int8::k4_scales_mins;

/// The f16 at `b[at..at + 2]` as f32 (F16C: exact, as the software conversion).
#[inline(always)]
pub(in crate::gguf::matvec) unsafe fn f16(b: &[u8], at: usize) -> f32 {
    let h = u16::from_le_bytes([b[at], b[at + 1]]);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h as i32)))
}

/// Eight bytes from `p`, each widened to a 32-bit lane.
#[inline(always)]
unsafe fn widen8(p: *const u8) -> __m256i {
    _mm256_cvtepu8_epi32(_mm_loadl_epi64(p as *const __m128i))
}

/// `(lo, hi)` of `sum_l lo(q[l]) xlo[l]` and `sum_l hi(q[l]) xhi[l]` over the nibbles of the
/// `N` bytes at `q`, eight lanes each. Widened from memory and split in 32-bit lanes: no
/// shuffles across a register's halves, which cost more than the arithmetic here.
#[inline(always)]
unsafe fn nibble_sums<const N: usize>(q: *const u8, xlo: *const f32, xhi: *const f32) -> (__m256, __m256) {
    let mask = _mm256_set1_epi32(15);
    let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for t in 0..N / 8 {
        let v = widen8(q.add(8 * t));
        let l = _mm256_cvtepi32_ps(_mm256_and_si256(v, mask));
        let h = _mm256_cvtepi32_ps(_mm256_srli_epi32::<4>(v));
        lo = _mm256_fmadd_ps(l, _mm256_loadu_ps(xlo.add(8 * t)), lo);
        hi = _mm256_fmadd_ps(h, _mm256_loadu_ps(xhi.add(8 * t)), hi);
    }
    (lo, hi)
}

/// `acc + d * (lo + hi) + min`, `min` in lane 0: a 32-weight block's sum formed first and added
/// to `acc` once, so the row's chain of dependent operations is one addition a block.
#[inline(always)]
unsafe fn finish32(lo: __m256, hi: __m256, d: f32, min: f32, acc: __m256) -> __m256 {
    let block = _mm256_fmadd_ps(
        _mm256_set1_ps(d),
        _mm256_add_ps(lo, hi),
        _mm256_zextps128_ps256(_mm_set_ss(min)),
    );
    _mm256_add_ps(acc, block)
}

/// `acc + d * dot(q, x) + min` for a Q4_0/Q4_1 block with scale `d`, nibbles `q` at
/// `b[at..at + 16]` (low halves weights 0-15) and the scalar part `min` (in lane 0).
#[inline(always)]
pub(super) unsafe fn four_bit(b: &[u8], at: usize, d: f32, min: f32, x: &[f32; 32], acc: __m256) -> __m256 {
    debug_assert!(b.len() >= at + 16);
    let (lo, hi) = nibble_sums::<16>(b.as_ptr().add(at), x.as_ptr(), x.as_ptr().add(16));
    finish32(lo, hi, d, min, acc)
}

/// `acc + d * dot(q, x) + min` for a Q5_0/Q5_1 block: `qh` at `b[at..at + 4]` (bit `j` the
/// fifth bit of weight `j`), nibbles after it as in [`four_bit`].
#[inline(always)]
pub(super) unsafe fn five_bit(b: &[u8], at: usize, d: f32, min: f32, x: &[f32; 32], acc: __m256) -> __m256 {
    debug_assert!(b.len() >= at + 20);
    let (q, xp) = (b.as_ptr().add(at + 4), x.as_ptr());
    let (mask, one) = (_mm256_set1_epi32(15), _mm256_set1_epi32(1));
    let bits = _mm256_set1_epi32(i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]));
    let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for t in 0..2 {
        let v = widen8(q.add(8 * t));
        let l = _mm256_or_si256(_mm256_and_si256(v, mask), fifth_bit(bits, 8 * t as i32, one));
        let h = _mm256_or_si256(_mm256_srli_epi32::<4>(v), fifth_bit(bits, 16 + 8 * t as i32, one));
        lo = _mm256_fmadd_ps(_mm256_cvtepi32_ps(l), _mm256_loadu_ps(xp.add(8 * t)), lo);
        hi = _mm256_fmadd_ps(_mm256_cvtepi32_ps(h), _mm256_loadu_ps(xp.add(16 + 8 * t)), hi);
    }
    finish32(lo, hi, d, min, acc)
}

/// Bit `j + l` of each lane of `bits` moved to bit 4 of lane `l`.
#[inline(always)]
unsafe fn fifth_bit(bits: __m256i, j: i32, one: __m256i) -> __m256i {
    let lane = _mm256_setr_epi32(j, j + 1, j + 2, j + 3, j + 4, j + 5, j + 6, j + 7);
    _mm256_slli_epi32::<4>(_mm256_and_si256(_mm256_srlv_epi32(bits, lane), one))
}

/// Eight signed bytes from `p` as f32.
#[inline(always)]
unsafe fn signed8(p: *const u8) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p as *const __m128i)))
}

/// `acc + d * dot(q, x)` for a Q8_0 block: signed bytes `q` at `b[2..34]`.
#[inline(always)]
pub(super) unsafe fn eight_bit(b: &[u8; 34], x: &[f32; 32], acc: __m256) -> __m256 {
    let (q, xp) = (b.as_ptr().add(2), x.as_ptr());
    let s0 = _mm256_fmadd_ps(
        signed8(q.add(8)),
        _mm256_loadu_ps(xp.add(8)),
        _mm256_mul_ps(signed8(q), _mm256_loadu_ps(xp)),
    );
    let s1 = _mm256_fmadd_ps(
        signed8(q.add(24)),
        _mm256_loadu_ps(xp.add(24)),
        _mm256_mul_ps(signed8(q.add(16)), _mm256_loadu_ps(xp.add(16))),
    );
    _mm256_fmadd_ps(_mm256_set1_ps(f16(b, 0)), _mm256_add_ps(s0, s1), acc)
}

/// Q4_K (`qh = None`) and Q5_K blocks: `acc + d sum_j sc_j dot(q_j, x_j) - dmin sum_j m_j
/// sum(x_j)` over the eight sub-blocks (layout in [`super::k4_dot`]); nibbles at `b[qs..]`.
#[inline(always)]
pub(super) unsafe fn k4(
    b: &[u8],
    qs: usize,
    qh: Option<&[u8]>,
    x: &[f32; 256],
    x_sums: &[f32; 8],
    acc: __m256,
) -> __m256 {
    debug_assert!(b.len() >= qs + 128 && qh.is_none_or(|h| h.len() >= 32));
    let (sc, m) = k4_scales_mins(&b[4..16]);
    // Two accumulators of the block's own (see `super::k4_dot`).
    let (mut even, mut odd) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    match qh {
        None => {
            for c in 0..4 {
                let (q, xc) = (b.as_ptr().add(qs + 32 * c), x.as_ptr().add(64 * c));
                let (lo, hi) = nibble_sums::<32>(q, xc, xc.add(32));
                even = _mm256_fmadd_ps(_mm256_set1_ps(sc[2 * c] as f32), lo, even);
                odd = _mm256_fmadd_ps(_mm256_set1_ps(sc[2 * c + 1] as f32), hi, odd);
            }
        }
        Some(qh) => {
            let (mask, one) = (_mm256_set1_epi32(15), _mm256_set1_epi32(1));
            for c in 0..4 {
                let (q, xc) = (b.as_ptr().add(qs + 32 * c), x.as_ptr().add(64 * c));
                let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                for t in 0..4 {
                    let (v, h) = (widen8(q.add(8 * t)), widen8(qh.as_ptr().add(8 * t)));
                    // Bit 2c (2c + 1) of qh[l] is the fifth bit of sub-block 2c's (2c + 1's) weight l.
                    let h_lo = _mm256_srl_epi32(h, _mm_cvtsi32_si128(2 * c as i32));
                    let h_hi = _mm256_srli_epi32::<1>(h_lo);
                    let l = _mm256_or_si256(
                        _mm256_and_si256(v, mask),
                        _mm256_slli_epi32::<4>(_mm256_and_si256(h_lo, one)),
                    );
                    let u = _mm256_or_si256(
                        _mm256_srli_epi32::<4>(v),
                        _mm256_slli_epi32::<4>(_mm256_and_si256(h_hi, one)),
                    );
                    lo = _mm256_fmadd_ps(_mm256_cvtepi32_ps(l), _mm256_loadu_ps(xc.add(8 * t)), lo);
                    hi = _mm256_fmadd_ps(_mm256_cvtepi32_ps(u), _mm256_loadu_ps(xc.add(32 + 8 * t)), hi);
                }
                even = _mm256_fmadd_ps(_mm256_set1_ps(sc[2 * c] as f32), lo, even);
                odd = _mm256_fmadd_ps(_mm256_set1_ps(sc[2 * c + 1] as f32), hi, odd);
            }
        }
    }
    let block = _mm256_fmadd_ps(
        _mm256_set1_ps(f16(b, 0)),
        _mm256_add_ps(even, odd),
        k4_mins(b, &m, _mm256_loadu_ps(x_sums.as_ptr())),
    );
    _mm256_add_ps(acc, block)
}

/// The mins' part of a Q4_K or Q5_K block, `-dmin m_j sum(x_j)` for its eight sub-blocks `j`
/// in eight lanes: `m` the six-bit mins, `dmin` at `b[2..4]`, `x_sums` the activations' sums
/// of each 32.
#[inline(always)]
pub(in crate::gguf::matvec) unsafe fn k4_mins(b: &[u8], m: &[u8; 8], x_sums: __m256) -> __m256 {
    let mins = _mm256_mul_ps(
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(m.as_ptr() as *const __m128i))),
        x_sums,
    );
    _mm256_mul_ps(_mm256_set1_ps(-f16(b, 2)), mins)
}

/// Q6_K (layout in [`super::Q6_K`]): `acc + d sum_s sc_s dot(q_s - 32, x_s)` over its sixteen
/// sub-blocks of 16 weights. Weight `32 g + l` of half `n` takes its low four bits from byte
/// `l` of `ql` (`g` = 0, 2) or `l + 32` (`g` = 1, 3), low nibble for `g` < 2, and bits
/// `2g..2g + 2` of `qh[l]` above them; eight `l` at a time, widened into 32-bit lanes.
#[inline(always)]
pub(super) unsafe fn q6_k(b: &[u8; 210], x: &[f32; 256], acc: __m256) -> __m256 {
    let (m4, m2, offset) = (_mm256_set1_epi32(15), _mm256_set1_epi32(3), _mm256_set1_epi32(32));
    let p = b.as_ptr();
    // Four accumulators of the block's own (see `super::k4_dot`), one per group `g`.
    let mut parts = [_mm256_setzero_ps(); 4];
    for n in 0..2 {
        for half in 0..2 {
            // Sums of sub-blocks 8n + 2g + half: l = 16 half..16 half + 16.
            let mut sub = [_mm256_setzero_ps(); 4];
            for t in 2 * half..2 * half + 2 {
                let a = widen8(p.add(64 * n + 8 * t));
                let c = widen8(p.add(64 * n + 32 + 8 * t));
                let h = widen8(p.add(128 + 32 * n + 8 * t));
                let q = [
                    _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_slli_epi32::<4>(_mm256_and_si256(h, m2))),
                    _mm256_or_si256(
                        _mm256_and_si256(c, m4),
                        _mm256_slli_epi32::<2>(_mm256_and_si256(h, _mm256_slli_epi32::<2>(m2))),
                    ),
                    _mm256_or_si256(
                        _mm256_srli_epi32::<4>(a),
                        _mm256_and_si256(h, _mm256_slli_epi32::<4>(m2)),
                    ),
                    _mm256_or_si256(
                        _mm256_srli_epi32::<4>(c),
                        _mm256_slli_epi32::<4>(_mm256_srli_epi32::<6>(h)),
                    ),
                ];
                for g in 0..4 {
                    let w = _mm256_cvtepi32_ps(_mm256_sub_epi32(q[g], offset));
                    sub[g] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x.as_ptr().add(128 * n + 32 * g + 8 * t)), sub[g]);
                }
            }
            for g in 0..4 {
                let scale = b[192 + 8 * n + 2 * g + half] as i8 as f32;
                parts[g] = _mm256_fmadd_ps(_mm256_set1_ps(scale), sub[g], parts[g]);
            }
        }
    }
    let sum = _mm256_add_ps(_mm256_add_ps(parts[0], parts[1]), _mm256_add_ps(parts[2], parts[3]));
    _mm256_fmadd_ps(_mm256_set1_ps(f16(b, 208)), sum, acc)
}
