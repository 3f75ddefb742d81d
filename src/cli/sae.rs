//! `mindlens sae train | eval | inspect | generate | corpus`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::ProgressBar;

use super::{with_backend, ModelArgs, PromptArgs};
use crate::error::{Error, Result};
use crate::generate::GenerateOptions;
use crate::harvest::store::ActivationStore;
use crate::hooks::{HookPoint, HookSet, Intervention};
use crate::model::Model;
use crate::prompts::{read_jsonl, PromptRow};
use crate::sae::corpus::{build_corpus, read_corpus_file, CorpusOptions};
use crate::sae::inspect::{markdown_report, top_contexts};
use crate::sae::splice::{SaeEdit, SaeSplice};
use crate::sae::train::{train_on, BDecInit, RunControl, TrainOptions};
use crate::sae::{eval, saelens, Arch};

#[derive(Subcommand, Debug)]
pub(super) enum SaeAction {
    /// Train an SAE on one hook of an activation store.
    Train(TrainArgs),
    /// Reconstruction, sparsity and downstream (CE recovered, KL) metrics on held-out text.
    Eval(EvalArgs),
    /// Top activating contexts and logit lens of latents, as a markdown report.
    Inspect(InspectArgs),
    /// Generate with one latent clamped (or its decoder direction added).
    Generate(GenerateArgs),
    /// Write a training corpus: given files plus the model's own samples on varied prompts.
    Corpus(CorpusArgs),
}

#[derive(Args, Debug)]
pub(super) struct TrainArgs {
    /// Activation store (harvested with --positions all-but-first for a text corpus).
    #[arg(long)]
    store: PathBuf,
    /// Hook to train on, e.g. blocks.15.hook_resid_post.
    #[arg(long)]
    hook: String,
    /// Architecture.
    #[arg(long, value_enum, default_value_t = Arch::TopK)]
    arch: Arch,
    /// Latents kept per row (topk, batchtopk).
    #[arg(long, default_value_t = 32)]
    k: usize,
    /// Latents per input dimension.
    #[arg(long, default_value_t = 16)]
    expansion: usize,
    /// Sparsity coefficient (L1 for relu-l1, L0 for jumprelu).
    #[arg(long)]
    sparsity: Option<f32>,
    /// Training vectors in all (0: one pass over the store).
    #[arg(long, default_value_t = 0)]
    tokens: u64,
    /// Vectors per batch.
    #[arg(long, default_value_t = 1024)]
    batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Decoder bias initialisation.
    #[arg(long, value_enum, default_value_t = BDecInit::GeometricMedian)]
    b_dec_init: BDecInit,
    /// Seed of initialisation and data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 50)]
    checkpoint_every: usize,
    /// Output SAE directory (SAELens layout).
    #[arg(long)]
    out: PathBuf,
    /// Start from this SAE (SAELens layout, same architecture and sizes) instead of a random
    /// initialisation.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Continue from the checkpoint in OUT.
    #[arg(long)]
    resume: bool,
    /// Start over in an OUT that already holds a run.
    #[arg(long, conflicts_with = "resume")]
    force: bool,
    /// Backend.
    #[arg(long, value_enum, default_value_t = crate::backend::DeviceKind::Cpu)]
    device: crate::backend::DeviceKind,
    /// Train data-parallel: a count N (devices 0..N-1 of the backend; on the CPU, N replicas
    /// sharing it) or a list of device indices (`0,1`; `0,0` puts two replicas on one GPU).
    /// Each takes an equal share of every batch; gradients are averaged by all-reduce.
    #[arg(long, default_value = "1")]
    devices: String,
}

/// The devices of `--devices`: indices of `B`'s devices, from a count or a list.
fn device_list<B: burn::tensor::backend::Backend>(spec: &str, first: &B::Device) -> Result<Vec<B::Device>> {
    use burn::tensor::backend::Device;
    let bad = || {
        Error::Invalid(format!(
            "--devices {spec:?}: expected a count (2) or a list of indices (0,1)"
        ))
    };
    let indices: Vec<u16> = if spec.contains(',') {
        spec.split(',')
            .map(|i| i.trim().parse().map_err(|_| bad()))
            .collect::<Result<_>>()?
    } else {
        let n: u16 = spec.trim().parse().map_err(|_| bad())?;
        (0..n).collect()
    };
    if indices.is_empty() {
        return Err(bad());
    }
    Ok(indices
        .into_iter()
        .map(|i| {
            let mut id = first.to_id();
            id.index_id = i;
            B::Device::from_id(id)
        })
        .collect())
}

