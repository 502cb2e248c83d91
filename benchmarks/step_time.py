"""Seconds per block of SFT steps of the arithmetic demo's model, block after block in one
process, with the process's peak memory: does a step get slower as training goes on?

    python benchmarks/step_time.py --allocator system --blocks 6
    python benchmarks/step_time.py --allocator mimalloc --blocks 6
    python benchmarks/step_time.py --heads 8 --blocks 3            # 8 heads of 32
    python benchmarks/step_time.py --heads 4 --format-pieces --blocks 3
    python benchmarks/step_time.py --allocator mimalloc --format-pieces --compile --blocks 8

``--allocator mimalloc`` restarts the script with mimalloc preloaded (tripost/allocator.py),
``system`` runs on glibc's malloc. Samples: gold `split` rationales of 20,000 seen problems,
batch 8, bf16 autocast where it pays, batches of similar length (the demo's SFT settings).
``--compile`` alternates blocks without and with ``compile`` (torch.compile of the decoder's
layers; the first compiled block includes the compilation), so that both are timed on the
same host at the same time.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time

import torch

from tripost import allocator
from tripost.hostspeed import describe, host_speed
from tripost.loop import gold_samples
from tripost.policy.model import TinyModelConfig, build_tiny_policy
from tripost.tasks import get_task
from tripost.training import LossWeights, TrainConfig, train_policy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--allocator", default="system", choices=["system", "mimalloc"])
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100, help="steps per block")
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--format-pieces", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="alternate eager and compiled blocks")
    args = ap.parse_args()
    if args.allocator == "mimalloc":  # returns at once in the restarted process
        if allocator.mimalloc_path() is None:
            sys.exit("cmeel-mimalloc is not installed")
        allocator.reexec([os.path.abspath(__file__), *sys.argv[1:]])
    torch.set_num_threads(args.threads)
    print(f"host: {describe(host_speed())}; allocator {allocator.active()}")
    task = get_task("multistep_arithmetic", style="split")
    rng = random.Random(0)
    problems = [task.generate(rng, "seen") for _ in range(20000)]
    samples = gold_samples(task, problems, LossWeights())
    tiny = TinyModelConfig(
        hidden_size=256,
        num_layers=4,
        num_heads=args.heads,
        intermediate_size=688,
        tokenizer="number",
        format_pieces=args.format_pieces,
    )
    policy = build_tiny_policy(tiny, texts=[s.text for s in samples])
    tok = policy.tokenizer
    mean = sum(len(tok.encode(s.text, add_special_tokens=False)) for s in samples[:2000]) / 2000
    print(f"heads {args.heads}, format pieces {args.format_pieces}: {mean:.0f} tokens/sample")
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=8,
        micro_batch_size=8,
        lr=1e-3,
        bf16=True,
        log_every=0,
        length_groups=16,
    )
    times: dict[bool, list[float]] = {False: [], True: []}
    for k in range(args.blocks):
        compiled = args.compile and k % 2 == 1
        t = time.perf_counter()
        train_policy(policy, samples, cfg.model_copy(update={"compile": compiled}), seed=k)
        took = time.perf_counter() - t
        times[compiled].append(took)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        what = " (compiled)" if compiled else ""
        print(
            f"block {k + 1}{what}: {took:.1f} s for {args.steps} steps, peak memory {peak:.2f} GB"
        )
    if args.compile and len(times[True]) > 1:
        eager, comp = statistics.median(times[False]), statistics.median(times[True][1:])
        print(
            f"median s per {args.steps} steps: eager {eager:.1f}, compiled {comp:.1f} "
            f"(blocks after the first compiled one): {eager / comp:.2f}x; "
            f"first compiled block {times[True][0]:.1f} s"
        )


if __name__ == "__main__":
    main()
