//! SAE training speed: mindlens (burn autodiff on the CPU backend) beside SAELens (torch) on
//! the same activations, architecture, sizes and thread count, in the same run.
//!
//! `cargo bench --bench sae` trains on `$MINDLENS_SAE_ACTS` (a `[N, d]` float32 `.npy`, e.g. a
//! SmolLM2 residual-stream shard) or, when unset, on synthetic planted-feature activations of
//! SmolLM2's width (576). Runs `scripts/bench_sae.py` with `.venv/bin/python` when the
//! reference venv exists (see scripts/README.md). `MINDLENS_SAE_STEPS` (default 40) timed steps of 1,024 vectors
//! after `MINDLENS_SAE_WARMUP` (default 2) untimed ones; `MINDLENS_SAE_ARCHS` (default
//! `topk,relu-l1`); `MINDLENS_SAE_BATCH` (default 1024); `MINDLENS_SAE_K` (default 32). ReLU and
//! JumpReLU train through gathered pairs only once their code is sparse, which takes about 150
//! steps from initialisation. `MINDLENS_SAE_INIT=DIR` starts both implementations from the
//! trained SAE in `DIR/{arch}` (SAELens layout), which times them at a trained SAE's sparsity. `MINDLENS_SAE_DEVICE=cuda` (with `--features cuda`) trains on the GPU and
//! reports achieved TFLOP/s; the SAELens comparison then is skipped. `MINDLENS_SAE_REPLICAS=N`
//! trains data-parallel over N replicas of the device (each an equal share of every batch,
//! gradients all-reduced); the SAELens comparison is then skipped too.

use std::path::Path;
use std::process::Command;

use burn::tensor::backend::AutodiffBackend;
use mindlens::harvest::ActivationStore;
use mindlens::hooks::HookPoint;
use mindlens::sae::train::{train_on, RunControl, TrainOptions};
use mindlens::sae::{planted_features, Arch};
use ndarray::Array2;

type CpuAd = burn::backend::Autodiff<mindlens::backend::Cpu>;

/// Floating-point operations per training vector, counting the matmul-sized work only. Dense
/// architectures: encoder and decoder forward (2·d·D each), both weight gradients (2·d·D each)
/// and the decoder's input gradient (2·d·D). TopK and BatchTopK: the dense encoder pass that
/// picks the latents (2·d·D), then about 8·k·d for the gathered forward and backward.
fn flops_per_vector(arch: Arch, d: usize, d_sae: usize, k: usize) -> f64 {
    let (d, d_sae, k) = (d as f64, d_sae as f64, k as f64);
    if arch.uses_k() {
        2.0 * d * d_sae + 8.0 * k * d
    } else {
        10.0 * d * d_sae
    }
}

fn main() {
    match std::env::var("MINDLENS_SAE_DEVICE").as_deref() {
        Ok("cuda") => {
            #[cfg(feature = "cuda")]
            run::<burn::backend::Autodiff<mindlens::backend::Gpu>>("cuda", &Default::default());
            #[cfg(not(feature = "cuda"))]
            panic!("MINDLENS_SAE_DEVICE=cuda needs `--features cuda`");
        }
        Ok("cpu") | Err(_) => run::<CpuAd>("cpu", &Default::default()),
        Ok(other) => panic!("MINDLENS_SAE_DEVICE={other}: expected cpu or cuda"),
    }
}

