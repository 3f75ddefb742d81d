//! Step 2, the entity probe: logistic known-vs-unknown probes per layer at the last token of
//! the neutral frame, folds grouped by entity, a permuted-label control, transfer across
//! entity types at the best layer, and the probe saved so `mindlens probe apply` reports
//! P(known). The probe helpers here serve the P(IK) step too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::super::data::{is_unknown, Entity, KNOWN, REAL};
use super::super::options::KnowledgeOptions;
use super::super::results::TransferScore;
use crate::error::{Error, Result};
use crate::harvest::{ActivationStore, PositionSpec};
use crate::hooks::HookPoint;
use crate::probe::metrics::classification;
use crate::probe::split::group_kfold;
use crate::probe::sweep::{sweep_units, LayerResult, SweepUnit};
use crate::probe::{save_probe, FitOptions, Labels, LinearProbe, ProbeKind, ProbeMeta, SweepOptions, SweepResults};

/// Last-token activations per harvested layer, `[rows, d_model]`, rows in data order.
pub(in super::super) type Acts = BTreeMap<usize, Array2<f32>>;

pub(in super::super) fn load_layers(store: &ActivationStore, layers: &[usize]) -> Result<Acts> {
    layers
        .iter()
        .map(|&l| -> Result<(usize, Array2<f32>)> { Ok((l, store.load(HookPoint::ResidPost(l))?)) })
        .collect()
}

pub(in super::super) fn layer_of(acts: &Acts, layer: usize) -> Result<&Array2<f32>> {
    acts.get(&layer)
        .ok_or_else(|| Error::Invalid(format!("layer {layer} was not harvested")))
}

/// Boolean labels (sorting as `["false", "true"]`, so class 1 is `field` being true) grouped
/// by entity.
pub(in super::super) fn bool_labels(field: &str, values: &[bool], groups: &[String]) -> Result<Labels> {
    let rows: Vec<Map<String, Value>> = values
        .iter()
        .zip(groups)
        .map(|(&v, g)| {
            let mut m = Map::new();
            m.insert(field.into(), Value::Bool(v));
            m.insert("entity".into(), Value::from(g.clone()));
            m
        })
        .collect();
    Labels::from_rows(&rows, field, Some("entity"), None, false)
}

/// Logistic probes per layer on rows `rows` of `acts`, folds grouped by `labels.groups`, with
/// the permuted-label control.
pub(in super::super) fn sweep_layers(
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
    let mut r = sweep_units(units, labels, &sopts, label, HookPoint::RESID_POST_GLOB)?;
    r.group = Some("entity".into());
    Ok(r)
}

/// The layer with the highest cross-validated AUROC (classes are unbalanced, so accuracy would
/// favour whichever probe predicts the majority class), then accuracy; exact ties go to the
/// layer nearest the middle of the network.
pub(in super::super) fn best_layer(r: &SweepResults, n_layers: usize) -> Option<&LayerResult> {
    let mid = n_layers as f64 / 2.0;
    let finite_or_worst = |v: f64| if v.is_finite() { v } else { f64::NEG_INFINITY };
    let dist = |l: &LayerResult| (l.layer.unwrap_or(0) as f64 - mid).abs();
    r.layers
        .iter()
        .filter(|l| l.layer.is_some() && (l.auroc.is_finite() || l.accuracy.is_finite()))
        .max_by(|&a, &b| {
            finite_or_worst(a.auroc)
                .total_cmp(&finite_or_worst(b.auroc))
                .then_with(|| finite_or_worst(a.accuracy).total_cmp(&finite_or_worst(b.accuracy)))
                .then_with(|| dist(b).total_cmp(&dist(a)))
        })
}

