//! Training sparse autoencoders on an activation store, with burn autodiff.
//!
//! The loop streams shuffled batches from the store (never the whole store in memory),
//! differentiates `‖x̂ - x‖² + sparsity (+ AuxK)` with burn's autodiff, and applies Adam
//! itself so that every piece of state (weights, moments, dead-latent counters, the BatchTopK
//! threshold) lives in one checkpoint file. A run killed at any moment resumes from its last
//! checkpoint and, given the seed, ends with the same weights as an uninterrupted run.
//!
//! Activations are scaled by one constant so their mean norm is `sqrt(d_in)` (SAELens'
//! `expected_average_only_in`), which makes the default coefficients transfer across models
//! and layers; the constant is folded into the saved weights, so the saved SAE reads raw
//! activations.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::activation::relu;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::autoencoder::{keep_top_k, Arch, Sae};
use super::saelens::{self, read_safetensors_with_metadata, write_safetensors, SaeOrigin};
use crate::generate::SplitMix64;
use crate::harvest::store::{ActivationStore, ChunkOrder};
use crate::hooks::HookPoint;
use crate::{Error, Result};

/// How the decoder bias starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BDecInit {
    /// Zero.
    Zero,
    /// The mean of a sample of activations.
    Mean,
    /// The geometric median of a sample (Weiszfeld iterations), robust to outlier tokens.
    GeometricMedian,
}

/// Training settings. [`TrainOptions::default`] gives sensible values for a TopK SAE.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Architecture.
    pub arch: Arch,
    /// Latents per input dimension (`d_sae = expansion * d_in`).
    pub expansion: usize,
    /// Latents kept per row (TopK, BatchTopK).
    pub k: usize,
    /// Sparsity coefficient: L1 (relu-l1, weighted by decoder norms) or L0 (jumprelu).
    pub sparsity_coeff: f32,
    /// Steps over which the sparsity coefficient ramps up from zero.
    pub sparsity_warmup_steps: usize,
    /// Peak Adam learning rate.
    pub lr: f64,
    /// Steps of linear learning-rate warm-up.
    pub warmup_steps: usize,
    /// Final fraction of training over which the learning rate decays linearly to zero.
    pub decay_fraction: f64,
    /// Activation vectors per batch.
    pub batch: usize,
    /// Training vectors in all (several passes over the store if it is smaller); 0 means one pass.
    pub tokens: u64,
    /// AuxK loss coefficient (TopK, BatchTopK); 0 disables it.
    pub aux_k_coeff: f32,
    /// A latent that has not fired for this many training vectors counts as dead.
    pub dead_tokens: u64,
    /// Decoder bias initialisation.
    pub b_dec_init: BDecInit,
    /// JumpReLU: width of the straight-through window around the threshold.
    pub bandwidth: f32,
    /// JumpReLU: initial threshold (in normalised units).
    pub init_threshold: f32,
    /// Seed of initialisation and data order.
    pub seed: u64,
    /// Steps between checkpoints.
    pub checkpoint_every: usize,
    /// Steps between lines of `metrics.jsonl`.
    pub log_every: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            arch: Arch::TopK,
            expansion: 16,
            k: 32,
            sparsity_coeff: 5.0,
            sparsity_warmup_steps: 100,
            lr: 1e-3,
            warmup_steps: 20,
            decay_fraction: 0.2,
            batch: 1024,
            tokens: 0,
            aux_k_coeff: 1.0 / 32.0,
            dead_tokens: 1_000_000,
            b_dec_init: BDecInit::GeometricMedian,
            bandwidth: 0.5,
            init_threshold: 0.5,
            seed: 0,
            checkpoint_every: 50,
            log_every: 10,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Optimiser steps taken in all (including those before a resume).
    pub steps: usize,
    /// Training vectors seen in all.
    pub tokens: u64,
    /// Seconds of this invocation.
    pub seconds: f64,
    /// Training vectors per second in this invocation.
    pub tokens_per_s: f64,
    /// Whether this invocation resumed from a checkpoint.
    pub resumed_from_step: Option<usize>,
    /// Scale applied to activations during training (folded into the saved weights).
    pub scale: f32,
    /// The last logged metrics.
    pub last: serde_json::Value,
}

/// Where files go inside an SAE output directory.
struct Paths {
    dir: PathBuf,
}

