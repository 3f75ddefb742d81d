//! Big Five personality suite (issue #7): trait directions from contrastive persona prompts,
//! where they are decodable, whether steering along them moves self-report and behaviour, and
//! whether the unsteered projection tracks how strongly a persona is prompted.
//!
//! Data: `probes/personality/` (see its README). Everything is written under one output
//! directory:
//! ```text
//! OUT/harvest_rows.jsonl    persona and graded-persona conversations (the harvest's data file)
//! OUT/store/                last-token hook_resid_post activations (resumable)
//! OUT/vectors/{trait}/      mean-diff steering vectors, every harvested layer (SteeringVectors)
//! OUT/vectors_pca/{trait}/  first principal component of the paired differences
//! OUT/figures/              probe accuracy, dose-response per trait, trait cosines, monitoring
//! OUT/results.json          everything, with a `headline` object per trait
//! OUT/examples.md, OUT/report.md
//! ```

use super::{read_rows, say, spread, stage_bar};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::backend::Backend;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::artifact::{write_atomic, write_json};
use crate::chat::ChatMessage;
use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, SplitMix64};
use crate::harvest::{harvest, ActivationStore, HarvestOptions, HarvestSummary, PositionSpec};
use crate::hooks::{HookPoint, HookSet, NoHooks, Positions};
use crate::model::Model;
use crate::plot::{save_figure, Heatmap, LineChart, Scatter, Series};
use crate::probe::metrics::pearson;
use crate::probe::sweep::{sweep_units, Labels, SweepOptions, SweepResults, SweepUnit};
use crate::prompts::PromptInput;
use crate::registry::sha256_file;
use crate::steer::sweep::{
    choose, option_probabilities, sweep, GridPoint, Item, ScoreMode, SteerSweep, SweepSettings, NEUTRAL_PROMPTS,
};
use crate::steer::vector::{cosine, norm};
use crate::steer::{add_steering, SteerMeta, SteeringVectors, Strength};

/// The five traits, in the data's order.
pub const TRAITS: [&str; 5] = [
    "openness",
    "conscientiousness",
    "extraversion",
    "agreeableness",
    "neuroticism",
];

/// Questionnaire templates; the spread of scores across them is reported.
const TEMPLATES: [&str; 3] = ["t0", "t1", "t2"];

/// Settings of [`run_personality`]. The defaults are the full experiment except that 40 of the
/// 115 extraction questions are used; the `max_*` fields shrink it for CI.
#[derive(Clone, Debug, Serialize)]
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
        }
    }
}

#[derive(Clone, Deserialize)]
struct Persona {
    #[serde(rename = "trait")]
    trait_name: String,
    pole: String,
    system: String,
}

#[derive(Clone, Deserialize)]
struct Graded {
    id: String,
    #[serde(rename = "trait")]
    trait_name: String,
    strength: f64,
    system: String,
}

#[derive(Clone, Deserialize)]
struct Question {
    id: String,
    text: String,
    split: String,
}

/// A row of `questionnaire.jsonl` or `behaviour.jsonl`.
#[derive(Clone, Deserialize)]
struct AbRow {
    id: String,
    #[serde(rename = "trait")]
    trait_name: String,
    item: String,
    #[serde(default)]
    template: Option<String>,
    order: String,
    split: String,
    messages: Vec<ChatMessage>,
    target: usize,
    choice_texts: Vec<String>,
}

/// An A/B row as a steering-sweep [`Item`]. The row's user message lists the options itself;
/// the sweep lists them again in each order it scores, so the row's own block is cut off and
/// the sweep's option-order averaging replaces the file's `ab`/`ba` copies.
fn to_item(row: &AbRow, path: &Path, system: Option<&str>) -> Result<Item> {
    let bad = |msg: String| Error::bad_file(path, format!("row {}: {msg}", row.id));
    if row.choice_texts.len() != 2 || row.target >= 2 {
        return Err(bad(format!(
            "needs two choice_texts and target 0 or 1 (found {} texts, target {})",
            row.choice_texts.len(),
            row.target
        )));
    }
    let tail = format!("\nA) {}\nB) {}\nAnswer:", row.choice_texts[0], row.choice_texts[1]);
    let mut messages = row.messages.clone();
    let user = messages
        .iter_mut()
        .rev()
        .find(|m| m.role == "user")
        .ok_or_else(|| bad("no user message".into()))?;
    let stem = user
        .content
        .trim_end()
        .strip_suffix(tail.as_str())
        .ok_or_else(|| bad(format!("the user message does not end with the options block {tail:?}")))?;
    user.content = stem.trim_end().to_string();
    if let Some(s) = system {
        messages.retain(|m| m.role != "system");
        messages.insert(0, ChatMessage::system(s));
    }
    Ok(Item {
        text: None,
        messages: Some(messages),
        choices: row.choice_texts.clone(),
        target: row.target,
    })
}

/// Test-split rows of one trait in order `ab`, from an evenly spread choice of `max` items.
fn test_rows<'a>(rows: &'a [AbRow], trait_name: &str, max: Option<usize>) -> Vec<&'a AbRow> {
    let mine: Vec<&AbRow> = rows
        .iter()
        .filter(|r| r.trait_name == trait_name && r.split == "test" && r.order == "ab")
        .collect();
    let mut ids: Vec<String> = mine.iter().map(|r| r.item.clone()).collect();
    ids.dedup();
    let keep = spread(&ids, max);
    mine.into_iter().filter(|r| keep.contains(&r.item)).collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Population standard deviation.
