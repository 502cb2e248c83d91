"""`accelerate launch` with two processes on the CPU (gloo): a run on a small real-architecture
checkpoint is killed and re-launched, finishes, and equals the one-process run (the same
rollouts, edits, training sets and evaluation outputs; losses within float rounding); data-
parallel training reduces gradients once per optimizer step, not once per micro-batch.

Two CPU processes come from accelerate's torchrun launcher (``--multi_gpu``, which falls back
to gloo on a host without a GPU): ``accelerate launch --cpu --num_processes 2`` starts a single
process (accelerate's CPU launcher needs ``mpirun`` for more).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from tests.real_model import build_checkpoint, task_texts
from tripost.config import load_config
from tripost.loop import run_tripost
from tripost.tasks import get_task

pytestmark = pytest.mark.multiprocess
TASK = get_task("multistep_arithmetic")

# fp32 everywhere: the two runs then differ only by the order of float sums (DDP's gradient
# reduction), far below what could change a sampled token. Rollouts come in 4 batches of 2, so
# each process decodes two of them; micro-batches of 1 make each step accumulate.
RUN = """
task: multistep_arithmetic
seed: 3
model: {{path: {path}, dtype: float32, device: cpu, threads: 1}}
data: {{train_problems: 32, eval_seen: 4, eval_unseen: 4}}
sft: {{steps: 4, batch_size: 8, micro_batch_size: 2, lr: 1.0e-3, bf16: false, log_every: 0}}
iterations: 1
methods: [sft, tripost]
rollout: {{problems: 8, max_new_tokens: 24, batch_size: 2}}
postprocess: {{ratio: null}}
train: {{steps: 3, batch_size: 4, micro_batch_size: 1, lr: 1.0e-3, bf16: false, log_every: 0}}
eval: {{rounds: 1, max_new_tokens: 24, batch_size: 2}}
"""

SAME_FILES = [
    "data/train.jsonl",
    "data/eval.jsonl",
    "eval/sft.jsonl",
    "iter1/rollouts.jsonl",
    "iter1/edits.jsonl",
    "iter1/train.jsonl",
    "eval/iter1.jsonl",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*args: str) -> list[str]:
    """``accelerate launch`` with two processes on a fresh rendezvous port."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        *args,
    ]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("llama") / "ckpt", task_texts(TASK))


def running(arg: str, wait_s: float = 10.0) -> list[int]:
    """Pids of the processes whose command line holds ``arg``, once they are gone or after
    ``wait_s``: torchrun starts each rank in a session of its own, out of the launcher's
    process group."""
    deadline = time.time() + wait_s
    while True:
        pids = []
        for proc in os.listdir("/proc"):
            try:
                cmdline = open(f"/proc/{proc}/cmdline", "rb").read().decode(errors="replace")
            except OSError:  # not a process, or gone
                continue
            if proc.isdigit() and arg in cmdline.split("\0"):
                pids.append(int(proc))
        if not pids or time.time() > deadline:
            return pids
        time.sleep(0.1)


