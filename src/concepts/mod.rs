//! The three concept families the research is about, each an end-to-end experiment built on
//! harvest, probes, steering and SAEs:
//! - [`personality`]: Big Five trait directions, probed, steered and measured behaviourally;
//! - [`knowledge`]: does the model know an entity, and can that signal make it refuse or
//!   hallucinate;
//! - [`belief`]: what a story character believes versus what is true.
//!
//! Each suite reads its data from `probes/<suite>/` and writes `results.json` (with a
//! `headline` object), figures and `report.md` into an output directory.

pub mod belief;
pub mod knowledge;
pub mod personality;

// Helpers the suites share.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use ndarray::ArrayView2;
use serde::de::DeserializeOwned;

use crate::generate::SplitMix64;
use crate::{Error, Result};

/// Every non-empty line of a JSONL file as `T`; a bad line is an error naming the file and line.
pub(crate) fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
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
pub(crate) fn spread<T: Clone>(v: &[T], k: Option<usize>) -> Vec<T> {
    match k {
        Some(k) if k < v.len() => (0..k).map(|j| v[j * v.len() / k].clone()).collect(),
        _ => v.to_vec(),
    }
}

/// The layers to probe: all when `given` is `None`, sorted, deduplicated and range-checked.
pub(crate) fn check_layers(given: Option<Vec<usize>>, n_layers: usize, what: &str) -> Result<Vec<usize>> {
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

/// A seeded Gaussian direction: the random-direction control of the steering experiments.
pub(crate) fn random_direction(d: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed ^ 0xBE11_EF00);
    (0..d)
        .map(|_| {
            let (a, b) = (rng.next_f64().max(1e-12), rng.next_f64());
            ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
        })
        .collect()
}

/// An alpha as the decimal the user wrote (0.1f32 as 0.1, not 0.10000000149) for JSON.
pub(crate) fn alpha64(a: f32) -> f64 {
    format!("{a}").parse().unwrap_or(a as f64)
}

/// Mean L2 norm of the rows.
pub(crate) fn mean_norm(x: ArrayView2<f64>) -> f64 {
    x.rows().into_iter().map(|r| r.dot(&r).sqrt()).sum::<f64>() / x.nrows().max(1) as f64
}

/// A progress bar for one stage of a suite (`stage` such as "knowledge steering"), counting
/// `len` items; hidden when `progress` is off.
pub(crate) fn stage_bar(progress: bool, stage: String, len: u64) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    ProgressBar::new(len)
        .with_style(
            ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {msg} {elapsed} eta {eta}")
                .expect("valid template"),
        )
        .with_prefix(stage)
}

/// A stage announcement on stderr (`[suite] msg`) when `progress` is on.
pub(crate) fn say(progress: bool, suite: &str, msg: &str) {
    if progress {
        eprintln!("[{suite}] {msg}");
    }
}
