"""What each process of a multi-process run may do, checked in one process: the read-only view
of the run directory the ranks other than 0 use writes nothing; a batch samples the same tokens
whichever process decodes it; settings that cannot be split across processes fail before
anything is written. (Two real processes: tests/integration/test_multiprocess.py.)"""

from __future__ import annotations

import pytest
import yaml

from tripost.config import ConfigError, load_config
from tripost.loop import run_tripost
from tripost.policy.generation import Sampling, batch_seed, generate
from tripost.policy.model import ModelLoadError, TinyModelConfig, build_tiny_policy, resolve_device
from tripost.rundir import RunDir

TINY = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


def snapshot(root) -> dict:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in root.rglob("*")
    }


def test_a_read_only_run_dir_writes_nothing(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.write_jsonl("data/train.jsonl", [{"a": 1}])
    rd.mark("data", {"train": 1})
    before = snapshot(tmp_path)

    ro = RunDir(tmp_path / "run", writer=False)
    assert ro.read_jsonl("data/train.jsonl") == [{"a": 1}] and ro.done("data")
    ro.write_jsonl("iter1/rollouts.jsonl", [{"b": 2}])
    ro.write_json("eval/sft.metrics.json", {"results": []})
    ro.mark("iter1/rollouts", {"rollouts": 1})
    ro.forget("data")
    ro.remove("data/train.jsonl")
    ro.path("logs/x.jsonl")
    ro.write_dir("checkpoints/sft", lambda tmp: pytest.fail("a read-only view filled a directory"))
    assert snapshot(tmp_path) == before
    RunDir(tmp_path / "other", writer=False)
    assert not (tmp_path / "other").exists()


def test_a_batch_samples_the_same_tokens_whichever_process_decodes_it():
    policy = build_tiny_policy(TINY, seed=1)
    prompts = ["Q: 1 + 2 =", "Q: 12 + 3 =", "Q: 7 + 40 + 1 =", "Q: 100 + 200 + 300 ="]
    sampling = Sampling(max_new_tokens=12, temperature=1.0, batch_size=2)
    whole = generate(policy, prompts, sampling, seed=5)
    # prompts are batched by length: batch 1 holds the two longest; decoded alone (as another
    # process decodes it) with that batch's seed, it samples what it sampled in the whole run
    alone = generate(policy, prompts[2:], sampling, seed=batch_seed(5, 1))
    assert alone == whole[2:]
    assert generate(policy, prompts[:2], sampling, seed=5) == whole[:2]
    assert generate(policy, prompts[2:], sampling, seed=5) != alone  # the seed matters


RUN = """
task: multistep_arithmetic
model: {tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}}
data: {train_problems: 4, eval_seen: 2, eval_unseen: 1}
sft: {steps: 1, batch_size: 4, micro_batch_size: 2, bf16: false, log_every: 0}
iterations: 1
train: {steps: 1, batch_size: 6, micro_batch_size: 2, bf16: false, log_every: 0}
"""


def test_a_batch_the_processes_cannot_share_fails_before_anything_is_written(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "3")  # as `accelerate launch --num_processes 3` sets it
    monkeypatch.setenv("RANK", "0")
    cfg = load_config(None, yaml.safe_load(RUN))
    with pytest.raises(ConfigError, match=r"sft.batch_size: 4 is not a multiple of the 3 proc"):
        run_tripost(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_pinned_gpu_is_refused_under_several_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ModelLoadError, match="puts every process of the run on one GPU"):
        resolve_device("cuda:0")
    assert resolve_device("cpu").type == "cpu"


def test_new_lora_adapters_start_from_the_run_seed(tmp_path):
    """Every rank (and every re-run) builds the same adapters: their random init is seeded."""
    from safetensors.torch import load_file

    from tests.real_model import build_checkpoint, task_texts
    from tripost.loop import make_data, train_sft
    from tripost.tasks import get_task

    task = get_task("multistep_arithmetic")
    ckpt = build_checkpoint(tmp_path / "ckpt", task_texts(task, 40))
    text = RUN.replace(
        "model: {tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}}",
        f"model: {{path: {ckpt}, dtype: float32, lora: {{r: 2, target_modules: [q_proj]}}}}",
    ).replace("steps: 1, batch_size: 4", "steps: 0, batch_size: 4")
    weights = []
    for name in ("a", "b"):
        rd = RunDir(tmp_path / name)
        cfg = load_config(None, yaml.safe_load(text))
        make_data(rd, task, cfg)
        train_sft(rd, task, cfg)
        weights.append(load_file(tmp_path / name / "checkpoints/sft/adapter_model.safetensors"))
    assert weights[0].keys() == weights[1].keys() and weights[0]
    assert all(weights[0][k].equal(weights[1][k]) for k in weights[0])
    assert any(w.abs().sum() > 0 for w in weights[0].values())  # a random init, not zeros
