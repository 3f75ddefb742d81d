//! `mindlens steer extract | apply | sweep | export-gguf | import-gguf`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{with_backend, ModelArgs, PromptArgs};
use crate::error::{Error, Result};
use crate::generate::GenerateOptions;
use crate::harvest::PositionSpec;
use crate::hooks::{HookSet, Positions};
use crate::model::Model;
use crate::prompts::read_jsonl;
use crate::steer::export::{export_gguf, import_gguf};
use crate::steer::extract::{extract, read_pairs, ExtractOptions, Method};
use crate::steer::sweep::{
    pairs_from_items, read_items, samples_markdown, sweep, ScoreMode, SweepSettings, NEUTRAL_PROMPTS,
};
use crate::steer::{add_ablation, add_steering, SteeringVectors, Strength};

#[derive(Subcommand, Debug)]
pub(super) enum SteerAction {
    /// Extract per-layer directions from positive/negative pairs.
    Extract(ExtractArgs),
    /// Generate with steering vectors (or directional ablation).
    Apply(ApplyArgs),
    /// Sweep layers x strengths on A/B items with KL and perplexity side effects.
    Sweep(SweepArgs),
    /// Write a llama.cpp control-vector GGUF.
    ExportGguf {
        /// Vector directory.
        #[arg(long)]
        vector: PathBuf,
        /// Output .gguf file.
        #[arg(long)]
        out: PathBuf,
        /// Model whose architecture and depth the file declares (default: the vector's).
        #[arg(long)]
        model: Option<String>,
        /// Replace an existing output file.
        #[arg(long)]
        force: bool,
    },
    /// Read a llama.cpp / repeng control-vector GGUF into a vector directory.
    ImportGguf {
        /// The .gguf file.
        file: PathBuf,
        /// Output vector directory.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Parses `A..B` (inclusive) or `A,B,C`.
fn parse_layers(s: &str) -> Result<Vec<usize>> {
    let bad = || Error::Invalid(format!("bad layer list {s:?} (use A..B or A,B,C)"));
    if let Some((a, b)) = s.split_once("..") {
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b {
            return Err(bad());
        }
        return Ok((a..=b).collect());
    }
    s.split(',').map(|x| x.trim().parse().map_err(|_| bad())).collect()
}

fn parse_positions(s: &str) -> Result<Positions> {
    Ok(match s {
        "all" => Positions::All,
        "prompt" => Positions::Prompt,
        "generated" => Positions::Generated,
        _ => match s.strip_prefix("from:").map(str::parse) {
            Some(Ok(p)) => Positions::From(p),
            _ => {
                return Err(Error::Invalid(format!(
                    "bad --positions {s:?} (all, prompt, generated, from:N)"
                )))
            }
        },
    })
}

#[derive(Args, Debug)]
pub(super) struct ExtractArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Pairs JSONL: {"positive": ..., "negative": ..., "pair": id}.
    #[arg(long, required_unless_present = "items", conflicts_with = "items")]
    data: Option<PathBuf>,
    /// Or A/B items JSONL: contrastive pairs are built from them (behaviour letter vs other).
    #[arg(long)]
    items: Option<PathBuf>,
    /// Direction method.
    #[arg(long, value_enum, default_value_t = Method::MeanDiff)]
    method: Method,
    /// Layers, `A..B` or `A,B,C`.
    #[arg(long)]
    layers: String,
    /// `last` (last token) or `mean-from:FIELD` (averaged over the response marked by FIELD).
    /// Default: `mean-from:response` with --items (the answer's tokens), `last` otherwise.
    #[arg(long)]
    positions: Option<String>,
    /// Output vector directory.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct ApplyArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Vector directory (repeat for several vectors at once).
    #[arg(long, required = true)]
    vector: Vec<PathBuf>,
    /// Layers to steer, `A..B` or `A,B,C` (default: every layer of the vector).
    #[arg(long)]
    layers: Option<String>,
    /// Strength.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    alpha: f32,
    /// Alpha is relative to the mean residual norm at each layer.
    #[arg(long)]
    relative: bool,
    /// Instead of adding, project the direction of LAYER out of the residual stream everywhere.
    #[arg(long, value_name = "LAYER")]
    ablate: Option<usize>,
    /// all | prompt | generated | from:N
    #[arg(long, default_value = "all")]
    positions: String,
    #[command(flatten)]
    prompts: PromptArgs,
    /// New tokens.
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub(super) struct SweepArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Vector directory.
    #[arg(long)]
    vector: PathBuf,
    /// Items JSONL: {"text"|"messages", "choices": [...], "target": i}.
    #[arg(long)]
    eval: PathBuf,
    /// Layers, `A..B` or `A,B,C`.
    #[arg(long)]
    layers: String,
    /// Strengths, comma-separated (negative values allowed).
    #[arg(long, allow_hyphen_values = true)]
    alphas: String,
    /// Alphas are relative to the mean residual norm at each layer.
    #[arg(long)]
    relative: bool,
    /// KL bound of the selection rule (nats).
    #[arg(long, default_value_t = 0.1)]
    kl_bound: f64,
    /// How options are scored: the answer text's mean token log-probability, or the letter.
    #[arg(long, value_enum, default_value_t = ScoreMode::Text)]
    score: ScoreMode,
    /// Neutral prompts JSONL for KL and perplexity (default: a built-in set).
    #[arg(long)]
    neutral: Option<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
}

pub(super) fn steer(action: SteerAction) -> Result<()> {
    match action {
        SteerAction::Extract(a) => with_backend!(a.model.device, |B, dev| {
            let m = Model::<B>::load(&a.model.model, &dev)?;
            let default = if a.items.is_some() {
                "mean-from:response"
            } else {
                "last"
            };
            let positions: PositionSpec = a.positions.as_deref().unwrap_or(default).parse()?;
            if !matches!(positions, PositionSpec::Last | PositionSpec::MeanFrom(_)) {
                return Err(Error::Invalid("--positions must be last or mean-from:FIELD".into()));
            }
            let opts = ExtractOptions {
                layers: parse_layers(&a.layers)?,
                method: a.method,
                positions,
            };
            let (pairs, source) = match (&a.data, &a.items) {
                (Some(d), _) => (read_pairs(d)?, d),
                (None, Some(i)) => (pairs_from_items(&m, &read_items(i)?)?, i),
                (None, None) => return Err(Error::Invalid("give --data PAIRS.jsonl or --items ITEMS.jsonl".into())),
            };
            let v = extract(&m, &pairs, &crate::registry::sha256_file(source)?, &opts)?;
            v.save(&a.out)?;
            println!("{}", serde_json::to_string_pretty(&v.meta.stats).expect("JSON"));
            eprintln!("saved {} layers to {}", v.layers.len(), a.out.display());
            Ok(())
        }),
        SteerAction::Apply(a) => with_backend!(a.model.device, |B, dev| {
            let m = Model::<B>::load(&a.model.model, &dev)?;
            let mut hooks = HookSet::default();
            for path in &a.vector {
                let v = SteeringVectors::load(path)?;
                if let Some(l) = a.ablate {
                    add_ablation(&mut hooks, &m, v.get(l)?)?;
                    continue;
                }
                let layers = match &a.layers {
                    Some(s) => parse_layers(s)?,
                    None => v.layers.keys().copied().collect(),
                };
                let strength = if a.relative {
                    Strength::Relative(a.alpha)
                } else {
                    Strength::Absolute(a.alpha)
                };
                add_steering(&mut hooks, &m, &v, &layers, strength, parse_positions(&a.positions)?)?;
            }
            let ids = a.prompts.encode(&m)?;
            let opts = GenerateOptions {
                max_new_tokens: a.max_new_tokens,
                ..Default::default()
            };
            for o in m.generate(&ids, &opts, &mut hooks)? {
                if a.json {
                    println!("{}", serde_json::json!({"tokens": o.tokens, "text": o.text}));
                } else {
                    println!("{}", o.text);
                }
            }
            Ok(())
        }),
        SteerAction::Sweep(a) => with_backend!(a.model.device, |B, dev| {
            let m = Model::<B>::load(&a.model.model, &dev)?;
            let v = SteeringVectors::load(&a.vector)?;
            if v.width() != m.config.d_model {
                return Err(Error::Invalid(format!(
                    "{}: vectors have width {}, {} has d_model {}",
                    a.vector.display(),
                    v.width(),
                    m.name,
                    m.config.d_model
                )));
            }
            let items = read_items(&a.eval)?;
            let neutral: Vec<Vec<u32>> = match &a.neutral {
                Some(f) => read_jsonl(f)?
                    .iter()
                    .map(|r| m.encode(&r.input))
                    .collect::<Result<_>>()?,
                None => NEUTRAL_PROMPTS
                    .iter()
                    .map(|t| m.tokenizer.encode(t, true))
                    .collect::<Result<_, _>>()?,
            };
            let alphas = a
                .alphas
                .split(',')
                .map(|x| {
                    x.trim()
                        .parse::<f32>()
                        .map_err(|_| Error::Invalid(format!("bad alpha {x:?}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let settings = SweepSettings {
                layers: parse_layers(&a.layers)?,
                alphas,
                relative: a.relative,
                kl_bound: a.kl_bound,
                positions: Positions::All,
                score: a.score,
            };
            let bar = crate::progress::bar("sweep settings", 0, true);
            let mut r = sweep(&m, &v, &items, &neutral, &settings, &bar)?;
            bar.finish_and_clear();
            r.vector = a.vector.display().to_string();
            std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
            crate::artifact::write_json(&a.out.join("results.json"), &r)?;
            crate::steer::figures::sweep_figures(&r, &a.out)?;
            if let Some(c) = &r.chosen {
                let (layer, alpha) = (
                    c["layer"].as_u64().unwrap_or(0) as usize,
                    c["alpha"].as_f64().unwrap_or(0.0) as f32,
                );
                let md = samples_markdown(&m, &v, &items, layer, alpha, a.relative)?;
                crate::artifact::write_atomic(&a.out.join("samples.md"), |f| {
                    use std::io::Write;
                    f.write_all(md.as_bytes()).map_err(|e| e.to_string())
                })?;
            }
            eprintln!(
                "baseline {:.3}; chosen {}; wrote {}",
                r.baseline["metric"].as_f64().unwrap_or(f64::NAN),
                r.chosen
                    .as_ref()
                    .map_or("none (no setting within the KL bound)".to_string(), |c| c.to_string()),
                a.out.join("results.json").display()
            );
            Ok(())
        }),
        SteerAction::ExportGguf {
            vector,
            out,
            model,
            force,
        } => {
            if out.exists() && !force {
                return Err(Error::Invalid(format!(
                    "{} exists; pass --force to replace it",
                    out.display()
                )));
            }
            let v = SteeringVectors::load(&vector)?;
            let (arch, n_layers) = export_target(&v, model.as_deref())?;
            export_gguf(&v, &arch, n_layers, &out)?;
            eprintln!("wrote {} ({} layers)", out.display(), v.layers.len());
            Ok(())
        }
        SteerAction::ImportGguf { file, out } => {
            let v = import_gguf(&file)?;
            v.save(&out)?;
            eprintln!("imported {} layers into {}", v.layers.len(), out.display());
            Ok(())
        }
    }
}

/// The architecture hint and block count a control vector is written for: from `model` when
/// given, else from the model the vectors name, else (vectors imported from llama.cpp, whose
/// model is only an architecture hint) from the hint and the source file's layer count.
fn export_target(v: &SteeringVectors, model: Option<&str>) -> Result<(String, usize)> {
    let spec = model.unwrap_or(&v.meta.model);
    let path = match crate::registry::lookup(spec) {
        Some(r) => Some(r.fetch()?),
        None => Some(PathBuf::from(spec)).filter(|p| p.exists()),
    };
    // Architecture and depth from the model's GGUF header or config.json, without weights.
    match path {
        Some(p) if p.is_dir() => {
            let c = crate::model::ModelConfig::from_hf_config(&p.join("config.json"))?;
            Ok((c.arch.gguf_name().to_string(), c.n_layers))
        }
        Some(p) => {
            let g = crate::gguf::GgufFile::open(&p)?;
            let arch = g.get_str("general.architecture")?.to_string();
            let n = g.get_u32(&format!("{arch}.block_count"))? as usize;
            Ok((arch, n))
        }
        None => match (model, v.meta.gguf_layer_count) {
            (None, Some(count)) if !spec.is_empty() => Ok((spec.to_string(), count + 1)),
            _ => Err(Error::Invalid(format!(
                "cannot tell which model to export for: {spec:?} is not a registered model, a .gguf file or a \
                 checkpoint directory{}; pass --model",
                if model.is_none() {
                    " (it is the vectors' meta.json \"model\")"
                } else {
                    ""
                }
            ))),
        },
    }
}
