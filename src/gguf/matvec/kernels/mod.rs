//! Block kernels of [`super::QuantMatrix`]: one per GGUF block format, each reading the
//! block's integers in place and dotting them with f32 activations.
//!
//! A weight is `scale * q (+ min)` with one scale (and min) per 16 or 32 weights, so each
//! sub-block is dotted as `scale * sum(q x)`, the integers `q` turned into f32 eight lanes at
//! a time, and a min as `min * sum(x)`, with `sum(x)` of each 32 activations computed once per
//! product. Signed offsets (`q - 16`, `q - 32`) are taken in integers before the conversion,
//! exact. Only Q2_K and Q3_K, rare in decoding, are still expanded into a buffer by their
//! dequantizer. The portable kernels here are what CPUs without AVX2, FMA and F16C run; the
//! rest (every x86-64 CPU of the last decade) run the same sums written with intrinsics
//! ([`avx2`]), 1.4-1.5x faster than the compiler's vectorisation of these (BENCHMARKS.md).
//! Where the CPU has AVX-512 VNNI, Q4_K, Q6_K and Q5_0 (most of a Q4_K_M model) take 32 or
//! 64 byte products an instruction, with each run of 256 (Q5_0: 32) activations written as
//! 24-bit integers on one step, f32's precision for the run's largest value ([`vnni`]);
//! matrices whose rows are a multiple of sixteen are dotted instead in the repacked layout of
//! [`super::rows16`], which also covers Q4_0, Q4_1 and Q8_0.

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(super) mod vnni;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m256, __m512};

use crate::gguf::dequant::{f16_at, q2_k, q3_k, scale_min_k4};

/// One block format: how a block of `TS` bytes (`BS` weights) is dotted with activations.
/// Implemented by a marker type per format, so each kernel instance calls it statically and
/// inlines it (a function pointer, or a closure through `Fn`, stayed an out-of-line call).
pub(super) trait Block<const BS: usize, const TS: usize> {
    /// `acc` plus the block's dot with `x` in eight lanes, and a scalar part to add as well;
    /// `x_sums[j]` is the sum of `x[32 j..32 j + 32]` (the first `BS / 32` are used; a fixed
    /// length, so reading them needs no bounds check), and `w` scratch space for the weights.
    /// (By value: a `&mut` accumulator stayed in memory across blocks.)
    fn dot(block: &[u8; TS], x: &[f32; BS], x_sums: &[f32; 8], w: &mut [f32; BS], acc: [f32; 8]) -> ([f32; 8], f32);

    /// [`Block::dot`] with AVX2, FMA and F16C: `acc` plus the whole dot (scalar part
    /// included) in eight lanes of a register. By default the portable kernel, compiled for
    /// those features by its caller (Q2_K, Q3_K).
    /// # Safety
    /// The CPU must have AVX2, FMA and F16C.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(block: &[u8; TS], x: &[f32; BS], x_sums: &[f32; 8], w: &mut [f32; BS], acc: __m256) -> __m256 {
        // SAFETY: `__m256` and `[f32; 8]` are the same 32 bytes.
        let (mut a, s) = Self::dot(block, x, x_sums, w, unsafe {
            std::mem::transmute::<__m256, [f32; 8]>(acc)
        });
        a[0] += s;
        unsafe { std::mem::transmute::<[f32; 8], __m256>(a) }
    }
}

/// A block format with a kernel on AVX-512 VNNI ([`vnni`]): its blocks against activations
/// prepared for it.
#[cfg(target_arch = "x86_64")]
pub(super) trait VnniBlock<const TS: usize> {
    /// The activations of one block, prepared.
    type Act: Sync;
    /// `x` (a whole number of blocks' activations) prepared, block by block.
    /// # Safety
    /// The CPU must have AVX-512 F and BW.
    unsafe fn prepare(x: &[f32]) -> Vec<Self::Act>;
    /// `acc` plus the block's dot with the prepared activations `x`, in sixteen lanes.
    /// # Safety
    /// The CPU must have AVX-512 F, BW, VL and VNNI, and AVX2, FMA and F16C.
    unsafe fn dot_vnni(block: &[u8; TS], x: &Self::Act, acc: __m512) -> __m512;
}

// The sums below use `mul_add`: one instruction where the CPU has FMA, a (slow, exact)
// library call in the baseline build.

