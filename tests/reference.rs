//! The forward pass against Hugging Face transformers (loading the same GGUF in float32):
//! token ids, every layer's residual stream, logits, greedy and steered greedy generation.
//! Fixtures come from `scripts/make_reference.py`; see `scripts/README.md`.

mod common;

use common::reference::{check_forward, check_forward_prefix, check_generation};
use common::{model, MODELS, QWEN};
use mindlens::prelude::*;

/// Prompts cut to this many tokens go through the in-place products of the quantized blocks
/// (as decoding does) rather than the dequantized matrices, so both paths meet the reference.
const SHORT: usize = mindlens::model::layers::BLOCK_ROWS;

/// Every reference prompt.
fn all(_: &str) -> bool {
    true
}

#[test]
fn smollm2_forward_matches_transformers() {
    if let Some(m) = model(MODELS[0]) {
        check_forward(MODELS[0], m, all);
        check_forward_prefix(MODELS[0], m, all, SHORT);
    }
}

#[test]
fn gemma3_forward_matches_transformers() {
    if let Some(m) = model(MODELS[1]) {
        check_forward(MODELS[1], m, all);
        check_forward_prefix(MODELS[1], m, all, SHORT);
    }
}

#[test]
fn smollm2_greedy_and_steered_generation_match_transformers() {
    if let Some(m) = model(MODELS[0]) {
        check_generation(MODELS[0], m, all, 2);
    }
}

#[test]
fn gemma3_greedy_and_steered_generation_match_transformers() {
    if let Some(m) = model(MODELS[1]) {
        check_generation(MODELS[1], m, all, 2);
    }
}

#[test]
fn qwen2_forward_matches_transformers() {
    if let Some(m) = model(QWEN) {
        check_forward(QWEN, m, all);
        check_forward_prefix(QWEN, m, all, SHORT);
    }
}

#[test]
fn qwen2_greedy_and_steered_generation_match_transformers() {
    if let Some(m) = model(QWEN) {
        check_generation(QWEN, m, all, 2);
    }
}

/// Qwen2.5-Coder-1.5B-Instruct (1.1 GB; its fixtures, 11.5 MB, are not committed: write them
/// with `scripts/make_reference.py --models qwen2.5-coder-1.5b-instruct --out
/// $MINDLENS_MODELS/reference`), then `cargo test --release --test reference -- --ignored qwen2_1_5b`.
#[test]
#[ignore]
fn qwen2_1_5b_matches_transformers() {
    let name = "qwen2.5-coder-1.5b-instruct";
    if let Some(m) = common::load::<Cpu>(name, &Default::default()) {
        check_forward(name, &m, all);
        check_forward_prefix(name, &m, all, SHORT);
        check_generation(name, &m, all, 2);
    }
}

/// The same checks on burn-cuda, with the same tolerances: `cargo test --release --features
/// cuda --test reference cuda` on a machine with an NVIDIA GPU (results in BENCHMARKS.md).
#[cfg(feature = "cuda")]
mod cuda {
    use super::*;

    fn on_gpu(name: &str) {
        let Some(m) = common::load::<mindlens::backend::Gpu>(name, &Default::default()) else {
            return;
        };
        check_forward(name, &m, all);
        check_generation(name, &m, all, 2);
    }

    #[test]
    fn smollm2_matches_transformers_on_cuda() {
        on_gpu(MODELS[0]);
    }

    #[test]
    fn gemma3_matches_transformers_on_cuda() {
        on_gpu(MODELS[1]);
    }

    #[test]
    fn qwen2_matches_transformers_on_cuda() {
        on_gpu(QWEN);
    }
}
