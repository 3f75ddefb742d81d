//! Shared helpers for integration tests: loading the real models once per test binary and
//! reading the committed reference fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mindlens::prelude::*;
use mindlens::registry;

pub mod reference;

/// The two small real models most tests run on.
pub const MODELS: [&str; 2] = ["smollm2-135m-instruct", "gemma3-270m"];

/// The Qwen2 model in the suite (the 1.5B runs only in ignored tests).
pub const QWEN: &str = "qwen2.5-coder-0.5b-instruct";

/// Loads a registered model once per process. Returns `None` (and says so) when its weights
/// are absent, unless `MINDLENS_REQUIRE_MODELS` is set, as CI sets it: then absence fails.
pub fn model(name: &str) -> Option<&'static Model<Cpu>> {
    static SMOL: OnceLock<Option<Model<Cpu>>> = OnceLock::new();
    static GEMMA: OnceLock<Option<Model<Cpu>>> = OnceLock::new();
    static QWEN05: OnceLock<Option<Model<Cpu>>> = OnceLock::new();
    let cell = match name {
        "smollm2-135m-instruct" => &SMOL,
        "gemma3-270m" => &GEMMA,
        QWEN => &QWEN05,
        other => panic!("no test model {other}"),
    };
    cell.get_or_init(|| load(name, &Default::default())).as_ref()
}

/// Loads a registered model on backend `B` (uncached: for tests on another backend than the
/// CPU). `None` when its weights are absent, with the same `MINDLENS_REQUIRE_MODELS` rule.
pub fn load<B: burn::tensor::backend::Backend>(name: &str, device: &B::Device) -> Option<Model<B>> {
    load_with(name, device, DecodeActivations::F32)
}

/// [`load`] with the decoding products' activations set.
pub fn load_with<B: burn::tensor::backend::Backend>(
    name: &str,
    device: &B::Device,
    decode: DecodeActivations,
) -> Option<Model<B>> {
    let reg = registry::lookup(name).expect("registered");
    if !reg.is_fetched() {
        if std::env::var_os("MINDLENS_REQUIRE_MODELS").is_some() {
            panic!(
                "{name} is not fetched ({}) and MINDLENS_REQUIRE_MODELS is set",
                reg.path().display()
            );
        }
        eprintln!("SKIP: {name} not fetched (run `models/fetch.sh all`)");
        return None;
    }
    Some(Model::<B>::load_gguf_with(&reg.path(), device, decode).expect("model loads"))
}

/// `tests/fixtures/...`
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += x as f64 * y as f64;
        aa += x as f64 * x as f64;
        bb += y as f64 * y as f64;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(1e-30)
}

/// Largest absolute value.
pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().fold(0f32, |m, x| m.max(x.abs()))
}

/// Largest absolute difference.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// Path of a model file under the models directory (`$MINDLENS_MODELS` or `models/`), or
/// `None` (with a message) when absent; absence fails under `MINDLENS_REQUIRE_MODELS`.
pub fn model_file(rel: &str) -> Option<PathBuf> {
    let path = registry::models_dir().join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("MINDLENS_REQUIRE_MODELS").is_some() {
        panic!("{} is missing and MINDLENS_REQUIRE_MODELS is set", path.display());
    }
    eprintln!("SKIP: {} not found (run models/fetch.sh all)", path.display());
    None
}

/// Runs the `mindlens` binary with `args`.
pub fn mindlens(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args(args)
        .output()
        .expect("binary runs")
}
