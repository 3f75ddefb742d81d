//! Belief tracking (issue #9): does a small language model represent what a story character
//! believes separately from what is true, and does that representation move its answers?
//! After Zhu et al. (ICML 2024, "Language Models Represent Beliefs of Self and Others").
//!
//! Data: `probes/belief/` (see its README). Every story is told in three surface forms
//! (`f0`, `f1`, `f2`) and in one of two conditions (`false_belief`, `true_belief`); each
//! statement row is `"Story: ...\nBelief: ..."` labelled with `protagonist` (the character
//! believes the statement) and `oracle` (the statement is true).
//!
//! [`run_belief`] runs five steps:
//! 1. harvest `blocks.L.hook_resid_post` (and `blocks.L.attn.hook_z` with `heads`) at the last
//!    token of every statement into `out/store` (resumed when it already holds this data);
//! 2. logistic probes for `protagonist` and `oracle` per layer and per head, k-fold
//!    cross-validated with folds grouped by story and a permuted-label control
//!    ([`crate::probe::sweep::sweep_store`]); the best layer's probes are saved to
//!    `out/probes/{protagonist,oracle}/` for `mindlens probe apply`;
//! 3. robustness to wording: probes trained on `f0` statements of the training stories and
//!    tested on `f0`, `f1` and `f2` statements of held-out stories;
//! 4. steering: the question prompts are scored with and without adding a direction, and
//!    two-option accuracy is reported separately for false- and true-belief stories;
//! 5. `results.json` (with a `headline`), figures (SVG + PNG) and a short `report.md`.
//!
//! Steering direction and sign. A question has no "statement" to which a belief label
//! belongs, so adding a statement-level direction to it is a heuristic. We use the one
//! defensible reading of Zhu et al.: the residual direction that separates statements the
//! protagonist believes from statements they do not (difference of class means of
//! `protagonist = true` minus `false` at the best protagonist layer). Because `protagonist`
//! is balanced against `oracle` over the data, this direction carries "what the character
//! believes" rather than "what is true" or "what happened last". A positive alpha should then
//! raise the model's reliance on the character's perspective: it can help false-belief
//! questions, and if it merely pushed towards "not the current state" it would hurt
//! true-belief questions, which is why both conditions are always reported. The head variant
//! (inference-time intervention, Li et al. 2023) adds each of the best protagonist heads'
//! probe directions to that head's slice of `attn.hook_z`. A random residual direction of
//! the same strength is the control.

use super::{alpha64, check_layers, mean_norm, random_direction, stage_bar};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::artifact::{write_atomic, write_json};
use crate::error::{Error, Result};
use crate::harvest::{harvest, ActivationStore, HarvestOptions, PositionSpec};
use crate::hooks::{HookPoint, HookSet, Intervention, Positions};
use crate::model::Model;
use crate::plot::{save_figure, Heatmap, LineChart, Series};
use crate::probe::metrics::classification;
use crate::probe::split::group_kfold;
use crate::probe::sweep::{sweep_store, LayerResult, SweepResults};
use crate::probe::{save_probe, Control, FitOptions, Labels, LinearProbe, ProbeKind, ProbeMeta, SweepOptions, Target};
use crate::steer::sweep::{option_probabilities, Item, ScoreMode};
use crate::steer::vector::cosine;
use crate::steer::{add_steering, SteerMeta, SteeringVectors, Strength};

/// The two labels probed, in the order results list them.
const LABELS: [&str; 2] = ["protagonist", "oracle"];
/// The two story conditions, reported separately everywhere.
const CONDITIONS: [&str; 2] = ["false_belief", "true_belief"];
/// The surface form transfer probes are trained on.
const TRAIN_FORM: &str = "f0";

/// Settings of [`run_belief`].
#[derive(Clone, Debug)]
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
    pub steer_alphas: Vec<f32>,
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
            steer_alphas: vec![-0.5, -0.25, 0.25, 0.5],
            steer_forms: vec![TRAIN_FORM.to_string()],
            max_questions: None,
            top_heads: 8,
            head_scale: 4.0,
            seed: 0,
        }
    }
}

/// Sweeps of one label: residual stream per layer and (optionally) attention heads.
struct LabelProbes {
    label: &'static str,
    labels: Labels,
    resid: SweepResults,
    heads: Option<SweepResults>,
}

/// Probe scores on one surface form of held-out stories.
#[derive(Clone, Debug, Serialize)]
struct FormScore {
    accuracy: f64,
    auroc: f64,
    n: usize,
}

/// Transfer results at one layer: test form -> scores.
#[derive(Clone, Debug, Serialize)]
struct TransferLayer {
    layer: usize,
    forms: BTreeMap<String, FormScore>,
}

/// Two-option question scores of one setting in one condition.
#[derive(Clone, Debug, Serialize)]
struct CondScore {
    /// Questions.
    n: usize,
    /// Share of questions whose correct option is more probable (both orders averaged).
    accuracy: f64,
    /// Mean probability of the correct option, renormalised over the two options.
    p_correct: f64,
    /// Mean of ln P(correct) steered minus ln P(correct) unsteered.
    logp_gain: f64,
}

/// Scores by condition (`false_belief`, `true_belief`, `all`).
type ByCondition = BTreeMap<String, CondScore>;

/// A head chosen for steering, with its direction in the head's `d_head` space.
struct SteerHead {
    layer: usize,
    head: usize,
    accuracy: f64,
    norm: f64,
    direction: Vec<f32>,
}

/// Everything the steering step measured.
struct SteerOutcome {
    layer: usize,
    n_items: usize,
    baseline: ByCondition,
    residual: Vec<(f32, ByCondition)>,
    heads: Vec<(f32, ByCondition)>,
    random: Option<(f32, ByCondition)>,
    stats: Value,
}

