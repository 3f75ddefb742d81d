//! The `mindlens` command line. Each subcommand parses its flags and calls one public library
//! function; nothing here computes anything the library does not expose.

mod core;
mod experiment;
mod harvest;
mod probe;
mod sae;
mod slurm;
mod steer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::backend::DeviceKind;

/// mindlens: activation probing, sparse autoencoders and steering for language models.
#[derive(Parser, Debug)]
#[command(name = "mindlens", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List or fetch registered models.
    Models {
        #[command(subcommand)]
        action: core::ModelsAction,
    },
    /// Inspect a model.
    Model {
        #[command(subcommand)]
        action: core::ModelAction,
    },
    /// Print the token ids of a text.
    Tokenize(core::TokenizeArgs),
    /// Generate text, optionally with a steering vector.
    Generate(core::GenerateArgs),
    /// Save activations at hook points for a file of prompts.
    Cache(core::CacheArgs),
    /// Harvest activations for a data set into a sharded, resumable store.
    Harvest(harvest::HarvestArgs),
    /// Train, evaluate and apply linear probes.
    Probe {
        #[command(subcommand)]
        action: probe::ProbeAction,
    },
    /// Extract, apply, sweep and exchange steering vectors.
    Steer {
        #[command(subcommand)]
        action: steer::SteerAction,
    },
    /// Train, evaluate, inspect and steer with sparse autoencoders.
    Sae {
        #[command(subcommand)]
        action: sae::SaeAction,
    },
    /// Run a concept suite end to end (results.json, figures, report.md).
    Experiment {
        #[command(subcommand)]
        action: experiment::ExperimentAction,
    },
    /// Redraw the figures of a results.json.
    Plot(probe::PlotArgs),
    /// Run work as Slurm jobs (harvest as a job array plus a merge).
    Slurm {
        #[command(subcommand)]
        action: slurm::SlurmAction,
    },
}

/// Options shared by every command that runs a model.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Registered model name, .gguf file or Hugging Face checkpoint directory.
    #[arg(long, default_value = crate::registry::DEFAULT_MODEL)]
    pub model: String,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
}

/// The prompts of a generating command: one argument, or a JSONL file generated as one batch.
#[derive(clap::Args, Debug, Clone)]
pub struct PromptArgs {
    /// The prompt (or use --prompts).
    pub prompt: Option<String>,
    /// JSONL file of prompts (`text`, `messages`, `tokens` or `raw` per line), generated as one batch.
    #[arg(long, conflicts_with = "prompt")]
    pub prompts: Option<std::path::PathBuf>,
    /// Treat the prompt argument as a user message and apply the chat template.
    #[arg(long)]
    pub chat: bool,
}

impl PromptArgs {
    /// The prompts' token ids for `model`.
    pub fn encode<B: burn::tensor::backend::Backend>(
        &self,
        model: &crate::model::Model<B>,
    ) -> crate::Result<Vec<Vec<u32>>> {
        use crate::prompts::PromptInput;
        // Each input with the words that name it in an error.
        let inputs: Vec<(String, PromptInput)> = match (&self.prompt, &self.prompts) {
            (Some(p), None) if self.chat => vec![(
                "the prompt argument".into(),
                PromptInput::Messages(vec![crate::chat::ChatMessage::user(p)]),
            )],
            (Some(p), None) => vec![("the prompt argument".into(), PromptInput::Text(p.clone()))],
            (None, Some(f)) => crate::prompts::read_jsonl(f)?
                .into_iter()
                .map(|r| (format!("{} line {}", f.display(), r.line), r.input))
                .collect(),
            _ => {
                return Err(crate::Error::Invalid(
                    "give a prompt argument or --prompts FILE.jsonl".into(),
                ))
            }
        };
        inputs
            .iter()
            .map(|(what, i)| {
                model
                    .encode(i)
                    .map_err(|e| crate::Error::Invalid(format!("{what}: {e}")))
            })
            .collect()
    }
}

/// Runs `$body` with `$B` bound to the backend type chosen by `$kind` and `$dev` to its device.
macro_rules! with_backend {
    ($kind:expr, |$B:ident, $dev:ident| $body:expr) => {{
        match $kind.check()? {
            $crate::backend::DeviceKind::Cpu => {
                type $B = $crate::backend::Cpu;
                let $dev = $crate::cli::default_device::<$B>();
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::backend::DeviceKind::Cuda => {
                type $B = $crate::backend::Gpu;
                let $dev = $crate::cli::default_device::<$B>();
                $body
            }
            #[cfg(feature = "wgpu")]
            $crate::backend::DeviceKind::Wgpu => {
                type $B = $crate::backend::Wgpu;
                let $dev = $crate::cli::default_device::<$B>();
                $body
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("DeviceKind::check rejects backends that are not compiled in"),
        }
    }};
}
pub(crate) use with_backend;

/// The default device of backend `B` (the first GPU for CUDA).
pub fn default_device<B: burn::tensor::backend::Backend>() -> B::Device {
    Default::default()
}

/// Entry point of the `mindlens` binary.
pub fn main() -> ExitCode {
    crate::backend::join_thread_pool();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Models { action } => core::models(action),
        Command::Model { action } => core::model(action),
        Command::Tokenize(a) => core::tokenize(a),
        Command::Generate(a) => core::generate(a),
        Command::Cache(a) => core::cache(a),
        Command::Harvest(a) => harvest::run(a),
        Command::Probe { action } => probe::probe(action),
        Command::Steer { action } => steer::steer(action),
        Command::Sae { action } => sae::sae(action),
        Command::Experiment { action } => experiment::experiment(action),
        Command::Plot(a) => probe::plot(a),
        Command::Slurm { action } => slurm::slurm(action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
