"""Loads an SAE directory in SAELens' layout with SAELens itself and runs activations through it.

  .venv/bin/python scripts/check_saelens.py SAEDIR --acts FILE.npy --out OUT.npy

SAEDIR holds `cfg.json` and `sae_weights.safetensors` (W_enc [d_in, d_sae], W_dec [d_sae, d_in],
b_enc [d_sae], b_dec [d_in], and threshold [d_sae] for jumprelu), as SAELens' `save_model` and
mindlens write it. The SAE is loaded with `SAE.load_from_disk(SAEDIR, device="cpu")`, and the
activations [N, d_in] are encoded (`sae.encode`) and decoded (`sae.decode`) by SAELens in
float32. Writes the reconstruction [N, d_in] float32 to OUT.npy and the latent activations
[N, d_sae] float32 to OUT with the suffix `.acts.npy` (out.npy -> out.acts.npy), and prints the
class and the config SAELens loaded (as JSON) so a caller can check that nothing was dropped.
"""
import argparse
import json
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sae_dir", metavar="SAEDIR", help="directory with cfg.json + sae_weights.safetensors")
    p.add_argument("--acts", required=True, help=".npy file, float32 [N, d_in]")
    p.add_argument("--out", required=True, help="reconstruction .npy; latents go to OUT.acts.npy")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--chunk", type=int, default=4096, help="rows per encode/decode call")
    return p.parse_args()


def acts_path(out):
    root = out[:-4] if out.endswith(".npy") else out
    return root + ".acts.npy"


def main():
    args = parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "disabled")

    import numpy as np
    import torch
    import sae_lens
    from sae_lens import SAE

    torch.set_num_threads(args.threads)
    sae = SAE.load_from_disk(args.sae_dir, device="cpu")
    sae.eval()
    cfg = sae.cfg.to_dict()
    print(json.dumps({
        "sae_lens": sae_lens.__version__,
        "class": type(sae).__name__,
        "cfg": cfg,
        "tensors": {k: [str(v.dtype).removeprefix("torch."), list(v.shape)]
                    for k, v in sae.state_dict().items()},
    }, default=str))

    x = np.load(args.acts)
    if x.ndim != 2 or x.shape[1] != sae.cfg.d_in:
        sys.exit(f"{args.acts}: shape {x.shape}, expected [N, {sae.cfg.d_in}]")
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    recon = np.empty((x.shape[0], sae.cfg.d_in), dtype=np.float32)
    feats = np.empty((x.shape[0], sae.cfg.d_sae), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, x.shape[0], args.chunk):
            rows = x[start:start + args.chunk]
            f = sae.encode(rows)
            if f.is_sparse:
                f = f.to_dense()
            feats[start:start + len(rows)] = f.float().numpy()
            recon[start:start + len(rows)] = sae.decode(f).float().numpy()
    np.save(args.out, recon)
    np.save(acts_path(args.out), feats)
    l0 = float((feats != 0).sum(1).mean()) if len(feats) else 0.0
    mse = float(((recon - x.numpy()) ** 2).sum(1).mean()) if len(feats) else 0.0
    print(f"wrote {args.out} {list(recon.shape)} and {acts_path(args.out)} {list(feats.shape)}; "
          f"l0 {l0:.2f}, mse {mse:.6g}", file=sys.stderr)


if __name__ == "__main__":
    main()
