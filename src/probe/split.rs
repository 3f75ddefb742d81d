//! Honest evaluation: grouped k-fold splits, control labels and a low-rank (top principal
//! components) projection.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};

use crate::generate::SplitMix64;
use crate::harvest::store::shuffle;

/// Fold index of each row for k-fold cross-validation in which rows sharing a group never
/// straddle train and test. Groups are shuffled with `seed`, then placed largest first into
/// the fold with the fewest rows so far.
pub fn group_kfold(groups: &[String], k: usize, seed: u64) -> Vec<usize> {
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for g in groups {
        *sizes.entry(g.as_str()).or_default() += 1;
    }
    let mut order: Vec<(&str, usize)> = sizes.into_iter().collect();
    shuffle(&mut order, &mut SplitMix64::new(seed));
    order.sort_by_key(|g| std::cmp::Reverse(g.1)); // stable: equal sizes keep the shuffled order
    let mut fold_rows = vec![0usize; k];
    let mut fold_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (g, n) in order {
        let f = (0..k).min_by_key(|&f| (fold_rows[f], f)).expect("k >= 1");
        fold_rows[f] += n;
        fold_of.insert(g, f);
    }
    groups.iter().map(|g| fold_of[g.as_str()]).collect()
}

/// How control labels are made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// A random permutation of the labels: same class balance, no relation to the input.
    Permute,
    /// Hewitt and Liang (2019): every distinct value of a type field gets a random label
    /// (drawn from the empirical class distribution), shared by all rows of that type.
    PerType(Vec<String>),
}

/// Control labels for classification labels `y`.
pub fn control_labels(y: &[usize], control: &Control, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ 0xC0_47_20_1E);
    match control {
        Control::Permute => {
            let mut c = y.to_vec();
            shuffle(&mut c, &mut rng);
            c
        }
        Control::PerType(types) => {
            let mut label_of: BTreeMap<&str, usize> = BTreeMap::new();
            let mut distinct: Vec<&str> = types.iter().map(String::as_str).collect();
            distinct.sort();
            distinct.dedup();
            for t in distinct {
                label_of.insert(t, y[(rng.next_u64() % y.len() as u64) as usize]);
            }
            types.iter().map(|t| label_of[t.as_str()]).collect()
        }
    }
}

/// The top `k` principal directions `[k, d]` of the rows of `x` (centred), by subspace
/// iteration on the covariance matrix.
pub fn principal_components(x: ArrayView2<f64>, k: usize, seed: u64) -> Array2<f64> {
    let d = x.ncols();
    let k = k.min(d).max(1);
    let mean = x.mean_axis(Axis(0)).expect("rows");
    let xc = &x - &mean;
    let cov = xc.t().dot(&xc) / (x.nrows().max(2) - 1) as f64;
    let mut rng = SplitMix64::new(seed);
    let mut q = Array2::from_shape_fn((d, k), |_| rng.next_f64() - 0.5);
    for _ in 0..60 {
        q = orthonormalize(cov.dot(&q));
    }
    q.reversed_axes()
}

/// Gram-Schmidt on the columns.
fn orthonormalize(mut a: Array2<f64>) -> Array2<f64> {
    let k = a.ncols();
    for j in 0..k {
        for i in 0..j {
            let proj = a.column(i).dot(&a.column(j));
            let ci = a.column(i).to_owned();
            a.column_mut(j).scaled_add(-proj, &ci);
        }
        let n = a.column(j).dot(&a.column(j)).sqrt().max(1e-300);
        a.column_mut(j).mapv_inplace(|v| v / n);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_never_straddle_folds_and_folds_balance() {
        let groups: Vec<String> = (0..100).map(|i| format!("g{}", i / 4)).collect();
        let folds = group_kfold(&groups, 5, 1);
        for i in 0..100 {
            for j in 0..100 {
                if groups[i] == groups[j] {
                    assert_eq!(folds[i], folds[j]);
                }
            }
        }
        for f in 0..5 {
            assert_eq!(folds.iter().filter(|&&x| x == f).count(), 20);
        }
    }

    #[test]
    fn control_labels_keep_balance_and_types() {
        let y: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let c = control_labels(&y, &Control::Permute, 3);
        assert_eq!(c.iter().sum::<usize>(), 20);
        assert_ne!(c, y);
        let types: Vec<String> = (0..40).map(|i| format!("t{}", i % 7)).collect();
        let c = control_labels(&y, &Control::PerType(types.clone()), 3);
        for i in 0..40 {
            assert_eq!(c[i], c[i % 7]);
        }
    }

    #[test]
    fn pca_finds_the_dominant_axis() {
        let mut rng = SplitMix64::new(9);
        let x = Array2::from_shape_fn((300, 5), |(_, j)| {
            (rng.next_f64() - 0.5) * if j == 3 { 10.0 } else { 1.0 }
        });
        let pcs = principal_components(x.view(), 2, 0);
        assert!(pcs[[0, 3]].abs() > 0.99, "{pcs:?}");
    }
}
