//! Linear probes: a planted direction is recovered with the control at chance; on SmolLM2 the
//! truth of capital-city statements (probes/facts/capitals.jsonl) is decoded far above chance
//! at middle layers while the control task stays near chance; artifacts, apply and figures.

mod common;

use std::process::Command;

use common::{cosine, model};
use mindlens::generate::SplitMix64;
use mindlens::harvest::{harvest, ActivationStore, HarvestOptions, PositionSpec};
use mindlens::hooks::HookPoint;
use mindlens::probe::sweep::{evaluate_layer, sweep_units, SweepUnit};
use mindlens::probe::{load_probe, Control, FitOptions, Labels, LinearProbe, ProbeKind, SweepOptions, Target};
use ndarray::Array2;

const SMOL: &str = "smollm2-135m-instruct";

/// Rows x = noise + (2y - 1) * 1.5 * u with a random unit `u` in 64 dimensions.
fn planted(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>, Vec<f64>) {
    let d = 64;
    let mut rng = SplitMix64::new(seed);
    let mut gauss = move || {
        let (a, b) = (rng.next_f64().max(1e-12), rng.next_f64());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    };
    let mut u: Vec<f64> = (0..d).map(|_| gauss()).collect();
    let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
    u.iter_mut().for_each(|v| *v /= norm);
    let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| gauss() + (2.0 * y[i] as f64 - 1.0) * 1.5 * u[j]);
    (x, y, u)
}

#[test]
fn a_planted_direction_is_recovered_and_the_control_sits_at_chance() {
    let (x, y, u) = planted(6000, 7);
    for kind in [ProbeKind::Logistic, ProbeKind::MeanDiff] {
        let p = LinearProbe::fit_classifier(kind, x.view(), &y, 2, FitOptions::default()).unwrap();
        let dir: Vec<f32> = p.direction();
        let uf: Vec<f32> = u.iter().map(|&v| v as f32).collect();
        let c = cosine(&dir, &uf);
        assert!(c > 0.99, "{kind:?}: cosine with the planted direction {c}");
    }
    let labels = Labels {
        target: Target::Classes(y.clone(), vec!["a".into(), "b".into()]),
        groups: (0..6000).map(|i| (i / 4).to_string()).collect(),
        holdout: vec![false; 6000],
    };
    let r = evaluate_layer(x.view(), &labels, &SweepOptions::default()).unwrap();
    assert!(r.accuracy > 0.91, "accuracy {}", r.accuracy); // Bayes: Phi(1.5) = 0.933
    assert!(
        (r.control_accuracy - 0.5).abs() < 0.05,
        "control {}",
        r.control_accuracy
    );
    assert!(r.selectivity > 0.3);
    assert!(r.auroc > 0.97);
    assert!(r.test.ece < 0.05, "calibration error {}", r.test.ece);

    // Hewitt-Liang control labels per type: a probe cannot carry them to unseen types.
    let types: Vec<String> = (0..6000).map(|i| format!("t{}", i % 50)).collect();
    let opts = SweepOptions {
        control: Some(Control::PerType(types)),
        ..Default::default()
    };
    let r = evaluate_layer(x.view(), &labels, &opts).unwrap();
    assert!(
        (r.control_accuracy - 0.5).abs() < 0.1,
        "per-type control {}",
        r.control_accuracy
    );

    // Ridge recovers a continuous target along the same direction.
    let t: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| r.iter().zip(&u).map(|(a, b)| a * b).sum::<f64>() * 2.0 + 1.0)
        .collect();
    let p = LinearProbe::fit_regression(x.view(), &t, FitOptions::default()).unwrap();
    let dir = p.direction();
    assert!(cosine(&dir, &u.iter().map(|&v| v as f32).collect::<Vec<_>>()) > 0.999);
    let pred = p.scores(x.view()).column(0).to_vec();
    assert!(mindlens::probe::metrics::regression(&pred, &t).0 > 0.999);
}

#[test]
fn multiclass_sweeps_rank_the_informative_layer_first() {
    let (x, _, _) = planted(1500, 3);
    let n = x.nrows();
    let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
    // Layer 1 carries the class along three axes; layer 0 is noise.
    let mut informative = x.clone();
    for i in 0..n {
        informative[[i, y[i]]] += 2.5;
    }
    let labels = Labels {
        target: Target::Classes(y, vec!["x".into(), "y".into(), "z".into()]),
        groups: (0..n).map(|i| i.to_string()).collect(),
        holdout: (0..n).map(|i| i % 10 == 0).collect(),
    };
    let units = vec![
        SweepUnit {
            hook: HookPoint::ResidPost(0),
            head: None,
            x,
        },
        SweepUnit {
            hook: HookPoint::ResidPost(1),
            head: None,
            x: informative,
        },
    ];
    let r = sweep_units(
        units,
        &labels,
        &SweepOptions::default(),
        "class",
        "blocks.*.hook_resid_post",
    )
    .unwrap();
    assert_eq!(r.best["layer"], 1);
    assert!(
        (r.layers[0].accuracy - 1.0 / 3.0).abs() < 0.06,
        "{}",
        r.layers[0].accuracy
    );
    assert!(r.layers[1].accuracy > 0.8);
    assert!(r.layers[1].holdout.as_ref().unwrap().accuracy > 0.8);
    assert!((r.layers[1].control_accuracy - 1.0 / 3.0).abs() < 0.06);
}

