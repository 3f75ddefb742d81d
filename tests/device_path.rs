//! The device code paths, on burn-wgpu: everything `backend::is_cpu` turns off on the CPU
//! backend (its host kernels, in-place quantized products, sparse SAE step and host Adam) runs
//! here as it would on a GPU: device-side attention softmax, head merging, gated MLP and
//! transfers; KV-cached generation with a steering vector; the dense autodiff SAE step with
//! Adam on the device. CI runs it on Mesa's software Vulkan device (lavapipe,
//! `scripts/lavapipe_install.sh`), since no GPU is at hand:
//!
//! ```sh
//! scripts/lavapipe_install.sh && MINDLENS_REQUIRE_WGPU=1 cargo test --release --features wgpu --test device_path
//! ```
//!
//! Without a wgpu adapter the tests skip, unless `MINDLENS_REQUIRE_WGPU` is set (as CI sets
//! it): then they fail.
#![cfg(feature = "wgpu")]

mod common;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::time::Instant;

use common::reference::{assert_close, check_forward, check_generation, reference};
use common::MODELS;
use mindlens::backend::{wgpu_adapters, Wgpu};
use mindlens::harvest::ActivationStore;
use mindlens::prelude::*;
use mindlens::sae::planted_features;
use mindlens::sae::train::{train, RunControl, TrainOptions};
use mindlens::sae::{saelens, Arch};
use serde_json::Value;

/// The wgpu device, or `None` (with a message) where wgpu finds no adapter; that fails under
/// `MINDLENS_REQUIRE_WGPU`.
///
/// CubeCL keeps the kernels it picked by timing (autotune) in the `target/` folder beside
/// `Cargo.toml`, which a clean clone lacks: it is pointed into the target directory instead
/// (`CARGO_TARGET_TMPDIR`), which CI keeps between runs: tuning every shape from scratch is
/// most of this test's time on lavapipe (BENCHMARKS.md). Which kernel wins does not change
/// what it computes, which is what the test checks.
fn device() -> Option<burn::backend::wgpu::WgpuDevice> {
    static CONFIG: Once = Once::new();
    CONFIG.call_once(|| {
        use burn::cubecl::config::{cache::CacheConfig, CubeClRuntimeConfig, RuntimeConfig};
        let mut config = CubeClRuntimeConfig::default();
        config.autotune.cache = CacheConfig::File(Path::new(env!("CARGO_TARGET_TMPDIR")).join("cubecl-autotune"));
        CubeClRuntimeConfig::set(config);
    });
    let adapters = wgpu_adapters();
    if adapters.is_empty() {
        assert!(
            std::env::var_os("MINDLENS_REQUIRE_WGPU").is_none(),
            "wgpu finds no adapter and MINDLENS_REQUIRE_WGPU is set (scripts/lavapipe_install.sh)"
        );
        eprintln!("SKIP: wgpu finds no adapter (scripts/lavapipe_install.sh installs lavapipe)");
        return None;
    }
    eprintln!("wgpu adapters: {adapters:?}");
    Some(Default::default())
}

/// Held by each test while it uses the device: lavapipe computes on the same cores as the
/// tests, and with the autotune results kept, one test after the other is faster than side by
/// side (BENCHMARKS.md).
fn exclusive() -> MutexGuard<'static, ()> {
    static DEVICE: Mutex<()> = Mutex::new(());
    // A failed test poisons the lock; the next one may still run.
    DEVICE.lock().unwrap_or_else(|e| e.into_inner())
}

/// SmolLM2 on burn-wgpu, loaded once per process.
fn smollm2() -> Option<&'static Model<Wgpu>> {
    static MODEL: OnceLock<Option<Model<Wgpu>>> = OnceLock::new();
    MODEL
        .get_or_init(|| common::load::<Wgpu>(MODELS[0], &device()?))
        .as_ref()
}

/// The reference's shortest prompt: each distinct shape costs lavapipe a round of kernel
/// compilation and tuning, so the other prompts are left to the CPU and CUDA runs.
const PROMPT: &str = "question";

#[test]
fn smollm2_forward_matches_transformers_on_wgpu() {
    let _device = exclusive();
    let Some(m) = smollm2() else { return };
    let t = Instant::now();
    check_forward(MODELS[0], m, |n| n == PROMPT);
    eprintln!("forward: {:.1} s", t.elapsed().as_secs_f64());
}