/// Refits a logistic probe on every row and saves it the way `mindlens probe sweep` does.
/// (`probe::fit_best` picks by accuracy and fits every store row; this suite picks by AUROC
/// and fits the labelled rows only.)
pub(in super::super) fn save_layer_probe(
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

/// Class probabilities `[test, 2]` of a logistic probe fitted on the `train` rows; None when
/// the training rows lack a class or there is nothing to test.
pub(in super::super) fn fit_and_score(
    x: ArrayView2<f64>,
    y: &[usize],
    train: &[usize],
    test: &[usize],
) -> Result<Option<Array2<f64>>> {
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

/// Out-of-fold P(class 1) of every row under the sweep's grouped folds (NaN for rows of a
/// fold whose training rows lack a class).
pub(in super::super) fn out_of_fold(
    x: ArrayView2<f64>,
    y: &[usize],
    groups: &[String],
    folds: usize,
    seed: u64,
) -> Result<Vec<f64>> {
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

/// Step 2's outcome (the `probe` stage).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(in super::super) struct KnownProbe {
    pub(in super::super) sweep: SweepResults,
    pub(in super::super) best: LayerResult,
    /// Entity indices of the known/unknown rows, in probe row order.
    pub(in super::super) labelled: Vec<usize>,
    pub(in super::super) y: Vec<usize>,
    pub(in super::super) transfer: BTreeMap<String, TransferScore>,
    /// P(known) of every selected entity from the probe refitted on all labelled rows.
    pub(in super::super) p_known: Vec<f64>,
    /// The probe's direction, widened from f32 so that it reads back bit for bit.
    pub(in super::super) direction: Vec<f64>,
}

/// Known-vs-unknown probes per layer on the entities' last tokens, cross-type transfer at the
/// best layer, and the probe saved into `dir`.
pub(in super::super) fn probe_known(
    acts: &Acts,
    selected: &[Entity],
    status: &[&'static str],
    opts: &KnowledgeOptions,
    n_layers: usize,
    model: &str,
    dir: &Path,
) -> Result<KnownProbe> {
    let labelled: Vec<usize> = (0..status.len())
        .filter(|&i| status[i] == KNOWN || is_unknown(status[i]))
        .collect();
    let n_known = labelled.iter().filter(|&&i| status[i] == KNOWN).count();
    let n_unknown = labelled.len() - n_known;
    if n_known < 2 || n_unknown < 2 {
        let n_real = selected.iter().filter(|e| e.source == REAL).count();
        return Err(Error::Invalid(format!(
            "the model knows {n_known} of {n_real} real entities and {n_unknown} entities are unknown or \
             fabricated; the probes need at least 2 of each (raise max_entities or max_new_tokens)"
        )));
    }
    let known: Vec<bool> = labelled.iter().map(|&i| status[i] == KNOWN).collect();
    let groups: Vec<String> = labelled.iter().map(|&i| selected[i].group.clone()).collect();
    let labels = bool_labels("known", &known, &groups)?;
    let y = labels.class_ids()?.to_vec();
    let sweep = sweep_layers(acts, &labelled, &labels, opts, "known")?;
    let best = best_layer(&sweep, n_layers)
        .cloned()
        .ok_or_else(|| Error::Invalid("no layer gave a finite score for known vs unknown".into()))?;
    let x_all = layer_of(acts, best.layer.unwrap_or(0))?.mapv(f64::from);
    let x = x_all.select(Axis(0), &labelled);
    let types: Vec<String> = labelled.iter().map(|&i| selected[i].kind.clone()).collect();
    let all_types: BTreeSet<String> = selected.iter().map(|e| e.kind.clone()).collect();
    let transfer = transfer_by_type(x.view(), &y, &types, &all_types)?;
    let probe = save_layer_probe(x.view(), &y, &best, &sweep.classes, "known", model, dir)?;
    let p_known = probe.predict_proba(x_all.view()).column(1).to_vec();
    Ok(KnownProbe {
        sweep,
        best,
        labelled,
        y,
        transfer,
        p_known,
        direction: probe.direction().into_iter().map(f64::from).collect(),
    })
}
