//! Sparse autoencoders: planted features are recovered by every architecture, a training
//! run killed with SIGKILL resumes to exactly the uninterrupted weights, the SAELens layout
//! round-trips (and matches SAELens' own encode/decode on a fixture it wrote), and the
//! downstream evaluation on the real SmolLM2 scores a lossless SAE as lossless.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, max_abs, max_diff, mindlens, model};
use mindlens::harvest::ActivationStore;
use mindlens::prelude::*;
use mindlens::sae::eval::evaluate;
use mindlens::sae::saelens::{self, SaeOrigin};
use mindlens::sae::train::{train, train_on, RunControl, TrainOptions};
use mindlens::sae::{planted_features, Arch, Sae};
use ndarray::{Array1, Array2};

type Ad = burn::backend::Autodiff<Cpu>;

/// Fraction of planted features whose best-matching decoder row has cosine > 0.9.
fn recovered(sae: &Sae, planted: &Array2<f32>) -> f64 {
    let mut dec = sae.w_dec.clone();
    for mut r in dec.rows_mut() {
        let n = r.dot(&r).sqrt().max(1e-12);
        r /= n;
    }
    let sims = planted.dot(&dec.t());
    let hits = sims
        .rows()
        .into_iter()
        .filter(|r| r.iter().copied().fold(f32::MIN, f32::max) > 0.9)
        .count();
    hits as f64 / planted.nrows() as f64
}

#[test]
fn every_architecture_recovers_planted_features() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, planted) = planted_features(40_000, 64, 128, 0.03, 0.02, 7);
    let store = ActivationStore::from_array(
        &tmp.path().join("store"),
        "synthetic",
        HookPoint::ResidPost(0),
        &x,
        8192,
    )
    .unwrap();
    for (arch, sparsity) in [
        (Arch::TopK, 0.0),
        (Arch::BatchTopK, 0.0),
        (Arch::ReluL1, 5.0),
        (Arch::JumpRelu, 1.0),
    ] {
        let opts = TrainOptions {
            arch,
            expansion: 4,
            k: 4,
            sparsity_coeff: sparsity,
            batch: 1024,
            tokens: 1_000_000,
            lr: 3e-3,
            dead_tokens: 50_000,
            ..Default::default()
        };
        let out = tmp.path().join(arch.name());
        let s = train::<Ad>(
            &store,
            HookPoint::ResidPost(0),
            &out,
            &opts,
            RunControl::default(),
            &Default::default(),
        )
        .unwrap();
        let (sae, origin) = saelens::load(&out).unwrap();
        let frac = recovered(&sae, &planted);
        eprintln!("{}: recovered {frac:.3}, last {}", arch.name(), s.last);
        assert_eq!(origin.hook, "blocks.0.hook_resid_post");
        assert!(
            frac >= 0.8,
            "{}: only {frac:.3} of planted features recovered",
            arch.name()
        );

        // `init` starts a run from the trained SAE: one step at a negligible learning rate
        // leaves its weights and its reconstruction as they were.
        let again = tmp.path().join(format!("{}-again", arch.name()));
        let opts = TrainOptions {
            init: Some(out.clone()),
            tokens: 1024,
            lr: 1e-9,
            ..opts
        };
        let s2 = train::<Ad>(
            &store,
            HookPoint::ResidPost(0),
            &again,
            &opts,
            RunControl::default(),
            &Default::default(),
        )
        .unwrap();
        let (sae2, _) = saelens::load(&again).unwrap();
        for (name, a, b) in [("W_enc", &sae.w_enc, &sae2.w_enc), ("W_dec", &sae.w_dec, &sae2.w_dec)] {
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            let diff = (a - b).iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(diff <= 1e-4 * scale, "{}: {name} moved by {diff}", arch.name());
        }
        if arch == Arch::JumpRelu {
            let diff = (&sae.threshold - &sae2.threshold)
                .iter()
                .fold(0f32, |m, v| m.max(v.abs()));
            assert!(diff <= 1e-4, "thresholds moved by {diff}");
        }
        let (f1, f2) = (s.last["fvu"].as_f64().unwrap(), s2.last["fvu"].as_f64().unwrap());
        assert!(
            f2 < 2.0 * f1 + 0.05,
            "{}: FVU {f2} after init, {f1} at the end of training",
            arch.name()
        );
    }
}

