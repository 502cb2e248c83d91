"""Several processes of one run under ``accelerate launch``: who does what.

Every process runs the same loop over the same stages; this module is the one place that says
which process does what (README, "Scaling out"):

- rank 0 owns the run directory: it takes the lock, decides which stages are done (the others
  follow its view, broadcast at each stage), runs the stages that call experts or only write
  files (data, editing, post-processing, report) while the others wait, and writes every file;
  the other ranks open the directory read-only (``RunDir(..., writer=False)``);
- generation is sharded: ``map_in_order`` gives each rank every ``world_size``-th batch and
  hands every rank all the outputs in the original order;
- training is data-parallel through accelerate (``training.py``).

Without ``accelerate launch`` (``WORLD_SIZE`` or MPI's size unset or 1) every helper runs its work in this
process and nothing of ``torch.distributed`` is touched.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Ranks other than 0 wait at a barrier while rank 0 alone runs a stage; an LLM expert editing
# thousands of rollouts can take hours, so the wait must not time out after torch's default.
WAIT = timedelta(hours=24)


def _env_int(names: tuple[str, ...], default: int) -> int:
    """The first of ``names`` set in the environment: torchrun's, else MPI's (accelerate's
    ``--cpu`` launcher runs several processes through ``mpirun``)."""
    for name in names:
        if os.environ.get(name, "").strip():
            return int(os.environ[name])
    return default


def world_size() -> int:
    return _env_int(("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"), 1)


def rank() -> int:
    return _env_int(("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"), 0)


def is_main() -> bool:
    return rank() == 0


def local_rank() -> int:
    names = (
        "LOCAL_RANK",
        "MPI_LOCALRANKID",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MV2_COMM_WORLD_LOCAL_RANK",
    )
    return _env_int(names, 0)


def follow_launcher() -> None:
    """Under ``accelerate launch``, die with the launcher. torchrun starts each process in a
    session of its own, so a launcher killed by SIGKILL (which it cannot pass on) would leave
    the processes running, one of them holding the run directory's lock; the kernel kills
    this process when its parent dies instead (Linux; elsewhere nothing is done)."""
    if world_size() == 1 or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the launcher died before the call
        os.kill(os.getpid(), signal.SIGKILL)


_GROUP = None


def _group():
    """The process group the ranks coordinate through: gloo, on the CPU, so that ranks waiting
    for rank 0 (an expert, an inference server on their GPUs) hold no GPU collective spinning;
    accelerate's state joins the default group first (nccl on GPUs, gloo on CPUs)."""
    global _GROUP
    if _GROUP is None:
        import torch
        import torch.distributed as dist
        from accelerate import PartialState

        # processes on the CPU (``--cpu``, or a host without a GPU) train through gloo too, and
        # then coordinate through the default group; training on GPUs keeps NCCL's own timeout
        cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true"
        cpu = cpu or not torch.cuda.is_available()
        PartialState(cpu=cpu, **({"timeout": WAIT} if cpu else {}))
        gloo = dist.get_backend() == "gloo"
        _GROUP = dist.GroupMember.WORLD if gloo else dist.new_group(backend="gloo", timeout=WAIT)
    return _GROUP


def close() -> None:
    """Leave the process group at the end of a command under ``accelerate launch``, so that its
    threads stop before the interpreter tears down: a rank that exited with them running was
    once seen to abort after a finished run (``terminate called without an active exception``,
    exit code -6, the launcher then failing the whole command)."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier(group=_group())  # no rank leaves while another still talks to it
        dist.destroy_process_group()


def barrier() -> None:
    if world_size() > 1:
        import torch.distributed as dist

        dist.barrier(group=_group())


def on_main(fn: Callable[[], R]) -> R:
    """``fn()`` run by rank 0 alone; every rank returns its result (picklable)."""
    if world_size() == 1:
        return fn()
    import torch.distributed as dist

    box = [fn() if is_main() else None]
    dist.broadcast_object_list(box, src=0, group=_group())
    return box[0]


def map_in_order(fn: Callable[[int, T], R], items: Sequence[T]) -> list[R]:
    """``[fn(i, x) for i, x in enumerate(items)]`` with rank r computing items r, r + n, ...
    (n processes); every rank gets all the results, in the order of ``items``. Round robin
    keeps the shares even when items grow in size along the list (batches sorted by length)."""
    n, r = world_size(), rank()
    mine = [(i, fn(i, items[i])) for i in range(r, len(items), n)]
    if n == 1:
        return [y for _, y in mine]
    import torch.distributed as dist

    shares: list = [None] * n
    dist.all_gather_object(shares, mine, group=_group())
    return [y for _, y in sorted((p for share in shares for p in share), key=lambda p: p[0])]


def my_share(items: Sequence[T]) -> list[T]:
    """The items ``map_in_order`` gives this process."""
    return list(items[rank() :: world_size()])
