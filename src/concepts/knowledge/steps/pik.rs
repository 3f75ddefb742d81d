//! Step 5, P(IK): the last token of each usable question prompt, probed for whether the
//! model's own answer was correct; AUROC, Brier score, expected calibration error and a
//! reliability diagram from pooled out-of-fold predictions.

use burn::tensor::backend::Backend;
use ndarray::Array2;

use super::super::answers::Verdict;
use super::super::data::{Entity, QuestionRow, REAL};
use super::super::options::KnowledgeOptions;
use super::super::results::{PikSection, ReliabilityBin};
use super::ask::Asked;
use super::probe::{best_layer, bool_labels, layer_of, load_layers, out_of_fold, save_layer_probe, sweep_layers};
use crate::concepts::SuiteRun;
use crate::error::{Error, Result};
use crate::harvest::{harvest_rows, PositionSpec};
use crate::hooks::HookPoint;
use crate::model::Model;
use crate::probe::metrics::{calibration, classification};

/// Bins of the reliability diagram.
const BINS: usize = 10;

/// `[rows, 2]` class probabilities from P(class 1).
fn two_columns(p: &[f64]) -> Array2<f64> {
    Array2::from_shape_fn((p.len(), 2), |(i, c)| if c == 1 { p[i] } else { 1.0 - p[i] })
}

/// (mean predicted P(correct), fraction correct, count) per bin of P(correct).
fn reliability(p: &[f64], y: &[usize]) -> Vec<ReliabilityBin> {
    let mut acc = vec![(0.0, 0.0, 0usize); BINS];
    for (&pi, &yi) in p.iter().zip(y) {
        let b = ((pi * BINS as f64) as usize).min(BINS - 1);
        acc[b].0 += pi;
        acc[b].1 += yi as f64;
        acc[b].2 += 1;
    }
    acc.into_iter()
        .map(|(s, c, k)| ReliabilityBin {
            mean_p_correct: if k > 0 { s / k as f64 } else { f64::NAN },
            fraction_correct: if k > 0 { c / k as f64 } else { f64::NAN },
            count: k,
        })
        .collect()
}

/// P(IK) probes at `layers`; None (said) when too few answers were right or wrong to probe.
pub(in super::super) fn pik<B: Backend>(
    model: &Model<B>,
    opts: &KnowledgeOptions,
    run: &SuiteRun,
    layers: &[usize],
    selected: &[Entity],
    asked: &[Asked],
    verdicts: &[Verdict],
) -> Result<Option<PikSection>> {
    // Real entities only: a fabricated entity's answer is never right, so its questions
    // would teach the probe to spot fabricated names rather than the model's own accuracy.
    let keep: Vec<usize> = (0..asked.len())
        .filter(|&k| !asked[k].leaky && selected[asked[k].entity].source == REAL)
        .collect();
    let n_correct = keep.iter().filter(|&&k| verdicts[k].correct).count();
    if n_correct < 2 || keep.len() - n_correct < 2 {
        run.say(&format!(
            "P(IK) skipped: {n_correct} of {} questions answered correctly",
            keep.len()
        ));
        return Ok(None);
    }
    // The harvest rows carry no labels, so the store stays valid whatever the answers were.
    let rows: Vec<QuestionRow> = keep
        .iter()
        .map(|&k| {
            let a = &asked[k];
            let e = &selected[a.entity];
            QuestionRow {
                attribute: &e.questions[a.question].attribute,
                entity: &e.entity,
                group: &e.group,
                text: (!a.prompt.rendered_chat).then_some(a.prompt.text.as_str()),
                raw: a.prompt.rendered_chat.then_some(a.prompt.text.as_str()),
                kind: &e.kind,
            }
        })
        .collect();
    run.say(&format!("harvesting {} question prompts for P(IK)", rows.len()));
    let out = run.out();
    let hooks: Vec<HookPoint> = layers.iter().map(|&l| HookPoint::ResidPost(l)).collect();
    let store = harvest_rows(
        model,
        &rows,
        &out.join("data").join("questions.jsonl"),
        &out.join("pik_store"),
        &hooks,
        PositionSpec::Last,
        run.progress(),
    )?;
    let acts = load_layers(&store, layers)?;
    let correct: Vec<bool> = keep.iter().map(|&k| verdicts[k].correct).collect();
    let groups: Vec<String> = keep.iter().map(|&k| selected[asked[k].entity].group.clone()).collect();
    let labels = bool_labels("correct", &correct, &groups)?;
    let y = labels.class_ids()?.to_vec();
    let all: Vec<usize> = (0..keep.len()).collect();
    let sweep = sweep_layers(&acts, &all, &labels, opts, "correct")?;
    let best = best_layer(&sweep, model.config.n_layers)
        .cloned()
        .ok_or_else(|| Error::Invalid("no layer gave a finite P(IK) score".into()))?;
    let x = layer_of(&acts, best.layer.unwrap_or(0))?.mapv(f64::from);
    let p = out_of_fold(x.view(), &y, &labels.groups, opts.folds, opts.seed)?;
    let ok: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    let p_ok: Vec<f64> = ok.iter().map(|&i| p[i]).collect();
    let y_ok: Vec<usize> = ok.iter().map(|&i| y[i]).collect();
    let proba = two_columns(&p_ok);
    let pooled = classification(proba.view(), &y_ok);
    let (ece, _) = calibration(proba.view(), &y_ok, BINS);
    save_layer_probe(
        x.view(),
        &y,
        &best,
        &sweep.classes,
        "correct",
        &model.name,
        &out.join("probes").join("pik"),
    )?;
    Ok(Some(PikSection {
        sweep,
        best,
        pooled_out_of_fold: pooled,
        ece,
        reliability: reliability(&p_ok, &y_ok),
        questions: keep.len(),
        correct: n_correct,
        saved: "probes/pik (classes [\"false\", \"true\"]: the probability is P(correct))".into(),
    }))
}