def stages(out) -> dict:
    try:
        return json.loads((out / "manifest.json").read_text())["stages"]
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def test_two_processes_killed_and_relaunched_equal_one_process(ckpt, tmp_path):
    text = RUN.format(path=ckpt)
    (tmp_path / "c.yaml").write_text(text)
    one, two = tmp_path / "one", tmp_path / "two"
    run_tripost(load_config(None, yaml.safe_load(text)), one)

    cmd = launch("-m", "tripost", "run", "--config", str(tmp_path / "c.yaml"), "--out", str(two))
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(cmd, env=ENV, stdout=log, stderr=log, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and "sft" not in stages(two):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both ranks, mid-run
    proc.wait()
    # the ranks die with their launcher (they would otherwise run on, holding the lock)
    assert running(str(two)) == []
    killed = stages(two)
    left = set(two.rglob("*.tmp*"))  # a kill in the middle of a write may leave one
    assert "sft" in killed and "report" not in killed, (tmp_path / "killed.log").read_text()

    cmd = launch("-m", "tripost", "run", "--config", str(tmp_path / "c.yaml"), "--out", str(two))
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = stages(two)
    for name in killed:  # rank 0's view of what was done, followed by both ranks
        assert resumed[name]["finished_at"] == killed[name]["finished_at"], name
    assert "report" in resumed and (two / "report.json").exists()
    assert set(two.rglob("*.tmp*")) <= left and not (two / "run.lock").exists()
    assert done.stdout.count("wrote ") == 1  # rank 0 speaks for the run

    for rel in SAME_FILES:
        assert (two / rel).read_bytes() == (one / rel).read_bytes(), rel
    ref = stages(one)
    for name in ("sft", "iter1/train"):
        assert resumed[name]["steps"] == ref[name]["steps"]
        assert resumed[name]["tokens"] == ref[name]["tokens"]  # both processes' tokens
        assert resumed[name]["final_loss"] == pytest.approx(ref[name]["final_loss"], rel=1e-5)


SCRIPT = """
import json
import sys
import torch
from accelerate import Accelerator
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from tripost import processes
from tripost.policy.model import TinyModelConfig, build_tiny_policy
from tripost.training import Sample, TrainConfig, train_policy

# who computes what
computed = []


def work(i, x):
    computed.append(i)
    return [x * 10, processes.rank()]


out = processes.map_in_order(work, list(range(5)))
main = processes.on_main(processes.rank)
# one write per line: two unbuffered processes share the pipe, and print() writes its parts
# separately (a write of under PIPE_BUF bytes is never split)
shards = {"rank": processes.rank(), "computed": computed, "out": out, "main": main}
sys.stdout.write("SHARDS " + json.dumps(shards) + "\\n")

# how often data-parallel training reduces gradients
reduces = []
prepare_model = Accelerator.prepare_model


def counting(self, model, *args, **kwargs):
    model = prepare_model(self, model, *args, **kwargs)

    def hook(state, bucket):
        reduces.append(1)
        return allreduce_hook(state, bucket)

    model.register_comm_hook(None, hook)
    return model


Accelerator.prepare_model = counting
samples = [Sample((("Q: 1+%d=" % i, 0.0), ("A: %d" % (i + 1), 1.0))) for i in range(8)]
tiny = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
counts = {}
for micro in (1, 2):
    reduces.clear()
    cfg = TrainConfig(steps=3, batch_size=4, micro_batch_size=micro, bf16=False, log_every=0)
    train_policy(build_tiny_policy(tiny, seed=0), samples, cfg)
    counts[micro] = len(reduces)
sys.stdout.write("REDUCES " + json.dumps(counts) + "\\n")
# as the CLI does: leave the process group before the interpreter tears down (a rank that
# exits with gloo's threads running may abort, failing the launch)
processes.close()
"""


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> dict[str, list]:
    """SCRIPT's lines, by tag, from two processes under `accelerate launch`."""
    script = tmp_path_factory.mktemp("script") / "two.py"
    script.write_text(SCRIPT)
    done = subprocess.run(launch(str(script)), env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines: dict[str, list] = {}
    for line in done.stdout.splitlines():
        tag, _, payload = line.partition(" ")
        if tag in ("SHARDS", "REDUCES"):
            lines.setdefault(tag, []).append(json.loads(payload))
    return lines


def test_each_process_computes_its_share_and_all_get_every_result_in_order(two_processes):
    shards = sorted(two_processes["SHARDS"], key=lambda d: d["rank"])
    assert [d["computed"] for d in shards] == [[0, 2, 4], [1, 3]]
    for d in shards:
        assert d["out"] == [[0, 0], [10, 1], [20, 0], [30, 1], [40, 0]]
        assert d["main"] == 0  # rank 0's result, on every rank


def test_data_parallel_training_reduces_once_per_optimizer_step(two_processes):
    """Each process takes 2 samples of a 4-sample step: in micro-batches of 1 (accumulating
    over 2) the gradient is reduced as often as in micro-batches of 2 (the same single bucket
    of this small model per step), not twice as often."""
    counts = two_processes["REDUCES"]
    assert len(counts) == 2  # one line per process
    for c in counts:
        assert c["1"] == c["2"] > 0
