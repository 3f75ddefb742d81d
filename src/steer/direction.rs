//! Directions from activation arrays: the difference of class means, the first principal
//! component of paired differences, and the random control direction. Pure array code; the
//! callers decide which rows are which.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::error::{Error, Result};
use crate::generate::SplitMix64;

/// Mean of rows `a` minus mean of rows `b` of `x`.
pub fn mean_difference(x: ArrayView2<f64>, a: &[usize], b: &[usize]) -> Result<Array1<f64>> {
    let mean = |rows: &[usize]| {
        x.select(Axis(0), rows)
            .mean_axis(Axis(0))
            .ok_or_else(|| Error::Invalid("a direction needs rows on both sides".into()))
    };
    Ok(mean(a)? - mean(b)?)
}

/// The two directions of paired differences (`positive - negative`, one row per pair).
#[derive(Clone, Debug)]
pub struct PairedDirections {
    /// Mean of the differences.
    pub mean_diff: Array1<f64>,
    /// Uncentred first principal direction, signed to agree with the mean difference and
    /// scaled to the mean projection of the differences on it.
    pub pca: Array1<f64>,
    /// Share of the differences' squared norm along the principal direction.
    pub pca_explained: f64,
    /// Fraction of pairs whose difference projects positively on the principal direction.
    pub pca_sign_agreement: f64,
    /// The same for the mean difference.
    pub mean_diff_sign_agreement: f64,
}

impl PairedDirections {
    /// Both directions of `diffs`; `seed` starts the power iteration. Uncentred, because the
    /// shift the pairs share is the signal: centring would remove it.
    pub fn from_diffs(diffs: &Array2<f64>, seed: u64) -> Result<Self> {
        let mean_diff = diffs
            .mean_axis(Axis(0))
            .ok_or_else(|| Error::Invalid("no pairs to extract a direction from".into()))?;
        let (mut pc, pca_explained) = first_pc(diffs, seed);
        if pc.dot(&mean_diff) < 0.0 {
            pc.mapv_inplace(|v| -v);
        }
        let agree =
            |d: &Array1<f64>| diffs.dot(d).iter().filter(|&&p| p > 0.0).count() as f64 / diffs.nrows().max(1) as f64;
        let (pca_sign_agreement, mean_diff_sign_agreement) = (agree(&pc), agree(&mean_diff));
        let scale = pc.dot(&mean_diff);
        Ok(PairedDirections {
            pca: pc * scale,
            mean_diff,
            pca_explained,
            pca_sign_agreement,
            mean_diff_sign_agreement,
        })
    }
}

/// Unit first principal direction of the rows (uncentred, by power iteration from a seeded
/// start) and its share of their squared norm.
pub fn first_pc(x: &Array2<f64>, seed: u64) -> (Array1<f64>, f64) {
    let mut rng = SplitMix64::new(seed);
    let mut v = Array1::from_shape_fn(x.ncols(), |_| rng.next_f64() - 0.5);
    for _ in 0..200 {
        let w = x.t().dot(&x.dot(&v));
        let n = w.dot(&w).sqrt().max(1e-300);
        v = w / n;
    }
    let total: f64 = x.iter().map(|a| a * a).sum();
    let along: f64 = x.dot(&v).iter().map(|p| p * p).sum();
    (v, along / total.max(1e-300))
}

/// A seeded Gaussian direction of width `d`: the random-direction control of steering.
pub fn random_direction(d: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed ^ 0xBE11_EF00);
    (0..d).map(|_| rng.next_normal() as f32).collect()
}

/// `v` rescaled to Euclidean norm `target`.
pub fn with_norm(v: &[f32], target: f64) -> Vec<f32> {
    let n = super::vector::norm(v).max(1e-30);
    v.iter().map(|&x| (x as f64 * target / n) as f32).collect()
}

/// Mean Euclidean norm of the rows: what relative steering strengths scale by.
pub fn mean_norm(x: ArrayView2<f64>) -> f64 {
    x.rows().into_iter().map(|r| r.dot(&r).sqrt()).sum::<f64>() / x.nrows().max(1) as f64
}

/// `v` as f32.
pub fn to_f32(v: &Array1<f64>) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn the_principal_direction_follows_the_shared_shift_and_its_sign() {
        // Differences along +x with noise on y: the PC is x, pointing like the mean.
        let d = array![[2.0, 0.1], [3.0, -0.2], [2.5, 0.0], [1.5, 0.1]];
        let p = PairedDirections::from_diffs(&d, 0).unwrap();
        assert!(p.pca[0] > 0.0 && p.pca[1].abs() < 0.1 * p.pca[0], "{:?}", p.pca);
        assert!(
            (p.pca[0] - p.mean_diff[0]).abs() < 0.05,
            "scaled to the mean projection"
        );
        assert!(p.pca_explained > 0.99);
        assert_eq!(p.pca_sign_agreement, 1.0);
        let neg = PairedDirections::from_diffs(&(-d), 3).unwrap();
        assert!(neg.pca[0] < 0.0, "the sign follows the data, not the start vector");
    }
}