/// Runs the belief-tracking suite end to end on `model`, writing into `out`: the activation
/// store (`store/`), the harvested rows (`data/`), the best layer's probes (`probes/`), the
/// steering vector (`steering_vector/`), `results.json`, figures and `report.md`. Returns
/// the results JSON (the same as `results.json`).
pub fn run_belief<B: Backend>(model: &Model<B>, opts: &BeliefOptions, out: &Path, progress: bool) -> Result<Value> {
    let cfg = &model.config;
    let layers = check_layers(opts.layers.clone(), cfg.n_layers, "layers")?;
    let head_layers = if opts.heads {
        check_layers(
            opts.head_layers.clone().or_else(|| Some(layers.clone())),
            cfg.n_layers,
            "head layers",
        )?
    } else {
        Vec::new()
    };
    if opts.folds < 2 {
        return Err(Error::Invalid("the belief suite needs at least 2 folds".into()));
    }
    if opts.steer_alphas.iter().any(|a| !a.is_finite()) || !opts.head_scale.is_finite() {
        return Err(Error::Invalid("steering strengths must be finite".into()));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;

    // Data: validated here, since mindlens' prompt readers reject rows with both prompt fields.
    let statements = read_rows(
        &opts.data_dir.join("statements.jsonl"),
        &[
            ("text", Kind::Str),
            ("story_id", Kind::Str),
            ("schema", Kind::Str),
            ("form", Kind::Str),
            ("condition", Kind::Str),
            ("protagonist", Kind::Bool),
            ("oracle", Kind::Bool),
        ],
    )?;
    let questions = read_rows(
        &opts.data_dir.join("questions.jsonl"),
        &[
            ("text", Kind::Str),
            ("choice_texts", Kind::TwoStrings),
            ("target", Kind::Index),
            ("story_id", Kind::Str),
            ("form", Kind::Str),
            ("condition", Kind::Str),
        ],
    )?;
    let stories = select_stories(&statements, opts.max_stories)?;
    let chosen: Vec<&Map<String, Value>> = statements
        .iter()
        .filter(|r| stories.contains(field(r, "story_id")))
        .collect();

    // 1. Harvest, in forward order so the store lists hooks as every other store does.
    let hooks: Vec<HookPoint> = HookPoint::all(cfg.n_layers, false)
        .into_iter()
        .filter(|p| match *p {
            HookPoint::ResidPost(l) => layers.contains(&l),
            HookPoint::AttnZ(l) => head_layers.contains(&l),
            _ => false,
        })
        .collect();
    let store = harvest_statements(model, &chosen, &hooks, out, progress)?;
    let rows = store.rows()?;
    if rows.len() != chosen.len() {
        return Err(Error::Invalid(format!(
            "store {} holds {} rows, expected {}",
            store.dir().display(),
            rows.len(),
            chosen.len()
        )));
    }

    // 2. Probes per layer and head, with the permuted-label control.
    let sweep_opts = SweepOptions {
        method: ProbeKind::Logistic,
        folds: opts.folds,
        seed: opts.seed,
        control: Some(Control::Permute),
        pcs: 10,
        fit: FitOptions::default(),
    };
    let per_label = 1 + usize::from(!head_layers.is_empty()) + 1; // residual, heads, transfer
    let pb = stage_bar(progress, "belief probes".into(), (LABELS.len() * per_label) as u64);
    let mut probes = Vec::new();
    for label in LABELS {
        let labels = Labels::from_rows(&rows, label, Some("story_id"), None, false)?;
        let mut resid = sweep_store(&store, "blocks.*.hook_resid_post", &labels, &sweep_opts, label)?;
        resid.group = Some("story_id".into());
        pb.inc(1);
        let heads = if head_layers.is_empty() {
            None
        } else {
            let mut h = sweep_store(&store, "blocks.*.attn.hook_z", &labels, &sweep_opts, label)?;
            h.group = Some("story_id".into());
            pb.inc(1);
            Some(h)
        };
        probes.push(LabelProbes {
            label,
            labels,
            resid,
            heads,
        });
    }
    let mut best = Vec::new();
    let mut best_heads = Vec::new();
    for p in &probes {
        let b = best_unit(p.resid.layers.iter().filter(|l| l.head.is_none()))
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("no layer gave a finite accuracy for {:?}", p.label)))?;
        save_best_probe(&store, p, &b, &out.join("probes").join(p.label))?;
        best.push(b);
        best_heads.push(
            p.heads
                .as_ref()
                .and_then(|h| best_unit(h.layers.iter().filter(|l| l.head.is_some())).cloned()),
        );
    }

    // 3. Transfer across surface forms, at every probed layer.
    let resid_hooks = store.hooks_matching("blocks.*.hook_resid_post")?;
    let forms: Vec<String> = rows.iter().map(|r| field(r, "form").to_string()).collect();
    let groups: Vec<String> = rows.iter().map(|r| field(r, "story_id").to_string()).collect();
    let mut transfers = Vec::new();
    for p in &probes {
        let y = class_ids(&p.labels)?;
        transfers.push(transfer(
            &store,
            &resid_hooks,
            y,
            &forms,
            &groups,
            opts.folds,
            opts.seed,
        )?);
        pb.inc(1);
    }
    pb.finish_and_clear();

    // 4. Steering on the questions of the chosen stories and forms.
    let mut items = Vec::new();
    let mut conds = Vec::new();
    for q in questions
        .iter()
        .filter(|q| stories.contains(field(q, "story_id")) && opts.steer_forms.iter().any(|f| f == field(q, "form")))
    {
        items.push(question_item(q)?);
        conds.push(field(q, "condition").to_string());
    }
    if let Some(k) = opts.max_questions {
        let keep = balanced(&conds, k);
        items = keep.iter().map(|&i| items[i].clone()).collect();
        conds = keep.iter().map(|&i| conds[i].clone()).collect();
    }
    if items.is_empty() {
        return Err(Error::Invalid(format!(
            "no questions of forms {:?} for the {} chosen stories",
            opts.steer_forms,
            stories.len()
        )));
    }
    let best_layer = best[0].layer.unwrap_or(0);
    let steering = steer(model, &store, &probes, best_layer, &items, &conds, opts, out, progress)?;

    // 5. Figures, results and report.
    let mut figures = layer_figure(&probes, out)?;
    for p in &probes {
        if let Some(h) = &p.heads {
            figures.extend(head_heatmap(p.label, h, &head_layers, cfg.n_heads, out)?);
        }
    }
    figures.extend(transfer_figure(&transfers, out)?);
    figures.extend(steering_figure(&steering, out)?);

    let unit = |l: &LayerResult| {
        json!({"hook": l.hook, "layer": l.layer, "head": l.head, "accuracy": l.accuracy,
               "accuracy_std": l.accuracy_std, "auroc": l.auroc,
               "control_accuracy": l.control_accuracy, "selectivity": l.selectivity})
    };
    let transfer_at = |k: usize| {
        let at = best[k].layer.unwrap_or(0);
        let mut v = json!({"layer": at});
        if let Some(t) = transfers[k].iter().find(|t| t.layer == at) {
            for (form, sc) in &t.forms {
                v[form.as_str()] = json!(sc.accuracy);
            }
        }
        v
    };
    let effects = |grid: &[(f32, ByCondition)]| -> Vec<Value> {
        grid.iter()
            .map(|(a, c)| effect_json(*a, c, &steering.baseline))
            .collect()
    };
    let grid_json = |grid: &[(f32, ByCondition)]| -> Vec<Value> {
        grid.iter()
            .map(|(a, c)| json!({"alpha": alpha64(*a), "by_condition": c}))
            .collect()
    };
    // Built in small pieces: one huge json! literal can exceed the macro recursion limit.
    let baseline_acc: Map<String, Value> = CONDITIONS
        .iter()
        .map(|c| (c.to_string(), json!(accuracy_of(&steering.baseline, c))))
        .collect();
    let best_head = if opts.heads {
        json!({"protagonist": best_heads[0].as_ref().map(unit), "oracle": best_heads[1].as_ref().map(unit)})
    } else {
        Value::Null
    };
    let random_effect = steering
        .random
        .as_ref()
        .map(|(a, c)| effect_json(*a, c, &steering.baseline));
    let steer_headline = json!({
        "layer": steering.layer,
        "questions": steering.n_items,
        "baseline": baseline_acc,
        "residual": effects(steering.residual.as_slice()),
        "heads": effects(steering.heads.as_slice()),
        "random": random_effect,
    });
    let transfer_headline = json!({"train_form": TRAIN_FORM, "protagonist": transfer_at(0), "oracle": transfer_at(1)});
    let headline = json!({
        "protagonist": unit(&best[0]),
        "oracle": unit(&best[1]),
        "best_head": best_head,
        "transfer": transfer_headline,
        "steering": steer_headline,
    });
    let data = json!({
        "dir": opts.data_dir.display().to_string(),
        "stories": stories.len(),
        "statements": rows.len(),
        "questions_steered": items.len(),
        "steer_forms": opts.steer_forms,
    });
    let alphas: Vec<f64> = opts.steer_alphas.iter().map(|a| alpha64(*a)).collect();
    let options = json!({
        "max_stories": opts.max_stories,
        "max_questions": opts.max_questions,
        "layers": layers,
        "head_layers": head_layers,
        "folds": opts.folds,
        "seed": opts.seed,
        "steer_alphas": alphas,
        "top_heads": opts.top_heads,
        "head_scale": alpha64(opts.head_scale),
        "probe": "logistic (C = 1) on standardised activations",
        "control": "permuted labels",
        "positions": "last token of \"Story: ...\\nBelief: ...\"",
    });
    let probes_json: Map<String, Value> = probes
        .iter()
        .map(|p| (p.label.to_string(), json!({"residual": p.resid, "heads": p.heads})))
        .collect();
    let transfer_json = json!({
        "train_form": TRAIN_FORM,
        "design": "probe trained on f0 statements of the training stories, tested on each form of the held-out stories (folds grouped by story)",
        "protagonist": transfers[0],
        "oracle": transfers[1],
    });
    let random_json = steering
        .random
        .as_ref()
        .map(|(a, c)| json!({"alpha": alpha64(*a), "by_condition": c}));
    let steering_json = json!({
        "layer": steering.layer,
        "stats": steering.stats,
        "baseline": steering.baseline,
        "residual": grid_json(steering.residual.as_slice()),
        "heads": grid_json(steering.heads.as_slice()),
        "random": random_json,
    });
    let figure_paths: Vec<String> = figures.iter().map(|f| f.display().to_string()).collect();
    let results = json!({
        "kind": "belief-suite",
        "model": model.name,
        "data": data,
        "options": options,
        "headline": headline,
        "probes": probes_json,
        "transfer": transfer_json,
        "steering": steering_json,
        "figures": figure_paths,
    });
    write_json(&out.join("results.json"), &results)?;
    let md = report(&model.name, &results, &probes, &steering);
    write_atomic(&out.join("report.md"), |f| {
        f.write_all(md.as_bytes()).map_err(|e| e.to_string())
    })?;
    Ok(results)
}

