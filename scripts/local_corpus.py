#!/usr/bin/env python3
"""Writes a plain-text training corpus (JSONL, one paragraph per row) from public documentation
that is already on any machine that has built mindlens: the Markdown files (READMEs, guides,
changelogs) of every crate pinned in Cargo.lock, read from cargo's registry cache.

Why: no text corpus ships with the models and no network is reachable here, so the SAE runs on
millions of tokens need text that exists locally and is the same on every machine that builds
this lockfile. The rows are shuffled with a fixed seed so a streaming shuffle buffer sees mixed
sources, and long blocks are cut at line boundaries so no row dominates a batch.

Usage: python3 scripts/local_corpus.py OUT.jsonl [--heldout N HELDOUT.jsonl] [--max-chars 1500]
Then:  mindlens sae corpus --include OUT.jsonl --samples 0 --out corpus.jsonl
The last N shuffled paragraphs go to HELDOUT.jsonl instead of OUT.jsonl (evaluation text).
"""

import argparse
import glob
import json
import os
import random
import sys
import tomllib


def crate_dirs(lock_path):
    """Registry source directories of the crates in Cargo.lock that cargo has unpacked."""
    lock = tomllib.load(open(lock_path, "rb"))
    roots = glob.glob(os.path.expanduser("~/.cargo/registry/src/*"))
    for pkg in lock["package"]:
        if "source" not in pkg:
            continue
        for root in roots:
            d = os.path.join(root, f"{pkg['name']}-{pkg['version']}")
            if os.path.isdir(d):
                yield pkg["name"], d
                break


def paragraphs(text, max_chars):
    """Blank-line separated paragraphs, each cut at line boundaries to at most max_chars."""
    for para in text.split("\n\n"):
        chunk = []
        size = 0
        for line in para.strip().splitlines():
            if chunk and size + len(line) > max_chars:
                yield "\n".join(chunk)
                chunk, size = [], 0
            chunk.append(line[:max_chars])
            size += len(line) + 1
        if chunk:
            yield "\n".join(chunk)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--lock", default="Cargo.lock")
    ap.add_argument("--max-chars", type=int, default=1500)
    ap.add_argument("--min-chars", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--heldout", nargs=2, metavar=("N", "FILE"), help="write the last N paragraphs to FILE")
    args = ap.parse_args()
    outs = [args.out] + ([args.heldout[1]] if args.heldout else [])
    for out in outs:
        if os.path.exists(out):
            sys.exit(f"{out} exists; remove it first")

    rows = []
    files = 0
    for name, d in sorted(crate_dirs(args.lock)):
        for path in sorted(glob.glob(os.path.join(d, "**", "*.md"), recursive=True)):
            try:
                text = open(path, encoding="utf-8").read()
            except (UnicodeDecodeError, OSError):
                continue
            files += 1
            rel = f"{name}/{os.path.relpath(path, d)}"
            for p in paragraphs(text, args.max_chars):
                if len(p) >= args.min_chars:
                    rows.append({"text": p, "file": rel})
    if not rows:
        sys.exit("no crate sources found under ~/.cargo/registry/src: build mindlens first")
    random.Random(args.seed).shuffle(rows)

    held = int(args.heldout[0]) if args.heldout else 0
    parts = [(args.out, rows[: len(rows) - held])]
    if args.heldout:
        parts.append((args.heldout[1], rows[len(rows) - held :]))
    for out, part in parts:
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for r in part:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        os.replace(tmp, out)
        chars = sum(len(r["text"]) for r in part)
        print(f"{len(part)} paragraphs, {chars} characters from {files} Markdown files -> {out}")


if __name__ == "__main__":
    main()
