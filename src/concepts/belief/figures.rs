//! The belief suite's figures, drawn from its results alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::results::BeliefResults;
use super::steering::{accuracy_of, ByCondition, Setting};
use super::{CONDITIONS, LABELS, TRAIN_FORM};
use crate::error::{Error, Result};
use crate::plot::{Draw, Heatmap, LineChart, Series};
use crate::probe::figures::{layer_chart, LayerCurve};

/// Every figure: probe accuracy against layer, per-head heatmaps, transfer and steering.
pub fn draw(r: &BeliefResults, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = layer_figure(r, dir)?;
    for label in LABELS {
        if let Some(h) = r.probes.get(label).and_then(|p| p.heads.as_ref()) {
            files.extend(head_heatmap(label, h, &r.options.head_layers, dir)?);
        }
    }
    files.extend(transfer_figure(r, dir)?);
    files.extend(steering_figure(r, dir)?);
    Ok(files)
}

/// Accuracy against layer for both labels, with their control tasks and chance.
fn layer_figure(r: &BeliefResults, dir: &Path) -> Result<Vec<PathBuf>> {
    let sweeps: Vec<(&str, _)> = LABELS
        .iter()
        .filter_map(|&l| Some((l, &r.probes.get(l)?.residual)))
        .collect();
    let mut curves: Vec<LayerCurve> = sweeps
        .iter()
        .map(|(l, s)| LayerCurve::accuracy(format!("{l} (±1 sd over folds)"), s))
        .collect();
    curves.extend(
        sweeps
            .iter()
            .map(|(l, s)| LayerCurve::control(format!("{l} control task"), s)),
    );
    let chance = sweeps.first().map_or(0.5, |s| s.1.chance);
    layer_chart(
        "Belief probes: protagonist vs oracle",
        "layer (blocks.L.hook_resid_post, last token)",
        "test accuracy (folds by story)",
        &curves,
    )
    .with_reference(format!("chance ({chance:.2})"), chance)
    .save(&dir.join("layer_curves"))
}

/// Layer x head accuracy heatmap of one label.
fn head_heatmap(
    label: &str,
    r: &crate::probe::SweepResults,
    head_layers: &[usize],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let n_heads = r.layers.iter().filter_map(|l| l.head).max().map_or(0, |h| h + 1);
    let mut values = vec![vec![f64::NAN; n_heads]; head_layers.len()];
    for l in &r.layers {
        if let (Some(layer), Some(h)) = (l.layer, l.head) {
            if let Some(row) = head_layers.iter().position(|&x| x == layer) {
                values[row][h] = l.accuracy;
            }
        }
    }
    let mut map = Heatmap::new(
        format!("Per-head probe accuracy: {label}"),
        "layer",
        "head",
        values,
        "test accuracy",
    );
    map.row_names = Some(head_layers.iter().map(|l| l.to_string()).collect());
    map.save(&dir.join(format!("heads_{label}")))
}

/// Accuracy against layer of probes trained on f0 and tested on each form.
fn transfer_figure(r: &BeliefResults, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut series = Vec::new();
    for (label, t) in [("protagonist", &r.transfer.protagonist), ("oracle", &r.transfer.oracle)] {
        let forms: BTreeSet<&String> = t.iter().flat_map(|l| l.forms.keys()).collect();
        for form in forms {
            let pts = t
                .iter()
                .map(|l| (l.layer as f64, l.forms.get(form).map_or(f64::NAN, |s| s.accuracy)))
                .collect();
            series.push(Series::line(format!("{label}: {TRAIN_FORM} → {form}"), pts));
        }
    }
    LineChart::new(
        "Transfer across surface forms (held-out stories)",
        "layer (blocks.L.hook_resid_post)",
        "test accuracy",
        series,
    )
    .y_range(0.0, 1.02)
    .with_reference("chance (0.50)", 0.5)
    .save(&dir.join("transfer"))
}

/// Accuracy against alpha (baseline at 0) for one grid and condition.
fn accuracy_curve(grid: &[Setting], baseline: &ByCondition, cond: &str) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = grid
        .iter()
        .map(|s| (s.alpha, accuracy_of(&s.by_condition, cond)))
        .collect();
    pts.push((0.0, accuracy_of(baseline, cond)));
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// Question accuracy against steering strength, false- and true-belief stories apart.
fn steering_figure(r: &BeliefResults, dir: &Path) -> Result<Vec<PathBuf>> {
    let st = &r.steering;
    let mut series = Vec::new();
    for (name, grid) in [("residual", &st.residual), ("top heads", &st.heads)] {
        if grid.is_empty() && name == "top heads" {
            continue;
        }
        for cond in CONDITIONS {
            let pts = accuracy_curve(grid, &st.baseline, cond);
            series.push(Series::line(format!("{name}, {}", cond.replace('_', " ")), pts));
        }
    }
    if let Some(s) = &st.random {
        for cond in CONDITIONS {
            let pts = vec![(s.alpha, accuracy_of(&s.by_condition, cond))];
            series.push(Series::line(
                format!("random direction, {}", cond.replace('_', " ")),
                pts,
            ));
        }
    }
    LineChart::new(
        format!("Steering towards the protagonist's belief (layer {})", st.layer),
        "alpha (× mean norm at the steered point)",
        "two-option question accuracy",
        series,
    )
    .y_range(0.0, 1.02)
    .with_reference("chance (0.50)", 0.5)
    .save(&dir.join("steering"))
}
