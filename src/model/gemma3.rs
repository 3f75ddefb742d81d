//! Gemma 3 text decoder: embeddings scaled by sqrt(d_model), "sandwich" RMSNorms before and
//! after both attention and MLP, per-head RMSNorm on queries and keys, GELU-tanh gated MLP,
//! and interleaved attention: sliding-window local layers (RoPE base 10k) with a global layer
//! every few layers (RoPE base 1M), as the GGUF metadata or `config.json` say.
//!
//! Hook points as in [`super::llama`]. `hook_attn_out` and `hook_mlp_out` are what is added to
//! the residual stream, i.e. after the post-attention and post-MLP norms.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::arch::{standard_layer_tensor, ArchSpec, Decoder};
use super::config::HfConfig;
use super::layers::{
    attention_bias, embed, hook, Activation, AttentionOptions, GatedMlp, KvCache, Linear, RmsNorm, Rope, SelfAttention,
};
use super::weights::WeightSource;
use super::{load_embeddings, ModelConfig};
use crate::chat::GEMMA3_CHAT_TEMPLATE;
use crate::error::Result;
use crate::gguf::GgufFile;
use crate::hooks::{Hook, HookCtx, HookPoint};

/// Gemma 3's names and conventions. GGUF stores each RMSNorm's multiplier `1 + w`; Hugging Face
/// stores `w`. Base GGUFs carry no chat template, so the published one is used.
pub const SPEC: ArchSpec = ArchSpec {
    name: "gemma3",
    hf_model_types: &["gemma3", "gemma3_text"],
    gguf_config,
    hf_config,
    gguf_layer_tensor,
    gguf_rope_permuted: false,
    hf_norm_offset: 1.0,
    default_chat_template: Some(GEMMA3_CHAT_TEMPLATE),
};

fn gguf_layer_tensor(leaf: &str) -> Option<&'static str> {
    Some(match leaf {
        "self_attn.q_norm.weight" => "attn_q_norm.weight",
        "self_attn.k_norm.weight" => "attn_k_norm.weight",
        "post_attention_layernorm.weight" => "post_attention_norm.weight",
        "pre_feedforward_layernorm.weight" => "ffn_norm.weight",
        "post_feedforward_layernorm.weight" => "post_ffw_norm.weight",
        _ => return standard_layer_tensor(leaf),
    })
}

/// Local (sliding-window) layers with their own RoPE base, a global layer every few layers,
/// and soft caps. llama.cpp's defaults apply when the keys are absent, as in the GGUFs we ship.
fn gguf_config(g: &GgufFile, cfg: &mut ModelConfig) -> Result<()> {
    let key = |k: &str| format!("gemma3.{k}");
    cfg.rope_local_theta = g.get_opt_f32(&key("rope.local.freq_base"))?.unwrap_or(10_000.0);
    cfg.sliding_window = Some(g.get_opt_u32(&key("attention.sliding_window"))?.unwrap_or(512) as usize);
    let pattern = g.get_opt_u32(&key("attention.sliding_window_pattern"))?.unwrap_or(6) as usize;
    cfg.layer_is_local = (0..cfg.n_layers).map(|i| (i + 1) % pattern.max(1) != 0).collect();
    cfg.attn_softcap = g.get_opt_f32(&key("attn_logit_softcapping"))?;
    cfg.final_softcap = g.get_opt_f32(&key("final_logit_softcapping"))?;
    Ok(())
}

fn hf_config(hf: &HfConfig, cfg: &mut ModelConfig) -> Result<()> {
    cfg.tie_embeddings = hf.opt_bool("tie_word_embeddings").unwrap_or(true);
    cfg.rope_local_theta = hf
        .rope(
            "sliding_attention",
            hf.opt_f32("rope_local_base_freq").unwrap_or(10_000.0),
        )
        .0;
    cfg.sliding_window = hf.opt_usize("sliding_window");
    cfg.layer_is_local = match hf.get("layer_types").and_then(|t| t.as_array()) {
        Some(types) => {
            if types.len() != cfg.n_layers {
                return Err(hf.bad(format!(
                    "layer_types has {} entries for {} layers",
                    types.len(),
                    cfg.n_layers
                )));
            }
            types.iter().map(|t| t.as_str() == Some("sliding_attention")).collect()
        }
        None => {
            let pattern = hf.opt_usize("sliding_window_pattern").unwrap_or(6);
            (0..cfg.n_layers).map(|i| (i + 1) % pattern.max(1) != 0).collect()
        }
    };
    Ok(())
}

/// One Gemma 3 block with its four norms.
#[derive(Clone, Debug)]
pub struct Block<B: Backend> {
    input_layernorm: RmsNorm<B>,
    self_attn: SelfAttention<B>,
    post_attention_layernorm: RmsNorm<B>,
    pre_feedforward_layernorm: RmsNorm<B>,
    mlp: GatedMlp<B>,
    post_feedforward_layernorm: RmsNorm<B>,
    is_local: bool,
}

