"""`accelerate launch` on two GPUs (skipped with fewer): DDP and FSDP runs of a small
real-architecture checkpoint finish, write the rollouts of one process, and save checkpoints
with every weight (FSDP's gathered on rank 0) that load and decode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.integration.test_multiprocess import free_port
from tests.real_model import build_checkpoint, task_texts
from tripost.policy.generation import Sampling, generate
from tripost.policy.model import load_policy
from tripost.tasks import get_task

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs"),
]
TASK = get_task("multistep_arithmetic")
ROOT = Path(__file__).parents[2]

RUN = """
task: multistep_arithmetic
model: {{path: {path}, dtype: float32, device: auto}}
data: {{train_problems: 32, eval_seen: 4, eval_unseen: 4}}
sft: {{steps: 4, batch_size: 8, micro_batch_size: 2, lr: 1.0e-3, bf16: true, log_every: 0}}
iterations: 1
methods: [sft, tripost]
rollout: {{problems: 8, max_new_tokens: 24, batch_size: 2}}
postprocess: {{ratio: null}}
train: {{steps: 2, batch_size: 4, micro_batch_size: 1, lr: 1.0e-3, bf16: true, log_every: 0}}
eval: {{rounds: 1, max_new_tokens: 24, batch_size: 2}}
"""


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("llama") / "ckpt", task_texts(TASK))


@pytest.mark.parametrize("config", [None, "fsdp.yaml"])
def test_two_gpus_run_and_save_whole_checkpoints(ckpt, tmp_path, config):
    (tmp_path / "c.yaml").write_text(RUN.format(path=ckpt))
    out = tmp_path / "run"
    backend = ["--config_file", str(ROOT / "examples" / "accelerate" / config)] if config else []
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *(backend or ["--multi_gpu"]),
        "--num_processes",
        "2",
        "--main_process_port",
        str(free_port()),
        "-m",
        "tripost",
        "run",
        "--config",
        str(tmp_path / "c.yaml"),
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert stages["iter1/rollouts"]["rollouts"] == 8 and stages["iter1/train"]["steps"] == 2
    base = load_file(ckpt / "model.safetensors")
    for name in ("sft", "iter1"):
        saved = load_file(out / "checkpoints" / name / "model.safetensors")
        assert saved.keys() == base.keys()
        assert all(saved[k].shape == base[k].shape for k in base)
        policy = load_policy(out / "checkpoints" / name, "float32", device="cuda", trainable=False)
        assert len(generate(policy, ["Q: 1 + 2 ="], Sampling(8))) == 1
