//! Building blocks shared by the model files: linear maps, RMSNorm, rotary embeddings,
//! grouped-query attention, the attention mask and the KV cache.

use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use std::ops::Range;

use super::cpu_kernels;
use super::weights::{HostTensor, WeightSource};
use crate::backend::is_cpu;
use crate::error::{Error, Result};
use crate::gguf::matvec::QuantMatrix;
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

/// A linear map `y = x W^T (+ b)`, with `W` kept in PyTorch's `[out, in]` layout.
///
/// Large inputs (prefill, batched forward) are one matmul, which burn-flex's `gemm`
/// parallelises itself (it packs the weight, so its layout does not matter there). Small
/// ones (token-by-token decoding, a chain of matrix-vector products bound by memory
/// bandwidth) fall below burn-flex's threading threshold and would run on one core, so on the
/// CPU they are split into blocks of output rows, one per thread: each block is contiguous
/// memory and each output is a contiguous dot product, so each core streams its own part of
/// the weight.
#[derive(Clone, Debug)]
pub struct Linear<B: Backend> {
    /// `[out, in]`. To change the weight, build a new `Linear`: one loaded from GGUF also
    /// keeps the original blocks for decoding, which an edit here would not reach.
    pub weight: Tensor<B, 2>,
    /// `[out]`, added to every output row (Qwen2's query, key and value projections).
    pub bias: Option<Tensor<B, 1>>,
    /// Output ranges computed in parallel for small inputs; empty when not splitting.
    split: Vec<Range<usize>>,
    /// The weight in its GGUF blocks (CPU only), for products with a few rows: decoding reads
    /// 5 bits a weight instead of 32.
    blocks: Option<std::sync::Arc<QuantMatrix>>,
}

/// Inputs of at most this many rows use a [`Linear`]'s quantized blocks (when it has them).
pub const BLOCK_ROWS: usize = 8;

/// Below this many multiply-adds a matmul is split across threads (burn-flex hands
/// matmuls under 192^3 to a single thread).
const SPLIT_BELOW: usize = 192 * 192 * 192;

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
        Ok(Self::from_out_in(t.data, d_out, d_in, device).with_blocks(w.quantized(name)))
    }

    /// Adds the bias `name` (`[out]`) to every output.
    pub fn with_bias(mut self, w: &dyn WeightSource, name: &str, device: &B::Device) -> Result<Self> {
        self.bias = Some(upload(w.load(name)?, [self.d_out()], name, device)?);
        Ok(self)
    }

    /// Keeps `blocks`, the same weight in its GGUF blocks, for products with a few rows on
    /// the CPU backend (ignored elsewhere, or when its shape differs).
    pub fn with_blocks(mut self, blocks: Option<QuantMatrix>) -> Self {
        let dims = self.weight.dims();
        self.blocks = blocks
            .filter(|q| is_cpu::<B>() && q.shape() == dims)
            .map(std::sync::Arc::new);
        self
    }

    /// Builds the map from a row-major `[out, in]` matrix.
    pub fn from_out_in(w: Vec<f32>, d_out: usize, d_in: usize, device: &B::Device) -> Self {
        Self::new(Tensor::from_data(TensorData::new(w, [d_out, d_in]), device), device)
    }

    /// Wraps an `[out, in]` weight already on `device`.
    pub fn new(weight: Tensor<B, 2>, device: &B::Device) -> Self {
        let d_out = weight.dims()[0];
        let threads = rayon::current_num_threads().clamp(1, 8);
        let split = if on_flex::<B>(device) && d_out >= 256 && threads > 1 {
            even_ranges(d_out, threads)
        } else {
            Vec::new()
        };
        Linear {
            weight,
            bias: None,
            split,
            blocks: None,
        }
    }

    /// Output width.
    pub fn d_out(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Applies the map to `[rows, in]`.
    pub fn forward_2d(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let y = self.product(x);
        match &self.bias {
            Some(b) => y + b.clone().unsqueeze::<2>(),
            None => y,
        }
    }

    /// `x W^T`, by whichever route is fastest for `x`'s shape and the device.
    fn product(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [rows, d_in] = x.dims();
        if let Some(q) = self.blocks.as_ref().filter(|_| rows <= BLOCK_ROWS) {
            let device = x.device();
            let x = x.into_data().convert::<f32>();
            let y = q.matmul_t(x.as_slice::<f32>().expect("converted to f32"), rows);
            return Tensor::from_data(TensorData::new(y, [rows, self.d_out()]), &device);
        }
        if self.split.is_empty() || rows * d_in * self.d_out() >= SPLIT_BELOW {
            return x.matmul(self.weight.clone().transpose());
        }
        let parts = par_map(&self.split, |r| {
            x.clone()
                .matmul(self.weight.clone().slice([r.clone(), 0..d_in]).transpose())
        });
        Tensor::cat(parts, 1)
    }

    /// Applies the map to `[batch, seq, in]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, s, d] = x.dims();
        self.forward_2d(x.reshape([b * s, d])).reshape([b, s, self.d_out()])
    }
}

