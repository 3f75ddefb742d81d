//! Reading and choosing a suite's data rows.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Every non-empty line of a JSONL file as `T`; a bad line is an error naming the file and line.
pub fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        rows.push(serde_json::from_str(line).map_err(|e| Error::bad_file(path, format!("line {}: {e}", i + 1)))?);
    }
    if rows.is_empty() {
        return Err(Error::bad_file(path, "no rows"));
    }
    Ok(rows)
}

/// `k` items spread evenly over `v` (all of them when `k` is `None` or too large), so a
/// CI-sized run still sees every part of a file.
pub fn spread<T: Clone>(v: &[T], k: Option<usize>) -> Vec<T> {
    match k {
        Some(k) if k < v.len() => (0..k).map(|j| v[j * v.len() / k].clone()).collect(),
        _ => v.to_vec(),
    }
}

/// The layers to probe: all when `given` is `None`, sorted, deduplicated and range-checked.
pub fn check_layers(given: Option<Vec<usize>>, n_layers: usize, what: &str) -> Result<Vec<usize>> {
    let mut v = given.unwrap_or_else(|| (0..n_layers).collect());
    v.sort_unstable();
    v.dedup();
    if v.is_empty() {
        return Err(Error::Invalid(format!("no {what} to probe")));
    }
    if let Some(&l) = v.iter().find(|&&l| l >= n_layers) {
        return Err(Error::Invalid(format!(
            "{what}: layer {l} out of range (the model has {n_layers} blocks)"
        )));
    }
    Ok(v)
}

/// The quick presets' layers: five spread over the depth of an `n_layers`-block model.
pub fn quick_layers(n_layers: usize) -> Vec<usize> {
    (1..=5).map(|i| i * n_layers / 6).collect()
}

/// An alpha as the decimal the user wrote (0.1f32 as 0.1, not 0.10000000149) for JSON.
pub fn alpha64(a: f32) -> f64 {
    format!("{a}").parse().unwrap_or(a as f64)
}

/// Mean of the finite values (NaN when there are none).
pub fn mean_finite(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        f.iter().sum::<f64>() / f.len() as f64
    }
}

/// Plain mean (0 for no values).
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Population standard deviation.
pub fn std_dev(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt()
}