/// Field types checked when reading the data files.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Index,
    TwoStrings,
}

/// Reads a JSONL file of objects, checking that each has `fields` of the right kind.
fn read_rows(path: &Path, fields: &[(&str, Kind)]) -> Result<Vec<Map<String, Value>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = |m: String| Error::bad_file(path, format!("line {}: {m}", i + 1));
        let row = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(at("expected a JSON object".into())),
            Err(e) => return Err(at(format!("malformed JSON: {e}"))),
        };
        for &(key, kind) in fields {
            let (ok, what) = match (row.get(key), kind) {
                (None, _) => return Err(at(format!("missing field {key:?}"))),
                (Some(v), Kind::Str) => (v.is_string(), "a string"),
                (Some(v), Kind::Bool) => (v.is_boolean(), "true or false"),
                (Some(v), Kind::Index) => (v.as_u64().is_some_and(|t| t < 2), "0 or 1"),
                (Some(v), Kind::TwoStrings) => (
                    v.as_array()
                        .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x.is_string())),
                    "a list of two strings",
                ),
            };
            if !ok {
                return Err(at(format!("field {key:?} must be {what}")));
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::bad_file(path, "no rows"));
    }
    Ok(rows)
}

/// A string field already checked by [`read_rows`] ("" if absent).
fn field<'a>(row: &'a Map<String, Value>, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Story ids to use: all, or `max` taken in turn from each schema x condition group (the
/// file lists stories schema by schema, so a prefix would hold one schema only).
fn select_stories(statements: &[Map<String, Value>], max: Option<usize>) -> Result<BTreeSet<String>> {
    let mut groups: Vec<((String, String), Vec<String>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for r in statements {
        let id = field(r, "story_id");
        if !seen.insert(id.to_string()) {
            continue;
        }
        let key = (field(r, "schema").to_string(), field(r, "condition").to_string());
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(id.to_string()),
            None => groups.push((key, vec![id.to_string()])),
        }
    }
    let want = max.unwrap_or(seen.len()).min(seen.len());
    if want < 2 {
        return Err(Error::Invalid(format!(
            "the belief suite needs at least 2 stories (asked for {want})"
        )));
    }
    let mut chosen = BTreeSet::new();
    for round in 0.. {
        for g in &groups {
            if chosen.len() < want {
                if let Some(id) = g.1.get(round) {
                    chosen.insert(id.clone());
                }
            }
        }
        if chosen.len() >= want {
            break;
        }
    }
    Ok(chosen)
}

/// Writes the chosen statement rows as a harvest data file and harvests them into
/// `out/store`, resuming a store made from the same rows, hooks and model, else replacing it.
fn harvest_statements<B: Backend>(
    model: &Model<B>,
    rows: &[&Map<String, Value>],
    hooks: &[HookPoint],
    out: &Path,
    progress: bool,
) -> Result<ActivationStore> {
    let data_dir = out.join("data");
    std::fs::create_dir_all(&data_dir).map_err(|e| Error::io(&data_dir, e))?;
    let data = data_dir.join("statements.jsonl");
    let mut text = String::new();
    for r in rows {
        // Statement rows carry only `text` as a prompt field; the rest rides along as labels.
        text.push_str(&serde_json::to_string(r).map_err(|e| Error::Invalid(e.to_string()))?);
        text.push('\n');
    }
    write_atomic(&data, |f| f.write_all(text.as_bytes()).map_err(|e| e.to_string()))?;
    let store_dir = out.join("store");
    let names: Vec<String> = hooks.iter().map(ToString::to_string).collect();
    let resume = match ActivationStore::open(&store_dir) {
        Ok(s) => {
            s.manifest.model == model.name
                && s.manifest.hooks == names
                && s.manifest.positions == "last"
                && s.manifest.data.sha256 == crate::registry::sha256_file(&data)?
        }
        Err(_) => false,
    };
    let hopts = HarvestOptions {
        hooks: hooks.to_vec(),
        positions: PositionSpec::Last,
        resume,
        // A store of other rows or hooks under our own `out/store` is stale: replace it.
        force: !resume && store_dir.exists(),
        progress,
        ..Default::default()
    };
    harvest(model, &data, &store_dir, &hopts)?;
    ActivationStore::open(&store_dir)
}

/// The class index (0 = false, 1 = true) of each row.
fn class_ids(labels: &Labels) -> Result<&[usize]> {
    match &labels.target {
        Target::Classes(y, _) => Ok(y.as_slice()),
        Target::Values(_) => Err(Error::Invalid("belief labels must be classes".into())),
    }
}

/// The unit with the highest finite accuracy.
fn best_unit<'a>(units: impl Iterator<Item = &'a LayerResult>) -> Option<&'a LayerResult> {
    units
        .filter(|l| l.accuracy.is_finite())
        .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
}

