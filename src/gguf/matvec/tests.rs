//! Products against the exact product of the dequantized matrix, for every block type and
//! every set of kernels the CPU runs.

use super::*;
use crate::gguf::dequant::{dequantize, SUPPORTED_TYPES};

/// Blocks of pseudo-random bytes, their f16 scales and mins drawn from values of every
/// magnitude f16 holds (largest finite, subnormal, zero, negative), so no value is inf or NaN.
fn blocks(ty: GgmlType, n_blocks: usize, seed: u64) -> Vec<u8> {
    let ts = ty.type_size().unwrap();
    let mut s = seed;
    let mut bytes: Vec<u8> = (0..n_blocks * ts)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) as u8
        })
        .collect();
    const SCALES: [f32; 8] = [0.01, -0.02, 65504.0, 6e-8, 0.0, -3.5, 1e-3, 7.0];
    let f16 = |v: f32| half::f16::from_f32(v).to_le_bytes();
    for (i, b) in bytes.chunks_exact_mut(ts).enumerate() {
        let (d, m) = (f16(SCALES[i % 8]), f16(SCALES[(3 * i + 1) % 8]));
        match ty {
            GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => b[..2].copy_from_slice(&d),
            GgmlType::Q4_1 | GgmlType::Q5_1 => {
                b[..2].copy_from_slice(&d);
                b[2..4].copy_from_slice(&m);
            }
            GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q2_K => {
                let at = if ty == GgmlType::Q2_K { 80 } else { 0 };
                b[at..at + 2].copy_from_slice(&d);
                b[at + 2..at + 4].copy_from_slice(&m);
            }
            GgmlType::Q3_K | GgmlType::Q6_K => {
                let at = ts - 2;
                b[at..].copy_from_slice(&d);
            }
            _ => unreachable!("no scale layout for {ty:?} in this test"),
        }
    }
    bytes
}

