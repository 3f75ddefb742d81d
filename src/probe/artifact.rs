//! Saved probes: a directory numpy can read without mindlens.
//!
//! ```text
//! PROBE/meta.json         kind, hook, positions, model, label, classes, metrics
//! PROBE/weights.npy       float32 [outputs, d]
//! PROBE/bias.npy          float32 [outputs]
//! PROBE/scaler_mean.npy   float32 [d]
//! PROBE/scaler_scale.npy  float32 [d]
//! ```
//! `score = ((x - scaler_mean) / scaler_scale) @ weights.T + bias`; for binary probes
//! `prob = sigmoid(score)` is the probability of `classes[1]`.

use std::path::Path;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::linear::{LinearProbe, ProbeKind, Scaler};
use crate::artifact::{read_npy, write_json, write_npy};
use crate::error::{Error, Result};

/// `PROBE/meta.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeMeta {
    /// Probe kind.
    pub kind: ProbeKind,
    /// Hook the probe reads.
    pub hook: String,
    /// Head within `attn.hook_z`, if the probe reads one head.
    pub head: Option<usize>,
    /// Position rule used to harvest its training activations.
    pub positions: String,
    /// Model it was trained on.
    pub model: String,
    /// Label field.
    pub label: String,
    /// Class names; the probability refers to `classes[1]` for binary probes.
    pub classes: Vec<String>,
    /// Cross-validated metrics where the probe came from.
    pub metrics: serde_json::Value,
}

/// Saves `probe` with `meta` into `dir` (created; files written atomically).
pub fn save_probe(dir: &Path, probe: &LinearProbe, meta: &ProbeMeta) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_npy(&dir.join("weights.npy"), &probe.weights.mapv(|v| v as f32))?;
    write_npy(&dir.join("bias.npy"), &probe.bias.mapv(|v| v as f32))?;
    write_npy(&dir.join("scaler_mean.npy"), &probe.scaler.mean.mapv(|v| v as f32))?;
    write_npy(&dir.join("scaler_scale.npy"), &probe.scaler.scale.mapv(|v| v as f32))?;
    write_json(&dir.join("meta.json"), meta)
}

/// Loads a probe saved by [`save_probe`].
pub fn load_probe(dir: &Path) -> Result<(LinearProbe, ProbeMeta)> {
    let mp = dir.join("meta.json");
    let text = std::fs::read_to_string(&mp).map_err(|e| Error::io(&mp, e))?;
    let meta: ProbeMeta =
        serde_json::from_str(&text).map_err(|e| Error::bad_file(&mp, format!("not probe metadata: {e}")))?;
    let weights: Array2<f32> = read_npy(&dir.join("weights.npy"))?;
    let bias: Array1<f32> = read_npy(&dir.join("bias.npy"))?;
    let mean: Array1<f32> = read_npy(&dir.join("scaler_mean.npy"))?;
    let scale: Array1<f32> = read_npy(&dir.join("scaler_scale.npy"))?;
    let d = weights.ncols();
    if bias.len() != weights.nrows() || mean.len() != d || scale.len() != d {
        return Err(Error::bad_file(dir, "weights, bias and scaler shapes disagree"));
    }
    let probe = LinearProbe {
        kind: meta.kind,
        n_classes: meta.classes.len(),
        scaler: Scaler {
            mean: mean.mapv(f64::from),
            scale: scale.mapv(f64::from),
        },
        weights: weights.mapv(f64::from),
        bias: bias.mapv(f64::from),
    };
    Ok((probe, meta))
}
