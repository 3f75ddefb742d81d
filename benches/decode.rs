//! Decoding and prompt processing of one GGUF model, measured the way llama.cpp's
//! `llama-bench -p 512 -n 128` measures them, so `benches/run_decode_vs_llama_cpp.sh` can put
//! both in one table: `tg128` is greedy KV-cached generation of 128 new tokens (after a
//! four-token prompt, whose prefill is counted too), `pp512` one 512-token prompt through the
//! forward pass (last-position logits). Each is run once to warm up, then three times; the
//! figure is the mean tokens/s, as llama-bench's `avg_ts`.
//!
//! `tg128_int8` is `tg128` with the model loaded with 8-bit decoding activations
//! ([`DecodeActivations::Int8`], llama.cpp's scheme; run after the others, on its own load).
//!
//! `tg128_steered` is `tg128` with a steering vector added to the output of the middle block at
//! every position; with `MINDLENS_BENCH_CONTROL_VECTOR=PATH` the same vector is also written
//! there as a llama.cpp control vector, for `llama-completion --control-vector` to decode with.
//!
//! `MINDLENS_BENCH_MODEL` (a registered name or a `.gguf` path; default the default model)
//! picks the model; arguments `tg128`, `tg128_steered`, `pp512` or `tg128_int8` pick measurements. Prints one
//! JSON object each.

use std::time::Instant;

use mindlens::prelude::*;
use mindlens::steer::direction::{random_direction, with_norm};
use mindlens::steer::export::export_gguf;
use mindlens::steer::{add_steering, SteeringVectors, Strength};

fn main() -> Result<()> {
    mindlens::backend::join_thread_pool();
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| f == name);
    let spec = std::env::var("MINDLENS_BENCH_MODEL").unwrap_or_else(|_| mindlens::registry::DEFAULT_MODEL.into());
    let device = Default::default();
    let model = Model::<Cpu>::load(&spec, &device)?;
    let threads = rayon::current_num_threads();
    let vocab = model.config.vocab_size as u64;
    let report = |name: &str, tokens: usize, times: &[f64]| {
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{}",
            serde_json::json!({"bench": name, "impl": "mindlens", "model": spec, "threads": threads,
                "seconds": mean, "tokens_per_s": tokens as f64 / mean})
        );
    };

    let new_tokens = 128;
    let prompt = model.tokenizer.encode("Once upon a time", true)?;
    let opts = GenerateOptions {
        max_new_tokens: new_tokens,
        stop_tokens: vec![u32::MAX], // never stop early
        ..Default::default()
    };
    let decode_with = |model: &Model<Cpu>, hooks: &dyn Fn() -> Result<HookSet<Cpu>>| -> Result<Vec<f64>> {
        let run = || -> Result<f64> {
            let mut hooks = hooks()?;
            let t = Instant::now();
            let out = model.generate(std::slice::from_ref(&prompt), &opts, &mut hooks)?;
            assert_eq!(out[0].tokens.len(), new_tokens);
            Ok(t.elapsed().as_secs_f64())
        };
        run()?;
        (0..3).map(|_| run()).collect()
    };
    let decode = |hooks: &dyn Fn() -> Result<HookSet<Cpu>>| decode_with(&model, hooks);
    if wanted("tg128") {
        report("tg128", new_tokens, &decode(&|| Ok(HookSet::default()))?);
    }
    if wanted("tg128_steered") {
        // A random unit direction: what the decode costs, not what it says, is measured here.
        let layer = model.config.n_layers / 2;
        let v = with_norm(&random_direction(model.config.d_model, 7), 1.0);
        let vectors = SteeringVectors::residual(&spec, "random", [(layer, v)].into(), Default::default());
        if let Ok(path) = std::env::var("MINDLENS_BENCH_CONTROL_VECTOR") {
            export_gguf(
                &vectors,
                model.config.arch.gguf_name(),
                model.config.n_layers,
                path.as_ref(),
            )?;
        }
        let steered = || {
            let mut hooks = HookSet::default();
            add_steering(
                &mut hooks,
                &model,
                &vectors,
                &[layer],
                Strength::Absolute(1.0),
                Positions::All,
            )?;
            Ok(hooks)
        };
        report("tg128_steered", new_tokens, &decode(&steered)?);
    }

    if wanted("pp512") {
        let len = 512;
        // Arbitrary ordinary tokens, away from the special ones at either end of the vocabulary.
        let prompt: Vec<u32> = (0..len as u64)
            .map(|i| (i * 104_729 % (vocab - 1000) + 500) as u32)
            .collect();
        let run = || -> Result<f64> {
            let t = Instant::now();
            model.run(std::slice::from_ref(&prompt), &mut HookSet::default(), LogitsMode::Last)?;
            Ok(t.elapsed().as_secs_f64())
        };
        run()?;
        let times = (0..3).map(|_| run()).collect::<Result<Vec<_>>>()?;
        report("pp512", len, &times);
    }

    if wanted("tg128_int8") {
        let int8 = Model::<Cpu>::load_with(&spec, &device, DecodeActivations::Int8)?;
        report(
            "tg128_int8",
            new_tokens,
            &decode_with(&int8, &|| Ok(HookSet::default()))?,
        );
    }
    Ok(())
}
