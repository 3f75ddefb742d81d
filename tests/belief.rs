//! The belief-tracking suite (probes/belief) end to end on SmolLM2, CI-sized: 20 stories
//! (two from every schema x condition), four residual layers, heads at two layers, two
//! steering strengths on eight questions. The oracle (is the statement true now?) is easy
//! to decode; the suite must write its results, figures, report and probes that
//! `load_probe` reads back.

mod common;

use std::path::Path;

use common::model;
use mindlens::artifact::read_json;
use mindlens::concepts::belief::{Belief, BeliefOptions, BeliefResults};
use mindlens::concepts::run_suite;
use mindlens::harvest::ActivationStore;
use mindlens::hooks::HookPoint;
use mindlens::probe::load_probe;

const SMOL: &str = "smollm2-135m-instruct";
const LAYERS: [usize; 4] = [2, 8, 14, 20];

#[test]
fn belief_suite_runs_end_to_end_on_a_small_sample() {
    let Some(m) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("belief");
    let opts = BeliefOptions {
        data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/belief"),
        max_stories: Some(20),
        layers: Some(LAYERS.to_vec()),
        heads: true,
        head_layers: Some(vec![8, 14]),
        folds: 5,
        alphas: vec![-0.5, 0.5],
        max_questions: Some(8),
        top_heads: 4,
        ..Default::default()
    };
    let r = run_suite::<Belief, _>(m, &opts, &out, false).unwrap();

    // results.json is what was returned; a second run reuses every stage and ends with the
    // same results.
    let on_disk: BeliefResults = read_json(&out.join("results.json")).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::to_string(&on_disk).unwrap(), json);
    let again = run_suite::<Belief, _>(m, &opts, &out, false).unwrap();
    assert_eq!(
        serde_json::to_string(&again).unwrap(),
        json,
        "a rerun must reuse the stages"
    );
    let h = &r.headline;
    assert_eq!(r.data.stories, 20);
    assert_eq!(r.data.statements, 120, "20 stories x 3 forms x 2 statements");
    let heads = h.best_head.as_ref().expect("heads were probed");
    for (label, b, head, t) in [
        (
            "protagonist",
            &h.protagonist,
            &heads.protagonist,
            &h.transfer.protagonist,
        ),
        ("oracle", &h.oracle, &heads.oracle, &h.transfer.oracle),
    ] {
        let layer = b.layer.expect("best layer");
        assert!(LAYERS.contains(&layer), "{label}: layer {layer}");
        for (k, v) in [
            ("accuracy", b.accuracy),
            ("control_accuracy", b.control_accuracy),
            ("auroc", b.auroc),
        ] {
            assert!((0.0..=1.0).contains(&v), "{label}.{k} = {v}");
        }
        let head = head.as_ref().expect("best head");
        assert!([8, 14].contains(&head.layer.unwrap()), "{head:?}");
        assert!(head.head.unwrap() < m.config.n_heads, "{head:?}");
        assert_eq!(t.layer, layer);
        for form in ["f0", "f1", "f2"] {
            let v = t.accuracy[form];
            assert!((0.0..=1.0).contains(&v), "transfer {label} {form} = {v}");
        }
    }
    let oracle = h.oracle.accuracy;
    assert!(oracle > 0.6, "oracle accuracy at its best layer {oracle}");

    // Steering: a baseline and both alphas for the residual direction and the heads, both
    // conditions measured.
    let st = &h.steering;
    assert_eq!(st.questions, 8, "four f0 questions per condition");
    for cond in ["false_belief", "true_belief"] {
        let v = st.baseline[cond];
        assert!((0.0..=1.0).contains(&v), "baseline {cond} = {v}");
    }
    for (kind, grid) in [("residual", &st.residual), ("heads", &st.heads)] {
        assert_eq!(grid.len(), 2, "{kind}: {st:?}");
        for e in grid {
            for c in [&e.false_belief, &e.true_belief] {
                assert!((0.0..=1.0).contains(&c.accuracy), "{kind}: {e:?}");
                assert!(c.logp_gain.is_finite(), "{kind}: {e:?}");
            }
        }
    }
    assert!(st.random.as_ref().unwrap().alpha > 0.0, "{st:?}");

    // The saved probes load, read the best layer at the last token, and separate their
    // training rows (refitted on all of them).
    let store = ActivationStore::open(&out.join("store")).unwrap();
    let rows = store.rows().unwrap();
    for label in ["protagonist", "oracle"] {
        let (probe, meta) = load_probe(&out.join("probes").join(label)).unwrap();
        let layer = if label == "protagonist" {
            &h.protagonist
        } else {
            &h.oracle
        }
        .layer
        .unwrap();
        assert_eq!(meta.hook, format!("blocks.{layer}.hook_resid_post"));
        assert_eq!(meta.positions, "last");
        assert_eq!(meta.label, label);
        assert_eq!(meta.classes, vec!["false".to_string(), "true".to_string()]);
        assert_eq!(probe.weights.ncols(), m.config.d_model);
        let x = store.load(HookPoint::ResidPost(layer)).unwrap().mapv(f64::from);
        let p = probe.predict_proba(x.view());
        let correct = rows
            .iter()
            .enumerate()
            .filter(|(i, row)| (p[[*i, 1]] >= 0.5) == row[label].as_bool().unwrap())
            .count();
        let acc = correct as f64 / rows.len() as f64;
        assert!(acc > 0.8, "{label}: training accuracy {acc}");
    }
    assert!(out.join("steering_vector/meta.json").exists());

    for stem in [
        "layer_curves",
        "heads_protagonist",
        "heads_oracle",
        "transfer",
        "steering",
    ] {
        for ext in ["svg", "png"] {
            let f = out.join("figures").join(format!("{stem}.{ext}"));
            assert!(f.metadata().is_ok_and(|md| md.len() > 0), "{} missing", f.display());
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("protagonist") && report.contains("false-belief"),
        "{report}"
    );
}