#[test]
fn smollm2_decodes_the_truth_of_capital_statements_at_middle_layers() {
    let Some(m) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = common::fixture("../../probes/facts/capitals.jsonl");
    let store_dir = dir.path().join("store");
    let opts = HarvestOptions {
        hooks: (0..30).map(HookPoint::ResidPost).collect(),
        positions: PositionSpec::Last,
        progress: false,
        ..Default::default()
    };
    harvest(m, &data, &store_dir, &opts).unwrap();
    let store = ActivationStore::open(&store_dir).unwrap();
    let out = dir.path().join("sweep");
    let r = sweep_to(&store, "blocks.*.hook_resid_post", SweepOptions::default(), &out).unwrap();
    let middle = r
        .layers
        .iter()
        .filter(|l| (8..=22).contains(&l.layer.unwrap()))
        .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
        .unwrap();
    assert!(
        middle.accuracy >= 0.75,
        "best middle-layer accuracy {}",
        middle.accuracy
    );
    assert!(middle.auroc >= 0.85, "AUROC {}", middle.auroc);
    assert!(
        (middle.control_accuracy - 0.5).abs() <= 0.15,
        "control accuracy {}",
        middle.control_accuracy
    );
    for f in [
        "results.json",
        "layer_curve.svg",
        "layer_curve.png",
        "pca_scatter.png",
        "probe/weights.npy",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }

    // The saved probe loads and scores new prompts through the CLI, with per-token scores.
    let (probe, meta) = load_probe(&out.join("probe")).unwrap();
    assert_eq!(meta.classes, ["false", "true"]);
    assert_eq!(probe.weights.ncols(), 576);
    let new = dir.path().join("new.jsonl");
    std::fs::write(&new, "{\"text\": \"The capital of Italy is Rome.\", \"id\": 1}\n{\"text\": \"The capital of Italy is Oslo.\", \"id\": 2}\n").unwrap();
    let scores = dir.path().join("scores.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args([
            "probe",
            "apply",
            "--probe",
            out.join("probe").to_str().unwrap(),
            "--data",
            new.to_str().unwrap(),
        ])
        .args(["--out", scores.to_str().unwrap(), "--per-token"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&scores)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[0]["text"], "The capital of Italy is Rome.");
    let p_true = lines[0]["prob"].as_f64().unwrap();
    let p_false = lines[1]["prob"].as_f64().unwrap();
    assert!(
        p_true > p_false,
        "P(true) for the true statement {p_true} vs the false one {p_false}"
    );
    let per = lines[0]["per_token"].as_array().unwrap();
    assert_eq!(per.len(), lines[0]["tokens"].as_array().unwrap().len());
    assert!((per.last().unwrap().as_f64().unwrap() - lines[0]["score"].as_f64().unwrap()).abs() < 1e-3);

    // `mindlens plot` redraws the figures from results.json alone.
    let redraw = dir.path().join("redraw");
    let o = Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args([
            "plot",
            out.join("results.json").to_str().unwrap(),
            "--out",
            redraw.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(redraw.join("layer_curve.png").exists() && redraw.join("pca_scatter.svg").exists());
}

#[test]
fn per_head_sweeps_of_attn_z_draw_a_heatmap() {
    let Some(m) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = common::fixture("../../probes/facts/capitals.jsonl");
    let opts = HarvestOptions {
        hooks: vec![HookPoint::AttnZ(10), HookPoint::AttnZ(12)],
        progress: false,
        ..Default::default()
    };
    harvest(m, &data, &dir.path().join("z"), &opts).unwrap();
    let store = ActivationStore::open(&dir.path().join("z")).unwrap();
    let sweep = SweepOptions {
        pcs: 0,
        ..Default::default()
    };
    let r = sweep_to(&store, "blocks.*.attn.hook_z", sweep, &dir.path().join("s")).unwrap();
    assert_eq!(r.layers.iter().filter(|l| l.head.is_some()).count(), 2 * 9);
    assert!(dir.path().join("s/head_heatmap.png").exists());
}

/// What `mindlens probe sweep` does, composed from the library's blocks: labels grouped by
/// country, the sweep, the best unit's probe saved to `out/probe/`, results and figures.
fn sweep_to(
    store: &ActivationStore,
    hook_glob: &str,
    mut opts: SweepOptions,
    out: &std::path::Path,
) -> mindlens::Result<mindlens::probe::SweepResults> {
    let labels = mindlens::probe::store_labels(store, "label", Some("country"), None, None, &mut opts)?;
    let mut r = mindlens::probe::sweep_store(store, hook_glob, &labels, &opts, "label")?;
    r.group = Some("country".into());
    std::fs::create_dir_all(out).unwrap();
    if let Some((probe, meta)) = mindlens::probe::fit_best(store, &mut r, &labels, &opts)? {
        mindlens::probe::save_probe(&out.join("probe"), &probe, &meta)?;
    }
    mindlens::artifact::write_json(&out.join("results.json"), &r)?;
    mindlens::probe::figures::sweep_figures(&r, out)?;
    Ok(r)
}