/// Refits the best layer's probe on every row and saves it the way `mindlens probe sweep`
/// does, so `mindlens probe apply` can use it.
fn save_best_probe(store: &ActivationStore, p: &LabelProbes, best: &LayerResult, dir: &Path) -> Result<()> {
    let point: HookPoint = best.hook.parse()?;
    let x = store.load(point)?.mapv(f64::from);
    let probe = LinearProbe::fit_classifier(
        ProbeKind::Logistic,
        x.view(),
        class_ids(&p.labels)?,
        2,
        FitOptions::default(),
    )?;
    let meta = ProbeMeta {
        kind: ProbeKind::Logistic,
        hook: best.hook.clone(),
        head: None,
        positions: store.manifest.positions.clone(),
        model: store.manifest.model.clone(),
        label: p.label.to_string(),
        classes: p.resid.classes.clone(),
        metrics: serde_json::to_value(best).map_err(|e| Error::Invalid(e.to_string()))?,
    };
    save_probe(dir, &probe, &meta)
}

/// Train on `f0` statements of the training stories, test on every form of the held-out
/// stories: new stories and new wording at once. Predictions are pooled over folds.
fn transfer(
    store: &ActivationStore,
    hooks: &[HookPoint],
    y: &[usize],
    forms: &[String],
    groups: &[String],
    folds: usize,
    seed: u64,
) -> Result<Vec<TransferLayer>> {
    let fold_of = group_kfold(groups, folds, seed);
    let n = y.len();
    hooks
        .par_iter()
        .map(|&h| -> Result<TransferLayer> {
            let x = store.load(h)?.mapv(f64::from);
            let mut pooled: BTreeMap<String, (Vec<f64>, Vec<usize>)> = BTreeMap::new();
            for f in 0..folds {
                let train: Vec<usize> = (0..n).filter(|&i| fold_of[i] != f && forms[i] == TRAIN_FORM).collect();
                let ytr: Vec<usize> = train.iter().map(|&i| y[i]).collect();
                let test: Vec<usize> = (0..n).filter(|&i| fold_of[i] == f).collect();
                let both_classes = ytr.contains(&0) && ytr.contains(&1);
                if !both_classes || test.is_empty() {
                    continue; // a fold without both classes to train on cannot fit a classifier
                }
                let probe = LinearProbe::fit_classifier(
                    ProbeKind::Logistic,
                    x.select(Axis(0), &train).view(),
                    &ytr,
                    2,
                    FitOptions::default(),
                )?;
                let proba = probe.predict_proba(x.select(Axis(0), &test).view());
                for (k, &i) in test.iter().enumerate() {
                    let e = pooled.entry(forms[i].clone()).or_default();
                    e.0.push(proba[[k, 1]]);
                    e.1.push(y[i]);
                }
            }
            let forms = pooled
                .into_iter()
                .map(|(form, (p, yy))| {
                    let proba = Array2::from_shape_fn((p.len(), 2), |(i, c)| if c == 1 { p[i] } else { 1.0 - p[i] });
                    let m = classification(proba.view(), &yy);
                    (
                        form,
                        FormScore {
                            accuracy: m.accuracy,
                            auroc: m.auroc,
                            n: yy.len(),
                        },
                    )
                })
                .collect();
            Ok(TransferLayer {
                layer: h.layer().unwrap_or(0),
                forms,
            })
        })
        .collect()
}

