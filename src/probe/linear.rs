//! Linear probes: L2 logistic regression (binary and multinomial), difference of means
//! (mass-mean) and ridge regression, on standardised activations.
//!
//! Every probe is `score = ((x - mean) / scale) . w + b`, so one artifact format and one
//! scoring rule serve all kinds (see [`super::artifact`]).

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::lbfgs::{minimize, LbfgsOptions};
use crate::error::{Error, Result};

/// What a probe fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// L2-regularised logistic regression (softmax for more than two classes).
    Logistic,
    /// Difference of class means (mass-mean probe), calibrated by a 1-D logistic fit.
    MeanDiff,
    /// Ridge regression for continuous targets.
    Ridge,
}

/// Per-feature standardisation fitted on training rows.
#[derive(Clone, Debug)]
pub struct Scaler {
    /// Feature means.
    pub mean: Array1<f64>,
    /// Feature standard deviations (1 where a feature is constant).
    pub scale: Array1<f64>,
}

impl Scaler {
    /// Fits means and standard deviations.
    pub fn fit(x: ArrayView2<f64>) -> Self {
        let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(x.ncols()));
        let var = x.var_axis(Axis(0), 0.0);
        let scale = var.mapv(|v| if v > 1e-12 { v.sqrt() } else { 1.0 });
        Scaler { mean, scale }
    }

    /// No-op scaling of width `d`.
    pub fn identity(d: usize) -> Self {
        Scaler {
            mean: Array1::zeros(d),
            scale: Array1::ones(d),
        }
    }

    /// Standardises rows.
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        (&x - &self.mean) / &self.scale
    }
}

/// A fitted linear probe.
#[derive(Clone, Debug)]
pub struct LinearProbe {
    /// Kind of fit.
    pub kind: ProbeKind,
    /// Number of classes (0 for regression).
    pub n_classes: usize,
    /// Input standardisation.
    pub scaler: Scaler,
    /// `[outputs, d]`: one row for binary and regression probes, one per class otherwise.
    pub weights: Array2<f64>,
    /// `[outputs]`.
    pub bias: Array1<f64>,
}

/// Settings of a probe fit.
#[derive(Clone, Copy, Debug)]
pub struct FitOptions {
    /// Inverse L2 strength for logistic regression (scikit-learn's `C`).
    pub c: f64,
    /// L2 strength for ridge regression.
    pub ridge_alpha: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            c: 1.0,
            ridge_alpha: 1.0,
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Logistic regression on already standardised `z` (binary: labels 0/1). Objective:
/// summed log-loss + `||w||^2 / (2C)`, intercept unpenalised, as scikit-learn.
fn fit_logistic_std(z: &Array2<f64>, y: &[usize], n_classes: usize, c: f64) -> (Array2<f64>, Array1<f64>) {
    let (n, d) = z.dim();
    let lam = 1.0 / c;
    if n_classes <= 2 {
        let yf: Array1<f64> = y.iter().map(|&v| v as f64).collect();
        let res = minimize(
            |p, g| {
                let w = ndarray::ArrayView1::from(&p[..d]);
                let b = p[d];
                let s = z.dot(&w) + b;
                let mut loss = 0.0;
                let mut r = Array1::<f64>::zeros(n);
                for i in 0..n {
                    // log(1 + e^s) - y s, computed stably.
                    let si = s[i];
                    loss += si.max(0.0) + (-si.abs()).exp().ln_1p() - yf[i] * si;
                    r[i] = sigmoid(si) - yf[i];
                }
                let gw = z.t().dot(&r) + &w * lam;
                g[..d].copy_from_slice(gw.as_slice().expect("contiguous"));
                g[d] = r.sum();
                loss + 0.5 * lam * w.dot(&w)
            },
            vec![0.0; d + 1],
            LbfgsOptions::default(),
        );
        let w = Array2::from_shape_vec((1, d), res.x[..d].to_vec()).expect("shape");
        (w, Array1::from(vec![res.x[d]]))
    } else {
        let k = n_classes;
        let res = minimize(
            |p, g| {
                let w = ndarray::ArrayView2::from_shape((k, d), &p[..k * d]).expect("shape");
                let b = ndarray::ArrayView1::from(&p[k * d..]);
                let mut s = z.dot(&w.t()) + b;
                let mut loss = 0.0;
                for (i, mut row) in s.axis_iter_mut(Axis(0)).enumerate() {
                    let m = row.fold(f64::NEG_INFINITY, |a, &v| a.max(v));
                    let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    loss += lse - row[y[i]];
                    row.mapv_inplace(|v| (v - lse).exp());
                    row[y[i]] -= 1.0;
                }
                let gw = s.t().dot(z) + &w * lam;
                g[..k * d].copy_from_slice(gw.as_slice().expect("contiguous"));
                g[k * d..].copy_from_slice(s.sum_axis(Axis(0)).as_slice().expect("contiguous"));
                loss + 0.5 * lam * w.iter().map(|v| v * v).sum::<f64>()
            },
            vec![0.0; k * (d + 1)],
            LbfgsOptions::default(),
        );
        let w = Array2::from_shape_vec((k, d), res.x[..k * d].to_vec()).expect("shape");
        (w, Array1::from(res.x[k * d..].to_vec()))
    }
}

/// Solves the symmetric positive-definite system `a x = b` by Cholesky factorisation.
fn cholesky_solve(mut a: Array2<f64>, b: &Array1<f64>) -> Result<Array1<f64>> {
    let n = a.nrows();
    for j in 0..n {
        let mut s = a[[j, j]];
        for k in 0..j {
            s -= a[[j, k]] * a[[j, k]];
        }
        if s <= 0.0 {
            return Err(Error::Invalid("ridge system is not positive definite".into()));
        }
        let l = s.sqrt();
        a[[j, j]] = l;
        for i in j + 1..n {
            let mut t = a[[i, j]];
            for k in 0..j {
                t -= a[[i, k]] * a[[j, k]];
            }
            a[[i, j]] = t / l;
        }
    }
    let mut x = b.clone();
    for i in 0..n {
        let mut t = x[i];
        for k in 0..i {
            t -= a[[i, k]] * x[k];
        }
        x[i] = t / a[[i, i]];
    }
    for i in (0..n).rev() {
        let mut t = x[i];
        for k in i + 1..n {
            t -= a[[k, i]] * x[k];
        }
        x[i] = t / a[[i, i]];
    }
    Ok(x)
}

impl LinearProbe {
    /// Fits a classifier (`Logistic` or `MeanDiff`) to integer labels `0..n_classes`.
    pub fn fit_classifier(
        kind: ProbeKind,
        x: ArrayView2<f64>,
        y: &[usize],
        n_classes: usize,
        opts: FitOptions,
    ) -> Result<Self> {
        if x.nrows() != y.len() || x.nrows() == 0 {
            return Err(Error::Invalid(format!("{} rows but {} labels", x.nrows(), y.len())));
        }
        match kind {
            ProbeKind::Logistic => {
                let scaler = Scaler::fit(x);
                let z = scaler.transform(x);
                let (weights, bias) = fit_logistic_std(&z, y, n_classes, opts.c);
                Ok(LinearProbe {
                    kind,
                    n_classes,
                    scaler,
                    weights,
                    bias,
                })
            }
            ProbeKind::MeanDiff => {
                if n_classes != 2 {
                    return Err(Error::Invalid(format!(
                        "the mean-diff probe is binary; the label has {n_classes} classes"
                    )));
                }
                let mean_of = |c: usize| {
                    let rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
                    x.select(Axis(0), &rows).mean_axis(Axis(0))
                };
                let (Some(m0), Some(m1)) = (mean_of(0), mean_of(1)) else {
                    return Err(Error::Invalid(
                        "the mean-diff probe needs both classes in the training rows".into(),
                    ));
                };
                let dir = &m1 - &m0;
                let mid = (&m1 + &m0) / 2.0;
                // Calibrate: a 1-D logistic regression on the projection gives probabilities.
                let proj = (&x - &mid).dot(&dir);
                let sd = proj.std(0.0).max(1e-12);
                let z = (proj / sd).insert_axis(Axis(1));
                let (a, b) = fit_logistic_std(&z, y, 2, 1e6);
                let a = a[[0, 0]] / sd;
                let weights = (dir.clone() * a).insert_axis(Axis(0));
                let bias = Array1::from(vec![b[0] - a * mid.dot(&dir)]);
                Ok(LinearProbe {
                    kind,
                    n_classes,
                    scaler: Scaler::identity(x.ncols()),
                    weights,
                    bias,
                })
            }
            ProbeKind::Ridge => Err(Error::Invalid("ridge is a regression probe; use fit_regression".into())),
        }
    }