impl Paths {
    fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.safetensors")
    }
    fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }
    fn summary(&self) -> PathBuf {
        self.dir.join("training.json")
    }
    fn finished(&self) -> PathBuf {
        self.dir.join(saelens::WEIGHTS_FILE)
    }
}

// Parameter order in `State::params`; biases and thresholds are stored as `[1, n]` rows so
// every parameter is a 2-D tensor with one Adam code path. The encoder is stored transposed,
// `[d_sae, d_in]` like the decoder, so a latent's encoder weights are one contiguous row (the
// sparse TopK path gathers and scatters rows).
const W_ENC: usize = 0;
const B_ENC: usize = 1;
const W_DEC: usize = 2;
const B_DEC: usize = 3;
const LOG_THRESHOLD: usize = 4;
const N_PARAMS: usize = 5;

/// Everything a resumed run needs besides the options.
struct State<I: Backend> {
    params: Vec<Tensor<I, 2>>,
    m: Vec<Tensor<I, 2>>,
    v: Vec<Tensor<I, 2>>,
    counters: Counters,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Counters {
    step: usize,
    tokens: u64,
    epoch: u64,
    chunk_in_epoch: usize,
    scale: f32,
    batch_threshold: f32,
    /// Steps since each latent last fired.
    steps_since_fired: Vec<u32>,
    options_digest: String,
}

/// How a [`train`] call treats an existing run in its output directory, and whether it
/// draws a progress bar.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunControl {
    /// Continue from the checkpoint in the output directory.
    pub resume: bool,
    /// Start over even if the output directory already holds a run.
    pub force: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// Trains an SAE on `hook` of `store` and writes it (SAELens layout) to `out`, with
/// `metrics.jsonl`, `training.json` and, while running, `checkpoint.safetensors`.
///
/// `run.resume` continues from the checkpoint in `out`; without it an `out` that already
/// holds a run is refused unless `run.force` is set.
pub fn train<B: AutodiffBackend>(
    store: &ActivationStore,
    hook: HookPoint,
    out: &Path,
    opts: &TrainOptions,
    run: RunControl,
    device: &B::Device,
) -> Result<TrainSummary> {
    crate::alloc::retain_freed_pages();
    let RunControl {
        resume,
        force,
        progress,
    } = run;
    check_options(opts)?;
    let d_in = *store
        .manifest
        .widths
        .get(&hook.to_string())
        .ok_or_else(|| Error::Hook {
            name: hook.to_string(),
            msg: format!(
                "not in the store {} (it holds {:?})",
                store.dir().display(),
                store.manifest.hooks
            ),
        })?;
    let d_sae = opts.expansion * d_in;
    if opts.arch.uses_k() && (opts.k == 0 || opts.k > d_sae) {
        return Err(Error::Invalid(format!("--k {} must be in 1..={d_sae}", opts.k)));
    }
    let paths = Paths { dir: out.to_path_buf() };
    let digest = options_digest(store, hook, opts);
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let has_run = paths.checkpoint().exists() || paths.finished().exists();
    let state = if resume && paths.checkpoint().exists() {
        load_checkpoint::<B::InnerBackend>(&paths.checkpoint(), &digest, device)?
    } else {
        if resume && paths.finished().exists() {
            return Err(Error::Invalid(format!(
                "{}: this SAE is already trained",
                out.display()
            )));
        }
        if has_run && !force && !resume {
            return Err(Error::Invalid(format!(
                "{} already holds an SAE run; pass --resume to continue it or --force to start over",
                out.display()
            )));
        }
        init_state::<B::InnerBackend>(store, hook, d_in, d_sae, opts, digest, device)?
    };
    let resumed_from_step = (state.counters.step > 0).then_some(state.counters.step);
    let total_steps = total_steps(store, opts);
    truncate_metrics(&paths.metrics(), state.counters.step)?;
    let mut trainer = Trainer::<B> {
        opts,
        state,
        d_in,
        d_sae,
        device: device.clone(),
    };

    let bar = if progress {
        ProgressBar::new(total_steps as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} sae train [{bar:30}] {pos}/{len} steps {msg} {elapsed} eta {eta}")
            .expect("valid template"),
    );
    bar.set_position(trainer.state.counters.step as u64);

    let started = Instant::now();
    let tokens_at_start = trainer.state.counters.tokens;
    let mut last = json!({});
    let mut metrics_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.metrics())
        .map_err(|e| Error::io(paths.metrics(), e))?;
    'epochs: while trainer.state.counters.step < total_steps {
        let c = &trainer.state.counters;
        let order = ChunkOrder::Shuffled {
            seed: opts.seed.wrapping_add(c.epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        };
        let chunks = store.chunks(hook, opts.batch, order)?.skip(c.chunk_in_epoch);
        for chunk in chunks {
            let chunk = chunk?;
            let m = trainer.step(chunk, total_steps)?;
            let c = &trainer.state.counters;
            if c.step % opts.log_every == 0 || c.step == total_steps {
                last = m;
                writeln!(metrics_file, "{last}").map_err(|e| Error::io(paths.metrics(), e))?;
                bar.set_message(format!(
                    "mse {:.3} l0 {:.1} dead {:.3}",
                    last["mse"].as_f64().unwrap_or(f64::NAN),
                    last["l0"].as_f64().unwrap_or(f64::NAN),
                    last["dead_fraction"].as_f64().unwrap_or(f64::NAN)
                ));
            }
            bar.set_position(c.step as u64);
            if c.step % opts.checkpoint_every == 0 && c.step < total_steps {
                metrics_file.sync_all().map_err(|e| Error::io(paths.metrics(), e))?;
                save_checkpoint(&trainer.state, &paths.checkpoint())?;
            }
            if c.step >= total_steps {
                break 'epochs;
            }
        }
        trainer.state.counters.epoch += 1;
        trainer.state.counters.chunk_in_epoch = 0;
    }
    bar.finish_and_clear();

