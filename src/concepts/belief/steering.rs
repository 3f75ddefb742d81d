//! Step 4: question accuracy steered along the protagonist direction (residual stream and
//! the best heads) against the unsteered baseline and a random direction.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::backend::Backend;
use ndarray::{s, Array2};
use serde::{Deserialize, Serialize};

use super::probes::LabelSweeps;
use crate::concepts::data::alpha64;
use crate::error::{Error, Result};
use crate::harvest::ActivationStore;
use crate::hooks::{HookPoint, HookSet, Intervention, Positions};
use crate::model::Model;
use crate::probe::{FitOptions, Labels, LinearProbe, ProbeKind};
use crate::steer::direction::{mean_difference, mean_norm, random_direction, to_f32};
use crate::steer::sweep::{option_probabilities, Item, ScoreMode};
use crate::steer::vector::{cosine, norm};
use crate::steer::{add_steering, SteeringVectors, Strength};

/// Two-option question scores of one setting in one condition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CondScore {
    /// Questions.
    pub n: usize,
    /// Share of questions whose correct option is more probable (both orders averaged).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy: f64,
    /// Mean probability of the correct option, renormalised over the two options.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub p_correct: f64,
    /// Mean of ln P(correct) steered minus ln P(correct) unsteered.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub logp_gain: f64,
}

/// Scores by condition (`false_belief`, `true_belief`, `all`).
pub type ByCondition = BTreeMap<String, CondScore>;

/// One steered setting.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setting {
    pub alpha: f64,
    pub by_condition: ByCondition,
}

/// A head steered, with its probe accuracy and mean output norm.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeadInfo {
    pub layer: usize,
    pub head: usize,
    pub accuracy: f64,
    pub norm: f64,
}

/// What the direction is and how it relates to the probes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteerStats {
    pub direction: String,
    pub added_at: String,
    pub strength: String,
    pub resid_norm: f64,
    pub direction_norm: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub cosine_with_protagonist_probe: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub cosine_with_oracle_mean_diff: f64,
    pub scoring: String,
    pub heads: Vec<HeadInfo>,
    pub head_strength: String,
    pub random_control: String,
}

/// Everything the steering step measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Steering {
    pub layer: usize,
    pub questions: usize,
    pub stats: SteerStats,
    pub baseline: ByCondition,
    pub residual: Vec<Setting>,
    pub heads: Vec<Setting>,
    pub random: Option<Setting>,
}

/// The questions to steer on, with each one's condition.
pub struct Questions {
    pub items: Vec<Item>,
    pub conditions: Vec<String>,
}

/// What steering needs besides the model and the questions.
pub struct SteerInputs<'a> {
    pub store: &'a ActivationStore,
    pub protagonist: (&'a Labels, &'a LabelSweeps),
    pub oracle: &'a Labels,
    pub layer: usize,
    pub alphas: &'a [f32],
    pub top_heads: usize,
    pub head_scale: f32,
    pub seed: u64,
}

