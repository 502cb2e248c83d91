"""The `tripost` command restarts itself with mimalloc preloaded where it is installed."""

import os
import subprocess
import sys

import pytest

from tripost import allocator
from tripost.hostspeed import describe

CHILD = "from tripost import allocator; print('child', allocator.active())"
PARENT = f"from tripost import allocator; allocator.reexec(['-c', {CHILD!r}]); print('parent')"

needs_mimalloc = pytest.mark.skipif(
    sys.platform != "linux" or allocator.mimalloc_path() is None,
    reason="cmeel-mimalloc is installed on Linux x86-64 only",
)


def run(**env) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("TRIPOST_ALLOCATOR", "LD_PRELOAD")}
    out = subprocess.run(
        [sys.executable, "-c", PARENT], env=base | env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@needs_mimalloc
def test_restarts_with_mimalloc_loaded():
    assert allocator.active() in ("system", "mimalloc")
    assert run() == "child mimalloc"


@needs_mimalloc
def test_system_allocator_when_asked():
    assert run(TRIPOST_ALLOCATOR="system") == "parent"


def test_host_speed_names_mimalloc():
    speed = {"bf16_matmul_gflops": 900, "threads": 2, "device": "cpu"}
    assert describe(speed | {"allocator": "mimalloc"}).endswith("on 2 threads, mimalloc")
    assert describe(speed | {"allocator": "system"}).endswith("on 2 threads")