    let sae = trainer.export()?;
    let origin = SaeOrigin {
        model: store.manifest.model.clone(),
        hook: hook.to_string(),
        dataset: store.dir().display().to_string(),
    };
    let seconds = started.elapsed().as_secs_f64();
    let tokens = trainer.state.counters.tokens;
    let summary = TrainSummary {
        steps: trainer.state.counters.step,
        tokens,
        seconds,
        tokens_per_s: (tokens - tokens_at_start) as f64 / seconds.max(1e-9),
        resumed_from_step,
        scale: trainer.state.counters.scale,
        last,
    };
    saelens::save(&sae, &origin, out)?;
    crate::artifact::write_json(
        &paths.summary(),
        &json!({ "options": opts, "summary": summary, "store": origin.dataset, "hook": origin.hook }),
    )?;
    std::fs::remove_file(paths.checkpoint()).ok();
    Ok(summary)
}

fn check_options(o: &TrainOptions) -> Result<()> {
    let bad = |m: String| Err(Error::Invalid(m));
    if o.expansion == 0 {
        return bad("--expansion must be positive".into());
    }
    if o.batch == 0 || o.checkpoint_every == 0 || o.log_every == 0 {
        return bad("batch, checkpoint interval and log interval must be positive".into());
    }
    if !(o.lr > 0.0 && o.lr.is_finite()) {
        return bad(format!("--lr {} must be a positive number", o.lr));
    }
    if !(0.0..=1.0).contains(&o.decay_fraction) {
        return bad(format!("decay fraction {} must be in [0, 1]", o.decay_fraction));
    }
    if o.arch == Arch::JumpRelu && !(o.bandwidth > 0.0 && o.init_threshold > 0.0) {
        return bad("JumpReLU bandwidth and initial threshold must be positive".into());
    }
    Ok(())
}

fn total_steps(store: &ActivationStore, o: &TrainOptions) -> usize {
    let tokens = if o.tokens == 0 {
        store.manifest.vectors as u64
    } else {
        o.tokens
    };
    tokens.div_ceil(o.batch as u64).max(1) as usize
}

