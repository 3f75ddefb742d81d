//! Steering along a trait direction: questionnaire sweeps per template near the best probe
//! layer, pooled over templates, the selection rule (layer) and the KL calibration (strength),
//! then the behaviour situations.

use std::collections::BTreeMap;

use burn::tensor::backend::Backend;

use super::super::data::{test_rows, to_item, TEMPLATES};
use super::super::results::{Pooled, Steering};
use super::Ctx;
use crate::concepts::data::{mean, std_dev};
use crate::error::{Error, Result};
use crate::hooks::Positions;
use crate::probe::sweep::SweepResults;
use crate::steer::sweep::{choose, sweep, GridPoint, Item, ScoreMode, SteerSweep, SweepSettings};
use crate::steer::SteeringVectors;

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

/// The largest positive strength at `layer` whose KL is within `bound` at `+alpha` and `-alpha`.
fn calibrate(pooled: &[Pooled], layer: usize, bound: f64) -> Option<f32> {
    let kl = |a: f32| {
        pooled
            .iter()
            .find(|p| p.layer == layer && p.alpha == a)
            .map_or(f64::NAN, |p| p.kl)
    };
    pooled
        .iter()
        .filter(|p| p.layer == layer && p.alpha > 0.0 && kl(p.alpha) <= bound && kl(-p.alpha) <= bound)
        .map(|p| p.alpha)
        .max_by(f32::total_cmp)
}

impl<B: Backend> Ctx<'_, B> {
    /// Questionnaire sweeps per template over a few layers near the best probe layer, the
    /// selection rule on their pooled grid, then the behaviour items at the chosen layer.
    pub fn steer(&self, t: &str, v: &SteeringVectors, probe: &SweepResults) -> Result<Steering> {
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
            let pb = self.run.bar(&format!("steer {t} {what}"), 0).with_message("settings");
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
        // The layer is the selection rule's; the strength is then the largest on the grid whose
        // KL is within the bound at both signs, so -alpha and +alpha are equally gentle.
        let layer = match choose(&grid, n_layers, self.opts.kl_bound) {
            Some((l, _)) => l,
            // Nothing meets the KL bound: the best probe layer, flagged, rather than no numbers.
            None => candidates
                .iter()
                .copied()
                .min_by_key(|l| l.abs_diff(best))
                .unwrap_or(best),
        };
        let calibrated = calibrate(&pooled, layer, self.opts.kl_bound);
        let alpha = calibrated.unwrap_or_else(|| self.alphas.iter().copied().find(|&a| a > 0.0).unwrap_or(0.0));
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
            within_kl_bound: calibrated.is_some(),
            pooled_grid: pooled,
            per_template,
            behaviour: run("behaviour", &b_items, vec![layer])?,
        })
    }
}
