//! Settings of the knowledge suite, its quick preset and their checks.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::concepts::data::quick_layers;
use crate::error::{Error, Result};

/// The default way out, the one the transformers check used.
pub const WAY_OUT: &str = "Answer briefly. If you do not know the answer, say 'I don't know'.";

/// Settings of the knowledge suite. The defaults are the full experiment; the `max_*` fields
/// and the SAE size shrink it for CI.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KnowledgeOptions {
    /// Directory with `entities.jsonl`, `frames.json` and `generic.jsonl`.
    pub data_dir: PathBuf,
    /// Entities per type x source (e.g. 6 real cities and 6 fabricated ones), spread evenly
    /// over the file so that famous and obscure entities are both kept (None: all).
    pub max_entities: Option<usize>,
    /// Generic sentences in the SAE corpus and the generic-firing filter (None: all).
    pub max_generic: Option<usize>,
    /// A system prompt that gives the model a way out ("say you do not know"), under which
    /// every question is asked as a chat (the model's template). None: the plain-text question
    /// frame, which never invites a refusal.
    pub way_out: Option<String>,
    /// Blocks whose `hook_resid_post` is harvested and probed (None: every block).
    pub layers: Option<Vec<usize>>,
    /// Cross-validation folds of the probes, grouped by entity (at least 2).
    pub folds: usize,
    /// A pre-trained SAE directory (SAELens layout) on some `blocks.L.hook_resid_post`; its
    /// layer becomes the steering layer. None: train a small TopK SAE at the best probe layer.
    pub sae: Option<PathBuf>,
    /// Latents per residual dimension of the trained SAE.
    pub sae_expansion: usize,
    /// Latents kept per token by the trained SAE (TopK).
    pub sae_k: usize,
    /// Training vectors (several passes over the suite's small corpus).
    pub sae_tokens: u64,
    /// Vectors per SAE training batch (small, so a small corpus still gives many steps).
    pub sae_batch: usize,
    /// Latents firing on more than this fraction of generic-text tokens are dropped.
    pub generic_drop: f64,
    /// Latents listed each way (known, unknown) in the results and report.
    pub top_latents: usize,
    /// Steering strengths, positive, relative to the mean residual norm at the layer; each
    /// direction is added with every alpha (the headline uses the largest).
    pub alphas: Vec<f32>,
    /// Strengths whose KL from the unsteered model on neutral prompts exceeds this are reported
    /// but not chosen for the headline's refusal steering.
    pub kl_bound: f64,
    /// Fraction of known and of unknown entities held out of direction and latent choice and
    /// used to measure steering.
    pub holdout_fraction: f64,
    /// Entities per steering category (known, unknown, fabricated), spread evenly (None: all).
    pub max_steer_entities: Option<usize>,
    /// Tokens generated per answer.
    pub max_new_tokens: usize,
    /// Prompts generated together.
    pub batch: usize,
    /// Seed of folds, control labels, the holdout split, the SAE and the random direction.
    pub seed: u64,
}

impl Default for KnowledgeOptions {
    fn default() -> Self {
        KnowledgeOptions {
            data_dir: PathBuf::from("probes/knowledge"),
            max_entities: None,
            max_generic: None,
            way_out: Some(WAY_OUT.into()),
            layers: None,
            folds: 5,
            sae: None,
            sae_expansion: 8,
            sae_k: 16,
            sae_tokens: 400_000,
            sae_batch: 1024,
            generic_drop: 0.02,
            top_latents: 10,
            alphas: vec![0.1, 0.25, 0.5],
            kl_bound: 0.1,
            holdout_fraction: 0.5,
            max_steer_entities: Some(30),
            max_new_tokens: 16,
            batch: 32,
            seed: 0,
        }
    }
}

impl KnowledgeOptions {
    /// The few-minute preset (`--quick`) for a model with `n_layers` blocks.
    pub fn quick(n_layers: usize) -> Self {
        KnowledgeOptions {
            max_entities: Some(20),
            layers: Some(quick_layers(n_layers)),
            sae_tokens: 100_000,
            max_steer_entities: Some(10),
            alphas: vec![0.5],
            ..Default::default()
        }
    }

    /// The largest alpha: the one the examples show.
    pub fn top_alpha(&self) -> f32 {
        self.alphas.iter().copied().fold(f32::MIN, f32::max)
    }

    /// Rejects unusable options, naming them.
    pub(super) fn check(&self) -> Result<()> {
        let bad = |m: String| -> Result<()> { Err(Error::Invalid(format!("knowledge options: {m}"))) };
        if self.folds < 2 {
            return bad(format!("folds {} must be at least 2", self.folds));
        }
        if self.alphas.is_empty() || self.alphas.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
            return bad(format!(
                "alphas {:?} must be finite and positive (the directions already come in opposite pairs)",
                self.alphas
            ));
        }
        if !(self.kl_bound.is_finite() && self.kl_bound > 0.0) {
            return bad(format!("kl_bound {} must be positive", self.kl_bound));
        }
        if self.way_out.as_deref().is_some_and(|w| w.trim().is_empty()) {
            return bad("way_out is empty (leave it out for plain-text questions)".into());
        }
        if !(0.0..=1.0).contains(&self.generic_drop) {
            return bad(format!("generic_drop {} must be in [0, 1]", self.generic_drop));
        }
        if !(self.holdout_fraction > 0.0 && self.holdout_fraction < 1.0) {
            return bad(format!("holdout_fraction {} must be in (0, 1)", self.holdout_fraction));
        }
        let zero = |v: Option<usize>| v == Some(0);
        if zero(self.max_entities) || zero(self.max_generic) || zero(self.max_steer_entities) {
            return bad("max_entities, max_generic and max_steer_entities must be positive when given".into());
        }
        if self.sae_expansion == 0 || self.sae_k == 0 || self.sae_batch == 0 || self.top_latents == 0 {
            return bad("sae_expansion, sae_k, sae_batch and top_latents must be positive".into());
        }
        if self.max_new_tokens == 0 || self.batch == 0 {
            return bad("max_new_tokens and batch must be positive".into());
        }
        Ok(())
    }
}
