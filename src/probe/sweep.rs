//! Per-layer (and per-head) probe sweeps with grouped cross-validation, control tasks and a
//! low-rank check, on arrays or on an activation store.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::linear::{FitOptions, LinearProbe, ProbeKind};
use super::metrics::{classification, regression, ClassMetrics};
use super::split::{control_labels, group_kfold, principal_components, Control};
use crate::error::{Error, Result};
use crate::harvest::ActivationStore;
use crate::hooks::HookPoint;

/// Targets of a sweep.
#[derive(Clone, Debug)]
pub enum Target {
    /// Class indices and the class names they stand for (sorted).
    Classes(Vec<usize>, Vec<String>),
    /// Continuous values (ridge probes).
    Values(Vec<f64>),
}

impl Target {
    fn len(&self) -> usize {
        match self {
            Target::Classes(y, _) => y.len(),
            Target::Values(v) => v.len(),
        }
    }
}

/// Labels, groups and (optionally) types of the rows.
#[derive(Clone, Debug)]
pub struct Labels {
    /// What to predict.
    pub target: Target,
    /// Group of each row (rows of a group share a fold).
    pub groups: Vec<String>,
    /// Rows held out of cross-validation for a fixed test split.
    pub holdout: Vec<bool>,
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Labels {
    /// The class index of every row; an error for continuous targets.
    pub fn class_ids(&self) -> Result<&[usize]> {
        match &self.target {
            Target::Classes(y, _) => Ok(y),
            Target::Values(_) => Err(Error::Invalid("these labels are values, not classes".into())),
        }
    }

    /// Reads labels from carried row fields. Classification labels may be strings, integers
    /// or booleans; `regression` reads numbers. Without a group field each row is its own
    /// group. `holdout` is `(field, value)`: rows whose field equals value form the test split.
    pub fn from_rows(
        rows: &[Map<String, Value>],
        label: &str,
        group: Option<&str>,
        holdout: Option<(&str, &str)>,
        regression: bool,
    ) -> Result<Self> {
        let get = |i: usize, f: &str| {
            rows[i]
                .get(f)
                .ok_or_else(|| Error::Invalid(format!("row {i} has no field {f:?}")))
        };
        let target = if regression {
            let vals = (0..rows.len())
                .map(|i| {
                    get(i, label)?
                        .as_f64()
                        .ok_or_else(|| Error::Invalid(format!("row {i}: field {label:?} is not a number")))
                })
                .collect::<Result<Vec<f64>>>()?;
            Target::Values(vals)
        } else {
            let names: Vec<String> = (0..rows.len())
                .map(|i| get(i, label).map(field_text))
                .collect::<Result<_>>()?;
            let mut classes = names.clone();
            classes.sort();
            classes.dedup();
            if classes.len() < 2 {
                return Err(Error::Invalid(format!(
                    "label {label:?} has fewer than two classes: {classes:?}"
                )));
            }
            let y = names
                .iter()
                .map(|n| classes.binary_search(n).expect("class present"))
                .collect();
            Target::Classes(y, classes)
        };
        let groups = match group {
            Some(g) => (0..rows.len())
                .map(|i| get(i, g).map(field_text))
                .collect::<Result<_>>()?,
            None => (0..rows.len()).map(|i| i.to_string()).collect(),
        };
        let holdout = match holdout {
            Some((f, v)) => (0..rows.len())
                .map(|i| rows[i].get(f).map(field_text).as_deref() == Some(v))
                .collect(),
            None => vec![false; rows.len()],
        };
        Ok(Labels {
            target,
            groups,
            holdout,
        })
    }
}

/// Settings of a sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Probe kind.
    pub method: ProbeKind,
    /// Cross-validation folds.
    pub folds: usize,
    /// Seed of fold assignment and control labels.
    pub seed: u64,
    /// Control task (None disables it).
    pub control: Option<Control>,
    /// Principal components for the low-rank check (0 disables it).
    pub pcs: usize,
    /// Regularisation.
    pub fit: FitOptions,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            method: ProbeKind::Logistic,
            folds: 5,
            seed: 0,
            control: Some(Control::Permute),
            pcs: 10,
            fit: FitOptions::default(),
        }
    }
}