fn std_dev(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// Uncentred first principal direction of paired differences (unit length) and its share of
/// their squared norm. Uncentred, as in `steer extract`, because the shared shift between the
/// poles is the signal; centring would remove it.
fn first_pc(diffs: &Array2<f64>, seed: u64) -> (Array1<f64>, f64) {
    let mut rng = SplitMix64::new(seed);
    let mut v = Array1::from_shape_fn(diffs.ncols(), |_| rng.next_f64() - 0.5);
    for _ in 0..200 {
        let w = diffs.t().dot(&diffs.dot(&v));
        let n = w.dot(&w).sqrt().max(1e-300);
        v = w / n;
    }
    let proj = diffs.dot(&v);
    let total: f64 = diffs.iter().map(|x| x * x).sum();
    (v, proj.iter().map(|p| p * p).sum::<f64>() / total.max(1e-300))
}

/// Last-token activations per harvested layer, `[rows, d_model]`, rows in harvest order.
type Acts = BTreeMap<usize, Array2<f32>>;

/// Row indices of one trait in the harvest, and the probe labels of its persona rows.
#[derive(Default)]
struct TraitRows {
    /// (high row, low row): same question, persona pair `i`.
    pairs: Vec<(usize, usize)>,
    persona: Vec<usize>,
    labels: Vec<Map<String, Value>>,
    /// The graded personas kept, and per persona its rows (one per monitoring question).
    graded_personas: Vec<Graded>,
    graded: Vec<Vec<usize>>,
}

/// Mean-diff and PCA vectors of one trait at every harvested layer, with the residual norms
/// that relative strengths need.
fn directions(
    acts: &Acts,
    rows: &TraitRows,
    model: &str,
    data_sha256: &str,
    seed: u64,
) -> Result<(SteeringVectors, SteeringVectors)> {
    let hi: Vec<usize> = rows.pairs.iter().map(|p| p.0).collect();
    let lo: Vec<usize> = rows.pairs.iter().map(|p| p.1).collect();
    let (mut md_v, mut pc_v) = (BTreeMap::new(), BTreeMap::new());
    let (mut resid_norms, mut stats) = (BTreeMap::new(), Map::new());
    for (&l, x) in acts {
        let diffs = x.select(Axis(0), &hi).mapv(f64::from) - x.select(Axis(0), &lo).mapv(f64::from);
        let md = diffs
            .mean_axis(Axis(0))
            .ok_or_else(|| Error::Invalid("no persona pairs to extract from".into()))?;
        let (mut pc, explained) = first_pc(&diffs, seed);
        if pc.dot(&md) < 0.0 {
            pc.mapv_inplace(|v| -v);
        }
        let agree = |d: &Array1<f64>| diffs.dot(d).iter().filter(|&&p| p > 0.0).count() as f64 / hi.len() as f64;
        let (md_agree, pc_agree) = (agree(&md), agree(&pc));
        // Scaled to the mean projection of the differences, as `steer extract` does.
        let pc = &pc * pc.dot(&md);
        let md32: Vec<f32> = md.iter().map(|&v| v as f32).collect();
        let pc32: Vec<f32> = pc.iter().map(|&v| v as f32).collect();
        let persona = x.select(Axis(0), &rows.persona).mapv(f64::from);
        resid_norms.insert(
            l,
            mean(&persona.rows().into_iter().map(|r| r.dot(&r).sqrt()).collect::<Vec<_>>()),
        );
        stats.insert(
            l.to_string(),
            json!({
                "mean_diff_norm": norm(&md32),
                "pca_explained_variance": explained,
                "pca_sign_agreement": pc_agree,
                "mean_diff_sign_agreement": md_agree,
                "cosine_mean_diff_pca": cosine(&md32, &pc32),
            }),
        );
        md_v.insert(l, md32);
        pc_v.insert(l, pc32);
    }
    let meta = |method: &str, layers: &BTreeMap<usize, Vec<f32>>| SteerMeta {
        model: model.to_string(),
        hook: "blocks.{layer}.hook_resid_post".into(),
        method: method.into(),
        data_sha256: data_sha256.to_string(),
        positions: PositionSpec::Last.to_string(),
        norms: layers.iter().map(|(l, v)| (*l, norm(v))).collect(),
        resid_norms: resid_norms.clone(),
        stats: json!({"pairs": hi.len(), "per_layer": stats}),
        gguf_layer_count: None,
    };
    Ok((
        SteeringVectors {
            meta: meta("mean-diff", &md_v),
            layers: md_v,
        },
        SteeringVectors {
            meta: meta("pca", &pc_v),
            layers: pc_v,
        },
    ))
}

/// A questionnaire grid cell pooled over templates.
#[derive(Clone, Debug, Serialize)]
struct Pooled {
    layer: usize,
    alpha: f32,
    metric: f64,
    metric_std: f64,
    template_means: Vec<f64>,
    template_spread: f64,
    order_gap: f64,
    kl: f64,
    perplexity: f64,
}

/// Pools per-template sweeps (same layers and alphas, so their grids line up cell by cell).
fn pool(sweeps: &BTreeMap<String, SteerSweep>) -> Vec<Pooled> {
    let cells = sweeps.values().next().map_or(0, |s| s.grid.len());
    (0..cells)
        .map(|k| {
            let parts: Vec<(&GridPoint, f64)> = sweeps.values().map(|s| (&s.grid[k], s.n_items as f64)).collect();
            let n: f64 = parts.iter().map(|p| p.1).sum();
            let w = |f: fn(&GridPoint) -> f64| parts.iter().map(|(g, c)| f(g) * c).sum::<f64>() / n;
            let metric = w(|g| g.metric);
            // Pooled item-level sd from each template's mean and sd.
            let second = w(|g| g.metric_std.powi(2) + g.metric.powi(2));
            let template_means: Vec<f64> = parts.iter().map(|p| p.0.metric).collect();
            Pooled {
                layer: parts[0].0.layer,
                alpha: parts[0].0.alpha,
                metric,
                metric_std: (second - metric * metric).max(0.0).sqrt(),
                template_spread: std_dev(&template_means),
                template_means,
                order_gap: w(|g| g.order_gap),
                kl: mean(&parts.iter().map(|p| p.0.kl).collect::<Vec<_>>()),
                perplexity: mean(&parts.iter().map(|p| p.0.perplexity).collect::<Vec<_>>()),
            }
        })
        .collect()
}

/// The eligible layer with the best probe accuracy; exact ties (common: persona prompts are
/// decoded perfectly at many depths) go to the layer nearest the middle of the network, where
/// steering usually works best.
fn best_probe_layer(probe: &SweepResults, eligible: &[usize], n_layers: usize) -> Option<usize> {
    let mid = n_layers as f64 / 2.0;
    probe
        .layers
        .iter()
        .filter_map(|r| Some((r.layer?, r.accuracy)))
        .filter(|(l, a)| eligible.contains(l) && a.is_finite())
        .max_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then_with(|| (b.0 as f64 - mid).abs().total_cmp(&(a.0 as f64 - mid).abs()))
        })
        .map(|(l, _)| l)
}

