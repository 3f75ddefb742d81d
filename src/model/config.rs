//! Model hyper-parameters, read from GGUF metadata or a Hugging Face `config.json`.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::hooks::HookPoint;

/// The transformer families mindlens can host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Llama family (SmolLM2, Llama 2/3, TinyLlama...): GQA, RoPE, RMSNorm, SwiGLU.
    Llama,
    /// Gemma 3 text models: QK-norm, sandwich norms, GELU-tanh, local/global attention.
    Gemma3,
}

impl Arch {
    /// The architecture string used in GGUF metadata (`general.architecture`).
    pub fn gguf_name(&self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Gemma3 => "gemma3",
        }
    }
}

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
        let arch = match arch_name.as_str() {
            "llama" => Arch::Llama,
            "gemma3" => Arch::Gemma3,
            other => {
                return Err(Error::model(
                    g.label().to_string(),
                    format!("unsupported architecture {other:?} (supported: llama, gemma3)"),
                ))
            }
        };
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
        if arch == Arch::Gemma3 {
            // llama.cpp's defaults when the keys are absent, as in the gemma3 GGUFs we ship.
            cfg.rope_local_theta = g.get_opt_f32(&key("rope.local.freq_base"))?.unwrap_or(10_000.0);
            cfg.sliding_window = Some(g.get_opt_u32(&key("attention.sliding_window"))?.unwrap_or(512) as usize);
            let pattern = g.get_opt_u32(&key("attention.sliding_window_pattern"))?.unwrap_or(6) as usize;
            cfg.layer_is_local = (0..n_layers).map(|i| (i + 1) % pattern.max(1) != 0).collect();
            cfg.attn_softcap = g.get_opt_f32(&key("attn_logit_softcapping"))?;
            cfg.final_softcap = g.get_opt_f32(&key("final_logit_softcapping"))?;
        }
        cfg.validate(g.label())?;
        Ok(cfg)
    }

    /// Reads a Hugging Face `config.json` (Llama or Gemma 3 text models).
    pub fn from_hf_config(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| Error::bad_file(path, format!("not valid JSON: {e}")))?;
        // Multimodal Gemma 3 checkpoints keep the language model's settings in `text_config`.
        let v = v.get("text_config").cloned().unwrap_or(v);
        let bad = |msg: String| Error::bad_file(path, msg);
        let model_type = v.get("model_type").and_then(Value::as_str).unwrap_or("");
        let arch = match model_type {
            "llama" | "mistral" => Arch::Llama,
            "gemma3" | "gemma3_text" => Arch::Gemma3,
            other => {
                return Err(bad(format!(
                    "unsupported model_type {other:?} (supported: llama, gemma3, gemma3_text)"
                )))
            }
        };
        let usize_field = |k: &str| -> Result<usize> {
            v.get(k)
                .and_then(Value::as_u64)
                .map(|x| x as usize)
                .ok_or_else(|| bad(format!("missing or non-integer field {k:?}")))
        };
        let f32_opt = |k: &str| v.get(k).and_then(Value::as_f64).map(|x| x as f32);
        let n_layers = usize_field("num_hidden_layers")?;
        let d_model = usize_field("hidden_size")?;
        let n_heads = usize_field("num_attention_heads")?;
        let n_kv_heads = usize_field("num_key_value_heads").unwrap_or(n_heads);
        let d_head = v
            .get("head_dim")
            .and_then(Value::as_u64)
            .map(|x| x as usize)
            .unwrap_or(d_model / n_heads.max(1));
        // transformers 5 moved RoPE settings into `rope_parameters` (per layer type for Gemma 3).
        let rope = |kind: &str, default: f32| -> (f32, f32) {
            let params = v.get("rope_parameters");
            let p = params
                .and_then(|p| p.get(kind))
                .or(params)
                .filter(|p| p.get("rope_theta").is_some());
            let theta = p
                .and_then(|p| p.get("rope_theta"))
                .and_then(Value::as_f64)
                .map(|x| x as f32);
            let scaling = p.cloned().or_else(|| v.get("rope_scaling").cloned());
            let factor = scaling
                .as_ref()
                .filter(|s| s.get("rope_type").or(s.get("type")).and_then(Value::as_str) == Some("linear"))
                .and_then(|s| s.get("factor"))
                .and_then(Value::as_f64)
                .map(|x| x as f32)
                .unwrap_or(1.0);
            (theta.unwrap_or(default), factor)
        };
        let (rope_theta, rope_scale) = rope("full_attention", f32_opt("rope_theta").unwrap_or(10_000.0));
        let mut cfg = ModelConfig {
            arch,
            n_layers,
            d_model,
            n_heads,
            n_kv_heads,
            d_head,
            d_ff: usize_field("intermediate_size")?,
            vocab_size: usize_field("vocab_size")?,
            rms_eps: f32_opt("rms_norm_eps").unwrap_or(1e-6),
            rope_theta,
            rope_local_theta: rope_theta,
            rope_scale,
            sliding_window: None,
            layer_is_local: vec![false; n_layers],
            query_pre_attn_scalar: f32_opt("query_pre_attn_scalar").unwrap_or(d_head as f32),
            attn_softcap: f32_opt("attn_logit_softcapping"),
            final_softcap: f32_opt("final_logit_softcapping"),
            tie_embeddings: v
                .get("tie_word_embeddings")
                .and_then(Value::as_bool)
                .unwrap_or(arch == Arch::Gemma3),
            max_positions: usize_field("max_position_embeddings").unwrap_or(2048),
        };
        if arch == Arch::Gemma3 {
            cfg.rope_local_theta = rope("sliding_attention", f32_opt("rope_local_base_freq").unwrap_or(10_000.0)).0;
            cfg.sliding_window = v.get("sliding_window").and_then(Value::as_u64).map(|x| x as usize);
            cfg.layer_is_local = match v.get("layer_types").and_then(Value::as_array) {
                Some(types) => {
                    if types.len() != n_layers {
                        return Err(bad(format!(
                            "layer_types has {} entries for {n_layers} layers",
                            types.len()
                        )));
                    }
                    types.iter().map(|t| t.as_str() == Some("sliding_attention")).collect()
                }
                None => {
                    let pattern = usize_field("sliding_window_pattern").unwrap_or(6);
                    (0..n_layers).map(|i| (i + 1) % pattern.max(1) != 0).collect()
                }
            };
        } else if let Some(w) = v.get("sliding_window").and_then(Value::as_u64) {
            cfg.sliding_window = Some(w as usize);
            cfg.layer_is_local = vec![true; n_layers];
        }
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
        if self.n_kv_heads == 0 || self.n_heads % self.n_kv_heads != 0 {
            return fail(format!(
                "{} query heads cannot be grouped over {} key/value heads",
                self.n_heads, self.n_kv_heads
            ));
        }
        if self.d_head % 2 != 0 {
            return fail(format!("head width {} is odd; RoPE needs an even width", self.d_head));
        }
        Ok(())
    }
}
