//! Where weights come from: GGUF files and Hugging Face safetensors checkpoints.
//!
//! Both sources answer to Hugging Face tensor names (`model.layers.3.self_attn.q_proj.weight`)
//! and return f32 data in Hugging Face conventions, so the model files never see a format
//! difference. Each architecture's [`ArchSpec`](super::arch::ArchSpec) says how its GGUF
//! tensors are named and which of two conventions its files differ in:
//! - llama.cpp permutes the rows of Llama's Q and K projections for its interleaved RoPE; we
//!   permute them back to the rotate-half layout Hugging Face uses.
//! - Gemma's RMSNorm multiplies by `1 + w`; GGUF stores `1 + w`, Hugging Face stores `w`. We use
//!   the stored multiplier (GGUF's convention) and add the offset to Hugging Face's norm weights.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use super::config::{Arch, ModelConfig};
use crate::error::{Error, Result};
use crate::gguf::dequant::dequantize;
use crate::gguf::matvec::{DecodeActivations, QuantMatrix};
use crate::gguf::{GgmlType, GgufFile};

/// A dense f32 tensor in row-major order with its shape (PyTorch order: `[out, in]`).
pub struct HostTensor {
    /// The values.
    pub data: Vec<f32>,
    /// The shape, outermost first.
    pub shape: Vec<usize>,
}

/// A source of named weights in Hugging Face naming and conventions.
pub trait WeightSource {
    /// Loads tensor `name` as f32, or errors naming the tensor and the file.
    fn load(&self, name: &str) -> Result<HostTensor>;
    /// Whether tensor `name` exists.
    fn contains(&self, name: &str) -> bool;
    /// The `[out, in]` matrix `name` in its quantized blocks, where the source stores it so
    /// (GGUF), for products with a few rows; `None` otherwise.
    fn quantized(&self, _name: &str) -> Option<QuantMatrix> {
        None
    }
}

/// Weights read from a GGUF file, dequantized to f32 one tensor at a time.
pub struct GgufWeights<'a> {
    file: &'a GgufFile,
    cfg: &'a ModelConfig,
    activations: DecodeActivations,
}

impl<'a> GgufWeights<'a> {
    /// Wraps an opened GGUF file.
    pub fn new(file: &'a GgufFile, cfg: &'a ModelConfig) -> Self {
        GgufWeights {
            file,
            cfg,
            activations: DecodeActivations::F32,
        }
    }

    /// How its quantized matrices take their activations ([`DecodeActivations`]).
    pub fn activations(mut self, a: DecodeActivations) -> Self {
        self.activations = a;
        self
    }

    /// Translates a Hugging Face tensor name into llama.cpp's name for this architecture.
    fn gguf_name(&self, hf: &str) -> Option<String> {
        let fixed = match hf {
            "model.embed_tokens.weight" => Some("token_embd.weight"),
            "model.norm.weight" => Some("output_norm.weight"),
            "lm_head.weight" => Some("output.weight"),
            _ => None,
        };
        if let Some(f) = fixed {
            return Some(f.to_string());
        }
        let rest = hf.strip_prefix("model.layers.")?;
        let (layer, leaf) = rest.split_once('.')?;
        let g = (self.cfg.arch.spec().gguf_layer_tensor)(leaf)?;
        Some(format!("blk.{layer}.{g}"))
    }
}

impl WeightSource for GgufWeights<'_> {
    fn load(&self, name: &str) -> Result<HostTensor> {
        let gname = self.gguf_name(name).ok_or_else(|| {
            Error::model(
                self.file.label().to_string(),
                format!("no GGUF tensor corresponds to {name}"),
            )
        })?;
        if self.file.tensor_info(&gname).is_none() {
            return Err(Error::model(
                self.file.label().to_string(),
                format!("tensor {gname} ({name}) is missing"),
            ));
        }
        let (mut data, shape) = self.file.dequantize(&gname)?;
        if let Some(heads) = self.rope_heads(name) {
            data = gather_rows(&data, shape[1], &rope_row_map(shape[0], heads));
        }
        Ok(HostTensor { data, shape })
    }

    fn contains(&self, name: &str) -> bool {
        self.gguf_name(name)
            .is_some_and(|g| self.file.tensor_info(&g).is_some())
    }

    fn quantized(&self, name: &str) -> Option<QuantMatrix> {
        let info = self.file.tensor_info(&self.gguf_name(name)?)?;
        let [rows, cols] = info.shape()[..] else { return None };
        let q = QuantMatrix::new(self.file.tensor_shared(info).ok()?, info.ggml_type, rows, cols)?
            .with_activations(self.activations);
        Some(match self.rope_heads(name) {
            Some(heads) => q.with_row_map(rope_row_map(rows, heads)),
            None => q,
        })
    }
}

impl GgufWeights<'_> {
    /// Heads of a tensor whose rows llama.cpp permuted: Llama's Q and K projections.
    fn rope_heads(&self, name: &str) -> Option<usize> {
        if !self.cfg.arch.spec().gguf_rope_permuted {
            return None;
        }
        if name.ends_with("q_proj.weight") {
            Some(self.cfg.n_heads)
        } else if name.ends_with("k_proj.weight") {
            Some(self.cfg.n_kv_heads)
        } else {
            None
        }
    }
}

/// The GGUF row holding each Hugging Face row of a Q or K projection with `rows` rows over
/// `n_heads` heads. llama.cpp permutes them (`reshape(h, 2, d/2, in).swap(1, 2)`) for its
/// interleaved RoPE; reading them through this map gives rotate-half halves back.
fn rope_row_map(rows: usize, n_heads: usize) -> Vec<u32> {
    let d_head = rows / n_heads;
    let half = d_head / 2;
    let mut map = vec![0u32; rows];
    for h in 0..n_heads {
        for i in 0..half {
            for j in 0..2 {
                // GGUF row h*d + 2*i + j holds HF row h*d + j*half + i.
                map[h * d_head + j * half + i] = (h * d_head + 2 * i + j) as u32;
            }
        }
    }
    map
}

