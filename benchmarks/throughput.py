"""Training and generation throughput of the tiny model: fp32 vs bf16 autocast, measured
alternately in the same process (ratios, medians), on realistic arithmetic samples.

    python benchmarks/throughput.py --hidden 128 --layers 4 --repeats 5
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time

import torch

from tripost.loop import gold_samples
from tripost.policy.generation import Sampling, generate
from tripost.policy.model import TinyModelConfig, build_tiny_policy
from tripost.tasks import get_task
from tripost.training import LossWeights, TrainConfig, train_policy
from tripost.trajectory import render_prompt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--gen-batch", type=int, default=128)
    ap.add_argument("--gen-tokens", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task("multistep_arithmetic")
    rng = random.Random(0)
    problems = [task.generate(rng, "seen") for _ in range(512)]
    samples = gold_samples(task, problems, LossWeights())
    tiny = TinyModelConfig(
        hidden_size=args.hidden,
        num_layers=args.layers,
        num_heads=max(1, args.hidden // 32),
        intermediate_size=int(args.hidden * 2.6875),
    )
    policy = build_tiny_policy(tiny)
    n_params = sum(p.numel() for p in policy.model.parameters())
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; model d={args.hidden} L={args.layers} ({n_params / 1e6:.2f}M params)"
    )
    train = {False: [], True: []}
    gen = {False: [], True: []}
    prompts = [render_prompt(p.question) for p in problems[: args.gen_batch]]
    for _ in range(args.repeats):
        for bf16 in (False, True):
            cfg = TrainConfig(
                steps=args.steps,
                batch_size=args.batch,
                micro_batch_size=args.batch,
                lr=1e-4,
                bf16=bf16,
                log_every=0,
            )
            s = train_policy(policy, samples, cfg)
            train[bf16].append(s["tokens"] / s["seconds"])
            t0 = time.time()
            sampling = Sampling(args.gen_tokens, 1.0, args.gen_batch, bf16, "loop")
            outs = generate(policy, prompts, sampling, seed=0)
            gen[bf16].append(sum(len(o) + 1 for o in outs) / (time.time() - t0))
    for name, d in (("train tokens/s", train), ("generate tokens/s", gen)):
        f32, b16 = statistics.median(d[False]), statistics.median(d[True])
        ratios = [b / f for f, b in zip(d[False], d[True])]
        print(
            f"{name}: fp32 {f32:,.0f}  bf16 {b16:,.0f}  bf16/fp32 median ratio "
            f"{statistics.median(ratios):.2f} (runs: {', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
