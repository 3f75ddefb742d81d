//! The typed `results.json` of the knowledge suite. Field names are those of the untyped
//! suite, so old results stay comparable; timings, absolute paths and the figure list are
//! gone, and the separation histogram the figure draws is new.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::options::KnowledgeOptions;
use crate::probe::metrics::ClassMetrics;
use crate::probe::sweep::{LayerResult, SweepResults};

/// Everything the suite found: `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KnowledgeResults {
    /// Always `knowledge-suite`.
    pub kind: String,
    pub model: String,
    pub options: KnowledgeOptions,
    /// Harvested and probed blocks.
    pub layers: Vec<usize>,
    pub data: DataSummary,
    pub headline: Headline,
    pub probe: ProbeSection,
    /// Whether the probe reads knowledge or the look of the names.
    pub generalise: GeneraliseSection,
    pub sae: SaeSection,
    pub steering: SteeringSection,
    /// None when too few questions were answered right or wrong to probe.
    pub pik: Option<PikSection>,
}

/// The numbers a reader wants first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Headline {
    pub best_layer: usize,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub auroc: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub balanced_accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub control_accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub chance: f64,
    /// Held-out-type accuracy of the known probe, by entity type.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub transfer: BTreeMap<String, f64>,
    pub steer_layer: usize,
    /// Refusal rate on known entities, by condition, at the strength of `refusal_steering`.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub refusal_rate: BTreeMap<String, f64>,
    /// Hallucination rate on unknown and fabricated entities, by condition.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub hallucination_rate: BTreeMap<String, f64>,
    /// Correct rate on known entities, by condition.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub correct_rate: BTreeMap<String, f64>,
    pub pik_layer: Option<usize>,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub pik_auroc: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub pik_ece: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub pik_brier: f64,
    pub n_real: usize,
    pub n_known: usize,
    pub n_unknown: usize,
    pub n_partial: usize,
    pub n_fabricated: usize,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub question_accuracy: f64,
    /// Mean P(known) from the saved probe, by entity status.
    pub p_known: PKnown,
    pub top_latents: TopLatents,
    /// Unsteered refusal rate of step 1's questions by entity status (known, unknown,
    /// partial, fabricated), under the way out.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub unsteered_refusal: BTreeMap<String, f64>,
    /// The chosen refusal-steering condition, for `mindlens steer apply`.
    pub refusal_steering: RefusalSteering,
    /// Held-out AUROC of the activation probe, by kind of unknown entity (origin) never
    /// trained on...
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub held_out_origin_auroc: BTreeMap<String, f64>,
    /// ... and of the probe on the name's character n-grams, the baseline it must beat.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub held_out_origin_auroc_ngrams: BTreeMap<String, f64>,
}

/// The refusal-steering condition the headline reports: `OUT/vectors/unknown` (and its
/// negation `OUT/vectors/known`) added at `layer` with strength `alpha`, relative to the
/// layer's mean residual norm when `relative`. Chosen as the strength with the largest rise
/// in refusals on known entities among those within the KL bound (the smallest KL when none is).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefusalSteering {
    pub layer: usize,
    pub alpha: f64,
    pub relative: bool,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
    pub within_kl_bound: bool,
    /// Refusal on held-out known entities: unsteered, +unknown, random direction.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub known_refusal_original: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub known_refusal_unknown_dir: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub known_refusal_random: f64,
    /// Refusal on held-out unknown and fabricated entities: unsteered, +known, random.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub unknown_refusal_original: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub unknown_refusal_known_dir: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub unknown_refusal_random: f64,
    /// Hallucination on held-out unknown and fabricated entities: unsteered and +known.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub unknown_hallucination_original: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub unknown_hallucination_known_dir: f64,
}

/// Step 2b: the known/unknown probe on kinds of entity and types it never trained on, from
/// the activations and from the name's characters alone.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GeneraliseSection {
    pub layer: usize,
    pub ngram_features: String,
    /// Origins of the unknown-side entities (`obscure`, `famous`, or a name generator).
    pub origins: Vec<String>,
    pub activations: FeatureScores,
    pub name_ngrams: FeatureScores,
    pub beats_ngrams_pooled: bool,
    /// Held-out origins on which the activation probe's AUROC is above the n-grams'.
    pub held_out_origins_beaten: usize,
}

/// One feature set's scores (known is the positive class).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeatureScores {
    /// Out-of-fold AUROC, folds grouped by entity.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub pooled_auroc: f64,
    /// The same predictions within each entity type.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub by_type: BTreeMap<String, f64>,
    /// The same predictions, known against each origin's unknown entities.
    #[serde(deserialize_with = "crate::artifact::nan::map")]
    pub by_origin: BTreeMap<String, f64>,
    /// Trained on the other types, tested on this one.
    pub held_out_type: BTreeMap<String, HeldOutScore>,
    /// Trained on the choice half without this origin, tested on the held-out known entities
    /// and all of this origin's.
    pub held_out_origin: BTreeMap<String, HeldOutScore>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeldOutScore {
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub auroc: f64,
    pub train_rows: usize,
    pub test_known: usize,
    pub test_unknown: usize,
}

/// Mean P(known) by status.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PKnown {
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub known: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub unknown: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub partial: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub fabricated: f64,
}

/// The listed latents each way, briefly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopLatents {
    pub known: Vec<LatentBrief>,
    pub unknown: Vec<LatentBrief>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatentBrief {
    pub latent: usize,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub score: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub generic_frequency: f64,
}

