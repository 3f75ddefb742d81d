//! Personality suite (issue #7) end to end on SmolLM2, CI-sized: two traits, six extraction
//! questions, three persona pairs, two questionnaire statements (one of each keying; three
//! templates, both orders), two behaviour situations and two judged questions per trait,
//! three layers, one candidate steering layer. Checks that every artifact is written and readable and that the persona pole is decodable; the
//! steering numbers are only checked for being finite probabilities and consistent with
//! their own rules (yardstick live flags, KL calibration, target met), since two items per
//! trait cannot support a claim about their size.

mod common;

use std::path::Path;

use common::model;
use mindlens::artifact::read_json;
use mindlens::concepts::personality::{Measure, Personality, PersonalityOptions, PersonalityResults};
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
        // Two statements: the spread over the held-out ones gives one of each keying.
        max_items: Some(2),
        layers: Some(layers.to_vec()),
        steer_layers: 1,
        alphas: vec![-0.5, 0.0, 0.5],
        kl_bound: 0.1,
        monitor_questions: 2,
        monitor_items: 1,
        max_wordings: Some(1),
        n_examples: 1,
        max_new_tokens: 12,
        judge_questions: 2,
        judge_tokens: 16,
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

    for t in traits {
        check_yardstick_and_target(&r, &opts, t);
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
        report.contains("extraversion")
            && report.contains("## Reading")
            && report.contains("## Yardstick")
            && report.contains("## Steering against the yardstick"),
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
    for stage in [
        "harvest",
        "directions",
        "probes",
        "examples",
        "yardstick-extraversion",
        "target-neuroticism",
    ] {
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

/// The yardstick and the steering target of trait `t` are complete and agree with their own
/// numbers, and the scores agree with the steering sweep, which computes the same quantities
/// by another path (the sweep scores P(high option); the yardstick P(agree), keyed).
fn check_yardstick_and_target(r: &PersonalityResults, opts: &PersonalityOptions, t: &str) {
    let tr = &r.traits[t];
    let y = tr.yardstick.as_ref().expect("yardstick");
    let names: Vec<Measure> = y.measures.iter().map(|m| m.measure).collect();
    assert_eq!(names, Measure::ALL.to_vec(), "{t}: one yardstick per measure");
    let j = &y.judge;
    assert!(
        (0.0..=1.0).contains(&j.agreement),
        "{t}: judge agreement {}",
        j.agreement
    );
    assert_eq!(j.pairs, opts.judge_questions, "{t}: one wording per pole");
    assert!(j.identical_pairs.is_some_and(|n| n <= j.pairs), "{t}: {j:?}");
    assert_eq!(j.counted, j.agreement >= opts.judge_min_agreement);
    assert_eq!((y.high_personas.len(), y.low_personas.len()), (1, 1));
    for m in &y.measures {
        let what = format!("{t} {}: {m:?}", m.measure.name());
        assert!((0.0..=1.0).contains(&m.high) && (0.0..=1.0).contains(&m.low), "{what}");
        assert!((m.effect - (m.high - m.low)).abs() < 1e-12, "{what}");
        assert!(m.template_spread.is_finite() && m.template_spread >= 0.0, "{what}");
        assert!(m.n_items > 0, "{what}");
        let variants = match m.measure {
            Measure::Behaviour => 2,
            Measure::Judge => 2,
            _ => 3,
        };
        assert_eq!(m.high_by_variant.len(), variants, "{what}");
        let trusted = m.measure != Measure::Judge || j.counted;
        let live = trusted && m.effect > 0.0 && m.effect > m.template_spread;
        assert_eq!(m.live, live, "{what}");
    }
    let pos = y.get(Measure::QuestionnairePositive).unwrap();
    let rev = y.get(Measure::QuestionnaireReverse).unwrap();
    let pooled = y.get(Measure::Questionnaire).unwrap();
    assert_eq!((pos.n_items, rev.n_items, pooled.n_items), (1, 1, 2), "{t}");
    // With one statement of each keying, the pooled score is their mean.
    assert!((pooled.high - (pos.high + rev.high) / 2.0).abs() < 1e-9, "{t}");

    let s = tr.target.as_ref().expect("target");
    let h = &r.headline[t];
    assert_eq!(
        (s.layer, s.alpha, s.within_kl_bound),
        (h.layer, h.alpha, h.within_kl_bound)
    );
    let grid_kl = |a: f32| {
        tr.steering
            .pooled_grid
            .iter()
            .find(|p| p.layer == s.layer && p.alpha == a)
            .map(|p| p.kl)
            .unwrap()
    };
    if s.within_kl_bound {
        // The largest strength whose KL is within the bound at both signs.
        assert!(
            grid_kl(s.alpha) <= opts.kl_bound && grid_kl(-s.alpha) <= opts.kl_bound,
            "{t}"
        );
        let larger_ok = r
            .alphas
            .iter()
            .filter(|&&a| a > s.alpha)
            .any(|&a| grid_kl(a) <= opts.kl_bound && grid_kl(-a) <= opts.kl_bound);
        assert!(!larger_ok, "{t}: a larger strength was within the bound");
    }
    for m in &s.measures {
        let what = format!("{t} {}: {m:?}", m.measure.name());
        let yard = y.get(m.measure).unwrap();
        assert_eq!((m.live, m.effect), (yard.live, yard.effect), "{what}");
        let strengths = if m.measure == Measure::Judge { 3 } else { r.alphas.len() };
        assert_eq!(m.dose.len(), strengths, "{what}: a score at every strength");
        for d in &m.dose {
            assert!((0.0..=1.0).contains(&d.score), "{what}");
            assert!(
                d.kl.is_finite() && d.kl > -1e-6,
                "{what}: KL at {} is {}",
                d.alpha,
                d.kl
            );
            assert!((d.kl - grid_kl(d.alpha)).abs() < 1e-12, "{what}");
        }
        assert!((m.up - (m.plus - m.zero)).abs() < 1e-12 && (m.down - (m.zero - m.minus)).abs() < 1e-12);
        assert!((m.needed - m.effect / 2.0).abs() < 1e-12, "{what}");
        assert!((m.kl - grid_kl(s.alpha).max(grid_kl(-s.alpha))).abs() < 1e-12, "{what}");
        if s.within_kl_bound {
            assert!(m.kl <= opts.kl_bound, "{what}");
        }
        let clears = |x: f64| x > m.spread && x >= m.needed && x > 0.0;
        let met = m.live && m.kl <= opts.kl_bound && clears(m.up) && clears(m.down);
        assert_eq!(m.met, met, "{what}");
        // Same quantity by two paths: the yardstick's keyed questionnaire score and the
        // sweep's P(high option); the behaviour score and the behaviour sweep.
        for d in &m.dose {
            let other = match m.measure {
                Measure::Questionnaire => tr
                    .steering
                    .pooled_grid
                    .iter()
                    .find(|p| p.layer == s.layer && p.alpha == d.alpha)
                    .map(|p| p.metric),
                Measure::Behaviour => tr
                    .steering
                    .behaviour
                    .grid
                    .iter()
                    .find(|g| g.alpha == d.alpha)
                    .map(|g| g.metric),
                _ => None,
            };
            if let Some(o) = other {
                assert!(
                    (d.score - o).abs() < 1e-3,
                    "{what}: {} vs the sweep's {o} at {}",
                    d.score,
                    d.alpha
                );
            }
        }
    }
    let g = h.target.as_ref().expect("headline target");
    assert_eq!(g.target_met, s.measures.iter().any(|m| m.met), "{t}");
    if g.target_met {
        let shown = s.measures.iter().find(|m| Some(m.measure) == g.measure).unwrap();
        assert!(shown.met, "{t}: the headline shows a met measure");
    }
    let live: Vec<Measure> = y.measures.iter().filter(|m| m.live).map(|m| m.measure).collect();
    assert_eq!(g.live_measures, live, "{t}");
    assert_eq!(
        g.measure.is_none(),
        live.is_empty(),
        "{t}: a measure is shown exactly when one is live"
    );
    assert!(g.judge_agreement == j.agreement, "{t}");
    assert!(
        h.projection_score_r.is_finite(),
        "{t}: monitoring r kept in the headline"
    );
}
