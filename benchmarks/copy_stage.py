"""The copying stage alone (``model.tiny.copy_steps``, src/tripost/copying.py) on a run's tiny
model: is induction installed (the copy loss falls from ln(units) towards ~0.5) within the
steps, at this learning rate, with strings drawn from this many of the vocabulary's tokens?
The model is built as the run's SFT builds it (its config, seed and training texts).

    python benchmarks/copy_stage.py runs/ar_X --steps 400 --lr 1e-3 --units 200
"""

from __future__ import annotations

import argparse
import logging
import math

import torch

from tripost.config import load_config
from tripost.copying import copy_units, train_copying
from tripost.loop import gold_samples, load_problems
from tripost.policy.model import build_tiny_policy
from tripost.rundir import RunDir
from tripost.tasks import get_task


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", help="a run directory with config.yaml and data/train.jsonl")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=None, help="default: the run's copy_lr")
    ap.add_argument("--units", type=int, default=0, help="0: every ordinary token")
    ap.add_argument("--seed", type=int, default=None, help="default: the run's")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    cfg = load_config(f"{args.run}/config.yaml", {})
    seed = cfg.seed if args.seed is None else args.seed
    lr = cfg.model.tiny.copy_lr if args.lr is None else args.lr
    torch.set_num_threads(cfg.model.threads or 2)
    task = get_task(cfg.task, **cfg.task_options)
    rd = RunDir(args.run, writer=False)
    samples = gold_samples(task, load_problems(rd, "train"), cfg.loss)
    policy = build_tiny_policy(cfg.model.tiny, seed=seed, texts=(s.text for s in samples))
    n = len(copy_units(policy.tokenizer))
    n = min(n, args.units) if args.units else n
    print(
        f"vocabulary {len(policy.tokenizer)}, strings from {n} tokens (chance about "
        f"{math.log(n):.2f}), d={cfg.model.tiny.hidden_size}, lr {lr}, seed {seed}"
    )
    out = train_copying(policy, args.steps, cfg.sft, seed, lr=lr, units=args.units)
    print(
        f"final copy loss {out['final_loss']:.3f} after {args.steps} steps, {out['seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
