#!/usr/bin/env bash
# llama.cpp's llama-bench on the benchmark GGUF files: prompt processing of 512 tokens (pp512)
# and generation of 128 (tg128), 3 repetitions, one JSON object per measurement in the format
# of `cargo bench --bench decode` (tokens_per_s is llama-bench's avg_ts).
#
#   benches/run_llama_cpp.sh [MODEL ...]     # registered names; default: the three below
#
# Environment: LLAMA_CPP_DIR (default ~/.cache/mindlens/llama.cpp; built there by
# scripts/build_llama_cpp.sh when llama-bench is missing), BENCH_THREADS (default 2),
# MINDLENS_MODELS (default models/).
set -euo pipefail
cd "$(dirname "$0")/.."
llama_dir="${LLAMA_CPP_DIR:-$HOME/.cache/mindlens/llama.cpp}"
threads="${BENCH_THREADS:-2}"
models_dir="${MINDLENS_MODELS:-models}"
[ $# -gt 0 ] || set -- smollm2-135m-instruct gemma3-270m qwen2.5-coder-1.5b-instruct
bench="$llama_dir/build/bin/llama-bench"
[ -x "$bench" ] || scripts/build_llama_cpp.sh "$llama_dir" >&2
for name in "$@"; do
    file="$(ls "$models_dir/$name"/*.gguf 2>/dev/null | head -1)"
    [ -n "$file" ] || { echo "error: no GGUF file in $models_dir/$name (models/fetch.sh $name)" >&2; exit 1; }
    "$bench" -m "$file" -t "$threads" -p 512 -n 128 -r 3 -o json 2>/dev/null |
        python3 -c '
import json, sys
name, threads = sys.argv[1], int(sys.argv[2])
for r in json.load(sys.stdin):
    test = "pp%d" % r["n_prompt"] if r["n_gen"] == 0 else "tg%d" % r["n_gen"]
    print(json.dumps({"bench": test, "impl": "llama.cpp", "model": name, "threads": threads,
                      "tokens_per_s": r["avg_ts"], "stddev": r["stddev_ts"]}))
' "$name" "$threads"
done
