//! The knowledge-awareness suite (probes/knowledge) end to end on SmolLM2, CI-sized: 8 entities
//! per type x source (32 real, 32 fabricated), three layers, a tiny TopK SAE trained on the
//! suite's own text, one steering strength on questions about a few held-out and fabricated
//! entities, eight-token answers. Checks that every artifact is written and readable, that the
//! headline numbers are present and finite, that known vs unknown and P(IK) are decodable on
//! held-out entities, that the saved probe reports P(known), and that every asked question has
//! its row in answers.jsonl. How much a 135M model knows is not asserted beyond the two known
//! and two unknown entities the probes need.

mod common;

use std::path::Path;
use std::time::Instant;

use common::model;
use mindlens::concepts::knowledge::{run_knowledge, KnowledgeOptions};
use mindlens::harvest::ActivationStore;
use mindlens::hooks::HookPoint;
use mindlens::probe::load_probe;
use serde_json::Value;

const SMOL: &str = "smollm2-135m-instruct";
const LAYERS: [usize; 3] = [6, 12, 18];
const PER_CELL: usize = 8;

fn finite(v: &Value, what: &str) -> f64 {
    let x = v.as_f64().unwrap_or_else(|| panic!("{what} is not a number: {v}"));
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
    let r = run_knowledge(m, &opts, &out, false).unwrap();
    eprintln!("knowledge suite (CI size): {:.0} s", started.elapsed().as_secs_f64());

    // results.json is what was returned.
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let on_disk: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(on_disk["kind"], "knowledge-suite");
    assert_eq!(on_disk["headline"], r["headline"]);
    let h = &r["headline"];
    eprintln!(
        "auroc {} control {} pik_auroc {}",
        h["auroc"], h["control_accuracy"], h["pik_auroc"]
    );
    // Held-out (grouped cross-validation) decodability, the suite's main claim: SmolLM2 gives
    // AUROC 1.0 for known vs unknown and 0.87 for P(IK) at this size (control accuracy 0.33).
    assert!(h["auroc"].as_f64().unwrap() >= 0.8, "known vs unknown: {h}");
    assert!(h["pik_auroc"].as_f64().unwrap() >= 0.6, "P(IK): {h}");
    let types = ["city", "person", "book", "team"];
    assert_eq!(r["data"]["entities"], 2 * 4 * PER_CELL as u64);
    assert_eq!(h["n_real"], 4 * PER_CELL as u64);
    assert_eq!(h["n_fabricated"], 4 * PER_CELL as u64);

    // Labels: enough of each class to probe, and the counts add up.
    let n_known = h["n_known"].as_u64().unwrap();
    let n_unknown = h["n_unknown"].as_u64().unwrap();
    assert!(n_known >= 2 && n_unknown >= 2, "{h}");
    assert!(n_known + n_unknown + h["n_partial"].as_u64().unwrap() <= 4 * PER_CELL as u64);

    // Probe headline.
    let best = h["best_layer"].as_u64().unwrap() as usize;
    assert!(LAYERS.contains(&best), "best layer {best}");
    for k in ["auroc", "accuracy", "control_accuracy", "chance", "question_accuracy"] {
        let v = finite(&h[k], k);
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    let transfer = h["transfer"].as_object().expect("transfer by type");
    assert_eq!(transfer.len(), 4, "{transfer:?}");
    for t in types {
        // A held-out type is scored only when the other types hold both classes.
        let v = &transfer[t];
        assert!(
            v.is_null() || (0.0..=1.0).contains(&v.as_f64().unwrap()),
            "transfer {t}: {v}"
        );
    }

    // Steering: every condition at the one alpha, rates that are probabilities.
    for key in ["refusal_rate", "hallucination_rate", "correct_rate"] {
        let rates = h[key].as_object().unwrap_or_else(|| panic!("{key}: {h}"));
        for cond in [
            "original",
            "unknown_latent",
            "known_latent",
            "unknown_mean_diff",
            "known_mean_diff",
            "random",
            "ablated",
        ] {
            let v = finite(&rates[cond], &format!("{key}.{cond}"));
            assert!((0.0..=1.0).contains(&v), "{key}.{cond} = {v}");
        }
    }
    assert_eq!(finite(&h["steer_layer"], "steer_layer") as usize, best);

    // P(IK): present whenever the probes ran (two known and two unknown entities give at
    // least four right and four wrong answers).
    for k in ["pik_auroc", "pik_ece", "pik_brier"] {
        let v = finite(&h[k], k);
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    assert!(LAYERS.contains(&(h["pik_layer"].as_u64().unwrap() as usize)));

    // SAE latents listed both ways, with finite scores.
    for dir in ["known", "unknown"] {
        let list = h["top_latents"][dir]
            .as_array()
            .unwrap_or_else(|| panic!("top_latents.{dir}"));
        assert!(!list.is_empty() && list.len() <= 3, "{dir}: {list:?}");
        for l in list {
            assert!(l["latent"].as_u64().unwrap() < (2 * m.config.d_model) as u64);
            finite(&l["score"], "latent score");
        }
    }
    assert!(out.join("sae/cfg.json").exists());
    assert!(out.join("steering_vectors/unknown_latent/meta.json").exists());

    // One answers.jsonl row per question asked: every question of every real entity.
    let answers = std::fs::read_to_string(out.join("answers.jsonl")).unwrap();
    let rows: Vec<Value> = answers.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 4 * PER_CELL * 3, "three questions per real entity");
    assert_eq!(r["data"]["questions_asked"], rows.len() as u64);
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
}
