//! Knowledge awareness (issue #8): does a small language model represent whether it knows an
//! entity before it is asked anything about it, and does that representation decide whether
//! it answers, refuses or makes something up? After Ferrando et al. (ICLR 2025, "Do I Know
//! This Entity? Knowledge Awareness and Hallucinations in Language Models") and the P(IK)
//! probes of Kadavath et al. (2022, "Language Models (Mostly) Know What They Know").
//!
//! Data: `probes/knowledge/` (see its README): real and fabricated cities, people, books and
//! teams, three attribute questions each with accepted aliases, a neutral frame
//! (`The {type} {name}`), a question frame and generic sentences without named entities.
//!
//! [`run_knowledge`] runs five steps:
//! 1. **labels from behaviour**: every question about a real entity is asked greedily and the
//!    first line of the answer is matched against the aliases ([`answer_matches`]). Questions
//!    whose answer is part of the entity's name ("Manchester United" → Manchester) are asked
//!    and recorded but not used. An entity is *known* with at least two correct answers,
//!    *unknown* with none (at least two questions asked), *partial* with one (left out of the
//!    known/unknown contrast); fabricated entities are unknown by construction;
//! 2. **entity probe**: `blocks.L.hook_resid_post` at the last token of the neutral frame
//!    (which ends with the name), logistic known-vs-unknown probes per layer, folds grouped by
//!    entity, permuted-label control; transfer across entity types (train on three, test on
//!    the fourth) at the best layer; the best probe is saved to `out/probes/known/` with
//!    classes `["false", "true"]`, so its probability is P(known);
//! 3. **SAE latents** at the steering layer (the best probe layer, or the layer of the SAE
//!    given in [`KnowledgeOptions::sae`]): a small TopK SAE trained on the suite's own text
//!    (generic sentences, neutral frames, question prompts) unless one is given; latents that
//!    fire on more than `generic_drop` of generic-text tokens are dropped; separation scores
//!    (fraction of known entities where a latent fires minus fraction of unknown ones, and the
//!    reverse, minimum over entity types) rank the rest;
//! 4. **steering** on questions about held-out entities: the best unknown and known latents'
//!    decoder rows, the mean difference unknown − known (and its negation), a random
//!    direction, each added with a relative strength over the prompt positions, and
//!    directional ablation of the mean difference; refusal rate on known entities and
//!    hallucination rate (a non-empty answer that is neither a refusal nor correct) on
//!    unknown and fabricated ones;
//! 5. **P(IK)**: the last token of each question prompt, probed for whether the model's own
//!    answer was correct; AUROC, Brier score, expected calibration error and a reliability
//!    diagram from pooled out-of-fold predictions.
//!
//! Directions and latents are chosen on one half of the labelled entities (stratified,
//! seeded) and steering is measured on questions about the other half, plus fabricated
//! entities, which no choice ever saw.
//!
//! Prompts are plain-text completions (`PromptInput::Text`) for every model, also for
//! SmolLM2-Instruct, which has a chat template: the question frame ("Answer in a few words.
//! \nQuestion: ...\nAnswer:") is itself a completion prompt, and the same string for every
//! model keeps their answers comparable.
//!
//! Everything is written under one output directory:
//! ```text
//! OUT/answers.jsonl            every question asked in step 1, its answer and verdict
//! OUT/labels.jsonl             every entity with its status and P(known) from the probe
//! OUT/data/                    the harvest data files (entities, SAE corpus, questions)
//! OUT/store/                   entity last-token activations (resumable)
//! OUT/sae_store/, OUT/sae/     SAE corpus activations and the SAE (SAELens layout)
//! OUT/pik_store/               question last-token activations
//! OUT/probes/{known,pik}/      saved probes for `mindlens probe apply`
//! OUT/steering_vectors/{name}/ the steering directions (SteeringVectors)
//! OUT/steering_answers.jsonl   every steered answer with its verdict
//! OUT/figures/                 probe_layers, separation, steering_rates, reliability (.svg, .png)
//! OUT/results.json, OUT/report.md
//! ```

mod answers;
mod report;

pub use answers::{answer_matches, first_line, is_refusal, leaks_answer, normalise, REFUSAL_PHRASES};
use answers::{judge, Verdict};
use report::{layer_figure, rates_figure, reliability_figure, report_md, separation_figure};

use super::{alpha64, check_layers, mean_norm, random_direction, read_rows, spread, stage_bar};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::backend::Backend;
use indicatif::ProgressBar;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::artifact::{write_atomic, write_json};
use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, SplitMix64};
use crate::harvest::{harvest, ActivationStore, ChunkOrder, HarvestOptions, PositionSpec};
use crate::hooks::{Hook, HookPoint, HookSet, NoHooks, Positions};
use crate::model::Model;
use crate::plot::{save_figure, Heatmap, LineChart, Series};
use crate::probe::metrics::{calibration, classification, ClassMetrics};
use crate::probe::split::group_kfold;
use crate::probe::sweep::{sweep_units, LayerResult, SweepUnit};
use crate::probe::{
    save_probe, FitOptions, Labels, LinearProbe, ProbeKind, ProbeMeta, SweepOptions, SweepResults, Target,
};
use crate::prompts::{read_jsonl, PromptInput};
use crate::registry::sha256_file;
use crate::sae::inspect::{separation_scores, top_contexts, LatentReport};
use crate::sae::saelens;
use crate::sae::train::{train, RunControl, TrainOptions};
use crate::sae::{Arch, Sae};
use crate::steer::vector::{cosine, norm};
use crate::steer::{add_ablation, add_steering, SteerMeta, SteeringVectors, Strength};

const REAL: &str = "real";
const FABRICATED: &str = "fabricated";
const KNOWN: &str = "known";
const UNKNOWN: &str = "unknown";
const PARTIAL: &str = "partial";
const TOO_FEW: &str = "too_few_questions";

/// The added-direction conditions of the steering step, in report order.
const ADDED: [&str; 5] = [
    "unknown_latent",
    "known_latent",
    "unknown_mean_diff",
    "known_mean_diff",
    "random",
];

/// Settings of [`run_knowledge`]. The defaults are the full experiment; the `max_*` fields and
/// the SAE size shrink it for CI.
#[derive(Clone, Debug, Serialize)]
pub struct KnowledgeOptions {
    /// Directory with `entities.jsonl`, `frames.json` and `generic.jsonl`.
    pub data_dir: PathBuf,
    /// Entities per type x source (e.g. 6 real cities and 6 fabricated ones), spread evenly
    /// over the file so that famous and obscure entities are both kept (None: all).
    pub max_entities: Option<usize>,
    /// Generic sentences in the SAE corpus and the generic-firing filter (None: all).
    pub max_generic: Option<usize>,
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
            layers: None,
            folds: 5,
            sae: None,
            sae_expansion: 8,
            sae_k: 16,
            sae_tokens: 400_000,
            sae_batch: 1024,
            generic_drop: 0.02,
            top_latents: 10,
            alphas: vec![0.25, 0.5],
            holdout_fraction: 0.5,
            max_steer_entities: Some(30),
            max_new_tokens: 16,
            batch: 32,
            seed: 0,
        }
    }
}

/// One attribute question of an entity.
#[derive(Clone, Debug, Deserialize)]
struct Question {
    attribute: String,
    question: String,
    answers: Vec<String>,
}

/// A row of `entities.jsonl`.
#[derive(Clone, Debug, Deserialize)]
struct Entity {
    entity: String,
    #[serde(rename = "type")]
    kind: String,
    source: String,
    group: String,
    questions: Vec<Question>,
}

/// `frames.json`.
#[derive(Clone, Debug, Deserialize)]
struct Frames {
    neutral: String,
    type_nouns: BTreeMap<String, String>,
    question_prompt: String,
}

impl Frames {
    /// `The {type} {name}`: ends with the name, so the last token read is the name's.
    fn neutral(&self, e: &Entity) -> String {
        let noun = self.type_nouns.get(&e.kind).map_or(e.kind.as_str(), String::as_str);
        self.neutral.replace("{type}", noun).replace("{name}", &e.entity)
    }

    fn question(&self, q: &Question) -> String {
        self.question_prompt.replace("{question}", &q.question)
    }
}

#[derive(Deserialize)]
struct GenericRow {
    text: String,
}

/// The suite's data files, read and checked.
struct Data {
    entities: Vec<Entity>,
    frames: Frames,
    generic: Vec<String>,
}

impl Data {
    fn read(dir: &Path) -> Result<Self> {
        let ents_path = dir.join("entities.jsonl");
        let entities: Vec<Entity> = read_rows(&ents_path)?;
        let frames_path = dir.join("frames.json");
        let text = std::fs::read_to_string(&frames_path).map_err(|e| Error::io(&frames_path, e))?;
        let frames: Frames = serde_json::from_str(&text)
            .map_err(|e| Error::bad_file(&frames_path, format!("not a frames file: {e}")))?;
        // The entity probe reads the last token, which must be the name's.
        if !frames.neutral.ends_with("{name}") {
            return Err(Error::bad_file(
                &frames_path,
                format!("\"neutral\" must end with {{name}}, found {:?}", frames.neutral),
            ));
        }
        if !frames.question_prompt.contains("{question}") {
            return Err(Error::bad_file(&frames_path, "\"question_prompt\" lacks {question}"));
        }
        let generic: Vec<GenericRow> = read_rows(&dir.join("generic.jsonl"))?;
        let mut groups = BTreeSet::new();
        for (i, e) in entities.iter().enumerate() {
            let at = |m: String| Error::bad_file(&ents_path, format!("entity {} ({:?}): {m}", i + 1, e.entity));
            if e.entity.trim().is_empty() {
                return Err(at("empty name".into()));
            }
            if e.source != REAL && e.source != FABRICATED {
                return Err(at(format!(
                    "source {:?} is neither \"real\" nor \"fabricated\"",
                    e.source
                )));
            }
            if !frames.type_nouns.contains_key(&e.kind) {
                return Err(at(format!("type {:?} has no noun in frames.json", e.kind)));
            }
            if e.questions.is_empty() {
                return Err(at("no questions".into()));
            }
            if e.source == REAL && e.questions.iter().any(|q| q.answers.is_empty()) {
                return Err(at("a question of a real entity has no accepted answers".into()));
            }
            if !groups.insert(e.group.clone()) {
                return Err(at(format!("group {:?} appears twice", e.group)));
            }
        }
        Ok(Data {
            entities,
            frames,
            generic: generic.into_iter().map(|g| g.text).collect(),
        })
    }
}

