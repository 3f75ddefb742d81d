//! The AVX2 integer sums of [`super`]'s kernels: weights unpacked into unsigned bytes,
//! multiplied with the signed activation bytes in pairs (`vpmaddubsw`, at most 2 * 63 * 127
//! per i16 lane for six-bit weights, so no saturation), summed in pairs again into i32 lanes
//! (`vpmaddwd`, by a sub-block's scale or by 1), then scaled in f32 into the caller's
//! accumulator. Each is checked equal to the portable sum in the tests below.

use std::arch::x86_64::*;

/// Eight i32 lanes of `sum(q y)` for 32 unsigned `q` and signed `y`, each lane pair weighted
/// by `scales` (i16 lanes).
#[inline(always)]
unsafe fn madd(q: __m256i, y: __m256i, scales: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), scales)
}

/// The 32 activation bytes at `y`.
#[inline(always)]
unsafe fn load(y: &[i8]) -> __m256i {
    debug_assert!(y.len() >= 32);
    _mm256_loadu_si256(y.as_ptr() as *const __m256i)
}

/// `acc + dd * lanes`, the integer lanes converted to f32.
#[inline(always)]
unsafe fn scaled(lanes: __m256i, dd: f32, acc: __m256) -> __m256 {
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_set1_ps(dd), acc)
}

/// The 32 four-bit weights of 16 bytes (low nibbles are weights 0-15, high 16-31).
#[inline(always)]
unsafe fn nibbles(qs: &[u8]) -> __m256i {
    debug_assert!(qs.len() >= 16);
    let b = _mm_loadu_si128(qs.as_ptr() as *const __m128i);
    _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16::<4>(b), b), _mm256_set1_epi8(15))
}

/// Byte `j` is 16 where bit `j` of `bits` is set, else 0.
#[inline(always)]
unsafe fn fifth_bits(bits: u32) -> __m256i {
    // Byte j takes byte j / 8 of `bits`; OR-ing every bit but j % 8 and comparing with all
    // ones leaves 0xFF exactly where bit j % 8 of that byte is set.
    let spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(bits as i32),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0),
    );
    let others = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    _mm256_and_si256(_mm256_cmpeq_epi8(others, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(16))
}

/// Q4_0 and Q4_1: nibbles at `b[at..at + 16]`.
#[inline(always)]
pub(super) unsafe fn four_bit(b: &[u8], at: usize, y: &[i8; 32], dd: f32, acc: __m256) -> __m256 {
    scaled(madd(nibbles(&b[at..]), load(y), _mm256_set1_epi16(1)), dd, acc)
}

/// Q5_0 and Q5_1: `qh` at `b[at..at + 4]`, nibbles after it.
#[inline(always)]
pub(super) unsafe fn five_bit(b: &[u8], at: usize, y: &[i8; 32], dd: f32, acc: __m256) -> __m256 {
    let qh = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let q = _mm256_or_si256(nibbles(&b[at + 4..]), fifth_bits(qh));
    scaled(madd(q, load(y), _mm256_set1_epi16(1)), dd, acc)
}

/// Q8_0: signed weights, so `|w|` times `y` with `w`'s sign moved onto `y`.
#[inline(always)]
pub(super) unsafe fn q8_0(b: &[u8; 34], y: &[i8; 32], dd: f32, acc: __m256) -> __m256 {
    let w = _mm256_loadu_si256(b[2..].as_ptr() as *const __m256i);
    let lanes = madd(
        _mm256_sign_epi8(w, w),
        _mm256_sign_epi8(load(y), w),
        _mm256_set1_epi16(1),
    );
    scaled(lanes, dd, acc)
}

/// Eight bytes at `p` as i16 lanes (signed or not), in both halves of a register.
#[inline(always)]
unsafe fn eight_in_both_halves<const SIGNED: bool>(p: *const u8) -> __m256i {
    let b = _mm_loadl_epi64(p as *const __m128i);
    _mm256_broadcastsi128_si256(if SIGNED {
        _mm_cvtepi8_epi16(b)
    } else {
        _mm_cvtepu8_epi16(b)
    })
}

/// i16 lane `lo` of each half of `v` in every lane of the low half, lane `hi` in the high half
/// (a byte shuffle: no trip through a general register per scale).
#[inline(always)]
unsafe fn spread(v: __m256i, lo: i16, hi: i16) -> __m256i {
    let pick = |j: i16| ((2 * j + 1) << 8) | (2 * j);
    _mm256_shuffle_epi8(v, _mm256_setr_m128i(_mm_set1_epi16(pick(lo)), _mm_set1_epi16(pick(hi))))
}

/// Q4_K: `acc + dd sum_j sc_j sum(q4_j y_j)` over the 128 nibble bytes `qs` (chunk `c` holds
/// sub-blocks `2c` and `2c + 1` in its low and high nibbles), `sc` the six-bit scales.
#[inline(always)]
pub(super) unsafe fn q4_k(qs: &[u8], y: &[i8; 256], sc: &[u8; 8], dd: f32, acc: __m256) -> __m256 {
    debug_assert!(qs.len() >= 128);
    let mask = _mm256_set1_epi8(15);
    let scales = eight_in_both_halves::<false>(sc.as_ptr());
    let mut lanes = _mm256_setzero_si256();
    for c in 0..4 {
        let bytes = _mm256_loadu_si256(qs.as_ptr().add(32 * c) as *const __m256i);
        let lo = _mm256_and_si256(bytes, mask);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(bytes), mask);
        let (j0, j1) = (2 * c as i16, 2 * c as i16 + 1);
        let p0 = madd(lo, load(&y[64 * c..]), spread(scales, j0, j0));
        let p1 = madd(hi, load(&y[64 * c + 32..]), spread(scales, j1, j1));
        lanes = _mm256_add_epi32(lanes, _mm256_add_epi32(p0, p1));
    }
    scaled(lanes, dd, acc)
}