/// Maps `f` over `items` on rayon's pool, keeping order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    use rayon::prelude::*;
    items.par_iter().map(f).collect()
}

/// Below this many elements, splitting work across threads costs more than it saves.
const PAR_ELEMS: usize = 1 << 16;

/// Blocks of the leading axis (`rows` long) to process in parallel: one per CPU thread when
/// the work (`elems` values) is large, otherwise one block.
///
/// burn-flex parallelises large matmuls but runs element-wise ops, softmax and strided copies
/// on one core; on two cores those took as long as the matmuls. They act on each row (each
/// sequence, or each token) independently, so splitting rows across threads is exact.
pub fn row_blocks<B: Backend>(rows: usize, elems: usize, device: &B::Device) -> Vec<Range<usize>> {
    let parts = if on_flex::<B>(device) && elems >= PAR_ELEMS {
        rayon::current_num_threads()
    } else {
        1
    };
    even_ranges(rows, parts)
}

/// Whether `device` is burn-flex's CPU device (where the thread splits above pay off).
fn on_flex<B: Backend>(device: &B::Device) -> bool {
    B::name(device).contains("flex")
}

/// `0..n` cut into at most `parts` consecutive ranges of (nearly) equal length.
fn even_ranges(n: usize, parts: usize) -> Vec<Range<usize>> {
    let per = n.div_ceil(parts.clamp(1, n.max(1))).max(1);
    (0..n).step_by(per).map(|a| a..(a + per).min(n)).collect()
}

/// Runs `f` on each block of rows in parallel and concatenates the results along axis 0.
pub fn by_rows<B: Backend, const D: usize>(
    blocks: &[Range<usize>],
    f: impl Fn(Range<usize>) -> Tensor<B, D> + Sync + Send,
) -> Tensor<B, D> {
    match blocks {
        [one] => f(one.clone()),
        _ => Tensor::cat(par_map(blocks, |r| f(r.clone())), 0),
    }
}

/// Applies `f` to a float tensor's values in host memory. No copy on the CPU backend when the
/// tensor is contiguous and unshared, as a fresh result is; callers check [`is_cpu`].
fn on_host<B: Backend, const D: usize>(t: Tensor<B, D>, f: impl FnOnce(&mut [f32])) -> Tensor<B, D> {
    let device = t.device();
    let mut data = t.into_data().convert::<f32>();
    f(data.as_mut_slice::<f32>().expect("converted to f32"));
    Tensor::from_data(data, &device)
}

/// Rows `r` of the leading axis (a view, no copy).
pub fn rows<B: Backend, const D: usize>(t: &Tensor<B, D>, r: &Range<usize>) -> Tensor<B, D> {
    t.clone().narrow(0, r.start, r.len())
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
        let dims = x.dims();
        let d = dims[D - 1];
        let n = x.shape().num_elements() / d;
        let x = x.reshape([n, d]);
        let blocks = row_blocks::<B>(n, n * d, &x.device());
        by_rows(&blocks, |r| {
            let x = rows(&x, &r);
            let ms = (x.clone() * x.clone()).mean_dim(1);
            x / (ms + self.eps).sqrt() * self.weight.clone().unsqueeze::<2>()
        })
        .reshape(dims)
    }
}

