#!/usr/bin/env python3
"""Generate dequantisation fixtures for tests/gguf_dequant.rs.

For each GGML type, writes tests/fixtures/dequant/{TYPE}.bin (raw block bytes,
exactly as they sit in a GGUF file) and {TYPE}.npy (float32 values produced
by gguf-py's `gguf.quants.dequantize`, the independent reference).

* Types gguf-py can quantise (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0):
  a seeded random array (normal, plus a few edge values) is quantised.
* K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), which gguf-py can only
  dequantise: random block bytes whose f16 scale fields (d, dmin) are
  overwritten with finite values, so the expected output is finite.
* Where a type occurs in one of the real model files, two real blocks are
  appended (the first two blocks of the first tensor of that type).

Usage (needs `pip install gguf==0.19.0 numpy`):
    python scripts/make_dequant_fixtures.py [--models-dir models] [--out tests/fixtures/dequant]
"""

import argparse
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFReader
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

SEED = 20261123
N_SYNTH_BLOCKS = 6

QUANTISABLE = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
# Byte offsets of the f16 scale fields inside one block (see ggml-common.h).
K_SCALE_OFFSETS = {
    T.Q2_K: [80, 82],   # scales[16], qs[64], d, dmin
    T.Q3_K: [108],      # hmask[32], qs[64], scales[12], d
    T.Q4_K: [0, 2],     # d, dmin, scales[12], qs[128]
    T.Q5_K: [0, 2],     # d, dmin, scales[12], qh[32], qs[128]
    T.Q6_K: [208],      # ql[128], qh[64], scales[16], d
}
MODEL_FILES = [
    "smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3-270m/gemma-3-270m-q4_k_m.gguf",
]
# For plain types one "block" is one element, so take more of them.
REAL_ELEMS_PLAIN = 64


def synthetic(qtype, rng):
    block, size = GGML_QUANT_SIZES[qtype]
    if qtype in QUANTISABLE:
        n = N_SYNTH_BLOCKS * max(block, 32)
        x = rng.standard_normal(n).astype(np.float32) * 2.0
        x[:8] = [0.0, -0.0, 1e-8, -1e-8, 65504.0, -3.0e4, 1.0e-5, 0.5]
        if qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
            x[32:64] = 0.0  # an all-zero block (d == 0)
            x[64:96] = 7.25  # a constant block (min == max)
        if qtype == T.F32:
            x[8:12] = [np.inf, -np.inf, np.nan, 1.0e-40]
        if qtype == T.F16:
            x[8:12] = [np.inf, -np.inf, np.nan, 6.0e-8]
        if qtype == T.BF16:
            x[8:12] = [np.inf, -np.inf, np.nan, 1.0e-40]
        raw = quantize(x, qtype)
        return np.ascontiguousarray(raw).view(np.uint8).reshape(-1)
    raw = rng.integers(0, 256, size=(N_SYNTH_BLOCKS, size), dtype=np.uint8)
    for off in K_SCALE_OFFSETS[qtype]:
        scales = (rng.uniform(-1.0, 1.0, N_SYNTH_BLOCKS) * 0.05).astype(np.float16)
        raw[:, off:off + 2] = scales.view(np.uint8).reshape(-1, 2)
    return raw.reshape(-1)


def real_blocks(models_dir):
    """{qtype: raw bytes of two blocks} from the first tensor of each type."""
    found = {}
    for rel in MODEL_FILES:
        path = os.path.join(models_dir, rel)
        if not os.path.exists(path):
            print(f"note: {path} not found; no real blocks from it", file=sys.stderr)
            continue
        reader = GGUFReader(path)
        for t in reader.tensors:
            qtype = T(t.tensor_type)
            if qtype in found:
                continue
            block, size = GGML_QUANT_SIZES[qtype]
            nbytes = (REAL_ELEMS_PLAIN * size) if block == 1 else 2 * size
            raw = np.asarray(t.data).view(np.uint8).reshape(-1)[:nbytes]
            found[qtype] = (raw.copy(), f"{os.path.basename(path)}:{t.name}")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--out", default="tests/fixtures/dequant")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    real = real_blocks(args.models_dir)
    types = QUANTISABLE + list(K_SCALE_OFFSETS)
    for qtype in types:
        raw = synthetic(qtype, rng)
        note = ""
        if qtype in real:
            extra, src = real[qtype]
            raw = np.concatenate([raw, extra])
            note = f" + real blocks from {src}"
        block, size = GGML_QUANT_SIZES[qtype]
        assert raw.size % size == 0
        expected = dequantize(raw, qtype).astype(np.float32, copy=False).reshape(-1)
        assert expected.size == raw.size // size * block
        name = qtype.name
        raw.tofile(os.path.join(args.out, f"{name}.bin"))
        np.save(os.path.join(args.out, f"{name}.npy"), expected)
        n_nonfinite = int((~np.isfinite(expected)).sum())
        print(f"{name:5} {raw.size // size:4} blocks, {expected.size:5} values, "
              f"{n_nonfinite} non-finite{note}")


if __name__ == "__main__":
    main()
