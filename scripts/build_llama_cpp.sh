#!/usr/bin/env bash
# Builds llama.cpp's llama-bench (the peer in benches/run_decode_vs_llama_cpp.sh) from the
# llama.cpp that PyPI's llama-cpp-python source distribution vendors: there is no GitHub
# access here, and a pinned sdist gives every run the same llama.cpp
# (../shared/notes/llama-cpp-build.md). Idempotent: each step is skipped when its output exists.
#
#   scripts/build_llama_cpp.sh DIR      # binaries land in DIR/build/bin (DIR/build/bin/llama-bench)
#
# Environment: LLAMA_CPP_JOBS (build jobs, default nproc), LLAMA_CPP_TARGETS (default
# "llama-bench"; add llama-completion llama-cvector-generator for the control-vector checks).
set -euo pipefail
version=0.3.36
dir="${1:?usage: scripts/build_llama_cpp.sh DIR}"
jobs="${LLAMA_CPP_JOBS:-$(nproc)}"
targets="${LLAMA_CPP_TARGETS:-llama-bench}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
die() { echo "error: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed (for pip: cmake and ninja come from PyPI)"
command -v c++ >/dev/null || command -v g++ >/dev/null || die "a C++ compiler is needed (apt-get install g++)"

# Build tools in their own venv (cmake is not on the image; PyPI ships it as a wheel).
venv="$dir/venv"
if [ ! -x "$venv/bin/cmake" ] || [ ! -x "$venv/bin/ninja" ]; then
    python3 -m venv "$venv" || die "python3 -m venv failed (apt-get install python3-venv?)"
    "$venv/bin/pip" install -q scikit-build-core cmake ninja || die "pip could not install cmake and ninja"
fi
export PATH="$venv/bin:$PATH"

# The source distribution (not --no-binary :all:, which would compile cmake itself).
sdist="$dir/llama_cpp_python-$version.tar.gz"
if [ ! -f "$sdist" ]; then
    "$venv/bin/pip" download -q --no-deps --no-build-isolation --no-binary llama-cpp-python \
        "llama-cpp-python==$version" -d "$dir" || die "pip download of llama-cpp-python==$version failed"
    [ -f "$sdist" ] || die "pip download did not leave $sdist"
fi
src="$dir/llama_cpp_python-$version/vendor/llama.cpp"
if [ ! -f "$src/CMakeLists.txt" ]; then
    tar xzf "$sdist" -C "$dir" || die "could not unpack $sdist"
    [ -f "$src/CMakeLists.txt" ] || die "$sdist holds no vendor/llama.cpp"
fi

# Native code for this CPU, but without AMX: on Sapphire Rapids VMs the CPU reports AMX tiles
# that the hypervisor does not enable, and llama-bench dies on its first `ldtilecfg`. The flags
# are part of the configuration, so a build configured otherwise is configured again.
flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
if ! grep -q -- "CMAKE_C_FLAGS:STRING=$flags" "$dir/build/CMakeCache.txt" 2>/dev/null; then
    cmake -S "$src" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
        -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
        || die "cmake configure failed (see above)"
fi
# shellcheck disable=SC2086  # targets is a list
cmake --build "$dir/build" -j "$jobs" --target $targets || die "cmake build failed (see above)"
for t in $targets; do
    [ -x "$dir/build/bin/$t" ] || die "$dir/build/bin/$t was not built"
done
echo "llama.cpp $version (llama-cpp-python sdist): $dir/build/bin"
