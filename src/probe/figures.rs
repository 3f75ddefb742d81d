//! Figures of a probe sweep, drawn from its `results.json` alone.

use std::path::{Path, PathBuf};

use super::sweep::{LayerResult, SweepResults};
use crate::error::Result;
use crate::plot::{Draw, Heatmap, LineChart, Scatter, Series};

/// One line of a [`layer_chart`]: a metric of a sweep's per-layer units (heads left out),
/// with an optional ±band.
pub struct LayerCurve<'a> {
    /// Legend label.
    pub label: String,
    /// The sweep.
    pub sweep: &'a SweepResults,
    /// The value drawn.
    pub metric: fn(&LayerResult) -> f64,
    /// Half-width of its band.
    pub band: Option<fn(&LayerResult) -> f64>,
}

impl<'a> LayerCurve<'a> {
    /// Test accuracy, ±1 sd over folds.
    pub fn accuracy(label: impl Into<String>, sweep: &'a SweepResults) -> Self {
        LayerCurve {
            label: label.into(),
            sweep,
            metric: |l| l.accuracy,
            band: Some(|l| l.accuracy_std),
        }
    }

    /// Test AUROC.
    pub fn auroc(label: impl Into<String>, sweep: &'a SweepResults) -> Self {
        LayerCurve {
            label: label.into(),
            sweep,
            metric: |l| l.auroc,
            band: None,
        }
    }

    /// Accuracy of the control task.
    pub fn control(label: impl Into<String>, sweep: &'a SweepResults) -> Self {
        LayerCurve {
            label: label.into(),
            sweep,
            metric: |l| l.control_accuracy,
            band: None,
        }
    }

    /// The same curve with a band.
    pub fn banded(mut self, band: fn(&LayerResult) -> f64) -> Self {
        self.band = Some(band);
        self
    }

    /// The curve as a chart series.
    pub fn series(&self) -> Series {
        let units: Vec<&LayerResult> = self
            .sweep
            .layers
            .iter()
            .filter(|l| l.head.is_none() && l.layer.is_some())
            .collect();
        let points = units
            .iter()
            .map(|l| (l.layer.unwrap_or(0) as f64, (self.metric)(l)))
            .collect();
        let s = Series::line(self.label.clone(), points);
        match self.band {
            Some(b) => s.with_band(units.iter().map(|l| b(l)).collect()),
            None => s,
        }
    }
}

/// Scores against layer, one line per curve, on a 0-1 scale. Add chance or majority-class
/// lines with [`LineChart::with_reference`].
pub fn layer_chart(
    title: impl Into<String>,
    x_label: impl Into<String>,
    y_label: impl Into<String>,
    curves: &[LayerCurve],
) -> LineChart {
    LineChart::new(title, x_label, y_label, curves.iter().map(LayerCurve::series).collect()).y_range(0.0, 1.02)
}

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
        let regression = r.classes.is_empty();
        let metric = if regression { "R²" } else { "accuracy" };
        let mut curves = vec![LayerCurve::accuracy(format!("test {metric} (±1 sd over folds)"), r)];
        if !regression {
            curves.push(LayerCurve::auroc("test AUROC", r).banded(|l| l.auroc_std));
        }
        if per_layer.iter().any(|l| l.control_accuracy.is_finite()) {
            curves.push(LayerCurve::control(format!("control task {metric}"), r).banded(|l| l.control_accuracy_std));
        }
        let mut chart = layer_chart(
            format!("{} probe for \"{}\" ({}-fold CV)", method_name(r), r.label, r.folds),
            format!("layer ({})", r.hook),
            if regression {
                "R² (held-out folds)"
            } else {
                "score (held-out folds)"
            },
            &curves,
        );
        if let Some(pcs) = per_layer.iter().map(|l| l.pc_accuracy).collect::<Option<Vec<f64>>>() {
            let x = |l: &&LayerResult| l.layer.unwrap_or(0) as f64;
            let pts = per_layer.iter().zip(pcs).map(|(l, a)| (x(l), a)).collect();
            chart
                .series
                .push(Series::line(format!("top-{} PCs {metric}", r.pcs), pts));
        }
        if regression {
            chart.y_range = None;
        } else {
            chart = chart.with_reference(format!("chance ({:.2})", r.chance), r.chance);
        }
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
