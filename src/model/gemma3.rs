//! Gemma 3 text decoder: embeddings scaled by sqrt(d_model), "sandwich" RMSNorms before and
//! after both attention and MLP, per-head RMSNorm on queries and keys, GELU-tanh gated MLP,
//! and interleaved attention: sliding-window local layers (RoPE base 10k) with a global layer
//! every few layers (RoPE base 1M), as the GGUF metadata or `config.json` say.
//!
//! Hook points as in [`super::llama`]. `hook_attn_out` and `hook_mlp_out` are what is added to
//! the residual stream, i.e. after the post-attention and post-MLP norms.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::layers::{attention_bias, embed, hook, GatedMlp, KvCache, Linear, RmsNorm, Rope, SelfAttention};
use super::weights::WeightSource;
use super::{load_embeddings, ModelConfig};
use crate::error::Result;
use crate::hooks::{Hook, HookCtx, HookPoint};

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
            self_attn: SelfAttention::load(w, &p, cfg, true, device)?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            pre_feedforward_layernorm: norm("pre_feedforward_layernorm")?,
            mlp: GatedMlp::load(w, &p, cfg, true, device)?,
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

    /// Runs the blocks over `tokens` `[b, s]` and returns the final-normed hidden states.
    pub fn forward(
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

    /// Logits `[b, s, vocab]` from final-normed hidden states, soft-capped if configured.
    pub fn unembed(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let logits = self.lm_head.forward(h);
        match self.final_softcap {
            Some(cap) => (logits / cap).tanh() * cap,
            None => logits,
        }
    }
}
