//! llama.cpp control-vector GGUF files.
//!
//! Layout (what llama.cpp's `cvector-generator` writes and `--control-vector` reads):
//! `general.architecture = "controlvector"`, `controlvector.model_hint` (the model's
//! architecture string), `controlvector.layer_count` (int32), and one F32 tensor of length
//! `d_model` per layer named `direction.N` with N >= 1. llama.cpp adds `direction.N` to the
//! output of block N (0-based), which is mindlens' `blocks.N.hook_resid_post`, so the mapping is
//! the identity; block 0's output has no slot and cannot be exported.

use std::io::Write;
use std::path::Path;

use super::vector::{norm, SteerMeta, SteeringVectors};
use crate::artifact::write_atomic;
use crate::error::{Error, Result};
use crate::gguf::{GgmlType, GgufFile};
use crate::hooks::HookPoint;

fn gguf_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Writes `vectors` as a control-vector GGUF for a model of architecture `arch_hint` with
/// `n_layers` blocks. Refuses layer 0 (llama.cpp has no slot for it).
pub fn export_gguf(vectors: &SteeringVectors, arch_hint: &str, n_layers: usize, path: &Path) -> Result<()> {
    if vectors.layers.contains_key(&0) {
        return Err(Error::Invalid(
            "layer 0 cannot be carried by a llama.cpp control vector (direction.N starts at N = 1); extract from layers >= 1".into(),
        ));
    }
    if let Some(&l) = vectors.layers.keys().find(|&&l| l >= n_layers) {
        return Err(Error::Invalid(format!(
            "layer {l} is out of range for a {n_layers}-block model"
        )));
    }
    const ALIGN: usize = 32;
    let d = vectors.width();
    let mut buf = Vec::new();
    buf.extend_from_slice(b"GGUF");
    buf.extend_from_slice(&3u32.to_le_bytes());
    buf.extend_from_slice(&(vectors.layers.len() as u64).to_le_bytes());
    buf.extend_from_slice(&3u64.to_le_bytes());
    gguf_string(&mut buf, "general.architecture");
    buf.extend_from_slice(&8u32.to_le_bytes());
    gguf_string(&mut buf, "controlvector");
    gguf_string(&mut buf, "controlvector.model_hint");
    buf.extend_from_slice(&8u32.to_le_bytes());
    gguf_string(&mut buf, arch_hint);
    gguf_string(&mut buf, "controlvector.layer_count");
    buf.extend_from_slice(&5u32.to_le_bytes());
    buf.extend_from_slice(&(n_layers.saturating_sub(1) as i32).to_le_bytes());
    let tensor_bytes = d * 4;
    let stride = tensor_bytes.div_ceil(ALIGN) * ALIGN;
    for (k, l) in vectors.layers.keys().enumerate() {
        gguf_string(&mut buf, &format!("direction.{l}"));
        buf.extend_from_slice(&1u32.to_le_bytes());
        buf.extend_from_slice(&(d as u64).to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes()); // F32
        buf.extend_from_slice(&((k * stride) as u64).to_le_bytes());
    }
    buf.resize(buf.len().div_ceil(ALIGN) * ALIGN, 0);
    for v in vectors.layers.values() {
        let start = buf.len();
        for x in v {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        buf.resize(start + stride, 0);
    }
    write_atomic(path, |f| f.write_all(&buf).map_err(|e| e.to_string()))
}

/// Reads a control-vector GGUF (from mindlens, llama.cpp's `cvector-generator` or repeng).
pub fn import_gguf(path: &Path) -> Result<SteeringVectors> {
    let g = GgufFile::open(path)?;
    let arch = g.get_str("general.architecture")?;
    if arch != "controlvector" {
        return Err(Error::bad_file(
            path,
            format!("general.architecture is {arch:?}, not \"controlvector\""),
        ));
    }
    let mut out = SteeringVectors::default();
    for t in g.tensors() {
        let Some(n) = t.name.strip_prefix("direction.") else {
            continue;
        };
        let layer: usize = n
            .parse()
            .map_err(|_| Error::bad_file(path, format!("tensor {} is not direction.<integer>", t.name)))?;
        if t.ggml_type != GgmlType::F32 && t.ggml_type != GgmlType::F16 {
            return Err(Error::bad_file(
                path,
                format!("tensor {} has type {}, expected F32", t.name, t.ggml_type),
            ));
        }
        let (data, _) = g.dequantize(&t.name)?;
        out.layers.insert(layer, data);
    }
    if out.layers.is_empty() {
        return Err(Error::bad_file(path, "no direction.N tensors"));
    }
    let widths: Vec<usize> = out.layers.values().map(Vec::len).collect();
    if widths.iter().any(|&w| w != widths[0]) {
        return Err(Error::bad_file(path, "direction tensors have different lengths"));
    }
    out.meta = SteerMeta {
        model: g.get_opt_str("controlvector.model_hint")?.unwrap_or("").to_string(),
        hook: HookPoint::RESID_POST_TEMPLATE.into(),
        method: "gguf-import".into(),
        positions: String::new(),
        norms: out.layers.iter().map(|(l, v)| (*l, norm(v))).collect(),
        gguf_layer_count: g.get_opt_u32("controlvector.layer_count")?.map(|n| n as usize),
        ..Default::default()
    };
    Ok(out)
}