#[test]
fn smollm2_steered_generation_matches_transformers_and_the_cpu_on_wgpu() {
    let _device = exclusive();
    let Some(m) = smollm2() else { return };
    let Some(cpu) = common::model(MODELS[0]) else {
        return;
    };
    let t = Instant::now();
    // 20 greedy and 20 steered tokens against Hugging Face, one prompt at a time.
    check_generation(MODELS[0], m, |n| n == PROMPT, 1);
    eprintln!("reference generation: {:.1} s", t.elapsed().as_secs_f64());

    // Two prompts of different lengths as one left-padded batch (the padding mask on the
    // device), steered and not, against the CPU backend on the same batch.
    let t = Instant::now();
    let r = reference(MODELS[0]);
    let prompts: Vec<Vec<u32>> = r
        .prompts
        .iter()
        .filter(|p| matches!(p.name.as_str(), "plain" | PROMPT))
        .map(|p| p.ids.clone())
        .collect();
    assert_eq!(prompts.len(), 2, "reference prompts");
    assert_ne!(prompts[0].len(), prompts[1].len(), "the batch needs padding");
    let opts = GenerateOptions {
        max_new_tokens: 4,
        stop_tokens: vec![u32::MAX],
        ..Default::default()
    };
    let point = HookPoint::ResidPost(r.steer_layer);
    let steering = || Intervention::add(point, r.steer.clone(), r.steer_coef);
    let plain_gpu = m.generate(&prompts, &opts, &mut NoHooks).unwrap();
    let plain_cpu = cpu.generate(&prompts, &opts, &mut NoHooks).unwrap();
    let mut gpu_hooks = HookSet::default();
    gpu_hooks.intervene(steering(), m.config.d_model, m.device()).unwrap();
    let steered_gpu = m.generate(&prompts, &opts, &mut gpu_hooks).unwrap();
    let mut cpu_hooks = HookSet::default();
    cpu_hooks
        .intervene(steering(), cpu.config.d_model, cpu.device())
        .unwrap();
    let steered_cpu = cpu.generate(&prompts, &opts, &mut cpu_hooks).unwrap();
    for i in 0..prompts.len() {
        assert_eq!(plain_gpu[i].tokens, plain_cpu[i].tokens, "batch row {i}: greedy tokens");
        assert_eq!(
            steered_gpu[i].tokens, steered_cpu[i].tokens,
            "batch row {i}: steered tokens"
        );
    }
    assert!(
        (0..prompts.len()).any(|i| steered_gpu[i].tokens != plain_gpu[i].tokens),
        "steering changed no generation"
    );

    // Hidden states of the steered continuation, steering applied, on both backends: the
    // reference's tolerance (the CPU stands in for transformers), and far from unsteered.
    let last = HookPoint::ResidPost(m.config.n_layers - 1);
    let ids: Vec<u32> = prompts[1].iter().chain(&steered_gpu[1].tokens).copied().collect();
    let capture = [point, last, HookPoint::FinalNorm];
    let mut gpu_hooks = HookSet::capture(capture);
    gpu_hooks.intervene(steering(), m.config.d_model, m.device()).unwrap();
    m.run(std::slice::from_ref(&ids), &mut gpu_hooks, LogitsMode::Last)
        .unwrap();
    let mut cpu_hooks = HookSet::capture(capture);
    cpu_hooks
        .intervene(steering(), cpu.config.d_model, cpu.device())
        .unwrap();
    cpu.run(std::slice::from_ref(&ids), &mut cpu_hooks, LogitsMode::Last)
        .unwrap();
    let mut plain = HookSet::capture([last]);
    m.run(std::slice::from_ref(&ids), &mut plain, LogitsMode::Last).unwrap();
    let d = m.config.d_model;
    for p in capture {
        let (g, c) = (
            gpu_hooks.captured(p).unwrap().row(0),
            cpu_hooks.captured(p).unwrap().row(0),
        );
        assert_close(
            &format!("steered {p} wgpu vs cpu"),
            g.as_slice().unwrap(),
            c.as_slice().unwrap(),
            d,
        );
    }
    let steered = gpu_hooks.captured(last).unwrap().row(0);
    let unsteered = plain.captured(last).unwrap().row(0);
    let least = steered
        .rows()
        .into_iter()
        .zip(unsteered.rows())
        .map(|(a, b)| common::cosine(a.as_slice().unwrap(), b.as_slice().unwrap()))
        .fold(f64::INFINITY, f64::min);
    assert!(least < 0.99, "steering left {last} within cosine {least} of unsteered");
    eprintln!(
        "batched generation and hidden states: {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// Relative gap allowed between the wgpu and CPU SAE runs. Both start from the same
/// host-seeded weights and batches and differ only in float rounding (measured: 4e-7 on mse,
/// 4e-8 on the decoder after 12 steps), so a wrong gradient or Adam step shows far above it.
const TOL: f64 = 1e-3;

/// `metrics.jsonl` of a run: (step, mse, l0) per logged step.
fn metrics(dir: &Path) -> Vec<(u64, f64, f64)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .expect("metrics.jsonl")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("metrics line parses");
            let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("metrics line lacks {k}: {l}"));
            (f("step") as u64, f("mse"), f("l0"))
        })
        .collect()
}

