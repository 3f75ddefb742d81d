#!/usr/bin/env python3
"""Build three tiny random Hugging Face checkpoints (bf16 safetensors) plus float32 references.

Usage (from the repository root):
    .venv/bin/python scripts/make_tiny_checkpoints.py [--out tests/fixtures/tiny]
        [--kinds llama,gemma3,qwen2]

Writes {out}/llama/ (LlamaForCausalLM, one model.safetensors), {out}/gemma3/
(Gemma3ForCausalLM text-only, sharded: model-0000k-of-0000n.safetensors +
model.safetensors.index.json) and {out}/qwen2/ (Qwen2ForCausalLM, one
model.safetensors; random non-zero q/k/v biases, untied lm_head, and a config.json
shaped like the published Qwen2.5 ones: sliding_window 4 but use_sliding_window false
and no layer_types, so the right answer is full attention in every layer; the Qwen2.5
chat template in tokenizer_config.json). Each kind only rewrites its own directory and
draws from its own seed, so --kinds qwen2 leaves the others untouched.
Each directory holds what save_pretrained writes
(config.json, generation_config.json, safetensors), a tokenizer (tokenizer.json +
tokenizer_config.json; a byte-level BPE trained here over a tiny corpus, vocab <= 512),
and the reference outputs:

  reference.json        config summary, the id sequences, sanity facts
  {seq}.embed.npy       float32 [seq_len, d]             input of decoder layer 0
  {seq}.resid_post.npy  float32 [n_layers, seq_len, d]   output of model.model.layers[i]
  {seq}.final_norm.npy  float32 [seq_len, d]             output of model.model.norm
  {seq}.logits.npy      float32 [seq_len, vocab]         full logits

for seq in ("a", "b"): "a" has 12 ids, "b" has 9 ids (both longer than the Gemma
and Qwen2 sliding windows of 4). References are computed by reloading the saved bf16 checkpoint
with dtype=float32 (so every weight is exactly its bf16 value widened to f32), eager
attention, no KV cache, on CPU.

Weights are NOT HF's default init (std 0.02, unit norms), which would make attention
nearly uniform and hide bugs: every matrix is N(0, 1/fan_in) (embeddings N(0, 1) for
llama, N(0, 1/d) for Gemma, whose embeddings are multiplied by sqrt(d)),
and every RMSNorm weight is perturbed (llama, qwen2: 1 + 0.2 N(0,1); Gemma stores the
offset, so 0.2 N(0,1) and the norm multiplies by 1 + w). Qwen2's q/k/v biases are
0.5 N(0,1) (o_proj has none).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED = 20261123
VOCAB = 512
KINDS = ("llama", "gemma3", "qwen2")
SEED_OFFSET = {"llama": 0, "gemma3": 1, "qwen2": 2}

# The Qwen2.5 chat template (ChatML; a default system prompt when the first message is not
# a system one; tool calls), exactly as the Qwen2.5-Coder-1.5B-Instruct GGUF carries it
# (tokenizer.chat_template; the 0.5B GGUF's copy differs only inside the tools branch,
# where it has {"name": ...} instead of the published {{"name": ...}}).
QWEN25_CHAT_TEMPLATE = '{%- if tools %}\n    {{- \'<|im_start|>system\\n\' }}\n    {%- if messages[0][\'role\'] == \'system\' %}\n        {{- messages[0][\'content\'] }}\n    {%- else %}\n        {{- \'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.\' }}\n    {%- endif %}\n    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}\n    {%- for tool in tools %}\n        {{- "\\n" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}}\\n</tool_call><|im_end|>\\n" }}\n{%- else %}\n    {%- if messages[0][\'role\'] == \'system\' %}\n        {{- \'<|im_start|>system\\n\' + messages[0][\'content\'] + \'<|im_end|>\\n\' }}\n    {%- else %}\n        {{- \'<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n\' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}\n        {{- \'<|im_start|>\' + message.role + \'\\n\' + message.content + \'<|im_end|>\' + \'\\n\' }}\n    {%- elif message.role == "assistant" %}\n        {{- \'<|im_start|>\' + message.role }}\n        {%- if message.content %}\n            {{- \'\\n\' + message.content }}\n        {%- endif %}\n        {%- for tool_call in message.tool_calls %}\n            {%- if tool_call.function is defined %}\n                {%- set tool_call = tool_call.function %}\n            {%- endif %}\n            {{- \'\\n<tool_call>\\n{"name": "\' }}\n            {{- tool_call.name }}\n            {{- \'", "arguments": \' }}\n            {{- tool_call.arguments | tojson }}\n            {{- \'}\\n</tool_call>\' }}\n        {%- endfor %}\n        {{- \'<|im_end|>\\n\' }}\n    {%- elif message.role == "tool" %}\n        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n            {{- \'<|im_start|>user\' }}\n        {%- endif %}\n        {{- \'\\n<tool_response>\\n\' }}\n        {{- message.content }}\n        {{- \'\\n</tool_response>\' }}\n        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n            {{- \'<|im_end|>\\n\' }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- \'<|im_start|>assistant\\n\' }}\n{%- endif %}\n'

CHAT_SAMPLES = [
    [{"role": "user", "content": "Hello world!"}],
    [
        {"role": "system", "content": "You are a tiny model."},
        {"role": "user", "content": "def add(a, b):"},
        {"role": "assistant", "content": "    return a + b"},
        {"role": "user", "content": "Thanks."},
    ],
]

SEQS = {
    "a": [2, 17, 300, 45, 45, 511, 0, 128, 64, 9, 250, 3],
    "b": [2, 400, 401, 402, 7, 7, 7, 99, 510],
}

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! This is a tiny tokenizer for tests.",
    "def add(a, b):\n    return a + b\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 2026.",
    "mindlens hosts transformer language models with hook points.",
    "Residual streams, attention heads, and MLP neurons.",
    "She sells sea shells by the sea shore.",
    "A tiny vocabulary keeps the fixture small.",
]


def build_tokenizer(kind: str):
    """Byte-level BPE (GPT-2 style) trained on CORPUS; vocab <= VOCAB."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "llama":
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        bos, eos, unk, pad = "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_end|>"
    elif kind == "qwen2":
        # As Qwen2.5's tokenizer_config.json: no bos or unk token, eos <|im_end|>, pad
        # <|endoftext|>; nothing is added to the ids.
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        bos, eos, unk, pad = None, "<|im_end|>", None, "<|endoftext|>"
    else:
        specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
        bos, eos, unk, pad = "<bos>", "<eos>", "<unk>", "<pad>"
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(CORPUS * 4, trainer=trainer)
    if kind == "gemma3":
        # Gemma-style: the default special-token rule prepends <bos>.
        tk.post_processor = processors.TemplateProcessing(
            single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", tk.token_to_id("<bos>"))]
        )
    else:
        tk.post_processor = processors.ByteLevel(trim_offsets=False)
    assert tk.get_vocab_size() <= VOCAB
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token=bos, eos_token=eos, unk_token=unk, pad_token=pad
    )
    if kind == "qwen2":
        tok.chat_template = QWEN25_CHAT_TEMPLATE
    return tok


