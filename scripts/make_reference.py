#!/usr/bin/env python3
"""Write Hugging Face transformers (CPU, float32) reference activations for mindlens.

Usage (from the repository root):
    .venv/bin/python scripts/make_reference.py \
        [--models smollm2-135m-instruct,gemma3-270m,qwen2.5-coder-0.5b-instruct]
        [--out tests/fixtures/reference]

The default --models are the committed ones; qwen2.5-coder-1.5b-instruct only by name,
and its arrays (~13 MB) are too large to commit: write them elsewhere, e.g.
--models qwen2.5-coder-1.5b-instruct --out models/reference (git-ignored).

For every model it loads the GGUF with transformers (which dequantises every tensor to
float32, undoes llama.cpp's Q/K RoPE permutation for llama, and subtracts the +1 that
llama.cpp folds into Gemma's RMSNorm weights; qwen2 needs neither), runs four short
prompts and writes to {out}/{model}/:

  meta.json                   model/config facts, prompts, ids, greedy continuations
  steer.npy                   float32 [d]   unit steering vector v
  {p}.embed.npy               float32 [seq, d]   input of decoder layer 0
                              (Gemma 3: embedding * sqrt(d), as HF does)
  {p}.resid_post.npy          float32 [n_layers, seq, d]  output of model.model.layers[i]
  {p}.final_norm.npy          float32 [seq, d]   output of model.model.norm
  {p}.logits_topk_ids.npy     int64   [seq, 64]  top-64 logit ids per position (desc.)
  {p}.logits_topk_vals.npy    float32 [seq, 64]  their logits
  {p}.logits_last.npy         float32 [vocab]    full logits at the last position

All activations are captured with forward hooks on one full forward pass over the
prompt (no KV cache, no output_hidden_states). "greedy" in meta.json is 20 tokens from
a manual argmax loop with KV cache (no EOS stop); "steered_greedy" is the same loop
with C * v added to the output of model.model.layers[L] at every position (prompt and
generated), see meta.json "steer".
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import reference_common as rc

TOPK = 64
N_GREEDY = 20

# Steering: layer index L (0-based, hook on the OUTPUT of model.model.layers[L]) and
# coefficient C (the added vector is C * v with |v| = 1). Median residual norms at L
# (positions > 0) are ~150 for SmolLM2 (C = 0.34x) and ~3700 for Gemma 3 (C = 0.054x;
# Gemma's norm is dominated by a few huge outlier dimensions). Both values change the
# greedy continuation of all four prompts while keeping every top1-top2 logit margin of
# the 20 greedy steps >= 0.02 (see meta.json "*_margins"). Qwen2.5-Coder: median norms
# ~20 at L=12 of the 0.5B (C = 0.6x) and ~40 at L=10 of the 1.5B (C = 0.6x); both change
# all four of their prompts with every margin >= 0.03.
STEER = {
    "smollm2-135m-instruct": {"layer": 10, "coef": 50.0},
    "gemma3-270m": {"layer": 6, "coef": 200.0},
    "qwen2.5-coder-0.5b-instruct": {"layer": 12, "coef": 12.0},
    "qwen2.5-coder-1.5b-instruct": {"layer": 10, "coef": 25.0},
}
STEER_SEED = 1234

PROMPTS = {
    "plain": {"kind": "text", "text": "The old lighthouse keeper climbed the stairs every evening to light the lamp."},
    "question": {"kind": "text", "text": "Question: What is the capital city of France?\nAnswer:"},
    "chat": {"kind": "chat", "messages": [{"role": "user", "content": "Name three primary colors."}]},
    "code": {"kind": "text", "text": "def add(a, b):\n    return a + b\n\nprint(add(2, 40))\n"},
}

# Qwen2.5 (vocab 151936, so logits_last alone is 0.6 MB a prompt; the 0.5B's resid_post is
# 86 kB a token): a shorter set to keep the committed fixtures near the other models' size.
# The chat prompt has its own system message (without one, Qwen's template inserts a
# 19-token default system prompt); "short" is a 5-token prompt for batches of unequal length.
QWEN_PROMPTS = {
    "plain": {"kind": "text", "text": "The lighthouse keeper lit the lamp."},
    "chat": {
        "kind": "chat",
        "messages": [
            {"role": "system", "content": "Be concise."},
            {"role": "user", "content": "Name three primary colors."},
        ],
    },
    "code": PROMPTS["code"],
    "short": {"kind": "text", "text": "Once upon a time,"},
}
# The 1.5B (fixtures not committed) has near ties (top1 - top2 < 0.01) in the greedy
# continuations of the chat and code prompts above; these two variants have none.
QWEN15_PROMPTS = dict(
    QWEN_PROMPTS,
    chat={
        "kind": "chat",
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Name three primary colors."},
        ],
    },
    code={"kind": "text", "text": "def add(a, b):\n    return a + b\n"},
)
PROMPTS_FOR = {
    "qwen2.5-coder-0.5b-instruct": QWEN_PROMPTS,
    "qwen2.5-coder-1.5b-instruct": QWEN15_PROMPTS,
}


def prompts_for(name: str) -> dict:
    return PROMPTS_FOR.get(name, PROMPTS)


def steer_vector(d: int) -> np.ndarray:
    rng = np.random.default_rng(STEER_SEED)
    v = rng.standard_normal(d)
    v = v / np.linalg.norm(v)
    return v.astype(np.float32)


def layer_out(output):
    return output[0] if isinstance(output, tuple) else output


class Capture:
    """Forward hooks: embed (pre-hook on layer 0), resid_post (every layer), final norm."""

    def __init__(self, model):
        self.model = model
        self.handles = []
        self.embed = None
        self.resid = {}
        self.final_norm = None

    def __enter__(self):
        layers = self.model.model.layers

        def pre0(_mod, args, kwargs):
            hs = args[0] if args else kwargs["hidden_states"]
            self.embed = hs.detach().clone()

        self.handles.append(layers[0].register_forward_pre_hook(pre0, with_kwargs=True))
        for i, layer in enumerate(layers):
            def post(_mod, _inp, out, i=i):
                self.resid[i] = layer_out(out).detach().clone()

            self.handles.append(layer.register_forward_hook(post))

        def norm_hook(_mod, _inp, out):
            self.final_norm = out.detach().clone()

        self.handles.append(self.model.model.norm.register_forward_hook(norm_hook))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


class Steer:
    def __init__(self, model, layer: int, vec):
        self.layer = model.model.layers[layer]
        self.vec = vec
        self.handle = None

    def __enter__(self):
        def hook(_mod, _inp, out):
            if isinstance(out, tuple):
                return (out[0] + self.vec,) + tuple(out[1:])
            return out + self.vec

        self.handle = self.layer.register_forward_hook(hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def greedy(model, ids: list[int], n: int = N_GREEDY):
    """Manual argmax loop with KV cache; exactly n tokens, no EOS stop.

    Returns (tokens, margins) where margin = top1 - top2 logit at each step.
    """
    import torch

    out, margins = [], []
    res = model(input_ids=torch.tensor([ids]), use_cache=True)
    past = res.past_key_values
    for step in range(n):
        logits = res.logits[0, -1]
        top2 = torch.topk(logits, 2).values
        tok = int(torch.argmax(logits))
        out.append(tok)
        margins.append(round(float(top2[0] - top2[1]), 5))
        if step == n - 1:
            break
        res = model(input_ids=torch.tensor([[tok]]), past_key_values=past, use_cache=True)
        past = res.past_key_values
    return out, margins


def config_summary(cfg) -> dict:
    keys = [
        "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
        "vocab_size", "max_position_embeddings", "tie_word_embeddings", "hidden_act",
        "hidden_activation", "rope_parameters", "rope_theta", "rope_local_base_freq",
        "sliding_window", "layer_types", "query_pre_attn_scalar",
        "final_logit_softcapping", "attn_logit_softcapping", "bos_token_id",
        "eos_token_id", "pad_token_id",
    ]
    if cfg.model_type == "qwen2":
        keys += ["use_sliding_window", "max_window_layers"]
    out = {}
    for k in keys:
        if hasattr(cfg, k):
            v = getattr(cfg, k)
            if k == "head_dim" and v is None:
                continue
            out[k] = v
    if "head_dim" not in out:
        out["head_dim"] = cfg.hidden_size // cfg.num_attention_heads
    return out


def sanity_checks(name: str, model, cfg) -> dict:
    """Checks that the GGUF load gave what an independent implementation would do."""
    import math

    import torch

    notes = {}
    emb = model.model.embed_tokens
    ids = torch.tensor([[5, 17, 1000]])
    with torch.no_grad():
        e = emb(ids)[0]
        raw = emb.weight[ids[0]]
    if hasattr(emb, "embed_scale"):
        scale = float(emb.embed_scale.to(emb.weight.dtype))
        expect = float(torch.tensor(math.sqrt(cfg.hidden_size), dtype=torch.float32))
        assert abs(scale - expect) < 1e-6, (scale, expect)
        assert torch.allclose(e, raw * scale), "embed_scale not applied as expected"
        notes["embed_scale"] = scale
    else:
        assert torch.equal(e, raw)
        notes["embed_scale"] = 1.0
    # tied lm_head
    notes["lm_head_tied_to_embed"] = bool(
        model.lm_head.weight.data_ptr() == emb.weight.data_ptr() or torch.equal(model.lm_head.weight, emb.weight)
    )
    # RoPE inverse frequencies
    rot = model.model.rotary_emb
    hd = config_summary(cfg)["head_dim"]
    found = {}
    for bname, buf in rot.named_buffers():
        if "inv_freq" in bname and "original" not in bname:
            found[bname] = buf
    for bname, buf in found.items():
        theta = 1.0 / float(buf[1]) ** (hd / 2.0)
        found[bname] = round(theta, 3)
    notes["rope_theta_from_inv_freq"] = found
    if cfg.model_type == "qwen2":
        # Qwen2: biases on q/k/v (not o); the GGUF has its own output.weight (untied).
        attn = model.model.layers[0].self_attn
        notes["attn_bias"] = {
            p: getattr(attn, p).bias is not None for p in ("q_proj", "k_proj", "v_proj", "o_proj")
        }
        notes["layer0_bias_max_abs"] = {
            p: round(float(getattr(attn, p).bias.abs().max()), 4) for p in ("q_proj", "k_proj", "v_proj")
        }
    return notes


def run_model(name: str, out_root: Path) -> dict:
    import torch
    import transformers

    t_start = time.time()
    d, gguf = rc.model_path(name)
    out = out_root / name
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.npy"):
        old.unlink()

    tok = rc.load_tokenizer(name)
    model = rc.load_model(name)
    cfg = model.config
    t_loaded = time.time()
    n_layers = cfg.num_hidden_layers
    dm = cfg.hidden_size
    vocab = cfg.vocab_size
    layers = model.model.layers
    assert len(layers) == n_layers

    checks = sanity_checks(name, model, cfg)

    steer_cfg = STEER[name]
    v = steer_vector(dm)
    np.save(out / "steer.npy", v)
    steer_add = torch.from_numpy(v) * torch.tensor(steer_cfg["coef"], dtype=torch.float32)

    prompts_meta = []
    norms_all = []  # per prompt: [n_layers, seq]
    changed = 0
    prompts = prompts_for(name)
    for pname, spec in prompts.items():
        entry = {"name": pname, "kind": spec["kind"]}
        if spec["kind"] == "text":
            entry["text"] = spec["text"]
            ids = tok(spec["text"]).input_ids
        else:
            entry["messages"] = spec["messages"]
            rendered = rc.render_chat(name, tok, spec["messages"], add_generation_prompt=True)
            entry["rendered"] = rendered
            ids = tok(rendered, add_special_tokens=False).input_ids
        entry["ids"] = list(map(int, ids))
        entry["tokens"] = tok.convert_ids_to_tokens(ids)
        seq = len(ids)

        with torch.no_grad():
            with Capture(model) as cap:
                res = model(input_ids=torch.tensor([ids]), use_cache=False)
            logits = res.logits[0].float()
            embed = cap.embed[0].float().numpy()
            resid = np.stack([cap.resid[i][0].float().numpy() for i in range(n_layers)])
            fnorm = cap.final_norm[0].float().numpy()
            assert embed.shape == (seq, dm) and resid.shape == (n_layers, seq, dm)
            # final norm of the last layer output, and logits = final_norm @ W_U^T (tied)
            direct = model.model.norm(cap.resid[n_layers - 1])[0]
            assert torch.allclose(direct, cap.final_norm[0], atol=1e-5)
            top = torch.topk(logits, TOPK, dim=-1, sorted=True)
            np.save(out / f"{pname}.embed.npy", embed.astype(np.float32))
            np.save(out / f"{pname}.resid_post.npy", resid.astype(np.float32))
            np.save(out / f"{pname}.final_norm.npy", fnorm.astype(np.float32))
            np.save(out / f"{pname}.logits_topk_ids.npy", top.indices.numpy().astype(np.int64))
            np.save(out / f"{pname}.logits_topk_vals.npy", top.values.numpy().astype(np.float32))
            np.save(out / f"{pname}.logits_last.npy", logits[-1].numpy().astype(np.float32))
            norms_all.append(np.linalg.norm(resid, axis=-1))

            g, gm = greedy(model, ids)
            with Steer(model, steer_cfg["layer"], steer_add):
                sg, sgm = greedy(model, ids)
            # Cross-check the KV-cache loop against one full no-cache pass.
            full = model(input_ids=torch.tensor([ids + g]), use_cache=False).logits[0]
            nocache = full[seq - 1 : seq - 1 + N_GREEDY].argmax(-1).tolist()
            entry["greedy_matches_nocache"] = nocache == g
        entry["greedy"] = g
        entry["greedy_margins"] = gm
        entry["greedy_text"] = tok.decode(g)
        entry["steered_greedy"] = sg
        entry["steered_greedy_margins"] = sgm
        entry["steered_greedy_text"] = tok.decode(sg)
        entry["n_tokens"] = seq
        if sg != g:
            changed += 1
        prompts_meta.append(entry)
        print(f"  [{name}] {pname}: {seq} tokens")
        print(f"      greedy : {entry['greedy_text']!r}")
        print(f"      steered: {entry['steered_greedy_text']!r}")

    # residual norm statistics (positions > 0; position 0 is BOS / an attention sink)
    med_rest = [
        float(np.median(np.concatenate([n[i, 1:] for n in norms_all]))) for i in range(n_layers)
    ]
    pos0 = [float(np.median([n[i, 0] for n in norms_all])) for i in range(n_layers)]
    embed_med = float(
        np.median(np.concatenate([np.linalg.norm(np.load(out / f"{p}.embed.npy"), axis=-1)[1:] for p in prompts]))
    )

    probe = tok("hello").input_ids
    meta = {
        "model": name,
        "gguf_file": gguf,
        "gguf_sha256": rc.sha256_file(d / gguf),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "dtype": "float32",
        "attn_implementation": "eager",
        "model_class": type(model).__name__,
        "n_layers": n_layers,
        "d_model": dm,
        "vocab": vocab,
        "config": config_summary(cfg),
        "checks": checks,
        "tokenizer": {
            "class": type(tok).__name__,
            "bos_token": tok.bos_token,
            "bos_token_id": tok.bos_token_id,
            "eos_token": tok.eos_token,
            "eos_token_id": tok.eos_token_id,
            "adds_bos_by_default": bool(tok.bos_token_id is not None and probe[:1] == [tok.bos_token_id]),
            "chat_template_source": "gguf" if rc.chat_template_for(name, tok) is None
            else f"explicit ({rc.GEMMA3_TEMPLATE_FILE})",
        },
        "topk": TOPK,
        "n_greedy": N_GREEDY,
        "steer": {
            "layer": steer_cfg["layer"],
            "coef": steer_cfg["coef"],
            "vector": "steer.npy",
            "seed": STEER_SEED,
            "how": "v = numpy.random.default_rng(seed).standard_normal(d_model); v /= ||v||; float32. "
            "Forward hook on model.model.layers[layer] adds float32(coef) * v to the layer OUTPUT "
            "hidden state at every position (prompt and generated tokens).",
            "prompts_changed": changed,
        },
        "resid_norms": {
            "note": "L2 norm of resid_post per layer: median over positions > 0 of all prompts, and median of position 0",
            "embed_median_pos_gt0": embed_med,
            "median_pos_gt0": [round(x, 3) for x in med_rest],
            "median_pos0": [round(x, 3) for x in pos0],
        },
        "prompts": prompts_meta,
    }
    rc.write_json(out / "meta.json", meta)
    size = sum(f.stat().st_size for f in out.iterdir())
    t_end = time.time()
    print(
        f"  [{name}] wrote {out} ({size / 1e6:.2f} MB); steering L={steer_cfg['layer']} C={steer_cfg['coef']} "
        f"changed {changed}/{len(prompts)} prompts; resid median norm at L: {med_rest[steer_cfg['layer']]:.2f} "
        f"(pos0 {pos0[steer_cfg['layer']]:.2f}); load {t_loaded - t_start:.1f}s, total {t_end - t_start:.1f}s"
    )
    if changed < 2:
        print(f"  WARNING: steering changed only {changed} prompts for {name}; raise STEER coef")
    return {"model": name, "size": size, "changed": changed, "n_prompts": len(prompts), "seconds": t_end - t_start}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(rc.DEFAULT_MODELS), help=f"known: {', '.join(rc.MODELS)}")
    ap.add_argument("--out", default=str(rc.REPO / "tests/fixtures/reference"))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / rc.GEMMA3_TEMPLATE_FILE).write_text(rc.GEMMA3_CHAT_TEMPLATE, encoding="utf-8")

    t0 = time.time()
    summary = []
    with torch.no_grad():
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            print(f"== {name}")
            summary.append(run_model(name, out_root))
    print("== summary")
    for s in summary:
        print(f"  {s['model']}: {s['size'] / 1e6:.2f} MB, steering changed {s['changed']}/{s['n_prompts']}, {s['seconds']:.1f}s")
    print(f"  total {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
