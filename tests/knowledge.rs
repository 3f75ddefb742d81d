//! The knowledge-awareness suite (probes/knowledge) end to end on SmolLM2, CI-sized: 6 entities
//! per type x origin (famous and obscure real, two fabricated-name generators), three layers, a
//! tiny TopK SAE trained on the suite's own text, one steering strength on questions about a
//! few held-out entities, eight-token answers, the default way-out system prompt. Checks that
//! every artifact is written and readable, that the headline numbers are present and finite,
//! that known vs unknown and P(IK) are decodable on held-out entities, that the generalisation
//! tests and the name n-gram baseline ran for every origin, that steering costs KL and the
//! unsteered condition none, that the saved probe reports P(known) and the saved vectors are
//! opposite, and that every asked question has its row in answers.jsonl. How much a 135M
//! model knows is not asserted beyond the two known entities the probes need.

mod common;

use std::path::Path;
use std::time::Instant;

use common::model;
use mindlens::artifact::read_json;
use mindlens::concepts::knowledge::{Knowledge, KnowledgeOptions, KnowledgeResults};
use mindlens::concepts::run_suite;
use mindlens::harvest::ActivationStore;
use mindlens::hooks::HookPoint;
use mindlens::probe::load_probe;
use mindlens::steer::SteeringVectors;
use serde_json::Value;

const SMOL: &str = "smollm2-135m-instruct";
const LAYERS: [usize; 3] = [6, 12, 18];
const PER_CELL: usize = 6;
/// Famous, obscure, syllable, markov.
const ORIGINS: usize = 4;

fn finite(x: f64, what: &str) -> f64 {
    assert!(x.is_finite(), "{what} = {x}");
    x
}

