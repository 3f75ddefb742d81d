//! What the suite found, as written to `results.json`: a headline per trait, and per trait
//! the probe sweep, direction statistics, steering grids, dose-response and monitoring.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::options::PersonalityOptions;
use super::yardstick::{SteeringTarget, TargetHeadline, TraitYardstick};
use crate::probe::sweep::SweepResults;
use crate::steer::sweep::{GridPoint, SteerSweep};

/// `results.json` of the personality suite.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PersonalityResults {
    /// Always `personality`.
    pub kind: String,
    pub model: String,
    pub options: PersonalityOptions,
    /// Strengths swept: the options' alphas with both signs, and 0.
    pub alphas: Vec<f32>,
    /// Harvested layers.
    pub layers: Vec<usize>,
    pub rows: RowCounts,
    pub headline: BTreeMap<String, TraitHeadline>,
    pub traits: BTreeMap<String, TraitResults>,
    pub trait_cosine: TraitCosine,
    /// Greedy answers per trait: unsteered and at ±alpha.
    pub examples: BTreeMap<String, Vec<Example>>,
}

/// What was harvested.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RowCounts {
    /// Conversations in `harvest_rows.jsonl`, over every trait.
    pub harvested: usize,
    pub extract_questions: usize,
    /// Ids of the test questions the graded personas answer.
    pub monitor_questions: Vec<String>,
}

/// The numbers of one trait a reader looks at first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraitHeadline {
    /// Steering layer and strength chosen by the selection rule.
    pub layer: usize,
    pub alpha: f32,
    pub within_kl_bound: bool,
    /// Questionnaire P(high option) at -alpha, 0 and +alpha (pooled over templates).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub score_minus: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub score_zero: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub score_plus: f64,
    /// Behaviour-situation P(high option) at -alpha, 0 and +alpha.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub behaviour_minus: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub behaviour_zero: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub behaviour_plus: f64,
    /// KL on neutral prompts at +alpha and -alpha.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl_minus: f64,
    /// Sd of the questionnaire score across templates at +alpha and unsteered.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub template_spread: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub template_spread_unsteered: f64,
    /// The best probe layer (any harvested layer) and its accuracies.
    pub probe_layer: Option<usize>,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub probe_accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub probe_control_accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub projection_score_r: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub persona_prompt_effect: f64,
    /// Graded personas monitored.
    pub monitor_points: usize,
    /// Steering against the yardstick (absent in results written before it existed).
    #[serde(default)]
    pub target: Option<TargetHeadline>,
}

impl TraitHeadline {
    pub(super) fn new(s: &Steering, probe: &SweepResults, m: &Monitoring, target: Option<TargetHeadline>) -> Self {
        let alpha = s.alpha;
        let best = crate::probe::sweep::best_by_accuracy(&probe.layers);
        TraitHeadline {
            layer: s.layer,
            alpha,
            within_kl_bound: s.within_kl_bound,
            score_minus: s.questionnaire(-alpha, |q| q.metric),
            score_zero: s.questionnaire(0.0, |q| q.metric),
            score_plus: s.questionnaire(alpha, |q| q.metric),
            behaviour_minus: s.behaviour(-alpha),
            behaviour_zero: s.behaviour(0.0),
            behaviour_plus: s.behaviour(alpha),
            kl: s.questionnaire(alpha, |q| q.kl),
            kl_minus: s.questionnaire(-alpha, |q| q.kl),
            template_spread: s.questionnaire(alpha, |q| q.template_spread),
            template_spread_unsteered: s.questionnaire(0.0, |q| q.template_spread),
            probe_layer: best.and_then(|r| r.layer),
            probe_accuracy: best.map_or(f64::NAN, |r| r.accuracy),
            probe_control_accuracy: best.map_or(f64::NAN, |r| r.control_accuracy),
            projection_score_r: m.r_projection_score,
            persona_prompt_effect: m.persona_prompt_effect,
            monitor_points: m.points.len(),
            target,
        }
    }
}

/// Everything measured for one trait.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraitResults {
    /// High vs low persona at every harvested layer, grouped by question.
    pub probe: SweepResults,
    pub directions: DirectionStats,
    pub steering: Steering,
    /// The chosen layer's cells at every swept strength.
    pub dose_response: Vec<DosePoint>,
    pub monitoring: Monitoring,
    /// The persona-prompt effect per measure (absent in results written before it existed).
    #[serde(default)]
    pub yardstick: Option<TraitYardstick>,
    /// Steering scored against the yardstick.
    #[serde(default)]
    pub target: Option<SteeringTarget>,
}

