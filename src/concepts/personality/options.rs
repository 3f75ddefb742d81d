//! The suite's settings, their check, and the `--quick` preset.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::data::TRAITS;
use crate::concepts::data::{check_layers, quick_layers};
use crate::error::{Error, Result};

/// Settings of the personality suite. The defaults are the full experiment except that 40 of
/// the 115 extraction questions are used; the `max_*` fields shrink it for CI.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PersonalityOptions {
    /// Directory with `personas.jsonl`, `graded.jsonl`, `questions.jsonl`, `questionnaire.jsonl`
    /// and `behaviour.jsonl`.
    pub data_dir: PathBuf,
    /// Traits to run, named as in the data.
    pub traits: Vec<String>,
    /// Extract-split questions asked under every persona (None: all), spread evenly over the
    /// file so that every topic is represented.
    pub max_questions: Option<usize>,
    /// Persona pairs per trait; pair `i` is high persona `i` against low persona `i` (None: all).
    pub max_personas: Option<usize>,
    /// Questionnaire statements and behaviour situations per trait, test split (None: all).
    /// Every statement is asked in all three templates and both option orders.
    pub max_items: Option<usize>,
    /// Blocks whose `hook_resid_post` is harvested, probed and given vectors (None: all).
    pub layers: Option<Vec<usize>>,
    /// Candidate steering layers: the harvested layers nearest the best probe layer.
    pub steer_layers: usize,
    /// Steering strengths relative to the mean residual norm at the layer. Negated copies and
    /// 0 are added, so every setting is also measured with the opposite sign.
    pub alphas: Vec<f32>,
    /// Largest mean KL (nats) on neutral prompts the selection rule accepts.
    pub kl_bound: f64,
    /// Cross-validation folds of the probes (grouped by question).
    pub folds: usize,
    /// Seed of folds, control labels and the PCA start vector.
    pub seed: u64,
    /// Test questions asked under each graded persona for the monitoring projections.
    pub monitor_questions: usize,
    /// Questionnaire statements (template t0, both orders) scoring each graded persona.
    pub monitor_items: usize,
    /// Wordings kept per graded strength level (None: all; the data has 2).
    pub max_wordings: Option<usize>,
    /// Test questions answered unsteered and steered at ±alpha in `examples.md`.
    pub n_examples: usize,
    /// Tokens generated per example.
    pub max_new_tokens: usize,
    /// Held-out questions answered freely for the judge measure (persona-prompted for the
    /// yardstick and the judge's check, steered for the target).
    #[serde(default = "default_judge_questions")]
    pub judge_questions: usize,
    /// Tokens generated per judged answer (greedy).
    #[serde(default = "default_judge_tokens")]
    pub judge_tokens: usize,
    /// The judge counts only when it rates the high persona's answer above the low persona's
    /// for at least this fraction of (question, wording) pairs.
    #[serde(default = "default_judge_min_agreement")]
    pub judge_min_agreement: f64,
}

fn default_judge_questions() -> usize {
    6
}
fn default_judge_tokens() -> usize {
    48
}
fn default_judge_min_agreement() -> f64 {
    0.75
}

impl Default for PersonalityOptions {
    fn default() -> Self {
        PersonalityOptions {
            data_dir: PathBuf::from("probes/personality"),
            traits: TRAITS.iter().map(|t| t.to_string()).collect(),
            max_questions: Some(40),
            max_personas: None,
            max_items: None,
            layers: None,
            steer_layers: 3,
            // 0.1 keeps a setting within the KL bound: at 0.25 SmolLM2's KL on neutral prompts
            // is already 0.2-0.45 nats, at 0.1 it is 0.02-0.06 (Gemma 3 270M: 0.015-0.09).
            alphas: vec![-0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5],
            kl_bound: 0.1,
            folds: 5,
            seed: 0,
            monitor_questions: 5,
            monitor_items: 4,
            max_wordings: None,
            n_examples: 3,
            max_new_tokens: 48,
            judge_questions: default_judge_questions(),
            judge_tokens: default_judge_tokens(),
            judge_min_agreement: default_judge_min_agreement(),
        }
    }
}

impl PersonalityOptions {
    /// The few-minute preset for a model with `n_layers` blocks: 8 extraction questions, 4
    /// items per trait, 4 judged questions, five layers.
    pub fn quick(n_layers: usize) -> Self {
        PersonalityOptions {
            max_questions: Some(8),
            max_items: Some(4),
            layers: Some(quick_layers(n_layers)),
            judge_questions: 4,
            ..Default::default()
        }
    }

    /// Rejects unusable options, naming them; returns the harvested layers, sorted.
    pub(super) fn check(&self, n_layers: usize) -> Result<Vec<usize>> {
        let bad = |m: String| -> Result<Vec<usize>> { Err(Error::Invalid(format!("personality options: {m}"))) };
        if self.traits.is_empty() {
            return bad("no traits".into());
        }
        if self.alphas.iter().any(|a| !a.is_finite()) || self.alphas.iter().all(|&a| a == 0.0) {
            return bad(format!("alphas {:?} need a finite non-zero value", self.alphas));
        }
        if self.kl_bound.is_nan() || self.kl_bound < 0.0 {
            return bad(format!("kl_bound {} must be >= 0", self.kl_bound));
        }
        if self.folds < 2 || self.steer_layers == 0 || self.monitor_questions == 0 || self.monitor_items == 0 {
            return bad("folds must be >= 2 and steer_layers, monitor_questions, monitor_items >= 1".into());
        }
        if self.judge_questions == 0 || self.judge_tokens == 0 || !(0.0..=1.0).contains(&self.judge_min_agreement) {
            return bad(format!(
                "judge_questions and judge_tokens must be >= 1 and judge_min_agreement in [0, 1] (found {}, {}, {})",
                self.judge_questions, self.judge_tokens, self.judge_min_agreement
            ));
        }
        check_layers(self.layers.clone(), n_layers, "personality options")
    }

    /// The strengths swept: every alpha with both signs, and 0, ascending.
    pub(super) fn signed_alphas(&self) -> Vec<f32> {
        let mut alphas: Vec<f32> = self
            .alphas
            .iter()
            .flat_map(|&a| [a.abs(), -a.abs()])
            .filter(|&a| a != 0.0)
            .collect();
        alphas.push(0.0);
        alphas.sort_by(f32::total_cmp);
        alphas.dedup();
        alphas
    }
}
