"""How fast this machine is right now, and whether bf16 pays on it.

Wall times on a shared host swing with its load (the same demo took 13 and 21 minutes on two
days), so every run records its matmul rates next to its stage times: a wall time is read
against the host speed measured in the same run.

bf16 autocast is fast only where the hardware computes bf16: CUDA GPUs of compute capability
8.0 and newer, and CPUs with AVX512-BF16 or AMX. An AVX2 CPU (most laptops, many cloud hosts)
converts every bf16 matmul in software, 60-100 times slower than float32 (measured on an AMD
EPYC with AVX2: 1.3 against 88 GFLOP/s on 2 threads), so ``bf16_pays`` decides, once per
process, whether ``bf16: true`` is honoured.
"""

from __future__ import annotations

import functools
import logging
import time

from tripost import allocator

log = logging.getLogger(__name__)


def matmul_gflops(
    device="cpu", dtype=None, repeats: int = 10, size: int | None = None, budget_s: float = 1.0
) -> float:
    """Median GFLOP/s of ``size x size`` matmuls in ``dtype`` (default bfloat16) on ``device``
    with torch's current thread count (size 1024 on CPU, 8192 on a GPU); the first is warm-up.
    At most ``repeats`` timed matmuls, fewer once ``budget_s`` is spent (at least one): a host
    that emulates the dtype answers in seconds, not minutes. (torch is imported here: the report
    reads these figures without it.)"""
    import torch

    device, dtype = torch.device(device), dtype or torch.bfloat16
    size = size or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    rates: list[float] = []
    start = time.perf_counter()
    for k in range(repeats + 1):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        if k:  # the first is warm-up
            rates.append(2 * size**3 / (time.perf_counter() - t0) / 1e9)
        if rates and time.perf_counter() - start > budget_s:
            break
    rates.sort()
    return rates[len(rates) // 2]


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


@functools.cache
def bf16_pays(device_type: str = "cpu") -> bool:
    """Whether bf16 autocast on ``device_type`` runs at least as fast as float32: a CUDA device
    that supports bf16; a CPU whose oneDNN has bf16 kernels and whose bf16 matmul (512 x 512)
    measures at least the float32 rate. Measured once per process (well under a second)."""
    import torch

    if device_type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return True  # other backends: autocast decides
    try:
        native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):  # a build without the check: measure
        native = True
    if not native:
        return False
    bf16 = matmul_gflops("cpu", torch.bfloat16, repeats=5, size=512, budget_s=0.3)
    fp32 = matmul_gflops("cpu", torch.float32, repeats=5, size=512, budget_s=0.3)
    return bf16 >= fp32


@functools.cache
def say_float32_once(device_type: str) -> None:
    """Log, once per process, that ``bf16: true`` is set but does not pay here."""
    log.warning(
        "bf16 autocast asked for, but this %s has no fast bf16 matmul (no AVX512-BF16 / AMX): "
        "computing in float32 instead (the same results up to rounding, much faster here)",
        device_type.upper(),
    )


def host_speed(device="cpu") -> dict:
    """``{"bf16_matmul_gflops", "fp32_matmul_gflops", "bf16_autocast", "threads", "device",
    "allocator", "at"}`` measured now (about two seconds). Where bf16 does not pay, its rate is
    taken on 256 x 256 matrices (a 1024 x 1024 one alone takes seconds there; the figure only
    has to say how slow). ``allocator``: ``mimalloc`` where the process has it loaded."""
    import torch

    device = torch.device(device)
    pays = bf16_pays(device.type)
    return {
        "bf16_matmul_gflops": round(
            matmul_gflops(device, torch.bfloat16, size=None if pays else 256), 1
        ),
        "fp32_matmul_gflops": round(matmul_gflops(device, torch.float32), 1),
        "bf16_autocast": pays,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "allocator": allocator.active(),
        "at": round(time.time(), 1),
    }


def describe(speed: dict) -> str:
    """``"bf16 matmul 302 GFLOP/s on 2 threads"``, with the float32 rate where it was measured
    (``"bf16 matmul 1 GFLOP/s, float32 88 GFLOP/s on 2 threads (bf16 autocast not used:
    float32)"``)."""
    where = f"{speed['threads']} threads" if speed["device"] == "cpu" else speed["device"]
    text = f"bf16 matmul {speed['bf16_matmul_gflops']:,.0f} GFLOP/s"
    if "fp32_matmul_gflops" in speed:
        text += f", float32 {speed['fp32_matmul_gflops']:,.0f} GFLOP/s"
    text += f" on {where}"
    if speed.get("bf16_autocast") is False:
        text += " (bf16 autocast not used: float32)"
    if speed.get("allocator") == "mimalloc":
        text += ", mimalloc"
    return text
