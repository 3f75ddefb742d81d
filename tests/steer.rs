//! Steering on SmolLM2 with the cheerful-vs-gloomy items (probes/steering): vectors extracted
//! from the training items move the behaviour on held-out items monotonically with alpha while
//! KL stays small at moderate alpha; llama.cpp GGUF export/import round-trips to the same
//! generations; GGUFs written the way llama.cpp and repeng write them import.

mod common;

use std::process::Command;

use common::{fixture, model};
use mindlens::prelude::*;
use mindlens::steer::export::{export_gguf, import_gguf};
use mindlens::steer::extract::{extract, ExtractOptions, Method};
use mindlens::steer::sweep::{
    option_probabilities, option_probabilities_with, pairs_from_items, read_items, sweep, Item, ScoreMode,
    SweepSettings, NEUTRAL_PROMPTS,
};
use mindlens::steer::{add_ablation, add_steering, SteeringVectors, Strength};

const SMOL: &str = "smollm2-135m-instruct";

fn data(name: &str) -> std::path::PathBuf {
    fixture(&format!("../../probes/steering/{name}"))
}

#[test]
fn sentiment_vector_moves_held_out_behaviour_monotonically_with_small_kl() {
    let Some(m) = model(SMOL) else { return };
    let train = read_items(&data("sentiment_train.jsonl")).unwrap();
    // Every other held-out item keeps the test fast; each is scored in both option orders.
    let test: Vec<_> = read_items(&data("sentiment_test.jsonl"))
        .unwrap()
        .into_iter()
        .step_by(2)
        .collect();
    let pairs = pairs_from_items(m, &train).unwrap();
    assert_eq!(pairs.len(), 2 * train.len());
    let opts = ExtractOptions {
        layers: vec![12, 16],
        method: Method::MeanDiff,
        positions: mindlens::harvest::PositionSpec::MeanFrom("response".into()),
    };
    let v = extract(m, &pairs, "test", &opts).unwrap();
    let stats = &v.meta.stats["per_layer"]["16"];
    assert!(stats["mean_diff_sign_agreement"].as_f64().unwrap() > 0.9, "{stats}");
    assert!(stats["cosine_mean_diff_pca"].as_f64().unwrap() > 0.8, "{stats}");
    assert!(stats["cosine_mean_diff_probe"].as_f64().unwrap() > 0.3, "{stats}");

    let neutral: Vec<Vec<u32>> = NEUTRAL_PROMPTS
        .iter()
        .map(|t| m.tokenizer.encode(t, true).unwrap())
        .collect();
    let settings = SweepSettings {
        layers: vec![16],
        alphas: vec![-0.3, -0.1, 0.0, 0.1, 0.3],
        relative: true,
        kl_bound: 0.1,
        positions: Positions::All,
        score: mindlens::steer::sweep::ScoreMode::Text,
    };
    let r = sweep(m, &v, &test, &neutral, &settings, &indicatif::ProgressBar::hidden()).unwrap();
    let metrics: Vec<f64> = r.grid.iter().map(|g| g.metric).collect();
    for w in metrics.windows(2) {
        assert!(
            w[1] > w[0],
            "behaviour must rise with alpha on held-out items: {metrics:?}"
        );
    }
    assert!(metrics[4] - metrics[0] > 0.15, "effect too small: {metrics:?}");
    let base = r.baseline["metric"].as_f64().unwrap();
    assert!(
        (metrics[2] - base).abs() < 1e-9,
        "alpha 0 must equal the unsteered baseline"
    );
    let kl: Vec<f64> = r.grid.iter().map(|g| g.kl).collect();
    assert!(kl[2] < 1e-9 && kl[3] < 0.1, "KL at alpha 0 and 0.1: {kl:?}");
    assert!(r.grid.iter().all(|g| g.perplexity.is_finite() && g.perplexity > 1.0));
    assert_eq!(r.chosen.as_ref().unwrap()["layer"], 16);

    // Options scored from one shared pass over their prompt (KV cache forked per option)
    // match each option's full sequence: text and chat items, unsteered and steered at every
    // position or at prompt positions only.
    let mut items = test.clone();
    items.extend(test.iter().take(3).map(|it| Item {
        text: it.messages.as_ref().and_then(|m| m.last()).map(|m| m.content.clone()),
        messages: None,
        ..it.clone()
    }));
    assert!(items.iter().any(|it| it.text.is_some()) && items.iter().any(|it| it.messages.is_some()));
    let mut settings: Vec<HookSet<Cpu>> = vec![HookSet::default()];
    for pos in [Positions::All, Positions::Prompt] {
        let mut h = HookSet::default();
        add_steering(&mut h, m, &v, &[16], Strength::Relative(0.3), pos).unwrap();
        settings.push(h);
    }
    for (k, hooks) in settings.iter_mut().enumerate() {
        let shared = option_probabilities_with(m, &items, ScoreMode::Text, hooks, true).unwrap();
        let full = option_probabilities_with(m, &items, ScoreMode::Text, hooks, false).unwrap();
        let gap = shared
            .iter()
            .flatten()
            .zip(full.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(gap < 1e-4, "setting {k}: shared-prefix scores differ by {gap}");
    }
}

#[test]
fn gguf_round_trip_reproduces_generations_and_ablation_removes_the_direction() {
    let Some(m) = model(SMOL) else { return };
    let train = read_items(&data("sentiment_train.jsonl")).unwrap();
    let pairs = pairs_from_items(m, &train).unwrap();
    let opts = ExtractOptions {
        layers: vec![6, 10],
        method: Method::Pca,
        positions: mindlens::harvest::PositionSpec::MeanFrom("response".into()),
    };
    let v = extract(m, &pairs, "test", &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    v.save(&dir.path().join("vec")).unwrap();
    let gguf = dir.path().join("v.gguf");
    export_gguf(
        &SteeringVectors::load(&dir.path().join("vec")).unwrap(),
        "llama",
        30,
        &gguf,
    )
    .unwrap();
    let back = import_gguf(&gguf).unwrap();
    assert_eq!(back.layers, v.layers);

    let ids = m.tokenizer.encode("My day was", true).unwrap();
    let opts = GenerateOptions {
        max_new_tokens: 12,
        ..Default::default()
    };
    let gen = |vs: &SteeringVectors| {
        let mut h = HookSet::default();
        add_steering(&mut h, m, vs, &[6, 10], Strength::Absolute(2.0), Positions::All).unwrap();
        m.generate(std::slice::from_ref(&ids), &opts, &mut h).unwrap()[0]
            .tokens
            .clone()
    };
    let (a, b) = (gen(&v), gen(&back));
    assert_eq!(a, b);
    assert_ne!(
        a,
        m.generate(std::slice::from_ref(&ids), &opts, &mut NoHooks).unwrap()[0].tokens
    );

    // Layer 0 has no llama.cpp slot: export refuses it.
    let mut with0 = v.clone();
    with0.layers.insert(0, v.layers[&6].clone());
    assert!(export_gguf(&with0, "llama", 30, &dir.path().join("bad.gguf"))
        .unwrap_err()
        .to_string()
        .contains("layer 0"));

    // Directional ablation: the residual stream keeps no component along the direction.
    let dirv = v.layers[&10].clone();
    let mut h = HookSet::capture([HookPoint::ResidPost(20)]);
    add_ablation(&mut h, m, &dirv).unwrap();
    m.run(std::slice::from_ref(&ids), &mut h, LogitsMode::None).unwrap();
    let acts = h.captured(HookPoint::ResidPost(20)).unwrap().row(0);
    let n: f32 = dirv.iter().map(|x| x * x).sum::<f32>().sqrt();
    for row in acts.rows() {
        let dot: f32 = row.iter().zip(&dirv).map(|(a, b)| a * b).sum::<f32>() / n;
        let scale = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(dot.abs() < 1e-3 * scale, "component {dot} of {scale}");
    }
    // And the A/B metric still runs with an ablation hook set.
    let mut h = HookSet::default();
    add_ablation(&mut h, m, &dirv).unwrap();
    let mode = mindlens::steer::sweep::ScoreMode::Letter;
    assert_eq!(option_probabilities(m, &train[..2], mode, &mut h).unwrap().len(), 2);
}

#[test]
fn control_vectors_written_like_llama_cpp_and_repeng_import() {
    // Fixtures written with the `gguf` Python package exactly as llama.cpp's cvector-generator
    // (layer_count int32, direction.1..N-1) and repeng's export_gguf (layer_count uint32,
    // model_hint, a subset of layers) write them: scripts/make_control_vector_fixtures.py.
    for (name, first, count) in [("cvector_generator.gguf", 1, 29), ("repeng.gguf", 5, 4)] {
        let v = import_gguf(&fixture(&format!("controlvector/{name}"))).unwrap();
        assert_eq!(v.layers.len(), count, "{name}");
        assert_eq!(*v.layers.keys().next().unwrap(), first, "{name}");
        assert_eq!(v.width(), 576);
        let expect: ndarray::Array1<f32> =
            mindlens::artifact::read_npy(&fixture(&format!("controlvector/{name}.layer{first}.npy"))).unwrap();
        assert_eq!(v.layers[&first], expect.to_vec(), "{name}");
    }
}

#[test]
fn a_llama_cpp_control_vector_round_trips_through_import_and_export_without_a_model() {
    // Imported vectors name only the architecture hint ("llama"), not a loadable model: export
    // takes the hint and the source file's layer count.
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let src = fixture("controlvector/cvector_generator.gguf");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_mindlens"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["steer", "import-gguf", src.to_str().unwrap(), "--out", &p("imported")]);
    run(&[
        "steer",
        "export-gguf",
        "--vector",
        &p("imported"),
        "--out",
        &p("again.gguf"),
    ]);
    let a = import_gguf(&src).unwrap();
    let b = import_gguf(std::path::Path::new(&p("again.gguf"))).unwrap();
    assert_eq!(a.layers, b.layers);
    assert_eq!(a.meta.model, b.meta.model);
    assert_eq!(a.meta.gguf_layer_count, b.meta.gguf_layer_count);

    // Without that count and without --model, the error names what it tried.
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("imported") + "/meta.json").unwrap()).unwrap();
    meta.as_object_mut().unwrap().remove("gguf_layer_count");
    std::fs::write(p("imported") + "/meta.json", meta.to_string()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args([
            "steer",
            "export-gguf",
            "--vector",
            &p("imported"),
            "--out",
            &p("x.gguf"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("\"llama\"") && err.contains("--model"), "{err}");
}

#[test]
fn steer_cli_extract_sweep_export_import() {
    let Some(_) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_mindlens"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        o
    };
    let train = data("sentiment_train.jsonl");
    let test = dir.path().join("test.jsonl");
    let four: Vec<String> = std::fs::read_to_string(data("sentiment_test.jsonl"))
        .unwrap()
        .lines()
        .take(4)
        .map(String::from)
        .collect();
    std::fs::write(&test, four.join("\n")).unwrap();
    run(&[
        "steer",
        "extract",
        "--items",
        train.to_str().unwrap(),
        "--layers",
        "7..8",
        "--out",
        &p("vec"),
    ]);
    assert!(dir.path().join("vec/layer_7.npy").exists() && dir.path().join("vec/meta.json").exists());
    run(&[
        "steer",
        "sweep",
        "--vector",
        &p("vec"),
        "--eval",
        test.to_str().unwrap(),
        "--layers",
        "7,8",
        "--alphas",
        "-0.1,0,0.1",
        "--relative",
        "--out",
        &p("sweep"),
    ]);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sweep/results.json")).unwrap()).unwrap();
    assert_eq!(r["grid"].as_array().unwrap().len(), 6);
    for k in ["layer", "alpha", "metric", "metric_std", "kl", "perplexity"] {
        assert!(r["grid"][0].get(k).is_some(), "grid lacks {k}");
    }
    assert!(r["chosen"]["layer"].is_u64());
    for f in [
        "dose_response.png",
        "dose_response.svg",
        "layer_alpha_heatmap.png",
        "samples.md",
    ] {
        assert!(dir.path().join("sweep").join(f).exists(), "{f}");
    }
    run(&["steer", "export-gguf", "--vector", &p("vec"), "--out", &p("v.gguf")]);
    run(&["steer", "import-gguf", &p("v.gguf"), "--out", &p("back")]);
    let gen = |v: &str| {
        let o = run(&[
            "steer",
            "apply",
            "--vector",
            v,
            "--alpha",
            "3",
            "--max-new-tokens",
            "10",
            "--json",
            "Today I feel",
        ]);
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert_eq!(gen(&p("vec")), gen(&p("back")));
    let o = Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args(["steer", "export-gguf", "--vector", &p("vec"), "--out", &p("v.gguf")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "refuses to overwrite without --force");
}
