//! The belief suite's `results.json`, typed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::probes::{LabelSweeps, TransferLayer};
use super::steering::{accuracy_of, ByCondition, Setting, Steering};
use super::{CONDITIONS, LABELS, TRAIN_FORM};
use crate::probe::sweep::best_by_accuracy;
use crate::probe::sweep::LayerResult;

/// Everything the suite found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BeliefResults {
    /// Always `belief-suite`.
    pub kind: String,
    pub model: String,
    pub data: DataSummary,
    pub options: OptionsUsed,
    pub headline: Headline,
    /// Per label (`protagonist`, `oracle`): the residual and head sweeps.
    pub probes: BTreeMap<String, LabelSweeps>,
    pub transfer: Transfer,
    pub steering: Steering,
}

/// What was read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataSummary {
    pub dir: String,
    pub stories: usize,
    pub statements: usize,
    pub questions_steered: usize,
    pub steer_forms: Vec<String>,
}

/// The settings that shaped the numbers, resolved (layers as probed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptionsUsed {
    pub max_stories: Option<usize>,
    pub max_questions: Option<usize>,
    pub layers: Vec<usize>,
    pub head_layers: Vec<usize>,
    pub folds: usize,
    pub seed: u64,
    pub steer_alphas: Vec<f64>,
    pub top_heads: usize,
    pub head_scale: f64,
    pub probe: String,
    pub control: String,
    pub positions: String,
}

/// The best probe unit of a label.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Unit {
    pub hook: String,
    pub layer: Option<usize>,
    pub head: Option<usize>,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy_std: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub auroc: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub control_accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub selectivity: f64,
}

impl From<&LayerResult> for Unit {
    fn from(l: &LayerResult) -> Self {
        Unit {
            hook: l.hook.clone(),
            layer: l.layer,
            head: l.head,
            accuracy: l.accuracy,
            accuracy_std: l.accuracy_std,
            auroc: l.auroc,
            control_accuracy: l.control_accuracy,
            selectivity: l.selectivity,
        }
    }
}

/// The numbers a reader wants first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Headline {
    pub protagonist: Unit,
    pub oracle: Unit,
    /// Best head per label; `None` when heads were not probed.
    pub best_head: Option<BestHeads>,
    pub transfer: TransferHeadline,
    pub steering: SteerHeadline,
}

/// The best head of each label.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BestHeads {
    pub protagonist: Option<Unit>,
    pub oracle: Option<Unit>,
}

/// Transfer accuracy at each label's best layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferHeadline {
    pub train_form: String,
    pub protagonist: TransferAt,
    pub oracle: TransferAt,
}

/// Transfer accuracy per test form at one layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferAt {
    pub layer: usize,
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub accuracy: BTreeMap<String, f64>,
}

/// Steering in brief.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteerHeadline {
    pub layer: usize,
    pub questions: usize,
    /// Unsteered accuracy per condition.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub baseline: BTreeMap<String, f64>,
    pub residual: Vec<Effect>,
    pub heads: Vec<Effect>,
    pub random: Option<Effect>,
}

/// One steered setting against the baseline, per condition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Effect {
    pub alpha: f64,
    pub false_belief: ConditionEffect,
    pub true_belief: ConditionEffect,
}

/// Accuracy, its change from the baseline and the log-probability gain.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConditionEffect {
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub delta_accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub logp_gain: f64,
}

/// Transfer across surface forms at every layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transfer {
    pub train_form: String,
    pub design: String,
    pub protagonist: Vec<TransferLayer>,
    pub oracle: Vec<TransferLayer>,
}

impl Effect {
    fn of(s: &Setting, base: &ByCondition) -> Self {
        let cond = |c: &str| {
            let acc = accuracy_of(&s.by_condition, c);
            ConditionEffect {
                accuracy: acc,
                delta_accuracy: acc - accuracy_of(base, c),
                logp_gain: s.by_condition.get(c).map_or(f64::NAN, |x| x.logp_gain),
            }
        };
        Effect {
            alpha: s.alpha,
            false_belief: cond("false_belief"),
            true_belief: cond("true_belief"),
        }
    }
}

impl Headline {
    /// The headline of the sweeps, transfers and steering (`probes` holds both labels).
    pub fn new(
        probes: &BTreeMap<String, LabelSweeps>,
        transfers: &BTreeMap<String, Vec<TransferLayer>>,
        steering: &Steering,
        heads: bool,
    ) -> Self {
        let best = |label: &str| -> Unit {
            let r = &probes[label].residual;
            best_by_accuracy(r.layers.iter().filter(|l| l.head.is_none()))
                .map_or_else(|| Unit::from(&LayerResult::default()), Unit::from)
        };
        let best_head = |label: &str| {
            probes[label]
                .heads
                .as_ref()
                .and_then(|h| best_by_accuracy(h.layers.iter().filter(|l| l.head.is_some())))
                .map(Unit::from)
        };
        let transfer_at = |label: &str| {
            let layer = best(label).layer.unwrap_or(0);
            let accuracy = transfers[label]
                .iter()
                .find(|t| t.layer == layer)
                .map(|t| t.forms.iter().map(|(f, s)| (f.clone(), s.accuracy)).collect())
                .unwrap_or_default();
            TransferAt { layer, accuracy }
        };
        let base = &steering.baseline;
        Headline {
            protagonist: best(LABELS[0]),
            oracle: best(LABELS[1]),
            best_head: heads.then(|| BestHeads {
                protagonist: best_head(LABELS[0]),
                oracle: best_head(LABELS[1]),
            }),
            transfer: TransferHeadline {
                train_form: TRAIN_FORM.into(),
                protagonist: transfer_at(LABELS[0]),
                oracle: transfer_at(LABELS[1]),
            },
            steering: SteerHeadline {
                layer: steering.layer,
                questions: steering.questions,
                baseline: CONDITIONS
                    .iter()
                    .map(|c| (c.to_string(), accuracy_of(base, c)))
                    .collect(),
                residual: steering.residual.iter().map(|s| Effect::of(s, base)).collect(),
                heads: steering.heads.iter().map(|s| Effect::of(s, base)).collect(),
                random: steering.random.as_ref().map(|s| Effect::of(s, base)),
            },
        }
    }
}
