//! Building blocks shared by the model files: linear maps, RMSNorm, rotary embeddings,
//! grouped-query attention, the attention mask and the KV cache.

use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::weights::{HostTensor, WeightSource};
use crate::error::{Error, Result};
use crate::hooks::HookCtx;

/// Scores of masked-out keys. Finite, so a fully masked (padding) query row gives a uniform
/// distribution instead of NaN; its output is never used.
const MASKED: f32 = -1e30;

/// Uploads a host tensor of known rank to the device, checking its shape.
pub fn upload<B: Backend, const D: usize>(
    t: HostTensor,
    expect: [usize; D],
    name: &str,
    device: &B::Device,
) -> Result<Tensor<B, D>> {
    if t.shape != expect {
        return Err(Error::Invalid(format!(
            "tensor {name} has shape {:?}, expected {:?}",
            t.shape, expect
        )));
    }
    Ok(Tensor::from_data(TensorData::new(t.data, expect), device))
}

/// A bias-free linear map `y = x W`, with `W` stored `[in, out]` (transposed from PyTorch's
/// `[out, in]` once at load time so every matmul reads contiguous memory).
///
/// On the CPU the weight is split into column blocks, one per thread, multiplied in
/// parallel: burn-flex runs small matmuls on one thread, and token-by-token decoding is
/// a chain of matrix-vector products bound by memory bandwidth, which one core cannot use.
#[derive(Clone, Debug)]
pub struct Linear<B: Backend> {
    /// Column blocks of `W`, each `[in, out_k]`, in order.
    pub blocks: Vec<Tensor<B, 2>>,
    /// Output width.
    pub d_out: usize,
}

impl<B: Backend> Linear<B> {
    /// Loads a PyTorch-layout `[out, in]` weight named `name`.
    pub fn load(w: &dyn WeightSource, name: &str, d_in: usize, d_out: usize, device: &B::Device) -> Result<Self> {
        let t = w.load(name)?;
        if t.shape != [d_out, d_in] {
            return Err(Error::Invalid(format!(
                "tensor {name} has shape {:?}, expected [{d_out}, {d_in}]",
                t.shape
            )));
        }
        Ok(Self::from_out_in(&t.data, d_out, d_in, device))
    }

    /// Builds the map from a row-major `[out, in]` matrix.
    pub fn from_out_in(w: &[f32], d_out: usize, d_in: usize, device: &B::Device) -> Self {
        let n_blocks = if B::name(device).contains("flex") && d_out >= 256 {
            rayon::current_num_threads().clamp(1, 8)
        } else {
            1
        };
        let per = d_out.div_ceil(n_blocks);
        let blocks = (0..d_out)
            .step_by(per)
            .map(|start| {
                let end = (start + per).min(d_out);
                // Rows start..end of [out, in] are contiguous; transposed they are [in, end-start].
                let part = transpose(&w[start * d_in..end * d_in], end - start, d_in);
                Tensor::from_data(TensorData::new(part, [d_in, end - start]), device)
            })
            .collect();
        Linear { blocks, d_out }
    }

    /// Applies the map to `[rows, in]`.
    pub fn forward_2d(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match self.blocks.as_slice() {
            [w] => x.matmul(w.clone()),
            blocks => Tensor::cat(par_map(blocks, |w| x.clone().matmul(w.clone())), 1),
        }
    }

    /// Applies the map to `[batch, seq, in]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, s, d] = x.dims();
        self.forward_2d(x.reshape([b * s, d])).reshape([b, s, self.d_out])
    }
}

/// Maps `f` over `items` on rayon's pool, keeping order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    use rayon::prelude::*;
    items.par_iter().map(f).collect()
}

/// Transposes a row-major `[rows, cols]` matrix.
pub fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; w.len()];
    // Blocked to stay cache-friendly on large embedding matrices.
    const BLK: usize = 64;
    for r0 in (0..rows).step_by(BLK) {
        for c0 in (0..cols).step_by(BLK) {
            for r in r0..(r0 + BLK).min(rows) {
                for c in c0..(c0 + BLK).min(cols) {
                    out[c * rows + r] = w[r * cols + c];
                }
            }
        }
    }
    out
}

/// Root-mean-square norm, `x / sqrt(mean(x^2) + eps) * weight`, over the last axis.
///
/// `weight` is the effective multiplier (for Gemma, `1 + w` of the Hugging Face parameter).
#[derive(Clone, Debug)]
pub struct RmsNorm<B: Backend> {
    /// `[d]`
    pub weight: Tensor<B, 1>,
    /// Added to the mean square.
    pub eps: f32,
}