/// A digest of everything that must not change across a resume.
fn options_digest(store: &ActivationStore, hook: HookPoint, o: &TrainOptions) -> String {
    use sha2::{Digest, Sha256};
    let mut opts = serde_json::to_value(o).expect("options serialise");
    // Bookkeeping intervals may change on resume without changing the result.
    opts.as_object_mut().map(|m| {
        m.remove("checkpoint_every");
        m.remove("log_every")
    });
    // `layout2`: the encoder stored transposed; older checkpoints do not resume.
    let text = format!(
        "layout2|{}|{}|{}|{}",
        store.manifest.data.sha256, store.manifest.vectors, hook, opts
    );
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn init_state<I: Backend>(
    store: &ActivationStore,
    hook: HookPoint,
    d_in: usize,
    d_sae: usize,
    o: &TrainOptions,
    options_digest: String,
    device: &I::Device,
) -> Result<State<I>> {
    // A sample in data order sets the scale and the decoder bias.
    let mut sample: Vec<Array2<f32>> = Vec::new();
    let mut n = 0;
    for chunk in store.chunks(hook, 4096, ChunkOrder::Sequential)? {
        let chunk = chunk?;
        n += chunk.nrows();
        sample.push(chunk);
        if n >= 16384 {
            break;
        }
    }
    let views: Vec<_> = sample.iter().map(|a| a.view()).collect();
    let sample = ndarray::concatenate(Axis(0), &views).map_err(|e| Error::Invalid(e.to_string()))?;
    if sample.nrows() == 0 {
        return Err(Error::Invalid(format!(
            "{}: the store holds no vectors",
            store.dir().display()
        )));
    }
    let mean_norm = sample.rows().into_iter().map(|r| r.dot(&r).sqrt() as f64).sum::<f64>() / sample.nrows() as f64;
    let scale = if mean_norm > 0.0 {
        ((d_in as f64).sqrt() / mean_norm) as f32
    } else {
        1.0
    };
    let sample = sample * scale;
    let b_dec = match o.b_dec_init {
        BDecInit::Zero => Array1::zeros(d_in),
        BDecInit::Mean => sample.mean_axis(Axis(0)).expect("non-empty"),
        BDecInit::GeometricMedian => geometric_median(&sample, 30),
    };

    let mut rng = SplitMix64::new(o.seed);
    let mut w_dec = Array2::<f32>::from_shape_simple_fn((d_sae, d_in), || normal(&mut rng));
    for mut row in w_dec.rows_mut() {
        let norm = row.dot(&row).sqrt().max(1e-12);
        row /= norm;
    }
    let t2 = |a: Array2<f32>| {
        let (r, c) = a.dim();
        Tensor::<I, 2>::from_data(TensorData::new(a.into_raw_vec_and_offset().0, [r, c]), device)
    };
    let row = |v: Vec<f32>| {
        let n = v.len();
        Tensor::<I, 2>::from_data(TensorData::new(v, [1, n]), device)
    };
    let params = vec![
        t2(w_dec.clone()), // tied initialisation: the encoder starts as the decoder's transpose
        row(vec![0.0; d_sae]),
        t2(w_dec),
        row(b_dec.to_vec()),
        row(vec![o.init_threshold.ln(); d_sae]),
    ];
    let zeros: Vec<_> = params.iter().map(|p| p.zeros_like()).collect();
    Ok(State {
        m: zeros.clone(),
        v: zeros,
        params,
        counters: Counters {
            step: 0,
            tokens: 0,
            epoch: 0,
            chunk_in_epoch: 0,
            scale,
            batch_threshold: 0.0,
            steps_since_fired: vec![0; d_sae],
            options_digest,
        },
    })
}

/// Standard normal sample (Box-Muller).
pub(crate) fn normal(rng: &mut SplitMix64) -> f32 {
    let u1 = rng.next_f64().max(1e-300);
    let u2 = rng.next_f64();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Geometric median of the rows (Weiszfeld's algorithm).
pub fn geometric_median(x: &Array2<f32>, iters: usize) -> Array1<f32> {
    let mut m = x.mean_axis(Axis(0)).expect("non-empty");
    for _ in 0..iters {
        let w: Vec<f32> = x
            .rows()
            .into_iter()
            .map(|r| {
                let d = &r - &m;
                1.0 / d.dot(&d).sqrt().max(1e-6)
            })
            .collect();
        let total: f32 = w.iter().sum();
        let mut next = Array1::<f32>::zeros(m.len());
        for (r, wi) in x.rows().into_iter().zip(&w) {
            next.scaled_add(*wi / total, &r);
        }
        m = next;
    }
    m
}

struct Trainer<'a, B: AutodiffBackend> {
    opts: &'a TrainOptions,
    state: State<B::InnerBackend>,
    d_in: usize,
    d_sae: usize,
    device: B::Device,
}

impl<B: AutodiffBackend> Trainer<'_, B> {
    fn lr(&self, step: usize, total: usize) -> f64 {
        let o = self.opts;
        let warm = if o.warmup_steps > 0 {
            ((step + 1) as f64 / o.warmup_steps as f64).min(1.0)
        } else {
            1.0
        };
        let decay_steps = (o.decay_fraction * total as f64).round() as usize;
        let decay = if decay_steps > 0 && step + decay_steps >= total {
            (total - step) as f64 / decay_steps as f64
        } else {
            1.0
        };
        o.lr * warm * decay
    }

    /// One optimiser step on a batch of raw activations; returns the batch's metrics.
    fn step(&mut self, chunk: Array2<f32>, total: usize) -> Result<serde_json::Value> {
        let o = self.opts;
        let rows = chunk.nrows();
        let c = &self.state.counters;
        let scale = c.scale;
        let x_host: Vec<f32> = chunk.iter().map(|v| v * scale).collect();
        let x = Tensor::<B, 2>::from_data(TensorData::new(x_host, [rows, self.d_in]), &self.device);
        let sparsity_coeff = if o.sparsity_warmup_steps > 0 {
            o.sparsity_coeff * ((c.step + 1) as f32 / o.sparsity_warmup_steps as f32).min(1.0)
        } else {
            o.sparsity_coeff
        };
        let dead: Vec<bool> = c
            .steps_since_fired
            .iter()
            .map(|&s| s as u64 * o.batch as u64 >= o.dead_tokens)
            .collect();

        let p: Vec<Tensor<B, 2>> = self
            .state
            .params
            .iter()
            .map(|t| Tensor::from_inner(t.clone()).require_grad())
            .collect();
        let x_centred = x.clone() - p[B_DEC].clone();
        let mut batch_threshold = None;
        let mut aux = None;
        let (recon, fired, sparsity) = if o.arch.uses_k() {
            // Choose the active latents from an untracked dense encoder pass, then differentiate
            // only through them (see `sparse_code`).
            let pre_host = to_host(
                x_centred
                    .clone()
                    .inner()
                    .matmul(self.state.params[W_ENC].clone().transpose())
                    + self.state.params[B_ENC].clone(),
            );
            let active = if o.arch == Arch::BatchTopK {
                let (a, thr) = batch_top_k(&pre_host, self.d_sae, o.k * rows);
                batch_threshold = Some(thr);
                a
            } else {
                top_k(&pre_host, self.d_sae, o.k, None)
            };
            let (codes, decoded) = self.sparse_code(&x_centred, &p, &active, rows);
            let mut fired = vec![0f32; self.d_sae];
            if let Some(codes) = codes {
                for (&c, v) in active.cols.iter().zip(to_host(codes)) {
                    fired[c as usize] += (v > 0.0) as u8 as f32;
                }
            }
            let recon = decoded + p[B_DEC].clone();
            let n_dead = dead.iter().filter(|&&d| d).count();
            if o.aux_k_coeff > 0.0 && n_dead > 0 {
                // AuxK: the dead latents' best k_aux reconstruct what the live ones missed.
                let k_aux = (self.d_in / 2).min(n_dead);
                let active = top_k(&pre_host, self.d_sae, k_aux, Some(&dead));
                let (_, e_hat) = self.sparse_code(&x_centred, &p, &active, rows);
                let residual = x.clone() - recon.clone().detach();
                aux = Some((e_hat - residual).square().sum_dim(1).mean().mul_scalar(o.aux_k_coeff));
            }
            (recon, fired, None)
        } else {
            let pre = x_centred.matmul(p[W_ENC].clone().transpose()) + p[B_ENC].clone();
            let (acts, sparsity) = if o.arch == Arch::JumpRelu {
                let theta = p[LOG_THRESHOLD].clone().exp();
                let diff = pre.clone().detach() - theta.clone().detach();
                let gate = diff.clone().greater_elem(0.0).float();
                let window = diff.abs().lower_elem(o.bandwidth / 2.0).float();
                // Straight-through: the gate's value, with d gate / d theta = -window / bandwidth.
                let st = (theta * window).mul_scalar(-1.0 / o.bandwidth);
                let gate = gate + st.clone() - st.detach();
                let l0 = gate.clone().sum_dim(1).mean();
                (pre * gate, l0.mul_scalar(sparsity_coeff))
            } else {
                let a = relu(pre);
                let dec_norms = p[W_DEC].clone().square().sum_dim(1).sqrt().transpose();
                let l1 = (a.clone() * dec_norms).sum_dim(1).mean();
                (a, l1.mul_scalar(sparsity_coeff))
            };
            let fired = to_host(acts.clone().detach().greater_elem(0.0).float().sum_dim(0));
            (acts.matmul(p[W_DEC].clone()) + p[B_DEC].clone(), fired, Some(sparsity))
        };
        let err = recon - x.clone();
        let mse = err.clone().square().sum_dim(1).mean();
        let mut loss = mse.clone();
        if let Some(s) = sparsity.clone() {
            loss = loss + s;
        }
        if let Some(a) = aux.clone() {
            loss = loss + a;
        }
        let grads = loss.backward();
        let mut g: Vec<Option<Tensor<B::InnerBackend, 2>>> = p.iter().map(|t| t.grad(&grads)).collect();

        // Metrics from the forward pass, before the update.
        let l0 = fired.iter().map(|&v| v as f64).sum::<f64>() / rows as f64;
        let x_mean = x.clone().mean_dim(0);
        let variance = scalar(x.sub(x_mean).square().sum());
        let sse = scalar(err.square().sum());
        let mse_v = scalar(mse);

        // Keep decoder rows at unit norm (not needed for relu-l1, whose penalty is weighted
        // by the norms): drop the gradient's radial part, step, renormalise.
        let unit_decoder = o.arch != Arch::ReluL1;
        if unit_decoder {
            if let Some(gd) = g[W_DEC].take() {
                let w = self.state.params[W_DEC].clone();
                let radial = (gd.clone() * w.clone()).sum_dim(1);
                g[W_DEC] = Some(gd - w * radial);
            }
        }
        let lr = self.lr(self.state.counters.step, total);
        let t = (self.state.counters.step + 1) as i32;
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for (i, gi) in g.into_iter().enumerate() {
            let Some(gi) = gi else { continue };
            let m = self.state.m[i].clone().mul_scalar(b1) + gi.clone().mul_scalar(1.0 - b1);
            let v = self.state.v[i].clone().mul_scalar(b2) + gi.square().mul_scalar(1.0 - b2);
            let update = m.clone().div_scalar(c1) / (v.clone().div_scalar(c2).sqrt().add_scalar(eps));
            self.state.params[i] = self.state.params[i].clone() - update.mul_scalar(lr);
            self.state.m[i] = m;
            self.state.v[i] = v;
        }
        if unit_decoder {
            let w = self.state.params[W_DEC].clone();
            let norms = w.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
            self.state.params[W_DEC] = w / norms;
        }

        let c = &mut self.state.counters;
        for (s, &f) in c.steps_since_fired.iter_mut().zip(&fired) {
            *s = if f > 0.0 { 0 } else { s.saturating_add(1) };
        }
        if let Some(thr) = batch_threshold {
            c.batch_threshold = if c.step == 0 {
                thr
            } else {
                0.99 * c.batch_threshold + 0.01 * thr
            };
        }
        c.step += 1;
        c.tokens += rows as u64;
        c.chunk_in_epoch += 1;
        let dead_now = c
            .steps_since_fired
            .iter()
            .filter(|&&s| s as u64 * o.batch as u64 >= o.dead_tokens)
            .count();
        Ok(json!({
            "step": c.step,
            "tokens": c.tokens,
            "lr": lr,
            "mse": mse_v,
            "fvu": sse / variance.max(1e-12),
            "l0": l0,
            "sparsity_loss": sparsity.map(scalar),
            "aux_loss": aux.map(scalar),
            "dead_fraction": dead_now as f64 / self.d_sae as f64,
        }))
    }

    /// The codes of the `active` (row, latent) pairs and their decoded sum per row (without
    /// the decoder bias), differentiable through only the encoder columns and decoder rows they
    /// touch. A dense k-sparse code spends most of a step multiplying zeros: the decoder's
    /// forward and both weights' gradients are as large as the encoder pass. Gathering the
    /// active pairs instead costs O(pairs × d_in) and gives the same gradients, so a TopK step
    /// is one dense matmul (choosing the latents) plus small gathers and scatters.
    fn sparse_code(
        &self,
        x_centred: &Tensor<B, 2>,
        p: &[Tensor<B, 2>],
        active: &Active,
        rows: usize,
    ) -> (Option<Tensor<B, 2>>, Tensor<B, 2>) {
        let zeros = Tensor::zeros([rows, self.d_in], &self.device);
        let n = active.cols.len();
        if n == 0 {
            return (None, zeros);
        }
        let index = |v: &[i64]| Tensor::<B, 1, Int>::from_data(TensorData::new(v.to_vec(), [n]), &self.device);
        let (row_index, col_index) = (index(&active.rows), index(&active.cols));
        let w_enc = p[W_ENC].clone().select(0, col_index.clone());
        let b_enc = p[B_ENC].clone().select(1, col_index.clone()).reshape([n, 1]);
        let x = x_centred.clone().select(0, row_index.clone());
        let codes = relu((x * w_enc).sum_dim(1) + b_enc);
        let decoded = p[W_DEC].clone().select(0, col_index) * codes.clone();
        (
            Some(codes),
            zeros.select_assign(0, row_index, decoded, IndexingUpdateOp::Add),
        )
    }

    /// The trained SAE on raw (unscaled) activations.
    fn export(&self) -> Result<Sae> {
        let s = self.state.counters.scale;
        let p: Vec<Array2<f32>> = self.state.params.iter().map(|t| to_array(t.clone())).collect();
        let threshold = match self.opts.arch {
            Arch::JumpRelu => p[LOG_THRESHOLD].row(0).mapv(f32::exp),
            Arch::BatchTopK => Array1::from_elem(self.d_sae, self.state.counters.batch_threshold),
            _ => Array1::zeros(0),
        };
        let sae = Sae {
            arch: self.opts.arch,
            k: if self.opts.arch.uses_k() { self.opts.k } else { 0 },
            w_enc: p[W_ENC].t().as_standard_layout().mapv(|v| v * s),
            b_enc: p[B_ENC].row(0).to_owned(),
            w_dec: &p[W_DEC] / s,
            b_dec: p[B_DEC].row(0).mapv(|v| v / s),
            threshold,
        };
        sae.validate()?;
        Ok(sae)
    }
}

fn to_host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().expect("float tensor")
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    to_host(t)[0] as f64
}

