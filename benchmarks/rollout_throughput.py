"""Rollout throughput: generated tokens/s of tripost's in-process engines, and with ``--server``
of the ``server`` backend (an inference server started from a command template, default
``transformers serve`` with continuous batching), against the reference code's configuration
(HF ``generate``, float32, batch 4), on the same model and prompts, measured alternately
(medians over repeats, ratios per repeat), after one untimed warm-up batch of each engine.

    python benchmarks/rollout_throughput.py --model tiny --device cpu            # the demo's model
    python benchmarks/rollout_throughput.py --model llama-1.5b --device cuda     # a GPU
    python benchmarks/rollout_throughput.py --model tiny --device cpu --server \
        --server-command "transformers serve {model} --port {port} --dtype {dtype} \
        --continuous-batching --device cpu --cb-num-blocks 256"

Sampling at temperature 1 with the rollout's settings; tokens are counted up to the stop token
(the server's: its ``usage.completion_tokens``). The server decodes in our engines' dtype
(``{dtype}``), with ``--batch`` requests in flight; its start (and the first request, which
sets up its cache) is not timed.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import torch
from bench_models import build_model, machine, prompts, sync

from tripost.hostspeed import matmul_gflops
from tripost.policy.generation import Sampling, _generate_batch, _generate_hf
from tripost.policy.server import DEFAULT_COMMAND, ServerConfig, serve_checkpoint


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


def run_server(served, texts: list[str], batch: int, max_new: int, seed: int, work: Path) -> float:
    """Generated tokens per second of the ``server`` backend over all prompts."""
    partial = work / "bench.partial.jsonl"
    partial.unlink(missing_ok=True)  # every repeat asks for everything
    before = served.stats["completion_tokens"]
    t0 = time.perf_counter()
    served.generate(texts, Sampling(max_new, 1.0, batch), seed, partial)
    return (served.stats["completion_tokens"] - before) / (time.perf_counter() - t0)


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
    ap.add_argument("--server", action="store_true", help="also the server backend")
    ap.add_argument("--server-command", default=DEFAULT_COMMAND, help="its command template")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gpu = args.device.startswith("cuda")
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if gpu else torch.float32)
    ours = build_model(args.model, args.device, dtype)
    ref = build_model(args.model, args.device, torch.float32) if dtype != torch.float32 else ours
    if ref is not ours:
        ref.model.load_state_dict(ours.model.state_dict())  # the same weights
    tok = ours.tokenizer
    texts = prompts(args.prompts)
    ids = [ours.bos_ids() + tok.encode(p, add_special_tokens=False) for p in texts]
    peak = matmul_gflops(args.device)
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
    server_name = f"server: {args.server_command.split()[0]}, {args.batch} in flight"
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        served, work = None, Path(tmp)
        if args.server:
            ckpt = Path(args.model)
            if not ckpt.is_dir():  # a model built here: saved for the server
                ckpt = work / "ckpt"
                ours.save(ckpt)
            cfg = ServerConfig(command=args.server_command)
            ctx = serve_checkpoint(ckpt, cfg, "plain", None, work, "bench", dtype=dtype)
            served = stack.enter_context(ctx)
            run_server(served, texts[:2], 2, 8, 0, work)  # start, set up its cache: not timed
            rates[server_name] = []
        for policy, engine, batch in configs.values():  # untimed warm-up of each engine
            policy.model.eval()
            run(policy, ids[:batch], engine, batch, 8, args.device, 0)
        for r in range(args.repeats):
            for name, (policy, engine, batch) in configs.items():
                rate = run(policy, ids, engine, batch, args.max_new_tokens, args.device, r)
                rates[name].append(rate)
            if served is not None:
                rate = run_server(served, texts, args.batch, args.max_new_tokens, r, work)
                rates[server_name].append(rate)
    base = list(configs)[0]
    for name, rs in rates.items():
        ratios = [a / b for a, b in zip(rs, rates[base])]
        print(
            f"{name:45s} {statistics.median(rs):>10,.0f} tokens/s   x{statistics.median(ratios):.2f} "
            f"vs reference (runs: {', '.join(f'{x:,.0f}' for x in rs)})"
        )


if __name__ == "__main__":
    main()