impl<B: Backend> RmsNorm<B> {
    /// Loads the norm weight `name` of width `d`.
    pub fn load(w: &dyn WeightSource, name: &str, d: usize, eps: f32, device: &B::Device) -> Result<Self> {
        Ok(RmsNorm {
            weight: upload(w.load(name)?, [d], name, device)?,
            eps,
        })
    }

    /// Normalises over the last axis of a tensor of any rank.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let ms = (x.clone() * x.clone()).mean_dim(D - 1);
        x / (ms + self.eps).sqrt() * self.weight.clone().unsqueeze::<D>()
    }
}

/// Rotary position embeddings in Hugging Face's rotate-half layout.
#[derive(Clone, Debug)]
pub struct Rope {
    inv_freq: Vec<f32>,
    /// Positions are divided by this (linear RoPE scaling).
    scale: f32,
}

impl Rope {
    /// RoPE for heads of width `d_head` with base `theta` and linear position scale `scale`.
    pub fn new(d_head: usize, theta: f32, scale: f32) -> Self {
        // Same f32 arithmetic as transformers' default RoPE initialisation.
        let inv_freq = (0..d_head / 2)
            .map(|i| 1.0f32 / theta.powf((2 * i) as f32 / d_head as f32))
            .collect();
        Rope { inv_freq, scale }
    }

    /// Cosine and sine tables `[batch, 1, seq, d_head]` for the columns of this call.
    pub fn tables<B: Backend>(&self, ctx: &HookCtx, device: &B::Device) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let (b, s, half) = (ctx.batch(), ctx.len, self.inv_freq.len());
        let d = 2 * half;
        let mut cos = vec![0f32; b * s * d];
        let mut sin = vec![0f32; b * s * d];
        for r in 0..b {
            for j in 0..s {
                let pos = ctx.position(r, ctx.offset + j).unwrap_or(0) as f32 / self.scale;
                for (i, f) in self.inv_freq.iter().enumerate() {
                    let a = pos * f;
                    let base = (r * s + j) * d;
                    cos[base + i] = a.cos();
                    cos[base + half + i] = a.cos();
                    sin[base + i] = a.sin();
                    sin[base + half + i] = a.sin();
                }
            }
        }
        let shape = [b, 1, s, d];
        (
            Tensor::from_data(TensorData::new(cos, shape), device),
            Tensor::from_data(TensorData::new(sin, shape), device),
        )
    }

    /// Rotates `[batch, heads, seq, d_head]` queries or keys.
    pub fn apply<B: Backend>(x: Tensor<B, 4>, cos: &Tensor<B, 4>, sin: &Tensor<B, 4>) -> Tensor<B, 4> {
        let [b, h, s, d] = x.dims();
        let x1 = x.clone().slice([0..b, 0..h, 0..s, 0..d / 2]);
        let x2 = x.clone().slice([0..b, 0..h, 0..s, d / 2..d]);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * cos.clone() + rotated * sin.clone()
    }
}

