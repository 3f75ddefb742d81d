"""SAELens side of benches/sae.rs: trains a sparse autoencoder with SAELens' own training code
on activations from a .npy file [N, d_in] float32, for a fixed number of steps, and prints ONE
JSON line:

  {"peer": "saelens", "version", "arch", "d_in", "d_sae", "k", "batch", "steps", "seconds",
   "tokens_per_s", "threads", "final_mse", "l0"}

The SAE is SAELens' training class for the architecture (StandardTrainingSAE for relu-l1,
TopKTrainingSAE, BatchTopKTrainingSAE, JumpReLUTrainingSAE) with SAELens' defaults except for
the options below, and every step is `SAETrainer.step` (the step `SAETrainer.fit` runs):
training forward pass and loss (MSE + L1 / L0 / AuxK), backward, gradient-norm clipping at 1,
Adam (betas 0.9, 0.999), constant learning-rate schedule, coefficient schedulers and the
dead-latent counters. Only wandb logging, the progress bar and checkpointing (all off) are left
out. `--l1` is the L1 coefficient for relu-l1 and the L0 coefficient for jumprelu (SAELens'
"step" loss); topk and batchtopk have no sparsity coefficient.

`--init DIR` starts from the SAE in DIR (SAELens layout: sae_weights.safetensors, as mindlens
writes it) instead of SAELens' initialisation, so that ReLU and JumpReLU are timed at a trained
SAE's sparsity; SAELens computes them densely either way.

Batches are consecutive slices of the array (wrapping around); activations are used as given
(normalize_activations="none"). The first --warmup-steps steps are not timed. `final_mse` is
SAELens' mse_loss of the last step (squared error summed over d_in, mean over rows) and `l0`
the mean number of non-zero latents per row in that step.

  .venv/bin/python scripts/bench_sae.py --acts acts.npy --arch topk --expansion 16 --k 32 \
      --batch 4096 --steps 20 --warmup-steps 2 --threads 2
"""
import argparse
import json
import os
import sys
import time

ARCHS = ("topk", "batchtopk", "relu-l1", "jumprelu")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--acts", required=True, help=".npy file, float32 [N, d_in]")
    p.add_argument("--arch", choices=ARCHS, default="topk")
    p.add_argument("--expansion", type=int, default=16, help="d_sae = expansion * d_in")
    p.add_argument("--k", type=int, default=32, help="latents per row (topk, batchtopk)")
    p.add_argument("--batch", type=int, default=4096, help="rows per step")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup-steps", type=int, default=2, help="untimed steps before the timed ones")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--l1", type=float, default=5.0,
                   help="L1 coefficient (relu-l1) or L0 coefficient (jumprelu)")
    p.add_argument("--seed", type=int, default=0, help="torch seed for the initialisation")
    p.add_argument("--init", help="SAE directory (SAELens layout) to start from")
    return p.parse_args()


def main():
    args = parse_args()
    # Before torch is imported, so its OpenMP pool starts at the requested size.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import numpy as np
    import torch
    import sae_lens
    from sae_lens.config import SAETrainerConfig
    from sae_lens.saes import (
        BatchTopKTrainingSAE,
        BatchTopKTrainingSAEConfig,
        JumpReLUTrainingSAE,
        JumpReLUTrainingSAEConfig,
        StandardTrainingSAE,
        StandardTrainingSAEConfig,
        TopKTrainingSAE,
        TopKTrainingSAEConfig,
    )
    from sae_lens.training.sae_trainer import SAETrainer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    acts = np.load(args.acts)
    if acts.ndim != 2:
        sys.exit(f"{args.acts}: expected a 2-D array [N, d_in], got shape {acts.shape}")
    acts = torch.from_numpy(np.ascontiguousarray(acts, dtype=np.float32))
    n, d_in = acts.shape
    d_sae = args.expansion * d_in
    if args.batch > n:
        sys.exit(f"--batch {args.batch} is larger than the {n} rows of {args.acts}")

    common = dict(d_in=d_in, d_sae=d_sae, dtype="float32", device="cpu",
                  normalize_activations="none")
    if args.arch == "topk":
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(k=args.k, **common))
    elif args.arch == "batchtopk":
        sae = BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(k=float(args.k), **common))
    elif args.arch == "relu-l1":
        sae = StandardTrainingSAE(StandardTrainingSAEConfig(l1_coefficient=args.l1, **common))
    else:
        sae = JumpReLUTrainingSAE(JumpReLUTrainingSAEConfig(l0_coefficient=args.l1, **common))

    if args.init:
        from safetensors.torch import load_file
        weights = load_file(os.path.join(args.init, "sae_weights.safetensors"))
        state = sae.state_dict()
        for name, value in weights.items():
            if name == "threshold" and "log_threshold" in state:
                state["log_threshold"] = value.clamp_min(1e-12).log()
            elif name in state:
                state[name] = value
        sae.load_state_dict(state)

    total_steps = args.warmup_steps + args.steps
    trainer = SAETrainer(
        cfg=SAETrainerConfig(
            total_training_samples=total_steps * args.batch,
            train_batch_size_samples=args.batch,
            lr=args.lr,
            lr_end=args.lr,
            lr_scheduler_name="constant",
            device="cpu",
        ),
        sae=sae,
        data_provider=iter(()),  # batches are passed to step() directly
    )
    print("saelens cfg: " + json.dumps(sae.cfg.to_dict(), default=str), file=sys.stderr)

    def batch_at(step):
        start = (step * args.batch) % n
        end = start + args.batch
        if end <= n:
            return acts[start:end]
        return torch.cat([acts[start:], acts[: end - n]])

    sae.to("cpu")
    out = None
    t0 = None
    for step in range(total_steps):
        if step == args.warmup_steps:
            t0 = time.perf_counter()
        # What SAETrainer.fit does per step, less wandb logging and checkpoints.
        trainer.maybe_reset_sparsity()
        out = trainer.step(batch_at(step))
        trainer.n_training_steps += 1
    seconds = time.perf_counter() - t0 if t0 is not None else 0.0

    with torch.no_grad():
        final_mse = float(out.losses["mse_loss"]) if out is not None else float("nan")
        l0 = float((out.feature_acts != 0).float().sum(-1).mean()) if out is not None else float("nan")
    print(json.dumps({
        "peer": "saelens",
        "version": sae_lens.__version__,
        "arch": args.arch,
        "d_in": d_in,
        "d_sae": d_sae,
        "k": args.k,
        "batch": args.batch,
        "steps": args.steps,
        "seconds": seconds,
        "tokens_per_s": args.batch * args.steps / seconds if seconds > 0 else None,
        "threads": args.threads,
        "final_mse": final_mse,
        "l0": l0,
    }))


if __name__ == "__main__":
    main()