/// Greedy generations for `ids`, unsteered or steered at one layer with a relative strength.
fn generate<B: Backend>(
    model: &Model<B>,
    ids: &[Vec<u32>],
    max_new_tokens: usize,
    steer: Option<(&SteeringVectors, usize, f32)>,
) -> Result<Vec<String>> {
    let gopts = GenerateOptions {
        max_new_tokens,
        ..Default::default()
    };
    let out = match steer {
        None => model.generate(ids, &gopts, &mut NoHooks)?,
        Some((v, layer, alpha)) => {
            let mut hooks = HookSet::<B>::default();
            add_steering(
                &mut hooks,
                model,
                v,
                &[layer],
                Strength::Relative(alpha),
                Positions::All,
            )?;
            model.generate(ids, &gopts, &mut hooks)?
        }
    };
    Ok(out.into_iter().map(|g| g.text.trim().replace('\n', " ")).collect())
}

/// Rejects unusable options, naming them; returns the harvested layers, sorted.
fn check_options(opts: &PersonalityOptions, n_layers: usize) -> Result<Vec<usize>> {
    let bad = |m: String| -> Result<Vec<usize>> { Err(Error::Invalid(format!("personality options: {m}"))) };
    if opts.traits.is_empty() {
        return bad("no traits".into());
    }
    if opts.alphas.iter().any(|a| !a.is_finite()) || opts.alphas.iter().all(|&a| a == 0.0) {
        return bad(format!("alphas {:?} need a finite non-zero value", opts.alphas));
    }
    if opts.kl_bound.is_nan() || opts.kl_bound < 0.0 {
        return bad(format!("kl_bound {} must be >= 0", opts.kl_bound));
    }
    if opts.folds < 2 || opts.steer_layers == 0 || opts.monitor_questions == 0 || opts.monitor_items == 0 {
        return bad("folds must be >= 2 and steer_layers, monitor_questions, monitor_items >= 1".into());
    }
    let mut layers = opts.layers.clone().unwrap_or_else(|| (0..n_layers).collect());
    layers.sort_unstable();
    layers.dedup();
    if let Some(&l) = layers.iter().find(|&&l| l >= n_layers) {
        return bad(format!("layer {l} out of range (the model has {n_layers} blocks)"));
    }
    if layers.is_empty() {
        return bad("no layers".into());
    }
    Ok(layers)
}

/// The suite's data files, read and checked.
struct Data {
    dir: PathBuf,
    personas: Vec<Persona>,
    graded: Vec<Graded>,
    questions: Vec<Question>,
    questionnaire: Vec<AbRow>,
    behaviour: Vec<AbRow>,
}

