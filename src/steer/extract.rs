//! Contrastive extraction: difference of means (CAA) and PCA of paired differences, per layer,
//! from a JSONL file of positive/negative pairs.
//!
//! Each line: `{"positive": P, "negative": N, "pair": id}` where P and N are a text or a list
//! of chat messages (a conversation ending with an assistant message is a prefilled response).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::backend::Backend;
use ndarray::Array1;
use serde_json::{json, Value};

use super::direction::{mean_norm, to_f32, PairedDirections};
use super::vector::{cosine, norm, SteeringVectors};
use crate::error::{Error, Result};
use crate::harvest::{harvest_rows, ActivationStore, PositionSpec};
use crate::hooks::HookPoint;
use crate::model::Model;
use crate::probe::{FitOptions, LinearProbe, ProbeKind};

/// How the direction is computed from paired activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Mean of positives minus mean of negatives (contrastive activation addition).
    MeanDiff,
    /// First principal direction of the paired differences (uncentred), signed so that
    /// positives project higher, scaled to the mean projection.
    Pca,
    /// The direction of a logistic probe separating positives from negatives, scaled to the
    /// mean projection of the paired differences.
    Probe,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::MeanDiff => "mean-diff",
            Method::Pca => "pca",
            Method::Probe => "probe",
        }
    }
}

/// Settings of [`extract`].
#[derive(Clone, Debug)]
pub struct ExtractOptions {
    /// Blocks whose `hook_resid_post` is read.
    pub layers: Vec<usize>,
    /// Direction method saved.
    pub method: Method,
    /// `last` (last prompt token) or `mean-from:response` (averaged over response tokens).
    pub positions: PositionSpec,
}

/// One contrastive pair: each side a JSON prompt value (a text, a list of chat messages, or
/// `{"tokens": [...]}`), plus an id and an optional response marker for `mean-from:`.
#[derive(Clone, Debug)]
pub struct Pair {
    /// The side showing the behaviour.
    pub positive: Value,
    /// The side without it.
    pub negative: Value,
    /// Pair id (carried along).
    pub id: Value,
    /// Response field for `mean-from:response` positions.
    pub response: Option<Value>,
}

fn side_input(v: &Value, what: &str) -> Result<(&'static str, Value)> {
    match v {
        Value::String(_) => Ok(("text", v.clone())),
        Value::Array(_) => Ok(("messages", v.clone())),
        Value::Object(o) if o.contains_key("messages") => Ok(("messages", o["messages"].clone())),
        Value::Object(o) if o.contains_key("text") => Ok(("text", o["text"].clone())),
        Value::Object(o) if o.contains_key("tokens") => Ok(("tokens", o["tokens"].clone())),
        Value::Object(o) if o.contains_key("raw") => Ok(("raw", o["raw"].clone())),
        _ => Err(Error::Invalid(format!(
            "{what}: a side must be a text, a list of chat messages or {{\"tokens\": [...]}}"
        ))),
    }
}

/// Reads a pairs JSONL file: `{"positive": P, "negative": N, "pair": id}` per line.
pub fn read_pairs(data: &Path) -> Result<Vec<Pair>> {
    let text = std::fs::read_to_string(data).map_err(|e| Error::io(data, e))?;
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let what = format!("{}:{}", data.display(), i + 1);
        let v: Value =
            serde_json::from_str(line).map_err(|e| Error::Invalid(format!("{what}: malformed JSON: {e}")))?;
        let side = |k: &str| {
            v.get(k)
                .cloned()
                .ok_or_else(|| Error::Invalid(format!("{what}: missing \"{k}\"")))
        };
        pairs.push(Pair {
            positive: side("positive")?,
            negative: side("negative")?,
            id: v.get("pair").cloned().unwrap_or(json!(pairs.len())),
            response: v.get("response").cloned(),
        });
    }
    Ok(pairs)
}