/// The paired-difference directions of one trait (also `meta.stats` of its vectors).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DirectionStats {
    /// Persona pairs x questions the differences are taken over.
    pub pairs: usize,
    pub per_layer: BTreeMap<usize, LayerDirection>,
}

/// The mean-diff and PCA directions at one layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerDirection {
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub mean_diff_norm: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub pca_explained_variance: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub pca_sign_agreement: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub mean_diff_sign_agreement: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub cosine_mean_diff_pca: f64,
}

/// A questionnaire grid cell pooled over templates.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pooled {
    pub layer: usize,
    pub alpha: f32,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub metric: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub metric_std: f64,
    #[serde(deserialize_with = "crate::artifact::nan::vec")]
    pub template_means: Vec<f64>,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub template_spread: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub order_gap: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub perplexity: f64,
}

/// What one trait's steering sweeps found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Steering {
    pub best_probe_layer: usize,
    pub candidate_layers: Vec<usize>,
    /// The chosen setting.
    pub layer: usize,
    pub alpha: f32,
    pub within_kl_bound: bool,
    pub pooled_grid: Vec<Pooled>,
    pub per_template: BTreeMap<String, SteerSweep>,
    /// Behaviour situations at the chosen layer.
    pub behaviour: SteerSweep,
}

impl Steering {
    /// Questionnaire and behaviour cells at the chosen layer for strength `a`.
    pub fn at(&self, a: f32) -> Option<(&Pooled, &GridPoint)> {
        let q = self
            .pooled_grid
            .iter()
            .find(|p| p.layer == self.layer && p.alpha == a)?;
        Some((q, self.behaviour.grid.iter().find(|g| g.alpha == a)?))
    }

    /// A questionnaire number at strength `a` (NaN where the grid lacks the cell).
    pub fn questionnaire(&self, a: f32, f: fn(&Pooled) -> f64) -> f64 {
        self.at(a).map_or(f64::NAN, |(q, _)| f(q))
    }

    pub fn behaviour(&self, a: f32) -> f64 {
        self.at(a).map_or(f64::NAN, |(_, b)| b.metric)
    }

    pub(super) fn dose_response(&self, alphas: &[f32]) -> Vec<DosePoint> {
        let cells = alphas.iter().filter_map(|&a| self.at(a));
        cells
            .map(|(q, b)| DosePoint {
                alpha: q.alpha,
                questionnaire: q.metric,
                questionnaire_std: q.metric_std,
                template_means: q.template_means.clone(),
                template_spread: q.template_spread,
                behaviour: b.metric,
                behaviour_std: b.metric_std,
                kl: q.kl,
                perplexity: q.perplexity,
                order_gap: q.order_gap,
            })
            .collect()
    }
}

/// Questionnaire (pooled) and behaviour at the chosen layer for one strength.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DosePoint {
    pub alpha: f32,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub questionnaire: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub questionnaire_std: f64,
    #[serde(deserialize_with = "crate::artifact::nan::vec")]
    pub template_means: Vec<f64>,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub template_spread: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub behaviour: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub behaviour_std: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub perplexity: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub order_gap: f64,
}

/// Unsteered projections and self-report scores of the graded personas of one trait.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Monitoring {
    /// Layer of the direction (the steering layer).
    pub layer: usize,
    /// Questionnaire items scoring each persona.
    pub items: Vec<String>,
    pub points: Vec<MonitorPoint>,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub r_projection_score: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub r_strength_projection: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub r_strength_score: f64,
    /// Self-report under the strongest high persona minus under the strongest low one: how far
    /// an explicit system prompt moves the questionnaire, a yardstick for what steering can do.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub persona_prompt_effect: f64,
}

/// One graded persona: its mean projection on the unit trait direction and its self-report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MonitorPoint {
    pub graded: String,
    pub strength: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub projection: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub score: f64,
}

/// Cosines between the traits' mean-diff directions at one shared layer (the lower median of
/// the chosen steering layers).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraitCosine {
    pub layer: usize,
    pub traits: Vec<String>,
    #[serde(deserialize_with = "crate::artifact::nan::matrix")]
    pub matrix: Vec<Vec<f64>>,
}

/// A test question answered three ways.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Example {
    pub question: String,
    pub minus: String,
    pub unsteered: String,
    pub plus: String,
}