#[derive(Args, Debug)]
pub(super) struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// SAE directory.
    #[arg(long)]
    sae: PathBuf,
    /// Held-out text: JSONL (`text` or `messages`) or plain text (paragraphs).
    #[arg(long)]
    text: PathBuf,
    /// Hook (default: the SAE's own).
    #[arg(long)]
    hook: Option<String>,
    /// Use at most this many texts.
    #[arg(long, default_value_t = 64)]
    max_texts: usize,
    /// Truncate each text to this many tokens.
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// Output JSON.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct InspectArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// SAE directory.
    #[arg(long)]
    sae: PathBuf,
    /// Multi-token activation store of the SAE's hook.
    #[arg(long)]
    store: PathBuf,
    /// The store's data file (default: the path in its manifest).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Latents to report (comma-separated; default: the 10 most frequent).
    #[arg(long)]
    latents: Option<String>,
    /// Contexts per latent.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Output markdown report.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct GenerateArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    prompts: PromptArgs,
    /// SAE directory.
    #[arg(long)]
    sae: PathBuf,
    /// Latent to steer with.
    #[arg(long)]
    latent: usize,
    /// Clamp the latent to this activation at every position (keeps the SAE's error term).
    #[arg(long, conflicts_with = "add")]
    clamp: Option<f32>,
    /// Add this multiple of the latent's decoder direction instead.
    #[arg(long)]
    add: Option<f32>,
    /// Tokens to generate.
    #[arg(long, default_value_t = 48)]
    max_new_tokens: usize,
}

#[derive(Args, Debug)]
pub(super) struct CorpusArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Files copied in (JSONL with text/messages/system, or plain text).
    #[arg(long = "include")]
    include: Vec<PathBuf>,
    /// Sampled answers from the model.
    #[arg(long, default_value_t = 320)]
    samples: usize,
    /// Tokens per sampled answer.
    #[arg(long, default_value_t = 96)]
    max_new_tokens: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output JSONL.
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
}

fn bar(what: &str) -> ProgressBar {
    crate::progress::bar(what, 0, true)
}

fn refuse_overwrite(path: &std::path::Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(Error::Invalid(format!(
            "{} exists; pass --force to replace it",
            path.display()
        )));
    }
    Ok(())
}