/// Rotary position embeddings in Hugging Face's rotate-half layout.
#[derive(Clone, Debug)]
pub struct Rope {
    inv_freq: Vec<f32>,
    /// Positions are divided by this (linear RoPE scaling).
    scale: f32,
    n_heads: usize,
    n_kv_heads: usize,
}

impl Rope {
    /// RoPE for `cfg`'s query and key heads with base `theta` and linear position scale
    /// `scale`.
    pub fn new(cfg: &super::ModelConfig, theta: f32, scale: f32) -> Self {
        let d_head = cfg.d_head;
        // Same f32 arithmetic as transformers' default RoPE initialisation.
        let inv_freq = (0..d_head / 2)
            .map(|i| 1.0f32 / theta.powf((2 * i) as f32 / d_head as f32))
            .collect();
        Rope {
            inv_freq,
            scale,
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
        }
    }

    /// Cosine and signed-sine tables for this call's columns, laid out like the projected
    /// queries and keys so that rotating them is same-shape arithmetic on contiguous memory
    /// (broadcasting over a swapped head axis sent burn-flex down a scalar strided loop that
    /// took a fifth of the forward pass).
    pub fn tables<B: Backend>(&self, ctx: &HookCtx, device: &B::Device) -> RopeTables<B> {
        let (rows, half) = (ctx.batch() * ctx.len, self.inv_freq.len());
        let d = 2 * half;
        // One head's row per position: cos = [c, c], sin = [-s, s], so that
        // x * cos + swap_halves(x) * sin equals HF's x * cos + rotate_half(x) * sin.
        let mut cos = vec![0f32; rows * d];
        let mut sin = vec![0f32; rows * d];
        for r in 0..ctx.batch() {
            for j in 0..ctx.len {
                let pos = ctx.position(r, ctx.offset + j).unwrap_or(0) as f32 / self.scale;
                let base = (r * ctx.len + j) * d;
                for (i, f) in self.inv_freq.iter().enumerate() {
                    let a = pos * f;
                    cos[base + i] = a.cos();
                    cos[base + half + i] = a.cos();
                    sin[base + i] = -a.sin();
                    sin[base + half + i] = a.sin();
                }
            }
        }
        let widen = |t: &[f32], heads: usize| -> Tensor<B, 3> {
            let wide: Vec<f32> = t.chunks(d).flat_map(|row| row.repeat(heads)).collect();
            Tensor::from_data(TensorData::new(wide, [ctx.batch(), ctx.len, heads * d]), device)
        };
        RopeTables {
            q: (widen(&cos, self.n_heads), widen(&sin, self.n_heads)),
            k: (widen(&cos, self.n_kv_heads), widen(&sin, self.n_kv_heads)),
        }
    }

    /// Rotates projected queries or keys `[batch, seq, heads * d_head]` with tables from
    /// [`Rope::tables`] of the same width.
    pub fn apply<B: Backend>(x: Tensor<B, 3>, heads: usize, (cos, sin): &(Tensor<B, 3>, Tensor<B, 3>)) -> Tensor<B, 3> {
        let [b, s, w] = x.dims();
        let d = w / heads;
        let x4 = x.clone().reshape([b, s, heads, d]);
        let swapped = Tensor::cat(
            vec![
                x4.clone().slice([0..b, 0..s, 0..heads, d / 2..d]),
                x4.slice([0..b, 0..s, 0..heads, 0..d / 2]),
            ],
            3,
        )
        .reshape([b, s, w]);
        x * cos.clone() + swapped * sin.clone()
    }
}

/// Rotary tables for one forward call: `(cos, sin)` for queries and for keys, each
/// `[batch, seq, heads * d_head]`.
#[derive(Clone, Debug)]
pub struct RopeTables<B: Backend> {
    /// Query-width tables.
    pub q: (Tensor<B, 3>, Tensor<B, 3>),
    /// Key-width tables.
    pub k: (Tensor<B, 3>, Tensor<B, 3>),
}

