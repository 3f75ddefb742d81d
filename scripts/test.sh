#!/usr/bin/env bash
# The test suite, as the README's second command and CI run it: fetches the test models
# (size and sha256 checked), installs Debian's Slurm for the job-array test and Mesa's software
# Vulkan device for the device-path test, then runs every test with the wgpu backend built in.
# The MINDLENS_REQUIRE_* variables turn a missing model, Slurm or Vulkan device into a failure
# instead of a skip. Installing needs root (apt-get) the first time only.
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh all
scripts/slurm_local.sh install
scripts/lavapipe_install.sh
MINDLENS_REQUIRE_MODELS=1 MINDLENS_REQUIRE_SLURM=1 MINDLENS_REQUIRE_WGPU=1 \
    cargo test --release --features wgpu "$@"