/// `s[l] += q[j] * x[j]` over `j = 8c + l`, for integer weights `q` unpacked into bytes first
/// (plain byte loops and this one are what the compiler vectorises reliably; unpacking inside
/// the dot through a closure left the K-quants' conversions scalar, at half the speed).
#[inline(always)]
fn int_dot<const N: usize>(q: &[i8; N], x: &[f32; N]) -> [f32; 8] {
    let mut s = [0f32; 8];
    for c in 0..N / 8 {
        for l in 0..8 {
            s[l] = (q[c * 8 + l] as f32).mul_add(x[c * 8 + l], s[l]);
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

/// `a + b`, lane by lane.
#[inline(always)]
fn add(mut a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
    for l in 0..8 {
        a[l] += b[l];
    }
    a
}

/// The `N` values of `x` from `at`.
#[inline(always)]
fn part<const N: usize>(x: &[f32], at: usize) -> &[f32; N] {
    x[at..at + N].try_into().expect("N values")
}

/// Q4_0: `w = d * (q - 8)`, nibbles `q` (low halves first).
pub(super) struct Q4_0;
impl Block<32, 18> for Q4_0 {
    #[inline(always)]
    fn dot(b: &[u8; 18], x: &[f32; 32], x_sums: &[f32; 8], _: &mut [f32; 32], acc: [f32; 8]) -> ([f32; 8], f32) {
        let d = f16_at(b, 0);
        (add_scaled(acc, d, nibble_dot(&b[2..18], x)), -8.0 * d * x_sums[0])
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 18], x: &[f32; 32], x_sums: &[f32; 8], _: &mut [f32; 32], acc: __m256) -> __m256 {
        let d = avx2::f16(b, 0);
        avx2::four_bit(b, 2, d, -8.0 * d * x_sums[0], x, acc)
    }
}

/// Q4_1: `w = d * q + m`, nibbles `q` (low halves first).
pub(super) struct Q4_1;
impl Block<32, 20> for Q4_1 {
    #[inline(always)]
    fn dot(b: &[u8; 20], x: &[f32; 32], x_sums: &[f32; 8], _: &mut [f32; 32], acc: [f32; 8]) -> ([f32; 8], f32) {
        let (d, m) = (f16_at(b, 0), f16_at(b, 2));
        (add_scaled(acc, d, nibble_dot(&b[4..20], x)), m * x_sums[0])
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 20], x: &[f32; 32], x_sums: &[f32; 8], _: &mut [f32; 32], acc: __m256) -> __m256 {
        avx2::four_bit(b, 4, avx2::f16(b, 0), avx2::f16(b, 2) * x_sums[0], x, acc)
    }
}

/// The five-bit weights of a Q5_0/Q5_1 block less `offset`: nibble `j` of the 16 bytes after
/// the 32-bit `qh` at `b[at..at + 4]` (low halves are weights 0-15, high 16-31), and bit `j`
/// of `qh` as the fifth bit.
#[inline(always)]
fn q5_ints(b: &[u8], at: usize, offset: i8) -> [i8; 32] {
    let qh = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let qs = &b[at + 4..at + 20];
    let mut q = [0i8; 32];
    for j in 0..16 {
        q[j] = ((qs[j] & 15) | (((qh >> j) & 1) << 4) as u8) as i8 - offset;
        q[j + 16] = ((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4) as u8) as i8 - offset;
    }
    q
}

/// Q5_0: `w = d * (q - 16)`, five-bit `q` (see [`q5_ints`]).
pub(super) struct Q5_0;
impl Block<32, 22> for Q5_0 {
    #[inline(always)]
    fn dot(b: &[u8; 22], x: &[f32; 32], _: &[f32; 8], _: &mut [f32; 32], acc: [f32; 8]) -> ([f32; 8], f32) {
        (add_scaled(acc, f16_at(b, 0), int_dot(&q5_ints(b, 2, 16), x)), 0.0)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 22], x: &[f32; 32], x_sums: &[f32; 8], _: &mut [f32; 32], acc: __m256) -> __m256 {
        let d = avx2::f16(b, 0);
        avx2::five_bit(b, 2, d, -16.0 * d * x_sums[0], x, acc)
    }
}

#[cfg(target_arch = "x86_64")]
impl VnniBlock<22> for Q5_0 {
    type Act = vnni::Act24x32;
    unsafe fn prepare(x: &[f32]) -> Vec<vnni::Act24x32> {
        vnni::prepare_32(x)
    }
    #[inline(always)]
    unsafe fn dot_vnni(b: &[u8; 22], x: &vnni::Act24x32, acc: __m512) -> __m512 {
        vnni::q5_0(b, x, acc)
    }
}