impl<B: Backend> RopeTables<B> {
    /// The tables of batch rows `r`.
    pub fn rows(&self, r: &Range<usize>) -> Self {
        let pair = |(c, s): &(Tensor<B, 3>, Tensor<B, 3>)| (rows(c, r), rows(s, r));
        RopeTables {
            q: pair(&self.q),
            k: pair(&self.k),
        }
    }
}

/// Additive attention mask `[batch, heads, seq, keys]`: 0 where a query may attend, a large
/// negative number elsewhere (future keys, padding, keys outside a sliding window).
///
/// Built at the full score shape, once per forward call, so that adding it in every layer is
/// same-shape arithmetic: a broadcast over heads sent burn-flex down a scalar strided loop.
pub fn attention_bias<B: Backend>(
    ctx: &HookCtx,
    window: Option<usize>,
    heads: usize,
    device: &B::Device,
) -> Tensor<B, 4> {
    let (b, s) = (ctx.batch(), ctx.len);
    let t = ctx.offset + s;
    let mut m = vec![MASKED; b * heads * s * t];
    for (r, per_row) in m.chunks_mut(heads * s * t).enumerate() {
        let pad = ctx.pad_left[r];
        let (first, rest) = per_row.split_at_mut(s * t);
        for i in 0..s {
            let q = ctx.offset + i;
            let lo = match window {
                Some(w) => (q + 1).saturating_sub(w).max(pad),
                None => pad,
            };
            // Padding queries (q < pad) attend nowhere; their rows stay fully masked.
            if lo <= q {
                first[i * t + lo..=i * t + q].fill(0.0);
            }
        }
        for head in rest.chunks_mut(s * t) {
            head.copy_from_slice(first);
        }
    }
    Tensor::from_data(TensorData::new(m, [b, heads, s, t]), device)
}

/// Grouped-query attention over tensors in the projection layout: `q` `[b, s, heads * d]`,
/// `k` and `v` `[b, t, kv_heads * d]`; `bias` from [`attention_bias`]. Returns the per-head
/// outputs `[b, s, heads * d]` and, when `want_probs`, the attention probabilities
/// `[b, heads, s, t]`.
#[allow(clippy::too_many_arguments)]
pub fn attention<B: Backend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    (heads, kv_heads): (usize, usize),
    bias: &Tensor<B, 4>,
    scale: f32,
    softcap: Option<f32>,
    want_probs: bool,
) -> (Tensor<B, 3>, Option<Tensor<B, 4>>) {
    let [b, s, w] = q.dims();
    let t = k.dims()[1];
    let (d, g, kvh) = (w / heads, heads / kv_heads, kv_heads);
    // Query heads sharing a key/value head are consecutive. Queries viewed as `[b, kv_heads,
    // group, s, d]` against keys and values broadcast over the group axis let one batched
    // matmul serve every head; on the CPU backend these are strided views, so neither queries
    // nor keys nor values are copied.
    let qg = q.reshape([b, s, kvh, g, d]).permute([0, 2, 3, 1, 4]);
    let kt = k
        .reshape([b, t, kvh, 1, d])
        .permute([0, 2, 3, 4, 1])
        .expand([b, kvh, g, d, t]);
    let vg = v
        .reshape([b, t, kvh, 1, d])
        .permute([0, 2, 3, 1, 4])
        .expand([b, kvh, g, t, d]);
    let mut scores = qg.matmul(kt) * scale;
    if let Some(cap) = softcap {
        scores = (scores / cap).tanh() * cap;
    }
    let scores = scores.reshape([b, heads, s, t]) + bias.clone();
    let probs = if is_cpu::<B>() {
        on_host(scores, |x| cpu_kernels::softmax_rows(x, t))
    } else {
        softmax(scores, 3)
    };
    let kept = want_probs.then(|| probs.clone());
    let out = probs.reshape([b, kvh, g, s, t]).matmul(vg).reshape([b, heads, s, d]);
    (merge_heads(out), kept)
}

