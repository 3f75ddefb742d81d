//! The model-hosting core: load a real transformer from GGUF or a Hugging Face checkpoint
//! and run it, with hooks, on batches of prompts.
//!
//! - [`arch`]: the registry of architectures and what each one's files look like;
//! - [`config`]: hyper-parameters from GGUF metadata or `config.json`;
//! - [`weights`]: tensors by Hugging Face name from either source;
//! - [`layers`]: shared building blocks (norms, RoPE, attention, KV cache);
//! - [`llama`], [`gemma3`], [`qwen2`]: one file per architecture, with its names and
//!   conventions and a forward pass that reads top to bottom.

pub mod arch;
pub mod config;
pub(crate) mod cpu_kernels;
pub mod gemma3;
pub mod layers;
pub mod llama;
pub mod qwen2;
pub mod weights;

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use ndarray::Array2;

pub use arch::{Arch, Decoder};
pub use config::ModelConfig;
pub use layers::KvCache;

use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::hooks::{Hook, HookCtx};
use crate::registry;
use crate::tokenizer::Tokenizer;
use weights::{GgufWeights, SafetensorsWeights, WeightSource};

/// Which logits a run should compute (the unembedding is the most expensive matmul, so
/// activation harvesting skips it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogitsMode {
    /// No logits.
    None,
    /// Logits of the last real position of each row.
    Last,
    /// Logits of every real position.
    All,
}

/// How products of a few rows (decoding, short prompts) read a GGUF model's quantized weights
/// on the CPU; longer inputs always use the dequantized f32 weights.
pub use crate::gguf::matvec::DecodeActivations;

/// A loaded model: configuration, tokenizer and weights on a device.
pub struct Model<B: Backend> {
    /// Registered name, or the path it was loaded from.
    pub name: String,
    /// The GGUF file or checkpoint directory.
    pub source: PathBuf,
    /// Hyper-parameters.
    pub config: ModelConfig,
    /// The model's tokenizer and chat template.
    pub tokenizer: Tokenizer,
    net: Box<dyn Decoder<B>>,
    device: B::Device,
}

/// Loads the embedding matrix `[vocab, d]` and the unembedding (tied or not).
pub(crate) fn load_embeddings<B: Backend>(
    cfg: &ModelConfig,
    w: &dyn WeightSource,
    device: &B::Device,
) -> Result<(Tensor<B, 2>, layers::Linear<B>)> {
    let (v, d) = (cfg.vocab_size, cfg.d_model);
    let emb = w.load("model.embed_tokens.weight")?;
    if emb.shape != [v, d] {
        return Err(Error::Invalid(format!(
            "embedding has shape {:?}, expected [{v}, {d}]",
            emb.shape
        )));
    }
    let table = Tensor::from_data(TensorData::new(emb.data, [v, d]), device);
    let head = if !cfg.tie_embeddings && w.contains("lm_head.weight") {
        let h = w.load("lm_head.weight")?;
        if h.shape != [v, d] {
            return Err(Error::Invalid(format!(
                "lm_head has shape {:?}, expected [{v}, {d}]",
                h.shape
            )));
        }
        layers::Linear::from_out_in(h.data, v, d, device).with_blocks(w.quantized("lm_head.weight"))
    } else {
        // Tied: the unembedding shares the embedding table's memory.
        layers::Linear::new(table.clone(), device).with_blocks(w.quantized("model.embed_tokens.weight"))
    };
    Ok((table, head))
}

impl<B: Backend> Model<B> {
    /// Loads a model from a registered name (fetching it if needed), a `.gguf` path, or a
    /// Hugging Face checkpoint directory.
    pub fn load(spec: &str, device: &B::Device) -> Result<Self> {
        Self::load_with(spec, device, DecodeActivations::F32)
    }

    /// [`Model::load`] with the decoding products' activations set (GGUF models only; a
    /// checkpoint directory has no quantized blocks).
    pub fn load_with(spec: &str, device: &B::Device, decode: DecodeActivations) -> Result<Self> {
        if let Some(reg) = registry::lookup(spec) {
            let path = reg.fetch()?;
            let mut m = Self::load_gguf_with(&path, device, decode)?;
            m.name = reg.name.to_string();
            return Ok(m);
        }
        let path = Path::new(spec);
        if path.is_dir() {
            Self::load_hf_dir(path, device)
        } else if path.is_file() {
            Self::load_gguf_with(path, device, decode)
        } else {
            let names: Vec<&str> = registry::REGISTRY.iter().map(|m| m.name).collect();
            Err(Error::model(
                spec,
                format!(
                    "not a registered model ({}), a .gguf file or a checkpoint directory",
                    names.join(", ")
                ),
            ))
        }
    }

    /// Loads a GGUF file.
    pub fn load_gguf(path: &Path, device: &B::Device) -> Result<Self> {
        Self::load_gguf_with(path, device, DecodeActivations::F32)
    }

    /// Loads a GGUF file with the decoding products' activations set.
    pub fn load_gguf_with(path: &Path, device: &B::Device, decode: DecodeActivations) -> Result<Self> {
        crate::alloc::retain_freed_pages();
        let file = GgufFile::open_resident(path)?;
        let config = ModelConfig::from_gguf(&file)?;
        let tokenizer = Tokenizer::from_gguf(&file)?;
        let w = GgufWeights::new(&file, &config).activations(decode);
        let net = config.arch.load(&config, &w, device)?;
        Ok(Model {
            name: path.display().to_string(),
            source: path.to_path_buf(),
            config,
            tokenizer,
            net,
            device: device.clone(),
        })
    }

