#!/usr/bin/env bash
# Strength grid beyond the main run's 0.5: each trait whose target was not met within KL 0.1
# in ../ (results.json), re-run at the steering layer the main run chose, with strengths up to
# 1.0 x the mean residual norm, to find the gentlest strength at which the target is met and
# its KL (the report's "first effect"). Same --quick items as the main run; one layer, so the
# probe sweep is trivial and steering stays at the main run's layer. Resumable: run it again
# after an interruption. Committed: all four traits (2026-12-06; conscientiousness 33 and
# agreeableness 50 minutes on 2 cores; openness 67 and extraversion about 50, each beside another
# job, with the faster decoding of that day). Usage (from the repository root):
#   notebooks-data/personality/qwen2_5-coder-1_5b-instruct/strength_grid/run.sh [mindlens binary]
set -euo pipefail
bin="${1:-target/release/mindlens}"
here=notebooks-data/personality/qwen2_5-coder-1_5b-instruct/strength_grid
for pair in conscientiousness:14 agreeableness:9 openness:4 extraversion:9; do
  trait="${pair%%:*}" layer="${pair##*:}"
  mkdir -p "$here/$trait"
  printf '{"traits": ["%s"], "layers": [%s], "steer_layers": 1, "alphas": [0.25, 0.5, 0.75, 1.0]}\n' \
    "$trait" "$layer" > "$here/$trait/options.json"
  "$bin" experiment personality --quick --model qwen2.5-coder-1.5b-instruct \
    --options "$here/$trait/options.json" --out "$here/$trait"
done