#[test]
fn saelens_layout_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, n) = (6, 10);
    let f = |i: usize| (i as f32 * 0.37).sin();
    let sae = Sae {
        arch: Arch::JumpRelu,
        k: 0,
        w_enc: Array2::from_shape_fn((d, n), |(i, j)| f(i * n + j)),
        b_enc: Array1::from_shape_fn(n, |i| f(i + 100) * 0.1),
        w_dec: Array2::from_shape_fn((n, d), |(i, j)| f(i * d + j + 200)),
        b_dec: Array1::from_shape_fn(d, |i| f(i + 300)),
        threshold: Array1::from_elem(n, 0.05),
    };
    let origin = SaeOrigin {
        model: "m".into(),
        hook: "blocks.3.hook_resid_post".into(),
        dataset: "d".into(),
    };
    saelens::save(&sae, &origin, tmp.path()).unwrap();
    let (back, o) = saelens::load(tmp.path()).unwrap();
    assert_eq!(back.w_enc, sae.w_enc);
    assert_eq!(back.w_dec, sae.w_dec);
    assert_eq!(back.threshold, sae.threshold);
    assert_eq!(o.hook, origin.hook);
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("cfg.json")).unwrap()).unwrap();
    assert_eq!(cfg["architecture"], "jumprelu");
    assert_eq!(cfg["d_sae"], n);
    // A missing tensor is reported by name.
    std::fs::write(tmp.path().join("sae_weights.safetensors"), b"junk").unwrap();
    let err = saelens::load(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("sae_weights.safetensors"), "{err}");
}

/// SAEs written by SAELens itself (scripts/check_saelens.py), with SAELens' reconstruction
/// of fixed inputs: mindlens must load them and reproduce the same codes and reconstructions.
#[test]
fn matches_saelens_encode_decode() {
    for arch in ["standard", "topk", "jumprelu", "batchtopk"] {
        let dir = fixture(&format!("saelens/{arch}"));
        let (sae, _) = saelens::load(&dir).unwrap();
        let x: Array2<f32> = ndarray_npy::read_npy(fixture("saelens/inputs.npy")).unwrap();
        let want_x: Array2<f32> = ndarray_npy::read_npy(dir.join("recon.npy")).unwrap();
        let want_f: Array2<f32> = ndarray_npy::read_npy(dir.join("recon.acts.npy")).unwrap();
        let f = sae.encode(x.view());
        let xh = sae.decode(f.view());
        let df = (&f - &want_f).mapv(f32::abs).fold(0f32, |a, &b| a.max(b));
        let dx = (&xh - &want_x).mapv(f32::abs).fold(0f32, |a, &b| a.max(b));
        assert!(
            df < 1e-4 && dx < 1e-4,
            "{arch}: codes differ by {df}, reconstructions by {dx}"
        );
        assert!(f.iter().any(|&v| v > 0.0), "{arch}: fixture has no active latent");
    }
}

