//! Model hyper-parameters, read from GGUF metadata or a Hugging Face `config.json`: the
//! settings every architecture has here, the rest in each model file's `ArchSpec`.

use std::path::Path;

use serde_json::Value;

pub use super::arch::Arch;
use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::hooks::HookPoint;

/// Everything the forward pass needs to know about a model's shape.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelConfig {
    /// Architecture family.
    pub arch: Arch,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Residual stream width.
    pub d_model: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (fewer than `n_heads` with grouped-query attention).
    pub n_kv_heads: usize,
    /// Width of one head.
    pub d_head: usize,
    /// MLP hidden width.
    pub d_ff: usize,
    /// Vocabulary size (rows of the embedding matrix).
    pub vocab_size: usize,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// RoPE base of (global) attention layers.
    pub rope_theta: f32,
    /// RoPE base of sliding-window layers (Gemma 3), else equal to `rope_theta`.
    pub rope_local_theta: f32,
    /// Linear RoPE position scaling factor of global layers (1 when absent).
    pub rope_scale: f32,
    /// Sliding-window length of local layers, if the model has any.
    pub sliding_window: Option<usize>,
    /// For each layer, whether it uses sliding-window (local) attention.
    pub layer_is_local: Vec<bool>,
    /// Attention scores are multiplied by `query_pre_attn_scalar^-0.5`.
    pub query_pre_attn_scalar: f32,
    /// Gemma-style soft cap on attention scores.
    pub attn_softcap: Option<f32>,
    /// Soft cap on the output logits.
    pub final_softcap: Option<f32>,
    /// Whether the unembedding reuses the embedding matrix.
    pub tie_embeddings: bool,
    /// Longest context the model was trained for.
    pub max_positions: usize,
}

impl ModelConfig {
    /// Width of the activation at a hook point (`n_heads * d_head` for `attn.hook_z`).
    pub fn hook_width(&self, point: HookPoint) -> usize {
        match point {
            HookPoint::AttnZ(_) => self.n_heads * self.d_head,
            HookPoint::AttnPattern(_) => 0,
            _ => self.d_model,
        }
    }

    /// Reads the configuration from GGUF metadata.
    pub fn from_gguf(g: &GgufFile) -> Result<Self> {
        let arch_name = g.get_str("general.architecture")?.to_string();
        let arch = Arch::from_gguf_name(&arch_name).ok_or_else(|| {
            Error::model(
                g.label().to_string(),
                format!(
                    "unsupported architecture {arch_name:?} (supported: {})",
                    Arch::supported(false)
                ),
            )
        })?;
        let key = |k: &str| format!("{arch_name}.{k}");
        let n_layers = g.get_u32(&key("block_count"))? as usize;
        let d_model = g.get_u32(&key("embedding_length"))? as usize;
        let n_heads = g.get_u32(&key("attention.head_count"))? as usize;
        let n_kv_heads = g
            .get_opt_u32(&key("attention.head_count_kv"))?
            .map(|v| v as usize)
            .unwrap_or(n_heads);
        let d_head = match g.get_opt_u32(&key("attention.key_length"))? {
            Some(v) => v as usize,
            None => d_model / n_heads.max(1),
        };
        let d_ff = g.get_u32(&key("feed_forward_length"))? as usize;
        let emb = g
            .tensor_info("token_embd.weight")
            .ok_or_else(|| Error::model(g.label().to_string(), "tensor token_embd.weight is missing"))?;
        let vocab_size = emb.shape()[0];
        let rms_eps = g.get_f32(&key("attention.layer_norm_rms_epsilon"))?;
        let rope_theta = g.get_opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        let rope_scale = match g.get_opt_str(&key("rope.scaling.type"))? {
            Some("linear") => g.get_opt_f32(&key("rope.scaling.factor"))?.unwrap_or(1.0),
            Some("none") => 1.0,
            Some(t) => {
                return Err(Error::model(
                    g.label().to_string(),
                    format!("unsupported RoPE scaling type {t:?}"),
                ))
            }
            None => 1.0,
        };
        let max_positions = g.get_opt_u32(&key("context_length"))?.unwrap_or(2048) as usize;
        let tie_embeddings = g.tensor_info("output.weight").is_none();
        let mut cfg = ModelConfig {
            arch,
            n_layers,
            d_model,
            n_heads,
            n_kv_heads,
            d_head,
            d_ff,
            vocab_size,
            rms_eps,
            rope_theta,
            rope_local_theta: rope_theta,
            rope_scale,
            sliding_window: None,
            layer_is_local: vec![false; n_layers],
            query_pre_attn_scalar: d_head as f32,
            attn_softcap: None,
            final_softcap: None,
            tie_embeddings,
            max_positions,
        };
        (arch.spec().gguf_config)(g, &mut cfg)?;
        cfg.validate(g.label())?;
        Ok(cfg)
    }