def make_config(kind: str, tok):
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen2Config

    if kind == "qwen2":
        return Qwen2Config(
            vocab_size=VOCAB,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            tie_word_embeddings=False,
            # Written to config.json by qwen2_published_config(): a window shorter than the
            # sequences that must NOT be applied (use_sliding_window false, as in Qwen2.5).
            use_sliding_window=False,
            sliding_window=4,
            max_window_layers=1,
            bos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )

    if kind == "llama":
        return LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            rms_norm_eps=1e-5,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            tie_word_embeddings=True,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
    return Gemma3TextConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        # Deliberately != head_dim (real 270m: 256 == head_dim) so a loader that scales
        # by 1/sqrt(head_dim) instead of 1/sqrt(query_pre_attn_scalar) fails.
        query_pre_attn_scalar=48,
        sliding_window=4,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"],
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
        },
        max_position_embeddings=128,
        rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh",
        final_logit_softcapping=None,  # as google/gemma-3-270m's config
        attn_logit_softcapping=None,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )


def randomise(model, kind: str, gen: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2:
                if "embed_tokens" in name:
                    # Gemma multiplies embeddings by sqrt(d): keep the scaled rows ~unit RMS.
                    std = 1.0 / math.sqrt(p.shape[1]) if kind == "gemma3" else 1.0
                    p.copy_(std * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
            elif "norm" in name:
                noise = 0.2 * torch.randn(p.shape, generator=gen)
                p.copy_(noise if kind == "gemma3" else 1.0 + noise)
            elif kind == "qwen2" and name.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                raise RuntimeError(f"unexpected parameter {name} {tuple(p.shape)}")


def capture_forward(model, ids):
    layers = model.model.layers
    store = {"resid": {}}
    hs = []

    def pre0(_m, args, kwargs):
        store["embed"] = (args[0] if args else kwargs["hidden_states"]).detach().clone()

    hs.append(layers[0].register_forward_pre_hook(pre0, with_kwargs=True))
    for i, layer in enumerate(layers):
        def post(_m, _i, out, i=i):
            store["resid"][i] = (out[0] if isinstance(out, tuple) else out).detach().clone()

        hs.append(layer.register_forward_hook(post))

    def norm_hook(_m, _i, out):
        store["final_norm"] = out.detach().clone()

    hs.append(model.model.norm.register_forward_hook(norm_hook))
    try:
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    finally:
        for h in hs:
            h.remove()
    resid = torch.stack([store["resid"][i][0] for i in range(len(layers))])
    return store["embed"][0], resid, store["final_norm"][0], logits


def qwen2_published_config(path: Path, cfg) -> None:
    """Rewrite config.json the way the published Qwen2.5 checkpoints have it.

    transformers drops sliding_window (null) when use_sliding_window is false and writes
    the derived layer_types; the hub's Qwen2.5 config.json files carry sliding_window
    (32768/131072) next to use_sliding_window: false and max_window_layers, and no
    layer_types. A loader has to derive full attention from use_sliding_window.
    """
    c = json.loads(path.read_text(encoding="utf-8"))
    assert c["use_sliding_window"] is False and c["sliding_window"] is None, c
    assert c["layer_types"] == ["full_attention"] * cfg.num_hidden_layers, c["layer_types"]
    del c["layer_types"]
    c["sliding_window"] = 4
    path.write_text(json.dumps(c, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build(kind: str, out_root: Path) -> dict:
    from transformers import AutoModelForCausalLM, Gemma3ForCausalLM, LlamaForCausalLM, Qwen2ForCausalLM

    t0 = time.time()
    out = out_root / kind
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    tok = build_tokenizer(kind)
    cfg = make_config(kind, tok)
    gen = torch.Generator().manual_seed(SEED + SEED_OFFSET[kind])
    torch.manual_seed(SEED)
    cls = {"llama": LlamaForCausalLM, "gemma3": Gemma3ForCausalLM, "qwen2": Qwen2ForCausalLM}[kind]
    model = cls(cfg)
    randomise(model, kind, gen)
    model = model.to(torch.bfloat16)
    shard = "100KB" if kind == "gemma3" else "50GB"
    model.save_pretrained(out, max_shard_size=shard)
    if kind == "qwen2":
        qwen2_published_config(out / "config.json", cfg)
        # The chat template goes into tokenizer_config.json (as in the published Qwen2.5
        # checkpoints), not into a separate chat_template.jinja.
        tok.save_pretrained(out, save_jinja_files=False)
    else:
        tok.save_pretrained(out)
    for f in out.glob("*.safetensors"):
        f.chmod(0o644)  # safetensors writes 0600

    # Reload from disk in float32: weights are exactly the bf16 values widened.
    ref = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
    ref.eval()
    assert type(ref) is cls, type(ref)
    sd_bf16 = model.state_dict()
    for k, v in ref.state_dict().items():
        if k in sd_bf16:
            assert torch.equal(v, sd_bf16[k].float()), k
    if kind == "qwen2":
        rc = ref.config
        assert rc.sliding_window is None and not rc.use_sliding_window, rc
        assert rc.layer_types == ["full_attention"] * rc.num_hidden_layers, rc.layer_types
        assert not rc.tie_word_embeddings
        assert not torch.equal(ref.lm_head.weight, ref.model.embed_tokens.weight)
        for layer in ref.model.layers:
            a = layer.self_attn
            assert a.o_proj.bias is None
            for proj in (a.q_proj, a.k_proj, a.v_proj):
                assert proj.bias is not None and bool((proj.bias != 0).all())

    facts = {}
    with torch.no_grad():
        for seq, ids in SEQS.items():
            assert max(ids) < VOCAB
            embed, resid, fnorm, logits = capture_forward(ref, ids)
            assert torch.allclose(ref.model.norm(resid[-1]), fnorm, atol=1e-5)
            np.save(out / f"{seq}.embed.npy", embed.float().numpy())
            np.save(out / f"{seq}.resid_post.npy", resid.float().numpy())
            np.save(out / f"{seq}.final_norm.npy", fnorm.float().numpy())
            np.save(out / f"{seq}.logits.npy", logits.float().numpy())
            if kind == "gemma3":
                # Prove the sliding window bites: same weights, same per-layer RoPE, but a
                # window longer than the sequence. Layer 0 (sliding) must agree before
                # position sliding_window and differ from it on.
                wide_cfg = ref.config.to_dict()
                wide_cfg["sliding_window"] = 10_000
                wide = Gemma3ForCausalLM(ref.config.__class__(**wide_cfg))
                wide.load_state_dict(ref.state_dict(), strict=False)
                wide.eval()
                wide.config._attn_implementation = "eager"
                _, r_wide, _, l_wide = capture_forward(wide, ids)
                w = cfg.sliding_window
                d_before = float((r_wide[0, :w] - resid[0, :w]).abs().max())
                d_after = float((r_wide[0, w:] - resid[0, w:]).abs().max())
                assert d_before < 1e-5 and d_after > 1e-2, (d_before, d_after)
                facts[f"{seq}.layer0_maxdiff_vs_no_window_pos_lt_window"] = d_before
                facts[f"{seq}.layer0_maxdiff_vs_no_window_pos_ge_window"] = d_after
                facts[f"{seq}.logits_maxdiff_vs_no_window"] = float((l_wide - logits).abs().max())
            if kind == "qwen2":
                # Prove that applying the (disabled) window would be caught: the same weights
                # with use_sliding_window true make layers >= max_window_layers sliding.
                win_cfg = ref.config.to_dict()
                win_cfg.update(use_sliding_window=True, sliding_window=4, layer_types=None)
                win = Qwen2ForCausalLM(ref.config.__class__(**win_cfg))
                win.load_state_dict(ref.state_dict())
                win.eval()
                win.config._attn_implementation = "eager"
                assert win.config.layer_types[1] == "sliding_attention", win.config.layer_types
                _, r_win, _, l_win = capture_forward(win, ids)
                w = 4
                d_before = float((r_win[1, :w] - resid[1, :w]).abs().max())
                d_after = float((r_win[1, w:] - resid[1, w:]).abs().max())
                assert d_before < 1e-5 and d_after > 1e-2, (d_before, d_after)
                facts[f"{seq}.layer1_maxdiff_if_window_applied_pos_lt_4"] = d_before
                facts[f"{seq}.layer1_maxdiff_if_window_applied_pos_ge_4"] = d_after
                facts[f"{seq}.logits_maxdiff_if_window_applied"] = float((l_win - logits).abs().max())

    c = ref.config
    summary = {
        "model_class": type(ref).__name__,
        "model_type": c.model_type,
        "n_layers": c.num_hidden_layers,
        "d_model": c.hidden_size,
        "d_mlp": c.intermediate_size,
        "n_heads": c.num_attention_heads,
        "n_kv_heads": c.num_key_value_heads,
        "head_dim": getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads,
        "vocab": c.vocab_size,
        "tokenizer_vocab": len(tok),
        "rms_norm_eps": c.rms_norm_eps,
        "rope_parameters": c.rope_parameters,
        "tie_word_embeddings": c.tie_word_embeddings,
    }
    if kind == "gemma3":
        summary.update(
            {
                "sliding_window": c.sliding_window,
                "layer_types": c.layer_types,
                "query_pre_attn_scalar": c.query_pre_attn_scalar,
                "final_logit_softcapping": c.final_logit_softcapping,
                "attn_logit_softcapping": c.attn_logit_softcapping,
                "hidden_activation": c.hidden_activation,
                "embed_scale": float(torch.tensor(math.sqrt(c.hidden_size), dtype=torch.float32)),
                "norm_convention": "RMSNorm output = x_normed * (1 + w) (stored w is the offset)",
                "sliding_window_semantics": "query at position q attends keys k with q - sliding_window < k <= q",
            }
        )
    elif kind == "qwen2":
        written = json.loads((out / "config.json").read_text(encoding="utf-8"))
        summary.update(
            {
                "hidden_act": c.hidden_act,
                "norm_convention": "RMSNorm output = x_normed * w",
                "attn_bias": {"q_proj": True, "k_proj": True, "v_proj": True, "o_proj": False},
                "config_json_sliding_window": written["sliding_window"],
                "config_json_use_sliding_window": written["use_sliding_window"],
                "config_json_max_window_layers": written["max_window_layers"],
                "config_json_has_layer_types": "layer_types" in written,
                "sliding_window": c.sliding_window,
                "layer_types": c.layer_types,
                "sliding_window_semantics": "use_sliding_window is false: every layer uses full causal "
                "attention; sliding_window and max_window_layers are ignored (transformers sets "
                "sliding_window to None on load)",
            }
        )
    else:
        summary["hidden_act"] = c.hidden_act
        summary["norm_convention"] = "RMSNorm output = x_normed * w"

    samples = ["Hello world!", "def add(a, b):\n    return a + b\n", "The quick brown fox."]
    files = sorted(p.name for p in out.iterdir())
    reference = {
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "seed": SEED,
        "storage_dtype": "bfloat16",
        "reference_dtype": "float32 (bf16 weights widened exactly)",
        "attn_implementation": "eager",
        "sharded": kind == "gemma3",
        "config": summary,
        "seqs": {k: {"ids": v, "len": len(v), "files": [f"{k}.embed.npy", f"{k}.resid_post.npy",
                                                            f"{k}.final_norm.npy", f"{k}.logits.npy"]}
                 for k, v in SEQS.items()},
        "checks": facts,
        "tokenizer_samples": [
            {"text": s, "ids": tok(s).input_ids, "ids_no_special": tok(s, add_special_tokens=False).input_ids}
            for s in samples
        ],
        "checkpoint_files": files + ["reference.json"],
    }
    if kind == "qwen2":
        # The chat template from tokenizer_config.json, rendered by transformers from the
        # saved directory.
        from transformers import AutoTokenizer

        disk_tok = AutoTokenizer.from_pretrained(out)
        assert disk_tok.chat_template == QWEN25_CHAT_TEMPLATE
        assert json.loads((out / "tokenizer_config.json").read_text())["chat_template"] == QWEN25_CHAT_TEMPLATE
        reference["chat_samples"] = []
        for messages in CHAT_SAMPLES:
            rendered = disk_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            reference["chat_samples"].append(
                {
                    "messages": messages,
                    "add_generation_prompt": True,
                    "rendered": rendered,
                    "ids": disk_tok(rendered, add_special_tokens=False).input_ids,
                }
            )
    with open(out / "reference.json", "w", encoding="utf-8") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"  [{kind}] {out}: {len(files) + 1} files, {size / 1e3:.0f} kB, {time.time() - t0:.1f}s; checks {facts}")
    return reference


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "tests/fixtures/tiny"))
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    args = ap.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        ap.error(f"unknown kinds {unknown} (known: {', '.join(KINDS)})")
    torch.set_num_threads(2)
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        build(kind, out_root)


if __name__ == "__main__":
    main()