/// An SAE that reconstructs exactly (`W_enc = [I, -I]`, `W_dec = [I; -I]`, ReLU) must score
/// CE loss recovered 1 and KL 0 on the real model, while ablations cost real loss.
#[test]
fn lossless_sae_recovers_all_the_loss_on_smollm2() {
    let Some(m) = model("smollm2-135m-instruct") else {
        return;
    };
    let d = m.config.d_model;
    let mut w_enc = Array2::<f32>::zeros((d, 2 * d));
    let mut w_dec = Array2::<f32>::zeros((2 * d, d));
    for i in 0..d {
        w_enc[[i, i]] = 1.0;
        w_enc[[i, d + i]] = -1.0;
        w_dec[[i, i]] = 1.0;
        w_dec[[d + i, i]] = -1.0;
    }
    let sae = Sae {
        arch: Arch::ReluL1,
        k: 0,
        w_enc,
        b_enc: Array1::zeros(2 * d),
        w_dec,
        b_dec: Array1::zeros(d),
        threshold: Array1::zeros(0),
    };
    let texts: Vec<Vec<u32>> = [
        "The cat sat on the mat and looked out of the window.",
        "Water boils at one hundred degrees.",
    ]
    .iter()
    .map(|t| m.tokenizer.encode(t, true).unwrap())
    .collect();
    let e = evaluate(
        m,
        &sae,
        HookPoint::ResidPost(10),
        &texts,
        2,
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    let ds = &e.downstream;
    eprintln!("{ds:?}");
    assert!((ds.ce_sae - ds.ce_clean).abs() < 1e-3, "{ds:?}");
    assert!(ds.kl < 1e-4, "{ds:?}");
    assert!(ds.ce_zero > ds.ce_clean + 1.0, "zero ablation should hurt: {ds:?}");
    assert!(ds.ce_mean > ds.ce_clean, "{ds:?}");
    assert!((e.ce_loss_recovered - 1.0).abs() < 1e-3);
    assert!(e.fvu < 1e-6 && e.recon.l0 > 0.0);
}

/// Kills `mindlens sae train` with SIGKILL after its first checkpoint, resumes it, and checks
/// the weights equal an uninterrupted run's exactly.
#[test]
fn killed_training_resumes_to_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, _) = planted_features(16_384, 128, 256, 0.02, 0.02, 3);
    let store = tmp.path().join("store");
    ActivationStore::from_array(&store, "synthetic", HookPoint::ResidPost(0), &x, 4096).unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "sae",
            "train",
            "--store",
            store.to_str().unwrap(),
            "--hook",
            "blocks.0.hook_resid_post",
            "--arch",
            "topk",
            "--k",
            "8",
            "--expansion",
            "16",
            "--batch",
            "512",
            "--tokens",
            "100000",
            "--checkpoint-every",
            "4",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let whole = tmp.path().join("whole");
    let o = mindlens(&args(&whole).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let cut = tmp.path().join("cut");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args(args(&cut))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !cut.join("checkpoint.safetensors").exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !cut.join("sae_weights.safetensors").exists(),
        "the run finished before it could be killed; make it longer"
    );
    // Without --resume the half-done run is not overwritten.
    let o = mindlens(&args(&cut).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
    let mut resume = args(&cut);
    resume.push("--resume".into());
    let o = mindlens(&resume.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(summary["resumed_from_step"].as_u64().unwrap() > 0, "{summary}");

    let (a, _) = saelens::load(&whole).unwrap();
    let (b, _) = saelens::load(&cut).unwrap();
    assert_eq!(a.w_enc, b.w_enc);
    assert_eq!(a.w_dec, b.w_dec);
    assert_eq!(a.b_dec, b.b_dec);
    let lines = |p: &Path| {
        std::fs::read_to_string(p.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(&whole), lines(&cut), "metrics log has no lost or repeated steps");
}

/// Data-parallel training over two replicas (burn-collective's all-reduce, on the CPU
/// backend) takes the steps of one device training on the combined batch: after 50 steps the
/// weights agree to float tolerance, for TopK and for ReLU + L1.
#[test]
fn two_replicas_train_the_weights_of_one_device_on_the_combined_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, _) = planted_features(50 * 256, 64, 128, 0.03, 0.02, 11);
    let store = ActivationStore::from_array(
        &tmp.path().join("store"),
        "synthetic",
        HookPoint::ResidPost(0),
        &x,
        4096,
    )
    .unwrap();
    let cpu = burn::backend::flex::FlexDevice;
    for arch in [Arch::TopK, Arch::ReluL1] {
        let opts = TrainOptions {
            arch,
            expansion: 4,
            k: 8,
            batch: 256,
            tokens: 50 * 256,
            checkpoint_every: 1000,
            ..Default::default()
        };
        let run = |name: &str, devices: &[_]| {
            let out = tmp.path().join(format!("{}-{name}", arch.name()));
            let s = train_on::<Ad>(
                &store,
                HookPoint::ResidPost(0),
                &out,
                &opts,
                RunControl::default(),
                devices,
            )
            .unwrap();
            assert_eq!((s.steps, s.tokens, s.devices), (50, 50 * 256, devices.len()), "{name}");
            saelens::load(&out).unwrap().0
        };
        let one = run("one", &[cpu]);
        let two = run("two", &[cpu, cpu]);
        let close = |what: &str, a: &[f32], b: &[f32]| {
            let err = max_diff(a, b);
            assert!(
                err <= 1e-4 * max_abs(a).max(1e-3),
                "{arch:?} {what}: max difference {err}"
            );
        };
        close("w_enc", one.w_enc.as_slice().unwrap(), two.w_enc.as_slice().unwrap());
        close("w_dec", one.w_dec.as_slice().unwrap(), two.w_dec.as_slice().unwrap());
        close("b_enc", one.b_enc.as_slice().unwrap(), two.b_enc.as_slice().unwrap());
        close("b_dec", one.b_dec.as_slice().unwrap(), two.b_dec.as_slice().unwrap());
    }

    // A batch that does not split evenly is refused.
    let opts = TrainOptions {
        batch: 255,
        tokens: 255,
        ..Default::default()
    };
    let err = train_on::<Ad>(
        &store,
        HookPoint::ResidPost(0),
        &tmp.path().join("odd"),
        &opts,
        RunControl::default(),
        &[cpu, cpu],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("255") && err.contains("2 devices"), "{err}");
}