/// A question as an A/B item for [`option_probabilities`]: the story and question without
/// the completion stem (the scorer lists the options and scores each option's text after
/// `Answer: `), with the option words as choices.
fn question_item(q: &Map<String, Value>) -> Result<Item> {
    let text = field(q, "text");
    let stem = match text.rsplit_once('\n') {
        Some((head, last)) if last.trim_start().starts_with("Answer:") => head,
        _ => text,
    };
    let choices: Vec<String> = q
        .get("choice_texts")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|c| c.as_str().unwrap_or("").trim().to_string()).collect())
        .unwrap_or_default();
    if choices.len() != 2 || choices.iter().any(String::is_empty) {
        return Err(Error::Invalid(format!(
            "question {:?}: choice_texts must be two non-empty strings",
            field(q, "id")
        )));
    }
    Ok(Item {
        text: Some(stem.to_string()),
        messages: None,
        choices,
        target: q.get("target").and_then(Value::as_u64).unwrap_or(0) as usize,
    })
}

/// Indices of at most `k` items, taken in turn from each condition, in file order.
fn balanced(conds: &[String], k: usize) -> Vec<usize> {
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in conds.iter().enumerate() {
        by.entry(c.as_str()).or_default().push(i);
    }
    let mut keep = Vec::new();
    for round in 0.. {
        let before = keep.len();
        for v in by.values() {
            if keep.len() < k {
                if let Some(&i) = v.get(round) {
                    keep.push(i);
                }
            }
        }
        if keep.len() >= k || keep.len() == before {
            break;
        }
    }
    keep.sort_unstable();
    keep
}

/// Mean of the rows of class `c`.
fn class_mean(x: ArrayView2<f64>, y: &[usize], c: usize) -> Result<Array1<f64>> {
    let idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
    x.select(Axis(0), &idx)
        .mean_axis(Axis(0))
        .ok_or_else(|| Error::Invalid(format!("no rows of class {c} to average")))
}

/// P(correct option) per item: renormalised over the two options, both orders averaged.
fn score_items<B: Backend>(model: &Model<B>, items: &[Item], hooks: &mut HookSet<B>) -> Result<Vec<f64>> {
    Ok(option_probabilities(model, items, ScoreMode::Text, hooks)?
        .iter()
        .map(|p| (p[0] + p[1]) / 2.0)
        .collect())
}

/// Accuracy, mean P(correct) and log-probability gain over `base`, per condition and overall.
fn by_condition(p: &[f64], base: &[f64], conds: &[String]) -> ByCondition {
    let mut names: Vec<&str> = conds.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    names.push("all");
    names
        .into_iter()
        .map(|c| {
            let idx: Vec<usize> = (0..p.len()).filter(|&i| c == "all" || conds[i] == c).collect();
            let n = idx.len().max(1) as f64;
            let score = CondScore {
                n: idx.len(),
                accuracy: idx.iter().filter(|&&i| p[i] > 0.5).count() as f64 / n,
                p_correct: idx.iter().map(|&i| p[i]).sum::<f64>() / n,
                logp_gain: idx
                    .iter()
                    .map(|&i| p[i].max(1e-12).ln() - base[i].max(1e-12).ln())
                    .sum::<f64>()
                    / n,
            };
            (c.to_string(), score)
        })
        .collect()
}

/// The `k` best protagonist heads with their probe directions (refitted on every
/// row, unit length, pointing to "believed") and mean output norms.
fn top_heads(store: &ActivationStore, p: &LabelProbes, k: usize, d_head: usize) -> Result<Vec<SteerHead>> {
    let Some(sweep) = &p.heads else {
        return Ok(Vec::new());
    };
    let mut units: Vec<&LayerResult> = sweep
        .layers
        .iter()
        .filter(|l| l.head.is_some() && l.accuracy.is_finite())
        .collect();
    units.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy));
    let y = class_ids(&p.labels)?;
    let mut z_of: BTreeMap<usize, Array2<f64>> = BTreeMap::new();
    let mut out = Vec::new();
    for u in units.into_iter().take(k) {
        let (Some(layer), Some(head)) = (u.layer, u.head) else {
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(e) = z_of.entry(layer) {
            e.insert(store.load(HookPoint::AttnZ(layer))?.mapv(f64::from));
        }
        let z = &z_of[&layer];
        if (head + 1) * d_head > z.ncols() {
            return Err(Error::Invalid(format!(
                "head {head} of layer {layer} is outside the stored attn.hook_z"
            )));
        }
        let cols = z.slice(s![.., head * d_head..(head + 1) * d_head]).to_owned();
        let probe = LinearProbe::fit_classifier(ProbeKind::Logistic, cols.view(), y, 2, FitOptions::default())?;
        out.push(SteerHead {
            layer,
            head,
            accuracy: u.accuracy,
            norm: mean_norm(cols.view()),
            direction: probe.direction(),
        });
    }
    Ok(out)
}

