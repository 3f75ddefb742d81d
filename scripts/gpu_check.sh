#!/usr/bin/env bash
# The CUDA checks, in one run on a machine with an NVIDIA GPU (results go to BENCHMARKS.md):
#   reference  the forward-equality and generation tests against Hugging Face on burn-cuda
#              (tests/reference.rs, module `cuda`), same tolerances as on the CPU;
#   core       forward (16 x 128, every hook_resid_post captured) and greedy decoding on the GPU
#              (benches/core.rs) beside transformers on the same GPU (scripts/bench_hf.py);
#   sae        SAE training throughput and achieved TFLOP/s on the GPU (benches/sae.rs), beside
#              a plain PyTorch step on the same GPU (scripts/bench_sae_torch.py);
#   harvest    harvest throughput of the default model on the GPU (`mindlens harvest --device
#              cuda`) beside Hugging Face transformers on the same GPU (scripts/bench_harvest.py).
#
# Usage: scripts/gpu_check.sh [STAGE...]        (default: reference core sae harvest)
# BIN=DIR uses prebuilt `mindlens`, `reference`, `core` and `sae` binaries (built with
# `cargo test --release --features cuda --no-run --test reference --bench core --bench sae`), for a GPU
# machine without a Rust toolchain; otherwise cargo builds them. Logs go to $LOGS (default
# gpu-logs/). The fetched default model must be under $MINDLENS_MODELS.
set -uo pipefail
cd "$(dirname "$0")/.."
stages=("${@:-reference core sae harvest}")
stages=(${stages[*]})
logs="${LOGS:-gpu-logs}"
mkdir -p "$logs"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$logs/gpu.txt"

bin() { # bin NAME: a prebuilt binary, or cargo's (built on demand)
    if [ -n "${BIN:-}" ]; then echo "$BIN/$1"; return; fi
    cargo test --release --features cuda --no-run --test reference --bench core --bench sae >&2 || exit 1
    case "$1" in
        mindlens) echo target/release/mindlens ;;
        *) ls -t target/release/deps/"$1"-* | grep -v '\.d$' | head -1 ;;
    esac
}

for stage in "${stages[@]}"; do
    echo "== $stage"
    case "$stage" in
    reference)
        "$(bin reference)" --test-threads 1 --nocapture cuda 2>&1 | tee "$logs/reference.log"
        ;;
    core)
        MINDLENS_BENCH_DEVICE=cuda "$(bin core)" 2>&1 | tee "$logs/core.jsonl"
        BENCH_DEVICE=cuda python3 scripts/bench_hf.py 2>/dev/null | tee -a "$logs/core.jsonl"
        ;;
    sae)
        for batch in ${SAE_BATCHES:-1024 4096}; do
            MINDLENS_SAE_DEVICE=cuda MINDLENS_SAE_BATCH=$batch MINDLENS_SAE_STEPS=${SAE_STEPS:-100} \
                MINDLENS_SAE_ARCHS=${SAE_ARCHS:-topk,batchtopk,relu-l1,jumprelu} "$(bin sae)" 2>&1 | tee -a "$logs/sae.jsonl"
            python3 scripts/bench_sae_torch.py --batch "$batch" --steps "${SAE_STEPS:-100}" 2>&1 | tee -a "$logs/sae.jsonl"
        done
        ;;
    harvest)
        # The prompts of benches/harvest.rs: 15..150 words, about 20..200 tokens.
        python3 - "$logs/data.jsonl" "${HARVEST_PROMPTS:-2000}" <<'EOF'
import json, sys
words = ("the river quietly carried seven blue boats toward an old harbour where children "
         "watched and waved at sailors singing songs").split()
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        n = 15 + (i * 7919) % 136
        f.write(json.dumps({"text": " ".join(words[(i * 31 + j * 17) % len(words)] for j in range(n)), "id": i}) + "\n")
EOF
        head -50 "$logs/data.jsonl" > "$logs/warm.jsonl"
        m="$(bin mindlens)"
        tmp="$(mktemp -d)"
        "$m" harvest --device cuda --data "$logs/warm.jsonl" --hooks 'blocks.*.hook_resid_post' \
            --positions last --out "$tmp/warm" 2>&1 | tail -1
        for pos in last all; do
            "$m" harvest --device cuda --data "$logs/data.jsonl" --hooks 'blocks.*.hook_resid_post' \
                --positions $pos --out "$tmp/$pos" 2>&1 | tail -1 | tee -a "$logs/harvest.log"
            rm -rf "${tmp:?}/$pos"
            BENCH_DEVICE=cuda python3 scripts/bench_harvest.py "$logs/data.jsonl" $pos hf 2>/dev/null \
                | tee -a "$logs/harvest.log"
        done
        rm -rf "$tmp"
        ;;
    *) echo "unknown stage $stage (reference | core | sae | harvest)"; exit 2 ;;
    esac
done
