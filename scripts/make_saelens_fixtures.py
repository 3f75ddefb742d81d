#!/usr/bin/env python3
"""Write small SAEs in SAELens' own on-disk layout, plus SAELens' outputs on fixed inputs.

Usage (from the repository root):
    .venv/bin/python scripts/make_saelens_fixtures.py [--out tests/fixtures/saelens] [--threads 2]

Writes, under OUT:

  inputs.npy                   float32 [32, 16]   seeded N(0, 1) * 2 activations
  {arch}/cfg.json              written by SAELens (save_model / save_inference_model)
  {arch}/sae_weights.safetensors
  {arch}/recon.npy             float32 [32, 16]   sae.decode(sae.encode(x))
  {arch}/recon.acts.npy        float32 [32, 48]   sae.encode(x)

for arch in standard, topk, jumprelu, batchtopk. Every SAE has d_in=16, d_sae=48 and random
(seeded, numpy) weights that are not SAELens' init: W_dec rows with norms drawn in [0.5, 2],
W_enc = 0.4 W_dec^T / ||row||^2 + 0.25 N(0, 1/d_in), b_enc ~ 0.3 N(0,1), b_dec ~ 0.5 N(0,1).

  standard/   StandardSAE (inference class), save_model.
  topk/       TopKTrainingSAE (k=6, rescale_acts_by_decoder_norm=True, its default), saved with
              save_model as SAETrainer writes a checkpoint: the config is the training config
              (architecture "topk" plus training-only keys) and W_dec keeps its non-unit norms,
              so a loader must apply the decoder-norm rescaling itself.
  jumprelu/   JumpReLUSAE (inference class), save_model. Per-latent thresholds > 0, each placed
              halfway across the widest gap between sorted pre-activations near a random
              45-75th percentile of that latent on the inputs (about 30% fire).
  batchtopk/  BatchTopKTrainingSAE (k=6, rescale_acts_by_decoder_norm=True) with its running
              topk_threshold set by hand, saved with save_inference_model: SAELens folds the
              decoder norms into W_enc/b_enc (W_dec rows become unit norm) and writes it as
              architecture "jumprelu" with threshold = topk_threshold for every latent.

The references are computed by reloading each directory with SAE.load_from_disk(dir,
device="cpu") in float32. The script also re-derives them in numpy (float64) from the saved
weights with the formulas it prints, and checks that no decision (topk cut, jumprelu threshold)
is closer than MARGIN to a tie, so an f32 re-implementation gets the same active sets.
Deterministic: numpy default_rng(SEED) draws everything, and the script re-executes itself with
PYTHONHASHSEED=0 (save_inference_model orders cfg.json keys through a set); re-running gives
byte-identical files on the same SAELens/torch versions and thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = 20260517
N, D_IN, D_SAE, K = 32, 16, 48, 6
X_SCALE = 2.0
MARGIN = 1e-3
METADATA = {"model_name": "mindlens-fixture", "hook_name": "blocks.0.hook_resid_post"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(REPO / "tests" / "fixtures" / "saelens"))
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    return p.parse_args()


def draw_weights(rng, np):
    """W_enc [d_in, d_sae], W_dec [d_sae, d_in] (row norms in [0.5, 2]), b_enc, b_dec."""
    w_dec = rng.standard_normal((D_SAE, D_IN))
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
    w_dec *= rng.uniform(0.5, 2.0, size=(D_SAE, 1))
    # loosely tied to the decoder (so reconstructions are not pure noise) plus independent noise
    w_enc = 0.4 * (w_dec / (w_dec ** 2).sum(1, keepdims=True)).T
    w_enc += 0.25 * rng.standard_normal((D_IN, D_SAE)) / np.sqrt(D_IN)
    b_enc = 0.3 * rng.standard_normal(D_SAE)
    b_dec = 0.5 * rng.standard_normal(D_IN)
    return {"W_enc": w_enc, "W_dec": w_dec, "b_enc": b_enc, "b_dec": b_dec}


def pre_acts(x, w):
    """(x - b_dec) @ W_enc + b_enc in float64 (apply_b_dec_to_input=True)."""
    return (x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]


def cut_near(sorted_vals, target, lo=0.05, window=3):
    """A cut halfway between two neighbours sorted_vals[i-1], sorted_vals[i] with i within
    `window` of `target`, above `lo`, at the widest gap (so no value lies close to it)."""
    n = len(sorted_vals)
    best = None
    for i in range(max(target - window, 1), min(target + window, n - 1) + 1):
        c = 0.5 * (sorted_vals[i - 1] + sorted_vals[i])
        gap = sorted_vals[i] - sorted_vals[i - 1]
        if c > lo and (best is None or gap > best[0]):
            best = (gap, c)
    if best is None:  # everything near the target is below lo: cut above the largest value
        return max(lo, float(sorted_vals[-1]) + 0.1)
    return float(best[1])


def main():
    args = parse_args()
    if os.environ.get("PYTHONHASHSEED") != "0":
        # save_inference_model orders cfg.json keys by iterating a set of field names, so the
        # byte order of batchtopk/cfg.json depends on string hashing: pin it and start again.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "disabled")

    import numpy as np
    import torch
    from safetensors.numpy import load_file
    import sae_lens
    from sae_lens import SAE
    from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
    from sae_lens.saes.jumprelu_sae import JumpReLUSAE, JumpReLUSAEConfig
    from sae_lens.saes.sae import SAEMetadata
    from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)

    x = (X_SCALE * rng.standard_normal((N, D_IN))).astype(np.float32)
    np.save(out / "inputs.npy", x)
    x64 = x.astype(np.float64)

    def set_weights(sae, w):
        state = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in w.items()}
        missing, unexpected = sae.load_state_dict(state, strict=False)
        assert not unexpected, unexpected
        assert set(missing) <= {"topk_threshold"}, missing

    def meta():
        return SAEMetadata(**METADATA)

    saes = {}

    # standard: relu(pre)
    w = draw_weights(rng, np)
    sae = StandardSAE(StandardSAEConfig(d_in=D_IN, d_sae=D_SAE, metadata=meta()))
    set_weights(sae, w)
    saes["standard"] = (sae, "save_model")

    # topk, trained-checkpoint form: un-normalised W_dec, rescale_acts_by_decoder_norm=True
    w = draw_weights(rng, np)
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=D_IN, d_sae=D_SAE, k=K,
                                                rescale_acts_by_decoder_norm=True,
                                                metadata=meta()))
    set_weights(sae, w)
    saes["topk"] = (sae, "save_model")

    # jumprelu: per-latent positive thresholds, about a third of latents fire
    w = draw_weights(rng, np)
    pre = pre_acts(x64, w)
    q = rng.uniform(0.45, 0.75, size=D_SAE)
    thr = np.empty(D_SAE)
    for j in range(D_SAE):
        thr[j] = cut_near(np.sort(pre[:, j]), int(round(q[j] * N)))
    w["threshold"] = thr
    sae = JumpReLUSAE(JumpReLUSAEConfig(d_in=D_IN, d_sae=D_SAE, metadata=meta()))
    set_weights(sae, w)
    saes["jumprelu"] = (sae, "save_model")

    # batchtopk: training class, saved with save_inference_model (-> jumprelu)
    w = draw_weights(rng, np)
    sel = np.maximum(pre_acts(x64, w) * np.linalg.norm(w["W_dec"], axis=1), 0.0)
    s = np.sort(sel.ravel())
    topk_thr = cut_near(s, int(round(s.size * 2 / 3)), window=20)
    sae = BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=D_IN, d_sae=D_SAE, k=float(K),
                                                          rescale_acts_by_decoder_norm=True,
                                                          metadata=meta()))
    set_weights(sae, w)
    sae.topk_threshold.fill_(topk_thr)
    saes["batchtopk"] = (sae, "save_inference_model")

    summary = {"sae_lens": sae_lens.__version__, "torch": torch.__version__, "seed": SEED}
    for name, (sae, how) in saes.items():
        d = out / name
        if d.exists():
            shutil.rmtree(d)
        getattr(sae, how)(d)

        loaded = SAE.load_from_disk(str(d), device="cpu")
        loaded.eval()
        with torch.no_grad():
            feats = loaded.encode(torch.from_numpy(x))
            if feats.is_sparse:
                feats = feats.to_dense()
            recon = loaded.decode(feats)
        feats = feats.float().numpy()
        recon = recon.float().numpy()
        np.save(d / "recon.npy", recon)
        np.save(d / "recon.acts.npy", feats)

        # independent numpy re-derivation from the saved files
        cfg = json.loads((d / "cfg.json").read_text())
        t = {k: v.astype(np.float64) for k, v in load_file(d / "sae_weights.safetensors").items()}
        b_in = t["b_dec"] if cfg.get("apply_b_dec_to_input", True) else 0.0
        pre = (x64 - b_in) @ t["W_enc"] + t["b_enc"]
        arch = cfg["architecture"]
        if arch == "standard":
            acts = np.maximum(pre, 0.0)
            margin = float("inf")
        elif arch == "topk":
            norm = np.linalg.norm(t["W_dec"], axis=1) if cfg.get("rescale_acts_by_decoder_norm") else 1.0
            h = pre * norm
            order = np.argsort(-h, axis=1)
            acts = np.zeros_like(h)
            rows = np.arange(N)[:, None]
            acts[rows, order[:, :cfg["k"]]] = np.maximum(h[rows, order[:, :cfg["k"]]], 0.0)
            hs = -np.sort(-h, axis=1)
            margin = float((hs[:, cfg["k"] - 1] - hs[:, cfg["k"]]).min())
            acts = acts / norm  # decode divides by the norm again
        elif arch == "jumprelu":
            acts = np.maximum(pre, 0.0) * (pre > t["threshold"])
            margin = float(np.abs(pre - t["threshold"]).min())
        else:
            raise SystemExit(f"unexpected architecture {arch}")
        ref = acts @ t["W_dec"] + t["b_dec"]
        if arch == "topk":
            acts = acts * norm  # what encode returns
        err_acts = float(np.abs(acts - feats).max())
        err_recon = float(np.abs(ref - recon).max())
        assert margin > MARGIN, f"{name}: decision margin {margin:.3g} <= {MARGIN}"
        assert err_acts < 1e-4 and err_recon < 1e-4, (name, err_acts, err_recon)

        dec_norms = np.linalg.norm(t["W_dec"], axis=1)
        info = {
            "class_saved": type(sae).__name__, "saved_with": how,
            "class_loaded": type(loaded).__name__,
            "frac_active": float((feats != 0).mean()),
            "l0_mean": float((feats != 0).sum(1).mean()),
            "max_abs_recon_minus_x": float(np.abs(recon - x).max()),
            "W_dec_row_norms": [float(dec_norms.min()), float(dec_norms.max())],
            "decision_margin": margin,
            "numpy_vs_saelens": {"acts": err_acts, "recon": err_recon},
        }
        if name == "batchtopk":
            info["topk_threshold"] = topk_thr
        summary[name] = info
        print(f"== {name}")
        print("cfg.json:", (d / "cfg.json").read_text())
        print(json.dumps(info))

    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total} bytes)")


if __name__ == "__main__":
    main()
