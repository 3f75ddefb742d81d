"""A plain-PyTorch SAE training step, the GPU peer of benches/sae.rs where SAELens is not
installed (the GPU machine has torch but no SAELens and no network).

It is the least any PyTorch SAE library does per step, so it bounds SAELens from above:
encoder matmul, activation (TopK: top-k of the pre-activations; relu-l1: ReLU), decoder
matmul, loss (squared error summed over d_in, mean over rows; + l1 * sum|f| * ||W_dec row||
for relu-l1), backward, Adam (betas 0.9, 0.999). No AuxK loss, no gradient clipping, no
decoder-norm projection: SAELens does those too, so it can only be slower.

Prints one JSON line per architecture:
  {"peer": "torch", "device", "arch", "d_in", "d_sae", "k", "batch", "steps", "seconds",
   "tokens_per_s"}

  python3 scripts/bench_sae_torch.py --d-in 576 --expansion 16 --k 32 --batch 4096 --steps 100
"""
import argparse
import json
import time

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d-in", type=int, default=576)
    ap.add_argument("--expansion", type=int, default=16)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup-steps", type=int, default=5)
    ap.add_argument("--archs", default="topk,relu-l1")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    dev = a.device
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    d, m = a.d_in, a.d_in * a.expansion
    g = torch.Generator(device="cpu").manual_seed(0)
    data = torch.randn(8 * a.batch, d, generator=g).to(dev)
    for arch in a.archs.split(","):
        w_enc = (torch.randn(d, m, generator=g) / d**0.5).to(dev).requires_grad_()
        w_dec = w_enc.detach().t().clone().requires_grad_()
        b_enc = torch.zeros(m, device=dev, requires_grad=True)
        b_dec = torch.zeros(d, device=dev, requires_grad=True)
        opt = torch.optim.Adam([w_enc, w_dec, b_enc, b_dec], lr=4e-4, betas=(0.9, 0.999))

        def step(i):
            x = data[(i * a.batch) % data.shape[0]:][: a.batch]
            pre = (x - b_dec) @ w_enc + b_enc
            if arch == "topk":
                v, idx = pre.topk(a.k, dim=1)
                f = torch.zeros_like(pre).scatter(1, idx, torch.relu(v))
            else:
                f = torch.relu(pre)
            x_hat = f @ w_dec + b_dec
            loss = (x_hat - x).pow(2).sum(1).mean()
            if arch != "topk":
                loss = loss + 5.0 * (f * w_dec.norm(dim=1)).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for i in range(a.warmup_steps):
            step(i)
        sync()
        t = time.perf_counter()
        for i in range(a.steps):
            step(i)
        sync()
        secs = time.perf_counter() - t
        print(json.dumps({"peer": "torch", "device": dev, "arch": arch, "d_in": d, "d_sae": m, "k": a.k,
                          "batch": a.batch, "steps": a.steps, "seconds": secs,
                          "tokens_per_s": a.steps * a.batch / secs}), flush=True)


if __name__ == "__main__":
    main()