#[test]
fn products_equal_the_dequantized_matrix_for_every_block_type() {
    // Every set of kernels the CPU runs (portable, AVX2, AVX-512 BF16).
    // Every block type the dequantizer reads (so a new one without a kernel fails here).
    // 80 rows: repacked sixteen rows at a time on AVX-512 VNNI where the format has such a
    // layout ([`rows16`]); 70: not.
    let types = SUPPORTED_TYPES.iter().filter(|t| t.block_size() != Some(1));
    for (&ty, rows) in types.flat_map(|ty| [(ty, 70), (ty, 80)]) {
        let (cols, m) = (512, 3);
        let bytes = blocks(ty, rows * cols / ty.block_size().unwrap(), 7);
        let w = dequantize(ty, &bytes, rows * cols).unwrap();
        assert!(w.iter().all(|v| v.is_finite()), "{ty:?}");
        let x: Vec<f32> = (0..m * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let shared = SharedBytes::from(bytes);
        let q = QuantMatrix::new(shared, ty, rows, cols).unwrap();
        // Rows read in reverse through the map.
        let q = q.with_row_map((0..rows as u32).rev().collect());
        for k in Kernels::available() {
            let y = q.product(&x, m, k);
            assert_repacked_where_it_applies(&q, k);
            for i in 0..m {
                for r in 0..rows {
                    let src = rows - 1 - r;
                    let exact: f64 = (0..cols)
                        .map(|c| w[src * cols + c] as f64 * x[i * cols + c] as f64)
                        .sum();
                    let scale: f64 = (0..cols)
                        .map(|c| (w[src * cols + c] as f64 * x[i * cols + c] as f64).abs())
                        .sum();
                    let got = y[i * rows + r] as f64;
                    assert!(
                        (got - exact).abs() <= 1e-6 * scale.max(1e-6),
                        "{ty:?} {k:?} row {r} input {i}: {got} vs {exact}"
                    );
                }
            }
        }
    }
}

/// Checks that a product through kernels `k` took the repacked matrix exactly where it
/// applies (Q4_K, Q6_K, Q4_0, Q4_1, Q5_0, Q8_0): AVX-512 VNNI kernels, f32 activations, rows
/// a multiple of sixteen.
fn assert_repacked_where_it_applies(q: &QuantMatrix, k: Kernels) {
    #[cfg(target_arch = "x86_64")]
    {
        use GgmlType::*;
        let applies = matches!(q.ty, Q4_K | Q6_K | Q4_0 | Q4_1 | Q5_0 | Q8_0)
            && q.rows.is_multiple_of(16)
            && k == Kernels::Avx512Vnni
            && q.activations == DecodeActivations::F32;
        let made = q.rows16.get().is_some_and(|r| r.is_some());
        assert_eq!(made, applies, "{:?} {k:?} {} rows", q.ty, q.rows);
    }
    let _ = (q, k);
}

/// Activations of several magnitudes, all terms positive so no error cancels: each product
/// must be within 1e-6 of the exact one. The AVX-512 VNNI kernels' 24-bit activations are
/// off by at most half a step, `2^-24` of the largest of each 256 (32 for the 32-weight
/// formats; here at most 3e-7 of a mean value); dropping the lowest of each activation's three bytes puts a product
/// 2e-6 off (checked: it fails here). Every set of kernels the CPU runs.
#[test]
fn products_of_positive_terms_keep_the_activations_precision() {
    for ty in [
        GgmlType::Q4_K,
        GgmlType::Q6_K,
        GgmlType::Q5_0,
        GgmlType::Q4_1,
        GgmlType::Q8_0,
    ] {
        let (rows, cols) = (16, 512);
        let mut bytes = blocks(ty, rows * cols / ty.block_size().unwrap(), 5);
        for b in bytes.chunks_exact_mut(ty.type_size().unwrap()) {
            if ty == GgmlType::Q4_K {
                b[..4].copy_from_slice(&[0x66, 0x2e, 0, 0]); // d ~0.1, dmin 0
            } else if ty == GgmlType::Q5_0 {
                // d ~0.1, every fifth bit set: q - 16 >= 0
                b[..6].copy_from_slice(&[0x66, 0x2e, 0xff, 0xff, 0xff, 0xff]);
            } else if ty == GgmlType::Q4_1 {
                b[..4].copy_from_slice(&[0x66, 0x2e, 0x66, 0x2e]); // d and m ~0.1
            } else if ty == GgmlType::Q8_0 {
                b[..2].copy_from_slice(&[0x66, 0x2e]);
                b[2..].iter_mut().for_each(|q| *q &= 0x7f); // q >= 0
            } else {
                b[128..192].fill(0xaa); // upper bits 2: q - 32 >= 0
                for (s, v) in b[192..208].iter_mut().enumerate() {
                    *v = 1 + s as u8;
                }
                b[208..].copy_from_slice(&[0x66, 0x2e]);
            }
        }
        let w = dequantize(ty, &bytes, rows * cols).unwrap();
        assert!(
            w.iter().all(|v| *v >= 0.0),
            "{ty:?}: the weights are meant to be positive"
        );
        let x: Vec<f32> = (0..cols)
            .map(|c| (1.0 + (c * 37 % 101) as f32 / 101.0) * 2f32.powi(c as i32 % 7 - 3))
            .collect();
        let q = QuantMatrix::new(SharedBytes::from(bytes), ty, rows, cols).unwrap();
        for k in Kernels::available() {
            let y = q.product(&x, 1, k);
            assert_repacked_where_it_applies(&q, k);
            for r in 0..rows {
                let exact: f64 = (0..cols).map(|c| w[r * cols + c] as f64 * x[c] as f64).sum();
                let got = y[r] as f64;
                assert!(
                    (got - exact).abs() <= 1e-6 * exact,
                    "{ty:?} {k:?} row {r}: {got} vs {exact}"
                );
            }
        }
    }
}

/// With 8-bit activations a product is off from the exact one by at most the rounding of
/// the activations: half a step (`max|x| / 254` over the 32 or 256 values quantized
/// together) times each weight. Both kernels.
#[test]
fn int8_products_are_within_the_activations_rounding() {
    use GgmlType::*;
    for ty in [Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q6_K] {
        let n = ty.block_size().unwrap();
        let (rows, cols, m) = (70, 768, 2);
        let bytes = blocks(ty, rows * cols / n, 11);
        let w = dequantize(ty, &bytes, rows * cols).unwrap();
        let x: Vec<f32> = (0..m * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let q = QuantMatrix::new(SharedBytes::from(bytes), ty, rows, cols).unwrap();
        let f32_product = q.matmul_t(&x, m);
        let q = q.with_activations(DecodeActivations::Int8);
        for k in Kernels::available() {
            let y = q.product(&x, m, k);
            assert_ne!(y, f32_product, "{ty:?}: the 8-bit path was not taken");
            for i in 0..m {
                for r in 0..rows {
                    let (mut exact, mut bound) = (0f64, 0f64);
                    for b in 0..cols / n {
                        let at = i * cols + n * b;
                        let amax = x[at..at + n].iter().fold(0f32, |a, v| a.max(v.abs())) as f64;
                        for c in n * b..n * b + n {
                            let (wv, xv) = (w[r * cols + c] as f64, x[i * cols + c] as f64);
                            exact += wv * xv;
                            bound += wv.abs() * (amax / 254.0 + 1e-6 * xv.abs());
                        }
                    }
                    let got = y[i * rows + r] as f64;
                    assert!(
                        (got - exact).abs() <= bound,
                        "{ty:?} {k:?} row {r} input {i}: {got} vs {exact} (bound {bound})"
                    );
                }
            }
        }
    }
}

#[test]
fn shapes_that_do_not_fit_the_blocks_are_refused() {
    let bytes = SharedBytes::from(vec![0u8; 20 * 4]);
    let q = QuantMatrix::new(bytes.clone(), GgmlType::Q4_1, 2, 64).unwrap();
    assert!(q.matmul_t(&[], 0).is_empty(), "an empty batch is no error");
    assert!(QuantMatrix::new(bytes.clone(), GgmlType::Q4_1, 2, 48).is_none());
    assert!(QuantMatrix::new(bytes.clone(), GgmlType::Q4_1, 3, 64).is_none());
    assert!(QuantMatrix::new(bytes, GgmlType::F32, 1, 20).is_none());
}