fn to_array<B: Backend>(t: Tensor<B, 2>) -> Array2<f32> {
    let [r, c] = t.dims();
    Array2::from_shape_vec((r, c), to_host(t)).expect("shape matches")
}

/// The active (row, latent) pairs of a k-sparse code, in row order.
#[derive(Debug, Default, PartialEq)]
struct Active {
    rows: Vec<i64>,
    cols: Vec<i64>,
}

impl Active {
    fn from_rows(per_row: Vec<Vec<i64>>) -> Self {
        let mut a = Active::default();
        for (r, cols) in per_row.into_iter().enumerate() {
            a.rows.extend(std::iter::repeat_n(r as i64, cols.len()));
            a.cols.extend(cols);
        }
        a
    }
}

/// Each row's `k` largest positive pre-activations, among `allowed` latents only when given
/// (AuxK's dead latents).
fn top_k(pre: &[f32], n: usize, k: usize, allowed: Option<&[bool]>) -> Active {
    let per_row = pre
        .par_chunks(n)
        .map(|p| {
            let mut row: Vec<f32> = match allowed {
                Some(a) => p.iter().zip(a).map(|(&v, &ok)| if ok { v } else { f32::MIN }).collect(),
                None => p.to_vec(),
            };
            keep_top_k(&mut row, k);
            (0..n as i64).filter(|&j| row[j as usize] > 0.0).collect()
        })
        .collect();
    Active::from_rows(per_row)
}