/// Interventions adding each head's direction, scaled by `alpha * scale * norm`, to that
/// head's slice of `attn.hook_z` (zero elsewhere), at every position.
fn head_hooks<B: Backend>(model: &Model<B>, heads: &[SteerHead], alpha: f32, scale: f32) -> Result<HookSet<B>> {
    let mut hooks = HookSet::default();
    let d_head = model.config.d_head;
    for h in heads {
        let point = HookPoint::AttnZ(h.layer);
        let width = model.config.hook_width(point);
        let start = h.head * d_head;
        if start + h.direction.len() > width {
            return Err(Error::Invalid(format!(
                "head {} does not fit {point} (width {width})",
                h.head
            )));
        }
        let mut v = vec![0f32; width];
        let coef = alpha * scale * h.norm as f32;
        for (k, &d) in h.direction.iter().enumerate() {
            v[start + k] = d * coef;
        }
        hooks.intervene(Intervention::add(point, v, 1.0), width, model.device())?;
    }
    Ok(hooks)
}

/// Step 4: baseline, residual steering at `layer`, head steering and a random control.
#[allow(clippy::too_many_arguments)]
fn steer<B: Backend>(
    model: &Model<B>,
    store: &ActivationStore,
    probes: &[LabelProbes],
    layer: usize,
    items: &[Item],
    conds: &[String],
    opts: &BeliefOptions,
    out: &Path,
    progress: bool,
) -> Result<SteerOutcome> {
    let (prot, oracle) = (&probes[0], &probes[1]);
    let x = store.load(HookPoint::ResidPost(layer))?.mapv(f64::from);
    let y = class_ids(&prot.labels)?;
    let diff = &class_mean(x.view(), y, 1)? - &class_mean(x.view(), y, 0)?;
    let direction: Vec<f32> = diff.iter().map(|&v| v as f32).collect();
    let yo = class_ids(&oracle.labels)?;
    let oracle_diff: Vec<f32> = (&class_mean(x.view(), yo, 1)? - &class_mean(x.view(), yo, 0)?)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let probe_dir =
        LinearProbe::fit_classifier(ProbeKind::Logistic, x.view(), y, 2, FitOptions::default())?.direction();
    let resid_norm = mean_norm(x.view());
    let vectors = SteeringVectors {
        meta: SteerMeta {
            model: model.name.clone(),
            hook: "blocks.{layer}.hook_resid_post".into(),
            method: "mean-diff".into(),
            positions: "last".into(),
            resid_norms: BTreeMap::from([(layer, resid_norm)]),
            stats: json!({"label": "protagonist", "data": "belief statements"}),
            ..Default::default()
        },
        layers: BTreeMap::from([(layer, direction.clone())]),
    };
    // Saved so `mindlens steer apply --vector out/steering_vector --relative` reproduces it.
    vectors.save(&out.join("steering_vector"))?;

    let heads = if opts.top_heads > 0 {
        top_heads(store, prot, opts.top_heads, model.config.d_head)?
    } else {
        Vec::new()
    };
    let alphas: Vec<f32> = opts.steer_alphas.iter().copied().filter(|&a| a != 0.0).collect();
    // The control runs at the strongest positive alpha (else the strongest one).
    let random_alpha = alphas
        .iter()
        .copied()
        .filter(|&a| a > 0.0)
        .max_by(f32::total_cmp)
        .or_else(|| alphas.iter().copied().max_by(|a, b| a.abs().total_cmp(&b.abs())));
    let settings = 1 + alphas.len() * (1 + usize::from(!heads.is_empty())) + usize::from(random_alpha.is_some());
    let pb = stage_bar(progress, "belief steering".into(), settings as u64);

    let base = score_items(model, items, &mut HookSet::default())?;
    pb.inc(1);
    let baseline = by_condition(&base, &base, conds);
    let mut residual = Vec::new();
    for &a in &alphas {
        let mut hooks = HookSet::default();
        add_steering(
            &mut hooks,
            model,
            &vectors,
            &[layer],
            Strength::Relative(a),
            Positions::All,
        )?;
        residual.push((a, by_condition(&score_items(model, items, &mut hooks)?, &base, conds)));
        pb.inc(1);
    }
    let mut head_grid = Vec::new();
    if !heads.is_empty() {
        for &a in &alphas {
            let mut hooks = head_hooks(model, &heads, a, opts.head_scale)?;
            head_grid.push((a, by_condition(&score_items(model, items, &mut hooks)?, &base, conds)));
            pb.inc(1);
        }
    }
    let random = match random_alpha {
        Some(a) => {
            let mut rv = vectors.clone();
            rv.layers.insert(layer, random_direction(direction.len(), opts.seed));
            let mut hooks = HookSet::default();
            add_steering(&mut hooks, model, &rv, &[layer], Strength::Relative(a), Positions::All)?;
            let r = by_condition(&score_items(model, items, &mut hooks)?, &base, conds);
            pb.inc(1);
            Some((a, r))
        }
        None => None,
    };
    pb.finish_and_clear();
    let stats = json!({
        "direction": "mean(protagonist = true) - mean(protagonist = false) at the last statement token",
        "added_at": format!("blocks.{layer}.hook_resid_post, every position of the question prompt"),
        "strength": "alpha * mean residual norm at that layer * unit direction",
        "resid_norm": resid_norm,
        "direction_norm": crate::steer::vector::norm(&direction),
        "cosine_with_protagonist_probe": cosine(&direction, &probe_dir),
        "cosine_with_oracle_mean_diff": cosine(&direction, &oracle_diff),
        "scoring": "mean token log-probability of each option's text after the listed options, renormalised over the two options, both option orders averaged",
        "heads": heads.iter().map(|h| json!({"layer": h.layer, "head": h.head, "accuracy": h.accuracy, "norm": h.norm})).collect::<Vec<_>>(),
        "head_strength": format!("alpha * {} * mean norm of the head's output * unit probe direction", opts.head_scale),
        "random_control": "a random residual direction at the same relative strength",
    });
    Ok(SteerOutcome {
        layer,
        n_items: items.len(),
        baseline,
        residual,
        heads: head_grid,
        random,
        stats,
    })
}