/// At most `max` entities of every type x source, spread evenly over the file, in file order.
fn select_entities(all: &[Entity], max: Option<usize>) -> Vec<Entity> {
    let mut cells: Vec<((&str, &str), Vec<usize>)> = Vec::new();
    for (i, e) in all.iter().enumerate() {
        let key = (e.kind.as_str(), e.source.as_str());
        match cells.iter_mut().find(|c| c.0 == key) {
            Some(c) => c.1.push(i),
            None => cells.push((key, vec![i])),
        }
    }
    let mut keep: Vec<usize> = cells.iter().flat_map(|c| spread(&c.1, max)).collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| all[i].clone()).collect()
}

/// An entity's label from the model's answers to its usable (non-leaking) questions.
fn entity_status(source: &str, used: usize, correct: usize) -> &'static str {
    if source == FABRICATED {
        FABRICATED
    } else if used < 2 {
        TOO_FEW
    } else if correct >= 2 {
        KNOWN
    } else if correct == 0 {
        UNKNOWN
    } else {
        PARTIAL
    }
}

/// Splits labelled rows into rows that choose directions and latents and rows held out for
/// steering, stratified by label: a seeded `fraction` of each class is held out, always
/// leaving at least one row of each class for the choice.
fn split_rows(rows: &[usize], known: &[bool], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed ^ 0x5EED_0F57_0011);
    let (mut select, mut held) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut v: Vec<usize> = rows
            .iter()
            .zip(known)
            .filter(|(_, &k)| k == class)
            .map(|(&r, _)| r)
            .collect();
        crate::harvest::store::shuffle(&mut v, &mut rng);
        let n_held = ((v.len() as f64 * fraction).floor() as usize).min(v.len().saturating_sub(1));
        held.extend_from_slice(&v[..n_held]);
        select.extend_from_slice(&v[n_held..]);
    }
    select.sort_unstable();
    held.sort_unstable();
    (select, held)
}

/// Rejects unusable options, naming them.
fn check_options(o: &KnowledgeOptions) -> Result<()> {
    let bad = |m: String| -> Result<()> { Err(Error::Invalid(format!("knowledge options: {m}"))) };
    if o.folds < 2 {
        return bad(format!("folds {} must be at least 2", o.folds));
    }
    if o.alphas.is_empty() || o.alphas.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
        return bad(format!(
            "alphas {:?} must be finite and positive (the directions already come in opposite pairs)",
            o.alphas
        ));
    }
    if !(0.0..=1.0).contains(&o.generic_drop) {
        return bad(format!("generic_drop {} must be in [0, 1]", o.generic_drop));
    }
    if !(o.holdout_fraction > 0.0 && o.holdout_fraction < 1.0) {
        return bad(format!("holdout_fraction {} must be in (0, 1)", o.holdout_fraction));
    }
    let zero = |v: Option<usize>| v == Some(0);
    if zero(o.max_entities) || zero(o.max_generic) || zero(o.max_steer_entities) {
        return bad("max_entities, max_generic and max_steer_entities must be positive when given".into());
    }
    if o.sae_expansion == 0 || o.sae_k == 0 || o.sae_batch == 0 || o.top_latents == 0 {
        return bad("sae_expansion, sae_k, sae_batch and top_latents must be positive".into());
    }
    if o.max_new_tokens == 0 || o.batch == 0 {
        return bad("max_new_tokens and batch must be positive".into());
    }
    Ok(())
}

/// Greedy continuations of plain-text `prompts`, `batch` at a time, with `hooks` active
/// (one hook set serves every batch: it holds interventions only).
fn complete<B: Backend>(
    model: &Model<B>,
    prompts: &[String],
    max_new_tokens: usize,
    batch: usize,
    hooks: &mut dyn Hook<B>,
    pb: &ProgressBar,
) -> Result<Vec<String>> {
    let gopts = GenerateOptions {
        max_new_tokens,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(prompts.len());
    for chunk in prompts.chunks(batch.max(1)) {
        let ids = chunk
            .iter()
            .map(|p| model.encode(&PromptInput::Text(p.clone())))
            .collect::<Result<Vec<_>>>()?;
        out.extend(model.generate(&ids, &gopts, hooks)?.into_iter().map(|g| g.text));
        pb.inc(chunk.len() as u64);
    }
    Ok(out)
}

/// A line of `answers.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct AnswerRow {
    model: String,
    max_new_tokens: usize,
    entity: String,
    #[serde(rename = "type")]
    kind: String,
    group: String,
    attribute: String,
    question: String,
    prompt: String,
    /// The whole continuation.
    raw: String,
    /// Its first non-empty line, the part that is judged.
    answer: String,
    answers: Vec<String>,
    /// The answer is part of the entity's name: asked, but not used for labels.
    leaky: bool,
    correct: bool,
    refusal: bool,
}

/// The raw answers of an `answers.jsonl` written by a run with the same model, prompts and
/// answer length, so a rerun skips step 1's generation.
fn cached_answers(path: &Path, model: &str, max_new_tokens: usize, prompts: &[String]) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let rows: Vec<AnswerRow> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str::<AnswerRow>)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let same = rows.len() == prompts.len()
        && rows
            .iter()
            .zip(prompts)
            .all(|(r, p)| r.model == model && r.max_new_tokens == max_new_tokens && r.prompt == *p);
    same.then(|| rows.into_iter().map(|r| r.raw).collect())
}

/// Writes `lines` as the harvest data file `data` and harvests it into `store_dir`, resuming
/// a store made from the same data, hooks, positions and model and replacing one made from
/// anything else. (A local generalisation of personality's `harvest_store` over positions.)
fn harvest_lines<B: Backend>(
    model: &Model<B>,
    lines: &[Value],
    hooks: &[HookPoint],
    positions: PositionSpec,
    data: &Path,
    store_dir: &Path,
    progress: bool,
) -> Result<ActivationStore> {
    if let Some(dir) = data.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut text = String::new();
    for l in lines {
        text.push_str(&l.to_string());
        text.push('\n');
    }
    write_atomic(data, |f| f.write_all(text.as_bytes()).map_err(|e| e.to_string()))?;
    let sha = sha256_file(data)?;
    let names: Vec<String> = hooks.iter().map(ToString::to_string).collect();
    let pos_name = positions.to_string();
    let stale = ActivationStore::open(store_dir).is_ok_and(|s| {
        s.manifest.data.sha256 != sha
            || s.manifest.hooks != names
            || s.manifest.model != model.name
            || s.manifest.positions != pos_name
    });
    let hopts = HarvestOptions {
        hooks: hooks.to_vec(),
        positions,
        resume: !stale,
        force: stale,
        progress,
        ..Default::default()
    };
    harvest(model, data, store_dir, &hopts)?;
    let store = ActivationStore::open(store_dir)?;
    if store.manifest.rows != lines.len() || !store.manifest.complete {
        return Err(Error::bad_file(
            store_dir.join("manifest.json"),
            format!("expected {} complete rows, found {}", lines.len(), store.manifest.rows),
        ));
    }
    Ok(store)
}

/// Last-token activations per harvested layer, `[rows, d_model]`, rows in data order.
type Acts = BTreeMap<usize, Array2<f32>>;

fn load_layers(store: &ActivationStore, layers: &[usize]) -> Result<Acts> {
    layers
        .iter()
        .map(|&l| -> Result<(usize, Array2<f32>)> { Ok((l, store.load(HookPoint::ResidPost(l))?)) })
        .collect()
}

fn layer_of(acts: &Acts, layer: usize) -> Result<&Array2<f32>> {
    acts.get(&layer)
        .ok_or_else(|| Error::Invalid(format!("layer {layer} was not harvested")))
}

/// Class index of every row (0 = false, 1 = true for boolean labels).
fn class_ids(labels: &Labels) -> Result<Vec<usize>> {
    match &labels.target {
        Target::Classes(y, _) => Ok(y.clone()),
        Target::Values(_) => Err(Error::Invalid("knowledge labels must be classes".into())),
    }
}

/// Logistic probes per layer on rows `rows` of `acts`, folds grouped by `labels.groups`, with
/// the permuted-label control.
fn sweep_layers(
    acts: &Acts,
    rows: &[usize],
    labels: &Labels,
    opts: &KnowledgeOptions,
    label: &str,
) -> Result<SweepResults> {
    let units = acts
        .iter()
        .map(|(&l, x)| SweepUnit {
            hook: HookPoint::ResidPost(l),
            head: None,
            x: x.select(Axis(0), rows).mapv(f64::from),
        })
        .collect();
    let sopts = SweepOptions {
        folds: opts.folds,
        seed: opts.seed,
        ..Default::default()
    };
    let mut r = sweep_units(units, labels, &sopts, label, "blocks.*.hook_resid_post")?;
    r.group = Some("entity".into());
    Ok(r)
}

