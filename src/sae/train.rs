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
    /// Start from this SAE (SAELens layout, same architecture and sizes) instead of a random
    /// initialisation: fine-tunes an SAE from mindlens or SAELens on new activations. The
    /// optimiser state starts fresh.
    #[serde(default)]
    pub init: Option<PathBuf>,
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
            init: None,
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

/// ReLU and JumpReLU train through gathered pairs (see [`Trainer::forward`]) once at most this
/// many latents per row are active. Measured at d_in 576, 9,216 latents, batch 1,024 on 2
/// cores: a gathered step costs about 0.32 s + 6 ms per pair per row, a dense one 1.07 s, so
/// the break-even is near 125.
const SPARSE_PAIRS_PER_ROW: usize = 100;

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
        Tensor::<I, 2>::from_data(TensorData::new(a.iter().copied().collect(), [r, c]), device)
    };
    let row = |v: Vec<f32>| {
        let n = v.len();
        Tensor::<I, 2>::from_data(TensorData::new(v, [1, n]), device)
    };
    let mut batch_threshold = 0.0;
    let params = match &o.init {
        None => vec![
            t2(w_dec.clone()), // tied initialisation: the encoder starts as the decoder's transpose
            row(vec![0.0; d_sae]),
            t2(w_dec),
            row(b_dec.to_vec()),
            row(vec![o.init_threshold.ln(); d_sae]),
        ],
        Some(dir) => {
            let (sae, _) = crate::sae::saelens::load(dir)?;
            let bad = |m: String| Err(Error::bad_file(dir, m));
            if sae.arch != o.arch {
                return bad(format!("--init holds a {} SAE, not {}", sae.arch.name(), o.arch.name()));
            }
            if (sae.d_in(), sae.d_sae()) != (d_in, d_sae) {
                return bad(format!(
                    "--init has d_in {} and d_sae {}; this run needs {d_in} and {d_sae}",
                    sae.d_in(),
                    sae.d_sae()
                ));
            }
            // The inverse of `Trainer::export`: back to scaled units (pre-activations and
            // thresholds are the same in both).
            let log_threshold = match o.arch {
                Arch::JumpRelu => sae.threshold.iter().map(|t| t.max(1e-12).ln()).collect(),
                _ => vec![o.init_threshold.ln(); d_sae],
            };
            if o.arch == Arch::BatchTopK {
                batch_threshold = sae.threshold.first().copied().unwrap_or(0.0);
            }
            vec![
                t2(sae.w_enc.t().mapv(|v| v / scale)),
                row(sae.b_enc.to_vec()),
                t2(sae.w_dec.mapv(|v| v * scale)),
                row(sae.b_dec.mapv(|v| v * scale).to_vec()),
                row(log_threshold),
            ]
        }
    };
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
            batch_threshold,
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

    /// The parameters as autodiff leaves, in `State::params` order, for one step's graph.
    fn tracked_params(&self) -> Vec<Tensor<B, 2>> {
        self.state
            .params
            .iter()
            .map(|t| Tensor::from_inner(t.clone()).require_grad())
            .collect()
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

        let p = self.tracked_params();
        let f = self.forward(&x, &p, sparsity_coeff, &dead, SPARSE_PAIRS_PER_ROW);
        let (loss, mse, err) = f.loss(&x);
        let Forward {
            fired,
            sparsity,
            aux,
            batch_threshold,
            ..
        } = f;
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

    /// The reconstruction and loss terms of a batch (`x` scaled, `p` the tracked parameters).
    ///
    /// A sparse code spends most of a dense step multiplying zeros: the decoder's forward and
    /// both weights' gradients are as large as the encoder pass. So every architecture picks,
    /// from an untracked dense encoder pass, the (row, latent) pairs that can touch the loss or
    /// a gradient, and differentiates only through those ([`Self::gather`]): TopK and BatchTopK
    /// their k, ReLU the positive pre-activations, JumpReLU those above their threshold (the
    /// active ones). JumpReLU's pairs just below threshold, inside the
    /// straight-through window, give their thresholds a gradient but touch no weight; they are
    /// kept on the host ([`BelowThreshold`]) rather than gathered. The pairs left out have zero
    /// code and zero gradient, so the loss and gradients equal the dense computation's at
    /// O(pairs × d_in) cost. ReLU and JumpReLU take the dense path while more than
    /// `max_pairs_per_row` latents per row are active (early training, before the penalty has
    /// made the code sparse), where one matmul is cheaper than gathering.
    fn forward(
        &self,
        x: &Tensor<B, 2>,
        p: &[Tensor<B, 2>],
        sparsity_coeff: f32,
        dead: &[bool],
        max_pairs_per_row: usize,
    ) -> Forward<B> {
        let o = self.opts;
        let rows = x.dims()[0];
        let x_centred = x.clone() - p[B_DEC].clone();
        // ReLU and JumpReLU may fall back to the dense step, which needs the encoder pass
        // tracked: computing it tracked from the start spares a second matmul (left unused, it
        // adds nothing to the backward pass).
        let pre_tracked =
            (!o.arch.uses_k()).then(|| x_centred.clone().matmul(p[W_ENC].clone().transpose()) + p[B_ENC].clone());
        let pre_host = match &pre_tracked {
            Some(pre) => to_host(pre.clone().inner()),
            None => to_host(
                x_centred.clone().inner().matmul(p[W_ENC].clone().inner().transpose()) + p[B_ENC].clone().inner(),
            ),
        };
        let theta_host = (o.arch == Arch::JumpRelu).then(|| to_host(p[LOG_THRESHOLD].clone().inner().exp()));
        let mut batch_threshold = None;
        let max_pairs = max_pairs_per_row.saturating_mul(rows);
        let active = match o.arch {
            Arch::TopK => Some(top_k(&pre_host, self.d_sae, o.k, None)),
            Arch::BatchTopK => {
                let (a, thr) = batch_top_k(&pre_host, self.d_sae, o.k * rows);
                batch_threshold = Some(thr);
                Some(a)
            }
            Arch::ReluL1 => above(&pre_host, &vec![0.0; self.d_sae], max_pairs),
            Arch::JumpRelu => above(&pre_host, theta_host.as_deref().expect("JumpReLU"), max_pairs),
        };
        let Some(active) = active else {
            return self.dense_forward(
                pre_tracked.expect("only ReLU and JumpReLU fall back"),
                p,
                sparsity_coeff,
            );
        };
        let below = theta_host.map(|theta_host| BelowThreshold {
            pairs: below_threshold(&pre_host, &theta_host, o.bandwidth / 2.0),
            theta: p[LOG_THRESHOLD].clone().exp(),
            w_dec: to_host(p[W_DEC].clone().inner()),
            bandwidth: o.bandwidth,
            sparsity_coeff,
        });
        let b_dec = p[B_DEC].clone();
        let Some(g) = self.gather(&x_centred, p, &active) else {
            let sparsity = (!o.arch.uses_k()).then(|| Tensor::zeros([1], &self.device));
            return Forward {
                recon: b_dec.expand([rows, self.d_in]),
                fired: vec![0.0; self.d_sae],
                sparsity,
                aux: None,
                batch_threshold,
                below,
            };
        };
        let n = active.cols.len();
        let (codes, sparsity) = match o.arch {
            Arch::TopK | Arch::BatchTopK => (relu(g.pre), None),
            Arch::ReluL1 => {
                let codes = relu(g.pre);
                let norms = g.dec.clone().square().sum_dim(1).sqrt();
                let l1 = (codes.clone() * norms).sum().div_scalar(rows as f32);
                (codes, Some(l1.mul_scalar(sparsity_coeff)))
            }
            Arch::JumpRelu => {
                let theta = p[LOG_THRESHOLD].clone().select(1, g.cols.clone()).reshape([n, 1]).exp();
                let (codes, gate) = jump_relu(g.pre, theta, o.bandwidth);
                let l0 = gate.sum().div_scalar(rows as f32);
                (codes, Some(l0.mul_scalar(sparsity_coeff)))
            }
        };
        let mut fired = vec![0f32; self.d_sae];
        for (&c, v) in active.cols.iter().zip(to_host(codes.clone())) {
            fired[c as usize] += (v > 0.0) as u8 as f32;
        }
        let recon = self.scatter(rows, g.rows, g.dec, codes) + b_dec;

        let n_dead = dead.iter().filter(|&&d| d).count();
        let mut aux = None;
        if o.arch.uses_k() && o.aux_k_coeff > 0.0 && n_dead > 0 {
            // AuxK: the dead latents' best k_aux reconstruct what the live ones missed.
            let k_aux = (self.d_in / 2).min(n_dead);
            let active = top_k(&pre_host, self.d_sae, k_aux, Some(dead));
            if let Some(g) = self.gather(&x_centred, p, &active) {
                let e_hat = self.scatter(rows, g.rows, g.dec, relu(g.pre));
                let residual = x.clone() - recon.clone().detach();
                aux = Some((e_hat - residual).square().sum_dim(1).mean().mul_scalar(o.aux_k_coeff));
            }
        }
        Forward {
            recon,
            fired,
            sparsity,
            aux,
            batch_threshold,
            below,
        }
    }

    /// [`Self::forward`] with every latent tracked (ReLU and JumpReLU while the code is dense).
    /// `pre` is the tracked encoder pass.
    fn dense_forward(&self, pre: Tensor<B, 2>, p: &[Tensor<B, 2>], sparsity_coeff: f32) -> Forward<B> {
        let o = self.opts;
        let rows = pre.dims()[0] as f32;
        let (acts, sparsity) = if o.arch == Arch::JumpRelu {
            let (acts, gate) = jump_relu(pre, p[LOG_THRESHOLD].clone().exp(), o.bandwidth);
            (acts, gate.sum().div_scalar(rows))
        } else {
            let acts = relu(pre);
            let dec_norms = p[W_DEC].clone().square().sum_dim(1).sqrt().transpose();
            let l1 = (acts.clone() * dec_norms).sum().div_scalar(rows);
            (acts, l1)
        };
        let fired = to_host(acts.clone().detach().greater_elem(0.0).float().sum_dim(0));
        Forward {
            recon: acts.matmul(p[W_DEC].clone()) + p[B_DEC].clone(),
            fired,
            sparsity: Some(sparsity.mul_scalar(sparsity_coeff)),
            aux: None,
            batch_threshold: None,
            below: None,
        }
    }

    /// The tracked pre-activations of the `active` pairs and their decoder rows, gathered so
    /// that only the encoder and decoder rows they touch receive gradient; `None` when there
    /// are no pairs.
    fn gather(&self, x_centred: &Tensor<B, 2>, p: &[Tensor<B, 2>], active: &Active) -> Option<Gathered<B>> {
        let n = active.cols.len();
        if n == 0 {
            return None;
        }
        let index = |v: &[i64]| Tensor::<B, 1, Int>::from_data(TensorData::new(v.to_vec(), [n]), &self.device);
        let (rows, cols) = (index(&active.rows), index(&active.cols));
        let w_enc = p[W_ENC].clone().select(0, cols.clone());
        let b_enc = p[B_ENC].clone().select(1, cols.clone()).reshape([n, 1]);
        let x = x_centred.clone().select(0, rows.clone());
        Some(Gathered {
            pre: (x * w_enc).sum_dim(1) + b_enc,
            dec: p[W_DEC].clone().select(0, cols.clone()),
            rows,
            cols,
        })
    }

    /// Each row's sum of `codes × dec` over its pairs (the decoding without the decoder bias).
    fn scatter(
        &self,
        rows: usize,
        row_index: Tensor<B, 1, Int>,
        dec: Tensor<B, 2>,
        codes: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        Tensor::zeros([rows, self.d_in], &self.device).select_assign(0, row_index, dec * codes, IndexingUpdateOp::Add)
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

/// What [`Trainer::forward`] computes for a batch.
struct Forward<B: AutodiffBackend> {
    /// The reconstruction x̂ (scaled units).
    recon: Tensor<B, 2>,
    /// Rows of the batch in which each latent fired.
    fired: Vec<f32>,
    /// The sparsity penalty (ReLU, JumpReLU), coefficient applied.
    sparsity: Option<Tensor<B, 1>>,
    /// The AuxK loss (TopK, BatchTopK with dead latents), coefficient applied.
    aux: Option<Tensor<B, 1>>,
    /// BatchTopK: the smallest kept pre-activation of this batch.
    batch_threshold: Option<f32>,
    /// JumpReLU on the gathered path: the pairs just below threshold.
    below: Option<BelowThreshold<B>>,
}

impl<B: AutodiffBackend> Forward<B> {
    /// The training loss on the scaled batch `x` (MSE summed over features, mean over rows,
    /// plus the sparsity and AuxK terms), the MSE alone, and the error `x̂ - x`.
    fn loss(&self, x: &Tensor<B, 2>) -> (Tensor<B, 1>, Tensor<B, 1>, Tensor<B, 2>) {
        let err = self.recon.clone() - x.clone();
        let mse = err.clone().square().sum_dim(1).mean();
        let mut loss = mse.clone();
        for term in [&self.sparsity, &self.aux].into_iter().flatten() {
            loss = loss + term.clone();
        }
        if let Some(below) = &self.below {
            loss = loss + below.threshold_term(&err);
        }
        (loss, mse, err)
    }
}

/// JumpReLU's (row, latent) pairs with `threshold - bandwidth/2 < pre <= threshold`. Their code
/// is zero, so no weight gets gradient from them, but the straight-through estimator gives
/// each one's threshold `d gate / d log θ = -θ / bandwidth`, through the L0 penalty and
/// through the code `pre × gate`. Gathered like active pairs they would cost as much (the
/// window is wide and holds more pairs than fire); [`Self::threshold_term`] adds their
/// gradient from one dot product per pair on the host.
struct BelowThreshold<B: AutodiffBackend> {
    /// Per row of the batch: (latent, pre-activation).
    pairs: Vec<Vec<(usize, f32)>>,
    /// The thresholds θ, tracked, `[1, d_sae]`.
    theta: Tensor<B, 2>,
    /// The decoder `[d_sae, d_in]`, row-major.
    w_dec: Vec<f32>,
    bandwidth: f32,
    sparsity_coeff: f32,
}

impl<B: AutodiffBackend> BelowThreshold<B> {
    /// A term worth zero whose gradient in log θ is these pairs' share of the loss's: for a
    /// pair (r, j), `-θ_j / bandwidth × (pre_rj × dL/dcode_rj + coeff / rows)`, where
    /// `dL/dcode_rj = (2 / rows) err_r · W_dec_j` under the MSE of [`Forward::loss`].
    fn threshold_term(&self, err: &Tensor<B, 2>) -> Tensor<B, 1> {
        let [rows, d_in] = err.dims();
        let d_sae = self.w_dec.len() / d_in;
        let err = to_host(err.clone().inner());
        let per_row: Vec<Vec<(usize, f32)>> = self
            .pairs
            .par_iter()
            .enumerate()
            .map(|(r, pairs)| {
                let e = &err[r * d_in..(r + 1) * d_in];
                pairs
                    .iter()
                    .map(|&(j, pre)| {
                        let w = &self.w_dec[j * d_in..(j + 1) * d_in];
                        let d_code: f32 = 2.0 / rows as f32 * e.iter().zip(w).map(|(a, b)| a * b).sum::<f32>();
                        (j, pre * d_code + self.sparsity_coeff / rows as f32)
                    })
                    .collect()
            })
            .collect();
        let mut s = vec![0f32; d_sae];
        for (j, v) in per_row.into_iter().flatten() {
            s[j] += v;
        }
        let s = Tensor::<B, 2>::from_data(TensorData::new(s, [1, d_sae]), &self.theta.device());
        let st = (self.theta.clone() * s).mul_scalar(-1.0 / self.bandwidth);
        (st.clone() - st.detach()).sum()
    }
}

/// Tracked pieces of a set of (row, latent) pairs, one entry per pair.
struct Gathered<B: AutodiffBackend> {
    /// Pre-activations, `[pairs, 1]`.
    pre: Tensor<B, 2>,
    /// The latents' decoder rows, `[pairs, d_in]`.
    dec: Tensor<B, 2>,
    rows: Tensor<B, 1, Int>,
    cols: Tensor<B, 1, Int>,
}

/// JumpReLU's code and gate: `pre × H(pre - θ)`, the gate's derivative in θ given by the
/// straight-through estimator `-window / bandwidth` (Rajamanoharan et al. 2024).
fn jump_relu<B: AutodiffBackend>(
    pre: Tensor<B, 2>,
    theta: Tensor<B, 2>,
    bandwidth: f32,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let diff = pre.clone().detach() - theta.clone().detach();
    let gate = diff.clone().greater_elem(0.0).float();
    let window = diff.abs().lower_elem(bandwidth / 2.0).float();
    let st = (theta * window).mul_scalar(-1.0 / bandwidth);
    let gate = gate + st.clone() - st.detach();
    (pre * gate.clone(), gate)
}

/// The pairs whose pre-activation exceeds its latent's `floor`, or `None` when there are more
/// than `max_pairs` of them.
fn above(pre: &[f32], floor: &[f32], max_pairs: usize) -> Option<Active> {
    let n = floor.len();
    let count: usize = pre
        .par_chunks(n)
        .map(|p| p.iter().zip(floor).filter(|(v, f)| v > f).count())
        .sum();
    if count > max_pairs {
        return None;
    }
    let per_row = pre
        .par_chunks(n)
        .map(|p| (0..n as i64).filter(|&j| p[j as usize] > floor[j as usize]).collect())
        .collect();
    Some(Active::from_rows(per_row))
}

/// Each row's pairs with `theta - half < pre <= theta` (rows of width `theta.len()`), with
/// their pre-activations.
fn below_threshold(pre: &[f32], theta: &[f32], half: f32) -> Vec<Vec<(usize, f32)>> {
    pre.par_chunks(theta.len())
        .map(|p| {
            p.iter()
                .zip(theta)
                .enumerate()
                .filter(|(_, (&v, &t))| v <= t && v > t - half)
                .map(|(j, (&v, _))| (j, v))
                .collect()
        })
        .collect()
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

    /// Loss and gradients of one batch through [`Trainer::forward`], dense or gathered.
    fn loss_and_grads(arch: Arch, dense: bool) -> (f64, Vec<Option<Vec<f32>>>) {
        type Ad = burn::backend::Autodiff<crate::backend::Cpu>;
        let (rows, d_in, d_sae) = (16, 8, 32);
        let device = Default::default();
        let mut rng = SplitMix64::new(7);
        let mut t = |r: usize, c: usize, s: f32| {
            let v: Vec<f32> = (0..r * c).map(|_| normal(&mut rng) * s).collect();
            Tensor::<crate::backend::Cpu, 2>::from_data(TensorData::new(v, [r, c]), &device)
        };
        // Thresholds near the pre-activations' scale put pairs on both sides of the
        // straight-through window.
        let params = vec![
            t(d_sae, d_in, 0.5),
            t(1, d_sae, 0.3),
            t(d_sae, d_in, 0.5),
            t(1, d_in, 0.2),
            t(1, d_sae, 0.3),
        ];
        let x = t(rows, d_in, 1.0);
        let opts = TrainOptions {
            arch,
            ..TrainOptions::default()
        };
        let zeros: Vec<_> = params.iter().map(|p| p.zeros_like()).collect();
        let trainer = Trainer::<Ad> {
            opts: &opts,
            state: State {
                params,
                m: zeros.clone(),
                v: zeros,
                counters: Counters {
                    step: 0,
                    tokens: 0,
                    epoch: 0,
                    chunk_in_epoch: 0,
                    scale: 1.0,
                    batch_threshold: 0.0,
                    steps_since_fired: vec![0; d_sae],
                    options_digest: String::new(),
                },
            },
            d_in,
            d_sae,
            device,
        };
        let p = trainer.tracked_params();
        let x = Tensor::<Ad, 2>::from_inner(x);
        let max_pairs_per_row = if dense { 0 } else { usize::MAX };
        let f = trainer.forward(&x, &p, 0.7, &[false; 32], max_pairs_per_row);
        assert!(f.sparsity.is_some(), "{arch:?} has a penalty");
        let (loss, _, _) = f.loss(&x);
        let value = scalar(loss.clone().inner());
        let grads = loss.backward();
        (value, p.iter().map(|t| t.grad(&grads).map(to_host)).collect())
    }

    #[test]
    fn gathered_step_equals_the_dense_step() {
        for arch in [Arch::ReluL1, Arch::JumpRelu] {
            let (dense_loss, dense) = loss_and_grads(arch, true);
            let (sparse_loss, sparse) = loss_and_grads(arch, false);
            assert!(
                (dense_loss - sparse_loss).abs() < 1e-5 * dense_loss.abs(),
                "{arch:?}: {dense_loss} vs {sparse_loss}"
            );
            for (i, (d, s)) in dense.iter().zip(&sparse).enumerate() {
                assert_eq!(d.is_some(), s.is_some(), "{arch:?}: parameter {i}");
                let (Some(d), Some(s)) = (d, s) else { continue };
                let scale = d.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(scale > 0.0, "{arch:?}: parameter {i} got no gradient");
                for (a, b) in d.iter().zip(s) {
                    assert!((a - b).abs() <= 1e-4 * scale, "{arch:?}: parameter {i}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn geometric_median_ignores_an_outlier() {
        let x = Array2::from_shape_vec((5, 1), vec![1.0, 1.1, 0.9, 1.0, 100.0]).unwrap();
        let m = geometric_median(&x, 50);
        assert!((m[0] - 1.0).abs() < 0.1, "{m}");
    }
}
