//! Dequantisation parity with gguf-py (fixtures from
//! scripts/make_dequant_fixtures.py), and whole-file dequantisation of the
//! real models when they are present.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use mindlens::gguf::{dequant, GgmlType, GgufFile};
use ndarray::Array1;
use ndarray_npy::read_npy;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn bit_exact_against_gguf_py() {
    let dir = root().join("tests/fixtures/dequant");
    // Every supported type must have a fixture.
    for &ty in mindlens::gguf::dequant::SUPPORTED_TYPES {
        let name = ty.name();
        let bytes = std::fs::read(dir.join(format!("{name}.bin"))).unwrap();
        let expected: Array1<f32> = read_npy(dir.join(format!("{name}.npy"))).unwrap();
        let got = dequant::dequantize(ty, &bytes, expected.len()).unwrap();
        let mismatches: Vec<usize> = (0..got.len())
            .filter(|&i| got[i].to_bits() != expected[i].to_bits())
            .collect();
        assert!(
            mismatches.is_empty(),
            "{name}: {} of {} values differ, first at {}: got {} expected {}",
            mismatches.len(),
            got.len(),
            mismatches[0],
            got[mismatches[0]],
            expected[mismatches[0]]
        );
        println!("{name}: {} / {} values bit-exact", got.len(), expected.len());
    }
}

fn model(rel: &str) -> Option<GgufFile> {
    let path = common::model_file(rel)?;
    Some(GgufFile::open(&path).unwrap())
}

/// Dequantises every tensor; returns the number of parameters.
fn dequantize_all(f: &GgufFile) -> usize {
    let mut total = 0;
    for info in f.tensors() {
        let (values, shape) = f.dequantize_info(info).unwrap();
        assert_eq!(values.len(), shape.iter().product::<usize>(), "{}", info.name);
        assert!(
            values.iter().all(|v| v.is_finite()),
            "{} has non-finite values",
            info.name
        );
        total += values.len();
    }
    total
}

fn check_model(rel: &str, expected: &[(&str, &[usize], GgmlType)]) {
    let Some(f) = model(rel) else { return };
    for (name, shape, ty) in expected {
        let info = f.tensor_info(name).unwrap();
        assert_eq!(info.shape(), *shape, "{name}");
        assert_eq!(info.ggml_type, *ty, "{name}");
    }
    let t = Instant::now();
    let n = dequantize_all(&f);
    println!(
        "{}: {} tensors, {n} parameters dequantised in {:.3} s",
        Path::new(rel).file_name().unwrap().to_string_lossy(),
        f.tensors().len(),
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn smollm2_dequantises() {
    check_model(
        "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
        &[
            ("token_embd.weight", &[49152, 576], GgmlType::Q8_0),
            ("blk.0.ffn_down.weight", &[576, 1536], GgmlType::Q4_1),
            ("blk.0.attn_norm.weight", &[576], GgmlType::F32),
        ],
    );
}

#[test]
fn gemma3_dequantises() {
    check_model(
        "gemma3-270m/gemma-3-270m-q4_k_m.gguf",
        &[
            ("token_embd.weight", &[262144, 640], GgmlType::Q8_0),
            ("blk.0.attn_k.weight", &[256, 640], GgmlType::Q5_0),
            ("blk.0.attn_output.weight", &[640, 1024], GgmlType::Q4_K),
            ("blk.0.ffn_down.weight", &[640, 2048], GgmlType::Q6_K),
        ],
    );
}