/// Extracts steering vectors at `opts.layers` from contrastive `pairs`; `data_sha256` names
/// the data they came from in the metadata. Composes [`pair_rows`], a harvest into a
/// temporary store and [`vectors_from_pairs`].
pub fn extract<B: Backend>(
    model: &Model<B>,
    pairs: &[Pair],
    data_sha256: &str,
    opts: &ExtractOptions,
) -> Result<SteeringVectors> {
    if let Some(&l) = opts.layers.iter().find(|&&l| l >= model.config.n_layers) {
        return Err(Error::Invalid(format!(
            "layer {l} out of range ({} has {} blocks)",
            model.name, model.config.n_layers
        )));
    }
    let rows = pair_rows(pairs)?;
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let hooks: Vec<HookPoint> = opts.layers.iter().map(|&l| HookPoint::ResidPost(l)).collect();
    let store = harvest_rows(
        model,
        &rows,
        &tmp.path().join("rows.jsonl"),
        &tmp.path().join("store"),
        &hooks,
        opts.positions.clone(),
        false,
    )?;
    let mut v = vectors_from_pairs(&store, &opts.layers, opts.method)?;
    v.meta.data_sha256 = data_sha256.to_string();
    Ok(v)
}

/// Harvest rows of `pairs`: both sides, interleaved (positive, negative) in pair order.
pub fn pair_rows(pairs: &[Pair]) -> Result<Vec<Value>> {
    if pairs.len() < 2 {
        return Err(Error::Invalid(
            "extraction needs at least two positive/negative pairs".into(),
        ));
    }
    let mut rows = Vec::with_capacity(2 * pairs.len());
    for (k, p) in pairs.iter().enumerate() {
        for (side, val) in [("positive", &p.positive), ("negative", &p.negative)] {
            let (key, val) = side_input(val, &format!("pair {k} {side}"))?;
            let mut row = json!({ key: val, "side": side, "pair": p.id });
            // A response may differ per side: {"positive": ..., "negative": ...}.
            if let Some(r) = &p.response {
                row["response"] = r.get(side).unwrap_or(r).clone();
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Steering vectors at `layers` from a store of [`pair_rows`] (rows alternate positive,
/// negative), by `method`, with per-layer statistics of all three methods.
pub fn vectors_from_pairs(store: &ActivationStore, layers: &[usize], method: Method) -> Result<SteeringVectors> {
    if layers.is_empty() {
        return Err(Error::Invalid("no layers to extract".into()));
    }
    let (mut chosen, mut per_layer, mut resid_norms) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for &l in layers {
        let x = store.load(HookPoint::ResidPost(l))?.mapv(f64::from);
        let pos = x.slice(ndarray::s![0..;2, ..]).to_owned();
        let neg = x.slice(ndarray::s![1..;2, ..]).to_owned();
        let diffs = &pos - &neg;
        let d = PairedDirections::from_diffs(&diffs, 11)?;
        let (md32, pc32) = (to_f32(&d.mean_diff), to_f32(&d.pca));
        let y: Vec<usize> = (0..x.nrows()).map(|i| 1 - i % 2).collect();
        let probe = LinearProbe::fit_classifier(ProbeKind::Logistic, x.view(), &y, 2, FitOptions::default())?;
        let unit: Array1<f64> = probe.direction().iter().map(|&v| v as f64).collect();
        let pr32 = to_f32(&(&unit * diffs.dot(&unit).mean().unwrap_or(0.0)));
        resid_norms.insert(l, mean_norm(x.view()));
        per_layer.insert(
            l.to_string(),
            json!({
                "mean_diff_norm": norm(&md32),
                "pca_norm": norm(&pc32),
                "pca_explained_variance": d.pca_explained,
                "pca_sign_agreement": d.pca_sign_agreement,
                "mean_diff_sign_agreement": d.mean_diff_sign_agreement,
                "cosine_mean_diff_pca": cosine(&md32, &pc32),
                "cosine_mean_diff_probe": cosine(&md32, &pr32),
            }),
        );
        let v = match method {
            Method::MeanDiff => md32,
            Method::Pca => pc32,
            Method::Probe => pr32,
        };
        chosen.insert(l, v);
    }
    let sorted: Vec<usize> = chosen.keys().copied().collect();
    let adjacent: Vec<Value> = sorted
        .windows(2)
        .map(|w| json!({"layers": [w[0], w[1]], "cosine": cosine(&chosen[&w[0]], &chosen[&w[1]])}))
        .collect();
    let mut out = SteeringVectors::residual(&store.manifest.model, method.name(), chosen, resid_norms);
    out.meta.positions = store.manifest.positions.clone();
    out.meta.stats =
        json!({"pairs": store.manifest.rows / 2, "per_layer": per_layer, "adjacent_layer_cosine": adjacent});
    Ok(out)
}
