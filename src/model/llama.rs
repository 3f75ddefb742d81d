//! Llama-family decoder (SmolLM2, Llama 2/3, TinyLlama): pre-norm blocks with grouped-query
//! attention, rotary embeddings, RMSNorm and a SwiGLU MLP; optionally tied embeddings.
//!
//! Hook points, in the order the forward pass reaches them:
//! `hook_embed`, then per block `hook_resid_pre`, `attn.hook_z` (and `attn.hook_pattern`),
//! `hook_attn_out`, `hook_resid_mid`, `hook_mlp_out`, `hook_resid_post`; finally
//! `ln_final.hook_normalized`.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::layers::{attention_bias, embed, hook, GatedMlp, KvCache, Linear, RmsNorm, Rope, SelfAttention};
use super::weights::WeightSource;
use super::{load_embeddings, ModelConfig};
use crate::error::Result;
use crate::hooks::{Hook, HookCtx, HookPoint};

/// One pre-norm transformer block.
#[derive(Clone, Debug)]
pub struct Block<B: Backend> {
    input_layernorm: RmsNorm<B>,
    self_attn: SelfAttention<B>,
    post_attention_layernorm: RmsNorm<B>,
    mlp: GatedMlp<B>,
}

impl<B: Backend> Block<B> {
    fn load(w: &dyn WeightSource, cfg: &ModelConfig, i: usize, device: &B::Device) -> Result<Self> {
        let p = format!("model.layers.{i}");
        let norm = |leaf: &str| RmsNorm::load(w, &format!("{p}.{leaf}.weight"), cfg.d_model, cfg.rms_eps, device);
        Ok(Block {
            input_layernorm: norm("input_layernorm")?,
            self_attn: SelfAttention::load(w, &p, cfg, false, device)?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            mlp: GatedMlp::load(w, &p, cfg, false, device)?,
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
        let (embed_tokens, lm_head) = load_embeddings(cfg, w, device)?;
        let layers = (0..cfg.n_layers)
            .map(|i| Block::load(w, cfg, i, device))
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

    /// Runs the blocks over `tokens` `[b, s]` and returns the final-normed hidden states.
    pub fn forward(
        &self,
        tokens: Tensor<B, 2, Int>,
        ctx: &HookCtx,
        mut cache: Option<&mut KvCache<B>>,
        hooks: &mut dyn Hook<B>,
    ) -> Tensor<B, 3> {
        let device = tokens.device();
        let rope = self.rope.tables::<B>(ctx, &device);
        let bias = attention_bias::<B>(ctx, self.sliding_window, self.n_heads, &device);

        let mut x = hook(hooks, HookPoint::Embed, embed(&self.embed_tokens, tokens), ctx);
        let stop = hooks.stop_after();
        for (i, block) in self.layers.iter().enumerate() {
            x = hook(hooks, HookPoint::ResidPre(i), x, ctx);
            let h = block.input_layernorm.forward(x.clone());
            let h = block
                .self_attn
                .forward(h, i, &rope, &bias, cache.as_deref_mut(), hooks, ctx);
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

    /// Logits `[b, s, vocab]` from final-normed hidden states.
    pub fn unembed(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        self.lm_head.forward(h)
    }
}
