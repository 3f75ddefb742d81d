//! The SAELens directory layout: `cfg.json` plus `sae_weights.safetensors` holding `W_enc`
//! `[d_in, d_sae]`, `W_dec` `[d_sae, d_in]`, `b_enc`, `b_dec` and, for JumpReLU, `threshold`.
//!
//! mindlens writes this layout for every SAE it trains and reads it back, so an SAE moves
//! between mindlens and SAELens (`SAE.load_from_disk`) without conversion. BatchTopK SAEs are
//! saved as JumpReLU with their learned global threshold, as SAELens itself does.

use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype as StDtype, TensorView};
use safetensors::SafeTensors;
use serde_json::{json, Value};

use super::autoencoder::{Arch, Sae};
use crate::artifact::{write_atomic, write_json};
use crate::{Error, Result};

/// Weight file name inside an SAE directory.
pub const WEIGHTS_FILE: &str = "sae_weights.safetensors";
/// Config file name inside an SAE directory.
pub const CFG_FILE: &str = "cfg.json";

/// The SAELens version whose layout is written (and checked against SAELens in the tests).
pub const SAELENS_VERSION: &str = "6.54.12";

/// Where an SAE was trained: written into `cfg.json`'s metadata.
#[derive(Clone, Debug, Default)]
pub struct SaeOrigin {
    /// Model name.
    pub model: String,
    /// Hook name (TransformerLens style, e.g. `blocks.15.hook_resid_post`).
    pub hook: String,
    /// Training data (an activation store path).
    pub dataset: String,
}

/// Writes `sae` to `dir` in the SAELens layout (both files atomically).
pub fn save(sae: &Sae, origin: &SaeOrigin, dir: &Path) -> Result<()> {
    sae.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tensors: Vec<(&str, Vec<usize>, &[f32])> = vec![
        (
            "W_enc",
            vec![sae.d_in(), sae.d_sae()],
            sae.w_enc.as_slice().expect("standard layout"),
        ),
        (
            "W_dec",
            vec![sae.d_sae(), sae.d_in()],
            sae.w_dec.as_slice().expect("standard layout"),
        ),
        (
            "b_enc",
            vec![sae.d_sae()],
            sae.b_enc.as_slice().expect("standard layout"),
        ),
        (
            "b_dec",
            vec![sae.d_in()],
            sae.b_dec.as_slice().expect("standard layout"),
        ),
    ];
    if matches!(sae.arch, Arch::JumpRelu | Arch::BatchTopK) {
        tensors.push((
            "threshold",
            vec![sae.d_sae()],
            sae.threshold.as_slice().expect("standard layout"),
        ));
    }
    write_safetensors(&dir.join(WEIGHTS_FILE), &tensors, None)?;
    write_json(&dir.join(CFG_FILE), &config_json(sae, origin))
}

/// The SAELens `cfg.json` for `sae`.
fn config_json(sae: &Sae, origin: &SaeOrigin) -> Value {
    let architecture = match sae.arch {
        Arch::ReluL1 => "standard",
        Arch::TopK => "topk",
        Arch::JumpRelu | Arch::BatchTopK => "jumprelu",
    };
    let layer = origin
        .hook
        .parse::<crate::hooks::HookPoint>()
        .ok()
        .and_then(|p| p.layer());
    let mut cfg = json!({
        "architecture": architecture,
        "d_in": sae.d_in(),
        "d_sae": sae.d_sae(),
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": true,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {
            "model_name": origin.model,
            "hook_name": origin.hook,
            "hook_layer": layer,
            "dataset_path": origin.dataset,
            "prepend_bos": true,
            // Marks the SAELens 6 config layout; without it SAELens drops these metadata fields.
            "sae_lens_version": SAELENS_VERSION,
            "sae_lens_training_version": null,
            "trained_with": "mindlens",
            "mindlens_arch": sae.arch.name(),
        },
    });
    if sae.arch == Arch::TopK {
        cfg["k"] = json!(sae.k);
    }
    cfg
}

