//! SAE evaluation: reconstruction quality and sparsity on activations, and the downstream
//! cost of splicing the SAE into the model.
//!
//! Conventions chosen to avoid the metric bugs SAELens users report: FVU is measured against
//! the data mean (not zero), MSE is per vector (summed over dimensions, averaged over
//! vectors, independent of batch size), and every metric is accumulated in f64 over all
//! vectors rather than averaged over batch averages.

use burn::tensor::backend::Backend;
use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::autoencoder::Sae;
use super::splice::{SaeEdit, SaeSplice};
use crate::hooks::{HookPoint, HookSet, NoHooks};
use crate::model::{LogitsMode, Model};
use crate::{Error, Result};

/// Reconstruction and sparsity metrics over a set of activation vectors.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReconMetrics {
    /// Vectors evaluated.
    pub n_vectors: usize,
    /// Mean squared error per vector: `mean_i ‖x̂_i - x_i‖²`.
    pub mse: f64,
    /// Fraction of variance unexplained: `Σ‖x̂ - x‖² / Σ‖x - mean(x)‖²`.
    pub fvu: f64,
    /// Mean number of active latents per vector.
    pub l0: f64,
    /// Fraction of latents that never fired.
    pub dead_fraction: f64,
    /// Fraction of latents firing on more than 10% of vectors.
    pub dense_fraction: f64,
    /// Mean cosine similarity between `x` and `x̂`.
    pub cosine: f64,
    /// Firing frequency of each latent.
    #[serde(skip)]
    pub frequency: Vec<f64>,
    /// Histogram of `log10` firing frequency of live latents: `(bin lower edge, count)`.
    pub frequency_histogram: Vec<(f64, usize)>,
}

/// Accumulates [`ReconMetrics`] over batches of activation vectors.
#[derive(Clone, Debug, Default)]
pub struct ReconAccumulator {
    n: usize,
    sse: f64,
    sum: Vec<f64>,
    sum_sq: f64,
    active: f64,
    fired: Vec<u64>,
    cosine: f64,
}

impl ReconAccumulator {
    /// Adds a batch `[rows, d_in]`.
    pub fn add(&mut self, sae: &Sae, x: ArrayView2<f32>) {
        if self.sum.is_empty() {
            self.sum = vec![0.0; sae.d_in()];
            self.fired = vec![0; sae.d_sae()];
        }
        let f = sae.encode(x);
        let xh = sae.decode(f.view());
        for ((xr, hr), fr) in x.rows().into_iter().zip(xh.rows()).zip(f.rows()) {
            let (mut e, mut nx, mut nh, mut dot) = (0f64, 0f64, 0f64, 0f64);
            for (&a, &b) in xr.iter().zip(hr) {
                let (a, b) = (a as f64, b as f64);
                e += (a - b) * (a - b);
                nx += a * a;
                nh += b * b;
                dot += a * b;
            }
            self.sse += e;
            self.sum_sq += nx;
            self.cosine += dot / (nx.sqrt() * nh.sqrt()).max(1e-30);
            for (s, &a) in self.sum.iter_mut().zip(xr) {
                *s += a as f64;
            }
            for (c, &a) in self.fired.iter_mut().zip(fr) {
                if a > 0.0 {
                    *c += 1;
                    self.active += 1.0;
                }
            }
        }
        self.n += x.nrows();
    }

    /// The metrics so far.
    pub fn finish(&self) -> ReconMetrics {
        let n = self.n.max(1) as f64;
        let mean_sq: f64 = self.sum.iter().map(|s| (s / n) * (s / n)).sum();
        let variance = self.sum_sq - n * mean_sq;
        let frequency: Vec<f64> = self.fired.iter().map(|&c| c as f64 / n).collect();
        let dead = frequency.iter().filter(|&&f| f == 0.0).count();
        let dense = frequency.iter().filter(|&&f| f > 0.1).count();
        let n_lat = frequency.len().max(1) as f64;
        ReconMetrics {
            n_vectors: self.n,
            mse: self.sse / n,
            fvu: self.sse / variance.max(1e-30),
            l0: self.active / n,
            dead_fraction: dead as f64 / n_lat,
            dense_fraction: dense as f64 / n_lat,
            cosine: self.cosine / n,
            frequency_histogram: log_histogram(&frequency),
            frequency,
        }
    }

