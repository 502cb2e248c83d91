"""Training speed with batches of similar length (``sft.length_groups`` / ``train.length_groups``)
against plain shuffled batches, measured alternately in the same process (medians of repeats),
batch 8. By default on the arithmetic demo's model and samples (d=256, ``ops`` style, number
tokens); with ``--run DIR`` on a run's SFT checkpoint and its gold SFT samples (``--samples
sft``) or an iteration's training set (``--samples iter1``).

    python benchmarks/length_groups.py --groups 16 --steps 40 --repeats 5
    python benchmarks/length_groups.py --run runs/demo --samples iter1 --steps 20 --repeats 3

Prints seconds per optimizer step (samples per step are equal, so the ratio is the speed-up)
and the padded tokens per step of each setting.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch
from bench_models import arithmetic_demo_setup

from tripost.config import load_config
from tripost.hostspeed import describe, host_speed
from tripost.loop import gold_samples, load_checkpoint, load_problems, read_samples
from tripost.rundir import RunDir
from tripost.tasks import get_task
from tripost.training import TrainConfig, batch_order, encode_sample, train_policy


def run_setup(run: str, which: str, n: int):
    """A run's SFT checkpoint and ``n`` of its samples: gold SFT samples or an iteration's set."""
    rd = RunDir(run, writer=False)
    cfg = load_config(rd.root / "config.yaml")
    policy = load_checkpoint(rd, "sft", cfg, train=True)
    if which != "sft":
        return policy, read_samples(rd, f"{which}/train.jsonl")[:n]
    task = get_task(cfg.task, **cfg.task_options)
    return policy, gold_samples(task, load_problems(rd, "train")[:n], cfg.loss)


def padded_per_step(lengths: list[int], cfg: TrainConfig, steps: int) -> float:
    """Mean padded tokens (batch x longest sample) per step over ``steps`` batches."""
    order, rng = [], random.Random(1)
    while len(order) < steps * cfg.batch_size:
        order += batch_order(rng, lengths, cfg)
    batches = [
        order[k : k + cfg.batch_size] for k in range(0, steps * cfg.batch_size, cfg.batch_size)
    ]
    return statistics.mean(len(b) * max(lengths[i] for i in b) for b in batches)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=16)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--style", default="ops")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--run", help="a run directory: its SFT checkpoint and samples")
    ap.add_argument("--samples", default="sft", help="with --run: sft, or iter1 / iter2 / ...")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"host: {describe(host_speed())}")
    if args.run:
        policy, samples = run_setup(args.run, args.samples, 4000)
    else:
        policy, samples = arithmetic_demo_setup(4000, style=args.style)
    max_length = TrainConfig().max_length  # the timed runs truncate there
    lengths = [len(encode_sample(s, policy.tokenizer, max_length, [])[0]) for s in samples]
    times: dict[int, list[float]] = {0: [], args.groups: []}
    for r in range(args.repeats):
        for g in list(times)[:: 1 if r % 2 == 0 else -1]:  # which goes first alternates
            cfg = TrainConfig(
                steps=args.steps,
                batch_size=8,
                micro_batch_size=8,
                lr=1e-4,
                length_groups=g,
                log_every=0,
            )
            t0 = time.perf_counter()
            train_policy(policy, samples, cfg, seed=r)
            times[g].append((time.perf_counter() - t0) / args.steps)
    plain, grouped = statistics.median(times[0]), statistics.median(times[args.groups])
    for g, ts in times.items():
        pad = padded_per_step(lengths, TrainConfig(batch_size=8, length_groups=g), 2000)
        print(
            f"length_groups={g}: median {statistics.median(ts) * 1000:.0f} ms/step "
            f"(repeats {', '.join(f'{t * 1000:.0f}' for t in ts)}), "
            f"{pad:.0f} padded tokens/step for {8 * statistics.mean(lengths):.0f} real"
        )
    print(f"speed-up {plain / grouped:.2f}x; host after: {describe(host_speed())}")


if __name__ == "__main__":
    main()
