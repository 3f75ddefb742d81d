//! `mindlens experiment personality | knowledge | belief`: the concept suites, end to end.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{with_backend, ModelArgs};
use crate::concepts::belief::{run_belief, BeliefOptions};
use crate::concepts::knowledge::{run_knowledge, KnowledgeOptions};
use crate::concepts::personality::{Personality, PersonalityOptions};
use crate::concepts::run_suite;
use crate::error::Result;
use crate::model::Model;

#[derive(Subcommand, Debug)]
pub(super) enum ExperimentAction {
    /// Big Five trait directions: probes, steering dose-response, monitoring (probes/personality).
    Personality(SuiteArgs),
    /// Known vs unknown entities: probes, SAE latents, refusal/hallucination steering, P(IK)
    /// (probes/knowledge).
    Knowledge(SuiteArgs),
    /// Protagonist vs oracle beliefs in false-belief stories: probes per layer and head,
    /// transfer across wordings, steering (probes/belief).
    Belief(SuiteArgs),
}

#[derive(Args, Debug)]
pub(super) struct SuiteArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Output directory (default: notebooks-data/<suite>/<model>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Data directory (default: probes/<suite>/).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Knowledge suite: a trained residual-stream SAE directory to use instead of training one.
    #[arg(long)]
    sae: Option<PathBuf>,
    /// A few-minute run on a subset (few items, few layers): for a first look.
    #[arg(long)]
    quick: bool,
    /// Steering strengths, relative to the mean residual norm at the layer (comma list;
    /// default: the suite's own, which `--quick` trims).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    alphas: Option<Vec<f32>>,
}

fn out_dir(a: &SuiteArgs, suite: &str, model: &str) -> PathBuf {
    let safe: String = model
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    a.out
        .clone()
        .unwrap_or_else(|| PathBuf::from("notebooks-data").join(suite).join(safe))
}

fn quick_layers(n_layers: usize) -> Option<Vec<usize>> {
    Some((1..=5).map(|i| i * n_layers / 6).collect())
}

pub(super) fn experiment(action: ExperimentAction) -> Result<()> {
    let (suite, a) = match &action {
        ExperimentAction::Personality(a) => ("personality", a),
        ExperimentAction::Knowledge(a) => ("knowledge", a),
        ExperimentAction::Belief(a) => ("belief", a),
    };
    with_backend!(a.model.device, |B, dev| {
        let m = Model::<B>::load(&a.model.model, &dev)?;
        let out = out_dir(a, suite, &m.name);
        let results = match suite {
            "personality" => {
                let mut o = if a.quick {
                    PersonalityOptions::quick(m.config.n_layers)
                } else {
                    PersonalityOptions::default()
                };
                if let Some(d) = &a.data {
                    o.data_dir = d.clone();
                }
                if let Some(al) = &a.alphas {
                    o.alphas = al.clone();
                }
                let r = run_suite::<Personality, _>(&m, &o, &out, true)?;
                serde_json::json!({ "headline": r.headline })
            }
            "knowledge" => {
                let mut o = KnowledgeOptions::default();
                if let Some(d) = &a.data {
                    o.data_dir = d.clone();
                }
                o.sae = a.sae.clone();
                if a.quick {
                    o.max_entities = Some(20);
                    o.layers = quick_layers(m.config.n_layers);
                    o.sae_tokens = 100_000;
                    o.max_steer_entities = Some(10);
                    o.alphas = vec![0.5];
                }
                if let Some(al) = &a.alphas {
                    o.alphas = al.clone();
                }
                run_knowledge(&m, &o, &out, true)?
            }
            _ => {
                let mut o = BeliefOptions::default();
                if let Some(d) = &a.data {
                    o.data_dir = d.clone();
                }
                if a.quick {
                    o.max_stories = Some(40);
                    o.max_questions = Some(40);
                    o.layers = quick_layers(m.config.n_layers);
                }
                if let Some(al) = &a.alphas {
                    o.steer_alphas = al.clone();
                }
                run_belief(&m, &o, &out, true)?
            }
        };
        println!("{}", serde_json::to_string_pretty(&results["headline"]).expect("JSON"));
        eprintln!("results, figures and report.md in {}", out.display());
        Ok(())
    })
}
