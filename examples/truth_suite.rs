//! The smallest concept suite: is a statement about a capital city true? Probes per layer
//! (folds grouped by country, permuted-label control) and the truth direction at the best
//! layer, saved as a steering vector. A template for a new suite: options, a run in stages,
//! typed results, figures and a report drawn from the results.
//!
//! `cargo run --release --example truth_suite -- OUT_DIR` (fetch SmolLM2 first:
//! `models/fetch.sh smollm2`). Kill it and run it again: it continues where it stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use mindlens::concepts::data::{check_layers, read_rows};
use mindlens::concepts::{run_suite, Suite, SuiteRun};
use mindlens::harvest::{harvest_rows, PositionSpec};
use mindlens::plot::Draw;
use mindlens::prelude::*;
use mindlens::probe::figures::{layer_chart, LayerCurve};
use mindlens::probe::sweep::best_by_accuracy;
use mindlens::probe::{sweep_store, Labels, SweepOptions, SweepResults};
use mindlens::steer::direction::{mean_difference, mean_norm, to_f32};
use mindlens::steer::SteeringVectors;
use serde::{Deserialize, Serialize};

/// Settings; `Default` is the full run.
#[derive(Clone, Debug, Serialize)]
struct TruthOptions {
    data_dir: PathBuf,
    layers: Option<Vec<usize>>,
    folds: usize,
    seed: u64,
}

impl Default for TruthOptions {
    fn default() -> Self {
        TruthOptions {
            data_dir: PathBuf::from("probes/facts"),
            layers: None,
            folds: 5,
            seed: 0,
        }
    }
}

/// A row of `capitals.jsonl`; harvested as it is.
#[derive(Serialize, Deserialize)]
struct Statement {
    text: String,
    label: bool,
    country: String,
}

/// What the suite found.
#[derive(Serialize, Deserialize)]
struct TruthResults {
    kind: String,
    model: String,
    headline: Headline,
    sweep: SweepResults,
}

#[derive(Serialize, Deserialize)]
struct Headline {
    best_layer: usize,
    accuracy: f64,
    control_accuracy: f64,
}

struct Truth;

impl Suite for Truth {
    const KIND: &'static str = "truth-example";
    type Options = TruthOptions;
    type Results = TruthResults;
    type Headline = Headline;

    fn quick(n_layers: usize) -> TruthOptions {
        TruthOptions {
            layers: Some(mindlens::concepts::data::quick_layers(n_layers)),
            ..Default::default()
        }
    }

    fn data_dir(o: &mut TruthOptions) -> &mut PathBuf {
        &mut o.data_dir
    }

    fn run<B: Backend>(model: &Model<B>, o: &TruthOptions, run: &SuiteRun) -> Result<TruthResults> {
        let layers = check_layers(o.layers.clone(), model.config.n_layers, "layers")?;
        let rows: Vec<Statement> = read_rows(&o.data_dir.join("capitals.jsonl"))?;
        let hooks: Vec<HookPoint> = layers.iter().map(|&l| HookPoint::ResidPost(l)).collect();
        let (data, store_dir) = (run.out().join("statements.jsonl"), run.out().join("store"));
        let store = harvest_rows(
            model,
            &rows,
            &data,
            &store_dir,
            &hooks,
            PositionSpec::Last,
            run.progress(),
        )?;
        let labels = Labels::from_rows(&store.rows()?, "label", Some("country"), None, false)?;

        // Stage 1: probes per layer. Stage 2: the direction at the best layer.
        let sweep = run.stage("probes", || {
            let opts = SweepOptions {
                folds: o.folds,
                seed: o.seed,
                ..Default::default()
            };
            sweep_store(&store, HookPoint::RESID_POST_GLOB, &labels, &opts, "label")
        })?;
        let best =
            best_by_accuracy(&sweep.layers).ok_or_else(|| Error::Invalid("no layer gave a finite accuracy".into()))?;
        let best_layer = best.layer.unwrap_or(0);
        run.stage("direction", || {
            let x = store.load(HookPoint::ResidPost(best_layer))?.mapv(f64::from);
            let y = labels.class_ids()?;
            let rows_of = |c: usize| -> Vec<usize> { (0..y.len()).filter(|&i| y[i] == c).collect() };
            let dir = to_f32(&mean_difference(x.view(), &rows_of(1), &rows_of(0))?);
            SteeringVectors::residual(
                &model.name,
                "mean-diff",
                BTreeMap::from([(best_layer, dir)]),
                BTreeMap::from([(best_layer, mean_norm(x.view()))]),
            )
            .save(&run.out().join("vectors").join("truth"))
        })?;
        Ok(TruthResults {
            kind: Self::KIND.into(),
            model: model.name.clone(),
            headline: Headline {
                best_layer,
                accuracy: best.accuracy,
                control_accuracy: best.control_accuracy,
            },
            sweep,
        })
    }

    fn figures(r: &TruthResults, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let curves = [
            LayerCurve::accuracy("true vs false (±1 sd)", &r.sweep),
            LayerCurve::control("control task", &r.sweep),
        ];
        layer_chart(
            "Is the capital right?",
            "layer",
            "test accuracy (folds by country)",
            &curves,
        )
        .with_reference("chance", r.sweep.chance)
        .save(&dir.join("probe_layers"))
    }

    fn report(r: &TruthResults) -> String {
        let h = &r.headline;
        format!(
            "# Truth of capital statements: {}\n\nBest layer {}: accuracy {:.3} (control {:.3}).\n",
            r.model, h.best_layer, h.accuracy, h.control_accuracy
        )
    }

    fn headline(r: &TruthResults) -> &Headline {
        &r.headline
    }
}

fn main() -> Result<()> {
    mindlens::backend::join_thread_pool();
    let out = std::env::args().nth(1).unwrap_or_else(|| "truth-suite".into());
    let model = Model::<Cpu>::load(mindlens::registry::DEFAULT_MODEL, &Default::default())?;
    let opts = Truth::quick(model.config.n_layers);
    let r = run_suite::<Truth, _>(&model, &opts, Path::new(&out), true)?;
    println!("{}", serde_json::to_string_pretty(&r.headline).expect("JSON"));
    Ok(())
}
