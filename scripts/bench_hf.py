"""Hugging Face transformers side of benches/run_core.sh: the same measurements as
benches/core.rs (SmolLM2-135M-Instruct GGUF loaded in float32, CPU, same thread count).
`BENCH_DEVICE=cuda` runs on the GPU (as `MINDLENS_BENCH_DEVICE=cuda` does for benches/core.rs).
Prints one JSON object per measurement."""
import json, os, sys, time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

threads = int(os.environ.get("BENCH_THREADS", "2"))
torch.set_num_threads(threads)
models = os.environ.get("MINDLENS_MODELS", os.path.join(os.path.dirname(__file__), "..", "models"))
d = os.path.join(models, "smollm2-135m-instruct")
f = "SmolLM2-135M-Instruct.Q4_1.gguf"
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
device = os.environ.get("BENCH_DEVICE", "cpu")
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval().to(device)
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
vocab = model.config.vocab_size
want = sys.argv[1:]

def emit(name, seconds, n, **extra):
    print(json.dumps({"bench": name, "impl": "transformers", "device": device, "threads": threads,
                      "seconds": seconds, "tokens_per_s": n / seconds, **extra}), flush=True)

if not want or "matmul" in want:
    # The roofline, as in benches/core.rs: the MLP's product at batch 16 x 128, as nn.Linear runs it.
    m, k, n = 2048, 576, 1536
    x, w = torch.randn(m, k, device=device), torch.randn(n, k, device=device)
    def run():
        sync()
        t = time.perf_counter()
        torch.nn.functional.linear(x, w)
        sync()
        return time.perf_counter() - t
    run()
    best = min(run() for _ in range(20))
    print(json.dumps({"bench": "matmul_2048x576x1536", "impl": "transformers", "device": device, "threads": threads,
                      "seconds": best, "gflops": 2 * m * k * n / best / 1e9}), flush=True)

if not want or "forward" in want:
    batch, seq = 16, 128
    ids = torch.tensor([[(b * 7919 + i * 104729) % (vocab - 1000) + 500 for i in range(seq)] for b in range(batch)], device=device)
    def run():
        t = time.perf_counter()
        with torch.no_grad():
            out = model(ids, output_hidden_states=True, logits_to_keep=1)
            hs = [h.cpu().numpy() for h in out.hidden_states]  # to host, as mindlens captures
        return time.perf_counter() - t
    run()
    best = min(run() for _ in range(3))
    c = model.config
    per_layer = c.hidden_size * c.head_dim * (2 * c.num_attention_heads + 2 * c.num_key_value_heads) \
        + 3 * c.hidden_size * c.intermediate_size
    emit("forward_16x128_all_resid_post", best, batch * seq,
         linear_gflops=2 * batch * seq * per_layer * c.num_hidden_layers / best / 1e9)

prompt = tok("Once upon a time, in a small village by the sea, there lived", return_tensors="pt").to(device)
steer = torch.tensor([__import__("math").sin(i * 0.37) * 0.1 for i in range(model.config.hidden_size)], device=device) * 4.0
for name, steered in [("greedy_64_tokens", False), ("greedy_64_tokens_steered", True)]:
    if want and not any(w in name for w in want):
        continue
    handle = None
    if steered:
        def hook(mod, inp, out):
            if isinstance(out, tuple):
                return (out[0] + steer,) + tuple(out[1:])
            return out + steer
        handle = model.model.layers[10].register_forward_hook(hook)
    def run():
        t = time.perf_counter()
        with torch.no_grad():
            out = model.generate(**prompt, max_new_tokens=64, min_new_tokens=64, do_sample=False)
        sync()
        assert out.shape[1] - prompt["input_ids"].shape[1] == 64
        return time.perf_counter() - t
    run()
    emit(name, min(run() for _ in range(3)), 64)
    if handle:
        handle.remove()
