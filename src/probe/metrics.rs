//! Classification and calibration metrics for probes.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// Metrics of a classifier on one set of rows.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ClassMetrics {
    /// Fraction of rows whose most probable class is the label.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub accuracy: f64,
    /// Mean per-class recall.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub balanced_accuracy: f64,
    /// Area under the ROC curve (binary), or the macro one-vs-rest mean.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub auroc: f64,
    /// Mean negative log-likelihood of the label.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub log_loss: f64,
    /// F1 of class 1 (binary), or the macro mean.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub f1: f64,
    /// Mean squared error of the probability vector against the one-hot label.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub brier: f64,
    /// Expected calibration error of the top-class probability, 10 equal-width bins.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub ece: f64,
}

/// Area under the ROC curve of `scores` for positives `pos` (ties count one half).
pub fn auroc(scores: &[f64], pos: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let n_pos = pos.iter().filter(|&&p| p).count() as f64;
    let n_neg = pos.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    // Mann-Whitney U with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if pos[k] {
                rank_sum += avg;
            }
        }
        i = j + 1;
    }
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Expected calibration error with `bins` equal-width bins of the top-class confidence, and
/// the per-bin (confidence, accuracy, count) for reliability diagrams.
pub fn calibration(proba: ArrayView2<f64>, y: &[usize], bins: usize) -> (f64, Vec<(f64, f64, usize)>) {
    let mut acc = vec![(0.0, 0.0, 0usize); bins];
    for (i, row) in proba.outer_iter().enumerate() {
        let (pred, conf) = row
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |b, (k, &p)| if p > b.1 { (k, p) } else { b });
        let bin = ((conf * bins as f64) as usize).min(bins - 1);
        acc[bin].0 += conf;
        acc[bin].1 += (pred == y[i]) as u8 as f64;
        acc[bin].2 += 1;
    }
    let n = y.len().max(1) as f64;
    let mut ece = 0.0;
    let table = acc
        .into_iter()
        .map(|(c, a, k)| {
            if k > 0 {
                ece += (k as f64 / n) * (c / k as f64 - a / k as f64).abs();
                (c / k as f64, a / k as f64, k)
            } else {
                (f64::NAN, f64::NAN, 0)
            }
        })
        .collect();
    (ece, table)
}

/// All classification metrics from class probabilities `[rows, classes]` and labels.
pub fn classification(proba: ArrayView2<f64>, y: &[usize]) -> ClassMetrics {
    let (n, k) = proba.dim();
    let k = k.max(2);
    let pred: Vec<usize> = proba
        .outer_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |b, (c, &p)| if p > b.1 { (c, p) } else { b })
                .0
        })
        .collect();
    let accuracy = pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / n.max(1) as f64;
    let mut recalls = Vec::new();
    let mut f1s = Vec::new();
    let mut aurocs = Vec::new();
    for c in 0..k {
        let tp = (0..n).filter(|&i| pred[i] == c && y[i] == c).count() as f64;
        let fp = (0..n).filter(|&i| pred[i] == c && y[i] != c).count() as f64;
        let fn_ = (0..n).filter(|&i| pred[i] != c && y[i] == c).count() as f64;
        if tp + fn_ > 0.0 {
            recalls.push(tp / (tp + fn_));
        }
        f1s.push(if tp > 0.0 {
            2.0 * tp / (2.0 * tp + fp + fn_)
        } else {
            0.0
        });
        let scores: Vec<f64> = proba.column(c.min(proba.ncols() - 1)).to_vec();
        let pos: Vec<bool> = y.iter().map(|&v| v == c).collect();
        aurocs.push(auroc(&scores, &pos));
    }
    let mean = |v: &[f64]| {
        let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let eps = 1e-15;
    let log_loss = (0..n).map(|i| -proba[[i, y[i]]].clamp(eps, 1.0).ln()).sum::<f64>() / n.max(1) as f64;
    let brier = (0..n)
        .map(|i| {
            (0..proba.ncols())
                .map(|c| (proba[[i, c]] - (y[i] == c) as u8 as f64).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n.max(1) as f64;
    let binary = proba.ncols() == 2;
    ClassMetrics {
        accuracy,
        balanced_accuracy: mean(&recalls),
        auroc: if binary { aurocs[1] } else { mean(&aurocs) },
        log_loss,
        f1: if binary { f1s[1] } else { mean(&f1s) },
        brier: if binary { brier / 2.0 } else { brier },
        ece: calibration(proba, y, 10).0,
    }
}

/// Regression metrics: coefficient of determination, mean squared error, Pearson r.
pub fn regression(pred: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let n = y.len().max(1) as f64;
    let my = y.iter().sum::<f64>() / n;
    let mp = pred.iter().sum::<f64>() / n;
    let ss_res: f64 = pred.iter().zip(y).map(|(p, t)| (p - t).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|t| (t - my).powi(2)).sum();
    let cov: f64 = pred.iter().zip(y).map(|(p, t)| (p - mp) * (t - my)).sum();
    let vp: f64 = pred.iter().map(|p| (p - mp).powi(2)).sum();
    (
        1.0 - ss_res / ss_tot.max(1e-300),
        ss_res / n,
        cov / (vp * ss_tot).sqrt().max(1e-300),
    )
}

/// Pearson correlation of two samples.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    regression(a, b).2
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn auroc_counts_pairs_and_ties() {
        assert_eq!(auroc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), 0.75);
        assert_eq!(auroc(&[0.5, 0.5], &[false, true]), 0.5);
    }

    #[test]
    fn metrics_of_a_known_binary_case() {
        let p = array![[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]];
        let m = classification(p.view(), &[0, 1, 0, 1]);
        assert_eq!(m.accuracy, 0.5);
        assert_eq!(m.balanced_accuracy, 0.5);
        assert!((m.f1 - 0.5).abs() < 1e-12);
        let ll = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln() + 0.3f64.ln()) / 4.0;
        assert!((m.log_loss - ll).abs() < 1e-12);
        // Brier on the positive class: ((.1)^2 + (.2)^2 + (.6)^2 + (.7)^2) / 4
        assert!((m.brier - 0.225).abs() < 1e-12);
    }
}
