//! Decoding and prompt processing of one GGUF model, measured the way llama.cpp's
//! `llama-bench -p 512 -n 128` measures them, so `benches/run_decode_vs_llama_cpp.sh` can put
//! both in one table: `tg128` is greedy KV-cached generation of 128 new tokens (after a
//! four-token prompt, whose prefill is counted too), `pp512` one 512-token prompt through the
//! forward pass (last-position logits). Each is run once to warm up, then three times; the
//! figure is the mean tokens/s, as llama-bench's `avg_ts`.
//!
//! `MINDLENS_BENCH_MODEL` (a registered name or a `.gguf` path; default the default model)
//! picks the model; arguments `tg128` or `pp512` pick a measurement. Prints one JSON object each.

use std::time::Instant;

use mindlens::prelude::*;

fn main() -> Result<()> {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
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

    if wanted("tg128") {
        let new_tokens = 128;
        let prompt = model.tokenizer.encode("Once upon a time", true)?;
        let opts = GenerateOptions {
            max_new_tokens: new_tokens,
            stop_tokens: vec![u32::MAX], // never stop early
            ..Default::default()
        };
        let run = || -> Result<f64> {
            let t = Instant::now();
            let out = model.generate(std::slice::from_ref(&prompt), &opts, &mut HookSet::default())?;
            assert_eq!(out[0].tokens.len(), new_tokens);
            Ok(t.elapsed().as_secs_f64())
        };
        run()?;
        let times = (0..3).map(|_| run()).collect::<Result<Vec<_>>>()?;
        report("tg128", new_tokens, &times);
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
    Ok(())
}