/// Baseline, residual steering at `layer`, head steering and a random control; saves the
/// residual direction to `vector_dir` so `mindlens steer apply --relative` reproduces it.
pub fn steer<B: Backend>(
    model: &Model<B>,
    q: &Questions,
    inp: &SteerInputs,
    vector_dir: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<Steering> {
    let layer = inp.layer;
    let x = inp.store.load(HookPoint::ResidPost(layer))?.mapv(f64::from);
    let class_rows = |l: &Labels, c: usize| -> Result<Vec<usize>> {
        let y = l.class_ids()?;
        Ok((0..y.len()).filter(|&i| y[i] == c).collect())
    };
    let (prot, prot_sweeps) = inp.protagonist;
    let direction = to_f32(&mean_difference(
        x.view(),
        &class_rows(prot, 1)?,
        &class_rows(prot, 0)?,
    )?);
    let oracle_diff = to_f32(&mean_difference(
        x.view(),
        &class_rows(inp.oracle, 1)?,
        &class_rows(inp.oracle, 0)?,
    )?);
    let probe_dir = LinearProbe::fit_classifier(
        ProbeKind::Logistic,
        x.view(),
        prot.class_ids()?,
        2,
        FitOptions::default(),
    )?
    .direction();
    let resid_norm = mean_norm(x.view());
    let mut vectors = SteeringVectors::residual(
        &model.name,
        "mean-diff",
        BTreeMap::from([(layer, direction.clone())]),
        BTreeMap::from([(layer, resid_norm)]),
    );
    vectors.meta.stats = serde_json::json!({"label": "protagonist", "data": "belief statements"});
    vectors.save(vector_dir)?;

    let heads = top_heads(inp.store, prot, prot_sweeps, inp.top_heads, model.config.d_head)?;
    let alphas: Vec<f32> = inp.alphas.iter().copied().filter(|&a| a != 0.0).collect();
    // The control runs at the strongest positive alpha (else the strongest one).
    let random_alpha = alphas
        .iter()
        .copied()
        .filter(|&a| a > 0.0)
        .max_by(f32::total_cmp)
        .or_else(|| alphas.iter().copied().max_by(|a, b| a.abs().total_cmp(&b.abs())));
    let settings = 1 + alphas.len() * (1 + usize::from(!heads.is_empty())) + usize::from(random_alpha.is_some());
    bar.set_length(settings as u64);

    let base = score_items(model, &q.items, &mut HookSet::default())?;
    bar.inc(1);
    let baseline = by_condition(&base, &base, &q.conditions);
    let measure = |a: f32, hooks: &mut HookSet<B>| -> Result<Setting> {
        let p = score_items(model, &q.items, hooks)?;
        bar.inc(1);
        Ok(Setting {
            alpha: alpha64(a),
            by_condition: by_condition(&p, &base, &q.conditions),
        })
    };
    let residual_hooks = |v: &SteeringVectors, a: f32| -> Result<HookSet<B>> {
        let mut hooks = HookSet::default();
        add_steering(&mut hooks, model, v, &[layer], Strength::Relative(a), Positions::All)?;
        Ok(hooks)
    };
    let mut residual = Vec::new();
    for &a in &alphas {
        residual.push(measure(a, &mut residual_hooks(&vectors, a)?)?);
    }
    let mut head_grid = Vec::new();
    if !heads.is_empty() {
        for &a in &alphas {
            head_grid.push(measure(a, &mut head_hooks(model, &heads, a, inp.head_scale)?)?);
        }
    }
    let random = match random_alpha {
        Some(a) => {
            let mut rv = vectors.clone();
            rv.layers.insert(layer, random_direction(direction.len(), inp.seed));
            Some(measure(a, &mut residual_hooks(&rv, a)?)?)
        }
        None => None,
    };
    let stats = SteerStats {
        direction: "mean(protagonist = true) - mean(protagonist = false) at the last statement token".into(),
        added_at: format!("blocks.{layer}.hook_resid_post, every position of the question prompt"),
        strength: "alpha * mean residual norm at that layer * unit direction".into(),
        resid_norm,
        direction_norm: norm(&direction),
        cosine_with_protagonist_probe: cosine(&direction, &probe_dir),
        cosine_with_oracle_mean_diff: cosine(&direction, &oracle_diff),
        scoring:
            "mean token log-probability of each option's text after the listed options, renormalised over the two \
                  options, both option orders averaged"
                .into(),
        heads: heads.iter().map(|h| h.info.clone()).collect(),
        head_strength: format!(
            "alpha * {} * mean norm of the head's output * unit probe direction",
            inp.head_scale
        ),
        random_control: "a random residual direction at the same relative strength".into(),
    };
    Ok(Steering {
        layer,
        questions: q.items.len(),
        stats,
        baseline,
        residual,
        heads: head_grid,
        random,
    })
}

/// A head chosen for steering, with its direction in the head's `d_head` space.
struct SteerHead {
    info: HeadInfo,
    direction: Vec<f32>,
}

/// The `k` best protagonist heads with their probe directions (refitted on every row, unit
/// length, pointing to "believed") and mean output norms.
fn top_heads(
    store: &ActivationStore,
    labels: &Labels,
    sweeps: &LabelSweeps,
    k: usize,
    d_head: usize,
) -> Result<Vec<SteerHead>> {
    let Some(sweep) = sweeps.heads.as_ref().filter(|_| k > 0) else {
        return Ok(Vec::new());
    };
    let mut units: Vec<_> = sweep
        .layers
        .iter()
        .filter(|l| l.head.is_some() && l.accuracy.is_finite())
        .collect();
    units.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy));
    let y = labels.class_ids()?;
    let mut z_of: BTreeMap<usize, Array2<f64>> = BTreeMap::new();
    let mut out = Vec::new();
    for u in units.into_iter().take(k) {
        let (Some(layer), Some(head)) = (u.layer, u.head) else {
            continue;
        };
        let z = match z_of.entry(layer) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(store.load(HookPoint::AttnZ(layer))?.mapv(f64::from))
            }
        };
        if (head + 1) * d_head > z.ncols() {
            return Err(Error::Invalid(format!(
                "head {head} of layer {layer} is outside the stored attn.hook_z"
            )));
        }
        let cols = z.slice(s![.., head * d_head..(head + 1) * d_head]).to_owned();
        let probe = LinearProbe::fit_classifier(ProbeKind::Logistic, cols.view(), y, 2, FitOptions::default())?;
        out.push(SteerHead {
            info: HeadInfo {
                layer,
                head,
                accuracy: u.accuracy,
                norm: mean_norm(cols.view()),
            },
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
        let point = HookPoint::AttnZ(h.info.layer);
        let width = model.config.hook_width(point);
        let start = h.info.head * d_head;
        if start + h.direction.len() > width {
            return Err(Error::Invalid(format!(
                "head {} does not fit {point} (width {width})",
                h.info.head
            )));
        }
        let mut v = vec![0f32; width];
        let coef = alpha * scale * h.info.norm as f32;
        for (k, &d) in h.direction.iter().enumerate() {
            v[start + k] = d * coef;
        }
        hooks.intervene(Intervention::add(point, v, 1.0), width, model.device())?;
    }
    Ok(hooks)
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

/// Accuracy of a condition (NaN if absent).
pub fn accuracy_of(c: &ByCondition, cond: &str) -> f64 {
    c.get(cond).map_or(f64::NAN, |x| x.accuracy)
}
