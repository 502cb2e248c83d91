"""Rollout throughput: generated tokens/s of tripost's in-process engines against the reference
code's configuration (HF ``generate``, float32, batch 4), on the same model and prompts, measured
alternately in one process (medians over repeats, ratios per repeat).

    python benchmarks/rollout_throughput.py --model tiny --device cpu            # the demo's model
    python benchmarks/rollout_throughput.py --model llama-1.5b --device cuda     # a GPU

Sampling at temperature 1 with the rollout's settings; tokens are counted up to the stop token.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from bench_models import build_model, machine, matmul_peak, prompts, sync

from tripost.policy.generation import Sampling, _generate_batch, _generate_hf


def run(policy, ids, engine: str, batch: int, max_new: int, device: str, seed: int) -> float:
    """Generated tokens per second of one engine over all prompts."""
    sampling = Sampling(max_new, 1.0, batch, False, engine)
    stops = policy.stop_ids()
    pad = policy.tokenizer.pad_token_id
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    gen = torch.Generator(device=device).manual_seed(seed)
    torch.manual_seed(seed)
    sync(device)
    t0, tokens = time.perf_counter(), 0
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            chunk = [ids[i] for i in order[start : start + batch]]
            if engine == "loop":
                out = _generate_batch(policy.model, chunk, pad, stops, sampling, gen, device)
            else:
                out = _generate_hf(policy.model, chunk, pad, stops, sampling, device)
            tokens += sum(len(o) for o in out)
    sync(device)
    return tokens / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="tiny", help="tiny | llama-1.5b | a checkpoint directory")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default=None, help="our engines' dtype (default: bf16 on GPU)")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64, help="our engines' batch size")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gpu = args.device.startswith("cuda")
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if gpu else torch.float32)
    ours = build_model(args.model, args.device, dtype)
    ref = build_model(args.model, args.device, torch.float32) if dtype != torch.float32 else ours
    if ref is not ours:
        ref.model.load_state_dict(ours.model.state_dict())  # the same weights
    tok = ours.tokenizer
    ids = [ours.bos_ids() + tok.encode(p, add_special_tokens=False) for p in prompts(args.prompts)]
    peak = matmul_peak(args.device)
    n = sum(p.numel() for p in ours.model.parameters())
    print(f"machine: {machine(args.device)}; bf16 matmul {peak:,.0f} GFLOP/s")
    print(
        f"model {args.model} ({n / 1e6:,.1f}M parameters), {len(ids)} prompts, "
        f"{args.max_new_tokens} new tokens max, sampling T=1"
    )
    configs = {
        "reference: HF generate, fp32, batch 4": (ref, "hf", 4),
        f"ours: loop, {str(dtype)[6:]}, batch {args.batch}": (ours, "loop", args.batch),
        f"ours: hf generate, {str(dtype)[6:]}, batch {args.batch}": (ours, "hf", args.batch),
    }
    rates: dict[str, list[float]] = {k: [] for k in configs}
    for r in range(args.repeats):
        for name, (policy, engine, batch) in configs.items():
            policy.model.eval()
            rates[name].append(run(policy, ids, engine, batch, args.max_new_tokens, args.device, r))
    base = list(configs)[0]
    for name, rs in rates.items():
        ratios = [a / b for a, b in zip(rs, rates[base])]
        print(
            f"{name:45s} {statistics.median(rs):>10,.0f} tokens/s   x{statistics.median(ratios):.2f} "
            f"vs reference (runs: {', '.join(f'{x:,.0f}' for x in rs)})"
        )


if __name__ == "__main__":
    main()
