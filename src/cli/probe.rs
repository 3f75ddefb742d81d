//! `mindlens probe sweep | apply` and `mindlens plot`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{with_backend, ModelArgs};
use crate::artifact::write_json;
use crate::error::{Error, Result};
use crate::harvest::ActivationStore;
use crate::model::Model;
use crate::probe::figures::sweep_figures;
use crate::probe::{
    apply, fit_best, save_probe, store_labels, sweep_store, Control, FitOptions, ProbeKind, SweepOptions, SweepResults,
};

#[derive(Subcommand, Debug)]
pub(super) enum ProbeAction {
    /// Cross-validated probes at every layer (and head) of a hook; writes results.json,
    /// figures and the best layer's probe.
    Sweep(SweepArgs),
    /// Score new prompts (or a store) with a saved probe.
    Apply(ApplyArgs),
}

#[derive(Args, Debug)]
pub(super) struct SweepArgs {
    /// Activation store from `mindlens harvest`.
    #[arg(long)]
    store: PathBuf,
    /// Row field holding the label.
    #[arg(long)]
    label: String,
    /// Row field grouping rows that must share a fold (story, entity, pair id...).
    #[arg(long)]
    group: Option<String>,
    /// Hook glob, e.g. 'blocks.*.hook_resid_post' (attn.hook_z is also swept per head).
    #[arg(long)]
    hook: String,
    /// Probe kind.
    #[arg(long, value_enum, default_value_t = ProbeKind::Logistic)]
    method: ProbeKind,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Control task: `permute` (labels shuffled), `type:FIELD` (Hewitt-Liang labels per
    /// value of FIELD) or `none`.
    #[arg(long, default_value = "permute")]
    control: String,
    /// Principal components for the low-rank check (0 to skip).
    #[arg(long, default_value_t = 10)]
    pcs: usize,
    /// Inverse L2 strength of logistic probes (scikit-learn's C).
    #[arg(long, default_value_t = 1.0)]
    c: f64,
    /// L2 strength of ridge probes.
    #[arg(long, default_value_t = 1.0)]
    ridge_alpha: f64,
    /// Fixed held-out split, FIELD=VALUE: those rows are kept out of cross-validation and
    /// scored by a probe fitted on all the others.
    #[arg(long)]
    holdout: Option<String>,
    /// Seed of folds and controls.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct ApplyArgs {
    /// Probe directory (from `probe sweep`: RESULTS/probe).
    #[arg(long)]
    probe: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// JSONL prompts to score (harvested at the probe's hook and positions).
    #[arg(long, conflicts_with = "store")]
    data: Option<PathBuf>,
    /// Or an activation store holding the probe's hook.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Add the probe's score at every token (`tokens`, `per_token`).
    #[arg(long)]
    per_token: bool,
    /// Output JSONL: each input row plus score, prob and pred.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct PlotArgs {
    /// A results.json written by mindlens.
    results: PathBuf,
    /// Output directory (default: beside the results file; a suite's `figures/` there).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(super) fn probe(action: ProbeAction) -> Result<()> {
    match action {
        ProbeAction::Sweep(a) => {
            let store = ActivationStore::open(&a.store)?;
            let control = match a.control.as_str() {
                "permute" => Some(Control::Permute),
                "none" => None,
                c if c.starts_with("type:") => Some(Control::PerType(Vec::new())),
                other => {
                    return Err(Error::Invalid(format!(
                        "unknown --control {other:?} (permute, type:FIELD, none)"
                    )))
                }
            };
            let type_field = a.control.strip_prefix("type:");
            let holdout = match &a.holdout {
                Some(h) => Some(
                    h.split_once('=')
                        .ok_or_else(|| Error::Invalid(format!("--holdout {h:?} must be FIELD=VALUE")))?,
                ),
                None => None,
            };
            if a.folds < 2 {
                return Err(Error::Invalid("--folds must be at least 2".into()));
            }
            let mut opts = SweepOptions {
                method: a.method,
                folds: a.folds,
                seed: a.seed,
                control,
                pcs: a.pcs,
                fit: FitOptions {
                    c: a.c,
                    ridge_alpha: a.ridge_alpha,
                },
            };
            let labels = store_labels(&store, &a.label, a.group.as_deref(), holdout, type_field, &mut opts)?;
            let mut r = sweep_store(&store, &a.hook, &labels, &opts, &a.label)?;
            r.group = a.group.clone();
            std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
            if let Some((probe, meta)) = fit_best(&store, &mut r, &labels, &opts)? {
                save_probe(&a.out.join("probe"), &probe, &meta)?;
            }
            write_json(&a.out.join("results.json"), &r)?;
            sweep_figures(&r, &a.out)?;
            let best = &r.best;
            eprintln!(
                "swept {} units of {} rows; best {} acc {:.3} (selectivity {:.3}); wrote {}",
                r.layers.len(),
                r.n_rows,
                best["hook"].as_str().unwrap_or("?"),
                best["accuracy"].as_f64().unwrap_or(f64::NAN),
                best["selectivity"].as_f64().unwrap_or(f64::NAN),
                a.out.join("results.json").display()
            );
            Ok(())
        }
        ProbeAction::Apply(a) => {
            let n = match (&a.data, &a.store) {
                (_, Some(s)) => apply::apply_to_store(&a.probe, &ActivationStore::open(s)?, &a.out)?,
                (Some(d), None) => with_backend!(a.model.device, |B, dev| {
                    let m = Model::<B>::load(&a.model.model, &dev)?;
                    apply::apply_to_data(&a.probe, &m, d, &a.out, a.per_token)
                })?,
                (None, None) => {
                    return Err(Error::Invalid(
                        "give --data FILE.jsonl (with --model) or --store STORE".into(),
                    ))
                }
            };
            eprintln!("scored {n} rows into {}", a.out.display());
            Ok(())
        }
    }
}

pub(super) fn plot(a: PlotArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.results).map_err(|e| Error::io(&a.results, e))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::bad_file(&a.results, format!("not JSON: {e}")))?;
    let out = a.out.clone().unwrap_or_else(|| {
        a.results
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let files = match v.get("kind").and_then(|k| k.as_str()) {
        Some("probe-sweep") => {
            let r: SweepResults = serde_json::from_value(v)
                .map_err(|e| Error::bad_file(&a.results, format!("not a probe sweep: {e}")))?;
            crate::probe::figures::sweep_figures(&r, &out)?
        }
        Some("steer-sweep") => {
            let r: crate::steer::sweep::SteerSweep = serde_json::from_value(v)
                .map_err(|e| Error::bad_file(&a.results, format!("not a steering sweep: {e}")))?;
            crate::steer::figures::sweep_figures(&r, &out)?
        }
        // A suite's figures live in figures/ beside its results, its report.md beside them.
        Some(kind) => {
            match crate::concepts::redraw(kind, &a.results, &a.out.clone().unwrap_or(out.join("figures")), &out)? {
                Some(files) => files,
                None => return Err(Error::bad_file(&a.results, format!("unknown results kind {kind:?}"))),
            }
        }
        None => {
            return Err(Error::bad_file(
                &a.results,
                "no \"kind\" field: not a mindlens results file",
            ))
        }
    };
    for f in files {
        println!("{}", f.display());
    }
    Ok(())
}
