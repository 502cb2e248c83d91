"""Training throughput: tokens/s and MFU (model FLOPs per second over the measured bf16 matmul
peak of the same device, in the same run) of tripost's weighted-loss training, full fine-tuning
(float32 master weights, bf16 autocast) and LoRA (bf16 base, float32 adapters), on gold
arithmetic trajectories.

    python benchmarks/train_throughput.py --model tiny --device cpu --modes full,full-nochunk
    python benchmarks/train_throughput.py --model llama-1.5b --device cuda

Model FLOPs per trained token: 6N + 12·L·d·T for a full fine-tune (N = parameters outside the
embedding lookup, T = the mean sequence length) and 4N + 12·L·d·T for LoRA (no weight gradients
for the frozen base). ``full-nochunk`` computes the loss from whole logits (``loss_chunk: 0``),
to compare with the chunked loss.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from bench_models import TASK, build_model, machine

from tripost.hostspeed import bf16_pays, matmul_gflops
from tripost.policy.model import Policy, lora_config
from tripost.training import Sample, TrainConfig, train_policy
from tripost.trajectory import render_prompt


def samples(n: int) -> list[Sample]:
    import random

    rng = random.Random(0)
    out = []
    while len(out) < n:
        p = TASK.generate(rng, "seen")
        gold = TASK.solve(p)
        if gold is not None:
            out.append(Sample(((render_prompt(p.question), 0.0), (gold.render(), 1.0))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="tiny", help="tiny | llama-1.5b | a checkpoint directory")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--modes", default="full,lora", help="full, full-nochunk, lora")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gradient-checkpointing", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # MFU against the peak of the dtype training computes in: bf16 autocast falls back to
    # float32 where bf16 is emulated (an AVX2 CPU)
    dtype = torch.bfloat16 if bf16_pays(torch.device(args.device).type) else torch.float32
    peak = matmul_gflops(args.device, dtype)
    data = samples(args.batch * args.steps)
    print(f"machine: {machine(args.device)}; {str(dtype)[6:]} matmul {peak:,.0f} GFLOP/s")
    policies: dict[str, Policy] = {}
    for mode in args.modes.split(","):
        lora = mode == "lora"
        policy = build_model(args.model, args.device, torch.bfloat16 if lora else torch.float32)
        if lora:
            from peft import get_peft_model

            policy.model = get_peft_model(
                policy.model,
                lora_config({"r": 16, "lora_alpha": 32, "target_modules": "all-linear"}),
            )
        policies[mode] = policy
    results: dict[str, list[float]] = {m: [] for m in policies}
    flops_per_token: dict[str, float] = {}
    for r in range(-1, args.repeats):  # repeat -1: one untimed step per mode (kernels, allocator)
        for mode, policy in policies.items():
            cfg = TrainConfig(
                steps=args.steps if r >= 0 else 1,
                batch_size=args.batch,
                micro_batch_size=args.micro_batch,
                lr=1e-5,
                bf16=True,
                log_every=0,
                loss_chunk=0 if mode == "full-nochunk" else 1024,
                gradient_checkpointing=args.gradient_checkpointing,
            )
            stats = train_policy(policy, data, cfg)
            if r < 0:
                continue
            results[mode].append(stats["tokens"] / stats["seconds"])
            base = policy.model.get_base_model() if mode == "lora" else policy.model
            c = base.config
            emb = base.get_input_embeddings().weight.numel()
            n = sum(p.numel() for p in base.parameters()) - emb
            if c.tie_word_embeddings:
                n += emb  # the output layer multiplies by the embedding matrix
            seq = stats["tokens"] / (args.steps * args.batch)
            attn = 12 * c.num_hidden_layers * c.hidden_size * seq
            flops_per_token[mode] = (4 if mode == "lora" else 6) * n + attn
    for mode, rates in results.items():
        rate = statistics.median(rates)
        mfu = rate * flops_per_token[mode] / (peak * 1e9)
        print(
            f"{mode:13s} {rate:>10,.0f} tokens/s  MFU {mfu:6.1%}  "
            f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}; micro-batch {args.micro_batch}"
            f"{', gradient checkpointing' if args.gradient_checkpointing else ''})"
        )


if __name__ == "__main__":
    main()
