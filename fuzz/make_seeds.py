#!/usr/bin/env python3
"""Write a small seed corpus for the gguf_reader fuzz target.

Each seed is a tiny but valid GGUF file written with gguf-py: metadata of every
value type, a byte-level (gpt2) or SentencePiece (llama) vocabulary of a few
tokens, and one small tensor of each dequantisable type.

Usage: python fuzz/make_seeds.py [fuzz/corpus/gguf_reader]   (needs gguf, numpy)
"""

import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import quantize

out = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/gguf_reader"
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)

QUANTISABLE = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
RAW_ONLY = [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]


def base(path, arch):
    w = GGUFWriter(path, arch)
    w.add_uint8("t.u8", 7)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 700)
    w.add_int16("t.i16", -700)
    w.add_uint32("t.u32", 70000)
    w.add_int32("t.i32", -70000)
    w.add_float32("t.f32", 0.5)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo")
    w.add_uint64("t.u64", 1 << 40)
    w.add_int64("t.i64", -(1 << 40))
    w.add_float64("t.f64", 0.25)
    w.add_array("t.arr", [1, 2, 3])
    w.add_array("t.strs", ["a", "b"])
    w.add_block_count(1)
    return w


def finish(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tensors(w, types):
    for qtype in types:
        block, size = GGML_QUANT_SIZES[qtype]
        n = max(block, 32)
        if qtype in QUANTISABLE:
            data = quantize(rng.standard_normal(n).astype(np.float32), qtype)
            w.add_tensor(f"w.{qtype.name}", data, raw_dtype=qtype)
        else:
            raw = rng.integers(0, 256, size=(1, size), dtype=np.uint8)
            w.add_tensor(f"w.{qtype.name}", raw, raw_shape=(1, size), raw_dtype=qtype)


# Plain metadata and tensors, split so each seed stays small.
for i, chunk in enumerate([QUANTISABLE[:4], QUANTISABLE[4:], RAW_ONLY[:2], RAW_ONLY[2:]]):
    w = base(os.path.join(out, f"tensors{i}.gguf"), "llama")
    tensors(w, chunk)
    finish(w)

# gpt2 (byte-level) vocabulary.
w = base(os.path.join(out, "tok_gpt2.gguf"), "llama")
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("smollm")
w.add_token_list(["<|endoftext|>", "<|im_start|>", "H", "e", "l", "o", "He", "ll", "Hell", "Hello", "Ġ", "w", "Ġw"])
w.add_token_types([3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
w.add_token_merges(["H e", "l l", "He ll", "Hell o", "Ġ w"])
w.add_bos_token_id(1)
w.add_eos_token_id(0)
w.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
finish(w)

# llama (SentencePiece) vocabulary with byte tokens.
w = base(os.path.join(out, "tok_spm.gguf"), "gemma3")
toks = ["<pad>", "<eos>", "<bos>", "<unk>", "\n\n", "  "] + [f"<0x{b:02X}>" for b in range(256)]
toks += ["▁", "H", "e", "l", "o", "He", "ll", "Hell", "Hello", "▁Hello"]
types = [3, 3, 3, 3, 4, 4] + [6] * 256 + [1] * 10
w.add_tokenizer_model("llama")
w.add_tokenizer_pre("default")
w.add_token_list(toks)
w.add_token_types(types)
w.add_token_scores([-float(i) for i in range(len(toks))])
w.add_bos_token_id(2)
w.add_eos_token_id(1)
w.add_add_bos_token(True)
w.add_add_space_prefix(False)
finish(w)

print(f"wrote seeds to {out}: {sorted(os.listdir(out))}")