fn run<B: AutodiffBackend>(device_name: &str, device: &B::Device) {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let steps: u64 = env("MINDLENS_SAE_STEPS", "40")
        .parse()
        .expect("MINDLENS_SAE_STEPS is a number");
    let batch: usize = env("MINDLENS_SAE_BATCH", "1024")
        .parse()
        .expect("MINDLENS_SAE_BATCH is a number");
    let warmup: u64 = env("MINDLENS_SAE_WARMUP", "2")
        .parse()
        .expect("MINDLENS_SAE_WARMUP is a number");
    let k: usize = env("MINDLENS_SAE_K", "32").parse().expect("MINDLENS_SAE_K is a number");
    let replicas: usize = env("MINDLENS_SAE_REPLICAS", "1")
        .parse()
        .expect("MINDLENS_SAE_REPLICAS is a number");
    let devices = vec![device.clone(); replicas.max(1)];
    let expansion = 16usize;
    let init = std::env::var("MINDLENS_SAE_INIT").ok().map(std::path::PathBuf::from);
    let acts_path = match std::env::var("MINDLENS_SAE_ACTS") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => {
            let (x, _) = planted_features(8 * batch, 576, 4096, 0.008, 0.05, 1);
            let p = dir.path().join("acts.npy");
            mindlens::artifact::write_npy(&p, &x).expect("write");
            p
        }
    };
    let x: Array2<f32> = mindlens::artifact::read_matrix(&acts_path).expect("activations .npy");
    let store = ActivationStore::from_array(&dir.path().join("store"), "bench", HookPoint::ResidPost(0), &x, 16384)
        .expect("store");
    for arch in env("MINDLENS_SAE_ARCHS", "topk,relu-l1").split(',') {
        let arch: Arch = clap::ValueEnum::from_str(arch, true).expect("arch name");
        let mut secs = Vec::new();
        // Time (warmup + steps) minus warmup steps, the same protocol as the SAELens script; a
        // first 2-step run warms up (on CUDA it compiles every kernel) and is not counted.
        for (i, n) in [2, warmup, warmup + steps].into_iter().enumerate() {
            let opts = TrainOptions {
                arch,
                init: init.as_ref().map(|d| d.join(arch.name())),
                expansion,
                k,
                batch,
                tokens: n * batch as u64,
                checkpoint_every: 1_000_000,
                ..Default::default()
            };
            let out = dir.path().join(format!("{}-{i}", arch.name()));
            let s = train_on::<B>(
                &store,
                HookPoint::ResidPost(0),
                &out,
                &opts,
                RunControl {
                    force: true,
                    ..Default::default()
                },
                &devices,
            )
            .expect("train");
            secs.push((s.seconds, s.last.clone()));
        }
        let timed = secs[2].0 - secs[1].0;
        let tokens_per_s = (steps as f64 * batch as f64) / timed;
        let d_sae = expansion * x.ncols();
        println!(
            "{}",
            serde_json::json!({"peer": "mindlens", "device": device_name, "replicas": devices.len(), "arch": arch.name(), "d_in": x.ncols(),
                "d_sae": d_sae, "k": k, "batch": batch, "warmup": warmup, "steps": steps, "init": init.as_ref().map(|d| d.join(arch.name())), "seconds": timed, "tokens_per_s": tokens_per_s,
                "tflops": tokens_per_s * flops_per_vector(arch, x.ncols(), d_sae, k) / 1e12,
                "threads": rayon::current_num_threads(), "last": secs[2].1})
        );
        if device_name != "cpu" || devices.len() > 1 {
            continue; // the SAELens script runs on the CPU, on one device
        }
        let py = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        if py.exists() {
            let o = Command::new(py)
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_sae.py"))
                .args(["--acts", acts_path.to_str().expect("utf-8 path"), "--arch", arch.name()])
                .args([
                    "--expansion",
                    &expansion.to_string(),
                    "--k",
                    &k.to_string(),
                    "--batch",
                    &batch.to_string(),
                ])
                .args([
                    "--steps",
                    &steps.to_string(),
                    "--warmup-steps",
                    &warmup.to_string(),
                    "--threads",
                    &rayon::current_num_threads().to_string(),
                ])
                .args(
                    init.iter()
                        .flat_map(|d| ["--init".into(), d.join(arch.name()).into_os_string()]),
                )
                .output()
                .expect("python runs");
            print!("{}", String::from_utf8_lossy(&o.stdout));
            eprint!("{}", String::from_utf8_lossy(&o.stderr));
        } else {
            eprintln!("no .venv: SAELens comparison skipped (see scripts/README.md)");
        }
    }
}
