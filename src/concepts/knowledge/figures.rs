//! The suite's figures, drawn from its results alone (`mindlens plot` redraws them).

use std::path::{Path, PathBuf};

use super::data::{FABRICATED, KNOWN, UNKNOWN};
use super::results::{ConditionResult, KnowledgeResults, LatentInfo, PikSection, RateOf, SaeSection};
use crate::error::{Error, Result};
use crate::plot::{save_figure, Heatmap, LineChart, Series};
use crate::probe::figures::{layer_chart, LayerCurve};

/// probe_layers, separation, steering_rates and (when P(IK) ran) reliability, as .svg and .png.
pub(super) fn figures(r: &KnowledgeResults, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = layer_figure(r, &dir.join("probe_layers"))?;
    out.extend(separation_figure(&r.sae, &dir.join("separation"))?);
    out.extend(rates_figure(r, &dir.join("steering_rates"))?);
    if let Some(p) = &r.pik {
        out.extend(reliability_figure(p, &dir.join("reliability"))?);
    }
    Ok(out)
}

/// Known-vs-unknown accuracy (band: sd over folds), AUROC and control against layer, with the
/// P(IK) AUROC and the majority-class rate.
fn layer_figure(r: &KnowledgeResults, stem: &Path) -> Result<Vec<PathBuf>> {
    let known = &r.probe.sweep;
    let mut curves = vec![
        LayerCurve::accuracy("known vs unknown accuracy (±1 sd)", known),
        LayerCurve::auroc("known vs unknown AUROC", known),
        LayerCurve::control("control task (permuted labels)", known),
    ];
    if let Some(p) = &r.pik {
        curves.push(LayerCurve::auroc("P(IK) AUROC (question prompt)", &p.sweep));
    }
    let chart = layer_chart(
        "Does the model know this entity? (last name token)",
        "layer (blocks.L.hook_resid_post)",
        "cross-validated score (grouped by entity)",
        &curves,
    )
    .with_reference(format!("majority class ({:.2})", known.chance), known.chance);
    save_figure(stem, &chart)
}

/// Histograms of the separation scores of the kept latents (log counts, so the tails show),
/// with the latents chosen for steering marked.
fn separation_figure(sae: &SaeSection, stem: &Path) -> Result<Vec<PathBuf>> {
    let bins = sae.histogram.bins;
    let points = |c: &[usize]| -> Vec<(f64, f64)> {
        c.iter()
            .enumerate()
            .map(|(b, &n)| (-1.0 + (b as f64 + 0.5) * 2.0 / bins as f64, (1.0 + n as f64).log10()))
            .collect()
    };
    let known = points(&sae.histogram.known);
    let unknown = points(&sae.histogram.unknown);
    let top = known.iter().chain(&unknown).map(|p| p.1).fold(0.0, f64::max).max(0.5);
    let mark = |label: &str, info: &LatentInfo| {
        Series::line(
            format!("{label} latent {} ({:.2})", info.latent, info.score),
            vec![(info.score, 0.0), (info.score, top)],
        )
    };
    let mut series = vec![
        Series::line("known − unknown", known),
        Series::line("unknown − known", unknown),
    ];
    if let (Some(k), Some(u)) = (sae.known_latents.first(), sae.unknown_latents.first()) {
        series.push(mark("chosen known", k));
        series.push(mark("chosen unknown", u));
    }
    let chart = LineChart::new(
        format!("SAE separation scores, layer {} ({})", sae.layer, sae.separation),
        "separation score (fires on A minus fires on B)",
        "log10(1 + latents)",
        series,
    );
    save_figure(stem, &chart)
}

/// Short column names of the conditions, so they fit under the heatmap.
fn short_name(c: &str) -> &str {
    match c {
        "original" => "orig",
        "unknown_latent" => "+U lat",
        "known_latent" => "+K lat",
        "unknown_mean_diff" => "+U md",
        "known_mean_diff" => "+K md",
        "random" => "random",
        "ablated" => "ablate",
        other => other,
    }
}

/// Refusal, correct and hallucination rates by condition at the headline's strength, as a
/// heatmap.
fn rates_figure(r: &KnowledgeResults, stem: &Path) -> Result<Vec<PathBuf>> {
    let alpha = r.headline.refusal_steering.alpha;
    let shown: Vec<&ConditionResult> = r
        .steering
        .conditions
        .iter()
        .filter(|c| c.alpha.is_none_or(|a| a == alpha))
        .collect();
    let metrics: [(&str, &str, RateOf); 4] = [
        ("refuse K", KNOWN, |r| r.refusal),
        ("correct K", KNOWN, |r| r.correct),
        ("halluc U", UNKNOWN, |r| r.hallucination),
        ("halluc F", FABRICATED, |r| r.hallucination),
    ];
    let values: Vec<Vec<f64>> = metrics
        .iter()
        .map(|(_, cat, f)| shown.iter().map(|c| c.get(cat, *f)).collect())
        .collect();
    let mut map = Heatmap::new(
        format!("Steering at layer {} (alpha {alpha}): answer rates", r.steering.layer),
        "K known, U unknown, F fabricated",
        "condition (U/K: towards unknown/known; lat: SAE latent, md: mean diff)",
        values,
        "rate",
    );
    map.range = Some((0.0, 1.0));
    map.row_names = Some(metrics.iter().map(|m| m.0.to_string()).collect());
    map.col_names = Some(shown.iter().map(|c| short_name(&c.condition).to_string()).collect());
    save_figure(stem, &map)
}

/// Reliability diagram of the P(IK) probe: observed fraction correct against mean predicted
/// P(correct) per bin, with the diagonal.
fn reliability_figure(p: &PikSection, stem: &Path) -> Result<Vec<PathBuf>> {
    let pts: Vec<(f64, f64)> = p
        .reliability
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| (b.mean_p_correct, b.fraction_correct))
        .collect();
    let mut diagonal = Series::line("perfect calibration", vec![(0.0, 0.0), (1.0, 1.0)]);
    diagonal.reference = true;
    let chart = LineChart::new(
        format!(
            "P(IK) reliability, layer {} (ECE {:.3})",
            p.best.layer.unwrap_or(0),
            p.ece
        ),
        "predicted P(correct), 10 bins (out of fold)",
        "fraction answered correctly",
        vec![Series::line("P(IK) probe", pts), diagonal],
    )
    .y_range(0.0, 1.02);
    save_figure(stem, &chart)
}