    /// Mean of the vectors seen (for the mean-ablation baseline).
    pub fn mean(&self) -> Vec<f32> {
        let n = self.n.max(1) as f64;
        self.sum.iter().map(|s| (s / n) as f32).collect()
    }
}

/// Histogram of `log10(frequency)` of latents that fired, in bins of 0.25 decades.
fn log_histogram(freq: &[f64]) -> Vec<(f64, usize)> {
    let logs: Vec<f64> = freq.iter().filter(|&&f| f > 0.0).map(|f| f.log10()).collect();
    let Some(lo) = logs.iter().copied().reduce(f64::min) else {
        return Vec::new();
    };
    let lo = (lo * 4.0).floor() / 4.0;
    let bins = ((0.0 - lo) / 0.25).ceil() as usize + 1;
    let mut h: Vec<(f64, usize)> = (0..bins).map(|i| (lo + i as f64 * 0.25, 0)).collect();
    for l in logs {
        let i = (((l - lo) / 0.25).floor() as usize).min(bins - 1);
        h[i].1 += 1;
    }
    h
}

/// What splicing the SAE into the model costs, on held-out text.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DownstreamMetrics {
    /// Next-token predictions scored.
    pub n_tokens: usize,
    /// Cross-entropy of the unmodified model (nats/token).
    pub ce_clean: f64,
    /// Cross-entropy with the SAE reconstruction spliced in.
    pub ce_sae: f64,
    /// Cross-entropy with the hook zero-ablated.
    pub ce_zero: f64,
    /// Cross-entropy with the hook mean-ablated.
    pub ce_mean: f64,
    /// `(ce_zero - ce_sae) / (ce_zero - ce_clean)`: 1 is perfect, 0 is no better than zeroing.
    pub ce_loss_recovered: f64,
    /// The same against the mean-ablation baseline.
    pub ce_loss_recovered_vs_mean: f64,
    /// Mean KL(clean ‖ spliced) per token (nats).
    pub kl: f64,
    /// Mean KL(clean ‖ zero-ablated) per token.
    pub kl_zero: f64,
}

/// The full evaluation written by `mindlens sae eval`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaeEval {
    /// Hook evaluated.
    pub hook: String,
    /// Reconstruction metrics on the text's activations (position 0 excluded).
    pub recon: ReconMetrics,
    /// Splicing metrics.
    pub downstream: DownstreamMetrics,
    /// Flat copies of the headline numbers.
    pub l0: f64,
    /// See [`ReconMetrics::fvu`].
    pub fvu: f64,
    /// See [`ReconMetrics::dead_fraction`].
    pub dead_fraction: f64,
    /// See [`DownstreamMetrics::ce_loss_recovered`].
    pub ce_loss_recovered: f64,
    /// See [`DownstreamMetrics::kl`].
    pub kl: f64,
}