#[test]
fn knowledge_suite_labels_probes_steers_and_scores_pik() {
    let Some(m) = model(SMOL) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("knowledge");
    let opts = KnowledgeOptions {
        data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/knowledge"),
        max_entities: Some(PER_CELL),
        max_generic: Some(40),
        layers: Some(LAYERS.to_vec()),
        folds: 3,
        sae_expansion: 2,
        sae_k: 8,
        sae_tokens: 2048,
        sae_batch: 256,
        top_latents: 3,
        alphas: vec![0.5],
        max_steer_entities: Some(3),
        max_new_tokens: 8,
        ..Default::default()
    };
    let started = Instant::now();
    let r = run_suite::<Knowledge, _>(m, &opts, &out, false).unwrap();
    eprintln!("knowledge suite (CI size): {:.0} s", started.elapsed().as_secs_f64());

    // results.json is what was returned, and reads back as the same typed results.
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let on_disk: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(on_disk["kind"], "knowledge-suite");
    let first = serde_json::to_string(&r).unwrap();
    let back: KnowledgeResults = read_json(&out.join("results.json")).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), first, "results.json round-trips");
    assert!(
        text.find(tmp.path().to_str().unwrap()).is_none(),
        "no absolute output paths"
    );
    assert!(on_disk.get("seconds").is_none() && on_disk.get("figures").is_none());
    let h = &r.headline;
    eprintln!(
        "auroc {} control {} pik_auroc {}",
        h.auroc, h.control_accuracy, h.pik_auroc
    );
    // Held-out (grouped cross-validation) decodability, the suite's main claim: SmolLM2 gives
    // AUROC 1.0 for known vs unknown and 0.87 for P(IK) at this size (control accuracy 0.33).
    assert!(h.auroc >= 0.8, "known vs unknown: {h:?}");
    assert!(h.pik_auroc >= 0.6, "P(IK): {h:?}");
    let types = ["city", "person", "book", "team"];
    assert_eq!(r.data.entities, ORIGINS * 4 * PER_CELL);
    assert_eq!(h.n_real, 2 * 4 * PER_CELL);
    assert_eq!(h.n_fabricated, 2 * 4 * PER_CELL);
    assert!(r.data.prompts.contains("chat"), "{}", r.data.prompts);

    // Labels: enough of each class to probe, and the counts add up.
    assert!(h.n_known >= 2 && h.n_unknown >= 2, "{h:?}");
    assert!(h.n_known + h.n_unknown + h.n_partial <= 2 * 4 * PER_CELL);
    for status in ["known", "fabricated"] {
        let v = finite(h.unsteered_refusal[status], status);
        assert!((0.0..=1.0).contains(&v));
    }

    // Generalisation: both feature sets scored on every kind of unknown entity.
    let g = &r.generalise;
    assert_eq!(g.layer, h.best_layer);
    for o in ["markov", "syllable"] {
        assert!(g.origins.iter().any(|x| x == o), "{:?}", g.origins);
    }
    for f in [&g.activations, &g.name_ngrams] {
        finite(f.pooled_auroc, "pooled auroc");
        assert_eq!(f.held_out_origin.len(), g.origins.len());
        assert_eq!(f.by_type.len(), 4);
        let s = &f.held_out_origin["markov"];
        assert_eq!(s.test_unknown, 4 * PER_CELL, "every markov entity is tested");
        finite(s.auroc, "held-out markov auroc");
    }
    assert_eq!(h.held_out_origin_auroc.len(), g.origins.len());

    // Probe headline.
    let best = h.best_layer;
    assert!(LAYERS.contains(&best), "best layer {best}");
    for (k, v) in [
        ("auroc", h.auroc),
        ("accuracy", h.accuracy),
        ("control_accuracy", h.control_accuracy),
        ("chance", h.chance),
        ("question_accuracy", h.question_accuracy),
    ] {
        let v = finite(v, k);
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    assert_eq!(h.transfer.len(), 4, "{:?}", h.transfer);
    for t in types {
        // A held-out type is scored only when the other types hold both classes.
        let v = h.transfer[t];
        assert!(v.is_nan() || (0.0..=1.0).contains(&v), "transfer {t}: {v}");
    }

    // Steering: every condition at the one alpha, rates that are probabilities.
    for (key, rates) in [
        ("refusal_rate", &h.refusal_rate),
        ("hallucination_rate", &h.hallucination_rate),
        ("correct_rate", &h.correct_rate),
    ] {
        for cond in [
            "original",
            "unknown_latent",
            "known_latent",
            "unknown_mean_diff",
            "known_mean_diff",
            "random",
            "ablated",
        ] {
            let v = finite(rates[cond], &format!("{key}.{cond}"));
            assert!((0.0..=1.0).contains(&v), "{key}.{cond} = {v}");
        }
    }
    assert_eq!(h.steer_layer, best);
    // KL on neutral prompts: none unsteered, some under every added direction.
    for c in &r.steering.conditions {
        let kl = finite(c.kl, "kl");
        if c.condition == "original" {
            assert!(kl.abs() < 1e-9, "unsteered KL {kl}");
        } else {
            assert!(kl > 0.0, "{} KL {kl}", c.condition);
        }
    }
    let rs = &h.refusal_steering;
    assert_eq!((rs.layer, rs.alpha, rs.relative), (best, 0.5, true));
    assert_eq!(rs.known_refusal_original, h.refusal_rate["original"]);
    assert_eq!(rs.known_refusal_unknown_dir, h.refusal_rate["unknown_mean_diff"]);
    finite(rs.kl, "refusal steering kl");
    let unknown = SteeringVectors::load(&out.join("vectors/unknown")).unwrap();
    let known = SteeringVectors::load(&out.join("vectors/known")).unwrap();
    let (u, k) = (unknown.get(best).unwrap(), known.get(best).unwrap());
    assert!(u.iter().zip(k).all(|(a, b)| *a == -*b), "known = -unknown");

    // P(IK): present whenever the probes ran (two known and two unknown entities give at
    // least four right and four wrong answers).
    for (k, v) in [
        ("pik_auroc", h.pik_auroc),
        ("pik_ece", h.pik_ece),
        ("pik_brier", h.pik_brier),
    ] {
        let v = finite(v, k);
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    assert!(LAYERS.contains(&h.pik_layer.expect("pik layer")));

    // SAE latents listed both ways, with finite scores.
    for (dir, list) in [("known", &h.top_latents.known), ("unknown", &h.top_latents.unknown)] {
        assert!(!list.is_empty() && list.len() <= 3, "{dir}: {list:?}");
        for l in list {
            assert!(l.latent < 2 * m.config.d_model);
            finite(l.score, "latent score");
        }
    }
    assert_eq!(r.sae.origin.sae.dir, "sae", "the SAE directory is relative to OUT");
    assert_eq!(r.sae.histogram.known.len(), r.sae.histogram.bins);
    assert!(out.join("sae/cfg.json").exists());
    assert!(out.join("vectors/unknown_latent/meta.json").exists());

    // One answers.jsonl row per question asked: every question of every entity.
    let answers = std::fs::read_to_string(out.join("answers.jsonl")).unwrap();
    let rows: Vec<Value> = answers.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), r.data.entities * 3, "three questions per entity");
    assert_eq!(r.data.questions_asked, rows.len());
    for row in &rows {
        for k in ["entity", "question", "answer", "raw"] {
            assert!(row[k].is_string(), "{k}: {row}");
        }
        for k in ["correct", "refusal", "leaky"] {
            assert!(row[k].is_boolean(), "{k}: {row}");
        }
    }
    let steered = std::fs::read_to_string(out.join("steering_answers.jsonl")).unwrap();
    assert!(steered.lines().count() > 0);

    // The saved probe reads the best layer at the last token and reports P(known): it
    // scores the known entities it was fitted on above the unknown ones.
    let (probe, meta) = load_probe(&out.join("probes/known")).unwrap();
    assert_eq!(meta.hook, format!("blocks.{best}.hook_resid_post"));
    assert_eq!(meta.positions, "last");
    assert_eq!(meta.label, "known");
    assert_eq!(meta.classes, vec!["false".to_string(), "true".to_string()]);
    assert_eq!(probe.weights.ncols(), m.config.d_model);
    let store = ActivationStore::open(&out.join("store")).unwrap();
    let x = store.load(HookPoint::ResidPost(best)).unwrap().mapv(f64::from);
    let p = probe.predict_proba(x.view());
    let labels = std::fs::read_to_string(out.join("labels.jsonl")).unwrap();
    let (mut known_p, mut unknown_p) = (Vec::new(), Vec::new());
    for (i, line) in labels.lines().enumerate() {
        let row: Value = serde_json::from_str(line).unwrap();
        match row["status"].as_str().unwrap() {
            "known" => known_p.push(p[[i, 1]]),
            "unknown" => unknown_p.push(p[[i, 1]]),
            _ => {}
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&known_p) > mean(&unknown_p),
        "P(known): known {known_p:?}, unknown {unknown_p:?}"
    );
    assert!(load_probe(&out.join("probes/pik")).is_ok());

    for stem in ["probe_layers", "separation", "steering_rates", "reliability"] {
        for ext in ["svg", "png"] {
            let f = out.join("figures").join(format!("{stem}.{ext}"));
            assert!(f.metadata().is_ok_and(|md| md.len() > 0), "{} missing", f.display());
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Reading") && report.contains("P(IK)"), "{report}");
    for o in &r.generalise.origins {
        assert!(
            report.contains(&format!("| held-out origin: {o} | ")),
            "{o} row missing:\n{report}"
        );
    }

    // A second run on the same OUT reuses every stage and ends with the same results.
    let started = Instant::now();
    let again = run_suite::<Knowledge, _>(m, &opts, &out, false).unwrap();
    eprintln!(
        "knowledge suite, every stage reused: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(serde_json::to_string(&again).unwrap(), first);
    for stage in ["answers", "probe", "generalise", "sae", "steering", "pik"] {
        assert!(
            out.join("stages").join(format!("{stage}.json")).exists(),
            "stage {stage}"
        );
    }
}
