//! The suite's figures, drawn from `results.json` alone: dose-response per trait, probe
//! accuracy against layer, trait cosines, and projection against self-report.

use std::path::{Path, PathBuf};

use super::results::PersonalityResults;
use crate::concepts::data::{mean, std_dev};
use crate::error::{Error, Result};
use crate::plot::{save_figure, Heatmap, LineChart, Scatter, Series};
use crate::probe::figures::{layer_chart, LayerCurve};
use crate::probe::sweep::SweepResults;

/// Every figure into `dir` (created); returns the files.
pub(super) fn figures(r: &PersonalityResults, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for (t, tr) in traits(r)? {
        let d = &tr.dose_response;
        let xs: Vec<f64> = d.iter().map(|p| p.alpha as f64).collect();
        let line = |label: &str, ys: Vec<f64>| Series::line(label, xs.iter().copied().zip(ys).collect());
        let chart = LineChart::new(
            format!("{t}: steering at layer {}", tr.steering.layer),
            "steering strength alpha (× mean residual norm)",
            "P(high-trait option) / KL (nats)",
            vec![
                line(
                    "questionnaire (±1 sd across templates)",
                    d.iter().map(|p| p.questionnaire).collect(),
                )
                .with_band(d.iter().map(|p| p.template_spread).collect()),
                line("behaviour situations", d.iter().map(|p| p.behaviour).collect()),
                line("KL on neutral prompts", d.iter().map(|p| p.kl).collect()),
            ],
        )
        .with_reference("indifferent (0.5)", 0.5);
        files.extend(save_figure(&dir.join(format!("dose_{t}")), &chart)?);
    }
    files.extend(save_figure(&dir.join("trait_cosine"), &cosine_heatmap(r))?);
    files.extend(save_figure(&dir.join("probe_accuracy"), &probe_chart(r)?)?);
    files.extend(save_figure(&dir.join("projection_vs_score"), &monitoring_scatter(r)?)?);
    Ok(files)
}

/// The per-trait results in the options' trait order (the order of every legend).
fn traits(r: &PersonalityResults) -> Result<Vec<(&String, &super::results::TraitResults)>> {
    r.options
        .traits
        .iter()
        .map(|t| {
            r.traits
                .get(t)
                .map(|tr| (t, tr))
                .ok_or_else(|| Error::Invalid(format!("personality results: no results for trait {t:?}")))
        })
        .collect()
}

/// Cosine similarity between the traits' mean-diff directions at the shared layer.
fn cosine_heatmap(r: &PersonalityResults) -> Heatmap {
    let c = &r.trait_cosine;
    let mut heat = Heatmap::new(
        format!("Cosine between trait directions, layer {}", c.layer),
        "trait",
        "trait",
        c.matrix.clone(),
        "cosine",
    );
    heat.range = Some((-1.0, 1.0));
    heat.row_names = Some(c.traits.clone());
    heat.col_names = Some(c.traits.clone());
    heat
}

/// Probe accuracy against layer for every trait, with the mean control task and chance.
fn probe_chart(r: &PersonalityResults) -> Result<LineChart> {
    let probes: Vec<(&String, &SweepResults)> = traits(r)?.into_iter().map(|(t, tr)| (t, &tr.probe)).collect();
    let curves: Vec<LayerCurve> = probes.iter().map(|(t, p)| LayerCurve::accuracy(*t, p)).collect();
    // Every trait was swept over the same layers in the same order, so index k is one layer.
    let control = r
        .layers
        .iter()
        .enumerate()
        .map(|(k, &l)| {
            let accs: Vec<f64> = probes
                .iter()
                .map(|(_, p)| p.layers.get(k).map_or(f64::NAN, |u| u.control_accuracy))
                .collect();
            (l as f64, mean(&accs))
        })
        .collect();
    let mut chart = layer_chart(
        "High vs low persona, decoded at the last prompt token",
        "layer (hook_resid_post)",
        "probe accuracy (grouped by question)",
        &curves,
    )
    .y_range(0.0, 1.05);
    chart.series.push(Series {
        reference: true,
        ..Series::line("control task (mean)", control)
    });
    Ok(chart.with_reference("chance", 0.5))
}

/// Projection on the trait direction against self-report per graded persona, z-scored per
/// trait so that traits share the x axis.
fn monitoring_scatter(r: &PersonalityResults) -> Result<Scatter> {
    let groups = traits(r)?
        .into_iter()
        .map(|(t, tr)| {
            let pts = &tr.monitoring.points;
            let proj: Vec<f64> = pts.iter().map(|p| p.projection).collect();
            let (pm, ps) = (mean(&proj), std_dev(&proj).max(1e-12));
            (
                t.clone(),
                pts.iter().map(|p| ((p.projection - pm) / ps, p.score)).collect(),
            )
        })
        .collect();
    Ok(Scatter {
        title: "Monitoring: projection vs self-report, graded personas".into(),
        x_label: "projection on trait direction (z-scored per trait)".into(),
        y_label: "questionnaire P(high option)".into(),
        groups,
    })
}