/// Keys and values of earlier positions, per layer, for incremental decoding.
#[derive(Clone, Debug)]
pub struct KvCache<B: Backend> {
    /// Keys and values `[b, t, kv_heads * d_head]`, per layer.
    layers: Vec<Option<(Tensor<B, 3>, Tensor<B, 3>)>>,
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
            .map(|(k, _)| k.dims()[1])
            .unwrap_or(0)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends this call's keys and values for `layer` and returns all of them.
    pub fn append(&mut self, layer: usize, k: Tensor<B, 3>, v: Tensor<B, 3>) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let (k, v) = match self.layers[layer].take() {
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 1), Tensor::cat(vec![pv, v], 1)),
            None => (k, v),
        };
        self.layers[layer] = Some((k.clone(), v.clone()));
        (k, v)
    }
}

/// Joins `[b, heads, s, d]` into `[b, s, heads*d]`.
pub fn merge_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [b, h, s, d] = x.dims();
    if !is_cpu::<B>() {
        return x.swap_dims(1, 2).reshape([b, s, h * d]);
    }
    // burn-flex copies a strided view element by element; whole head rows copy as slices.
    let device = x.device();
    let src = x.into_data().convert::<f32>();
    let src = src.as_slice::<f32>().expect("converted to f32");
    let mut dst = vec![0f32; src.len()];
    for (i, row) in src.chunks_exact(d).enumerate() {
        let (bh, si) = (i / s, i % s);
        let (bi, hi) = (bh / h, bh % h);
        let to = ((bi * s + si) * h + hi) * d;
        dst[to..to + d].copy_from_slice(row);
    }
    Tensor::from_data(TensorData::new(dst, [b, s, h * d]), &device)
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

/// What an architecture's attention has beyond Llama's.
#[derive(Clone, Copy, Debug, Default)]
pub struct AttentionOptions {
    /// A per-head RMSNorm on queries and keys (Gemma 3).
    pub qk_norm: bool,
    /// Biases on the query, key and value projections (Qwen2).
    pub qkv_bias: bool,
}

/// Self-attention with grouped-query heads, RoPE, optional per-head RMSNorms on queries and
/// keys, optional projection biases, and the `attn.hook_z` / `attn.hook_pattern` hook points.
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
    /// Loads `{prefix}.self_attn.*` for a model with config `cfg`.
    pub fn load(
        w: &dyn WeightSource,
        prefix: &str,
        cfg: &super::ModelConfig,
        opts: AttentionOptions,
        device: &B::Device,
    ) -> Result<Self> {
        let (d, hd) = (cfg.d_model, cfg.d_head);
        let p = |leaf: &str| format!("{prefix}.self_attn.{leaf}.weight");
        let norm = |leaf: &str| RmsNorm::load(w, &p(leaf), hd, cfg.rms_eps, device);
        let input_proj = |leaf: &str, d_out: usize| {
            let l = Linear::load(w, &p(leaf), d, d_out, device)?;
            match opts.qkv_bias {
                true => l.with_bias(w, &format!("{prefix}.self_attn.{leaf}.bias"), device),
                false => Ok(l),
            }
        };
        Ok(SelfAttention {
            q_proj: input_proj("q_proj", cfg.n_heads * hd)?,
            k_proj: input_proj("k_proj", cfg.n_kv_heads * hd)?,
            v_proj: input_proj("v_proj", cfg.n_kv_heads * hd)?,
            o_proj: Linear::load(w, &p("o_proj"), cfg.n_heads * hd, d, device)?,
            q_norm: if opts.qk_norm { Some(norm("q_norm")?) } else { None },
            k_norm: if opts.qk_norm { Some(norm("k_norm")?) } else { None },
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
        rope: &RopeTables<B>,
        bias: &Tensor<B, 4>,
        cache: Option<&mut KvCache<B>>,
        hooks: &mut dyn crate::hooks::Hook<B>,
        ctx: &HookCtx,
    ) -> Tensor<B, 3> {
        use crate::hooks::HookPoint;
        let want_pattern = hooks.wants(HookPoint::AttnPattern(layer));
        let (mut z, probs) = match cache {
            // Cached decoding is one short step: no row split (the cache is shared).
            Some(c) => self.attend(x, rope, bias, Some((c, layer)), want_pattern),
            None => {
                let blocks = row_blocks::<B>(x.dims()[0], bias.shape().num_elements(), &x.device());
                let parts = par_map(&blocks, |r| {
                    self.attend(rows(&x, r), &rope.rows(r), &rows(bias, r), None, want_pattern)
                });
                let (zs, ps): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
                let probs = ps.into_iter().collect::<Option<Vec<_>>>().map(|p| Tensor::cat(p, 0));
                (Tensor::cat(zs, 0), probs)
            }
        };
        if let Some(p) = probs {
            hooks.on_pattern(layer, p, ctx);
        }
        if hooks.wants(HookPoint::AttnZ(layer)) {
            z = hooks.on(HookPoint::AttnZ(layer), z, ctx);
        }
        self.o_proj.forward(z)
    }

    /// Per-head outputs `[b, s, heads * d_head]` for `x` `[b, s, d_model]`, and the
    /// attention probabilities when `want_probs`. Rows are independent without a cache, so
    /// [`SelfAttention::forward`] runs blocks of them on separate threads.
    fn attend(
        &self,
        x: Tensor<B, 3>,
        rope: &RopeTables<B>,
        bias: &Tensor<B, 4>,
        cache: Option<(&mut KvCache<B>, usize)>,
        want_probs: bool,
    ) -> (Tensor<B, 3>, Option<Tensor<B, 4>>) {
        let mut q = self.q_proj.forward(x.clone());
        let mut k = self.k_proj.forward(x.clone());
        let v = self.v_proj.forward(x);
        let [b, s, _] = q.dims();
        let (h, kvh) = (self.n_heads, self.n_kv_heads);
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            let [_, _, wq] = q.dims();
            let [_, _, wk] = k.dims();
            q = qn.forward(q.reshape([b, s, h, wq / h])).reshape([b, s, wq]);
            k = kn.forward(k.reshape([b, s, kvh, wk / kvh])).reshape([b, s, wk]);
        }
        let q = Rope::apply(q, h, &rope.q);
        let k = Rope::apply(k, kvh, &rope.k);
        let (k, v) = match cache {
            Some((c, layer)) => c.append(layer, k, v),
            None => (k, v),
        };
        attention(q, k, v, (h, kvh), bias, self.scale, self.softcap, want_probs)
    }
}