/// Accuracy of a condition (NaN if absent).
fn accuracy_of(c: &ByCondition, cond: &str) -> f64 {
    c.get(cond).map_or(f64::NAN, |x| x.accuracy)
}

/// One steered setting for the headline: accuracy, its change and log-probability gain.
fn effect_json(alpha: f32, c: &ByCondition, base: &ByCondition) -> Value {
    let mut v = json!({"alpha": alpha64(alpha)});
    for cond in CONDITIONS {
        let acc = accuracy_of(c, cond);
        let gain = c.get(cond).map_or(f64::NAN, |x| x.logp_gain);
        v[cond] = json!({"accuracy": acc, "delta_accuracy": acc - accuracy_of(base, cond), "logp_gain": gain});
    }
    v
}

/// Accuracy against layer for both labels, with their control tasks and chance.
fn layer_figure(probes: &[LabelProbes], dir: &Path) -> Result<Vec<PathBuf>> {
    let curve =
        |r: &SweepResults| -> Vec<LayerResult> { r.layers.iter().filter(|l| l.head.is_none()).cloned().collect() };
    let x = |l: &LayerResult| l.layer.unwrap_or(0) as f64;
    let mut series = Vec::new();
    for p in probes {
        let ls = curve(&p.resid);
        series.push(Series {
            label: format!("{} (±1 sd over folds)", p.label),
            points: ls.iter().map(|l| (x(l), l.accuracy)).collect(),
            band: Some(ls.iter().map(|l| l.accuracy_std).collect()),
            reference: false,
        });
    }
    for p in probes {
        let ls = curve(&p.resid);
        series.push(Series {
            label: format!("{} control task", p.label),
            points: ls.iter().map(|l| (x(l), l.control_accuracy)).collect(),
            band: None,
            reference: false,
        });
    }
    let all = curve(&probes[0].resid);
    let (lo, hi) = (all.first().map_or(0.0, x), all.last().map_or(1.0, x));
    let chance = probes[0].resid.chance;
    series.push(Series {
        label: format!("chance ({chance:.2})"),
        points: vec![(lo, chance), (hi, chance)],
        band: None,
        reference: true,
    });
    let chart = LineChart {
        title: "Belief probes: protagonist vs oracle".into(),
        x_label: "layer (blocks.L.hook_resid_post, last token)".into(),
        y_label: "test accuracy (folds by story)".into(),
        series,
        y_range: Some((0.0, 1.02)),
    };
    save_figure(&dir.join("layer_curves"), &chart)
}

/// Layer x head accuracy heatmap of one label.
fn head_heatmap(
    label: &str,
    r: &SweepResults,
    head_layers: &[usize],
    n_heads: usize,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut values = vec![vec![f64::NAN; n_heads]; head_layers.len()];
    for l in &r.layers {
        if let (Some(layer), Some(h)) = (l.layer, l.head) {
            if let Some(row) = head_layers.iter().position(|&x| x == layer) {
                if h < n_heads {
                    values[row][h] = l.accuracy;
                }
            }
        }
    }
    let map = Heatmap {
        title: format!("Per-head probe accuracy: {label}"),
        row_label: "layer".into(),
        col_label: "head".into(),
        values,
        range: None,
        value_label: "test accuracy".into(),
        row_names: Some(head_layers.iter().map(|l| l.to_string()).collect()),
        col_names: None,
    };
    save_figure(&dir.join(format!("heads_{label}")), &map)
}

/// Accuracy against layer of probes trained on f0 and tested on each form.
fn transfer_figure(transfers: &[Vec<TransferLayer>], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut series = Vec::new();
    for (label, t) in LABELS.iter().zip(transfers) {
        let forms: BTreeSet<&String> = t.iter().flat_map(|l| l.forms.keys()).collect();
        for form in forms {
            series.push(Series {
                label: format!("{label}: {TRAIN_FORM} → {form}"),
                points: t
                    .iter()
                    .map(|l| (l.layer as f64, l.forms.get(form).map_or(f64::NAN, |s| s.accuracy)))
                    .collect(),
                band: None,
                reference: false,
            });
        }
    }
    let layers: Vec<f64> = transfers
        .first()
        .map(|t| t.iter().map(|l| l.layer as f64).collect())
        .unwrap_or_default();
    let (lo, hi) = (
        layers.first().copied().unwrap_or(0.0),
        layers.last().copied().unwrap_or(1.0),
    );
    series.push(Series {
        label: "chance (0.50)".into(),
        points: vec![(lo, 0.5), (hi, 0.5)],
        band: None,
        reference: true,
    });
    let chart = LineChart {
        title: "Transfer across surface forms (held-out stories)".into(),
        x_label: "layer (blocks.L.hook_resid_post)".into(),
        y_label: "test accuracy".into(),
        series,
        y_range: Some((0.0, 1.02)),
    };
    save_figure(&dir.join("transfer"), &chart)
}