    /// Fits ridge regression to continuous targets.
    pub fn fit_regression(x: ArrayView2<f64>, y: &[f64], opts: FitOptions) -> Result<Self> {
        if x.nrows() != y.len() || x.nrows() == 0 {
            return Err(Error::Invalid(format!("{} rows but {} targets", x.nrows(), y.len())));
        }
        let scaler = Scaler::fit(x);
        let z = scaler.transform(x);
        let ym = y.iter().sum::<f64>() / y.len() as f64;
        let yc: Array1<f64> = y.iter().map(|v| v - ym).collect();
        let mut a = z.t().dot(&z);
        for i in 0..a.nrows() {
            a[[i, i]] += opts.ridge_alpha;
        }
        let w = cholesky_solve(a, &z.t().dot(&yc))?;
        Ok(LinearProbe {
            kind: ProbeKind::Ridge,
            n_classes: 0,
            scaler,
            weights: w.insert_axis(Axis(0)),
            bias: Array1::from(vec![ym]),
        })
    }

    /// Raw scores `[rows, outputs]` (logits for classifiers, predictions for ridge).
    pub fn scores(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.scaler.transform(x).dot(&self.weights.t()) + &self.bias
    }

    /// Class probabilities `[rows, n_classes]`.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let s = self.scores(x);
        if self.n_classes <= 2 {
            let p1 = s.column(0).mapv(sigmoid);
            let mut out = Array2::zeros((x.nrows(), 2));
            out.column_mut(1).assign(&p1);
            out.column_mut(0).assign(&p1.mapv(|p| 1.0 - p));
            out
        } else {
            let mut out = s;
            for mut row in out.axis_iter_mut(Axis(0)) {
                let m = row.fold(f64::NEG_INFINITY, |a, &v| a.max(v));
                row.mapv_inplace(|v| (v - m).exp());
                let z = row.sum();
                row.mapv_inplace(|v| v / z);
            }
            out
        }
    }

    /// The probe's direction in raw activation space (binary and regression probes): the
    /// vector whose dot product with an activation moves the score, unit-normalised.
    pub fn direction(&self) -> Vec<f32> {
        let w = self.weights.row(0).to_owned() / &self.scaler.scale;
        let n = w.dot(&w).sqrt().max(1e-30);
        w.iter().map(|v| (v / n) as f32).collect()
    }
}
