"""`tripost run` with ``model.path`` on a small real-architecture checkpoint (Llama with
grouped-query attention, byte-level BPE tokenizer with BOS, EOS, no pad, a chat template):
LoRA across two iterations, killed mid-run and resumed; the chat format with full fine-tuning;
every checkpoint reloads and still trains; `tripost eval` on a run's checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from tests.real_model import build_checkpoint, task_texts
from tripost.cli import main
from tripost.config import load_config
from tripost.loop import load_checkpoint, run_tripost
from tripost.policy.model import load_policy
from tripost.rundir import RunDir
from tripost.tasks import get_task
from tripost.training import Sample, TrainConfig, train_policy

TASK = get_task("multistep_arithmetic")

RUN = """
task: multistep_arithmetic
model:
  path: {path}
  dtype: auto
  lora: {lora}
  device: cpu
  threads: 1
prompt: {{format: {fmt}}}
data: {{train_problems: 48, eval_seen: 3, eval_unseen: 2}}
sft: {{steps: 6, batch_size: 4, micro_batch_size: 2, lr: 1.0e-3, bf16: true, log_every: 0}}
iterations: {iterations}
rollout: {{problems: 6, max_new_tokens: 24, batch_size: 6}}
postprocess: {{ratio: null}}
train: {{steps: 2, batch_size: 4, micro_batch_size: 2, lr: 1.0e-3, bf16: true, log_every: 0}}
eval: {{rounds: 1, max_new_tokens: 24, batch_size: 8}}
"""
LORA = "{r: 4, lora_alpha: 8, target_modules: [q_proj, k_proj, v_proj, o_proj]}"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("llama") / "ckpt", task_texts(TASK))


def still_trains(path) -> None:
    policy = load_policy(path, "float32")
    before = [p.detach().clone() for p in policy.model.parameters() if p.requires_grad]
    assert before
    samples = [Sample(((t[:30], 0.0), (t[30:], 1.0))) for t in task_texts(TASK, 4)]
    cfg = TrainConfig(steps=1, batch_size=4, micro_batch_size=4, lr=1e-2, bf16=False, log_every=0)
    train_policy(policy, samples, cfg)
    after = [p for p in policy.model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(before, after))


def test_lora_run_killed_and_resumed(ckpt, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(RUN.format(path=ckpt, lora=LORA, fmt="plain", iterations=2))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tripost.cli", "run", "--config", str(cfg), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "manifest.json"
    deadline = time.time() + 240
    stages: dict = {}
    while time.time() < deadline and proc.poll() is None:
        if manifest.exists():
            stages = json.loads(manifest.read_text())["stages"]
            if "iter1/train" in stages:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # killed after iteration 1 trained, before the run ended
    proc.wait()
    assert "iter1/train" in stages and "report" not in stages
    trained = stages["iter1/train"]["finished_at"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    stages = json.loads(manifest.read_text())["stages"]
    assert stages["iter1/train"]["finished_at"] == trained  # not redone
    assert stages["iter2/train"]["steps"] == 2  # LoRA kept training in iteration 2
    assert not list(out.rglob("*.tmp"))
    for name in ("sft", "iter1", "iter2", "sft_more"):
        d = out / "checkpoints" / name
        adapter = json.loads((d / "adapter_config.json").read_text())
        assert adapter["base_model_name_or_path"] == str(ckpt.resolve())
        still_trains(d)
    # plain transformers loads an adapter directory too (base + adapter, through peft)
    model = AutoModelForCausalLM.from_pretrained(out / "checkpoints" / "iter2")
    assert hasattr(model, "peft_config")
    rc = main(
        [
            "eval",
            "--model",
            str(out / "checkpoints" / "iter2"),
            "--task",
            "multistep_arithmetic",
            "--data",
            str(out / "data" / "eval.jsonl"),
            "--dtype",
            "float32",
            "--max-new-tokens",
            "16",
            "--out",
            str(tmp_path / "ev"),
        ]
    )
    assert rc == 0
    assert json.loads((tmp_path / "ev" / "report.json").read_text())["results"][-1]["n"] == 5


def test_chat_format_full_fine_tune(ckpt, tmp_path):
    text = RUN.format(path=ckpt, lora="null", fmt="chat", iterations=1)
    cfg = load_config(None, yaml.safe_load(text))
    run_tripost(cfg, tmp_path)
    sft = tmp_path / "checkpoints" / "sft"
    assert (sft / "model.safetensors").exists()
    assert json.loads((sft / "tripost.json").read_text())["prompt"]["format"] == "chat"
    # the full fine-tune trained float32 master weights: the checkpoint keeps them
    model = AutoModelForCausalLM.from_pretrained(sft)
    assert model.dtype == torch.float32
    # decoding runs in the checkpoint's own dtype (auto = the base model's bfloat16)
    assert load_checkpoint(RunDir(tmp_path), "iter1", cfg).model.dtype == torch.bfloat16
    still_trains(tmp_path / "checkpoints" / "iter1")
    report = json.loads((tmp_path / "report.json").read_text())
    assert {r["method"] for r in report["results"]} == {"sft", "tripost", "sft_more"}


def test_a_missing_model_path_fails_before_anything_is_written(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(RUN.format(path=tmp_path / "nope", lora="null", fmt="plain", iterations=1))
    rc = main(["run", "--config", str(cfg), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no such model directory" in err and "\n" not in err
    assert not (tmp_path / "run").exists()
