//! Qwen2 and Qwen2.5 (Qwen2.5-Coder-Instruct): the Llama network with biases on the query,
//! key and value projections, RoPE base 1e6, and a ChatML chat template. Its blocks and forward
//! pass are [`super::llama`]'s, with the same hook points.
//!
//! Unlike llama.cpp's `llama` converter, its `qwen2` converter leaves Q and K unpermuted: both
//! files use the rotate-half (NeoX) RoPE layout.

use burn::tensor::backend::Backend;

use super::arch::{no_extra_gguf_config, standard_layer_tensor, ArchSpec};
use super::config::HfConfig;
use super::layers::AttentionOptions;
use super::llama::Llama;
use super::weights::WeightSource;
use super::ModelConfig;
use crate::error::Result;

/// Qwen2's names and conventions.
pub const SPEC: ArchSpec = ArchSpec {
    name: "qwen2",
    hf_model_types: &["qwen2"],
    gguf_config: no_extra_gguf_config,
    hf_config,
    gguf_layer_tensor,
    gguf_rope_permuted: false,
    hf_norm_offset: 0.0,
    default_chat_template: None,
};

fn gguf_layer_tensor(leaf: &str) -> Option<&'static str> {
    Some(match leaf {
        "self_attn.q_proj.bias" => "attn_q.bias",
        "self_attn.k_proj.bias" => "attn_k.bias",
        "self_attn.v_proj.bias" => "attn_v.bias",
        _ => return standard_layer_tensor(leaf),
    })
}

/// `sliding_window` is only used when `use_sliding_window` is true, and then only from layer
/// `max_window_layers` on (transformers' `Qwen2Config.layer_types`); the released models set
/// it false, so they attend over the whole context.
fn hf_config(hf: &HfConfig, cfg: &mut ModelConfig) -> Result<()> {
    if hf.opt_bool("use_sliding_window") == Some(true) {
        if let Some(w) = hf.opt_usize("sliding_window") {
            let from = hf.opt_usize("max_window_layers").unwrap_or(cfg.n_layers);
            cfg.sliding_window = Some(w);
            cfg.layer_is_local = (0..cfg.n_layers).map(|i| i >= from).collect();
        }
    }
    Ok(())
}

/// Loads a Qwen2 network: Llama's, with query, key and value biases.
pub fn load<B: Backend>(cfg: &ModelConfig, w: &dyn WeightSource, device: &B::Device) -> Result<Llama<B>> {
    let attention = AttentionOptions {
        qkv_bias: true,
        qk_norm: false,
    };
    Llama::load_with(cfg, w, attention, device)
}
