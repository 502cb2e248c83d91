"""Host speed figures and the bf16 decision (bf16 autocast only where bf16 is fast)."""

import logging

import torch

from tripost.hostspeed import bf16_pays, describe, host_speed, matmul_gflops, say_float32_once
from tripost.policy import generation
from tripost.policy.generation import autocast_context


def test_bf16_is_used_where_it_is_fast_and_not_where_it_is_emulated():
    """The decision follows this machine's own rates: an AVX2 CPU (bf16 ~60x slower than
    float32) must not autocast; an AVX512-BF16 / AMX CPU (bf16 ~2-3x faster) must."""
    bf16 = matmul_gflops("cpu", torch.bfloat16, repeats=5, size=512, budget_s=0.5)
    fp32 = matmul_gflops("cpu", torch.float32, repeats=5, size=512, budget_s=0.5)
    if bf16 > 1.5 * fp32:
        assert bf16_pays("cpu")
    elif bf16 < 0.5 * fp32:
        assert not bf16_pays("cpu")
    # between the two the measured decision may go either way


def test_autocast_falls_back_to_float32_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(generation, "bf16_pays", lambda device_type: False)
    say_float32_once.cache_clear()
    lin = torch.nn.Linear(4, 4)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with autocast_context(torch.device("cpu"), True):
                assert lin(torch.ones(1, 4)).dtype == torch.float32
    assert sum("computing in float32" in r.message for r in caplog.records) == 1
    monkeypatch.setattr(generation, "bf16_pays", lambda device_type: True)
    with autocast_context(torch.device("cpu"), True):
        assert lin(torch.ones(1, 4)).dtype == torch.bfloat16
    with autocast_context(torch.device("cpu"), False):
        assert lin(torch.ones(1, 4)).dtype == torch.float32


def test_host_speed_measures_both_rates_and_the_decision():
    speed = host_speed("cpu")
    assert speed["bf16_matmul_gflops"] > 0 and speed["fp32_matmul_gflops"] > 0
    assert speed["bf16_autocast"] == bf16_pays("cpu")
    text = describe(speed)
    assert text.startswith("bf16 matmul ") and ", float32 " in text
    assert ("bf16 autocast not used" in text) == (not speed["bf16_autocast"])


def test_describe_reads_records_of_older_runs():
    old = {"bf16_matmul_gflops": 301.7, "threads": 2, "device": "cpu", "at": 1.0}
    assert describe(old) == "bf16 matmul 302 GFLOP/s on 2 threads"
    new = dict(old, fp32_matmul_gflops=88.2, bf16_autocast=False, bf16_matmul_gflops=1.3)
    assert describe(new) == (
        "bf16 matmul 1 GFLOP/s, float32 88 GFLOP/s on 2 threads (bf16 autocast not used: float32)"
    )
