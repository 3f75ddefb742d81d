//! Llama-family decoder (SmolLM2, Llama 2/3, TinyLlama, Mistral): pre-norm blocks with
//! grouped-query attention, rotary embeddings, RMSNorm and a SwiGLU MLP; optionally tied
//! embeddings, optionally sliding-window attention (Mistral). [`super::qwen2`] is this network
//! with biases on the query, key and value projections.
//!
//! Hook points, in the order the forward pass reaches them:
//! `hook_embed`, then per block `hook_resid_pre`, `attn.hook_z` (and `attn.hook_pattern`),
//! `hook_attn_out`, `hook_resid_mid`, `hook_mlp_out`, `hook_resid_post`; finally
//! `ln_final.hook_normalized`.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::arch::{no_extra_gguf_config, standard_layer_tensor, ArchSpec, Decoder};
use super::config::HfConfig;
use super::layers::{
    attention_bias, embed, hook, Activation, AttentionOptions, GatedMlp, KvCache, Linear, RmsNorm, Rope, SelfAttention,
};
use super::weights::WeightSource;
use super::{load_embeddings, ModelConfig};
use crate::error::Result;
use crate::hooks::{Hook, HookCtx, HookPoint};

/// Llama's names and conventions. llama.cpp's converter permutes the rows of Q and K for its
/// interleaved RoPE; the loader permutes them back to Hugging Face's rotate-half layout.
pub const SPEC: ArchSpec = ArchSpec {
    name: "llama",
    hf_model_types: &["llama", "mistral"],
    gguf_config: no_extra_gguf_config,
    hf_config,
    gguf_layer_tensor: standard_layer_tensor,
    gguf_rope_permuted: true,
    hf_norm_offset: 0.0,
    default_chat_template: None,
};

/// Mistral-style checkpoints set `sliding_window`: every layer attends within it.
fn hf_config(hf: &HfConfig, cfg: &mut ModelConfig) -> Result<()> {
    if let Some(w) = hf.opt_usize("sliding_window") {
        cfg.sliding_window = Some(w);
        cfg.layer_is_local = vec![true; cfg.n_layers];
    }
    Ok(())
}

/// One pre-norm transformer block.
#[derive(Clone, Debug)]
pub struct Block<B: Backend> {
    input_layernorm: RmsNorm<B>,
    self_attn: SelfAttention<B>,
    post_attention_layernorm: RmsNorm<B>,
    mlp: GatedMlp<B>,
    is_local: bool,
}

impl<B: Backend> Block<B> {
    fn load(
        w: &dyn WeightSource,
        cfg: &ModelConfig,
        i: usize,
        attention: AttentionOptions,
        device: &B::Device,
    ) -> Result<Self> {
        let p = format!("model.layers.{i}");
        let norm = |leaf: &str| RmsNorm::load(w, &format!("{p}.{leaf}.weight"), cfg.d_model, cfg.rms_eps, device);
        Ok(Block {
            input_layernorm: norm("input_layernorm")?,
            self_attn: SelfAttention::load(w, &p, cfg, attention, device)?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            mlp: GatedMlp::load(w, &p, cfg, Activation::Silu, device)?,
            is_local: cfg.layer_is_local[i],
        })
    }
}

/// A Llama-family causal language model.
#[derive(Clone, Debug)]
pub struct Llama<B: Backend> {
    embed_tokens: Tensor<B, 2>,
    layers: Vec<Block<B>>,
    norm: RmsNorm<B>,
    lm_head: Linear<B>,
    rope: Rope,
    n_heads: usize,
    sliding_window: Option<usize>,
}

impl<B: Backend> Llama<B> {
    /// Loads the weights named in Hugging Face style from `w`.
    pub fn load(cfg: &ModelConfig, w: &dyn WeightSource, device: &B::Device) -> Result<Self> {
        Self::load_with(cfg, w, AttentionOptions::default(), device)
    }

    /// Loads the network with attention options other than Llama's own (Qwen2's biases).
    pub fn load_with(
        cfg: &ModelConfig,
        w: &dyn WeightSource,
        attention: AttentionOptions,
        device: &B::Device,
    ) -> Result<Self> {
        let (embed_tokens, lm_head) = load_embeddings(cfg, w, device)?;
        let layers = (0..cfg.n_layers)
            .map(|i| Block::load(w, cfg, i, attention, device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Llama {
            embed_tokens,
            layers,
            norm: RmsNorm::load(w, "model.norm.weight", cfg.d_model, cfg.rms_eps, device)?,
            lm_head,
            rope: Rope::new(cfg, cfg.rope_theta, cfg.rope_scale),
            n_heads: cfg.n_heads,
            sliding_window: cfg.sliding_window,
        })
    }
}

impl<B: Backend> Decoder<B> for Llama<B> {
    fn forward(
        &self,
        tokens: Tensor<B, 2, Int>,
        ctx: &HookCtx,
        mut cache: Option<&mut KvCache<B>>,
        hooks: &mut dyn Hook<B>,
    ) -> Tensor<B, 3> {
        let device = tokens.device();
        let rope = self.rope.tables::<B>(ctx, &device);
        let global_bias = attention_bias::<B>(ctx, None, self.n_heads, &device);
        let local_bias = match self.sliding_window {
            Some(w) if self.layers.iter().any(|b| b.is_local) => {
                Some(attention_bias::<B>(ctx, Some(w), self.n_heads, &device))
            }
            _ => None,
        };

        let mut x = hook(hooks, HookPoint::Embed, embed(&self.embed_tokens, tokens), ctx);
        let stop = hooks.stop_after();
        for (i, block) in self.layers.iter().enumerate() {
            let bias = local_bias.as_ref().filter(|_| block.is_local).unwrap_or(&global_bias);
            x = hook(hooks, HookPoint::ResidPre(i), x, ctx);
            let h = block.input_layernorm.forward(x.clone());
            let h = block
                .self_attn
                .forward(h, i, &rope, bias, cache.as_deref_mut(), hooks, ctx);
            let attn_out = hook(hooks, HookPoint::AttnOut(i), h, ctx);
            x = hook(hooks, HookPoint::ResidMid(i), x + attn_out, ctx);
            let h = block.mlp.forward(block.post_attention_layernorm.forward(x.clone()));
            let mlp_out = hook(hooks, HookPoint::MlpOut(i), h, ctx);
            x = hook(hooks, HookPoint::ResidPost(i), x + mlp_out, ctx);
            if stop == Some(i) {
                return x;
            }
        }
        hook(hooks, HookPoint::FinalNorm, self.norm.forward(x), ctx)
    }

    fn unembed(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        self.lm_head.forward(h)
    }
}
