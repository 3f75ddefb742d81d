//! `mindlens experiment personality | knowledge | belief`: the concept suites, end to end.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{with_backend, ModelArgs};
use crate::concepts::belief::Belief;
use crate::concepts::knowledge::Knowledge;
use crate::concepts::personality::Personality;
use crate::concepts::{overlay_options, run_suite, Suite};
use crate::error::{Error, Result};
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
    /// Output directory (default: notebooks-data/<suite>/<model>/). A run killed part-way
    /// continues from its last finished stage when started again with the same options.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Data directory (default: probes/<suite>/).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Knowledge suite: a trained residual-stream SAE directory to use instead of training one.
    #[arg(long)]
    sae: Option<PathBuf>,
    /// JSON file with some or all of the suite's options (the fields of its results.json
    /// `options`), put over the defaults or the `--quick` preset; --data and --alphas apply
    /// on top. Personality and knowledge suites.
    #[arg(long)]
    options: Option<PathBuf>,
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

pub(super) fn experiment(action: ExperimentAction) -> Result<()> {
    let (suite, a) = match &action {
        ExperimentAction::Personality(a) => ("personality", a),
        ExperimentAction::Knowledge(a) => ("knowledge", a),
        ExperimentAction::Belief(a) => ("belief", a),
    };
    if a.sae.is_some() && suite != "knowledge" {
        return Err(Error::Invalid("--sae applies to the knowledge suite only".into()));
    }
    if a.options.is_some() && suite == "belief" {
        return Err(Error::Invalid(
            "--options applies to the personality and knowledge suites only".into(),
        ));
    }
    with_backend!(a.model.device, |B, dev| {
        let m = Model::<B>::load(&a.model.model, &dev)?;
        let out = out_dir(a, suite, &m.name);
        match suite {
            "personality" => suite_command::<Personality, B>(&m, a, &out, from_file, |_| {}),
            "knowledge" => suite_command::<Knowledge, B>(&m, a, &out, from_file, |o| o.sae = a.sae.clone()),
            _ => suite_command::<Belief, B>(&m, a, &out, |o, _| Ok(o), |_| {}),
        }
    })
}

/// The `--options` file over `base`, when one is given.
fn from_file<O: Serialize + DeserializeOwned>(base: O, file: Option<&Path>) -> Result<O> {
    match file {
        Some(f) => overlay_options(&base, f),
        None => Ok(base),
    }
}

/// Runs suite `S` with the CLI's options (the suite's defaults or its quick preset, then the
/// `--options` file through `load`, the data directory and strengths given, then `tweak`)
/// and prints its headline.
fn suite_command<S: Suite, B: Backend>(
    m: &Model<B>,
    a: &SuiteArgs,
    out: &Path,
    load: impl FnOnce(S::Options, Option<&Path>) -> Result<S::Options>,
    tweak: impl FnOnce(&mut S::Options),
) -> Result<()> {
    let base = if a.quick {
        S::quick(m.config.n_layers)
    } else {
        S::Options::default()
    };
    let mut o = load(base, a.options.as_deref())?;
    if let Some(d) = &a.data {
        *S::data_dir(&mut o) = d.clone();
    }
    if let Some(al) = &a.alphas {
        *S::alphas(&mut o)
            .ok_or_else(|| Error::Invalid("this suite does not steer: --alphas does not apply".into()))? = al.clone();
    }
    tweak(&mut o);
    let r = run_suite::<S, B>(m, &o, out, true)?;
    println!("{}", serde_json::to_string_pretty(S::headline(&r)).expect("JSON"));
    eprintln!("results, figures and report.md in {}", out.display());
    Ok(())
}
