"""Peers for benches/harvest.rs: harvest the same prompts (all 30 resid_post layers, `last` or
`all` positions) with Hugging Face transformers (output_hidden_states) and, when installed,
nnsight, on the same CPU with the same thread count. Prompts come from the JSONL the bench
writes. Prints one JSON object per run. `BENCH_DEVICE=cuda` runs Hugging Face on the GPU
(activations still copied to host memory, as a harvest must).

    .venv/bin/python scripts/bench_harvest.py DATA.jsonl {last|all} [hf|nnsight]
"""
import json, os, resource, sys, time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

data, positions = sys.argv[1], sys.argv[2]
which = sys.argv[3] if len(sys.argv) > 3 else "hf"
threads = int(os.environ.get("BENCH_THREADS", "2"))
device = os.environ.get("BENCH_DEVICE", "cpu")
torch.set_num_threads(threads)
models = os.environ.get("MINDLENS_MODELS", os.path.join(os.path.dirname(__file__), "..", "models"))
d, f = os.path.join(models, "smollm2-135m-instruct"), "SmolLM2-135M-Instruct.Q4_1.gguf"
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
tok.padding_side = "left"
tok.pad_token = tok.eos_token
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval().to(device)
texts = [json.loads(l)["text"] for l in open(data) if l.strip()]
batch = 16
t = time.perf_counter()
n_tokens, kept = 0, 0
if which == "hf":
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], return_tensors="pt", padding=True).to(device)
        with torch.no_grad():
            out = model(**enc, output_hidden_states=True, logits_to_keep=1)
        mask = enc["attention_mask"].bool()
        n_tokens += int(mask.sum())
        for h in out.hidden_states[1:]:
            a = h[:, -1].cpu().numpy() if positions == "last" else h[mask].cpu().numpy()
            kept += a.shape[0]
else:
    from nnsight import LanguageModel
    lm = LanguageModel(model, tokenizer=tok)
    for i in range(0, len(texts), batch):
        chunk = texts[i:i + batch]
        saved = []
        with lm.trace(chunk):
            for layer in lm.model.layers:
                saved.append(layer.output.save())
        enc = tok(chunk, return_tensors="pt", padding=True)
        mask = enc["attention_mask"].bool()
        n_tokens += int(mask.sum())
        for s in saved:
            h = s[0] if isinstance(s, tuple) else s
            a = h[:, -1].detach().numpy() if positions == "last" else h[mask].detach().numpy()
            kept += a.shape[0]
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"bench": f"harvest_{positions}", "impl": "transformers" if which == "hf" else "nnsight", "device": device,
                  "prompts": len(texts), "tokens": n_tokens, "seconds": secs, "tokens_per_s": n_tokens / secs,
                  "peak_rss_mib": peak}))
