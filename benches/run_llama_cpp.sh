#!/usr/bin/env bash
# llama.cpp's llama-bench on the benchmark GGUF files: prompt processing of 512 tokens (pp512)
# and generation of 128 (tg128), 3 repetitions, one JSON object per measurement in the format
# of `cargo bench --bench decode` (tokens_per_s is llama-bench's avg_ts).
#
#   benches/run_llama_cpp.sh [MODEL ...]     # registered names; default: the three below
#
# With CONTROL_VECTOR_DIR holding MODEL.gguf (a control vector, written by
# `cargo bench --bench decode` under MINDLENS_BENCH_CONTROL_VECTOR), also greedy generation of
# 128 tokens by llama-completion without (tg128_cli) and with that control vector
# (tg128_steered), 3 runs each, its eval tokens/s averaged.
#
# Environment: LLAMA_CPP_DIR (default ~/.cache/mindlens/llama.cpp; built there by
# scripts/build_llama_cpp.sh when a tool is missing), BENCH_THREADS (default 2),
# MINDLENS_MODELS (default models/), CONTROL_VECTOR_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
llama_dir="${LLAMA_CPP_DIR:-$HOME/.cache/mindlens/llama.cpp}"
threads="${BENCH_THREADS:-2}"
models_dir="${MINDLENS_MODELS:-models}"
[ $# -gt 0 ] || set -- smollm2-135m-instruct gemma3-270m qwen2.5-coder-1.5b-instruct
bench="$llama_dir/build/bin/llama-bench"
completion="$llama_dir/build/bin/llama-completion"
[ -x "$bench" ] && [ -x "$completion" ] ||
    LLAMA_CPP_TARGETS="llama-bench llama-completion" scripts/build_llama_cpp.sh "$llama_dir" >&2

# Mean eval tokens/s of 3 greedy 128-token generations by llama-completion, extra flags "$@".
completion_tps() {
    for _ in 1 2 3; do
        "$completion" -m "$file" -t "$threads" -p "Once upon a time" -n 128 --ignore-eos --temp 0 \
            -no-cnv "$@" </dev/null 2>&1 >/dev/null | grep ' eval time' | grep -v prompt || true
    done | python3 -c '
import re, sys
tps = [float(re.search(r"([0-9.]+) tokens per second", l).group(1)) for l in sys.stdin]
if len(tps) != 3:
    sys.exit("llama-completion printed no eval timing")
print(sum(tps) / 3)'
}
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
    cvec="${CONTROL_VECTOR_DIR:-}/$name.gguf"
    if [ -n "${CONTROL_VECTOR_DIR:-}" ] && [ -f "$cvec" ]; then
        for test in tg128_cli tg128_steered; do
            flags=()
            [ "$test" = tg128_steered ] && flags=(--control-vector "$cvec")
            tps="$(completion_tps "${flags[@]}")"
            echo "{\"bench\": \"$test\", \"impl\": \"llama.cpp\", \"model\": \"$name\", \"threads\": $threads, \"tokens_per_s\": $tps}"
        done
    fi
done
