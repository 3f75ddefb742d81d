//! The registry of architectures, and what the hosting core needs to know about each one
//! besides its forward pass.
//!
//! Each model file ([`super::llama`], [`super::gemma3`], [`super::qwen2`]) holds one
//! [`ArchSpec`] (its GGUF and `config.json` names, its tensor names, the conventions those
//! files differ in) and a network implementing [`Decoder`]. Adding an architecture is one new
//! file with both, plus a variant of [`Arch`] and its two arms below.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::config::{HfConfig, ModelConfig};
use super::layers::KvCache;
use super::weights::WeightSource;
use super::{gemma3, llama, qwen2};
use crate::error::Result;
use crate::gguf::GgufFile;
use crate::hooks::{Hook, HookCtx};

/// A loaded network: the part of a model that differs between architectures.
pub trait Decoder<B: Backend>: Send + Sync + std::fmt::Debug {
    /// Runs the blocks over `tokens` `[b, s]` (the columns `ctx.offset..ctx.offset + ctx.len`
    /// of a left-padded batch) and returns the final-normed hidden states `[b, s, d]`.
    fn forward(
        &self,
        tokens: Tensor<B, 2, Int>,
        ctx: &HookCtx,
        cache: Option<&mut KvCache<B>>,
        hooks: &mut dyn Hook<B>,
    ) -> Tensor<B, 3>;

    /// Logits `[b, s, vocab]` from final-normed hidden states.
    fn unembed(&self, h: Tensor<B, 3>) -> Tensor<B, 3>;
}

/// How one architecture's files name and store things.
pub struct ArchSpec {
    /// Our name for it, which is also GGUF's `general.architecture` and its key prefix.
    pub name: &'static str,
    /// `model_type` values of Hugging Face `config.json` files that load as this architecture.
    pub hf_model_types: &'static [&'static str],
    /// Settings beyond the common ones ([`ModelConfig::from_gguf`] reads those first).
    pub gguf_config: fn(&GgufFile, &mut ModelConfig) -> Result<()>,
    /// The same from `config.json`.
    pub hf_config: fn(&HfConfig, &mut ModelConfig) -> Result<()>,
    /// llama.cpp's name for a per-layer tensor, from the Hugging Face name after
    /// `model.layers.{i}.` (`self_attn.q_proj.weight` -> `attn_q.weight`).
    pub gguf_layer_tensor: fn(&str) -> Option<&'static str>,
    /// Whether llama.cpp permuted the rows of the Q and K projections for its interleaved
    /// RoPE (only its `llama` converter does); the loader undoes it.
    pub gguf_rope_permuted: bool,
    /// Added to Hugging Face norm weights to get the multiplier GGUF stores (Gemma's `1 + w`).
    pub hf_norm_offset: f32,
    /// The family's published chat template, for files that carry none.
    pub default_chat_template: Option<&'static str>,
}

/// The architectures mindlens can host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Llama family (SmolLM2, Llama 2/3, TinyLlama, Mistral).
    Llama,
    /// Gemma 3 text models.
    Gemma3,
    /// Qwen2 and Qwen2.5 (Qwen2.5-Coder-Instruct).
    Qwen2,
}

impl Arch {
    /// Every architecture, in the order error messages list them.
    pub const ALL: [Arch; 3] = [Arch::Llama, Arch::Gemma3, Arch::Qwen2];

    /// What the core needs to know about it.
    pub fn spec(self) -> &'static ArchSpec {
        match self {
            Arch::Llama => &llama::SPEC,
            Arch::Gemma3 => &gemma3::SPEC,
            Arch::Qwen2 => &qwen2::SPEC,
        }
    }

    /// Loads its network from Hugging Face-named weights.
    pub(crate) fn load<B: Backend>(
        self,
        cfg: &ModelConfig,
        w: &dyn WeightSource,
        device: &B::Device,
    ) -> Result<Box<dyn Decoder<B>>> {
        Ok(match self {
            Arch::Llama => Box::new(llama::Llama::load(cfg, w, device)?),
            Arch::Gemma3 => Box::new(gemma3::Gemma3::load(cfg, w, device)?),
            Arch::Qwen2 => Box::new(qwen2::load(cfg, w, device)?),
        })
    }

    /// The architecture string used in GGUF metadata (`general.architecture`).
    pub fn gguf_name(self) -> &'static str {
        self.spec().name
    }

    /// The architecture whose GGUF name is `name`.
    pub fn from_gguf_name(name: &str) -> Option<Arch> {
        Self::ALL.into_iter().find(|a| a.spec().name == name)
    }

    /// The architecture a `config.json` with this `model_type` loads as.
    pub fn from_hf_model_type(model_type: &str) -> Option<Arch> {
        Self::ALL
            .into_iter()
            .find(|a| a.spec().hf_model_types.contains(&model_type))
    }

    /// Names for error messages: `llama, gemma3, qwen2`, or the `model_type`s.
    pub fn supported(hf: bool) -> String {
        let names: Vec<&str> = Self::ALL
            .iter()
            .flat_map(|a| {
                if hf {
                    a.spec().hf_model_types.to_vec()
                } else {
                    vec![a.spec().name]
                }
            })
            .collect();
        names.join(", ")
    }
}

/// llama.cpp's names for the per-layer tensors most architectures share, after
/// `model.layers.{i}.` in Hugging Face naming. Llama's "post attention" norm is its pre-MLP
/// norm, stored as `ffn_norm`.
pub fn standard_layer_tensor(leaf: &str) -> Option<&'static str> {
    Some(match leaf {
        "input_layernorm.weight" => "attn_norm.weight",
        "self_attn.q_proj.weight" => "attn_q.weight",
        "self_attn.k_proj.weight" => "attn_k.weight",
        "self_attn.v_proj.weight" => "attn_v.weight",
        "self_attn.o_proj.weight" => "attn_output.weight",
        "post_attention_layernorm.weight" => "ffn_norm.weight",
        "mlp.gate_proj.weight" => "ffn_gate.weight",
        "mlp.up_proj.weight" => "ffn_up.weight",
        "mlp.down_proj.weight" => "ffn_down.weight",
        _ => return None,
    })
}

/// For architectures with nothing beyond the common settings.
pub fn no_extra_gguf_config(_: &GgufFile, _: &mut ModelConfig) -> Result<()> {
    Ok(())
}
