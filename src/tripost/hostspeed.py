"""How fast this machine is right now: a dense bf16 matmul rate, measured in about a second.

Wall times on a shared host swing with its load (the same demo took 13 and 21 minutes on two
days), so every run records this figure next to its stage times: a wall time is read against
the host speed measured in the same run.
"""

from __future__ import annotations

import time


def matmul_gflops(device="cpu", dtype=None, repeats: int = 10) -> float:
    """Median GFLOP/s of ``size x size`` matmuls in ``dtype`` (default bfloat16) on ``device``
    with torch's current thread count (size 1024 on CPU, 8192 on a GPU); the first
    repeat is warm-up. (torch is imported here: the report reads these figures without it.)"""
    import torch

    device, dtype = torch.device(device), dtype or torch.bfloat16
    size = 8192 if device.type == "cuda" else 1024
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    rates = []
    for _ in range(repeats + 1):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        _sync(device)
        rates.append(4 * 2 * size**3 / (time.perf_counter() - t0) / 1e9)
    rates = sorted(rates[1:])
    return rates[len(rates) // 2]


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def host_speed(device="cpu") -> dict:
    """``{"bf16_matmul_gflops", "threads", "device", "at"}`` measured now."""
    import torch

    device = torch.device(device)
    return {
        "bf16_matmul_gflops": round(matmul_gflops(device), 1),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "at": round(time.time(), 1),
    }


def describe(speed: dict) -> str:
    """``"bf16 matmul 302 GFLOP/s on 2 threads"`` (or ``"... on cuda:0"``)."""
    where = f"{speed['threads']} threads" if speed["device"] == "cpu" else speed["device"]
    return f"bf16 matmul {speed['bf16_matmul_gflops']:,.0f} GFLOP/s on {where}"