impl Data {
    fn read(dir: &Path) -> Result<Self> {
        Ok(Data {
            dir: dir.to_path_buf(),
            personas: read_rows(&dir.join("personas.jsonl"))?,
            graded: read_rows(&dir.join("graded.jsonl"))?,
            questions: read_rows(&dir.join("questions.jsonl"))?,
            questionnaire: read_rows(&dir.join("questionnaire.jsonl"))?,
            behaviour: read_rows(&dir.join("behaviour.jsonl"))?,
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn questions(&self, split: &str) -> Vec<Question> {
        self.questions.iter().filter(|q| q.split == split).cloned().collect()
    }
}

/// What one trait's steering sweeps found (serialised into `results.json`).
#[derive(Serialize)]
struct Steering {
    best_probe_layer: usize,
    candidate_layers: Vec<usize>,
    layer: usize,
    alpha: f32,
    within_kl_bound: bool,
    pooled_grid: Vec<Pooled>,
    per_template: BTreeMap<String, SteerSweep>,
    behaviour: SteerSweep,
}

impl Steering {
    /// Questionnaire and behaviour cells at the chosen layer for strength `a`.
    fn at(&self, a: f32) -> Option<(&Pooled, &GridPoint)> {
        let q = self
            .pooled_grid
            .iter()
            .find(|p| p.layer == self.layer && p.alpha == a)?;
        Some((q, self.behaviour.grid.iter().find(|g| g.alpha == a)?))
    }

    /// A questionnaire number at strength `a` (NaN where the grid lacks the cell).
    fn questionnaire(&self, a: f32, f: fn(&Pooled) -> f64) -> f64 {
        self.at(a).map_or(f64::NAN, |(q, _)| f(q))
    }

    fn behaviour(&self, a: f32) -> f64 {
        self.at(a).map_or(f64::NAN, |(_, b)| b.metric)
    }

    fn dose_response(&self, alphas: &[f32]) -> Vec<Value> {
        let cells = alphas.iter().filter_map(|&a| self.at(a));
        cells
            .map(|(q, b)| {
                json!({"alpha": q.alpha, "questionnaire": q.metric, "questionnaire_std": q.metric_std,
                       "template_means": q.template_means, "template_spread": q.template_spread,
                       "behaviour": b.metric, "behaviour_std": b.metric_std, "kl": q.kl,
                       "perplexity": q.perplexity, "order_gap": q.order_gap})
            })
            .collect()
    }
}

/// Unsteered projections and self-report scores of the graded personas of one trait.
#[derive(Serialize)]
struct Monitoring {
    layer: usize,
    items: Vec<String>,
    points: Vec<Value>,
    r_projection_score: f64,
    r_strength_projection: f64,
    r_strength_score: f64,
    /// Self-report under the strongest high persona minus under the strongest low one: how far
    /// an explicit system prompt moves the questionnaire, a yardstick for what steering can do.
    persona_prompt_effect: f64,
    #[serde(skip)]
    projection: Vec<f64>,
    #[serde(skip)]
    score: Vec<f64>,
}

/// Shared state of one run.
struct Run<'a, B: Backend> {
    model: &'a Model<B>,
    opts: &'a PersonalityOptions,
    data: Data,
    progress: bool,
    neutral: Vec<Vec<u32>>,
    alphas: Vec<f32>,
    /// Harvested layers the selection rule may pick (below the last 20% of blocks).
    eligible: Vec<usize>,
}

/// Harvest rows for every trait: persona pairs x extract questions, then graded personas x
/// monitoring questions. Returns the JSONL lines and where each trait's rows are.
fn harvest_rows(
    data: &Data,
    opts: &PersonalityOptions,
    extract_qs: &[Question],
    monitor_qs: &[Question],
) -> Result<(Vec<String>, Vec<TraitRows>)> {
    let mut lines: Vec<String> = Vec::new();
    let mut all_rows = Vec::new();
    let chat =
        |system: &str, user: &str| json!([{"role": "system", "content": system}, {"role": "user", "content": user}]);
    for t in &opts.traits {
        let pole = |p: &str| {
            data.personas
                .iter()
                .filter(|x| x.trait_name == *t && x.pole == p)
                .collect::<Vec<_>>()
        };
        let (high, low) = (pole("high"), pole("low"));
        let n_pairs = high.len().min(low.len()).min(opts.max_personas.unwrap_or(usize::MAX));
        if n_pairs == 0 {
            return Err(Error::bad_file(
                data.path("personas.jsonl"),
                format!("no high/low persona pair for trait {t:?} (the suite's traits: {TRAITS:?})"),
            ));
        }
        let mut rows = TraitRows::default();
        for q in extract_qs {
            for i in 0..n_pairs {
                for (name, p) in [("high", high[i]), ("low", low[i])] {
                    rows.persona.push(lines.len());
                    lines.push(
                        json!({"messages": chat(&p.system, &q.text), "kind": "persona", "trait": t, "pole": name,
                               "persona": i, "question": q.id})
                        .to_string(),
                    );
                    let mut m = Map::new();
                    m.insert("pole".into(), Value::from(name));
                    m.insert("question".into(), Value::from(q.id.clone()));
                    rows.labels.push(m);
                }
                rows.pairs.push((lines.len() - 2, lines.len() - 1));
            }
        }
        // At most `max_wordings` graded personas per strength level, in file order.
        let mut kept: Vec<Graded> = Vec::new();
        for g in data.graded.iter().filter(|g| g.trait_name == *t) {
            if kept.iter().filter(|k| k.strength == g.strength).count() < opts.max_wordings.unwrap_or(usize::MAX) {
                kept.push(g.clone());
            }
        }
        if kept.len() < 3 {
            return Err(Error::bad_file(
                data.path("graded.jsonl"),
                format!("fewer than 3 graded personas for {t:?}"),
            ));
        }
        for g in &kept {
            let mut ids = Vec::new();
            for q in monitor_qs {
                ids.push(lines.len());
                lines.push(
                    json!({"messages": chat(&g.system, &q.text), "kind": "graded", "trait": t, "graded": g.id,
                           "strength": g.strength, "question": q.id})
                    .to_string(),
                );
            }
            rows.graded.push(ids);
        }
        rows.graded_personas = kept;
        all_rows.push(rows);
    }
    Ok((lines, all_rows))
}

/// Harvests `lines` into `out/store` at `layers` (resuming a store of the same data, hooks
/// and model; replacing one left by other settings) and loads every layer.
fn harvest_store<B: Backend>(
    model: &Model<B>,
    lines: &[String],
    layers: &[usize],
    out: &Path,
    progress: bool,
) -> Result<(Acts, String, HarvestSummary)> {
    let rows_path = out.join("harvest_rows.jsonl");
    let text: String = lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect();
    write_atomic(&rows_path, |f| f.write_all(text.as_bytes()).map_err(|e| e.to_string()))?;
    let sha = sha256_file(&rows_path)?;
    let store_dir = out.join("store");
    let hooks: Vec<HookPoint> = layers.iter().map(|&l| HookPoint::ResidPost(l)).collect();
    let names: Vec<String> = hooks.iter().map(ToString::to_string).collect();
    let stale = ActivationStore::open(&store_dir)
        .is_ok_and(|s| s.manifest.data.sha256 != sha || s.manifest.hooks != names || s.manifest.model != model.name);
    let hopts = HarvestOptions {
        hooks: hooks.clone(),
        positions: PositionSpec::Last,
        resume: !stale,
        force: stale,
        progress,
        ..Default::default()
    };
    let summary = harvest(model, &rows_path, &store_dir, &hopts)?;
    let store = ActivationStore::open(&store_dir)?;
    if store.manifest.vectors != lines.len() || !store.manifest.complete {
        return Err(Error::bad_file(
            store_dir.join("manifest.json"),
            format!(
                "expected {} complete rows, found {}",
                lines.len(),
                store.manifest.vectors
            ),
        ));
    }
    let mut acts = BTreeMap::new();
    for (&l, &h) in layers.iter().zip(&hooks) {
        acts.insert(l, store.load(h)?);
    }
    Ok((acts, sha, summary))
}

/// Probe accuracy of high vs low persona at every harvested layer, grouped by question, with
/// the permuted-label control task.
fn probe_trait(acts: &Acts, rows: &TraitRows, opts: &PersonalityOptions) -> Result<SweepResults> {
    let labels = Labels::from_rows(&rows.labels, "pole", Some("question"), None, false)?;
    let units = acts
        .iter()
        .map(|(&l, x)| SweepUnit {
            hook: HookPoint::ResidPost(l),
            head: None,
            x: x.select(Axis(0), &rows.persona).mapv(f64::from),
        })
        .collect();
    let sopts = SweepOptions {
        folds: opts.folds,
        seed: opts.seed,
        ..Default::default()
    };
    let mut probe = sweep_units(units, &labels, &sopts, "pole", "blocks.*.hook_resid_post")?;
    probe.group = Some("question".into());
    Ok(probe)
}

impl<B: Backend> Run<'_, B> {
    /// Questionnaire sweeps per template over a few layers near the best probe layer, the
    /// selection rule on their pooled grid, then the behaviour items at the chosen layer.
    fn steer(&self, t: &str, v: &SteeringVectors, probe: &SweepResults) -> Result<Steering> {
        let (q_path, b_path) = (self.data.path("questionnaire.jsonl"), self.data.path("behaviour.jsonl"));
        let n_layers = self.model.config.n_layers;
        let best = best_probe_layer(probe, &self.eligible, n_layers).unwrap_or(self.eligible[0]);
        let mut candidates = self.eligible.clone();
        candidates.sort_by_key(|&l| (l.abs_diff(best), l));
        candidates.truncate(self.opts.steer_layers);
        candidates.sort_unstable();
        let run = |what: &str, items: &[Item], layers: Vec<usize>| -> Result<SteerSweep> {
            let settings = SweepSettings {
                layers,
                alphas: self.alphas.clone(),
                relative: true,
                kl_bound: self.opts.kl_bound,
                positions: Positions::All,
                score: ScoreMode::Text,
            };
            let pb = stage_bar(self.progress, format!("personality steer {t} {what}"), 0).with_message("settings");
            let mut s = sweep(self.model, v, items, &self.neutral, &settings, &pb)?;
            pb.finish_and_clear();
            s.vector = format!("vectors/{t}");
            Ok(s)
        };
        let q_rows = test_rows(&self.data.questionnaire, t, self.opts.max_items);
        let mut per_template = BTreeMap::new();
        for tpl in TEMPLATES {
            let items = q_rows
                .iter()
                .filter(|r| r.template.as_deref() == Some(tpl))
                .map(|r| to_item(r, &q_path, None))
                .collect::<Result<Vec<_>>>()?;
            if !items.is_empty() {
                per_template.insert(tpl.to_string(), run(tpl, &items, candidates.clone())?);
            }
        }
        if per_template.is_empty() {
            return Err(Error::bad_file(
                &q_path,
                format!("no test items of {t:?} in order \"ab\" with template t0-t2"),
            ));
        }
        let pooled = pool(&per_template);
        let grid: Vec<GridPoint> = pooled
            .iter()
            .map(|p| GridPoint {
                layer: p.layer,
                alpha: p.alpha,
                metric: p.metric,
                metric_std: p.metric_std,
                order_gap: p.order_gap,
                kl: p.kl,
                perplexity: p.perplexity,
            })
            .collect();
        let chosen = choose(&grid, n_layers, self.opts.kl_bound);
        // When nothing meets the KL bound, report the best probe layer at the gentlest positive
        // strength, flagged, rather than no numbers at all.
        let (layer, alpha) = chosen.unwrap_or_else(|| {
            let a = self.alphas.iter().copied().find(|&a| a > 0.0).unwrap_or(0.0);
            (
                candidates
                    .iter()
                    .copied()
                    .min_by_key(|l| l.abs_diff(best))
                    .unwrap_or(best),
                a,
            )
        });
        let b_items = test_rows(&self.data.behaviour, t, self.opts.max_items)
            .into_iter()
            .map(|r| to_item(r, &b_path, None))
            .collect::<Result<Vec<_>>>()?;
        if b_items.is_empty() {
            return Err(Error::bad_file(
                &b_path,
                format!("no test items of {t:?} in order \"ab\""),
            ));
        }
        Ok(Steering {
            best_probe_layer: best,
            candidate_layers: candidates,
            layer,
            alpha,
            within_kl_bound: chosen.is_some(),
            pooled_grid: pooled,
            per_template,
            behaviour: run("behaviour", &b_items, vec![layer])?,
        })
    }

    /// For each graded persona: the mean projection of its conversations' last-token residual
    /// on the unit direction `dir` (activations `x` at `layer`), and its self-report (P(high
    /// option) on a few t0 questionnaire items asked under the same system prompt), unsteered.
    fn monitor(&self, t: &str, layer: usize, dir: &[f32], x: &Array2<f32>, rows: &TraitRows) -> Result<Monitoring> {
        let q_path = self.data.path("questionnaire.jsonl");
        let len = norm(dir).max(1e-30);
        let unit: Array1<f64> = dir.iter().map(|&v| v as f64 / len).collect();
        let m_rows: Vec<&AbRow> = test_rows(&self.data.questionnaire, t, Some(self.opts.monitor_items))
            .into_iter()
            .filter(|r| r.template.as_deref() == Some("t0"))
            .collect();
        if m_rows.is_empty() {
            return Err(Error::bad_file(
                &q_path,
                format!("no test items of {t:?} in template t0 for monitoring"),
            ));
        }
        let pb = stage_bar(self.progress, format!("personality monitor {t}"), 0).with_message("personas");
        pb.set_length(rows.graded_personas.len() as u64);
        let (mut points, mut projection, mut score, mut strength) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (g, idx) in rows.graded_personas.iter().zip(&rows.graded) {
            let proj = mean(
                &idx.iter()
                    .map(|&i| x.row(i).mapv(f64::from).dot(&unit))
                    .collect::<Vec<_>>(),
            );
            let items = m_rows
                .iter()
                .map(|r| to_item(r, &q_path, Some(&g.system)))
                .collect::<Result<Vec<_>>>()?;
            let p = option_probabilities(self.model, &items, ScoreMode::Text, &mut HookSet::<B>::default())?;
            let s = mean(&p.iter().map(|p| (p[0] + p[1]) / 2.0).collect::<Vec<_>>());
            points.push(json!({"graded": g.id, "strength": g.strength, "projection": proj, "score": s}));
            projection.push(proj);
            score.push(s);
            strength.push(g.strength);
            pb.inc(1);
        }
        pb.finish_and_clear();
        let score_at = |s: f64| {
            mean(
                &score
                    .iter()
                    .zip(&strength)
                    .filter(|p| *p.1 == s)
                    .map(|p| *p.0)
                    .collect::<Vec<_>>(),
            )
        };
        let (lo, hi) = (
            strength.iter().copied().reduce(f64::min),
            strength.iter().copied().reduce(f64::max),
        );
        let persona_prompt_effect = match (lo, hi) {
            (Some(lo), Some(hi)) => score_at(hi) - score_at(lo),
            _ => f64::NAN,
        };
        Ok(Monitoring {
            persona_prompt_effect,
            layer,
            items: m_rows.iter().map(|r| r.item.clone()).collect(),
            points,
            r_projection_score: pearson(&projection, &score),
            r_strength_projection: pearson(&strength, &projection),
            r_strength_score: pearson(&strength, &score),
            projection,
            score,
        })
    }

    /// Greedy answers to a few test questions: unsteered, and at -alpha / +alpha per trait.
    fn examples(
        &self,
        vectors: &[SteeringVectors],
        chosen: &[(usize, f32)],
        questions: &[Question],
    ) -> Result<(String, Map<String, Value>)> {
        let mut md = String::from(
            "# Personality steering examples\n\nGreedy decoding; alpha relative to the mean residual norm.\n",
        );
        let mut all = Map::new();
        if questions.is_empty() {
            return Ok((md, all));
        }
        let ids = questions
            .iter()
            .map(|q| {
                self.model
                    .encode(&PromptInput::Messages(vec![ChatMessage::user(q.text.clone())]))
            })
            .collect::<Result<Vec<_>>>()?;
        let n = self.opts.max_new_tokens;
        let plain = generate(self.model, &ids, n, None)?;
        let pb = stage_bar(self.progress, "personality examples".into(), 0).with_message("traits");
        pb.set_length(vectors.len() as u64);
        for ((t, v), &(layer, alpha)) in self.opts.traits.iter().zip(vectors).zip(chosen) {
            let neg = generate(self.model, &ids, n, Some((v, layer, -alpha)))?;
            let pos = generate(self.model, &ids, n, Some((v, layer, alpha)))?;
            md.push_str(&format!("\n## {t} (layer {layer}, alpha ±{alpha})\n"));
            let mut rows = Vec::new();
            for (k, q) in questions.iter().enumerate() {
                md.push_str(&format!(
                    "\n**{}**\n\n- alpha {:+}: {}\n- unsteered: {}\n- alpha {alpha:+}: {}\n",
                    q.text, -alpha, neg[k], plain[k], pos[k]
                ));
                rows.push(json!({"question": q.text, "minus": neg[k], "unsteered": plain[k], "plus": pos[k]}));
            }
            all.insert(t.clone(), Value::Array(rows));
            pb.inc(1);
        }
        pb.finish_and_clear();
        Ok((md, all))
    }
}

/// Dose-response at the chosen layer: questionnaire (band: sd across templates), behaviour
/// and KL against alpha.
fn dose_figure(t: &str, s: &Steering, alphas: &[f32], stem: &Path) -> Result<Vec<PathBuf>> {
    let dose: Vec<(&Pooled, &GridPoint)> = alphas.iter().filter_map(|&a| s.at(a)).collect();
    let xs: Vec<f64> = dose.iter().map(|d| d.0.alpha as f64).collect();
    let line = |label: &str, ys: Vec<f64>, band: Option<Vec<f64>>| Series {
        label: label.into(),
        points: xs.iter().copied().zip(ys).collect(),
        band,
        reference: false,
    };
    let (lo, hi) = (xs.first().copied().unwrap_or(-1.0), xs.last().copied().unwrap_or(1.0));
    let chart = LineChart {
        title: format!("{t}: steering at layer {}", s.layer),
        x_label: "steering strength alpha (× mean residual norm)".into(),
        y_label: "P(high-trait option) / KL (nats)".into(),
        series: vec![
            line(
                "questionnaire (±1 sd across templates)",
                dose.iter().map(|d| d.0.metric).collect(),
                Some(dose.iter().map(|d| d.0.template_spread).collect()),
            ),
            line("behaviour situations", dose.iter().map(|d| d.1.metric).collect(), None),
            line("KL on neutral prompts", dose.iter().map(|d| d.0.kl).collect(), None),
            Series {
                label: "indifferent (0.5)".into(),
                points: vec![(lo, 0.5), (hi, 0.5)],
                band: None,
                reference: true,
            },
        ],
        y_range: None,
    };
    save_figure(stem, &chart)
}

/// Probe accuracy against layer for every trait, with the mean control task and chance.
fn probe_figure(traits: &[String], probes: &[SweepResults], layers: &[usize], stem: &Path) -> Result<Vec<PathBuf>> {
    let mut series: Vec<Series> = traits
        .iter()
        .zip(probes)
        .map(|(t, p)| Series {
            label: t.clone(),
            points: p
                .layers
                .iter()
                .map(|r| (r.layer.unwrap_or(0) as f64, r.accuracy))
                .collect(),
            band: Some(p.layers.iter().map(|r| r.accuracy_std).collect()),
            reference: false,
        })
        .collect();
    // Units were swept in `layers` order, so index k is the same layer in every trait.
    let control = (0..layers.len())
        .map(|k| {
            (
                layers[k] as f64,
                mean(&probes.iter().map(|p| p.layers[k].control_accuracy).collect::<Vec<_>>()),
            )
        })
        .collect();
    let (lo, hi) = (layers[0] as f64, layers[layers.len() - 1] as f64);
    series.push(Series {
        label: "control task (mean)".into(),
        points: control,
        band: None,
        reference: true,
    });
    series.push(Series {
        label: "chance".into(),
        points: vec![(lo, 0.5), (hi, 0.5)],
        band: None,
        reference: true,
    });
    let chart = LineChart {
        title: "High vs low persona, decoded at the last prompt token".into(),
        x_label: "layer (hook_resid_post)".into(),
        y_label: "probe accuracy (grouped by question)".into(),
        series,
        y_range: Some((0.0, 1.05)),
    };
    save_figure(stem, &chart)
}

/// Cosine similarity between the traits' mean-diff directions at `layer`, drawn as a heatmap.
fn cosine_figure(
    traits: &[String],
    vectors: &[SteeringVectors],
    layer: usize,
    stem: &Path,
) -> Result<(Vec<Vec<f64>>, Vec<PathBuf>)> {
    let mut matrix = Vec::new();
    for a in vectors {
        let mut row = Vec::new();
        for b in vectors {
            row.push(cosine(a.get(layer)?, b.get(layer)?));
        }
        matrix.push(row);
    }
    let heat = Heatmap {
        title: format!("Cosine between trait directions, layer {layer}"),
        row_label: "trait".into(),
        col_label: "trait".into(),
        values: matrix.clone(),
        range: Some((-1.0, 1.0)),
        value_label: "cosine".into(),
        row_names: Some(traits.to_vec()),
        col_names: Some(traits.to_vec()),
    };
    Ok((matrix, save_figure(stem, &heat)?))
}

/// Runs the suite end to end on `model`, writing into `out` (see the module docs), and returns
/// the contents of `results.json`. A rerun with the same settings resumes the harvest.
pub fn run_personality<B: Backend>(
    model: &Model<B>,
    opts: &PersonalityOptions,
    out: &Path,
    progress: bool,
) -> Result<Value> {
    let started = Instant::now();
    let n_layers = model.config.n_layers;
    let layers = check_options(opts, n_layers)?;
    let fig_dir = out.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(|e| Error::io(&fig_dir, e))?;
    let data = Data::read(&opts.data_dir)?;
    let extract_qs = spread(&data.questions("extract"), opts.max_questions);
    let test_qs = data.questions("test");
    let monitor_qs = spread(&test_qs, Some(opts.monitor_questions));
    if extract_qs.len() < 2 || test_qs.is_empty() {
        return Err(Error::bad_file(
            data.path("questions.jsonl"),
            "needs at least two \"extract\" and one \"test\" question",
        ));
    }
    let mut alphas: Vec<f32> = opts
        .alphas
        .iter()
        .flat_map(|&a| [a.abs(), -a.abs()])
        .filter(|&a| a != 0.0)
        .collect();
    alphas.push(0.0);
    alphas.sort_by(f32::total_cmp);
    alphas.dedup();
    let max_layer = (n_layers as f64 * 0.8).floor() as usize;
    let eligible: Vec<usize> = layers.iter().copied().filter(|&l| l < max_layer).collect();
    if eligible.is_empty() {
        return Err(Error::Invalid(format!(
            "personality options: steering needs a harvested layer below {max_layer} (the selection rule skips the \
             last 20% of {n_layers} blocks); layers are {layers:?}"
        )));
    }

    // 1. One harvest for every trait, at the last prompt token (where the answer starts).
    say(progress, "personality", "harvesting persona conversations");
    let (lines, trait_rows) = harvest_rows(&data, opts, &extract_qs, &monitor_qs)?;
    let (acts, data_sha, summary) = harvest_store(model, &lines, &layers, out, progress)?;

    // 1-2. Directions (saved as steering vectors) and probes per trait.
    let (mut vectors, mut probes) = (Vec::new(), Vec::new());
    for (t, rows) in opts.traits.iter().zip(&trait_rows) {
        say(
            progress,
            "personality",
            &format!("{t}: directions and probes over {} layers", layers.len()),
        );
        let (md, pc) = directions(&acts, rows, &model.name, &data_sha, opts.seed)?;
        md.save(&out.join("vectors").join(t))?;
        pc.save(&out.join("vectors_pca").join(t))?;
        vectors.push(md);
        probes.push(probe_trait(&acts, rows, opts)?);
    }

    // 4-5. Steering and monitoring per trait.
    let neutral = NEUTRAL_PROMPTS
        .iter()
        .map(|t| model.tokenizer.encode(t, true))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let run = Run {
        model,
        opts,
        data,
        progress,
        neutral,
        alphas,
        eligible,
    };
    let (mut headline, mut per_trait) = (Map::new(), Map::new());
    let mut figures: Vec<PathBuf> = Vec::new();
    let mut chosen: Vec<(usize, f32)> = Vec::new();
    let mut monitor_pts: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (ti, t) in opts.traits.iter().enumerate() {
        let s = run.steer(t, &vectors[ti], &probes[ti])?;
        let (layer, alpha) = (s.layer, s.alpha);
        chosen.push((layer, alpha));
        figures.extend(dose_figure(t, &s, &run.alphas, &fig_dir.join(format!("dose_{t}")))?);
        let x = acts
            .get(&layer)
            .ok_or_else(|| Error::Invalid(format!("layer {layer} was not harvested")))?;
        let m = run.monitor(t, layer, vectors[ti].get(layer)?, x, &trait_rows[ti])?;
        // z-scored per trait so that traits share the scatter's x axis.
        let (pm, ps) = (mean(&m.projection), std_dev(&m.projection).max(1e-12));
        monitor_pts.push((
            t.clone(),
            m.projection
                .iter()
                .zip(&m.score)
                .map(|(p, y)| ((p - pm) / ps, *y))
                .collect(),
        ));
        let best = probes[ti]
            .layers
            .iter()
            .filter(|r| r.accuracy.is_finite())
            .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
        headline.insert(
            t.clone(),
            json!({
                "layer": layer,
                "alpha": alpha,
                "within_kl_bound": s.within_kl_bound,
                "score_minus": s.questionnaire(-alpha, |q| q.metric),
                "score_zero": s.questionnaire(0.0, |q| q.metric),
                "score_plus": s.questionnaire(alpha, |q| q.metric),
                "behaviour_minus": s.behaviour(-alpha),
                "behaviour_zero": s.behaviour(0.0),
                "behaviour_plus": s.behaviour(alpha),
                "kl": s.questionnaire(alpha, |q| q.kl),
                "kl_minus": s.questionnaire(-alpha, |q| q.kl),
                "template_spread": s.questionnaire(alpha, |q| q.template_spread),
                "template_spread_unsteered": s.questionnaire(0.0, |q| q.template_spread),
                "probe_layer": best.and_then(|r| r.layer),
                "probe_accuracy": best.map_or(f64::NAN, |r| r.accuracy),
                "probe_control_accuracy": best.map_or(f64::NAN, |r| r.control_accuracy),
                "projection_score_r": m.r_projection_score,
                "persona_prompt_effect": m.persona_prompt_effect,
                "monitor_points": m.points.len(),
            }),
        );
        per_trait.insert(
            t.clone(),
            json!({
                "probe": probes[ti],
                "directions": vectors[ti].meta.stats,
                "steering": s,
                "dose_response": s.dose_response(&run.alphas),
                "monitoring": m,
            }),
        );
    }

    // 3. Trait cosines at one shared layer: the lower median of the chosen steering layers.
    let mut chosen_layers: Vec<usize> = chosen.iter().map(|c| c.0).collect();
    chosen_layers.sort_unstable();
    let cos_layer = chosen_layers[(chosen_layers.len() - 1) / 2];
    let (matrix, paths) = cosine_figure(&opts.traits, &vectors, cos_layer, &fig_dir.join("trait_cosine"))?;
    figures.extend(paths);
    figures.extend(probe_figure(
        &opts.traits,
        &probes,
        &layers,
        &fig_dir.join("probe_accuracy"),
    )?);
    let scatter = Scatter {
        title: "Monitoring: projection vs self-report, graded personas".into(),
        x_label: "projection on trait direction (z-scored per trait)".into(),
        y_label: "questionnaire P(high option)".into(),
        groups: monitor_pts,
    };
    figures.extend(save_figure(&fig_dir.join("projection_vs_score"), &scatter)?);

    // 6. Example generations.
    say(progress, "personality", "generating examples");
    let (examples_md, examples) = run.examples(&vectors, &chosen, &spread(&test_qs, Some(opts.n_examples)))?;
    write_atomic(&out.join("examples.md"), |f| {
        f.write_all(examples_md.as_bytes()).map_err(|e| e.to_string())
    })?;

    let rel = |p: &PathBuf| p.strip_prefix(out).unwrap_or(p).display().to_string();
    // Explicit, because a data_dir that is not UTF-8 cannot be serialised.
    let options = serde_json::to_value(opts).map_err(|e| Error::Invalid(format!("personality options: {e}")))?;
    let results = json!({
        "kind": "personality",
        "model": model.name,
        "options": options,
        "alphas": run.alphas,
        "layers": layers,
        "harvest": summary,
        "rows": {"harvested": lines.len(), "extract_questions": extract_qs.len(),
                 "monitor_questions": monitor_qs.iter().map(|q| q.id.clone()).collect::<Vec<_>>()},
        "headline": headline,
        "traits": per_trait,
        "trait_cosine": {"layer": cos_layer, "traits": opts.traits, "matrix": matrix},
        "examples": examples,
        "figures": figures.iter().map(rel).collect::<Vec<_>>(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    write_json(&out.join("results.json"), &results)?;
    let report = report_md(&results, opts);
    write_atomic(&out.join("report.md"), |f| {
        f.write_all(report.as_bytes()).map_err(|e| e.to_string())
    })?;
    say(
        progress,
        "personality",
        &format!(
            "done in {:.0} s: {}",
            started.elapsed().as_secs_f64(),
            out.join("report.md").display()
        ),
    );
    Ok(results)
}

/// `report.md`: the headline numbers per trait and a reading that says what they do and do
/// not show.
fn report_md(r: &Value, opts: &PersonalityOptions) -> String {
    let f = |v: &Value| v.as_f64().map_or("n/a".to_string(), |x| format!("{x:.2}"));
    let mut md = format!(
        "# Personality suite: {}\n\nTraits: {}. Strengths relative to the mean residual norm; KL bound {} nats. \
         Probes: logistic, {} folds grouped by question, permuted-label control.\n\n\
         | trait | probe acc (layer) | control | steering layer, alpha | questionnaire -a / 0 / +a | template sd \
         | behaviour -a / 0 / +a | KL at +a | projection-score r |\n|---|---|---|---|---|---|---|---|---|\n",
        r["model"].as_str().unwrap_or("?"),
        opts.traits.join(", "),
        opts.kl_bound,
        opts.folds,
    );
    let Some(head) = r["headline"].as_object() else {
        return md;
    };
    for (t, h) in head {
        let bound = if h["within_kl_bound"].as_bool() == Some(true) {
            ""
        } else {
            " (KL bound not met)"
        };
        md.push_str(&format!(
            "| {t} | {} ({}) | {} | {}, {}{bound} | {} / {} / {} | {} | {} / {} / {} | {} | {} (n={}) |\n",
            f(&h["probe_accuracy"]),
            h["probe_layer"],
            f(&h["probe_control_accuracy"]),
            h["layer"],
            f(&h["alpha"]),
            f(&h["score_minus"]),
            f(&h["score_zero"]),
            f(&h["score_plus"]),
            f(&h["template_spread"]),
            f(&h["behaviour_minus"]),
            f(&h["behaviour_zero"]),
            f(&h["behaviour_plus"]),
            f(&h["kl"]),
            f(&h["projection_score_r"]),
            h["monitor_points"],
        ));
    }
    md.push_str("\n## Reading\n\n");
    for (t, h) in head {
        let g = |k: &str| h[k].as_f64().unwrap_or(f64::NAN);
        // An effect counts only when it exceeds twice the disagreement between templates.
        let effect = g("score_plus") - g("score_minus");
        let spread = g("template_spread").max(g("template_spread_unsteered"));
        let steer = if !effect.is_finite() {
            "the steering effect could not be measured".to_string()
        } else if effect.abs() > 2.0 * spread && effect.abs() > 0.05 {
            let way = if effect > 0.0 { "toward" } else { "against" };
            format!(
                "steering moves self-report {way} the trait by {effect:+.2} from -alpha to +alpha, beyond twice \
                 the spread across templates ({spread:.2})"
            )
        } else {
            format!(
                "the self-report change from -alpha to +alpha ({effect:+.2}) is within twice the spread across \
                 templates ({spread:.2}), so not a reliable effect"
            )
        };
        let behav = g("behaviour_plus") - g("behaviour_minus");
        md.push_str(&format!(
            "- **{t}**: the persona pole is decoded at {} (control {}); {steer}; the strongest high persona prompt \
             against the strongest low one moves self-report by {:+.3} (what an explicit instruction achieves); the \
             behaviour score moves {behav:+.2}; unsteered projection and self-report correlate at r = {} over {} \
             graded personas{}.\n",
            f(&h["probe_accuracy"]),
            f(&h["probe_control_accuracy"]),
            g("persona_prompt_effect"),
            f(&h["projection_score_r"]),
            h["monitor_points"],
            if h["within_kl_bound"].as_bool() == Some(true) {
                ""
            } else {
                "; no setting met the KL bound, so these numbers are at the gentlest positive alpha"
            },
        ));
    }
    md.push_str(
        "\nCaveats: the probe separates conversations whose system prompts differ in wording as well as in trait, \
         and the same persona prompts recur in every fold (only questions are held out), so high accuracy says the \
         pole is present at the last token, not that a trait concept is. Options are scored by the mean \
         log-probability of their text, both orders averaged; a small model's self-report is loosely tied to its \
         persona, few items make every number noisy, and a correlation over a handful of graded personas has wide \
         uncertainty.\n",
    );
    md
}
