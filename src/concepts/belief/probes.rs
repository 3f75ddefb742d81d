//! Steps 2-3: protagonist and oracle probes per layer and head, the best layer's probes
//! saved, and transfer across surface forms.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{LABELS, TRAIN_FORM};
use crate::error::{Error, Result};
use crate::harvest::ActivationStore;
use crate::hooks::HookPoint;
use crate::probe::metrics::classification;
use crate::probe::split::group_kfold;
use crate::probe::sweep::{best_by_accuracy, LayerResult};
use crate::probe::{
    save_probe, sweep_store, Control, FitOptions, Labels, LinearProbe, ProbeKind, ProbeMeta, SweepOptions, SweepResults,
};

/// Sweeps of one label: residual stream per layer and (optionally) attention heads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabelSweeps {
    pub residual: SweepResults,
    pub heads: Option<SweepResults>,
}

/// Probe scores on one surface form of held-out stories.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FormScore {
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub auroc: f64,
    pub n: usize,
}

/// Transfer results at one layer: test form -> scores.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferLayer {
    pub layer: usize,
    pub forms: BTreeMap<String, FormScore>,
}

/// Labels of `label` for the store's rows, folds grouped by story.
pub fn labels(store: &ActivationStore, label: &str) -> Result<Labels> {
    Labels::from_rows(&store.rows()?, label, Some("story_id"), None, false)
}

/// Logistic probes per layer (and per head when `heads`) for each label, with the
/// permuted-label control; the best layer's probe of each label is refitted on every row
/// and saved under `probes_dir/{label}/`.
pub fn sweep_labels(
    store: &ActivationStore,
    heads: bool,
    folds: usize,
    seed: u64,
    probes_dir: &Path,
) -> Result<BTreeMap<String, LabelSweeps>> {
    let opts = SweepOptions {
        method: ProbeKind::Logistic,
        folds,
        seed,
        control: Some(Control::Permute),
        pcs: 10,
        fit: FitOptions::default(),
    };
    let mut out = BTreeMap::new();
    for label in LABELS {
        let labels = labels(store, label)?;
        let sweep = |glob: &str| -> Result<SweepResults> {
            let mut r = sweep_store(store, glob, &labels, &opts, label)?;
            r.group = Some("story_id".into());
            Ok(r)
        };
        let residual = sweep(HookPoint::RESID_POST_GLOB)?;
        let heads = if heads {
            Some(sweep("blocks.*.attn.hook_z")?)
        } else {
            None
        };
        let best = best_by_accuracy(residual.layers.iter().filter(|l| l.head.is_none()))
            .ok_or_else(|| Error::Invalid(format!("no layer gave a finite accuracy for {label:?}")))?;
        save_best_probe(store, &labels, &residual, best, &probes_dir.join(label))?;
        out.insert(label.to_string(), LabelSweeps { residual, heads });
    }
    Ok(out)
}

/// Refits the best layer's probe on every row and saves it the way `mindlens probe sweep`
/// does, so `mindlens probe apply` can use it.
fn save_best_probe(
    store: &ActivationStore,
    labels: &Labels,
    sweep: &SweepResults,
    best: &LayerResult,
    dir: &Path,
) -> Result<()> {
    let x = store.load(best.hook.parse()?)?.mapv(f64::from);
    let probe = LinearProbe::fit_classifier(
        ProbeKind::Logistic,
        x.view(),
        labels.class_ids()?,
        2,
        FitOptions::default(),
    )?;
    let meta = ProbeMeta {
        kind: ProbeKind::Logistic,
        hook: best.hook.clone(),
        head: None,
        positions: store.manifest.positions.clone(),
        model: store.manifest.model.clone(),
        label: sweep.label.clone(),
        classes: sweep.classes.clone(),
        metrics: serde_json::to_value(best).map_err(|e| Error::Invalid(e.to_string()))?,
    };
    save_probe(dir, &probe, &meta)
}

/// Train on `f0` statements of the training stories, test on every form of the held-out
/// stories: new stories and new wording at once. Predictions are pooled over folds.
pub fn transfer(store: &ActivationStore, label: &str, folds: usize, seed: u64) -> Result<Vec<TransferLayer>> {
    let rows = store.rows()?;
    let text = |k: &str| -> Vec<String> {
        rows.iter()
            .map(|r| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string())
            .collect()
    };
    let (forms, groups) = (text("form"), text("story_id"));
    let labels = labels(store, label)?;
    let y = labels.class_ids()?;
    let fold_of = group_kfold(&groups, folds, seed);
    let n = y.len();
    store
        .hooks_matching(HookPoint::RESID_POST_GLOB)?
        .par_iter()
        .map(|&h| -> Result<TransferLayer> {
            let x = store.load(h)?.mapv(f64::from);
            let mut pooled: BTreeMap<String, (Vec<f64>, Vec<usize>)> = BTreeMap::new();
            for f in 0..folds {
                let train: Vec<usize> = (0..n).filter(|&i| fold_of[i] != f && forms[i] == TRAIN_FORM).collect();
                let ytr: Vec<usize> = train.iter().map(|&i| y[i]).collect();
                let test: Vec<usize> = (0..n).filter(|&i| fold_of[i] == f).collect();
                if !(ytr.contains(&0) && ytr.contains(&1)) || test.is_empty() {
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
                    let score = FormScore {
                        accuracy: m.accuracy,
                        auroc: m.auroc,
                        n: yy.len(),
                    };
                    (form, score)
                })
                .collect();
            Ok(TransferLayer {
                layer: h.layer().unwrap_or(0),
                forms,
            })
        })
        .collect()
}