    /// Loads a Hugging Face checkpoint directory (`config.json`, `tokenizer.json`, safetensors).
    pub fn load_hf_dir(dir: &Path, device: &B::Device) -> Result<Self> {
        crate::alloc::retain_freed_pages();
        let config = ModelConfig::from_hf_config(&dir.join("config.json"))?;
        let tokenizer = Tokenizer::from_hf_dir(dir)?;
        let w = SafetensorsWeights::open(dir, config.arch)?;
        let net = config.arch.load(&config, &w, device)?;
        Ok(Model {
            name: dir.display().to_string(),
            source: dir.to_path_buf(),
            config,
            tokenizer,
            net,
            device: device.clone(),
        })
    }

    /// The device the weights live on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// One forward call over the columns `ctx.offset..ctx.offset + ctx.len` of a left-padded
    /// batch. `tokens` holds exactly those columns. Returns final-normed hidden states.
    pub fn forward(
        &self,
        tokens: &[u32],
        ctx: &HookCtx,
        cache: Option<&mut KvCache<B>>,
        hooks: &mut dyn Hook<B>,
    ) -> Result<Tensor<B, 3>> {
        let vocab = self.config.vocab_size;
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::Invalid(format!(
                "token id {bad} is out of range for {} (vocabulary of {vocab})",
                self.name
            )));
        }
        let longest = ctx.offset + ctx.len - ctx.pad_left.iter().copied().min().unwrap_or(0);
        self.check_window(longest)?;
        let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
        let t = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [ctx.batch(), ctx.len]), &self.device);
        Ok(self.net.forward(t, ctx, cache, hooks))
    }

    /// Logits `[b, s, vocab]` from final-normed hidden states.
    pub fn unembed(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        self.net.unembed(h)
    }

    /// Runs a batch of token sequences (left-padded together) through the model with `hooks`
    /// and returns the requested logits per row (`[seq, vocab]` or `[1, vocab]`).
    pub fn run(&self, prompts: &[Vec<u32>], hooks: &mut dyn Hook<B>, logits: LogitsMode) -> Result<Vec<Array2<f32>>> {
        if prompts.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(i) = prompts.iter().position(|p| p.is_empty()) {
            return Err(Error::Invalid(format!("prompt {i} has no tokens")));
        }
        if logits != LogitsMode::None && hooks.stop_after().is_some() {
            return Err(Error::Invalid(
                "logits need the whole network, but the hook stops the forward pass early".into(),
            ));
        }
        let batch = PaddedBatch::new(prompts, self.pad_id());
        let ctx = batch.ctx();
        let h = self.forward(&batch.tokens, &ctx, None, hooks)?;
        match logits {
            LogitsMode::None => Ok(Vec::new()),
            LogitsMode::Last => {
                let [b, s, d] = h.dims();
                let last = h.slice([0..b, s - 1..s, 0..d]);
                let l = self.unembed(last);
                Ok(split_rows(l, &vec![0; b]))
            }
            LogitsMode::All => Ok(split_rows(self.unembed(h), &batch.pad_left)),
        }
    }

    /// Token used to fill padding columns (never attended to).
    pub fn pad_id(&self) -> u32 {
        self.tokenizer.eos_ids.first().copied().unwrap_or(0)
    }
}

/// Copies `[b, s, v]` logits to the host, one `[s - pad, v]` array per row.
pub(crate) fn split_rows<B: Backend>(logits: Tensor<B, 3>, pad_left: &[usize]) -> Vec<Array2<f32>> {
    let [b, s, v] = logits.dims();
    let data: Vec<f32> = logits.into_data().convert::<f32>().into_vec().expect("float tensor");
    (0..b)
        .map(|r| {
            let rows = s - pad_left[r];
            let start = (r * s + pad_left[r]) * v;
            Array2::from_shape_vec((rows, v), data[start..start + rows * v].to_vec()).expect("whole rows")
        })
        .collect()
}

/// Token sequences left-padded to a common length.
#[derive(Clone, Debug)]
pub struct PaddedBatch {
    /// `[rows * cols]` token ids, padding first in each row.
    pub tokens: Vec<u32>,
    /// Padding columns per row.
    pub pad_left: Vec<usize>,
    /// Real tokens per row.
    pub lens: Vec<usize>,
    /// Columns.
    pub cols: usize,
}

impl PaddedBatch {
    /// Left-pads `seqs` with `pad`.
    pub fn new(seqs: &[Vec<u32>], pad: u32) -> Self {
        let cols = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let mut tokens = Vec::with_capacity(seqs.len() * cols);
        let mut pad_left = Vec::with_capacity(seqs.len());
        for s in seqs {
            let p = cols - s.len();
            tokens.extend(std::iter::repeat_n(pad, p));
            tokens.extend_from_slice(s);
            pad_left.push(p);
        }
        PaddedBatch {
            tokens,
            pad_left,
            lens: seqs.iter().map(Vec::len).collect(),
            cols,
        }
    }

    /// The hook context of a full (uncached) forward over this batch.
    pub fn ctx(&self) -> HookCtx<'_> {
        HookCtx {
            offset: 0,
            len: self.cols,
            pad_left: &self.pad_left,
            prompt_len: &self.lens,
        }
    }
}