/// The batch's `keep` largest positive pre-activations (rows of width `n`), and the smallest
/// kept value.
fn batch_top_k(pre: &[f32], n: usize, keep: usize) -> (Active, f32) {
    let mut positive: Vec<f32> = pre.iter().copied().filter(|&v| v > 0.0).collect();
    let thr = if positive.len() <= keep || keep == 0 {
        positive.iter().copied().fold(f32::INFINITY, f32::min).min(f32::MAX)
    } else {
        let (_, kth, _) = positive.select_nth_unstable_by(keep - 1, |a, b| b.total_cmp(a));
        *kth
    };
    let thr = if thr.is_finite() { thr } else { 0.0 };
    let per_row = pre
        .par_chunks(n)
        .map(|p| {
            (0..n as i64)
                .filter(|&j| p[j as usize] >= thr && p[j as usize] > 0.0)
                .collect()
        })
        .collect();
    (Active::from_rows(per_row), thr)
}

fn save_checkpoint<I: Backend>(state: &State<I>, path: &Path) -> Result<()> {
    let host: Vec<(String, Array2<f32>)> = (0..N_PARAMS)
        .flat_map(|i| {
            [
                (format!("p{i}"), to_array(state.params[i].clone())),
                (format!("m{i}"), to_array(state.m[i].clone())),
                (format!("v{i}"), to_array(state.v[i].clone())),
            ]
        })
        .collect();
    let tensors: Vec<(&str, Vec<usize>, &[f32])> = host
        .iter()
        .map(|(name, a)| {
            (
                name.as_str(),
                a.shape().to_vec(),
                a.as_slice().expect("standard layout"),
            )
        })
        .collect();
    let counters = serde_json::to_string(&state.counters).expect("counters serialise");
    write_safetensors(
        path,
        &tensors,
        Some(HashMap::from([("counters".to_string(), counters)])),
    )
}