/// Additive attention mask `[batch, 1, 1, seq, keys]`: 0 where a query may attend, a large
/// negative number elsewhere (future keys, padding, keys outside a sliding window).
pub fn attention_bias<B: Backend>(ctx: &HookCtx, window: Option<usize>, device: &B::Device) -> Tensor<B, 5> {
    let (b, s) = (ctx.batch(), ctx.len);
    let t = ctx.offset + s;
    let mut m = vec![MASKED; b * s * t];
    for r in 0..b {
        let pad = ctx.pad_left[r];
        for i in 0..s {
            let q = ctx.offset + i;
            let lo = match window {
                Some(w) => (q + 1).saturating_sub(w).max(pad),
                None => pad,
            };
            for k in lo..=q {
                m[(r * s + i) * t + k] = 0.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(m, [b, 1, 1, s, t]), device)
}

/// Grouped-query attention. `q`: `[b, heads, s, d]`; `k`, `v`: `[b, kv_heads, t, d]`;
/// `bias` from [`attention_bias`]. Returns the per-head outputs `[b, heads, s, d]` and, when
/// `want_probs`, the attention probabilities `[b, heads, s, t]`.
pub fn attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    bias: &Tensor<B, 5>,
    scale: f32,
    softcap: Option<f32>,
    want_probs: bool,
) -> (Tensor<B, 4>, Option<Tensor<B, 4>>) {
    let [b, h, s, d] = q.dims();
    let [_, kvh, t, _] = k.dims();
    let g = h / kvh;
    // Query heads sharing a key/value head are consecutive: fold them into the query axis so
    // one batched matmul serves the group without copying keys and values.
    let qg = q.reshape([b, kvh, g * s, d]);
    let mut scores = qg.matmul(k.swap_dims(2, 3)) * scale;
    if let Some(cap) = softcap {
        scores = (scores / cap).tanh() * cap;
    }
    let scores = scores.reshape([b, kvh, g, s, t]) + bias.clone();
    let probs = softmax(scores, 4);
    let out = probs
        .clone()
        .reshape([b, kvh, g * s, t])
        .matmul(v)
        .reshape([b, h, s, d]);
    let probs = want_probs.then(|| probs.reshape([b, h, s, t]));
    (out, probs)
}

/// Keys and values of earlier positions, per layer, for incremental decoding.
#[derive(Clone, Debug)]
pub struct KvCache<B: Backend> {
    layers: Vec<Option<(Tensor<B, 4>, Tensor<B, 4>)>>,
}

impl<B: Backend> KvCache<B> {
    /// An empty cache for `n_layers` blocks.
    pub fn new(n_layers: usize) -> Self {
        KvCache {
            layers: vec![None; n_layers],
        }
    }

    /// Number of cached columns.
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map(|(k, _)| k.dims()[2])
            .unwrap_or(0)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends this call's keys and values for `layer` and returns all of them.
    pub fn append(&mut self, layer: usize, k: Tensor<B, 4>, v: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let (k, v) = match self.layers[layer].take() {
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
            None => (k, v),
        };
        self.layers[layer] = Some((k.clone(), v.clone()));
        (k, v)
    }
}

/// Splits `[b, s, heads*d]` into `[b, heads, s, d]`.
pub fn split_heads<B: Backend>(x: Tensor<B, 3>, heads: usize) -> Tensor<B, 4> {
    let [b, s, w] = x.dims();
    x.reshape([b, s, heads, w / heads]).swap_dims(1, 2)
}

/// Joins `[b, heads, s, d]` into `[b, s, heads*d]`.
pub fn merge_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [b, h, s, d] = x.dims();
    x.swap_dims(1, 2).reshape([b, s, h * d])
}

/// Token embedding lookup `[b, s] -> [b, s, d]`.
pub fn embed<B: Backend>(table: &Tensor<B, 2>, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
    burn::tensor::module::embedding(table.clone(), tokens)
}

/// GELU with the tanh approximation (Gemma's `gelu_pytorch_tanh`).
pub fn gelu_tanh<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let c = (2.0f32 / std::f32::consts::PI).sqrt();
    let inner = (x.clone() + x.clone() * x.clone() * x.clone() * 0.044715f32) * c;
    x * ((inner.tanh() + 1.0f32) * 0.5f32)
}

/// Self-attention with grouped-query heads, RoPE, an optional per-head RMSNorm on queries
/// and keys (Gemma 3), and the `attn.hook_z` / `attn.hook_pattern` hook points.
#[derive(Clone, Debug)]
pub struct SelfAttention<B: Backend> {
    /// Query projection `[d_model, heads*d_head]`.
    pub q_proj: Linear<B>,
    /// Key projection `[d_model, kv_heads*d_head]`.
    pub k_proj: Linear<B>,
    /// Value projection `[d_model, kv_heads*d_head]`.
    pub v_proj: Linear<B>,
    /// Output projection `[heads*d_head, d_model]`.
    pub o_proj: Linear<B>,
    /// Per-head query norm (Gemma 3).
    pub q_norm: Option<RmsNorm<B>>,
    /// Per-head key norm (Gemma 3).
    pub k_norm: Option<RmsNorm<B>>,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads.
    pub n_kv_heads: usize,
    /// Scores are multiplied by this.
    pub scale: f32,
    /// Soft cap on scores.
    pub softcap: Option<f32>,
}

