//! Settings of the belief suite.

use std::path::PathBuf;

use serde::Serialize;

use super::TRAIN_FORM;
use crate::concepts::data::quick_layers;

/// Settings of the belief suite; `Default` is the full experiment.
#[derive(Clone, Debug, Serialize)]
pub struct BeliefOptions {
    /// Directory holding `statements.jsonl` and `questions.jsonl` (`probes/belief`).
    pub data_dir: PathBuf,
    /// Use at most this many stories, drawn in turn from every schema x condition (a
    /// CI-sized run); `None` uses them all.
    pub max_stories: Option<usize>,
    /// Blocks whose residual stream (`hook_resid_post`) is probed; `None` probes every block.
    pub layers: Option<Vec<usize>>,
    /// Also probe every attention head (`attn.hook_z`, split by head) and steer with the best.
    pub heads: bool,
    /// Blocks whose heads are probed when `heads` is set; `None` uses `layers`.
    pub head_layers: Option<Vec<usize>>,
    /// Cross-validation folds, grouped by story (at least 2).
    pub folds: usize,
    /// Steering strengths: alpha times the mean norm at the steered point (the unsteered
    /// baseline is always measured; 0 in this list is skipped).
    pub alphas: Vec<f32>,
    /// Surface forms whose questions are scored while steering (each question costs four
    /// forward passes per setting: two options in two orders).
    pub steer_forms: Vec<String>,
    /// Score at most this many of those questions, taken in turn from each condition (a
    /// CI-sized run); `None` scores them all.
    pub max_questions: Option<usize>,
    /// How many of the best protagonist heads are steered together (0: no head steering).
    pub top_heads: usize,
    /// Head steering adds `alpha * head_scale * (mean norm of the head's output)` along each
    /// head's direction; a head's output is small next to the residual stream, and ITI's
    /// usual 15 standard deviations is about twice a head's norm.
    pub head_scale: f32,
    /// Seed of the folds, the control labels and the random control direction.
    pub seed: u64,
}

impl Default for BeliefOptions {
    fn default() -> Self {
        BeliefOptions {
            data_dir: PathBuf::from("probes/belief"),
            max_stories: None,
            layers: None,
            heads: true,
            head_layers: None,
            folds: 5,
            alphas: vec![-0.5, -0.25, 0.25, 0.5],
            steer_forms: vec![TRAIN_FORM.to_string()],
            max_questions: None,
            top_heads: 8,
            head_scale: 4.0,
            seed: 0,
        }
    }
}

impl BeliefOptions {
    /// A few-minute first look at a model with `n_layers` blocks: 40 stories, 40 questions,
    /// five layers.
    pub fn quick(n_layers: usize) -> Self {
        BeliefOptions {
            max_stories: Some(40),
            max_questions: Some(40),
            layers: Some(quick_layers(n_layers)),
            ..Default::default()
        }
    }
}
