//! Training sparse autoencoders on an activation store.
//!
//! The loop streams shuffled batches from the store (never the whole store in memory),
//! differentiates `‖x̂ - x‖² + sparsity (+ AuxK)` (with burn's autodiff, or on the CPU by the
//! hand-derived step through the active latents of [`super::sparse_step`]), and applies Adam
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
use burn::tensor::{Tensor, TensorData};
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::autoencoder::{keep_top_k, Arch, Sae};
use super::collective::Peer;
use super::saelens::{self, read_safetensors_with_metadata, write_safetensors, SaeOrigin};
use super::sparse_step::{self, Batch, Pairs, Weights};
use crate::backend::is_cpu;
use crate::generate::SplitMix64;
use crate::harvest::store::{ActivationStore, ChunkOrder};
use crate::hooks::HookPoint;
use crate::model::cpu_kernels::{axpy, dot};
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

fn one() -> usize {
    1
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
    /// Data-parallel replicas this invocation trained on (1: one device).
    #[serde(default = "one")]
    pub devices: usize,
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
// sparse step reads and writes latents' rows).
const W_ENC: usize = 0;
const B_ENC: usize = 1;
const W_DEC: usize = 2;
const B_DEC: usize = 3;
const LOG_THRESHOLD: usize = 4;
const N_PARAMS: usize = 5;

/// Adam's β₁, β₂ and ε.
const ADAM_BETAS: (f64, f64) = (0.9, 0.999);
const ADAM_EPS: f64 = 1e-8;

/// On the CPU, ReLU and JumpReLU take the sparse step (see [`Trainer::gradients`]) once at
/// most this many latents per row are active. Measured at d_in 576, 9,216 latents, batch
/// 1,024 on 2 cores (TopK at k = 32 and 1,024): a sparse step costs about 0.21 s + 0.32 ms per
/// pair per row, a dense one 0.74 s, so the break-even is near 1,600.
const SPARSE_PAIRS_PER_ROW: usize = 1000;

/// Everything a resumed run needs besides the options.
struct State<I: Backend> {
    params: Vec<Tensor<I, 2>>,
    m: Vec<Tensor<I, 2>>,
    v: Vec<Tensor<I, 2>>,
    counters: Counters,
}

impl<I: Backend> State<I> {
    /// A copy on `device`.
    fn to_device(&self, device: &I::Device) -> Self {
        let copy = |ts: &[Tensor<I, 2>]| ts.iter().map(|t| t.clone().to_device(device)).collect();
        State {
            params: copy(&self.params),
            m: copy(&self.m),
            v: copy(&self.v),
            counters: self.counters.clone(),
        }
    }
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
    train_on::<B>(store, hook, out, opts, run, std::slice::from_ref(device))
}

/// [`train`], data-parallel over `devices` (one replica each, on a thread of its own): every
/// batch is cut into one equal share per device, each replica computes its share's
/// gradients, burn-collective's all-reduce averages them, and every replica applies the same
/// update. The same device may be listed twice (two replicas on one GPU, or on the CPU).
pub fn train_on<B: AutodiffBackend>(
    store: &ActivationStore,
    hook: HookPoint,
    out: &Path,
    opts: &TrainOptions,
    run: RunControl,
    devices: &[B::Device],
) -> Result<TrainSummary> {
    let Some(device) = devices.first() else {
        return Err(Error::Invalid("no device to train on".into()));
    };
    if devices.len() > 1 && !opts.batch.is_multiple_of(devices.len()) {
        return Err(Error::Invalid(format!(
            "--batch {} does not split evenly over {} devices",
            opts.batch,
            devices.len()
        )));
    }
    if devices.len() > 1 && opts.arch == Arch::BatchTopK {
        // Its threshold is a statistic of the whole batch, which no replica sees.
        return Err(Error::Invalid(
            "batchtopk cannot train data-parallel: its threshold is taken over the whole batch".into(),
        ));
    }
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
    // Replica 0 holds the state that is checkpointed and exported; the others copy it.
    let mut replicas: Vec<Trainer<B>> = devices[1..]
        .iter()
        .map(|d| Trainer::<B> {
            opts,
            state: state.to_device(d),
            d_in,
            d_sae,
            device: d.clone(),
            peer: None,
        })
        .collect();
    let mut trainer = Trainer::<B> {
        opts,
        state,
        d_in,
        d_sae,
        device: device.clone(),
        peer: None,
    };

    let bar = crate::progress::bar("sae train steps", total_steps as u64, progress);
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
            let m = if replicas.is_empty() {
                trainer.step(chunk, total_steps)?
            } else {
                parallel_step(&mut trainer, &mut replicas, &chunk, total_steps)?
            };
            let c = &trainer.state.counters;
            if c.step.is_multiple_of(opts.log_every) || c.step == total_steps {
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
            if c.step.is_multiple_of(opts.checkpoint_every) && c.step < total_steps {
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
    if !replicas.is_empty() {
        for_each_replica(&mut trainer, &mut replicas, |_, t| match t.peer.take() {
            Some(p) => p.finish::<B::InnerBackend>(),
            None => Ok(()),
        })?;
    }

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
        devices: devices.len(),
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
    let mut w_dec = Array2::<f32>::from_shape_simple_fn((d_sae, d_in), || rng.next_normal() as f32);
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
    /// This replica's place in data-parallel training.
    peer: Option<Peer>,
}

/// Runs `f` on every replica at once, each on a thread of its own (collective operations
/// block until every replica has called them), and returns replica 0's result.
fn for_each_replica<B: AutodiffBackend, T: Send>(
    first: &mut Trainer<'_, B>,
    rest: &mut [Trainer<'_, B>],
    f: impl Fn(usize, &mut Trainer<'_, B>) -> Result<T> + Sync,
) -> Result<T> {
    std::thread::scope(|scope| {
        let f = &f;
        let others: Vec<_> = rest
            .iter_mut()
            .enumerate()
            .map(|(i, t)| scope.spawn(move || f(i + 1, t)))
            .collect();
        let mine = f(0, first);
        for h in others {
            h.join().expect("a replica does not panic")?;
        }
        mine
    })
}

/// One data-parallel step: replica `i` trains on the `i`-th equal share of `chunk`'s rows.
fn parallel_step<B: AutodiffBackend>(
    first: &mut Trainer<'_, B>,
    rest: &mut [Trainer<'_, B>],
    chunk: &Array2<f32>,
    total: usize,
) -> Result<serde_json::Value> {
    let n = rest.len() + 1;
    let share = chunk.nrows() / n;
    for_each_replica(first, rest, |i, t| {
        if t.peer.is_none() {
            t.peer = Some(Peer::register::<B::InnerBackend>(i, n, &t.device)?);
        }
        let rows = chunk.slice(ndarray::s![i * share..(i + 1) * share, ..]).to_owned();
        t.step(rows, total)
    })
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
        let x: Vec<f32> = chunk.iter().map(|v| v * scale).collect();
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
        let mut out = self.gradients(&x, sparsity_coeff, &dead, None);
        let local_rows = rows;
        let rows = match &self.peer {
            Some(peer) => {
                out = self.average(peer, out)?;
                rows * peer.count
            }
            None => rows,
        };
        let g = out.grads;

        // Metrics from the forward pass, before the update.
        let l0 = out.fired.iter().map(|&v| v as f64).sum::<f64>() / rows as f64;
        let variance: f64 = (0..self.d_in)
            .map(|f| {
                let column = x.iter().skip(f).step_by(self.d_in).map(|&v| v as f64);
                let mean = column.clone().sum::<f64>() / rows as f64;
                column.map(|v| (v - mean) * (v - mean)).sum::<f64>()
            })
            .sum();

        let lr = self.lr(self.state.counters.step, total);
        if is_cpu::<B::InnerBackend>() {
            self.update_on_host(g, lr);
        } else {
            self.update(g, lr);
        }

        let c = &mut self.state.counters;
        for (s, &f) in c.steps_since_fired.iter_mut().zip(&out.fired) {
            *s = if f > 0.0 { 0 } else { s.saturating_add(1) };
        }
        if let Some(thr) = out.batch_threshold {
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
            "mse": out.mse,
            "fvu": out.mse * local_rows as f64 / variance.max(1e-12),
            "l0": l0,
            "sparsity_loss": out.sparsity,
            "aux_loss": out.aux,
            "dead_fraction": dead_now as f64 / self.d_sae as f64,
        }))
    }

    /// A replica's gradients and loss terms averaged over all replicas, and the rows each
    /// latent fired in summed, so that every replica takes the same step as one device would
    /// on the whole batch (every loss term is a mean over rows, and the shares are equal).
    fn average(&self, peer: &Peer, out: StepGrads<B>) -> Result<StepGrads<B>> {
        let grads = out
            .grads
            .into_iter()
            .map(|g| g.map(|g| peer.mean(g)).transpose())
            .collect::<Result<Vec<_>>>()?;
        let device = &self.device;
        let fired = Tensor::<B::InnerBackend, 1>::from_data(TensorData::new(out.fired, [self.d_sae]), device);
        let fired = to_host(peer.sum(fired)?);
        let terms = [out.mse, out.sparsity.unwrap_or(0.0), out.aux.unwrap_or(0.0)].map(|v| v as f32);
        let terms = Tensor::<B::InnerBackend, 1>::from_data(TensorData::new(terms.to_vec(), [3]), device);
        let terms = to_host(peer.mean(terms)?);
        Ok(StepGrads {
            grads,
            mse: terms[0] as f64,
            sparsity: out.sparsity.map(|_| terms[1] as f64),
            aux: out.aux.map(|_| terms[2] as f64),
            fired,
            batch_threshold: out.batch_threshold,
        })
    }

    /// Adam's bias corrections `1 - β^t` for the step about to be taken.
    fn bias_corrections(&self) -> (f64, f64) {
        let t = (self.state.counters.step + 1) as i32;
        (1.0 - ADAM_BETAS.0.powi(t), 1.0 - ADAM_BETAS.1.powi(t))
    }

    /// One Adam step on the parameters. Decoder rows stay at unit norm (except for relu-l1,
    /// whose penalty is weighted by the norms): the gradient's radial part is dropped before
    /// the step and the rows renormalised after it.
    fn update(&mut self, mut g: Vec<Option<Tensor<B::InnerBackend, 2>>>, lr: f64) {
        let unit_decoder = self.opts.arch != Arch::ReluL1;
        if unit_decoder {
            if let Some(gd) = g[W_DEC].take() {
                let w = self.state.params[W_DEC].clone();
                let radial = (gd.clone() * w.clone()).sum_dim(1);
                g[W_DEC] = Some(gd - w * radial);
            }
        }
        let ((b1, b2), (c1, c2)) = (ADAM_BETAS, self.bias_corrections());
        for (i, gi) in g.into_iter().enumerate() {
            let Some(gi) = gi else { continue };
            let m = self.state.m[i].clone().mul_scalar(b1) + gi.clone().mul_scalar(1.0 - b1);
            let v = self.state.v[i].clone().mul_scalar(b2) + gi.square().mul_scalar(1.0 - b2);
            let update = m.clone().div_scalar(c1) / (v.clone().div_scalar(c2).sqrt().add_scalar(ADAM_EPS));
            self.state.params[i] = self.state.params[i].clone() - update.mul_scalar(lr);
            self.state.m[i] = m;
            self.state.v[i] = v;
        }
        if unit_decoder {
            let w = self.state.params[W_DEC].clone();
            let norms = w.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
            self.state.params[W_DEC] = w / norms;
        }
    }

    /// [`Self::update`] in one pass over host memory, in place, for the CPU backend: there
    /// burn runs each of the update's dozen element-wise ops as a pass that allocates its
    /// output (about 120 ms a step at 9,216 × 576 on 2 cores, a third of a TopK step).
    fn update_on_host(&mut self, g: Vec<Option<Tensor<B::InnerBackend, 2>>>, lr: f64) {
        let unit_decoder = self.opts.arch != Arch::ReluL1;
        let ((b1, b2), (c1, c2)) = (ADAM_BETAS, self.bias_corrections());
        // Each constant rounded to f32 once from f64, as burn's scalar ops round them.
        let [b1, b2, one_b1, one_b2, c1, c2, lr, eps] =
            [b1, b2, 1.0 - b1, 1.0 - b2, c1, c2, lr, ADAM_EPS].map(|c| c as f32);
        let s = &mut self.state;
        let taken = std::mem::take(&mut s.params)
            .into_iter()
            .zip(std::mem::take(&mut s.m))
            .zip(std::mem::take(&mut s.v))
            .zip(g);
        for (i, (((p, m), v), g)) in taken.enumerate() {
            let Some(g) = g else {
                s.params.push(p);
                s.m.push(m);
                s.v.push(v);
                continue;
            };
            let [_, width] = p.dims();
            let device = p.device();
            // Moved out of `State` unshared, so on the CPU backend these are the tensors' own
            // buffers, not copies.
            let mut data = [p, m, v, g].map(|t| t.into_data().convert::<f32>());
            let [p, m, v, g] = data.each_mut().map(|d| d.as_mut_slice::<f32>().expect("f32 data"));
            let unit_rows = unit_decoder && i == W_DEC;
            p.par_chunks_mut(width)
                .zip(m.par_chunks_mut(width))
                .zip(v.par_chunks_mut(width))
                .zip(g.par_chunks_mut(width))
                .for_each(|(((p, m), v), g)| {
                    if unit_rows {
                        axpy(-dot(g, p), p, g);
                    }
                    for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g.iter()) {
                        *m = b1 * *m + one_b1 * g;
                        *v = b2 * *v + one_b2 * (g * g);
                        *p -= lr * ((*m / c1) / ((*v / c2).sqrt() + eps));
                    }
                    if unit_rows {
                        let norm = dot(p, p).sqrt().max(1e-12);
                        p.iter_mut().for_each(|w| *w /= norm);
                    }
                });
            let [p, m, v, _] = data.map(|d| Tensor::from_data(d, &device));
            s.params.push(p);
            s.m.push(m);
            s.v.push(v);
        }
    }

    /// The loss terms and gradients of a scaled batch `x` (`[rows, d_in]`, row-major).
    ///
    /// One dense encoder pass gives the pre-activations, from which every architecture picks
    /// its active (row, latent) pairs on the host: TopK and BatchTopK their k, ReLU the
    /// positive ones, JumpReLU those above threshold. On the CPU the rest of the step runs
    /// from those pairs alone ([`sparse_step`]); elsewhere, and for ReLU and JumpReLU while
    /// more than [`SPARSE_PAIRS_PER_ROW`] latents per row are active (early training, before
    /// the penalty has made the code sparse), burn's autodiff differentiates the dense step
    /// (ReLU and JumpReLU then need no pairs, and skip the host pass where the sparse step
    /// cannot run). `path` forces one of the two (the tests compare them).
    fn gradients(&self, x: &[f32], sparsity_coeff: f32, dead: &[bool], path: Option<StepPath>) -> StepGrads<B> {
        let o = self.opts;
        let rows = x.len() / self.d_in;
        let sparse_allowed = match path {
            Some(p) => p == StepPath::Sparse,
            None => is_cpu::<B::InnerBackend>(),
        };
        if !sparse_allowed && !o.arch.uses_k() {
            // ReLU and JumpReLU pick no pairs for the dense step: skip the host pass (on a
            // GPU, a download of the whole pre-activation matrix every step).
            return self.dense_grads(x, None, None, sparsity_coeff);
        }
        // Untracked: a graph the sparse path never runs backward through would stay in
        // burn's autodiff state (it grew to 24 GB over 800 steps). The dense path recomputes
        // the pass tracked.
        let w = &self.state.params;
        let x_inner =
            Tensor::<B::InnerBackend, 2>::from_data(TensorData::new(x.to_vec(), [rows, self.d_in]), &self.device);
        let pre = to_host((x_inner - w[B_DEC].clone()).matmul(w[W_ENC].clone().transpose()) + w[B_ENC].clone());
        let theta = (o.arch == Arch::JumpRelu).then(|| to_host(w[LOG_THRESHOLD].clone().exp()));
        let max_pairs = match path {
            Some(StepPath::Sparse) => usize::MAX,
            _ => SPARSE_PAIRS_PER_ROW.saturating_mul(rows),
        };
        let mut batch_threshold = None;
        let active = match o.arch {
            Arch::TopK => Some(top_k(&pre, self.d_sae, o.k, None)),
            Arch::BatchTopK => {
                let (a, thr) = batch_top_k(&pre, self.d_sae, o.k * rows);
                batch_threshold = Some(thr);
                Some(a)
            }
            Arch::ReluL1 => above(&pre, &vec![0.0; self.d_sae], max_pairs),
            Arch::JumpRelu => above(&pre, theta.as_deref().expect("JumpReLU"), max_pairs),
        };
        let n_dead = dead.iter().filter(|&&d| d).count();
        // AuxK: the dead latents' best k_aux reconstruct what the live ones missed.
        let aux = (o.arch.uses_k() && o.aux_k_coeff > 0.0 && n_dead > 0)
            .then(|| top_k(&pre, self.d_sae, (self.d_in / 2).min(n_dead), Some(dead)))
            .filter(|a| a.len() > 0);
        let picked = Picked {
            pre,
            theta,
            active,
            aux,
        };
        let mut out = if sparse_allowed && picked.active.is_some() {
            self.sparse_grads(x, &picked, sparsity_coeff)
        } else {
            self.dense_grads(x, picked.active.as_ref(), picked.aux.as_ref(), sparsity_coeff)
        };
        out.batch_threshold = batch_threshold;
        out
    }

    /// [`Self::gradients`] by burn autodiff through the dense code; TopK and BatchTopK keep
    /// their `active` pairs, and `aux` are AuxK's.
    fn dense_grads(&self, x: &[f32], active: Option<&Pairs>, aux: Option<&Pairs>, sparsity_coeff: f32) -> StepGrads<B> {
        let o = self.opts;
        let rows = x.len() / self.d_in;
        let p = self.tracked_params();
        let x = Tensor::<B, 2>::from_data(TensorData::new(x.to_vec(), [rows, self.d_in]), &self.device);
        let pre = (x.clone() - p[B_DEC].clone()).matmul(p[W_ENC].clone().transpose()) + p[B_ENC].clone();
        let mask = |pairs: &Pairs| {
            let mut m = vec![0f32; rows * self.d_sae];
            for (r, j) in pairs.iter() {
                m[r * self.d_sae + j] = 1.0;
            }
            Tensor::<B, 2>::from_data(TensorData::new(m, [rows, self.d_sae]), &self.device)
        };
        let (codes, sparsity) = match o.arch {
            Arch::TopK | Arch::BatchTopK => {
                let active = active.expect("k-sparse codes always have their pairs");
                (relu(pre.clone()) * mask(active), None)
            }
            Arch::ReluL1 => {
                let acts = relu(pre.clone());
                let dec_norms = p[W_DEC].clone().square().sum_dim(1).sqrt().transpose();
                let l1 = (acts.clone() * dec_norms).sum().div_scalar(rows as f32);
                (acts, Some(l1))
            }
            Arch::JumpRelu => {
                let (acts, gate) = jump_relu(pre.clone(), p[LOG_THRESHOLD].clone().exp(), o.bandwidth);
                (acts, Some(gate.sum().div_scalar(rows as f32)))
            }
        };
        let sparsity = sparsity.map(|s| s.mul_scalar(sparsity_coeff));
        let recon = codes.clone().matmul(p[W_DEC].clone()) + p[B_DEC].clone();
        let mse = (recon.clone() - x.clone()).square().sum_dim(1).mean();
        let aux = aux.map(|a| {
            let e_hat = (relu(pre) * mask(a)).matmul(p[W_DEC].clone());
            let residual = x - recon.detach();
            (e_hat - residual).square().sum_dim(1).mean().mul_scalar(o.aux_k_coeff)
        });
        let mut loss = mse.clone();
        for term in [&sparsity, &aux].into_iter().flatten() {
            loss = loss + term.clone();
        }
        let grads = loss.backward();
        StepGrads {
            grads: p.iter().map(|t| t.grad(&grads)).collect(),
            mse: scalar(mse.inner()),
            sparsity: sparsity.map(|s| scalar(s.inner())),
            aux: aux.map(|a| scalar(a.inner())),
            fired: to_host(codes.inner().greater_elem(0.0).float().sum_dim(0)),
            batch_threshold: None,
        }
    }

    /// [`Self::gradients`] on the host through the picked pairs alone ([`sparse_step`]).
    fn sparse_grads(&self, x: &[f32], picked: &Picked, sparsity_coeff: f32) -> StepGrads<B> {
        let o = self.opts;
        let active = picked.active.as_ref().expect("the sparse path has its pairs");
        let below = picked
            .theta
            .as_ref()
            .map(|theta| below_threshold(&picked.pre, theta, o.bandwidth / 2.0));
        let host = |i: usize| to_host(self.state.params[i].clone());
        let (w_enc, b_enc, w_dec, b_dec) = (host(W_ENC), host(B_ENC), host(W_DEC), host(B_DEC));
        let out = sparse_step::step(
            &Weights {
                w_enc: &w_enc,
                b_enc: &b_enc,
                w_dec: &w_dec,
                b_dec: &b_dec,
                theta: picked.theta.as_deref(),
            },
            &Batch {
                arch: o.arch,
                x,
                pre: &picked.pre,
                active,
                aux: picked.aux.as_ref().map(|a| (a, o.aux_k_coeff)),
                below: below.as_ref(),
                sparsity_coeff,
                bandwidth: o.bandwidth,
            },
        );
        let t = |v: Vec<f32>, r: usize| {
            let c = v.len() / r;
            Tensor::<B::InnerBackend, 2>::from_data(TensorData::new(v, [r, c]), &self.device)
        };
        let g = out.grads;
        StepGrads {
            grads: vec![
                Some(t(g.w_enc, self.d_sae)),
                Some(t(g.b_enc, 1)),
                Some(t(g.w_dec, self.d_sae)),
                Some(t(g.b_dec, 1)),
                g.log_threshold.map(|v| t(v, 1)),
            ],
            mse: out.mse,
            sparsity: out.sparsity,
            aux: out.aux,
            fired: out.fired,
            batch_threshold: None,
        }
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

/// Which computation [`Trainer::gradients`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepPath {
    /// burn autodiff through the dense code.
    #[cfg_attr(not(test), allow(dead_code))] // chosen, not forced, outside the tests
    Dense,
    /// The host step through the active pairs ([`sparse_step`]).
    Sparse,
}

/// What [`Trainer::gradients`] picks from a batch's encoder pass.
struct Picked {
    /// The pre-activations, `[rows, d_sae]`.
    pre: Vec<f32>,
    /// JumpReLU's thresholds.
    theta: Option<Vec<f32>>,
    /// The pairs with a nonzero code; `None` when ReLU or JumpReLU has too many for the
    /// sparse step.
    active: Option<Pairs>,
    /// AuxK's pairs among dead latents, when there are any.
    aux: Option<Pairs>,
}

/// What [`Trainer::gradients`] computes for a batch.
struct StepGrads<B: AutodiffBackend> {
    /// Per parameter in `State::params` order; `None` for one the loss does not depend on.
    grads: Vec<Option<Tensor<B::InnerBackend, 2>>>,
    /// `‖x̂ - x‖²` summed over features, mean over rows (scaled units).
    mse: f64,
    /// The sparsity penalty (ReLU, JumpReLU), coefficient applied.
    sparsity: Option<f64>,
    /// The AuxK loss (TopK, BatchTopK with dead latents), coefficient applied.
    aux: Option<f64>,
    /// Rows of the batch in which each latent fired.
    fired: Vec<f32>,
    /// BatchTopK: the smallest kept pre-activation of this batch.
    batch_threshold: Option<f32>,
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
fn above(pre: &[f32], floor: &[f32], max_pairs: usize) -> Option<Pairs> {
    let n = floor.len();
    let count: usize = pre
        .par_chunks(n)
        .map(|p| p.iter().zip(floor).filter(|(v, f)| v > f).count())
        .sum();
    if count > max_pairs {
        return None;
    }
    Some(pairs_where(pre, n, |j, v| v > floor[j]))
}

/// The pairs with `theta - half < pre <= theta` (rows of width `theta.len()`): JumpReLU's
/// inactive pairs inside the straight-through window.
fn below_threshold(pre: &[f32], theta: &[f32], half: f32) -> Pairs {
    pairs_where(pre, theta.len(), |j, v| v <= theta[j] && v > theta[j] - half)
}

/// The pairs `(row, j)` of `pre` (rows of width `n`) whose value passes `keep(j, value)`.
fn pairs_where(pre: &[f32], n: usize, keep: impl Fn(usize, f32) -> bool + Sync) -> Pairs {
    let per_row = pre
        .par_chunks(n)
        .map(|p| (0..n).filter(|&j| keep(j, p[j])).map(|j| j as u32).collect())
        .collect();
    Pairs::from_rows(per_row)
}

/// Each row's `k` largest positive pre-activations, among `allowed` latents only when given
/// (AuxK's dead latents).
fn top_k(pre: &[f32], n: usize, k: usize, allowed: Option<&[bool]>) -> Pairs {
    let per_row = pre
        .par_chunks(n)
        .map(|p| {
            let mut row: Vec<f32> = match allowed {
                Some(a) => p.iter().zip(a).map(|(&v, &ok)| if ok { v } else { f32::MIN }).collect(),
                None => p.to_vec(),
            };
            keep_top_k(&mut row, k);
            (0..n as u32).filter(|&j| row[j as usize] > 0.0).collect()
        })
        .collect();
    Pairs::from_rows(per_row)
}

/// The batch's `keep` largest positive pre-activations (rows of width `n`), and the smallest
/// kept value.
fn batch_top_k(pre: &[f32], n: usize, keep: usize) -> (Pairs, f32) {
    let mut positive: Vec<f32> = pre.iter().copied().filter(|&v| v > 0.0).collect();
    let thr = if positive.len() <= keep || keep == 0 {
        positive.iter().copied().fold(f32::INFINITY, f32::min).min(f32::MAX)
    } else {
        let (_, kth, _) = positive.select_nth_unstable_by(keep - 1, |a, b| b.total_cmp(a));
        *kth
    };
    let thr = if thr.is_finite() { thr } else { 0.0 };
    (pairs_where(pre, n, |_, v| v >= thr && v > 0.0), thr)
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
        assert_eq!(active, Pairs::from_rows(vec![vec![0], vec![0, 1]]));
        assert_eq!(thr, 3.0);
        let active = top_k(&pre, 3, 1, Some(&[false, true, true]));
        assert_eq!(active, Pairs::from_rows(vec![vec![2], vec![1]]));
    }

    type Ad = burn::backend::Autodiff<crate::backend::Cpu>;

    /// A trainer at step 0 with random parameters (d_in 8, 32 latents) and a random batch of
    /// 16 rows.
    fn small_trainer(opts: &TrainOptions) -> (Trainer<'_, Ad>, Vec<f32>) {
        let (rows, d_in, d_sae) = (16, 8, 32);
        let device = Default::default();
        let mut rng = SplitMix64::new(7);
        let mut t = |r: usize, c: usize, s: f32| {
            let v: Vec<f32> = (0..r * c).map(|_| (rng.next_normal() as f32) * s).collect();
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
        let x = to_host(t(rows, d_in, 1.0));
        let moments: Vec<_> = params.iter().map(|p| p.clone().abs().mul_scalar(0.1)).collect();
        let trainer = Trainer::<Ad> {
            opts,
            state: State {
                params,
                m: moments.clone(),
                v: moments,
                counters: Counters {
                    step: 3,
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
            peer: None,
        };
        (trainer, x)
    }

    fn small_opts(arch: Arch) -> TrainOptions {
        TrainOptions {
            arch,
            k: 4,
            aux_k_coeff: 0.5,
            ..TrainOptions::default()
        }
    }

    /// The loss and gradients of one batch through [`Trainer::gradients`] on `path`.
    fn loss_and_grads(arch: Arch, path: StepPath) -> (f64, Vec<Option<Vec<f32>>>) {
        let opts = small_opts(arch);
        let (trainer, x) = small_trainer(&opts);
        // Every third latent dead, so TopK and BatchTopK add an AuxK term.
        let dead: Vec<bool> = (0..trainer.d_sae).map(|j| j % 3 == 0).collect();
        let out = trainer.gradients(&x, 0.7, &dead, Some(path));
        assert_eq!(out.sparsity.is_some(), !arch.uses_k(), "{arch:?}: penalty");
        assert_eq!(out.aux.is_some(), arch.uses_k(), "{arch:?}: AuxK");
        assert!(out.fired.iter().sum::<f32>() > 0.0, "{arch:?}: nothing fired");
        let loss = out.mse + out.sparsity.unwrap_or(0.0) + out.aux.unwrap_or(0.0);
        (loss, out.grads.into_iter().map(|g| g.map(to_host)).collect())
    }

    #[test]
    fn host_update_equals_the_tensor_update() {
        for arch in [Arch::TopK, Arch::ReluL1, Arch::JumpRelu] {
            let opts = small_opts(arch);
            let (mut a, x) = small_trainer(&opts);
            let (mut b, _) = small_trainer(&opts);
            let g = a.gradients(&x, 0.7, &[false; 32], Some(StepPath::Sparse)).grads;
            a.update(g.clone(), 1e-2);
            b.update_on_host(g, 1e-2);
            for (name, sa, sb) in [
                ("params", &a.state.params, &b.state.params),
                ("m", &a.state.m, &b.state.m),
                ("v", &a.state.v, &b.state.v),
            ] {
                for (i, (ta, tb)) in sa.iter().zip(sb).enumerate() {
                    for (u, w) in to_host(ta.clone()).iter().zip(to_host(tb.clone())) {
                        assert!(
                            (u - w).abs() <= 1e-6 * (1.0 + u.abs()),
                            "{arch:?} {name}[{i}]: {u} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sparse_step_equals_autodiff_through_the_dense_step() {
        for arch in [Arch::TopK, Arch::BatchTopK, Arch::ReluL1, Arch::JumpRelu] {
            let (dense_loss, dense) = loss_and_grads(arch, StepPath::Dense);
            let (sparse_loss, sparse) = loss_and_grads(arch, StepPath::Sparse);
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