/// Evaluates `sae` at `hook` on tokenised texts: reconstruction metrics on their activations
/// (position 0 excluded, as the splice leaves it alone), then CE and KL with the SAE, zero and
/// mean ablation spliced in at every later position. `batch` prompts run per forward.
pub fn evaluate<B: Backend>(
    model: &Model<B>,
    sae: &Sae,
    hook: HookPoint,
    texts: &[Vec<u32>],
    batch: usize,
    progress: &indicatif::ProgressBar,
) -> Result<SaeEval> {
    if texts.iter().any(|t| t.len() < 2) {
        return Err(Error::Invalid("every evaluation text needs at least 2 tokens".into()));
    }
    let width = model.config.hook_width(hook);
    if width != sae.d_in() {
        return Err(Error::Invalid(format!(
            "the SAE reads {} dimensions but {hook} has {width}",
            sae.d_in()
        )));
    }
    progress.set_length(5 * texts.len() as u64);
    // Pass 1: capture the hook for reconstruction metrics and the mean-ablation vector.
    let mut recon = ReconAccumulator::default();
    for group in texts.chunks(batch.max(1)) {
        let mut hooks = HookSet::<B>::capture([hook]);
        model.run(group, &mut hooks, LogitsMode::None)?;
        let cap = hooks.captured(hook).expect("captured");
        for r in 0..group.len() {
            recon.add(sae, cap.row(r).slice(ndarray::s![1.., ..]));
        }
        progress.inc(group.len() as u64);
    }
    // Pass 2: per batch, the clean run and the three spliced runs, compared token by token.
    let edits = [SaeEdit::Reconstruct, SaeEdit::Zero, SaeEdit::Mean(recon.mean())];
    let (mut ce, mut kl, mut n_tokens) = ([0f64; 4], [0f64; 4], 0usize);
    for group in texts.chunks(batch.max(1)) {
        let clean = model.run(group, &mut NoHooks, LogitsMode::All)?;
        let clean: Vec<(f64, Vec<f32>)> = group
            .iter()
            .zip(&clean)
            .map(|(toks, lg)| next_token_ce(lg.view(), toks))
            .collect();
        for (c, _) in &clean {
            ce[0] += c;
        }
        n_tokens += group.iter().map(|t| t.len() - 1).sum::<usize>();
        progress.inc(group.len() as u64);
        for (e, edit) in edits.iter().enumerate() {
            let mut splice = SaeSplice::new(sae, hook, edit.clone());
            let logits = model.run(group, &mut splice, LogitsMode::All)?;
            for ((toks, lg), (_, clean_lp)) in group.iter().zip(&logits).zip(&clean) {
                let (c, lp) = next_token_ce(lg.view(), toks);
                ce[e + 1] += c;
                kl[e + 1] += kl_sum(clean_lp, &lp, lg.ncols());
            }
            progress.inc(group.len() as u64);
        }
    }
    let n = n_tokens.max(1) as f64;
    let [ce_clean, ce_sae, ce_zero, ce_mean] = ce.map(|c| c / n);
    let downstream = DownstreamMetrics {
        n_tokens,
        ce_clean,
        ce_sae,
        ce_zero,
        ce_mean,
        ce_loss_recovered: (ce_zero - ce_sae) / (ce_zero - ce_clean),
        ce_loss_recovered_vs_mean: (ce_mean - ce_sae) / (ce_mean - ce_clean),
        kl: kl[1] / n,
        kl_zero: kl[2] / n,
    };
    let recon = recon.finish();
    Ok(SaeEval {
        hook: hook.to_string(),
        l0: recon.l0,
        fvu: recon.fvu,
        dead_fraction: recon.dead_fraction,
        ce_loss_recovered: downstream.ce_loss_recovered,
        kl: downstream.kl,
        recon,
        downstream,
    })
}

/// Summed next-token cross-entropy of a `[seq, vocab]` logit matrix, and the log-probabilities
/// of positions `0..seq-1` (flattened) for KL.
fn next_token_ce(logits: ArrayView2<f32>, tokens: &[u32]) -> (f64, Vec<f32>) {
    let mut total = 0f64;
    let mut logp = Vec::with_capacity((tokens.len() - 1) * logits.ncols());
    for (t, row) in logits.axis_iter(Axis(0)).take(tokens.len() - 1).enumerate() {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = max as f64 + row.iter().map(|&v| ((v - max) as f64).exp()).sum::<f64>().ln();
        total += lse - row[tokens[t + 1] as usize] as f64;
        logp.extend(row.iter().map(|&v| (v as f64 - lse) as f32));
    }
    (total, logp)
}

/// Σ over positions of KL(p ‖ q) from flattened log-probabilities.
fn kl_sum(p: &[f32], q: &[f32], vocab: usize) -> f64 {
    p.chunks(vocab)
        .zip(q.chunks(vocab))
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(&la, &lb)| (la as f64).exp() * (la - lb) as f64)
                .sum::<f64>()
        })
        .sum()
}
