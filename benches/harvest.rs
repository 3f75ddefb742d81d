//! Harvest throughput: prompts of 20 to 200 tokens, all 30 `hook_resid_post` of SmolLM2, at
//! `last` and `all` positions, beside Hugging Face transformers and nnsight in the same run.
//!
//! `BENCH_PROMPTS=2000 cargo bench --bench harvest` (peers via `scripts/bench_harvest.py` when
//! `.venv` exists; see scripts/README.md). `BENCH_POSITIONS=all` and `BENCH_PEERS=hf` (or
//! empty for none) narrow the run; both default to everything. `BENCH_BATCH_TOKENS` sets
//! mindlens' token budget per batch (default: [`HarvestOptions`]' default).

use std::process::Command;

use mindlens::harvest::{harvest, HarvestOptions, PositionSpec};
use mindlens::prelude::*;

/// A comma-separated list from the environment variable `var`, or `default`.
fn list(var: &str, default: &str) -> Vec<String> {
    let v = std::env::var(var).unwrap_or_else(|_| default.to_string());
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn main() -> Result<()> {
    mindlens::backend::join_thread_pool();
    let positions_list = list("BENCH_POSITIONS", "last,all");
    let peers = list("BENCH_PEERS", "hf,nnsight");
    let n: usize = std::env::var("BENCH_PROMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let batch_tokens = std::env::var("BENCH_BATCH_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(HarvestOptions::default().batch_tokens);
    let model = Model::<Cpu>::load(mindlens::registry::DEFAULT_MODEL, &Default::default())?;
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let data = dir.path().join("data.jsonl");
    let words = [
        "the", "river", "quietly", "carried", "seven", "blue", "boats", "toward", "an", "old", "harbour", "where",
        "children", "watched", "and", "waved", "at", "sailors", "singing", "songs",
    ];
    let mut text = String::new();
    for i in 0..n {
        // 15..150 words: about 20..200 tokens.
        let len = 15 + (i * 7919) % 136;
        let s: Vec<&str> = (0..len).map(|j| words[(i * 31 + j * 17) % words.len()]).collect();
        text.push_str(&serde_json::json!({"text": s.join(" "), "id": i}).to_string());
        text.push('\n');
    }
    std::fs::write(&data, text).map_err(|e| Error::io(&data, e))?;
    for positions in positions_list.iter().map(String::as_str) {
        let opts = HarvestOptions {
            hooks: (0..model.config.n_layers).map(HookPoint::ResidPost).collect(),
            positions: positions.parse::<PositionSpec>()?,
            progress: false,
            batch_tokens,
            ..Default::default()
        };
        let s = harvest(&model, &data, &dir.path().join(format!("store-{positions}")), &opts)?;
        println!(
            "{}",
            serde_json::json!({"bench": format!("harvest_{positions}"), "impl": "mindlens", "prompts": n, "batch_tokens": batch_tokens,
                "tokens": s.tokens, "seconds": s.seconds, "tokens_per_s": s.tokens_per_s,
                "padding_tokens": s.padding_tokens, "peak_rss_mib": s.peak_rss_mib})
        );
        let _ = std::fs::remove_dir_all(dir.path().join(format!("store-{positions}")));
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = root.join(".venv/bin/python");
    if !py.exists() {
        eprintln!("no .venv: peer comparison skipped (see scripts/README.md)");
        return Ok(());
    }
    for positions in &positions_list {
        for peer in &peers {
            let o = Command::new(&py)
                .arg(root.join("scripts/bench_harvest.py"))
                .args([data.to_str().expect("utf-8 path"), positions.as_str(), peer.as_str()])
                .output()
                .map_err(|e| Error::Invalid(format!("cannot run python: {e}")))?;
            print!("{}", String::from_utf8_lossy(&o.stdout));
            if !o.status.success() {
                let err = String::from_utf8_lossy(&o.stderr);
                eprintln!("{peer} {positions} failed: {}", err.lines().last().unwrap_or(""));
            }
        }
    }
    Ok(())
}