/// The layer with the highest cross-validated AUROC (classes are unbalanced, so accuracy would
/// favour whichever probe predicts the majority class), then accuracy; exact ties go to the
/// layer nearest the middle of the network.
fn best_layer(r: &SweepResults, n_layers: usize) -> Option<&LayerResult> {
    let mid = n_layers as f64 / 2.0;
    let auroc = |l: &LayerResult| {
        if l.auroc.is_finite() {
            l.auroc
        } else {
            f64::NEG_INFINITY
        }
    };
    let acc = |l: &LayerResult| {
        if l.accuracy.is_finite() {
            l.accuracy
        } else {
            f64::NEG_INFINITY
        }
    };
    let dist = |l: &LayerResult| (l.layer.unwrap_or(0) as f64 - mid).abs();
    r.layers
        .iter()
        .filter(|l| l.layer.is_some() && (l.auroc.is_finite() || l.accuracy.is_finite()))
        .max_by(|&a, &b| {
            auroc(a)
                .total_cmp(&auroc(b))
                .then_with(|| acc(a).total_cmp(&acc(b)))
                .then_with(|| dist(b).total_cmp(&dist(a)))
        })
}

/// Refits a logistic probe on every row and saves it the way `mindlens probe sweep` does.
fn save_layer_probe(
    x: ArrayView2<f64>,
    y: &[usize],
    best: &LayerResult,
    classes: &[String],
    label: &str,
    model: &str,
    dir: &Path,
) -> Result<LinearProbe> {
    let probe = LinearProbe::fit_classifier(ProbeKind::Logistic, x, y, 2, FitOptions::default())?;
    let meta = ProbeMeta {
        kind: ProbeKind::Logistic,
        hook: best.hook.clone(),
        head: None,
        positions: PositionSpec::Last.to_string(),
        model: model.to_string(),
        label: label.to_string(),
        classes: classes.to_vec(),
        metrics: serde_json::to_value(best).map_err(|e| Error::Invalid(e.to_string()))?,
    };
    save_probe(dir, &probe, &meta)?;
    Ok(probe)
}

/// Out-of-fold P(class 1) of every row under the sweep's grouped folds (NaN for rows of a
/// fold whose training rows lack a class).
fn out_of_fold(x: ArrayView2<f64>, y: &[usize], groups: &[String], folds: usize, seed: u64) -> Result<Vec<f64>> {
    let fold_of = group_kfold(groups, folds, seed);
    let mut p = vec![f64::NAN; y.len()];
    for f in 0..folds {
        let train: Vec<usize> = (0..y.len()).filter(|&i| fold_of[i] != f).collect();
        let test: Vec<usize> = (0..y.len()).filter(|&i| fold_of[i] == f).collect();
        if let Some(proba) = fit_and_score(x, y, &train, &test)? {
            for (k, &i) in test.iter().enumerate() {
                p[i] = proba[[k, 1]];
            }
        }
    }
    Ok(p)
}

/// Class probabilities `[test, 2]` of a logistic probe fitted on the `train` rows; None when
/// the training rows lack a class or there is nothing to test.
fn fit_and_score(x: ArrayView2<f64>, y: &[usize], train: &[usize], test: &[usize]) -> Result<Option<Array2<f64>>> {
    let ytr: Vec<usize> = train.iter().map(|&i| y[i]).collect();
    if test.is_empty() || !(ytr.contains(&0) && ytr.contains(&1)) {
        return Ok(None);
    }
    let probe = LinearProbe::fit_classifier(
        ProbeKind::Logistic,
        x.select(Axis(0), train).view(),
        &ytr,
        2,
        FitOptions::default(),
    )?;
    Ok(Some(probe.predict_proba(x.select(Axis(0), test).view())))
}

/// `[rows, 2]` class probabilities from P(class 1).
fn two_columns(p: &[f64]) -> Array2<f64> {
    Array2::from_shape_fn((p.len(), 2), |(i, c)| if c == 1 { p[i] } else { 1.0 - p[i] })
}

/// Held-out-type scores of the known probe.
#[derive(Clone, Debug, Serialize)]
struct TransferScore {
    accuracy: f64,
    auroc: f64,
    /// Entities of the held-out type.
    n: usize,
    n_known: usize,
    train_rows: usize,
}

/// For each entity type in `names`: a probe trained on the rows of the other types, tested on
/// this one's (`types` names each row's type; a type without rows scores NaN).
fn transfer_by_type(
    x: ArrayView2<f64>,
    y: &[usize],
    types: &[String],
    names: &BTreeSet<String>,
) -> Result<BTreeMap<String, TransferScore>> {
    let mut out = BTreeMap::new();
    for t in names {
        let train: Vec<usize> = (0..y.len()).filter(|&i| types[i] != *t).collect();
        let test: Vec<usize> = (0..y.len()).filter(|&i| types[i] == *t).collect();
        let yte: Vec<usize> = test.iter().map(|&i| y[i]).collect();
        let (accuracy, auroc) = match fit_and_score(x, y, &train, &test)? {
            Some(proba) => {
                let m = classification(proba.view(), &yte);
                (m.accuracy, m.auroc)
            }
            None => (f64::NAN, f64::NAN), // no classifier can be trained without both classes
        };
        out.insert(
            t.clone(),
            TransferScore {
                accuracy,
                auroc,
                n: test.len(),
                n_known: yte.iter().filter(|&&c| c == 1).count(),
                train_rows: train.len(),
            },
        );
    }
    Ok(out)
}

fn mean(v: &[f64]) -> f64 {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Fraction of the generic-text tokens (rows `0..n_generic` of the corpus store) on which
/// each latent fires, and the number of those tokens.
fn generic_frequency(
    sae: &Sae,
    store: &ActivationStore,
    hook: HookPoint,
    n_generic: usize,
) -> Result<(Vec<f64>, usize)> {
    let index = store.token_index()?.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: the SAE corpus store should hold every token",
            store.dir().display()
        ))
    })?;
    let mut fired = vec![0usize; sae.d_sae()];
    let (mut seen, mut n) = (0usize, 0usize);
    for chunk in store.chunks(hook, 4096, ChunkOrder::Sequential)? {
        let chunk = chunk?;
        let keep: Vec<usize> = (0..chunk.nrows())
            .filter(|&i| {
                index
                    .get((seen + i, 0))
                    .is_some_and(|&r| r >= 0 && (r as usize) < n_generic)
            })
            .collect();
        seen += chunk.nrows();
        if keep.is_empty() {
            continue;
        }
        let codes = sae.encode(chunk.select(Axis(0), &keep).view());
        for row in codes.rows() {
            for (l, &a) in row.iter().enumerate() {
                if a > 0.0 {
                    fired[l] += 1;
                }
            }
        }
        n += keep.len();
    }
    if n == 0 {
        return Err(Error::Invalid(format!(
            "{}: no generic-text tokens to filter latents with",
            store.dir().display()
        )));
    }
    Ok((fired.iter().map(|&f| f as f64 / n as f64).collect(), n))
}

/// Separation scores, minimum over entity types; pooled over types when no type holds both
/// sets (a tiny sample), with the rule used.
fn separation(codes: &Array2<f32>, in_a: &[bool], types: &[String]) -> Result<(Vec<f64>, &'static str)> {
    match separation_scores(codes, in_a, types) {
        Ok(s) => Ok((s, "minimum over entity types")),
        Err(_) => {
            let pooled = vec!["all".to_string(); in_a.len()];
            Ok((
                separation_scores(codes, in_a, &pooled)?,
                "pooled over entity types (no type held both classes)",
            ))
        }
    }
}

/// The `n` best eligible latents by score, best first. Latents that do not separate at all
/// (score <= 0) are left out, except that the best one is always kept, so steering still has
/// a latent to use and the report shows how weak it is.
fn rank_latents(scores: &[f64], eligible: &[bool], n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len())
        .filter(|&l| eligible[l] && scores[l].is_finite())
        .collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let separating = idx.iter().take_while(|&&l| scores[l] > 0.0).count();
    idx.truncate(n.min(separating.max(1)));
    idx
}