/// A short SAE run on burn-wgpu takes the dense autodiff step and Adam on the device (on the
/// CPU the same run takes the sparse step and host Adam): its loss falls, and it follows the
/// CPU run step for step, since both start from the same host-seeded weights and batches.
#[test]
fn sae_training_takes_the_dense_device_step_on_wgpu() {
    let _device = exclusive();
    let Some(device) = device() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (x, _) = planted_features(4096, 32, 64, 0.05, 0.02, 3);
    let hook = HookPoint::ResidPost(0);
    let store = ActivationStore::from_array(&tmp.path().join("store"), "synthetic", hook, &x, 4096).unwrap();
    // TopK picks its pairs on the host from a device encoder pass, then differentiates the
    // dense step; ReLU-L1 differentiates it with no host pass at all.
    for (arch, k, sparsity) in [(Arch::TopK, 4, 0.0), (Arch::ReluL1, 4, 1.0)] {
        let opts = TrainOptions {
            arch,
            expansion: 4,
            k,
            sparsity_coeff: sparsity,
            batch: 256,
            tokens: 256 * 12,
            lr: 3e-3,
            warmup_steps: 1,
            log_every: 1,
            checkpoint_every: 1000,
            dead_tokens: 1 << 40,
            ..Default::default()
        };
        let t = Instant::now();
        let gpu_dir = tmp.path().join(format!("{}-wgpu", arch.name()));
        let s = train::<burn::backend::Autodiff<Wgpu>>(&store, hook, &gpu_dir, &opts, RunControl::default(), &device)
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let cpu_dir = tmp.path().join(format!("{}-cpu", arch.name()));
        train::<burn::backend::Autodiff<Cpu>>(
            &store,
            hook,
            &cpu_dir,
            &opts,
            RunControl::default(),
            &Default::default(),
        )
        .unwrap();
        eprintln!(
            "{}: {} steps on wgpu in {secs:.1} s, last {}",
            arch.name(),
            s.steps,
            s.last
        );

        let (gpu, cpu) = (metrics(&gpu_dir), metrics(&cpu_dir));
        assert_eq!(gpu.len(), cpu.len(), "{}: logged steps", arch.name());
        // The first line is the loss before any update.
        let (first, end) = (gpu[0].1, gpu[gpu.len() - 1].1);
        assert!(end < 0.9 * first, "{}: mse {first} -> {end} on wgpu", arch.name());
        let worst = gpu
            .iter()
            .zip(&cpu)
            .map(|((_, mg, _), (_, mc, _))| (mg - mc).abs() / mc)
            .fold(0f64, f64::max);
        eprintln!(
            "{}: mse {first:.3} -> {end:.3} on wgpu; largest relative mse gap to the cpu {worst:.2e}",
            arch.name()
        );
        for ((sg, mg, lg), (sc, mc, lc)) in gpu.iter().zip(&cpu) {
            assert_eq!(sg, sc);
            assert!(
                (mg - mc).abs() <= TOL * mc,
                "{} step {sg}: mse {mg} on wgpu, {mc} on the cpu",
                arch.name()
            );
            assert!(
                (lg - lc).abs() <= TOL * lc.max(1.0),
                "{} step {sg}: l0 {lg} on wgpu, {lc} on the cpu",
                arch.name()
            );
        }
        // The written SAEs agree too (the weights come back from the device).
        let (g, _) = saelens::load(&gpu_dir).unwrap();
        let (c, _) = saelens::load(&cpu_dir).unwrap();
        let scale = common::max_abs(c.w_dec.as_slice().unwrap());
        let err = common::max_diff(g.w_dec.as_slice().unwrap(), c.w_dec.as_slice().unwrap());
        assert!(
            err <= TOL as f32 * scale,
            "{}: W_dec differs by {err} (scale {scale})",
            arch.name()
        );
        eprintln!("{}: W_dec max gap {err:.2e} (scale {scale:.2e})", arch.name());
    }
}
