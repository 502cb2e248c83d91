"""mimalloc instead of glibc's malloc for the ``tripost`` command on Linux.

CPU training allocates and frees hundreds of megabytes of activations per step, in sizes that
change with each batch's length. glibc's malloc fragments under that pattern: on the arithmetic
demo's model four blocks of 100 training steps took 30.3, 31.0, 33.4, 34.4 s in one process as
its peak memory grew from 2.2 to 3.4 GB; with mimalloc, 25.2, 23.1, 23.8, 23.8 s at 1.9-2.0 GB
(``benchmarks/step_time.py``, docs/ablations.md §35). A library cannot replace malloc once the
process runs, so ``tripost`` starts itself again with mimalloc preloaded (the way PyTorch's
``torch.backends.xeon.run_cpu`` preloads jemalloc) when the ``cmeel-mimalloc`` package is
installed. ``TRIPOST_ALLOCATOR=system`` keeps glibc's.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

ENV = "TRIPOST_ALLOCATOR"


def mimalloc_path() -> str | None:
    """The shared library of the installed ``cmeel-mimalloc`` package, or None."""
    try:
        files = metadata.files("cmeel-mimalloc") or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name.startswith("libmimalloc.so"):
            path = Path(f.locate())
            if path.is_file():
                return str(path.resolve())
    return None


def active() -> str:
    """``"mimalloc"`` where this process has mimalloc loaded, else ``"system"``."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "system"
    return "mimalloc" if "libmimalloc" in maps else "system"


def reexec(args: list[str]) -> None:
    """Replace this process by ``python *args`` with mimalloc preloaded, on Linux where the
    library is installed; return (doing nothing) where it is not, where ``TRIPOST_ALLOCATOR``
    is set (``system``, or already ``mimalloc``: the restarted process), or where it is
    already loaded."""
    if sys.platform != "linux" or os.environ.get(ENV):
        return
    path = mimalloc_path()
    if path is None or active() == "mimalloc":
        return
    preload = " ".join(p for p in (path, os.environ.get("LD_PRELOAD", "")) if p)
    env = dict(os.environ, LD_PRELOAD=preload, **{ENV: "mimalloc"})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *args], env)