/// Reads an SAE directory in the SAELens layout (written by mindlens or by SAELens).
pub fn load(dir: &Path) -> Result<(Sae, SaeOrigin)> {
    let cfg_path = dir.join(CFG_FILE);
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let cfg: Value = serde_json::from_str(&text).map_err(|e| Error::bad_file(&cfg_path, e.to_string()))?;
    let meta = cfg.get("metadata").unwrap_or(&cfg);
    let get_str = |key: &str| {
        meta.get(key)
            .or_else(|| cfg.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // Older SAELens configs name the activation in `activation_fn_str` instead.
    let architecture = cfg
        .get("architecture")
        .and_then(Value::as_str)
        .or_else(|| cfg.get("activation_fn_str").and_then(Value::as_str))
        .unwrap_or("standard");
    let mut arch = match architecture {
        "standard" | "relu" => Arch::ReluL1,
        "topk" => Arch::TopK,
        "jumprelu" => Arch::JumpRelu,
        "batchtopk" => Arch::BatchTopK,
        other => {
            return Err(Error::bad_file(
                &cfg_path,
                format!("architecture {other:?} is not supported (standard, topk, jumprelu, batchtopk)"),
            ))
        }
    };
    if arch == Arch::JumpRelu && get_str("mindlens_arch") == "batchtopk" {
        arch = Arch::BatchTopK;
    }
    let k = cfg
        .get("k")
        .or_else(|| cfg.pointer("/activation_fn_kwargs/k"))
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    if arch == Arch::TopK && k == 0 {
        return Err(Error::bad_file(&cfg_path, "a topk SAE needs a positive field `k`"));
    }
    let weights = dir.join(WEIGHTS_FILE);
    let mut t = read_safetensors(&weights)?;
    let mut take = |name: &str, rank: usize| -> Result<(Vec<f32>, Vec<usize>)> {
        let (data, shape) = t
            .remove(name)
            .ok_or_else(|| Error::bad_file(&weights, format!("tensor {name} is missing")))?;
        if shape.len() != rank {
            return Err(Error::bad_file(
                &weights,
                format!("{name} has shape {shape:?}, expected rank {rank}"),
            ));
        }
        Ok((data, shape))
    };
    let (we, se) = take("W_enc", 2)?;
    let (wd, sd) = take("W_dec", 2)?;
    let (be, _) = take("b_enc", 1)?;
    let (bd, _) = take("b_dec", 1)?;
    let threshold = if matches!(arch, Arch::JumpRelu | Arch::BatchTopK) {
        take("threshold", 1)?.0
    } else {
        Vec::new()
    };
    let to2 = |d: Vec<f32>, s: &[usize]| Array2::from_shape_vec((s[0], s[1]), d).expect("length checked by reader");
    let mut sae = Sae {
        arch,
        k,
        w_enc: to2(we, &se),
        b_enc: Array1::from(be),
        w_dec: to2(wd, &sd),
        b_dec: Array1::from(bd),
        threshold: Array1::from(threshold),
    };
    sae.validate().map_err(|e| Error::bad_file(&weights, e.to_string()))?;
    fold_saelens_options(&mut sae, &cfg).map_err(|msg| Error::bad_file(&cfg_path, msg))?;
    let origin = SaeOrigin {
        model: get_str("model_name"),
        hook: get_str("hook_name"),
        dataset: get_str("dataset_path"),
    };
    Ok((sae, origin))
}

/// Rewrites the weights so that mindlens' plain formula computes what SAELens computes under
/// the config's options.
fn fold_saelens_options(sae: &mut Sae, cfg: &Value) -> std::result::Result<(), String> {
    let norm = cfg
        .get("normalize_activations")
        .and_then(Value::as_str)
        .unwrap_or("none");
    if norm != "none" {
        return Err(format!(
            "normalize_activations = {norm:?} is not supported; fold the normalisation into the weights first"
        ));
    }
    if cfg.get("apply_b_dec_to_input").and_then(Value::as_bool) == Some(false) {
        // x W + b_enc == (x - b_dec) W + (b_enc + b_dec W)
        let shift = sae.b_dec.dot(&sae.w_enc);
        sae.b_enc += &shift;
    }
    if sae.arch == Arch::TopK && cfg.get("rescale_acts_by_decoder_norm").and_then(Value::as_bool) == Some(true) {
        // SAELens: f = topk(relu(pre * |W_dec_i|)), x̂ = (f / |W_dec_i|) W_dec + b_dec.
        // Scaling encoder column i by the norm and decoder row i by its inverse is the same map.
        for (i, mut row) in sae.w_dec.rows_mut().into_iter().enumerate() {
            let n = row.dot(&row).sqrt();
            if n > 0.0 {
                row /= n;
                sae.w_enc.column_mut(i).mapv_inplace(|v| v * n);
                sae.b_enc[i] *= n;
            }
        }
    }
    Ok(())
}

/// Writes f32 tensors to a safetensors file atomically, with optional string metadata.
pub fn write_safetensors(
    path: &Path,
    tensors: &[(&str, Vec<usize>, &[f32])],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let views = tensors
        .iter()
        .map(|(name, shape, data)| {
            let view = TensorView::new(StDtype::F32, shape.clone(), bytemuck_f32(data))
                .map_err(|e| Error::Invalid(format!("tensor {name}: {e}")))?;
            Ok((name.to_string(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::tensor::serialize(views, metadata).map_err(|e| Error::bad_file(path, e.to_string()))?;
    write_atomic(path, |f| {
        use std::io::Write;
        f.write_all(&bytes).map_err(|e| e.to_string())
    })
}

/// Tensors by name: f32 data and shape.
pub type TensorMap = HashMap<String, (Vec<f32>, Vec<usize>)>;

/// Reads every tensor of a safetensors file as f32 (F32, F16 or BF16 on disk).
pub fn read_safetensors(path: &Path) -> Result<TensorMap> {
    Ok(read_safetensors_with_metadata(path)?.0)
}

/// [`read_safetensors`], also returning the file's string metadata.
pub fn read_safetensors_with_metadata(path: &Path) -> Result<(TensorMap, HashMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| Error::bad_file(path, e.to_string()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::bad_file(path, e.to_string()))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let data = crate::model::weights::tensor_to_f32(path, &name, &view)?;
        out.insert(name, (data, view.shape().to_vec()));
    }
    Ok((out, metadata))
}

fn bytemuck_f32(data: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding and every bit pattern is a valid u8; the slice covers
    // exactly the floats' bytes. safetensors stores little-endian, as are all targets we build.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) }
}
