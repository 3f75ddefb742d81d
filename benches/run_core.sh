#!/usr/bin/env bash
# Hosting-core benchmark: mindlens and Hugging Face transformers on the same CPU, same thread
# count, same run. Needs the reference venv (scripts/README.md) and the fetched default model.
# Usage: benches/run_core.sh [forward|greedy ...]
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${BENCH_THREADS:-$(nproc)}"
export RAYON_NUM_THREADS="$threads" BENCH_THREADS="$threads" OMP_NUM_THREADS="$threads"
echo "# $(date -u +%FT%TZ) $(nproc) cores, $threads threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
cargo bench --bench core -- "$@" 2>/dev/null
.venv/bin/python scripts/bench_hf.py "$@" 2>/dev/null