/// What was asked of which entities.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataSummary {
    /// The data directory as given in the options.
    pub dir: String,
    pub entities: usize,
    pub real: usize,
    pub types: Vec<String>,
    pub questions_asked: usize,
    /// Of those, about fabricated entities (asked for the unsteered refusal rate only).
    pub questions_fabricated: usize,
    pub questions_leaky: usize,
    pub questions_used: usize,
    pub generic_sentences: usize,
    pub per_type: BTreeMap<String, TypeCounts>,
    pub prompts: String,
    pub matching: String,
    pub refusal_phrases: Vec<String>,
}

/// Entity labels and answers of one entity type.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TypeCounts {
    pub real: usize,
    pub known: usize,
    pub unknown: usize,
    pub partial: usize,
    pub too_few_questions: usize,
    pub fabricated: usize,
    pub questions: usize,
    pub correct: usize,
}

/// Step 2: the known-vs-unknown probe.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeSection {
    pub sweep: SweepResults,
    pub best: LayerResult,
    pub transfer: BTreeMap<String, TransferScore>,
    pub rows: usize,
    pub known_rows: usize,
    pub saved: String,
}

/// Held-out-type scores of the known probe.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferScore {
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub auroc: f64,
    /// Entities of the held-out type.
    pub n: usize,
    pub n_known: usize,
    pub train_rows: usize,
}

/// Step 3: the SAE and its latents.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaeSection {
    pub layer: usize,
    pub origin: SaeOrigin,
    pub generic_tokens: usize,
    pub generic_drop: f64,
    pub dropped_latents: usize,
    pub generic_filter_applied: bool,
    /// How the separation scores were pooled over entity types.
    pub separation: String,
    pub choice_entities: usize,
    pub held_out_entities: usize,
    pub known_latents: Vec<LatentInfo>,
    pub unknown_latents: Vec<LatentInfo>,
    /// The separation scores of every kept latent, binned for the figure.
    pub histogram: SeparationHistogram,
}

/// Where the SAE came from and its size.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaeOrigin {
    pub sae: SaeSource,
    pub arch: String,
    pub d_sae: usize,
    pub k: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaeSource {
    /// `trained` or `pretrained`.
    pub source: String,
    /// Relative to the output directory when inside it (a trained SAE: `sae`), else as given.
    pub dir: String,
    pub hook: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_vectors: Option<u64>,
    /// The training run of a trained SAE (its `training.json` without timings and paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<SaeRun>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaeRun {
    pub options: serde_json::Value,
    pub steps: usize,
    pub tokens: u64,
    pub scale: f64,
    /// The last logged training metrics.
    pub last: serde_json::Value,
}

/// A latent listed in the results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatentInfo {
    pub latent: usize,
    /// Separation score in the listed direction (known − unknown, or unknown − known).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub score: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub generic_frequency: f64,
    /// Fraction of the choice split's known and unknown entities it fires on.
    pub fires_known: f64,
    pub fires_unknown: f64,
    pub promotes: Vec<String>,
    pub suppresses: Vec<String>,
    /// Selected entities (any source) where it fires most.
    pub top_entities: Vec<TopEntity>,
    /// Where it fires most in the SAE corpus.
    pub top_contexts: Vec<TopContext>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopEntity {
    pub entity: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub activation: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopContext {
    pub before: String,
    pub token: String,
    pub after: String,
    pub activation: f64,
}

/// Counts of kept latents per bin of separation score over [-1, 1], each way.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeparationHistogram {
    pub bins: usize,
    pub known: Vec<usize>,
    pub unknown: Vec<usize>,
}

/// Step 4: steering.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteeringSection {
    pub layer: usize,
    pub stats: SteerStats,
    pub conditions: Vec<ConditionResult>,
    pub examples: Vec<Example>,
}

/// How the directions were made and how they relate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteerStats {
    pub layer: usize,
    pub added_at: String,
    pub strength: String,
    pub resid_norm: f64,
    pub mean_diff_norm: f64,
    pub unknown_latent: usize,
    pub known_latent: usize,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub cosine_unknown_latent_mean_diff: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub cosine_known_latent_mean_diff: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub cosine_unknown_known_latents: f64,
    /// NaN (`null`) when the probe lives at another layer than the steering.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub cosine_known_probe_mean_diff: f64,
    pub ablation: String,
    pub questions: usize,
    /// Entities per category (known, unknown, fabricated).
    pub entities: BTreeMap<String, usize>,
}

/// One steering condition's rates by category.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConditionResult {
    pub condition: String,
    /// None for the unsteered and the ablated conditions.
    pub alpha: Option<f64>,
    /// `known`, `unknown`, `fabricated` and `unknown_or_fabricated`.
    pub by_category: BTreeMap<String, Rates>,
    /// Mean KL(unsteered || steered) of the next token on neutral prompts (0 unsteered).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
    /// Perplexity of the neutral prompts under the condition.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub perplexity: f64,
}

impl ConditionResult {
    /// One rate of category `cat` (NaN when absent).
    pub fn get(&self, cat: &str, f: RateOf) -> f64 {
        self.by_category.get(cat).map_or(f64::NAN, f)
    }
}

/// Picks one rate out of a [`Rates`].
pub type RateOf = fn(&Rates) -> f64;

/// Rates over a set of steered answers (NaN over none).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Rates {
    pub n: usize,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub refusal: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub hallucination: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub correct: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub empty: f64,
}

/// A question with the unsteered answer and each direction's at the largest alpha.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Example {
    pub category: String,
    pub question: String,
    pub answers: BTreeMap<String, String>,
}

/// Step 5: P(IK).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PikSection {
    pub sweep: SweepResults,
    pub best: LayerResult,
    pub pooled_out_of_fold: ClassMetrics,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub ece: f64,
    pub reliability: Vec<ReliabilityBin>,
    pub questions: usize,
    pub correct: usize,
    pub saved: String,
}

/// One bin of predicted P(correct).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReliabilityBin {
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub mean_p_correct: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub fraction_correct: f64,
    pub count: usize,
}