/// Results at one layer (or one head of one layer).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LayerResult {
    /// Hook name.
    pub hook: String,
    /// Block index (`null` for hooks outside blocks).
    pub layer: Option<usize>,
    /// Head index for per-head sweeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<usize>,
    /// Mean test accuracy over folds (R^2 for ridge).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy: f64,
    /// Its standard deviation over folds.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy_std: f64,
    /// Mean test AUROC (classification).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub auroc: f64,
    /// Its standard deviation over folds.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub auroc_std: f64,
    /// Mean test metrics over folds.
    pub test: ClassMetrics,
    /// Mean training accuracy.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub train_accuracy: f64,
    /// Train minus test accuracy.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub train_test_gap: f64,
    /// Mean test accuracy of the same probe trained on control labels.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub control_accuracy: f64,
    /// Its standard deviation.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub control_accuracy_std: f64,
    /// `accuracy - control_accuracy`.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub selectivity: f64,
    /// Mean test accuracy of a logistic probe on the top principal components.
    pub pc_accuracy: Option<f64>,
    /// Metrics on the fixed held-out split (probe fitted on all other rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout: Option<ClassMetrics>,
}

/// A whole sweep, as written to `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepResults {
    /// Always `probe-sweep` (lets `mindlens plot` recognise the file).
    pub kind: String,
    /// Probe kind.
    pub method: ProbeKind,
    /// Label field.
    pub label: String,
    /// Group field.
    pub group: Option<String>,
    /// Hook glob swept.
    pub hook: String,
    /// Folds.
    pub folds: usize,
    /// Rows used.
    pub n_rows: usize,
    /// Class names (classification).
    pub classes: Vec<String>,
    /// Chance accuracy: the majority class share.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub chance: f64,
    /// Control task description.
    pub control: String,
    /// Components of the low-rank check.
    pub pcs: usize,
    /// Per layer (and head).
    pub layers: Vec<LayerResult>,
    /// The best layer by test accuracy.
    pub best: Value,
    /// A 2-D PCA projection of the best layer's activations, for the scatter figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scatter: Option<ScatterData>,
}

/// Points of the PCA scatter figure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScatterData {
    /// Hook the activations come from.
    pub hook: String,
    /// Class names, indexed by the third coordinate of each point.
    pub classes: Vec<String>,
    /// Share of variance along the two components.
    pub explained: [f64; 2],
    /// `[pc1, pc2, class]` per row.
    pub points: Vec<[f64; 3]>,
}

