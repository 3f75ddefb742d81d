#!/usr/bin/env bash
# Decoding (tg128: greedy, 128 new tokens; tg128_int8: the same with 8-bit decoding activations;
# tg128_steered: with a control vector at the middle block) and prompt processing (pp512) of mindlens against llama.cpp on the same GGUF files,
# same thread count, same run; prints the JSON lines, then a table. Run it on a quiet machine:
# only same-run ratios compare.
#
#   benches/run_decode_vs_llama_cpp.sh [MODEL ...]   # default: SmolLM2 (Q4_1), Gemma 3 (Q4_K_M),
#                                                    # Qwen2.5-Coder-1.5B (Q4_K_M)
#
# Environment: BENCH_THREADS (default 2), MINDLENS_MODELS, LLAMA_CPP_DIR (see run_llama_cpp.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${BENCH_THREADS:-2}"
models_dir="${MINDLENS_MODELS:-models}"
export RAYON_NUM_THREADS="$threads" BENCH_THREADS="$threads"
[ $# -gt 0 ] || set -- smollm2-135m-instruct gemma3-270m qwen2.5-coder-1.5b-instruct
echo "# $(date -u +%FT%TZ) $(nproc) cores, $threads threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
cargo build --release --bench decode 2>/dev/null
out="$(mktemp)" cvecs="$(mktemp -d)"
trap 'rm -rf "$out" "$cvecs"' EXIT
export CONTROL_VECTOR_DIR="$cvecs"
for name in "$@"; do
    file="$(ls "$models_dir/$name"/*.gguf 2>/dev/null | head -1)"
    [ -n "$file" ] || { echo "error: no GGUF file in $models_dir/$name (models/fetch.sh $name)" >&2; exit 1; }
    # The same file llama.cpp reads; the name back in the output, for the table.
    MINDLENS_BENCH_MODEL="$file" MINDLENS_BENCH_CONTROL_VECTOR="$cvecs/$name.gguf" cargo bench --bench decode 2>/dev/null |
        python3 -c 'import json,sys; [print(json.dumps({**json.loads(l), "model": sys.argv[1]})) for l in sys.stdin if l.startswith("{")]' "$name" |
        tee -a "$out"
    benches/run_llama_cpp.sh "$name" | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
t = {(r["model"], r["bench"], r["impl"]): r["tokens_per_s"] for r in rows}
print(f"\n| model | test | mindlens tok/s | llama.cpp tok/s | mindlens / llama.cpp |\n|---|---|---|---|---|")
for model in dict.fromkeys(r["model"] for r in rows):
    # tg128_int8: mindlens with 8-bit decoding activations, llama.cpp's own scheme in its tg128.
    for test in ("tg128", "tg128_int8", "pp512", "tg128_steered"):
        m, l = t.get((model, test, "mindlens")), t.get((model, test.removesuffix("_int8"), "llama.cpp"))
        if m and l:
            print(f"| {model} | {test} | {m:.1f} | {l:.1f} | {m / l:.2f}x |")
print("\nSteering's cost: tg128_steered / tg128 (llama.cpp: both by llama-completion, tg128_cli)")
for model in dict.fromkeys(r["model"] for r in rows):
    m0, m1 = t.get((model, "tg128", "mindlens")), t.get((model, "tg128_steered", "mindlens"))
    l0, l1 = t.get((model, "tg128_cli", "llama.cpp")), t.get((model, "tg128_steered", "llama.cpp"))
    if m0 and m1 and l0 and l1:
        print(f"| {model} | mindlens {m1 / m0:.3f} | llama.cpp {l1 / l0:.3f} |")
PY