/// The gate's activation in a [`GatedMlp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// SiLU (SwiGLU): Llama, Qwen2.
    Silu,
    /// GELU with the tanh approximation: Gemma.
    GeluTanh,
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
    /// The gate's activation.
    pub activation: Activation,
}

impl<B: Backend> GatedMlp<B> {
    /// Loads `{prefix}.mlp.*`.
    pub fn load(
        w: &dyn WeightSource,
        prefix: &str,
        cfg: &super::ModelConfig,
        activation: Activation,
        device: &B::Device,
    ) -> Result<Self> {
        let p = |leaf: &str| format!("{prefix}.mlp.{leaf}.weight");
        Ok(GatedMlp {
            gate_proj: Linear::load(w, &p("gate_proj"), cfg.d_model, cfg.d_ff, device)?,
            up_proj: Linear::load(w, &p("up_proj"), cfg.d_model, cfg.d_ff, device)?,
            down_proj: Linear::load(w, &p("down_proj"), cfg.d_ff, cfg.d_model, device)?,
            activation,
        })
    }

    /// Applies the MLP to `[b, s, d_model]`, blocks of tokens on separate CPU threads.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, s, d] = x.dims();
        let x = x.reshape([b * s, d]);
        let blocks = row_blocks::<B>(b * s, b * s * d * 3, &x.device());
        by_rows(&blocks, |r| {
            let x = rows(&x, &r);
            let gate = self.gate_proj.forward_2d(x.clone());
            let up = self.up_proj.forward_2d(x);
            let hidden = if is_cpu::<B>() {
                let up = up.into_data().convert::<f32>();
                let up = up.as_slice::<f32>().expect("converted to f32");
                on_host(gate, |g| {
                    cpu_kernels::gated_activation(g, up, self.activation == Activation::GeluTanh)
                })
            } else if self.activation == Activation::GeluTanh {
                gelu_tanh(gate) * up
            } else {
                burn::tensor::activation::silu(gate) * up
            };
            self.down_proj.forward_2d(hidden)
        })
        .reshape([b, s, d])
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