/// Q5_1: `w = d * q + m`, five-bit `q` (see [`q5_ints`]).
pub(super) struct Q5_1;
impl Block<32, 24> for Q5_1 {
    #[inline(always)]
    fn dot(b: &[u8; 24], x: &[f32; 32], x_sums: &[f32; 8], _: &mut [f32; 32], acc: [f32; 8]) -> ([f32; 8], f32) {
        let (d, m) = (f16_at(b, 0), f16_at(b, 2));
        (add_scaled(acc, d, int_dot(&q5_ints(b, 4, 0), x)), m * x_sums[0])
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 24], x: &[f32; 32], x_sums: &[f32; 8], _: &mut [f32; 32], acc: __m256) -> __m256 {
        avx2::five_bit(b, 4, avx2::f16(b, 0), avx2::f16(b, 2) * x_sums[0], x, acc)
    }
}

/// Q8_0: `w = d * q`, signed bytes `q`.
pub(super) struct Q8_0;
impl Block<32, 34> for Q8_0 {
    #[inline(always)]
    fn dot(b: &[u8; 34], x: &[f32; 32], _: &[f32; 8], _: &mut [f32; 32], acc: [f32; 8]) -> ([f32; 8], f32) {
        // A plain loop: `<[u8; 32]>::map` stayed an out-of-line call per block, and the
        // accumulator went through memory around it (13% slower decoding on Gemma 3).
        let mut q = [0i8; 32];
        for j in 0..32 {
            q[j] = b[2 + j] as i8;
        }
        (add_scaled(acc, f16_at(b, 0), int_dot(&q, x)), 0.0)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 34], x: &[f32; 32], _: &[f32; 8], _: &mut [f32; 32], acc: __m256) -> __m256 {
        avx2::eight_bit(b, x, acc)
    }
}

/// Q4_K and Q5_K share their layout of scales: eight sub-blocks of 32 weights,
/// `w = d * sc[j] * q - dmin * m[j]` with six-bit `(sc, m)` pairs packed in `b[4..16]`, and
/// weight `l` of sub-blocks `2c` and `2c + 1` in the low and high nibble of byte `l` of the
/// 32-byte chunk `c` of the nibbles at `b[qs..]`. With `qh`, bit `j` of `qh[l]` is the fifth
/// bit of sub-block `j`'s weight `l` (Q5_K).
#[inline(always)]
fn k4_dot(b: &[u8], qs: usize, qh: Option<&[u8]>, x: &[f32; 256], x_sums: &[f32; 8], acc: [f32; 8]) -> ([f32; 8], f32) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (mut sc, mut m) = ([0f32; 8], [0f32; 8]);
    for j in 0..8 {
        let (s, mm) = scale_min_k4(j, &b[4..16]);
        (sc[j], m[j]) = (s as f32, mm as f32);
    }
    // The sub-blocks' sums go into two accumulators of the block's own, added to `acc` once:
    // adding each sub-block to `acc` in turn chained every addition of the row on the one
    // before, and that chain, not the arithmetic, set the kernel's speed (BENCHMARKS.md).
    let (mut even, mut odd) = ([0f32; 8], [0f32; 8]);
    for c in 0..4 {
        let nibbles = &b[qs + 32 * c..qs + 32 * c + 32];
        let (mut lo, mut hi) = ([0i8; 32], [0i8; 32]);
        for l in 0..32 {
            lo[l] = (nibbles[l] & 15) as i8;
            hi[l] = (nibbles[l] >> 4) as i8;
        }
        if let Some(qh) = qh {
            for l in 0..32 {
                lo[l] |= (((qh[l] >> (2 * c)) & 1) << 4) as i8;
                hi[l] |= (((qh[l] >> (2 * c + 1)) & 1) << 4) as i8;
            }
        }
        even = add_scaled(even, sc[2 * c], int_dot(&lo, part::<32>(x, 64 * c)));
        odd = add_scaled(odd, sc[2 * c + 1], int_dot(&hi, part::<32>(x, 64 * c + 32)));
    }
    let mut mins = [0f32; 8];
    for j in 0..8 {
        mins[j] = m[j] * x_sums[j];
    }
    (add_scaled(acc, d, add(even, odd)), -dmin * mins.iter().sum::<f32>())
}

/// Q4_K: four-bit `q` (see [`k4_dot`]).
#[allow(non_camel_case_types)]
pub(super) struct Q4_K;
impl Block<256, 144> for Q4_K {
    #[inline(always)]
    fn dot(b: &[u8; 144], x: &[f32; 256], x_sums: &[f32; 8], _: &mut [f32; 256], acc: [f32; 8]) -> ([f32; 8], f32) {
        k4_dot(b, 16, None, x, x_sums, acc)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 144], x: &[f32; 256], x_sums: &[f32; 8], _: &mut [f32; 256], acc: __m256) -> __m256 {
        avx2::k4(b, 16, None, x, x_sums, acc)
    }
}

