//! Hosting-core throughput on SmolLM2-135M: batched forward with every `hook_resid_post`
//! captured, and greedy KV-cached generation with and without a steering vector.
//!
//! `cargo bench --bench core` prints one JSON object per measurement; `benches/run_core.sh`
//! runs it beside Hugging Face transformers (`scripts/bench_hf.py`) in the same session.
//!
//! `matmul` is the roofline: one `[2048, 576] x [576, 1536]` product (the MLP's shape at
//! batch 16 x 128) through the same burn call the model makes. The forward's `linear_gflops`
//! (its weight multiplies alone, attention scores left out) over the matmul's `gflops` says how
//! much of the forward is arithmetic the CPU cannot do faster.

use std::time::Instant;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use mindlens::prelude::*;

fn main() -> Result<()> {
    mindlens::backend::join_thread_pool();
    // `MINDLENS_BENCH_DEVICE=cuda` (with `--features cuda`) runs every measurement on the GPU.
    match std::env::var("MINDLENS_BENCH_DEVICE").as_deref() {
        Err(_) | Ok("cpu") => bench::<Cpu>("cpu"),
        #[cfg(feature = "cuda")]
        Ok("cuda") => bench::<mindlens::backend::Gpu>("cuda"),
        Ok(other) => panic!("MINDLENS_BENCH_DEVICE={other}: expected cpu, or cuda in a --features cuda build"),
    }
}

fn bench<B: Backend>(device_name: &str) -> Result<()> {
    // `cargo bench` passes --bench; a filter argument selects measurements.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let device = B::Device::default();
    let model = Model::<B>::load(mindlens::registry::DEFAULT_MODEL, &device)?;
    let n = model.config.n_layers;
    let vocab = model.config.vocab_size as u64;
    let threads = rayon::current_num_threads();
    // GPU work is queued; a measurement ends when the device has finished it.
    let sync = || B::sync(&device).expect("device sync");

    if wanted("matmul") {
        let (m, k, n) = (2048usize, 576usize, 1536usize);
        let fill = |len: usize| (0..len).map(|i| ((i % 97) as f32 - 48.0) * 0.01).collect::<Vec<f32>>();
        let x = Tensor::<B, 2>::from_data(TensorData::new(fill(m * k), [m, k]), &device);
        let w = Tensor::<B, 2>::from_data(TensorData::new(fill(n * k), [n, k]), &device);
        let run = || {
            let t = Instant::now();
            let y = x.clone().matmul(w.clone().transpose());
            y.into_data(); // waits for the result
            t.elapsed().as_secs_f64()
        };
        run();
        let best = (0..20).map(|_| run()).fold(f64::INFINITY, f64::min);
        println!(
            "{}",
            serde_json::json!({"bench": "matmul_2048x576x1536", "impl": "mindlens", "device": device_name, "threads": threads,
                "seconds": best, "gflops": 2.0 * (m * k * n) as f64 / best / 1e9})
        );
    }

    if wanted("forward") {
        let (batch, seq) = (16usize, 128usize);
        let prompts: Vec<Vec<u32>> = (0..batch)
            .map(|b| {
                (0..seq)
                    .map(|i| ((b as u64 * 7919 + i as u64 * 104_729) % (vocab - 1000) + 500) as u32)
                    .collect()
            })
            .collect();
        let run = || -> Result<f64> {
            let mut hooks = HookSet::capture((0..n).map(HookPoint::ResidPost));
            let t = Instant::now();
            model.run(&prompts, &mut hooks, LogitsMode::None)?;
            sync();
            Ok(t.elapsed().as_secs_f64())
        };
        run()?; // warm-up
        let times = (0..3).map(|_| run()).collect::<Result<Vec<_>>>()?;
        let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
        let c = &model.config;
        let per_layer = c.d_model * c.d_head * (2 * c.n_heads + 2 * c.n_kv_heads) + 3 * c.d_model * c.d_ff;
        let linear_flops = 2.0 * (batch * seq * per_layer * n) as f64;
        println!(
            "{}",
            serde_json::json!({"bench": "forward_16x128_all_resid_post", "impl": "mindlens", "device": device_name, "threads": threads,
                "seconds": best, "tokens_per_s": (batch * seq) as f64 / best,
                "linear_gflops": linear_flops / best / 1e9})
        );
    }

    let prompt = model
        .tokenizer
        .encode("Once upon a time, in a small village by the sea, there lived", true)?;
    let new_tokens = 64;
    let opts = GenerateOptions {
        max_new_tokens: new_tokens,
        stop_tokens: vec![u32::MAX],
        ..Default::default()
    };
    let steer: Vec<f32> = (0..model.config.d_model)
        .map(|i| ((i as f32) * 0.37).sin() * 0.1)
        .collect();
    for (name, steered) in [("greedy_64_tokens", false), ("greedy_64_tokens_steered", true)] {
        if !wanted(name) {
            continue;
        }
        let run = || -> Result<f64> {
            let mut hooks = HookSet::default();
            if steered {
                hooks.intervene(
                    Intervention::add(HookPoint::ResidPost(10), steer.clone(), 4.0),
                    model.config.d_model,
                    model.device(),
                )?;
            }
            let t = Instant::now();
            let out = model.generate(std::slice::from_ref(&prompt), &opts, &mut hooks)?;
            assert_eq!(out[0].tokens.len(), new_tokens);
            Ok(t.elapsed().as_secs_f64())
        };
        run()?;
        let times = (0..3).map(|_| run()).collect::<Result<Vec<_>>>()?;
        let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "{}",
            serde_json::json!({"bench": name, "impl": "mindlens", "device": device_name, "threads": threads, "seconds": best,
                "tokens_per_s": new_tokens as f64 / best})
        );
    }
    Ok(())
}