pub(super) fn sae(action: SaeAction) -> Result<()> {
    match action {
        SaeAction::Train(a) => with_backend!(a.device, |B, dev| {
            let store = ActivationStore::open(&a.store)?;
            let hook: HookPoint = a.hook.parse()?;
            let defaults = TrainOptions::default();
            let sparsity = a.sparsity.unwrap_or(match a.arch {
                Arch::JumpRelu => 1.0,
                _ => defaults.sparsity_coeff,
            });
            let opts = TrainOptions {
                arch: a.arch,
                expansion: a.expansion,
                k: a.k,
                sparsity_coeff: sparsity,
                tokens: a.tokens,
                batch: a.batch,
                lr: a.lr,
                b_dec_init: a.b_dec_init,
                seed: a.seed,
                checkpoint_every: a.checkpoint_every,
                init: a.init.clone(),
                ..defaults
            };
            let s = train_on::<burn::backend::Autodiff<B>>(
                &store,
                hook,
                &a.out,
                &opts,
                RunControl {
                    resume: a.resume,
                    force: a.force,
                    progress: true,
                },
                &device_list::<B>(&a.devices, &dev)?,
            )?;
            eprintln!(
                "trained {} steps, {} vectors, {:.0} vectors/s; saved to {}",
                s.steps,
                s.tokens,
                s.tokens_per_s,
                a.out.display()
            );
            println!("{}", serde_json::to_string(&s).expect("summary serialises"));
            Ok(())
        }),
        SaeAction::Eval(a) => with_backend!(a.model.device, |B, dev| {
            let m = Model::<B>::load(&a.model.model, &dev)?;
            let (sae, origin) = saelens::load(&a.sae)?;
            let hook: HookPoint = a.hook.as_deref().unwrap_or(&origin.hook).parse()?;
            let texts = read_texts(&m, &a.text, a.max_texts, a.max_tokens)?;
            let progress = bar("sae eval");
            let e = eval::evaluate(&m, &sae, hook, &texts, 8, &progress)?;
            progress.finish_and_clear();
            crate::artifact::write_json(&a.out, &e)?;
            println!(
                "l0 {:.1}  fvu {:.3}  dead {:.3}  ce_loss_recovered {:.3}  kl {:.3}  (CE clean {:.3}, sae {:.3}, zero {:.3})",
                e.l0,
                e.fvu,
                e.dead_fraction,
                e.ce_loss_recovered,
                e.kl,
                e.downstream.ce_clean,
                e.downstream.ce_sae,
                e.downstream.ce_zero
            );
            Ok(())
        }),
        SaeAction::Inspect(a) => with_backend!(a.model.device, |B, dev| {
            let m = Model::<B>::load(&a.model.model, &dev)?;
            let (sae, origin) = saelens::load(&a.sae)?;
            let store = ActivationStore::open(&a.store)?;
            let hook: HookPoint = origin.hook.parse()?;
            let data = a
                .data
                .clone()
                .unwrap_or_else(|| PathBuf::from(&store.manifest.data.path));
            let rows = read_jsonl(&data)?;
            let latents: Vec<usize> = match &a.latents {
                Some(s) => s
                    .split(',')
                    .map(|x| {
                        x.trim()
                            .parse()
                            .map_err(|_| Error::Invalid(format!("bad latent {x:?}")))
                    })
                    .collect::<Result<_>>()?,
                None => most_frequent(&sae, &store, hook, 10)?,
            };
            let reports = top_contexts(&m, &sae, &store, hook, &rows, &latents, a.top)?;
            let md = markdown_report(&format!("SAE latents of {} at {hook}", m.name), &reports);
            crate::artifact::write_atomic(&a.out, |f| {
                std::io::Write::write_all(f, md.as_bytes()).map_err(|e| e.to_string())
            })?;
            eprintln!("wrote {}", a.out.display());
            Ok(())
        }),
        SaeAction::Generate(a) => with_backend!(a.model.device, |B, dev| {
            let m = Model::<B>::load(&a.model.model, &dev)?;
            let (sae, origin) = saelens::load(&a.sae)?;
            let hook: HookPoint = origin.hook.parse()?;
            if a.latent >= sae.d_sae() {
                return Err(Error::Invalid(format!(
                    "--latent {} out of range ({} latents)",
                    a.latent,
                    sae.d_sae()
                )));
            }
            let ids = a.prompts.encode(&m)?;
            let opts = GenerateOptions {
                max_new_tokens: a.max_new_tokens,
                ..Default::default()
            };
            let out = match (a.clamp, a.add) {
                (Some(value), _) => {
                    let mut splice = SaeSplice::new(
                        &sae,
                        hook,
                        SaeEdit::Clamp {
                            latent: a.latent,
                            value,
                        },
                    );
                    m.generate(&ids, &opts, &mut splice)?
                }
                (None, Some(alpha)) => {
                    let mut hooks = HookSet::default();
                    let dir = sae.w_dec.row(a.latent).to_vec();
                    hooks.intervene(Intervention::add(hook, dir, alpha), sae.d_in(), &dev)?;
                    m.generate(&ids, &opts, &mut hooks)?
                }
                (None, None) => return Err(Error::Invalid("give --clamp VALUE or --add ALPHA".into())),
            };
            for o in out {
                println!("{}", o.text);
            }
            Ok(())
        }),
        SaeAction::Corpus(a) => with_backend!(a.model.device, |B, dev| {
            refuse_overwrite(&a.out, a.force)?;
            let m = Model::<B>::load(&a.model.model, &dev)?;
            let opts = CorpusOptions {
                samples: a.samples,
                max_new_tokens: a.max_new_tokens,
                temperature: 0.8,
                seed: a.seed,
                batch: 16,
                include: a.include.clone(),
            };
            let progress = bar("corpus samples");
            let n = build_corpus(&m, &opts, &a.out, &progress)?;
            progress.finish_and_clear();
            eprintln!("wrote {n} rows to {}", a.out.display());
            Ok(())
        }),
    }
}

/// Tokenised evaluation texts, truncated to `max_tokens`.
fn read_texts<B: burn::tensor::backend::Backend>(
    m: &Model<B>,
    path: &std::path::Path,
    max_texts: usize,
    max_tokens: usize,
) -> Result<Vec<Vec<u32>>> {
    let rows = read_corpus_file(path)?;
    let mut out = Vec::new();
    for (i, v) in rows.into_iter().take(max_texts).enumerate() {
        let row = PromptRow::parse(v, i + 1, &|| format!("{}:{}", path.display(), i + 1))?;
        let mut ids = m.encode(&row.input)?;
        ids.truncate(max_tokens.max(2));
        if ids.len() >= 2 {
            out.push(ids);
        }
    }
    if out.is_empty() {
        return Err(Error::bad_file(path, "no text of at least 2 tokens"));
    }
    Ok(out)
}

/// The `n` latents firing most often on the first 16k vectors of the store.
fn most_frequent(sae: &crate::sae::Sae, store: &ActivationStore, hook: HookPoint, n: usize) -> Result<Vec<usize>> {
    let mut acc = eval::ReconAccumulator::default();
    for chunk in store
        .chunks(hook, 4096, crate::harvest::store::ChunkOrder::Sequential)?
        .take(4)
    {
        acc.add(sae, chunk?.view());
    }
    let freq = acc.finish().frequency;
    let mut order: Vec<usize> = (0..freq.len()).collect();
    order.sort_by(|&a, &b| freq[b].total_cmp(&freq[a]));
    Ok(order.into_iter().take(n).collect())
}
