//! Probe sweep speed: a 30-layer logistic sweep on 2,000 rows x 576 dims with 5 folds, beside
//! scikit-learn on the same arrays in the same run.
//!
//! `cargo bench --bench probe` (runs `scripts/bench_sklearn.py` with `.venv/bin/python` when
//! the reference venv exists; see scripts/README.md).

use std::process::Command;
use std::time::Instant;

use mindlens::generate::SplitMix64;
use mindlens::hooks::HookPoint;
use mindlens::probe::split::group_kfold;
use mindlens::probe::sweep::{sweep_units, SweepUnit};
use mindlens::probe::{Labels, SweepOptions, Target};
use ndarray::{Array1, Array2};

fn main() {
    let (n, d, layers) = (2000usize, 576usize, 30usize);
    let mut rng = SplitMix64::new(1);
    let mut gauss = move || {
        let (a, b) = (rng.next_f64().max(1e-12), rng.next_f64());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    };
    let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut units = Vec::new();
    let mut sweep_inputs: Vec<Array2<f64>> = Vec::new();
    for l in 0..layers {
        // Signal strength rises then falls with depth, like a real layer curve.
        let s = 0.05 + 0.4 * (std::f64::consts::PI * l as f64 / layers as f64).sin();
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            gauss() + if j < 8 { (2.0 * y[i] as f64 - 1.0) * s } else { 0.0 }
        });
        mindlens::artifact::write_npy(&dir.path().join(format!("layer_{l}.npy")), &x).expect("write");
        sweep_inputs.push(x.clone());
        units.push(SweepUnit {
            hook: HookPoint::ResidPost(l),
            head: None,
            x,
        });
    }
    let groups: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let labels = Labels {
        target: Target::Classes(y.clone(), vec!["0".into(), "1".into()]),
        groups: groups.clone(),
        holdout: vec![false; n],
    };
    let opts = SweepOptions {
        control: None,
        pcs: 0,
        ..Default::default()
    };
    let folds = group_kfold(&groups, opts.folds, opts.seed);
    mindlens::artifact::write_npy(
        &dir.path().join("y.npy"),
        &Array1::from_iter(y.iter().map(|&v| v as i64)),
    )
    .expect("write");
    mindlens::artifact::write_npy(
        &dir.path().join("folds.npy"),
        &Array1::from_iter(folds.iter().map(|&v| v as i64)),
    )
    .expect("write");
    let t = Instant::now();
    let r = sweep_units(units, &labels, &opts, "y", "synthetic").expect("sweep");
    let secs = t.elapsed().as_secs_f64();
    let mean_acc = r.layers.iter().map(|l| l.accuracy).sum::<f64>() / layers as f64;
    println!(
        "{}",
        serde_json::json!({"bench": "probe_sweep_30x2000x576_5fold", "impl": "mindlens", "threads": rayon::current_num_threads(),
            "seconds": secs, "mean_accuracy": mean_acc, "accuracies": r.layers.iter().map(|l| l.accuracy).collect::<Vec<_>>()})
    );
    // linfa's logistic regression (argmin L-BFGS) on the same standardised folds.
    let t = Instant::now();
    let mut linfa_acc = Vec::new();
    for u in &sweep_inputs {
        let mut accs = Vec::new();
        for f in 0..opts.folds {
            let tr: Vec<usize> = (0..n).filter(|&i| folds[i] != f).collect();
            let te: Vec<usize> = (0..n).filter(|&i| folds[i] == f).collect();
            let (xtr, xte) = (u.select(ndarray::Axis(0), &tr), u.select(ndarray::Axis(0), &te));
            let sc = mindlens::probe::linear::Scaler::fit(xtr.view());
            let ytr = Array1::from_iter(tr.iter().map(|&i| y[i]));
            let ds = linfa::Dataset::new(sc.transform(xtr.view()), ytr);
            use linfa::traits::{Fit, Predict};
            let model = linfa_logistic::LogisticRegression::default()
                .alpha(1.0)
                .max_iterations(1000)
                .fit(&ds)
                .expect("linfa fit");
            let pred: Array1<usize> = model.predict(&sc.transform(xte.view()));
            accs.push(te.iter().zip(pred.iter()).filter(|(&i, &p)| y[i] == p).count() as f64 / te.len() as f64);
        }
        linfa_acc.push(accs.iter().sum::<f64>() / accs.len() as f64);
    }
    let lsecs = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"bench": "probe_sweep_30x2000x576_5fold", "impl": "linfa-logistic 0.8.1 (single thread)", "seconds": lsecs,
            "mean_accuracy": linfa_acc.iter().sum::<f64>() / layers as f64})
    );
    let py = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if py.exists() {
        let o = Command::new(py)
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_sklearn.py"))
            .arg(dir.path())
            .output()
            .expect("python runs");
        print!("{}", String::from_utf8_lossy(&o.stdout));
        eprint!("{}", String::from_utf8_lossy(&o.stderr));
    } else {
        eprintln!("no .venv: scikit-learn comparison skipped (see scripts/README.md)");
    }
}
