//! Steering vectors on disk: `meta.json` plus `layer_{N}.npy` (float32 `[d_model]`) per layer,
//! each added at `blocks.N.hook_resid_post`.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array1;
use serde::{Deserialize, Serialize};

use crate::artifact::{read_vector, write_json, write_npy};
use crate::error::{Error, Result};
use crate::hooks::HookPoint;

/// `meta.json` of a steering-vector directory.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SteerMeta {
    /// Model the vectors were extracted from.
    pub model: String,
    /// Hook template; `{layer}` is replaced by each layer number.
    pub hook: String,
    /// Extraction method (`mean-diff`, `pca`, `probe`, `gguf-import`...).
    pub method: String,
    /// sha256 of the contrastive data (empty if imported).
    pub data_sha256: String,
    /// Positions the activations were read at.
    pub positions: String,
    /// Euclidean norm of each layer's vector.
    pub norms: BTreeMap<usize, f64>,
    /// Mean residual-stream norm at each layer on the extraction prompts, for relative alphas.
    #[serde(default)]
    pub resid_norms: BTreeMap<usize, f64>,
    /// Extra per-method statistics (explained variance, sign agreement, cosines...).
    #[serde(default)]
    pub stats: serde_json::Value,
    /// For vectors imported from a llama.cpp control vector: its `controlvector.layer_count`
    /// (the model's blocks minus one), so that it can be exported again without the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gguf_layer_count: Option<usize>,
}

/// A set of per-layer steering vectors.
#[derive(Clone, Debug, Default)]
pub struct SteeringVectors {
    /// Metadata.
    pub meta: SteerMeta,
    /// Layer -> vector.
    pub layers: BTreeMap<usize, Vec<f32>>,
}

impl SteeringVectors {
    /// Residual-stream vectors of `model` per layer, made by `method`; `resid_norms` are the
    /// mean residual norms at each layer that relative strengths scale by. The data hash and
    /// statistics start empty; set them on `meta`.
    pub fn residual(
        model: &str,
        method: &str,
        layers: BTreeMap<usize, Vec<f32>>,
        resid_norms: BTreeMap<usize, f64>,
    ) -> Self {
        SteeringVectors {
            meta: SteerMeta {
                model: model.to_string(),
                hook: HookPoint::RESID_POST_TEMPLATE.into(),
                method: method.to_string(),
                positions: "last".into(),
                norms: layers.iter().map(|(l, v)| (*l, norm(v))).collect(),
                resid_norms,
                ..Default::default()
            },
            layers,
        }
    }

    /// Saves into `dir` (created; files written atomically).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for (l, v) in &self.layers {
            write_npy(&dir.join(format!("layer_{l}.npy")), &Array1::from(v.clone()))?;
        }
        let mut meta = self.meta.clone();
        meta.norms = self.layers.iter().map(|(l, v)| (*l, norm(v))).collect();
        write_json(&dir.join("meta.json"), &meta)
    }

    /// Loads a directory written by [`SteeringVectors::save`] (or by hand: `meta.json` is
    /// optional, every `layer_{N}.npy` is read).
    pub fn load(dir: &Path) -> Result<Self> {
        let mut layers = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let p = entry.map_err(|e| Error::io(dir, e))?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(l) = name.strip_prefix("layer_").and_then(|r| r.strip_suffix(".npy")) {
                let l: usize = l
                    .parse()
                    .map_err(|_| Error::bad_file(&p, "expected layer_{N}.npy with an integer N"))?;
                layers.insert(l, read_vector(&p)?);
            }
        }
        if layers.is_empty() {
            return Err(Error::bad_file(dir, "no layer_{N}.npy files"));
        }
        let widths: Vec<usize> = layers.values().map(Vec::len).collect();
        if widths.iter().any(|&w| w != widths[0]) {
            return Err(Error::bad_file(
                dir,
                format!("vectors have different lengths: {widths:?}"),
            ));
        }
        let mp = dir.join("meta.json");
        let meta = if mp.exists() {
            let text = std::fs::read_to_string(&mp).map_err(|e| Error::io(&mp, e))?;
            serde_json::from_str(&text).map_err(|e| Error::bad_file(&mp, format!("bad steering metadata: {e}")))?
        } else {
            SteerMeta {
                hook: HookPoint::RESID_POST_TEMPLATE.into(),
                ..Default::default()
            }
        };
        Ok(SteeringVectors { meta, layers })
    }

    /// Width of the vectors.
    pub fn width(&self) -> usize {
        self.layers.values().next().map_or(0, Vec::len)
    }

    /// The vector of `layer`, or an error naming the layers available.
    pub fn get(&self, layer: usize) -> Result<&Vec<f32>> {
        self.layers.get(&layer).ok_or_else(|| {
            Error::Invalid(format!(
                "no steering vector for layer {layer} (have {:?})",
                self.layers.keys().collect::<Vec<_>>()
            ))
        })
    }
}

/// Euclidean norm.
pub fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt()
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    dot / (norm(a) * norm(b)).max(1e-30)
}
