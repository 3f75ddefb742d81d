//! Personality suite (issue #7) end to end on SmolLM2, CI-sized: two traits, six extraction
//! questions, three persona pairs, one questionnaire statement (three templates, both orders)
//! and one behaviour situation per trait, three layers, one candidate steering layer. Checks
//! that every artifact is written and readable and that the persona pole is decodable; the
//! steering numbers are only checked for being finite probabilities, since one item per trait
//! cannot support a claim about their size.

mod common;

use std::path::Path;

use common::model;
use mindlens::artifact::read_json;
use mindlens::concepts::personality::{Personality, PersonalityOptions, PersonalityResults};
use mindlens::concepts::run_suite;
use mindlens::steer::SteeringVectors;

const SMOL: &str = "smollm2-135m-instruct";

#[test]
fn personality_suite_writes_vectors_probes_steering_and_monitoring() {
    let Some(m) = model(SMOL) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("personality");
    let traits = ["extraversion", "neuroticism"];
    let layers = [8usize, 14, 20];
    let opts = PersonalityOptions {
        data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/personality"),
        traits: traits.iter().map(|t| t.to_string()).collect(),
        max_questions: Some(6),
        max_personas: Some(3),
        max_items: Some(1),
        layers: Some(layers.to_vec()),
        steer_layers: 1,
        alphas: vec![-0.5, 0.0, 0.5],
        kl_bound: 0.1,
        monitor_questions: 2,
        monitor_items: 1,
        max_wordings: Some(1),
        n_examples: 1,
        max_new_tokens: 12,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let r = run_suite::<Personality, _>(m, &opts, &out, false).unwrap();
    eprintln!("personality suite (CI size): {:.0} s", started.elapsed().as_secs_f64());

    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let on_disk: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(on_disk["kind"], "personality");
    assert_eq!(r.kind, "personality");
    // 2 traits x (6 questions x 3 pairs x 2 poles + 5 graded personas x 2 questions).
    assert_eq!(r.rows.harvested, 2 * (6 * 3 * 2 + 5 * 2));

    for t in traits {
        let h = &r.headline[t];
        assert_eq!(on_disk["headline"][t]["layer"], h.layer);
        for (k, v) in [
            ("alpha", h.alpha as f64),
            ("score_minus", h.score_minus),
            ("score_zero", h.score_zero),
            ("score_plus", h.score_plus),
            ("behaviour_minus", h.behaviour_minus),
            ("behaviour_zero", h.behaviour_zero),
            ("behaviour_plus", h.behaviour_plus),
            ("kl", h.kl),
            ("kl_minus", h.kl_minus),
            ("template_spread", h.template_spread),
            ("probe_accuracy", h.probe_accuracy),
            ("probe_control_accuracy", h.probe_control_accuracy),
            ("projection_score_r", h.projection_score_r),
            ("persona_prompt_effect", h.persona_prompt_effect),
        ] {
            assert!(v.is_finite(), "{t}: headline.{k} = {v}: {h:?}");
        }
        for (k, p) in [
            ("score_minus", h.score_minus),
            ("score_zero", h.score_zero),
            ("score_plus", h.score_plus),
            ("behaviour_minus", h.behaviour_minus),
            ("behaviour_zero", h.behaviour_zero),
            ("behaviour_plus", h.behaviour_plus),
        ] {
            assert!((0.0..=1.0).contains(&p), "{t}: {k} = {p} is not a probability");
        }
        assert!(h.kl > -1e-6, "{t}: negative KL {h:?}");
        assert!(on_disk["headline"][t]["within_kl_bound"].is_boolean());
        let layer = h.layer;
        assert!(layers.contains(&layer), "{t}: steering layer {layer} was not harvested");
        assert_eq!(h.monitor_points, 5, "one wording per strength level, -2..2");
        // The yardstick is the self-report at strength +2 minus at -2, read off the points.
        let points = &r.traits[t].monitoring.points;
        assert_eq!(points.len(), 5);
        let at = |s: f64| points.iter().find(|p| p.strength == s).unwrap().score;
        let effect = h.persona_prompt_effect;
        assert!(
            (effect - (at(2.0) - at(-2.0))).abs() < 1e-12,
            "{t}: persona_prompt_effect {effect}"
        );
        assert!(points
            .iter()
            .all(|p| p.projection.is_finite() && (0.0..=1.0).contains(&p.score)));

        // Persona system prompts are very separable at the last prompt token.
        let acc = h.probe_accuracy;
        assert!(acc > 0.6, "{t}: best probe accuracy {acc}: {h:?}");
        assert_eq!(r.traits[t].probe.layers.len(), layers.len());
        assert_eq!(r.traits[t].directions.per_layer.len(), layers.len());

        let v = SteeringVectors::load(&out.join("vectors").join(t)).unwrap();
        assert_eq!(v.layers.keys().copied().collect::<Vec<_>>(), layers.to_vec());
        assert_eq!(v.width(), m.config.d_model);
        assert_eq!(v.meta.method, "mean-diff");
        assert_eq!(v.meta.positions, "last");
        assert_eq!(v.meta.model, m.name);
        for l in layers {
            let n = v.meta.resid_norms[&l];
            assert!(n.is_finite() && n > 0.0, "{t}: residual norm at layer {l} is {n}");
            assert!(v.meta.norms[&l] > 0.0, "{t}: zero direction at layer {l}");
        }
        let pca = SteeringVectors::load(&out.join("vectors_pca").join(t)).unwrap();
        assert_eq!(pca.meta.method, "pca");
        assert_eq!(pca.layers.len(), layers.len());
    }

    let cos = &r.trait_cosine.matrix;
    assert_eq!(cos.len(), traits.len());
    for (i, row) in cos.iter().enumerate() {
        let d = row[i];
        assert!((d - 1.0).abs() < 1e-6, "diagonal cosine {d}");
    }

    let figures = out.join("figures");
    for stem in [
        "probe_accuracy",
        "trait_cosine",
        "projection_vs_score",
        "dose_extraversion",
        "dose_neuroticism",
    ] {
        for ext in ["svg", "png"] {
            let p = figures.join(format!("{stem}.{ext}"));
            assert!(
                std::fs::metadata(&p).map(|m| m.len() > 0).unwrap_or(false),
                "{} missing",
                p.display()
            );
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("extraversion") && report.contains("## Reading"),
        "{report}"
    );
    let examples = std::fs::read_to_string(out.join("examples.md")).unwrap();
    assert!(examples.contains("unsteered"), "{examples}");
    assert!(out.join("store/manifest.json").exists());

    // The results file reads back as the same results.
    let first = serde_json::to_string(&r).unwrap();
    let read: PersonalityResults = read_json(&out.join("results.json")).unwrap();
    assert_eq!(serde_json::to_string(&read).unwrap(), first);

    // A second run in the same directory reuses every stage and ends with the same results.
    for stage in ["harvest", "directions", "probes", "examples"] {
        assert!(
            out.join("stages").join(format!("{stage}.json")).exists(),
            "stage {stage} not saved"
        );
    }
    let started = std::time::Instant::now();
    let again = run_suite::<Personality, _>(m, &opts, &out, false).unwrap();
    eprintln!(
        "personality suite, every stage reused: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(serde_json::to_string(&again).unwrap(), first);
}