/// Rows `map[0], map[1], ...` of a row-major matrix with `cols` columns.
fn gather_rows(w: &[f32], cols: usize, map: &[u32]) -> Vec<f32> {
    map.iter()
        .flat_map(|&r| &w[r as usize * cols..(r as usize + 1) * cols])
        .copied()
        .collect()
}

/// Weights read from a Hugging Face checkpoint directory (`*.safetensors`, with or without
/// `model.safetensors.index.json`), memory-mapped, converted to f32 on load.
pub struct SafetensorsWeights {
    dir: PathBuf,
    files: Vec<(PathBuf, Mmap)>,
    /// tensor name -> index into `files`
    index: BTreeMap<String, usize>,
    arch: Arch,
    /// Prefix in front of `model.` in this checkpoint (e.g. `language_model.` for Gemma 3 VLMs).
    prefix: String,
}

impl SafetensorsWeights {
    /// Opens every safetensors shard of the checkpoint in `dir`.
    pub fn open(dir: &Path, arch: Arch) -> Result<Self> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(Error::model(
                dir.display().to_string(),
                "no *.safetensors files in the directory",
            ));
        }
        let index_path = dir.join("model.safetensors.index.json");
        if index_path.exists() {
            // The index names the shards; a shard it names must exist.
            let text = std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::bad_file(&index_path, format!("not valid JSON: {e}")))?;
            let map = v
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| Error::bad_file(&index_path, "missing object field \"weight_map\""))?;
            for shard in map.values().filter_map(|s| s.as_str()) {
                if !dir.join(shard).exists() {
                    return Err(Error::bad_file(
                        &index_path,
                        format!("shard {shard} is listed but missing"),
                    ));
                }
            }
        }
        let mut files = Vec::new();
        let mut index = BTreeMap::new();
        for p in paths {
            let f = std::fs::File::open(&p).map_err(|e| Error::io(&p, e))?;
            // SAFETY: the file is opened read-only and not modified while mapped.
            let mmap = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(&p, e))?;
            let st = SafeTensors::deserialize(&mmap)
                .map_err(|e| Error::bad_file(&p, format!("not a valid safetensors file: {e}")))?;
            for name in st.names() {
                index.insert(name.to_string(), files.len());
            }
            files.push((p, mmap));
        }
        let prefix = ["", "language_model.", "model.language_model."]
            .into_iter()
            .find(|p| index.contains_key(&format!("{p}model.embed_tokens.weight")))
            .unwrap_or("")
            .to_string();
        Ok(SafetensorsWeights {
            dir: dir.to_path_buf(),
            files,
            index,
            arch,
            prefix,
        })
    }

    fn full_name(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }
}

impl WeightSource for SafetensorsWeights {
    fn load(&self, name: &str) -> Result<HostTensor> {
        let full = self.full_name(name);
        let &fi = self
            .index
            .get(&full)
            .ok_or_else(|| Error::model(self.dir.display().to_string(), format!("tensor {full} is missing")))?;
        let (path, mmap) = &self.files[fi];
        let st = SafeTensors::deserialize(mmap).map_err(|e| Error::bad_file(path, e.to_string()))?;
        let t = st
            .tensor(&full)
            .map_err(|e| Error::bad_file(path, format!("{full}: {e}")))?;
        let mut data = tensor_to_f32(path, &full, &t)?;
        let offset = self.arch.spec().hf_norm_offset;
        if offset != 0.0 && name.ends_with("norm.weight") {
            data.iter_mut().for_each(|w| *w += offset);
        }
        Ok(HostTensor {
            data,
            shape: t.shape().to_vec(),
        })
    }

    fn contains(&self, name: &str) -> bool {
        self.index.contains_key(&self.full_name(name))
    }
}

/// A safetensors tensor as f32, through the same byte conversions as GGUF's unquantised types.
pub(crate) fn tensor_to_f32(path: &Path, name: &str, t: &safetensors::tensor::TensorView) -> Result<Vec<f32>> {
    let ty = match t.dtype() {
        Dtype::F32 => GgmlType::F32,
        Dtype::F16 => GgmlType::F16,
        Dtype::BF16 => GgmlType::BF16,
        other => {
            return Err(Error::bad_file(
                path,
                format!("{name}: unsupported dtype {other:?} (F32, F16, BF16)"),
            ))
        }
    };
    let n: usize = t.shape().iter().product();
    dequantize(ty, t.data(), n).map_err(|e| Error::bad_file(path, format!("{name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_inverts_llama_cpp_permutation() {
        // llama.cpp: w.reshape(h, 2, d/2, cols).swapaxes(1, 2) -> row h*d + 2i + j = HF row h*d + j*d/2 + i
        let (heads, d, cols) = (2, 4, 3);
        let hf: Vec<f32> = (0..heads * d * cols).map(|x| x as f32).collect();
        let mut gguf = vec![0f32; hf.len()];
        for h in 0..heads {
            for i in 0..d / 2 {
                for j in 0..2 {
                    let src = (h * d + j * (d / 2) + i) * cols;
                    let dst = (h * d + 2 * i + j) * cols;
                    gguf[dst..dst + cols].copy_from_slice(&hf[src..src + cols]);
                }
            }
        }
        assert_eq!(gather_rows(&gguf, cols, &rope_row_map(heads * d, heads)), hf);
    }
}
