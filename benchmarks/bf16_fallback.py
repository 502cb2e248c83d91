"""What ``train.bf16: true`` costs on this host with and without the bf16 check
(``hostspeed.bf16_pays``): the arithmetic demo's model (d=256, ``ops`` style, number tokens,
batch 8) trained with bf16 autocast forced on (what tripost did before the check) and as the
check decides, alternately in one process (medians of repeats).

    python benchmarks/bf16_fallback.py --steps 3 --repeats 3

On an AVX2 CPU the check turns autocast off (float32); on an AVX512-BF16 / AMX CPU both
settings are bf16 and the ratio is ~1.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from bench_models import arithmetic_demo_setup

from tripost.hostspeed import bf16_pays, describe, host_speed
from tripost.policy import generation
from tripost.training import TrainConfig, train_policy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"host: {describe(host_speed())}")
    policy, samples = arithmetic_demo_setup(1000)
    cfg = TrainConfig(steps=args.steps, batch_size=8, micro_batch_size=8, lr=1e-4, log_every=0)
    checked = bf16_pays("cpu")
    settings = {"forced bf16 (no check)": lambda _: True, f"checked (bf16: {checked})": bf16_pays}
    times: dict[str, list[float]] = {k: [] for k in settings}
    for r in range(args.repeats):
        for name in list(settings)[:: 1 if r % 2 == 0 else -1]:  # which goes first alternates
            generation.bf16_pays = settings[name]
            t0 = time.perf_counter()
            train_policy(policy, samples, cfg, seed=r)
            times[name].append((time.perf_counter() - t0) / args.steps)
    generation.bf16_pays = bf16_pays
    for name, ts in times.items():
        print(
            f"{name}: median {statistics.median(ts) * 1000:,.0f} ms/step "
            f"(repeats {', '.join(f'{t * 1000:,.0f}' for t in ts)})"
        )
    forced, ours = (statistics.median(t) for t in times.values())
    print(f"ratio {forced / ours:.1f}x; host after: {describe(host_speed())}")


if __name__ == "__main__":
    main()
