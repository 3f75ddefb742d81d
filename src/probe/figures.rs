//! Figures of a probe sweep, drawn from its `results.json` alone.

use std::path::{Path, PathBuf};

use super::sweep::SweepResults;
use crate::error::Result;
use crate::plot::{Draw, Heatmap, LineChart, Scatter, Series};

/// Draws every figure a sweep supports into `dir`: accuracy and AUROC against layer with
/// cross-validation bands and the control line; a layer x head heatmap for per-head sweeps;
/// a 2-D PCA scatter of the best layer coloured by label.
pub fn sweep_figures(r: &SweepResults, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let per_layer: Vec<_> = r
        .layers
        .iter()
        .filter(|l| l.head.is_none() && l.layer.is_some())
        .collect();
    if !per_layer.is_empty() {
        let x = |l: &&super::sweep::LayerResult| l.layer.unwrap_or(0) as f64;
        let regression = r.classes.is_empty();
        let metric = if regression { "R²" } else { "accuracy" };
        let mut series = vec![Series {
            label: format!("test {metric} (±1 sd over folds)"),
            points: per_layer.iter().map(|l| (x(l), l.accuracy)).collect(),
            band: Some(per_layer.iter().map(|l| l.accuracy_std).collect()),
            reference: false,
        }];
        if !regression {
            series.push(Series {
                label: "test AUROC".into(),
                points: per_layer.iter().map(|l| (x(l), l.auroc)).collect(),
                band: Some(per_layer.iter().map(|l| l.auroc_std).collect()),
                reference: false,
            });
        }
        if per_layer.iter().any(|l| l.control_accuracy.is_finite()) {
            series.push(Series {
                label: format!("control task {metric}"),
                points: per_layer.iter().map(|l| (x(l), l.control_accuracy)).collect(),
                band: Some(per_layer.iter().map(|l| l.control_accuracy_std).collect()),
                reference: false,
            });
        }
        if let Some(pcs) = per_layer.iter().map(|l| l.pc_accuracy).collect::<Option<Vec<f64>>>() {
            series.push(Series {
                label: format!("top-{} PCs {metric}", r.pcs),
                points: per_layer.iter().zip(pcs).map(|(l, a)| (x(l), a)).collect(),
                band: None,
                reference: false,
            });
        }
        if !regression {
            let (lo, hi) = (x(&per_layer[0]), x(&per_layer[per_layer.len() - 1]));
            series.push(Series {
                label: format!("chance ({:.2})", r.chance),
                points: vec![(lo, r.chance), (hi, r.chance)],
                band: None,
                reference: true,
            });
        }
        let chart = LineChart {
            title: format!("{} probe for \"{}\" ({}-fold CV)", method_name(r), r.label, r.folds),
            x_label: format!("layer ({})", r.hook),
            y_label: if regression {
                "R² (held-out folds)".into()
            } else {
                "score (held-out folds)".into()
            },
            series,
            y_range: if regression { None } else { Some((0.0, 1.02)) },
        };
        out.extend(chart.save(&dir.join("layer_curve"))?);
    }
    let heads: Vec<_> = r.layers.iter().filter(|l| l.head.is_some()).collect();
    if !heads.is_empty() {
        let n_layers = heads.iter().filter_map(|l| l.layer).max().unwrap_or(0) + 1;
        let n_heads = heads.iter().filter_map(|l| l.head).max().unwrap_or(0) + 1;
        let mut values = vec![vec![f64::NAN; n_heads]; n_layers];
        for l in &heads {
            values[l.layer.unwrap_or(0)][l.head.unwrap_or(0)] = l.accuracy;
        }
        let map = Heatmap {
            title: format!("Per-head probe accuracy for \"{}\"", r.label),
            row_label: "layer".into(),
            col_label: "head".into(),
            values,
            range: None,
            value_label: "test accuracy".into(),
            row_names: None,
            col_names: None,
        };
        out.extend(map.save(&dir.join("head_heatmap"))?);
    }
    if let Some(sc) = &r.scatter {
        let groups = sc
            .classes
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let pts = sc
                    .points
                    .iter()
                    .filter(|p| p[2] as usize == c)
                    .map(|p| (p[0], p[1]))
                    .collect();
                (format!("{} = {name}", r.label), pts)
            })
            .collect();
        let plot = Scatter {
            title: format!("PCA of {} activations", sc.hook),
            x_label: format!("PC 1 ({:.1}% of variance)", 100.0 * sc.explained[0]),
            y_label: format!("PC 2 ({:.1}% of variance)", 100.0 * sc.explained[1]),
            groups,
        };
        out.extend(plot.save(&dir.join("pca_scatter"))?);
    }
    Ok(out)
}

fn method_name(r: &SweepResults) -> &'static str {
    match r.method {
        super::ProbeKind::Logistic => "Logistic",
        super::ProbeKind::MeanDiff => "Difference-of-means",
        super::ProbeKind::Ridge => "Ridge",
    }
}