#[cfg(target_arch = "x86_64")]
impl VnniBlock<144> for Q4_K {
    type Act = vnni::Act24;
    unsafe fn prepare(x: &[f32]) -> Vec<vnni::Act24> {
        vnni::prepare(x)
    }
    #[inline(always)]
    unsafe fn dot_vnni(b: &[u8; 144], x: &vnni::Act24, acc: __m512) -> __m512 {
        vnni::q4_k(b, x, acc)
    }
}

/// Q5_K: five-bit `q`, the fifth bits in `qh = b[16..48]` (see [`k4_dot`]).
#[allow(non_camel_case_types)]
pub(super) struct Q5_K;
impl Block<256, 176> for Q5_K {
    #[inline(always)]
    fn dot(b: &[u8; 176], x: &[f32; 256], x_sums: &[f32; 8], _: &mut [f32; 256], acc: [f32; 8]) -> ([f32; 8], f32) {
        k4_dot(b, 48, Some(&b[16..48]), x, x_sums, acc)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 176], x: &[f32; 256], x_sums: &[f32; 8], _: &mut [f32; 256], acc: __m256) -> __m256 {
        avx2::k4(b, 48, Some(&b[16..48]), x, x_sums, acc)
    }
}

/// Q6_K: sixteen sub-blocks of 16 weights, `w = d * sc[s] * (q - 32)` with signed byte scales
/// `sc = b[192..208]` and `d` at `b[208..]`. Each half `n` of 128 weights has 64 bytes of low
/// nibbles `ql` and 32 of high bit pairs `qh`: weight `32g + l` of the half is nibble
/// `g / 2` of `ql[l + 32 (g % 2)]` with bits `2g..2g+2` of `qh[l]` above it, in sub-block
/// `s = 8n + 2g + l / 16`.
#[allow(non_camel_case_types)]
pub(super) struct Q6_K;
impl Block<256, 210> for Q6_K {
    #[inline(always)]
    fn dot(b: &[u8; 210], x: &[f32; 256], _: &[f32; 8], _: &mut [f32; 256], acc: [f32; 8]) -> ([f32; 8], f32) {
        // Accumulators of the block's own, as in `k4_dot`.
        let mut parts = [[0f32; 8]; 4];
        for n in 0..2 {
            let (ql, qh) = (&b[64 * n..64 * n + 64], &b[128 + 32 * n..160 + 32 * n]);
            for g in 0..4 {
                let low = &ql[32 * (g % 2)..32 * (g % 2) + 32];
                let mut q = [0i8; 32];
                for l in 0..32 {
                    q[l] = (((low[l] >> (4 * (g / 2))) & 15) | (((qh[l] >> (2 * g)) & 3) << 4)) as i8 - 32;
                }
                for h in 0..2 {
                    let qq: &[i8; 16] = q[16 * h..16 * h + 16].try_into().expect("16 weights");
                    let s = int_dot(qq, part::<16>(x, 128 * n + 32 * g + 16 * h));
                    let p = 2 * (g % 2) + h;
                    parts[p] = add_scaled(parts[p], b[192 + 8 * n + 2 * g + h] as i8 as f32, s);
                }
            }
        }
        let sum = add(add(parts[0], parts[1]), add(parts[2], parts[3]));
        (add_scaled(acc, f16_at(b, 208), sum), 0.0)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2(b: &[u8; 210], x: &[f32; 256], _: &[f32; 8], _: &mut [f32; 256], acc: __m256) -> __m256 {
        avx2::q6_k(b, x, acc)
    }
}

#[cfg(target_arch = "x86_64")]
impl VnniBlock<210> for Q6_K {
    type Act = vnni::Act24;
    unsafe fn prepare(x: &[f32]) -> Vec<vnni::Act24> {
        vnni::prepare(x)
    }
    #[inline(always)]
    unsafe fn dot_vnni(b: &[u8; 210], x: &vnni::Act24, acc: __m512) -> __m512 {
        vnni::q6_k(b, x, acc)
    }
}

/// Formats dotted through their dequantizer: expand the block, then a dense dot.
macro_rules! expanded {
    ($($ty:ident, $f:ident, $bs:literal, $ts:literal;)*) => {$(
        #[allow(non_camel_case_types)]
        pub(super) struct $ty;
        impl Block<$bs, $ts> for $ty {
            #[inline(always)]
            fn dot(b: &[u8; $ts], x: &[f32; $bs], _: &[f32; 8], w: &mut [f32; $bs], mut acc: [f32; 8]) -> ([f32; 8], f32) {
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
    Q2_K, q2_k, 256, 84;
    Q3_K, q3_k, 256, 110;
}