impl<B: Backend> Block<B> {
    fn load(w: &dyn WeightSource, cfg: &ModelConfig, i: usize, device: &B::Device) -> Result<Self> {
        let p = format!("model.layers.{i}");
        let norm = |leaf: &str| RmsNorm::load(w, &format!("{p}.{leaf}.weight"), cfg.d_model, cfg.rms_eps, device);
        Ok(Block {
            input_layernorm: norm("input_layernorm")?,
            self_attn: SelfAttention::load(
                w,
                &p,
                cfg,
                AttentionOptions {
                    qk_norm: true,
                    qkv_bias: false,
                },
                device,
            )?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            pre_feedforward_layernorm: norm("pre_feedforward_layernorm")?,
            mlp: GatedMlp::load(w, &p, cfg, Activation::GeluTanh, device)?,
            post_feedforward_layernorm: norm("post_feedforward_layernorm")?,
            is_local: cfg.layer_is_local[i],
        })
    }
}

/// A Gemma 3 causal language model (text part).
#[derive(Clone, Debug)]
pub struct Gemma3<B: Backend> {
    embed_tokens: Tensor<B, 2>,
    embed_scale: f32,
    layers: Vec<Block<B>>,
    norm: RmsNorm<B>,
    lm_head: Linear<B>,
    rope_global: Rope,
    rope_local: Rope,
    n_heads: usize,
    sliding_window: Option<usize>,
    final_softcap: Option<f32>,
}

impl<B: Backend> Gemma3<B> {
    /// Loads the weights named in Hugging Face style from `w`.
    pub fn load(cfg: &ModelConfig, w: &dyn WeightSource, device: &B::Device) -> Result<Self> {
        let (embed_tokens, lm_head) = load_embeddings(cfg, w, device)?;
        let layers = (0..cfg.n_layers)
            .map(|i| Block::load(w, cfg, i, device))
            .collect::<Result<Vec<_>>>()?;
        Ok(Gemma3 {
            embed_tokens,
            embed_scale: (cfg.d_model as f32).sqrt(),
            layers,
            norm: RmsNorm::load(w, "model.norm.weight", cfg.d_model, cfg.rms_eps, device)?,
            lm_head,
            rope_global: Rope::new(cfg, cfg.rope_theta, cfg.rope_scale),
            rope_local: Rope::new(cfg, cfg.rope_local_theta, 1.0),
            n_heads: cfg.n_heads,
            sliding_window: cfg.sliding_window,
            final_softcap: cfg.final_softcap,
        })
    }
}

impl<B: Backend> Decoder<B> for Gemma3<B> {
    fn forward(
        &self,
        tokens: Tensor<B, 2, Int>,
        ctx: &HookCtx,
        mut cache: Option<&mut KvCache<B>>,
        hooks: &mut dyn Hook<B>,
    ) -> Tensor<B, 3> {
        let device = tokens.device();
        let global = self.rope_global.tables::<B>(ctx, &device);
        let local = self.rope_local.tables::<B>(ctx, &device);
        let global_bias = attention_bias::<B>(ctx, None, self.n_heads, &device);
        let local_bias = attention_bias::<B>(ctx, self.sliding_window, self.n_heads, &device);

        let x = embed(&self.embed_tokens, tokens) * self.embed_scale;
        let mut x = hook(hooks, HookPoint::Embed, x, ctx);
        let stop = hooks.stop_after();
        for (i, block) in self.layers.iter().enumerate() {
            let (rope, bias) = if block.is_local {
                (&local, &local_bias)
            } else {
                (&global, &global_bias)
            };
            x = hook(hooks, HookPoint::ResidPre(i), x, ctx);
            let h = block.input_layernorm.forward(x.clone());
            let h = block
                .self_attn
                .forward(h, i, rope, bias, cache.as_deref_mut(), hooks, ctx);
            let attn_out = hook(
                hooks,
                HookPoint::AttnOut(i),
                block.post_attention_layernorm.forward(h),
                ctx,
            );
            x = hook(hooks, HookPoint::ResidMid(i), x + attn_out, ctx);
            let h = block.mlp.forward(block.pre_feedforward_layernorm.forward(x.clone()));
            let mlp_out = hook(
                hooks,
                HookPoint::MlpOut(i),
                block.post_feedforward_layernorm.forward(h),
                ctx,
            );
            x = hook(hooks, HookPoint::ResidPost(i), x + mlp_out, ctx);
            if stop == Some(i) {
                return x;
            }
        }
        hook(hooks, HookPoint::FinalNorm, self.norm.forward(x), ctx)
    }

    /// Soft-capped if configured.
    fn unembed(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let logits = self.lm_head.forward(h);
        match self.final_softcap {
            Some(cap) => (logits / cap).tanh() * cap,
            None => logits,
        }
    }
}