impl<B: Backend> SelfAttention<B> {
    /// Loads `{prefix}.self_attn.*` for a model with config `cfg`; `qk_norm` adds Gemma's norms.
    pub fn load(
        w: &dyn WeightSource,
        prefix: &str,
        cfg: &super::ModelConfig,
        qk_norm: bool,
        device: &B::Device,
    ) -> Result<Self> {
        let (d, hd) = (cfg.d_model, cfg.d_head);
        let p = |leaf: &str| format!("{prefix}.self_attn.{leaf}.weight");
        let norm = |leaf: &str| RmsNorm::load(w, &p(leaf), hd, cfg.rms_eps, device);
        Ok(SelfAttention {
            q_proj: Linear::load(w, &p("q_proj"), d, cfg.n_heads * hd, device)?,
            k_proj: Linear::load(w, &p("k_proj"), d, cfg.n_kv_heads * hd, device)?,
            v_proj: Linear::load(w, &p("v_proj"), d, cfg.n_kv_heads * hd, device)?,
            o_proj: Linear::load(w, &p("o_proj"), cfg.n_heads * hd, d, device)?,
            q_norm: if qk_norm { Some(norm("q_norm")?) } else { None },
            k_norm: if qk_norm { Some(norm("k_norm")?) } else { None },
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
            scale: cfg.query_pre_attn_scalar.powf(-0.5),
            softcap: cfg.attn_softcap,
        })
    }

    /// Attends over `x` `[b, s, d_model]` (plus cached keys), returning `[b, s, d_model]`
    /// before any post-attention norm.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        layer: usize,
        rope: (&Tensor<B, 4>, &Tensor<B, 4>),
        bias: &Tensor<B, 5>,
        cache: Option<&mut KvCache<B>>,
        hooks: &mut dyn crate::hooks::Hook<B>,
        ctx: &HookCtx,
    ) -> Tensor<B, 3> {
        use crate::hooks::HookPoint;
        let mut q = split_heads(self.q_proj.forward(x.clone()), self.n_heads);
        let mut k = split_heads(self.k_proj.forward(x.clone()), self.n_kv_heads);
        let v = split_heads(self.v_proj.forward(x), self.n_kv_heads);
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(q);
            k = kn.forward(k);
        }
        let q = Rope::apply(q, rope.0, rope.1);
        let k = Rope::apply(k, rope.0, rope.1);
        let (k, v) = match cache {
            Some(c) => c.append(layer, k, v),
            None => (k, v),
        };
        let want_pattern = hooks.wants(HookPoint::AttnPattern(layer));
        let (z, probs) = attention(q, k, v, bias, self.scale, self.softcap, want_pattern);
        if let Some(p) = probs {
            hooks.on_pattern(layer, p, ctx);
        }
        let mut z = merge_heads(z);
        if hooks.wants(HookPoint::AttnZ(layer)) {
            z = hooks.on(HookPoint::AttnZ(layer), z, ctx);
        }
        self.o_proj.forward(z)
    }
}

/// A gated MLP, `down(act(gate(x)) * up(x))`: SwiGLU for Llama, GELU-tanh for Gemma.
#[derive(Clone, Debug)]
pub struct GatedMlp<B: Backend> {
    /// `[d_model, d_ff]`
    pub gate_proj: Linear<B>,
    /// `[d_model, d_ff]`
    pub up_proj: Linear<B>,
    /// `[d_ff, d_model]`
    pub down_proj: Linear<B>,
    /// SiLU when false, GELU-tanh when true.
    pub gelu: bool,
}

impl<B: Backend> GatedMlp<B> {
    /// Loads `{prefix}.mlp.*`.
    pub fn load(
        w: &dyn WeightSource,
        prefix: &str,
        cfg: &super::ModelConfig,
        gelu: bool,
        device: &B::Device,
    ) -> Result<Self> {
        let p = |leaf: &str| format!("{prefix}.mlp.{leaf}.weight");
        Ok(GatedMlp {
            gate_proj: Linear::load(w, &p("gate_proj"), cfg.d_model, cfg.d_ff, device)?,
            up_proj: Linear::load(w, &p("up_proj"), cfg.d_model, cfg.d_ff, device)?,
            down_proj: Linear::load(w, &p("down_proj"), cfg.d_ff, cfg.d_model, device)?,
            gelu,
        })
    }

    /// Applies the MLP to `[b, s, d_model]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let gate = self.gate_proj.forward(x.clone());
        let act = if self.gelu {
            gelu_tanh(gate)
        } else {
            burn::tensor::activation::silu(gate)
        };
        self.down_proj.forward(act * self.up_proj.forward(x))
    }
}

/// Calls the hook at `point` if it wants it; otherwise returns `x` untouched.
#[inline]
pub fn hook<B: Backend>(
    hooks: &mut dyn crate::hooks::Hook<B>,
    point: crate::hooks::HookPoint,
    x: Tensor<B, 3>,
    ctx: &HookCtx,
) -> Tensor<B, 3> {
    if hooks.wants(point) {
        hooks.on(point, x, ctx)
    } else {
        x
    }
}