/// Trains the suite's TopK SAE on the corpus store into `dir`, or reuses the one a previous
/// run trained there from the same store, hook and options.
fn train_sae<B: Backend>(
    store: &ActivationStore,
    hook: HookPoint,
    opts: &KnowledgeOptions,
    dir: &Path,
    progress: bool,
    device: &B::Device,
) -> Result<(Sae, Value)> {
    let topts = TrainOptions {
        arch: Arch::TopK,
        expansion: opts.sae_expansion,
        k: opts.sae_k,
        tokens: opts.sae_tokens,
        batch: opts.sae_batch,
        seed: opts.seed,
        ..Default::default()
    };
    let topts_json = serde_json::to_value(&topts).map_err(|e| Error::Invalid(e.to_string()))?;
    // Compared as text: a JSON round trip of the options could differ in the last float digit.
    let key = json!({
        "store_sha256": store.manifest.data.sha256,
        "vectors": store.manifest.vectors,
        "hook": hook.to_string(),
        "options": topts_json,
    })
    .to_string();
    let marker = dir.join("knowledge-suite.json");
    let reuse = dir.join(saelens::WEIGHTS_FILE).exists()
        && std::fs::read_to_string(&marker).ok().as_deref() == Some(key.as_str());
    if !reuse {
        std::fs::remove_file(&marker).ok();
        train::<burn::backend::Autodiff<B>>(
            store,
            hook,
            dir,
            &topts,
            RunControl {
                force: true,
                progress,
                ..Default::default()
            },
            device,
        )?;
        write_atomic(&marker, |f| f.write_all(key.as_bytes()).map_err(|e| e.to_string()))?;
    }
    let (sae, _) = saelens::load(dir)?;
    let training = std::fs::read_to_string(dir.join("training.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .unwrap_or(Value::Null);
    Ok((sae, json!({"reused": reuse, "training": training})))
}

/// A pre-trained SAE, checked against the model: `(sae, layer, hook name, dir)`.
fn load_pretrained<B: Backend>(dir: &Path, model: &Model<B>) -> Result<(Sae, usize, String, PathBuf)> {
    let (sae, origin) = saelens::load(dir)?;
    sae.validate()?;
    if sae.d_in() != model.config.d_model {
        return Err(Error::bad_file(
            dir,
            format!(
                "the SAE reads width {}, the model's residual stream is {}",
                sae.d_in(),
                model.config.d_model
            ),
        ));
    }
    let point: HookPoint = origin.hook.parse().map_err(|_| {
        Error::bad_file(
            dir,
            format!("hook {:?} in cfg.json is not a mindlens hook name", origin.hook),
        )
    })?;
    match point {
        HookPoint::ResidPost(l) if l < model.config.n_layers => Ok((sae, l, origin.hook, dir.to_path_buf())),
        _ => Err(Error::bad_file(
            dir,
            format!(
                "the knowledge suite needs an SAE on blocks.L.hook_resid_post, this one reads {:?}",
                origin.hook
            ),
        )),
    }
}

/// One asked question of step 1.
struct Asked {
    entity: usize,
    question: usize,
    prompt: String,
    leaky: bool,
}

/// Step 1's outcome.
struct Answers {
    asked: Vec<Asked>,
    verdicts: Vec<Verdict>,
    status: Vec<&'static str>,
    n_used: Vec<usize>,
    n_correct: Vec<usize>,
}

/// Step 2's outcome.
struct KnownProbe {
    sweep: SweepResults,
    best: LayerResult,
    /// Entity indices of the known/unknown rows, in probe row order.
    labelled: Vec<usize>,
    y: Vec<usize>,
    transfer: BTreeMap<String, TransferScore>,
    /// P(known) of every selected entity from the probe refitted on all labelled rows.
    p_known: Vec<f64>,
    direction: Vec<f32>,
}

/// A latent listed in the results.
#[derive(Clone, Debug, Serialize)]
struct LatentInfo {
    latent: usize,
    /// Separation score in the listed direction (known − unknown, or unknown − known).
    score: f64,
    generic_frequency: f64,
    /// Fraction of the choice split's known and unknown entities it fires on.
    fires_known: f64,
    fires_unknown: f64,
    promotes: Vec<String>,
    suppresses: Vec<String>,
    /// Selected entities (any source) where it fires most.
    top_entities: Vec<Value>,
    /// Where it fires most in the SAE corpus.
    top_contexts: Vec<Value>,
}

/// Step 3's outcome.
struct SaeOutcome {
    layer: usize,
    sae: Sae,
    origin: Value,
    n_generic_tokens: usize,
    dropped: usize,
    filter_applied: bool,
    rule: &'static str,
    known_scores: Vec<f64>,
    unknown_scores: Vec<f64>,
    eligible: Vec<bool>,
    known_top: Vec<LatentInfo>,
    unknown_top: Vec<LatentInfo>,
}

/// A question asked while steering.
struct SteerItem {
    category: &'static str,
    entity: usize,
    question: usize,
    prompt: String,
}

/// Picks one rate out of a [`Rates`].
type RateOf = fn(&Rates) -> f64;

/// Rates over a set of steered answers.
#[derive(Clone, Debug, Default, Serialize)]
struct Rates {
    n: usize,
    refusal: f64,
    hallucination: f64,
    correct: f64,
    empty: f64,
}

fn rates(verdicts: &[Verdict], items: &[SteerItem], cats: &[&str]) -> Rates {
    let idx: Vec<usize> = (0..items.len())
        .filter(|&i| cats.contains(&items[i].category))
        .collect();
    let frac = |f: fn(&Verdict) -> bool| {
        if idx.is_empty() {
            f64::NAN
        } else {
            idx.iter().filter(|&&i| f(&verdicts[i])).count() as f64 / idx.len() as f64
        }
    };
    Rates {
        n: idx.len(),
        refusal: frac(|v| v.refusal),
        hallucination: frac(|v| v.hallucination),
        correct: frac(|v| v.correct),
        empty: frac(|v| v.empty),
    }
}

/// One steering condition's rates by category.
#[derive(Clone, Debug, Serialize)]
struct ConditionResult {
    condition: String,
    /// None for the unsteered and the ablated conditions.
    alpha: Option<f64>,
    /// `known`, `unknown`, `fabricated` and `unknown_or_fabricated`.
    by_category: BTreeMap<String, Rates>,
}

impl ConditionResult {
    fn get(&self, cat: &str, f: RateOf) -> f64 {
        self.by_category.get(cat).map_or(f64::NAN, f)
    }
}

/// Step 4's outcome.
struct SteerOutcome {
    layer: usize,
    conditions: Vec<ConditionResult>,
    entities: BTreeMap<&'static str, usize>,
    stats: Value,
    /// A few answers per category: (category, question, condition -> answer).
    examples: Vec<(String, String, BTreeMap<String, String>)>,
}

/// Step 5's outcome.
struct Pik {
    sweep: SweepResults,
    best: LayerResult,
    pooled: ClassMetrics,
    ece: f64,
    /// (mean predicted P(correct), fraction correct, count) per bin of P(correct).
    reliability: Vec<(f64, f64, usize)>,
    n: usize,
    n_correct: usize,
}

/// Shared state of one run.
struct Run<'a, B: Backend> {
    model: &'a Model<B>,
    opts: &'a KnowledgeOptions,
    out: &'a Path,
    progress: bool,
    frames: Frames,
    selected: Vec<Entity>,
}

impl<B: Backend> Run<'_, B> {
    fn say(&self, msg: &str) {
        super::say(self.progress, "knowledge", msg);
    }

    /// Step 1: ask every question about the selected real entities, judge the answers, write
    /// `answers.jsonl` and label the entities.
    fn answers(&self) -> Result<Answers> {
        let mut asked = Vec::new();
        for (ei, e) in self.selected.iter().enumerate() {
            if e.source != REAL {
                continue;
            }
            for (qi, q) in e.questions.iter().enumerate() {
                asked.push(Asked {
                    entity: ei,
                    question: qi,
                    prompt: self.frames.question(q),
                    leaky: leaks_answer(&e.entity, &q.answers),
                });
            }
        }
        let prompts: Vec<String> = asked.iter().map(|a| a.prompt.clone()).collect();
        let path = self.out.join("answers.jsonl");
        let n_new = self.opts.max_new_tokens;
        let raws = match cached_answers(&path, &self.model.name, n_new, &prompts) {
            Some(r) => {
                self.say("reusing the answers in answers.jsonl");
                r
            }
            None => {
                let pb = stage_bar(self.progress, "knowledge asking".into(), prompts.len() as u64);
                let r = complete(self.model, &prompts, n_new, self.opts.batch, &mut NoHooks, &pb)?;
                pb.finish_and_clear();
                r
            }
        };
        let n = self.selected.len();
        let (mut n_used, mut n_correct) = (vec![0usize; n], vec![0usize; n]);
        let mut verdicts = Vec::with_capacity(asked.len());
        let mut text = String::new();
        for (a, raw) in asked.iter().zip(&raws) {
            let e = &self.selected[a.entity];
            let q = &e.questions[a.question];
            let answer = first_line(raw).to_string();
            let v = judge(&answer, &q.answers);
            if !a.leaky {
                n_used[a.entity] += 1;
                n_correct[a.entity] += usize::from(v.correct);
            }
            let row = AnswerRow {
                model: self.model.name.clone(),
                max_new_tokens: n_new,
                entity: e.entity.clone(),
                kind: e.kind.clone(),
                group: e.group.clone(),
                attribute: q.attribute.clone(),
                question: q.question.clone(),
                prompt: a.prompt.clone(),
                raw: raw.clone(),
                answer,
                answers: q.answers.clone(),
                leaky: a.leaky,
                correct: v.correct,
                refusal: v.refusal,
            };
            text.push_str(&serde_json::to_string(&row).map_err(|err| Error::Invalid(err.to_string()))?);
            text.push('\n');
            verdicts.push(v);
        }
        write_atomic(&path, |f| f.write_all(text.as_bytes()).map_err(|e| e.to_string()))?;
        let status = self
            .selected
            .iter()
            .enumerate()
            .map(|(i, e)| entity_status(&e.source, n_used[i], n_correct[i]))
            .collect();
        Ok(Answers {
            asked,
            verdicts,
            status,
            n_used,
            n_correct,
        })
    }

    /// Step 2: known-vs-unknown probes per layer on the entities' last tokens, cross-type
    /// transfer at the best layer, and the saved probe.
    fn probe_known(&self, acts: &Acts, status: &[&'static str]) -> Result<KnownProbe> {
        let labelled: Vec<usize> = (0..status.len())
            .filter(|&i| status[i] == KNOWN || status[i] == UNKNOWN)
            .collect();
        let n_known = labelled.iter().filter(|&&i| status[i] == KNOWN).count();
        let n_unknown = labelled.len() - n_known;
        if n_known < 2 || n_unknown < 2 {
            let n_real = self.selected.iter().filter(|e| e.source == REAL).count();
            return Err(Error::Invalid(format!(
                "the model knows {n_known} and does not know {n_unknown} of {n_real} real entities; the probes need at \
                 least 2 of each (raise max_entities or max_new_tokens)"
            )));
        }
        // A boolean label sorts as ["false", "true"], so class 1 (the probability the saved
        // probe reports) is "known".
        let rows: Vec<Map<String, Value>> = labelled
            .iter()
            .map(|&i| {
                let mut m = Map::new();
                m.insert("known".into(), Value::Bool(status[i] == KNOWN));
                m.insert("entity".into(), Value::from(self.selected[i].group.clone()));
                m
            })
            .collect();
        let labels = Labels::from_rows(&rows, "known", Some("entity"), None, false)?;
        let y = class_ids(&labels)?;
        let sweep = sweep_layers(acts, &labelled, &labels, self.opts, "known")?;
        let best = best_layer(&sweep, self.model.config.n_layers)
            .cloned()
            .ok_or_else(|| Error::Invalid("no layer gave a finite score for known vs unknown".into()))?;
        let layer = best.layer.unwrap_or(0);
        let x_all = layer_of(acts, layer)?.mapv(f64::from);
        let x = x_all.select(Axis(0), &labelled);
        let types: Vec<String> = labelled.iter().map(|&i| self.selected[i].kind.clone()).collect();
        let all_types: BTreeSet<String> = self.selected.iter().map(|e| e.kind.clone()).collect();
        let transfer = transfer_by_type(x.view(), &y, &types, &all_types)?;
        let probe = save_layer_probe(
            x.view(),
            &y,
            &best,
            &sweep.classes,
            "known",
            &self.model.name,
            &self.out.join("probes").join("known"),
        )?;
        let p_known = probe.predict_proba(x_all.view()).column(1).to_vec();
        Ok(KnownProbe {
            sweep,
            best,
            labelled,
            y,
            transfer,
            p_known,
            direction: probe.direction(),
        })
    }

    /// Step 3: corpus harvest at `layer`, the SAE (given or trained), the generic-firing
    /// filter, separation scores on the choice split and the top latents each way.
    fn sae_step(
        &self,
        layer: usize,
        acts: &Acts,
        status: &[&'static str],
        select: &[usize],
        generic: &[String],
        pretrained: Option<(Sae, usize, String, PathBuf)>,
    ) -> Result<SaeOutcome> {
        let hook = HookPoint::ResidPost(layer);
        // Generic rows first: the generic filter finds them by row index.
        let mut corpus: Vec<Value> = generic.iter().map(|t| json!({"text": t, "kind": "generic"})).collect();
        for e in &self.selected {
            corpus.push(json!({"text": self.frames.neutral(e), "kind": "entity", "entity": e.entity, "type": e.kind}));
        }
        for e in &self.selected {
            for q in &e.questions {
                corpus.push(
                    json!({"text": self.frames.question(q), "kind": "question", "entity": e.entity, "type": e.kind}),
                );
            }
        }
        let corpus_path = self.out.join("data").join("sae_corpus.jsonl");
        self.say(&format!("harvesting the SAE corpus ({} texts) at {hook}", corpus.len()));
        let store = harvest_lines(
            self.model,
            &corpus,
            &[hook],
            PositionSpec::AllButFirst,
            &corpus_path,
            &self.out.join("sae_store"),
            self.progress,
        )?;
        let (sae, origin) = match pretrained {
            Some((sae, _, hook_name, dir)) => (
                sae,
                json!({"source": "pretrained", "dir": dir.display().to_string(), "hook": hook_name}),
            ),
            None => {
                self.say(&format!(
                    "training a TopK SAE (x{}, k = {}) on {} vectors",
                    self.opts.sae_expansion, self.opts.sae_k, store.manifest.vectors
                ));
                let dir = self.out.join("sae");
                let (sae, training) =
                    train_sae::<B>(&store, hook, self.opts, &dir, self.progress, self.model.device())?;
                (
                    sae,
                    json!({"source": "trained", "dir": dir.display().to_string(), "hook": hook.to_string(),
                           "corpus_vectors": store.manifest.vectors, "run": training}),
                )
            }
        };
        let (freq, n_generic_tokens) = generic_frequency(&sae, &store, hook, generic.len())?;
        let mut eligible: Vec<bool> = freq.iter().map(|&f| f <= self.opts.generic_drop).collect();
        let dropped = eligible.iter().filter(|&&e| !e).count();
        // A tiny SAE can leave nothing below the bound; then rank every latent, and say so.
        let filter_applied = eligible.iter().any(|&e| e);
        if !filter_applied {
            eligible = vec![true; freq.len()];
        }

        let codes = sae.encode(layer_of(acts, layer)?.view());
        let sel_codes = codes.select(Axis(0), select);
        let in_known: Vec<bool> = select.iter().map(|&i| status[i] == KNOWN).collect();
        let in_unknown: Vec<bool> = in_known.iter().map(|k| !k).collect();
        let types: Vec<String> = select.iter().map(|&i| self.selected[i].kind.clone()).collect();
        let (known_scores, rule) = separation(&sel_codes, &in_known, &types)?;
        let (unknown_scores, _) = separation(&sel_codes, &in_unknown, &types)?;
        let known_ids = rank_latents(&known_scores, &eligible, self.opts.top_latents);
        let unknown_ids = rank_latents(&unknown_scores, &eligible, self.opts.top_latents);
        if known_ids.is_empty() || unknown_ids.is_empty() {
            return Err(Error::Invalid("no SAE latent has a finite separation score".into()));
        }

        // Corpus contexts and logit lens of every listed latent, in one pass over the store.
        let mut listed: Vec<usize> = known_ids.clone();
        listed.extend(unknown_ids.iter().filter(|l| !known_ids.contains(l)));
        let corpus_rows = read_jsonl(&corpus_path)?;
        let reports = top_contexts(self.model, &sae, &store, hook, &corpus_rows, &listed, 5)?;
        let report_of: BTreeMap<usize, &LatentReport> = reports.iter().map(|r| (r.latent, r)).collect();
        let fires = |l: usize, want_known: bool| {
            let rows: Vec<usize> = (0..select.len()).filter(|&r| in_known[r] == want_known).collect();
            rows.iter().filter(|&&r| sel_codes[[r, l]] > 0.0).count() as f64 / rows.len().max(1) as f64
        };
        let info = |l: usize, score: f64| {
            let report = report_of.get(&l);
            let mut top: Vec<usize> = (0..codes.nrows()).filter(|&i| codes[[i, l]] > 0.0).collect();
            top.sort_by(|&a, &b| codes[[b, l]].total_cmp(&codes[[a, l]]));
            top.truncate(5);
            LatentInfo {
                latent: l,
                score,
                generic_frequency: freq[l],
                fires_known: fires(l, true),
                fires_unknown: fires(l, false),
                promotes: report.map(|r| r.promotes.clone()).unwrap_or_default(),
                suppresses: report.map(|r| r.suppresses.clone()).unwrap_or_default(),
                top_entities: top
                    .iter()
                    .map(|&i| {
                        let e = &self.selected[i];
                        json!({"entity": e.entity, "type": e.kind, "status": status[i], "activation": codes[[i, l]]})
                    })
                    .collect(),
                top_contexts: report
                    .map(|r| {
                        r.contexts
                            .iter()
                            .map(|c| {
                                json!({"before": c.before, "token": c.token, "after": c.after,
                                       "activation": c.activation})
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        };
        let known_top = known_ids.iter().map(|&l| info(l, known_scores[l])).collect();
        let unknown_top = unknown_ids.iter().map(|&l| info(l, unknown_scores[l])).collect();
        let origin = json!({
            "sae": origin,
            "arch": sae.arch.name(),
            "d_sae": sae.d_sae(),
            "k": sae.k,
        });
        Ok(SaeOutcome {
            layer,
            sae,
            origin,
            n_generic_tokens,
            dropped,
            filter_applied,
            rule,
            known_scores,
            unknown_scores,
            eligible,
            known_top,
            unknown_top,
        })
    }

    /// Step 4: steering with the SAE latents, the mean difference, a random direction and
    /// the ablation, measured on questions about held-out and fabricated entities.
    #[allow(clippy::too_many_arguments)]
    fn steer(
        &self,
        acts: &Acts,
        status: &[&'static str],
        select: &[usize],
        held: &[usize],
        sae: &SaeOutcome,
        probe_direction: &[f32],
        data_sha256: &str,
    ) -> Result<SteerOutcome> {
        let layer = sae.layer;
        let x = layer_of(acts, layer)?.mapv(f64::from);
        let class_mean = |want: &str| -> Result<Array1<f64>> {
            let rows: Vec<usize> = select.iter().copied().filter(|&i| status[i] == want).collect();
            x.select(Axis(0), &rows)
                .mean_axis(Axis(0))
                .ok_or_else(|| Error::Invalid(format!("no {want} entities to average")))
        };
        let diff = &class_mean(UNKNOWN)? - &class_mean(KNOWN)?;
        let unknown_md: Vec<f32> = diff.iter().map(|&v| v as f32).collect();
        let known_md: Vec<f32> = unknown_md.iter().map(|v| -v).collect();
        let md_norm = norm(&unknown_md);
        // The norm is irrelevant under a relative strength; matched anyway, for the record.
        let mut random = random_direction(unknown_md.len(), self.opts.seed);
        let rn = norm(&random).max(1e-30);
        random.iter_mut().for_each(|v| *v = (*v as f64 * md_norm / rn) as f32);
        let best_unknown = sae.unknown_top[0].latent;
        let best_known = sae.known_top[0].latent;
        let unknown_lat = sae.sae.w_dec.row(best_unknown).to_vec();
        let known_lat = sae.sae.w_dec.row(best_known).to_vec();
        // Residual norms of the entity frames at this layer, which relative alphas scale by.
        let resid_norm = mean_norm(x.view());
        let directions: [(&str, &Vec<f32>); 5] = [
            ("unknown_latent", &unknown_lat),
            ("known_latent", &known_lat),
            ("unknown_mean_diff", &unknown_md),
            ("known_mean_diff", &known_md),
            ("random", &random),
        ];
        let mut vectors: BTreeMap<&str, SteeringVectors> = BTreeMap::new();
        for (name, v) in directions {
            let sv = SteeringVectors {
                meta: SteerMeta {
                    model: self.model.name.clone(),
                    hook: "blocks.{layer}.hook_resid_post".into(),
                    method: if name.ends_with("latent") {
                        "sae-decoder".into()
                    } else if name == "random" {
                        "random".into()
                    } else {
                        "mean-diff".into()
                    },
                    data_sha256: data_sha256.to_string(),
                    positions: PositionSpec::Last.to_string(),
                    resid_norms: BTreeMap::from([(layer, resid_norm)]),
                    stats: json!({"suite": "knowledge", "direction": name}),
                    ..Default::default()
                },
                layers: BTreeMap::from([(layer, v.clone())]),
            };
            if name != "random" {
                // Saved so `mindlens steer apply --vector ... --relative` reproduces a condition.
                sv.save(&self.out.join("steering_vectors").join(name))?;
            }
            vectors.insert(name, sv);
        }

        // Questions about held-out known and unknown entities and about fabricated ones.
        let max = self.opts.max_steer_entities;
        let held_of = |want: &str| -> Vec<usize> { held.iter().copied().filter(|&i| status[i] == want).collect() };
        let fabricated: Vec<usize> = (0..status.len()).filter(|&i| status[i] == FABRICATED).collect();
        let cats: [(&'static str, Vec<usize>); 3] = [
            (KNOWN, spread(&held_of(KNOWN), max)),
            (UNKNOWN, spread(&held_of(UNKNOWN), max)),
            (FABRICATED, spread(&fabricated, max)),
        ];
        let mut items = Vec::new();
        let mut entities = BTreeMap::new();
        for (cat, ents) in &cats {
            entities.insert(*cat, ents.len());
            for &i in ents {
                let e = &self.selected[i];
                for (qi, q) in e.questions.iter().enumerate() {
                    if leaks_answer(&e.entity, &q.answers) {
                        continue;
                    }
                    items.push(SteerItem {
                        category: cat,
                        entity: i,
                        question: qi,
                        prompt: self.frames.question(q),
                    });
                }
            }
        }
        if items.is_empty() {
            return Err(Error::Invalid("no questions to measure steering on".into()));
        }
        let prompts: Vec<String> = items.iter().map(|it| it.prompt.clone()).collect();

        let mut conditions: Vec<(&str, Option<f32>)> = vec![("original", None)];
        for &a in &self.opts.alphas {
            conditions.extend(ADDED.iter().map(|&n| (n, Some(a))));
        }
        conditions.push(("ablated", None));
        self.say(&format!(
            "steering at layer {layer}: {} conditions x {} questions",
            conditions.len(),
            items.len()
        ));
        let pb = stage_bar(
            self.progress,
            "knowledge steering".into(),
            (conditions.len() * items.len()) as u64,
        );
        let mut results = Vec::new();
        let mut lines = String::new();
        let mut answers_by_cond: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, alpha) in &conditions {
            let mut hooks = HookSet::<B>::default();
            match (*name, alpha) {
                ("original", _) => {}
                ("ablated", _) => add_ablation(&mut hooks, self.model, &unknown_md)?,
                (n, Some(a)) => {
                    let v = vectors
                        .get(n)
                        .ok_or_else(|| Error::Invalid(format!("no steering vector {n}")))?;
                    add_steering(
                        &mut hooks,
                        self.model,
                        v,
                        &[layer],
                        Strength::Relative(*a),
                        Positions::Prompt,
                    )?;
                }
                (n, None) => return Err(Error::Invalid(format!("condition {n} needs an alpha"))),
            }
            let raws = complete(
                self.model,
                &prompts,
                self.opts.max_new_tokens,
                self.opts.batch,
                &mut hooks,
                &pb,
            )?;
            let mut verdicts = Vec::with_capacity(items.len());
            let mut firsts = Vec::with_capacity(items.len());
            for (it, raw) in items.iter().zip(&raws) {
                let e = &self.selected[it.entity];
                let q = &e.questions[it.question];
                let answer = first_line(raw).to_string();
                let v = judge(&answer, &q.answers);
                let row = json!({
                    "condition": name, "alpha": alpha.map(alpha64), "category": it.category,
                    "entity": e.entity, "type": e.kind, "question": q.question, "answer": answer,
                    "raw": raw, "correct": v.correct, "refusal": v.refusal, "hallucination": v.hallucination,
                });
                lines.push_str(&row.to_string());
                lines.push('\n');
                verdicts.push(v);
                firsts.push(answer);
            }
            let by_category: BTreeMap<String, Rates> = [
                (KNOWN, vec![KNOWN]),
                (UNKNOWN, vec![UNKNOWN]),
                (FABRICATED, vec![FABRICATED]),
                ("unknown_or_fabricated", vec![UNKNOWN, FABRICATED]),
            ]
            .into_iter()
            .map(|(k, c)| (k.to_string(), rates(&verdicts, &items, &c)))
            .collect();
            let label = match alpha {
                Some(a) => format!("{name}@{}", alpha64(*a)),
                None => name.to_string(),
            };
            answers_by_cond.insert(label, firsts);
            results.push(ConditionResult {
                condition: name.to_string(),
                alpha: alpha.map(alpha64),
                by_category,
            });
        }
        pb.finish_and_clear();
        write_atomic(&self.out.join("steering_answers.jsonl"), |f| {
            f.write_all(lines.as_bytes()).map_err(|e| e.to_string())
        })?;

        // Two example questions per category: the unsteered answer and each direction at the
        // largest alpha.
        let top_alpha = alpha64(self.opts.alphas.iter().copied().fold(f32::MIN, f32::max));
        let mut examples = Vec::new();
        for cat in [KNOWN, UNKNOWN, FABRICATED] {
            for (k, it) in items.iter().enumerate().filter(|(_, it)| it.category == cat).take(2) {
                let mut by = BTreeMap::new();
                for (label, answers) in &answers_by_cond {
                    let at_top = label
                        .rsplit_once('@')
                        .is_none_or(|(_, a)| a.parse::<f64>().ok() == Some(top_alpha));
                    if at_top {
                        by.insert(label.clone(), answers[k].clone());
                    }
                }
                let e = &self.selected[it.entity];
                examples.push((
                    cat.to_string(),
                    format!("{} ({})", e.questions[it.question].question, e.entity),
                    by,
                ));
            }
        }
        let probe_cos = if probe_direction.len() == known_md.len() {
            json!(cosine(probe_direction, &known_md))
        } else {
            Value::Null
        };
        let stats = json!({
            "layer": layer,
            "added_at": format!("blocks.{layer}.hook_resid_post, prompt positions only (the answer reads them through the KV cache)"),
            "strength": "alpha * mean residual norm of the entity frames at that layer * unit direction",
            "resid_norm": resid_norm,
            "mean_diff_norm": md_norm,
            "unknown_latent": best_unknown,
            "known_latent": best_known,
            "cosine_unknown_latent_mean_diff": cosine(&unknown_lat, &unknown_md),
            "cosine_known_latent_mean_diff": cosine(&known_lat, &known_md),
            "cosine_unknown_known_latents": cosine(&unknown_lat, &known_lat),
            "cosine_known_probe_mean_diff": probe_cos,
            "ablation": "the unit mean difference (unknown - known) projected out of the embeddings and every attention and MLP output, at every position",
            "questions": items.len(),
            "entities": entities,
        });
        Ok(SteerOutcome {
            layer,
            conditions: results,
            entities,
            stats,
            examples,
        })
    }

    /// Step 5: P(IK) probes at the last token of each usable real question prompt.
    fn pik(&self, layers: &[usize], ans: &Answers) -> Result<Option<Pik>> {
        let keep: Vec<usize> = (0..ans.asked.len()).filter(|&k| !ans.asked[k].leaky).collect();
        let n_correct = keep.iter().filter(|&&k| ans.verdicts[k].correct).count();
        if n_correct < 2 || keep.len() - n_correct < 2 {
            self.say(&format!(
                "P(IK) skipped: {n_correct} of {} questions answered correctly",
                keep.len()
            ));
            return Ok(None);
        }
        // The harvest rows carry no labels, so the store stays valid whatever the answers were.
        let lines: Vec<Value> = keep
            .iter()
            .map(|&k| {
                let a = &ans.asked[k];
                let e = &self.selected[a.entity];
                json!({"text": a.prompt, "entity": e.entity, "type": e.kind, "group": e.group,
                       "attribute": e.questions[a.question].attribute})
            })
            .collect();
        self.say(&format!("harvesting {} question prompts for P(IK)", lines.len()));
        let hooks: Vec<HookPoint> = layers.iter().map(|&l| HookPoint::ResidPost(l)).collect();
        let store = harvest_lines(
            self.model,
            &lines,
            &hooks,
            PositionSpec::Last,
            &self.out.join("data").join("questions.jsonl"),
            &self.out.join("pik_store"),
            self.progress,
        )?;
        let acts = load_layers(&store, layers)?;
        let rows: Vec<Map<String, Value>> = keep
            .iter()
            .map(|&k| {
                let mut m = Map::new();
                m.insert("correct".into(), Value::Bool(ans.verdicts[k].correct));
                m.insert(
                    "entity".into(),
                    Value::from(self.selected[ans.asked[k].entity].group.clone()),
                );
                m
            })
            .collect();
        let labels = Labels::from_rows(&rows, "correct", Some("entity"), None, false)?;
        let y = class_ids(&labels)?;
        let all: Vec<usize> = (0..keep.len()).collect();
        let sweep = sweep_layers(&acts, &all, &labels, self.opts, "correct")?;
        let best = best_layer(&sweep, self.model.config.n_layers)
            .cloned()
            .ok_or_else(|| Error::Invalid("no layer gave a finite P(IK) score".into()))?;
        let x = layer_of(&acts, best.layer.unwrap_or(0))?.mapv(f64::from);
        let p = out_of_fold(x.view(), &y, &labels.groups, self.opts.folds, self.opts.seed)?;
        let ok: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
        let p_ok: Vec<f64> = ok.iter().map(|&i| p[i]).collect();
        let y_ok: Vec<usize> = ok.iter().map(|&i| y[i]).collect();
        let proba = two_columns(&p_ok);
        let pooled = classification(proba.view(), &y_ok);
        let (ece, _) = calibration(proba.view(), &y_ok, 10);
        let bins = 10;
        let mut acc = vec![(0.0, 0.0, 0usize); bins];
        for (&pi, &yi) in p_ok.iter().zip(&y_ok) {
            let b = ((pi * bins as f64) as usize).min(bins - 1);
            acc[b].0 += pi;
            acc[b].1 += yi as f64;
            acc[b].2 += 1;
        }
        let reliability = acc
            .into_iter()
            .map(|(s, c, k)| {
                if k > 0 {
                    (s / k as f64, c / k as f64, k)
                } else {
                    (f64::NAN, f64::NAN, 0)
                }
            })
            .collect();
        save_layer_probe(
            x.view(),
            &y,
            &best,
            &sweep.classes,
            "correct",
            &self.model.name,
            &self.out.join("probes").join("pik"),
        )?;
        Ok(Some(Pik {
            sweep,
            best,
            pooled,
            ece,
            reliability,
            n: keep.len(),
            n_correct,
        }))
    }
}

/// Runs the knowledge-awareness suite end to end on `model`, writing into `out` (see the
/// module docs), and returns the contents of `results.json`. A rerun with the same settings
/// reuses the answers, the harvested stores and the trained SAE.
pub fn run_knowledge<B: Backend>(
    model: &Model<B>,
    opts: &KnowledgeOptions,
    out: &Path,
    progress: bool,
) -> Result<Value> {
    let started = Instant::now();
    check_options(opts)?;
    let n_layers = model.config.n_layers;
    let mut layers = check_layers(opts.layers.clone(), n_layers, "knowledge layers")?;
    let pretrained = match &opts.sae {
        Some(dir) => Some(load_pretrained(dir, model)?),
        None => None,
    };
    // A given SAE fixes the steering layer, whose activations must then be harvested too.
    if let Some((_, l, _, _)) = &pretrained {
        if !layers.contains(l) {
            layers.push(*l);
            layers.sort_unstable();
        }
    }
    let fig_dir = out.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(|e| Error::io(&fig_dir, e))?;
    let data = Data::read(&opts.data_dir)?;
    let selected = select_entities(&data.entities, opts.max_entities);
    let generic = spread(&data.generic, opts.max_generic);
    let run = Run {
        model,
        opts,
        out,
        progress,
        frames: data.frames.clone(),
        selected,
    };
    let mut types: Vec<String> = Vec::new();
    for e in &run.selected {
        if !types.contains(&e.kind) {
            types.push(e.kind.clone());
        }
    }

    // 1. Labels from the model's own answers.
    run.say(&format!(
        "asking {} questions about {} real entities",
        run.selected
            .iter()
            .filter(|e| e.source == REAL)
            .map(|e| e.questions.len())
            .sum::<usize>(),
        run.selected.iter().filter(|e| e.source == REAL).count()
    ));
    let ans = run.answers()?;
    let status = ans.status.clone();

    // 2. Entity frames harvested at every layer (labels stay out of the rows, so the store
    //    is reused whatever the answers were), then the known/unknown probes.
    let lines: Vec<Value> = run
        .selected
        .iter()
        .map(|e| {
            json!({"text": run.frames.neutral(e), "entity": e.entity, "type": e.kind, "source": e.source,
                   "group": e.group})
        })
        .collect();
    run.say(&format!(
        "harvesting {} entity frames at {} layers",
        lines.len(),
        layers.len()
    ));
    let hooks: Vec<HookPoint> = layers.iter().map(|&l| HookPoint::ResidPost(l)).collect();
    let store = harvest_lines(
        model,
        &lines,
        &hooks,
        PositionSpec::Last,
        &out.join("data").join("entities.jsonl"),
        &out.join("store"),
        progress,
    )?;
    let acts = load_layers(&store, &layers)?;
    run.say("probing known vs unknown");
    let kp = run.probe_known(&acts, &status)?;
    let best_layer_idx = kp.best.layer.unwrap_or(0);

    // 3. SAE latents at the steering layer, chosen on one half of the labelled entities.
    let known_flags: Vec<bool> = kp.labelled.iter().map(|&i| status[i] == KNOWN).collect();
    let (select, held) = split_rows(&kp.labelled, &known_flags, opts.holdout_fraction, opts.seed);
    let steer_layer = pretrained.as_ref().map_or(best_layer_idx, |p| p.1);
    let sae = run.sae_step(steer_layer, &acts, &status, &select, &generic, pretrained)?;

    // 4. Steering on held-out and fabricated entities. The probe's direction is compared with
    //    the mean difference only when both live at the same layer.
    let probe_dir: &[f32] = if steer_layer == best_layer_idx {
        &kp.direction
    } else {
        &[]
    };
    let steering = run.steer(
        &acts,
        &status,
        &select,
        &held,
        &sae,
        probe_dir,
        &store.manifest.data.sha256,
    )?;

    // 5. P(IK) on the question prompts.
    let pik = run.pik(&layers, &ans)?;

    // Labels file: every entity with its status and P(known).
    let mut label_text = String::new();
    for (i, e) in run.selected.iter().enumerate() {
        let split = if select.contains(&i) {
            "choice"
        } else if held.contains(&i) {
            "held_out"
        } else {
            "none"
        };
        let row = json!({"entity": e.entity, "type": e.kind, "source": e.source, "group": e.group,
                         "status": status[i], "questions_used": ans.n_used[i], "correct": ans.n_correct[i],
                         "p_known": kp.p_known[i], "split": split});
        label_text.push_str(&row.to_string());
        label_text.push('\n');
    }
    write_atomic(&out.join("labels.jsonl"), |f| {
        f.write_all(label_text.as_bytes()).map_err(|e| e.to_string())
    })?;

    // Figures.
    let mut figures = layer_figure(&kp.sweep, pik.as_ref().map(|p| &p.sweep), &fig_dir.join("probe_layers"))?;
    figures.extend(separation_figure(&sae, &fig_dir.join("separation"))?);
    let top_alpha = opts.alphas.iter().copied().fold(f32::MIN, f32::max);
    figures.extend(rates_figure(
        &steering,
        alpha64(top_alpha),
        &fig_dir.join("steering_rates"),
    )?);
    if let Some(p) = &pik {
        figures.extend(reliability_figure(p, &fig_dir.join("reliability"))?);
    }

    // Counts.
    let count = |s: &str| status.iter().filter(|&&x| x == s).count();
    let n_real = run.selected.iter().filter(|e| e.source == REAL).count();
    let used: Vec<usize> = (0..ans.asked.len()).filter(|&k| !ans.asked[k].leaky).collect();
    let n_used_correct = used.iter().filter(|&&k| ans.verdicts[k].correct).count();
    let question_accuracy = n_used_correct as f64 / used.len().max(1) as f64;
    let p_known_of = |s: &str| {
        mean(
            &(0..status.len())
                .filter(|&i| status[i] == s)
                .map(|i| kp.p_known[i])
                .collect::<Vec<_>>(),
        )
    };
    let mut per_type = Map::new();
    for t in &types {
        let of_t = |s: &str| {
            (0..status.len())
                .filter(|&i| run.selected[i].kind == *t && status[i] == s)
                .count()
        };
        let qs: Vec<usize> = used
            .iter()
            .copied()
            .filter(|&k| run.selected[ans.asked[k].entity].kind == *t)
            .collect();
        let correct = qs.iter().filter(|&&k| ans.verdicts[k].correct).count();
        per_type.insert(
            t.clone(),
            json!({"real": run.selected.iter().filter(|e| e.kind == *t && e.source == REAL).count(),
                   "known": of_t(KNOWN), "unknown": of_t(UNKNOWN), "partial": of_t(PARTIAL),
                   "too_few_questions": of_t(TOO_FEW), "fabricated": of_t(FABRICATED),
                   "questions": qs.len(), "correct": correct}),
        );
    }

    // Headline.
    let head_alpha = alpha64(top_alpha);
    let at_head: Vec<&ConditionResult> = steering
        .conditions
        .iter()
        .filter(|c| c.alpha.is_none_or(|a| a == head_alpha))
        .collect();
    let by_cond = |cat: &str, f: RateOf| -> Map<String, Value> {
        at_head
            .iter()
            .map(|c| (c.condition.clone(), json!(c.get(cat, f))))
            .collect()
    };
    let transfer_acc: Map<String, Value> = kp
        .transfer
        .iter()
        .map(|(t, s)| (t.clone(), json!(s.accuracy)))
        .collect();
    let brief = |v: &[LatentInfo]| -> Vec<Value> {
        v.iter()
            .map(|l| json!({"latent": l.latent, "score": l.score, "generic_frequency": l.generic_frequency}))
            .collect()
    };
    let (pik_layer, pik_auroc, pik_ece, pik_brier) = match &pik {
        Some(p) => (json!(p.best.layer), p.pooled.auroc, p.ece, p.pooled.brier),
        None => (Value::Null, f64::NAN, f64::NAN, f64::NAN),
    };
    let mut headline = Map::new();
    headline.insert("best_layer".into(), json!(best_layer_idx));
    headline.insert("auroc".into(), json!(kp.best.auroc));
    headline.insert("accuracy".into(), json!(kp.best.accuracy));
    headline.insert("balanced_accuracy".into(), json!(kp.best.test.balanced_accuracy));
    headline.insert("control_accuracy".into(), json!(kp.best.control_accuracy));
    headline.insert("chance".into(), json!(kp.sweep.chance));
    headline.insert("transfer".into(), Value::Object(transfer_acc));
    headline.insert("steer_layer".into(), json!(steering.layer));
    headline.insert("steer_alpha".into(), json!(head_alpha));
    headline.insert("refusal_rate".into(), Value::Object(by_cond(KNOWN, |r| r.refusal)));
    headline.insert(
        "hallucination_rate".into(),
        Value::Object(by_cond("unknown_or_fabricated", |r| r.hallucination)),
    );
    headline.insert("correct_rate".into(), Value::Object(by_cond(KNOWN, |r| r.correct)));
    headline.insert("pik_layer".into(), pik_layer);
    headline.insert("pik_auroc".into(), json!(pik_auroc));
    headline.insert("pik_ece".into(), json!(pik_ece));
    headline.insert("pik_brier".into(), json!(pik_brier));
    headline.insert("n_real".into(), json!(n_real));
    headline.insert("n_known".into(), json!(count(KNOWN)));
    headline.insert("n_unknown".into(), json!(count(UNKNOWN)));
    headline.insert("n_partial".into(), json!(count(PARTIAL)));
    headline.insert("n_fabricated".into(), json!(count(FABRICATED)));
    headline.insert("question_accuracy".into(), json!(question_accuracy));
    headline.insert(
        "p_known".into(),
        json!({"known": p_known_of(KNOWN), "unknown": p_known_of(UNKNOWN),
               "partial": p_known_of(PARTIAL), "fabricated": p_known_of(FABRICATED)}),
    );
    headline.insert(
        "top_latents".into(),
        json!({"known": brief(&sae.known_top), "unknown": brief(&sae.unknown_top)}),
    );

    let rel = |p: &PathBuf| p.strip_prefix(out).unwrap_or(p).display().to_string();
    let options = serde_json::to_value(opts).map_err(|e| Error::Invalid(format!("knowledge options: {e}")))?;
    let data_json = json!({
        "dir": opts.data_dir.display().to_string(),
        "entities": run.selected.len(),
        "real": n_real,
        "types": types,
        "questions_asked": ans.asked.len(),
        "questions_leaky": ans.asked.iter().filter(|a| a.leaky).count(),
        "questions_used": used.len(),
        "generic_sentences": generic.len(),
        "per_type": per_type,
        "prompts": "plain-text completion (no chat template) for every model",
        "matching": "first non-empty line of the answer, normalised (lower case, punctuation removed); correct if any alias is a substring (whole word for aliases under 4 characters)",
        "refusal_phrases": REFUSAL_PHRASES,
    });
    let probe_json = json!({
        "sweep": kp.sweep,
        "best": kp.best,
        "transfer": kp.transfer,
        "rows": kp.labelled.len(),
        "known_rows": kp.y.iter().filter(|&&c| c == 1).count(),
        "saved": "probes/known (classes [\"false\", \"true\"]: the probability is P(known))",
    });
    let sae_json = json!({
        "layer": sae.layer,
        "origin": sae.origin,
        "generic_tokens": sae.n_generic_tokens,
        "generic_drop": opts.generic_drop,
        "dropped_latents": sae.dropped,
        "generic_filter_applied": sae.filter_applied,
        "separation": sae.rule,
        "choice_entities": select.len(),
        "held_out_entities": held.len(),
        "known_latents": sae.known_top,
        "unknown_latents": sae.unknown_top,
    });
    let examples: Vec<Value> = steering
        .examples
        .iter()
        .map(|(c, q, by)| json!({"category": c, "question": q, "answers": by}))
        .collect();
    let steering_json = json!({
        "layer": steering.layer,
        "stats": steering.stats,
        "conditions": steering.conditions,
        "examples": examples,
    });
    let pik_json = match &pik {
        Some(p) => {
            let bins: Vec<Value> = p
                .reliability
                .iter()
                .map(|(m, f, k)| json!({"mean_p_correct": m, "fraction_correct": f, "count": k}))
                .collect();
            json!({
                "sweep": p.sweep,
                "best": p.best,
                "pooled_out_of_fold": p.pooled,
                "ece": p.ece,
                "reliability": bins,
                "questions": p.n,
                "correct": p.n_correct,
                "saved": "probes/pik (classes [\"false\", \"true\"]: the probability is P(correct))",
            })
        }
        None => Value::Null,
    };
    let results = json!({
        "kind": "knowledge-suite",
        "model": model.name,
        "options": options,
        "layers": layers,
        "data": data_json,
        "headline": headline,
        "probe": probe_json,
        "sae": sae_json,
        "steering": steering_json,
        "pik": pik_json,
        "figures": figures.iter().map(rel).collect::<Vec<_>>(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    write_json(&out.join("results.json"), &results)?;
    let md = report_md(&results, &steering, &sae);
    write_atomic(&out.join("report.md"), |f| {
        f.write_all(md.as_bytes()).map_err(|e| e.to_string())
    })?;
    run.say(&format!(
        "done in {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        out.join("report.md").display()
    ));
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn normalising_drops_case_punctuation_and_apostrophes() {
        assert_eq!(normalise("  The U.S.A.,  France!\n"), "the usa france");
        assert_eq!(normalise("I don’t know."), "i dont know");
        assert_eq!(normalise("19th-century"), "19th century");
    }

    #[test]
    fn answers_match_aliases_by_substring_and_short_ones_by_word() {
        assert!(answer_matches(" France, in Europe", &s(&["France"])));
        assert!(answer_matches("the 19th-century", &s(&["19th century"])));
        assert!(answer_matches("USA", &s(&["United States", "USA"])));
        assert!(!answer_matches("Jerusalem", &s(&["USA"])));
        assert!(!answer_matches("", &s(&["France"])));
        assert!(leaks_answer("Manchester United", &s(&["Manchester"])));
        assert!(!leaks_answer("Paris", &s(&["France"])));
        assert!(!leaks_answer("Zorblat FC", &[]));
    }

    #[test]
    fn refusals_are_whole_phrases() {
        assert!(is_refusal("I don't know."));
        assert!(is_refusal("I'm not sure about that"));
        assert!(is_refusal("Unknown"));
        assert!(!is_refusal("Paris"));
        assert!(!is_refusal("Cannotville"));
        let v = judge("I'm sorry, I cannot answer", &s(&["France"]));
        assert!(v.refusal && !v.hallucination && !v.correct);
        let v = judge("Germany", &s(&["France"]));
        assert!(v.hallucination && !v.refusal);
        let v = judge("", &[]);
        assert!(v.empty && !v.hallucination);
    }

    #[test]
    fn first_line_skips_leading_blank_lines() {
        assert_eq!(first_line("\n  France\nQuestion: next"), "France");
        assert_eq!(first_line("   "), "");
    }

    #[test]
    fn status_follows_the_counts() {
        assert_eq!(entity_status("real", 3, 2), KNOWN);
        assert_eq!(entity_status("real", 3, 0), UNKNOWN);
        assert_eq!(entity_status("real", 3, 1), PARTIAL);
        assert_eq!(entity_status("real", 1, 1), TOO_FEW);
        assert_eq!(entity_status("fabricated", 0, 0), FABRICATED);
    }

    #[test]
    fn the_split_is_stratified_and_keeps_both_classes_for_the_choice() {
        let rows: Vec<usize> = (0..10).collect();
        let known: Vec<bool> = (0..10).map(|i| i < 3).collect();
        let (select, held) = split_rows(&rows, &known, 0.5, 7);
        assert_eq!(select.len() + held.len(), 10);
        assert_eq!(
            held.iter().filter(|&&i| i < 3).count(),
            1,
            "floor(3 / 2) known held out"
        );
        assert_eq!(
            held.iter().filter(|&&i| i >= 3).count(),
            3,
            "floor(7 / 2) unknown held out"
        );
        // Two of a class: one each side; one of a class: it stays in the choice split.
        let (select, held) = split_rows(&[0, 1, 2], &[true, false, false], 0.5, 1);
        assert_eq!(select.iter().filter(|&&i| i == 0).count(), 1);
        assert_eq!(held.len(), 1);
    }

    #[test]
    fn spread_keeps_both_ends_of_the_file() {
        let v: Vec<usize> = (0..10).collect();
        assert_eq!(spread(&v, Some(3)), vec![0, 3, 6]);
        assert_eq!(spread(&v, None), v);
    }
}