/// The sums of each 32 activations, in order, from the sums of each 16.
#[inline(always)]
pub(super) unsafe fn sums_of_32(sums: &[f32; 16]) -> __m256 {
    // hadd pairs within 128-bit halves: sums of 32 number 0, 1, 4, 5, 2, 3, 6, 7.
    let pairs = _mm256_hadd_ps(_mm256_loadu_ps(sums.as_ptr()), _mm256_loadu_ps(sums.as_ptr().add(8)));
    _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(pairs)))
}

/// `sum_s sc_s sums_s` over Q6_K's sixteen signed scales (at `b[192..208]`), in eight lanes.
#[inline(always)]
pub(super) unsafe fn q6_k_scaled_sums(b: &[u8; 210], sums: &[f32; 16]) -> __m256 {
    let lo = _mm256_mul_ps(eight_signed_f32(b.as_ptr().add(192)), _mm256_loadu_ps(sums.as_ptr()));
    _mm256_fmadd_ps(
        eight_signed_f32(b.as_ptr().add(200)),
        _mm256_loadu_ps(sums.as_ptr().add(8)),
        lo,
    )
}

/// Eight signed bytes at `p` as f32 lanes. (A function, not a closure: a closure does not take
/// on its caller's target features.)
#[inline(always)]
unsafe fn eight_signed_f32(p: *const u8) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p as *const __m128i)))
}

/// Q6_K: six-bit weights assembled 32 at a time, each 16 weighted by their sub-block's scale
/// (i16 lanes 0-7 cover the first 16 weights, 8-15 the next).
#[inline(always)]
pub(super) unsafe fn q6_k(b: &[u8; 210], y: &[i8; 256], dd: f32, acc: __m256) -> __m256 {
    let (m4, m2) = (_mm256_set1_epi8(15), _mm256_set1_epi8(3));
    let mut lanes = _mm256_setzero_si256();
    for n in 0..2 {
        // The signed scales of sub-blocks 8n..8n + 8.
        let sc = eight_in_both_halves::<true>(b.as_ptr().add(192 + 8 * n));
        let ql0 = _mm256_loadu_si256(b.as_ptr().add(64 * n) as *const __m256i);
        let ql1 = _mm256_loadu_si256(b.as_ptr().add(64 * n + 32) as *const __m256i);
        let qh = _mm256_loadu_si256(b.as_ptr().add(128 + 32 * n) as *const __m256i);
        let lows = [
            _mm256_and_si256(ql0, m4),
            _mm256_and_si256(ql1, m4),
            _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), m4),
            _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), m4),
        ];
        let highs = [
            _mm256_and_si256(qh, m2),
            _mm256_and_si256(_mm256_srli_epi16::<2>(qh), m2),
            _mm256_and_si256(_mm256_srli_epi16::<4>(qh), m2),
            _mm256_and_si256(_mm256_srli_epi16::<6>(qh), m2),
        ];
        for g in 0..4 {
            let q6 = _mm256_or_si256(lows[g], _mm256_slli_epi16::<4>(highs[g]));
            let scales = spread(sc, 2 * g as i16, 2 * g as i16 + 1);
            lanes = _mm256_add_epi32(lanes, madd(q6, load(&y[128 * n + 32 * g..]), scales));
        }
    }
    scaled(lanes, dd, acc)
}

/// Sum of the eight lanes.
#[inline(always)]
pub(crate) unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::hsum;
    use std::arch::x86_64::_mm256_setzero_ps;

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 33) as u8
            })
            .collect()
    }

    /// The AVX2 dot of random blocks and activations against the portable one: the integer
    /// sums are exact, so only the order of the final f32 additions differs.
    fn same<const TS: usize, const N: usize, E: Int8Block<TS, N>>(name: &str) {
        for seed in 0..40 {
            let raw = bytes(TS + N, seed);
            let mut b: [u8; TS] = raw[..TS].try_into().unwrap();
            // Tame f16 scales (random bytes can be inf or NaN): 0x3c00 is 1.0, 0x2e66 ~0.1.
            for at in [0, 2, TS - 2] {
                b[at..at + 2].copy_from_slice(&[0x66, 0x2e]);
            }
            let x: Vec<f32> = raw[TS..].iter().map(|&v| v as f32 / 64.0 - 2.0).collect();
            let y = Quantized::<N>::new(&x);
            let want = E::dot(&b, &y);
            // SAFETY: the test runs only where AVX2, FMA and F16C were detected.
            let got = unsafe {
                let (v, s) = E::dot_avx2(&b, &y, _mm256_setzero_ps());
                hsum(v) + s
            };
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{name} seed {seed}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn avx2_dots_equal_the_portable_ones() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")) {
            return;
        }
        same::<18, 32, Q4_0>("Q4_0");
        same::<20, 32, Q4_1>("Q4_1");
        same::<22, 32, Q5_0>("Q5_0");
        same::<24, 32, Q5_1>("Q5_1");
        same::<34, 32, Q8_0>("Q8_0");
        same::<144, 256, Q4_K>("Q4_K");
        same::<210, 256, Q6_K>("Q6_K");
    }
}