    /// Reads a Hugging Face `config.json`.
    pub fn from_hf_config(path: &Path) -> Result<Self> {
        let hf = HfConfig::read(path)?;
        let model_type = hf.opt_str("model_type").unwrap_or("");
        let arch = Arch::from_hf_model_type(model_type).ok_or_else(|| {
            hf.bad(format!(
                "unsupported model_type {model_type:?} (supported: {})",
                Arch::supported(true)
            ))
        })?;
        let n_layers = hf.usize("num_hidden_layers")?;
        let d_model = hf.usize("hidden_size")?;
        let n_heads = hf.usize("num_attention_heads")?;
        let n_kv_heads = hf.usize("num_key_value_heads").unwrap_or(n_heads);
        let d_head = hf.opt_usize("head_dim").unwrap_or(d_model / n_heads.max(1));
        let (rope_theta, rope_scale) = hf.rope("full_attention", hf.opt_f32("rope_theta").unwrap_or(10_000.0));
        let mut cfg = ModelConfig {
            arch,
            n_layers,
            d_model,
            n_heads,
            n_kv_heads,
            d_head,
            d_ff: hf.usize("intermediate_size")?,
            vocab_size: hf.usize("vocab_size")?,
            rms_eps: hf.opt_f32("rms_norm_eps").unwrap_or(1e-6),
            rope_theta,
            rope_local_theta: rope_theta,
            rope_scale,
            sliding_window: None,
            layer_is_local: vec![false; n_layers],
            query_pre_attn_scalar: hf.opt_f32("query_pre_attn_scalar").unwrap_or(d_head as f32),
            attn_softcap: hf.opt_f32("attn_logit_softcapping"),
            final_softcap: hf.opt_f32("final_logit_softcapping"),
            tie_embeddings: hf.opt_bool("tie_word_embeddings").unwrap_or(false),
            max_positions: hf.usize("max_position_embeddings").unwrap_or(2048),
        };
        (arch.spec().hf_config)(&hf, &mut cfg)?;
        cfg.validate(&path.display().to_string())?;
        Ok(cfg)
    }

    fn validate(&self, what: &str) -> Result<()> {
        let fail = |m: String| Err(Error::model(what, m));
        if self.n_layers == 0 || self.d_model == 0 || self.n_heads == 0 || self.d_head == 0 {
            return fail(format!(
                "degenerate shape: {} layers, d_model {}, {} heads of width {}",
                self.n_layers, self.d_model, self.n_heads, self.d_head
            ));
        }
        if self.n_kv_heads == 0 || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return fail(format!(
                "{} query heads cannot be grouped over {} key/value heads",
                self.n_heads, self.n_kv_heads
            ));
        }
        if !self.d_head.is_multiple_of(2) {
            return fail(format!("head width {} is odd; RoPE needs an even width", self.d_head));
        }
        Ok(())
    }
}

/// A parsed `config.json` (its `text_config` for multimodal checkpoints), with typed getters
/// whose errors name the file and the field.
pub struct HfConfig {
    path: std::path::PathBuf,
    v: Value,
}

impl HfConfig {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| Error::bad_file(path, format!("not valid JSON: {e}")))?;
        // Multimodal Gemma 3 checkpoints keep the language model's settings in `text_config`.
        let v = v.get("text_config").cloned().unwrap_or(v);
        Ok(HfConfig {
            path: path.to_path_buf(),
            v,
        })
    }

    /// An error about this file.
    pub fn bad(&self, msg: String) -> Error {
        Error::bad_file(&self.path, msg)
    }

    /// The raw value of field `k`.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.v.get(k)
    }

    /// A required non-negative integer field.
    pub fn usize(&self, k: &str) -> Result<usize> {
        self.opt_usize(k)
            .ok_or_else(|| self.bad(format!("missing or non-integer field {k:?}")))
    }

    /// An optional non-negative integer field.
    pub fn opt_usize(&self, k: &str) -> Option<usize> {
        self.v.get(k).and_then(Value::as_u64).map(|x| x as usize)
    }

    /// An optional number field.
    pub fn opt_f32(&self, k: &str) -> Option<f32> {
        self.v.get(k).and_then(Value::as_f64).map(|x| x as f32)
    }

    /// An optional boolean field.
    pub fn opt_bool(&self, k: &str) -> Option<bool> {
        self.v.get(k).and_then(Value::as_bool)
    }

    /// An optional string field.
    pub fn opt_str(&self, k: &str) -> Option<&str> {
        self.v.get(k).and_then(Value::as_str)
    }

    /// RoPE base and linear scale for layers of `kind` (`full_attention`, `sliding_attention`).
    /// transformers 5 moved these into `rope_parameters`, per layer type for Gemma 3.
    pub fn rope(&self, kind: &str, default_theta: f32) -> (f32, f32) {
        let params = self.v.get("rope_parameters");
        let p = params
            .and_then(|p| p.get(kind))
            .or(params)
            .filter(|p| p.get("rope_theta").is_some());
        let theta = p
            .and_then(|p| p.get("rope_theta"))
            .and_then(Value::as_f64)
            .map(|x| x as f32);
        let scaling = p.cloned().or_else(|| self.v.get("rope_scaling").cloned());
        let factor = scaling
            .as_ref()
            .filter(|s| s.get("rope_type").or(s.get("type")).and_then(Value::as_str) == Some("linear"))
            .and_then(|s| s.get("factor"))
            .and_then(Value::as_f64)
            .map(|x| x as f32)
            .unwrap_or(1.0);
        (theta.unwrap_or(default_theta), factor)
    }
}
