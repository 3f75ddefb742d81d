//! Figures of a steering sweep, drawn from its `results.json` alone.

use std::path::{Path, PathBuf};

use super::sweep::SteerSweep;
use crate::error::Result;
use crate::plot::{Draw, Heatmap, LineChart, Series};

/// Dose-response at the chosen (or first) layer: behaviour metric and KL against alpha; and a
/// layer x alpha heatmap of the metric.
pub fn sweep_figures(r: &SteerSweep, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut layers: Vec<usize> = r.grid.iter().map(|g| g.layer).collect();
    layers.dedup();
    let mut alphas: Vec<f32> = r.grid.iter().map(|g| g.alpha).collect();
    alphas.sort_by(f32::total_cmp);
    alphas.dedup();
    let layer = r
        .chosen
        .as_ref()
        .and_then(|c| c["layer"].as_u64())
        .map(|l| l as usize)
        .or_else(|| layers.first().copied());
    let unit = if r.relative { " (× mean residual norm)" } else { "" };
    if let Some(layer) = layer {
        let mut pts: Vec<_> = r.grid.iter().filter(|g| g.layer == layer).collect();
        pts.sort_by(|a, b| a.alpha.total_cmp(&b.alpha));
        let x = |g: &&super::sweep::GridPoint| g.alpha as f64;
        let baseline = r.baseline["metric"].as_f64().unwrap_or(f64::NAN);
        let (lo, hi) = (pts.first().map(x).unwrap_or(0.0), pts.last().map(x).unwrap_or(1.0));
        let chart = LineChart {
            title: format!("Dose-response at layer {layer}"),
            x_label: format!("steering strength alpha{unit}"),
            y_label: "P(behaviour) / KL (nats)".into(),
            series: vec![
                Series {
                    label: "P(behaviour option), both orders (±1 sd over items)".into(),
                    points: pts.iter().map(|g| (x(g), g.metric)).collect(),
                    band: Some(pts.iter().map(|g| g.metric_std).collect()),
                    reference: false,
                },
                Series {
                    label: "KL on neutral prompts".into(),
                    points: pts.iter().map(|g| (x(g), g.kl)).collect(),
                    band: None,
                    reference: false,
                },
                Series {
                    label: format!("unsteered ({baseline:.2})"),
                    points: vec![(lo, baseline), (hi, baseline)],
                    band: None,
                    reference: true,
                },
            ],
            y_range: None,
        };
        out.extend(chart.save(&dir.join("dose_response"))?);
    }
    if layers.len() > 1 {
        let values = layers
            .iter()
            .map(|&l| {
                alphas
                    .iter()
                    .map(|&a| {
                        r.grid
                            .iter()
                            .find(|g| g.layer == l && g.alpha == a)
                            .map_or(f64::NAN, |g| g.metric)
                    })
                    .collect()
            })
            .collect();
        let map = Heatmap {
            title: "Behaviour by layer and strength".into(),
            row_label: "layer".into(),
            col_label: format!("alpha{unit}"),
            values,
            range: Some((0.0, 1.0)),
            value_label: "P(behaviour option)".into(),
            row_names: Some(layers.iter().map(|l| l.to_string()).collect()),
            col_names: Some(alphas.iter().map(|a| format!("{a}")).collect()),
        };
        out.extend(map.save(&dir.join("layer_alpha_heatmap"))?);
    }
    Ok(out)
}