/// Accuracy against alpha (baseline at 0) for one grid and condition.
fn accuracy_curve(grid: &[(f32, ByCondition)], baseline: &ByCondition, cond: &str) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = grid.iter().map(|(a, c)| (alpha64(*a), accuracy_of(c, cond))).collect();
    pts.push((0.0, accuracy_of(baseline, cond)));
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// Question accuracy against steering strength, false- and true-belief stories apart.
fn steering_figure(st: &SteerOutcome, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut series = Vec::new();
    let grids = [("residual", &st.residual), ("top heads", &st.heads)];
    for (name, grid) in grids {
        if grid.is_empty() && name == "top heads" {
            continue;
        }
        for cond in CONDITIONS {
            series.push(Series {
                label: format!("{name}, {}", cond.replace('_', " ")),
                points: accuracy_curve(grid, &st.baseline, cond),
                band: None,
                reference: false,
            });
        }
    }
    if let Some((a, c)) = &st.random {
        for cond in CONDITIONS {
            series.push(Series {
                label: format!("random direction, {}", cond.replace('_', " ")),
                points: vec![(alpha64(*a), accuracy_of(c, cond))],
                band: None,
                reference: false,
            });
        }
    }
    let xs: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
    let lo = xs.iter().copied().fold(0.0, f64::min);
    let hi = xs.iter().copied().fold(0.0, f64::max);
    series.push(Series {
        label: "chance (0.50)".into(),
        points: vec![(lo, 0.5), (hi, 0.5)],
        band: None,
        reference: true,
    });
    let chart = LineChart {
        title: format!("Steering towards the protagonist's belief (layer {})", st.layer),
        x_label: "alpha (× mean norm at the steered point)".into(),
        y_label: "two-option question accuracy".into(),
        series,
        y_range: Some((0.0, 1.02)),
    };
    save_figure(&dir.join("steering"), &chart)
}

/// A number with three decimals, or "n/a".
fn f3(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "n/a".into(),
    }
}

/// `report.md`: the headline numbers in a few tables.
fn report(model: &str, r: &Value, probes: &[LabelProbes], st: &SteerOutcome) -> String {
    let h = &r["headline"];
    let d = &r["data"];
    let mut md = format!(
        "# Belief tracking: {model}\n\n{} stories, {} statements (forms f0/f1/f2, both conditions), activations at the \
         last token of \"Story: ...\\nBelief: ...\"; logistic probes, {}-fold cross-validation grouped by story, \
         permuted-label control.\n\n## Probes (best residual layer)\n\n| label | layer | accuracy | AUROC | control | \
         best head (layer.head) | head accuracy |\n|---|---|---|---|---|---|---|\n",
        d["stories"], d["statements"], r["options"]["folds"]
    );
    for p in probes {
        let b = &h[p.label];
        let bh = &h["best_head"][p.label];
        let head = match (bh["layer"].as_u64(), bh["head"].as_u64()) {
            (Some(l), Some(k)) => format!("{l}.{k}"),
            _ => "n/a".into(),
        };
        md.push_str(&format!(
            "| {} | {} | {} ± {} | {} | {} | {} | {} |\n",
            p.label,
            b["layer"],
            f3(b["accuracy"].as_f64()),
            f3(b["accuracy_std"].as_f64()),
            f3(b["auroc"].as_f64()),
            f3(b["control_accuracy"].as_f64()),
            head,
            f3(bh["accuracy"].as_f64()),
        ));
    }
    md.push_str(
        "\n## Transfer across surface forms\n\nTrained on f0 statements of the training stories, tested on \
         held-out stories.\n\n| label | layer | f0 | f1 | f2 |\n|---|---|---|---|---|\n",
    );
    for label in LABELS {
        let t = &h["transfer"][label];
        md.push_str(&format!(
            "| {label} | {} | {} | {} | {} |\n",
            t["layer"],
            f3(t["f0"].as_f64()),
            f3(t["f1"].as_f64()),
            f3(t["f2"].as_f64())
        ));
    }
    md.push_str(&format!(
        "\n## Steering\n\n{} questions (forms {}). Direction: mean(protagonist believes) - mean(does not) at layer {}, \
         added at every position with strength alpha x mean residual norm; heads: each of the best protagonist \
         heads' probe direction added to its slice of attn.hook_z. Accuracy = P(correct option) > 0.5 (text of \
         the option scored, both option orders averaged); log-p gain = mean ln P(correct) steered minus unsteered.\n\n\
         | intervention | alpha | false-belief acc | true-belief acc | false-belief log-p gain | true-belief log-p gain |\n\
         |---|---|---|---|---|---|\n",
        st.n_items,
        d["steer_forms"],
        st.layer
    ));
    let mut row = |name: &str, a: f64, c: &ByCondition| {
        let g = |cond: &str| c.get(cond).map(|x| x.logp_gain);
        md.push_str(&format!(
            "| {name} | {a} | {} | {} | {} | {} |\n",
            f3(Some(accuracy_of(c, "false_belief"))),
            f3(Some(accuracy_of(c, "true_belief"))),
            f3(g("false_belief")),
            f3(g("true_belief"))
        ));
    };
    row("none", 0.0, &st.baseline);
    for (a, c) in &st.residual {
        row("residual", alpha64(*a), c);
    }
    for (a, c) in &st.heads {
        row("top heads", alpha64(*a), c);
    }
    if let Some((a, c)) = &st.random {
        row("random direction", alpha64(*a), c);
    }
    md.push_str(&format!(
        "\nCosine of the steering direction with the protagonist probe: {}; with the oracle's mean difference: {}.\n\n\
         Figures: layer_curves, heads_protagonist, heads_oracle, transfer, steering (.svg, .png).\n",
        f3(st.stats["cosine_with_protagonist_probe"].as_f64()),
        f3(st.stats["cosine_with_oracle_mean_diff"].as_f64())
    ));
    md
}