/// PCA scatter data of `x` `[rows, d]` (standardised) coloured by classification labels.
pub fn scatter_data(x: ArrayView2<f64>, labels: &Labels, hook: &str) -> Option<ScatterData> {
    let Target::Classes(y, classes) = &labels.target else {
        return None;
    };
    let z = super::linear::Scaler::fit(x).transform(x);
    let comps = principal_components(z.view(), 2, 0);
    let proj = z.dot(&comps.t());
    let total: f64 = z.var_axis(Axis(0), 0.0).sum();
    let var = proj.var_axis(Axis(0), 0.0);
    Some(ScatterData {
        hook: hook.to_string(),
        classes: classes.clone(),
        explained: [var[0] / total, var.get(1).copied().unwrap_or(0.0) / total],
        points: proj
            .outer_iter()
            .zip(y)
            .map(|(p, &c)| [p[0], p.get(1).copied().unwrap_or(0.0), c as f64])
            .collect(),
    })
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

fn average(ms: &[ClassMetrics]) -> ClassMetrics {
    let f = |g: fn(&ClassMetrics) -> f64| mean_std(&ms.iter().map(g).collect::<Vec<_>>()).0;
    ClassMetrics {
        accuracy: f(|m| m.accuracy),
        balanced_accuracy: f(|m| m.balanced_accuracy),
        auroc: f(|m| m.auroc),
        log_loss: f(|m| m.log_loss),
        f1: f(|m| m.f1),
        brier: f(|m| m.brier),
        ece: f(|m| m.ece),
    }
}

/// Fits on `train` rows and evaluates on `test` rows; returns (test metrics, train accuracy).
fn fit_eval(
    x: ArrayView2<f64>,
    target: &Target,
    train: &[usize],
    test: &[usize],
    kind: ProbeKind,
    fit: FitOptions,
) -> Result<(ClassMetrics, f64)> {
    let (xtr, xte) = (x.select(Axis(0), train), x.select(Axis(0), test));
    match target {
        Target::Classes(y, classes) => {
            let ytr: Vec<usize> = train.iter().map(|&i| y[i]).collect();
            let yte: Vec<usize> = test.iter().map(|&i| y[i]).collect();
            let p = LinearProbe::fit_classifier(kind, xtr.view(), &ytr, classes.len(), fit)?;
            let m = classification(p.predict_proba(xte.view()).view(), &yte);
            let tr = classification(p.predict_proba(xtr.view()).view(), &ytr).accuracy;
            Ok((m, tr))
        }
        Target::Values(v) => {
            let ytr: Vec<f64> = train.iter().map(|&i| v[i]).collect();
            let yte: Vec<f64> = test.iter().map(|&i| v[i]).collect();
            let p = LinearProbe::fit_regression(xtr.view(), &ytr, fit)?;
            let r2_te = regression(&p.scores(xte.view()).column(0).to_vec(), &yte).0;
            let r2_tr = regression(&p.scores(xtr.view()).column(0).to_vec(), &ytr).0;
            Ok((
                ClassMetrics {
                    accuracy: r2_te,
                    ..Default::default()
                },
                r2_tr,
            ))
        }
    }
}

/// Cross-validates one activation matrix `[rows, d]`.
pub fn evaluate_layer(x: ArrayView2<f64>, labels: &Labels, opts: &SweepOptions) -> Result<LayerResult> {
    let n = labels.target.len();
    if x.nrows() != n {
        return Err(Error::Invalid(format!("{} activation rows for {n} labels", x.nrows())));
    }
    let cv_rows: Vec<usize> = (0..n).filter(|&i| !labels.holdout[i]).collect();
    let cv_groups: Vec<String> = cv_rows.iter().map(|&i| labels.groups[i].clone()).collect();
    let fold_of = group_kfold(&cv_groups, opts.folds, opts.seed);
    let control_target = match (&opts.control, &labels.target) {
        (Some(c), Target::Classes(y, names)) => Some(Target::Classes(control_labels(y, c, opts.seed), names.clone())),
        (Some(_), Target::Values(v)) => {
            let mut c = v.clone();
            crate::harvest::store::shuffle(&mut c, &mut crate::generate::SplitMix64::new(opts.seed ^ 0xC0471201));
            Some(Target::Values(c))
        }
        (None, _) => None,
    };
    let (mut test, mut train_acc, mut ctrl, mut pc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for f in 0..opts.folds {
        let train: Vec<usize> = cv_rows
            .iter()
            .zip(&fold_of)
            .filter(|(_, &k)| k != f)
            .map(|(&i, _)| i)
            .collect();
        let held: Vec<usize> = cv_rows
            .iter()
            .zip(&fold_of)
            .filter(|(_, &k)| k == f)
            .map(|(&i, _)| i)
            .collect();
        if held.is_empty() || train.is_empty() {
            continue;
        }
        if let Target::Classes(y, _) = &labels.target {
            let mut seen: Vec<usize> = train.iter().map(|&i| y[i]).collect();
            seen.sort();
            seen.dedup();
            if seen.len() < 2 {
                continue; // a fold whose training rows hold one class cannot fit a classifier
            }
        }
        let (m, tr) = fit_eval(x, &labels.target, &train, &held, opts.method, opts.fit)?;
        test.push(m);
        train_acc.push(tr);
        if let Some(ct) = &control_target {
            ctrl.push(fit_eval(x, ct, &train, &held, opts.method, opts.fit)?.0.accuracy);
        }
        if opts.pcs > 0 && matches!(labels.target, Target::Classes(..)) {
            let xtr = x.select(Axis(0), &train);
            let comps = principal_components(xtr.view(), opts.pcs, opts.seed);
            let proj = x.dot(&comps.t());
            pc.push(
                fit_eval(
                    proj.view(),
                    &labels.target,
                    &train,
                    &held,
                    ProbeKind::Logistic,
                    opts.fit,
                )?
                .0
                .accuracy,
            );
        }
    }
    if test.is_empty() {
        return Err(Error::Invalid(
            "no fold had both classes in training and rows to test".into(),
        ));
    }
    let (acc, acc_std) = mean_std(&test.iter().map(|m| m.accuracy).collect::<Vec<_>>());
    let (auroc, auroc_std) = mean_std(&test.iter().map(|m| m.auroc).collect::<Vec<_>>());
    let (tr, _) = mean_std(&train_acc);
    let (c, c_std) = mean_std(&ctrl);
    let holdout = if labels.holdout.iter().any(|&h| h) {
        let test_rows: Vec<usize> = (0..n).filter(|&i| labels.holdout[i]).collect();
        Some(fit_eval(x, &labels.target, &cv_rows, &test_rows, opts.method, opts.fit)?.0)
    } else {
        None
    };
    Ok(LayerResult {
        accuracy: acc,
        accuracy_std: acc_std,
        auroc,
        auroc_std,
        test: average(&test),
        train_accuracy: tr,
        train_test_gap: tr - acc,
        control_accuracy: c,
        control_accuracy_std: c_std,
        selectivity: acc - c,
        pc_accuracy: (!pc.is_empty()).then(|| mean_std(&pc).0),
        holdout,
        ..Default::default()
    })
}

/// One unit of a sweep: a hook, optionally one head of it, and its activations.
pub struct SweepUnit {
    /// The hook.
    pub hook: HookPoint,
    /// The head, for per-head sweeps.
    pub head: Option<usize>,
    /// `[rows, d]` activations.
    pub x: Array2<f64>,
}

/// Sweeps every unit in parallel and assembles the results.
pub fn sweep_units(
    units: Vec<SweepUnit>,
    labels: &Labels,
    opts: &SweepOptions,
    label: &str,
    hook: &str,
) -> Result<SweepResults> {
    let layers = units
        .par_iter()
        .map(|u| {
            let mut r = evaluate_layer(u.x.view(), labels, opts)?;
            r.hook = u.hook.to_string();
            r.layer = u.hook.layer();
            r.head = u.head;
            Ok(r)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(finish(layers, labels, opts, label, hook))
}

fn finish(layers: Vec<LayerResult>, labels: &Labels, opts: &SweepOptions, label: &str, hook: &str) -> SweepResults {
    let (classes, chance) = match &labels.target {
        Target::Classes(y, names) => {
            let mut counts = vec![0usize; names.len()];
            y.iter().for_each(|&c| counts[c] += 1);
            (
                names.clone(),
                *counts.iter().max().unwrap_or(&0) as f64 / y.len().max(1) as f64,
            )
        }
        Target::Values(_) => (Vec::new(), 0.0),
    };
    let best = best_by_accuracy(&layers)
        .map(|l| serde_json::json!({"hook": l.hook, "layer": l.layer, "head": l.head, "accuracy": l.accuracy, "auroc": l.auroc, "selectivity": l.selectivity}))
        .unwrap_or(Value::Null);
    SweepResults {
        kind: "probe-sweep".into(),
        method: opts.method,
        label: label.to_string(),
        group: None,
        hook: hook.to_string(),
        folds: opts.folds,
        n_rows: labels.target.len(),
        classes,
        chance,
        control: match &opts.control {
            Some(Control::Permute) => "permuted labels".into(),
            Some(Control::PerType(_)) => "Hewitt-Liang control labels per type".into(),
            None => "none".into(),
        },
        pcs: opts.pcs,
        layers,
        best,
        scatter: None,
    }
}

/// Sweeps the hooks of a store matching `hook_glob`; hooks named `attn.hook_z` are swept per
/// head as well. Rows come from the store's `rows.jsonl`.
pub fn sweep_store(
    store: &ActivationStore,
    hook_glob: &str,
    labels: &Labels,
    opts: &SweepOptions,
    label: &str,
) -> Result<SweepResults> {
    if store.manifest.multi_token {
        return Err(Error::Invalid(format!(
            "store {} holds several vectors per row (positions {}); probes need one per row (last, mean or span:)",
            store.dir().display(),
            store.manifest.positions
        )));
    }
    let hooks = store.hooks_matching(hook_glob)?;
    let cfg = &store.manifest.model_config;
    let n_heads = cfg["n_heads"].as_u64().unwrap_or(1) as usize;
    let d_head = cfg["d_head"].as_u64().unwrap_or(1) as usize;
    let mut units = Vec::new();
    for h in hooks {
        let x = store.load(h)?.mapv(f64::from);
        if matches!(h, HookPoint::AttnZ(_)) {
            for head in 0..n_heads {
                let cols = x.slice(ndarray::s![.., head * d_head..(head + 1) * d_head]).to_owned();
                units.push(SweepUnit {
                    hook: h,
                    head: Some(head),
                    x: cols,
                });
            }
        }
        units.push(SweepUnit { hook: h, head: None, x });
    }
    sweep_units(units, labels, opts, label, hook_glob)
}

/// The unit with the highest finite test accuracy: a sweep's best layer (or head).
pub fn best_by_accuracy<'a>(units: impl IntoIterator<Item = &'a LayerResult>) -> Option<&'a LayerResult> {
    units
        .into_iter()
        .filter(|l| l.accuracy.is_finite())
        .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
}

/// Labels of a store's rows (see [`Labels::from_rows`]) and the sweep's control: with a
/// per-type control, `type_field` names each row's type.
pub fn store_labels(
    store: &ActivationStore,
    label: &str,
    group: Option<&str>,
    holdout: Option<(&str, &str)>,
    type_field: Option<&str>,
    opts: &mut SweepOptions,
) -> Result<Labels> {
    let rows = store.rows()?;
    let labels = Labels::from_rows(&rows, label, group, holdout, opts.method == ProbeKind::Ridge)?;
    if let (Some(Control::PerType(_)), Some(f)) = (&opts.control, type_field) {
        let types = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.get(f)
                    .map(field_text)
                    .ok_or_else(|| Error::Invalid(format!("row {i} has no field {f:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        opts.control = Some(Control::PerType(types));
    }
    Ok(labels)
}

/// The probe of the sweep's best unit (by test accuracy) refitted on every row, with the
/// metadata `save_probe` writes; adds the best unit's 2-D scatter to `results`. None when no
/// unit has a finite accuracy.
pub fn fit_best(
    store: &ActivationStore,
    results: &mut SweepResults,
    labels: &Labels,
    opts: &SweepOptions,
) -> Result<Option<(LinearProbe, super::ProbeMeta)>> {
    let Some(best) = best_by_accuracy(&results.layers).cloned() else {
        return Ok(None);
    };
    let point: HookPoint = best.hook.parse()?;
    let mut x = store.load(point)?.mapv(f64::from);
    if let Some(h) = best.head {
        let dh = store.manifest.model_config["d_head"].as_u64().unwrap_or(1) as usize;
        x = x.slice(ndarray::s![.., h * dh..(h + 1) * dh]).to_owned();
    }
    results.scatter = scatter_data(x.view(), labels, &best.hook);
    let probe = match &labels.target {
        Target::Classes(y, names) => LinearProbe::fit_classifier(opts.method, x.view(), y, names.len(), opts.fit)?,
        Target::Values(v) => LinearProbe::fit_regression(x.view(), v, opts.fit)?,
    };
    let meta = super::ProbeMeta {
        kind: opts.method,
        hook: best.hook.clone(),
        head: best.head,
        positions: store.manifest.positions.clone(),
        model: store.manifest.model.clone(),
        label: results.label.clone(),
        classes: results.classes.clone(),
        metrics: serde_json::to_value(&best).map_err(|e| Error::Invalid(e.to_string()))?,
    };
    Ok(Some((probe, meta)))
}
