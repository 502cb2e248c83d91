"""Can the tiny model learn to copy by content (an induction head)? Random strings, each followed
by its copy; the loss is on the copies only (chance = ln(alphabet)). Prints the mean loss of
each block of 25 steps.

    python benchmarks/copy_probe.py --lr 1e-2
    python benchmarks/copy_probe.py --lr 1e-2 --layers 2 --heads 2
"""

from __future__ import annotations

import argparse
import logging
import random

import torch

from tripost.policy.model import TinyModelConfig, build_tiny_policy
from tripost.training import Sample, TrainConfig, train_policy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--alpha", type=int, default=52, help="alphabet size")
    ap.add_argument("--maxlen", type=int, default=48, help="longest string to copy")
    ap.add_argument("--ctx", type=int, default=500, help="characters of pairs per sample")
    ap.add_argument("--minlen", type=int, default=8, help="shortest string to copy")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    rng = random.Random(0)
    alphabet = [chr(33 + i) for i in range(args.alpha)]

    def sample() -> Sample:  # about --ctx characters of (string, copy) pairs
        segs, n = [], 0
        while n < args.ctx:
            s = "".join(rng.choice(alphabet) for _ in range(rng.randint(args.minlen, args.maxlen)))
            segs += [(s + "\n", 0.0), (s + "\n", 1.0)]
            n += 2 * len(s) + 2
        return Sample(tuple(segs))

    policy = build_tiny_policy(TinyModelConfig(num_layers=args.layers, num_heads=args.heads))
    losses = []
    for block in range(args.steps // 25):  # constant LR after a short warm-up
        cfg = TrainConfig(
            steps=25,
            batch_size=16,
            micro_batch_size=16,
            lr=args.lr,
            warmup=0.05 if block == 0 else 0.0,
            min_lr_ratio=1.0,
            log_every=0,
        )
        losses.append(train_policy(policy, [sample() for _ in range(25 * 16)], cfg)["final_loss"])
    print(vars(args), " ".join(f"{x:.2f}" for x in losses))


if __name__ == "__main__":
    main()