fn load_checkpoint<I: Backend>(path: &Path, digest: &str, device: &I::Device) -> Result<State<I>> {
    let (mut tensors, meta) = read_safetensors_with_metadata(path)?;
    let counters: Counters = meta
        .get("counters")
        .ok_or_else(|| Error::bad_file(path, "no `counters` metadata: not a mindlens SAE checkpoint"))
        .and_then(|s| serde_json::from_str(s).map_err(|e| Error::bad_file(path, format!("counters: {e}"))))?;
    if counters.options_digest != digest {
        return Err(Error::bad_file(
            path,
            "the checkpoint was made with another store, hook or training options; \
             resume with the same ones, or pass --force to start over",
        ));
    }
    let mut take = |name: String| -> Result<Tensor<I, 2>> {
        let (data, shape) = tensors
            .remove(&name)
            .ok_or_else(|| Error::bad_file(path, format!("tensor {name} is missing")))?;
        if shape.len() != 2 {
            return Err(Error::bad_file(path, format!("tensor {name} has shape {shape:?}")));
        }
        Ok(Tensor::from_data(TensorData::new(data, [shape[0], shape[1]]), device))
    };
    let mut state = State {
        params: Vec::new(),
        m: Vec::new(),
        v: Vec::new(),
        counters,
    };
    for i in 0..N_PARAMS {
        state.params.push(take(format!("p{i}"))?);
        state.m.push(take(format!("m{i}"))?);
        state.v.push(take(format!("v{i}"))?);
    }
    Ok(state)
}

/// Keeps the metric lines of steps up to `step` (a resumed run rewrites the later ones).
fn truncate_metrics(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s as usize <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    crate::artifact::write_atomic(path, |f| f.write_all(kept.as_bytes()).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_top_k_keeps_the_largest_across_rows() {
        let pre = [5.0, -1.0, 0.5, 3.0, 4.0, 0.1];
        let (active, thr) = batch_top_k(&pre, 3, 3);
        assert_eq!(
            active,
            Active {
                rows: vec![0, 1, 1],
                cols: vec![0, 0, 1]
            }
        );
        assert_eq!(thr, 3.0);
        let active = top_k(&pre, 3, 1, Some(&[false, true, true]));
        assert_eq!(
            active,
            Active {
                rows: vec![0, 1],
                cols: vec![2, 1]
            }
        );
    }

    #[test]
    fn geometric_median_ignores_an_outlier() {
        let x = Array2::from_shape_vec((5, 1), vec![1.0, 1.1, 0.9, 1.0, 100.0]).unwrap();
        let m = geometric_median(&x, 50);
        assert!((m[0] - 1.0).abs() < 0.1, "{m}");
    }
}
