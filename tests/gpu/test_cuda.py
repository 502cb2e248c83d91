"""GPU paths (skipped without CUDA): the tiny model, and a real-architecture checkpoint in
bfloat16 on CUDA: both decoding engines, full and LoRA training, and a whole `tripost run`."""

import random

import pytest
import torch
import yaml

from tests.real_model import build_checkpoint, task_texts
from tripost.config import load_config
from tripost.loop import run_tripost
from tripost.policy.generation import Sampling, generate
from tripost.policy.model import TinyModelConfig, build_tiny_policy, load_policy
from tripost.tasks import get_task
from tripost.training import Sample, TrainConfig, train_policy
from tripost.trajectory import render_prompt

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]
TASK = get_task("multistep_arithmetic")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("llama") / "ckpt", task_texts(TASK))


def test_tiny_model_trains_and_decodes_on_cuda():
    policy = build_tiny_policy(
        TinyModelConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128)
    )
    policy.model.to("cuda")
    sample = Sample((("Q: 1+1\n", 0.0), ("(Final response) So the answer is 2.", 1.0)))
    cfg = TrainConfig(steps=80, batch_size=8, micro_batch_size=4, lr=1e-2, bf16=True, log_every=0)
    stats = train_policy(policy, [sample] * 8, cfg)
    assert policy.device.type == "cuda"
    assert stats["final_loss"] < 0.5
    for engine in ("loop", "hf"):
        out = generate(policy, ["Q: 1+1\n"] * 3, Sampling(40, bf16=True, engine=engine))
        assert out[0] == out[1] == out[2] and out[0].startswith("(Final response)")


def test_bf16_checkpoint_decodes_alike_with_both_engines_on_cuda(ckpt):
    policy = load_policy(ckpt, "auto", device="cuda", trainable=False)
    assert policy.model.dtype == torch.bfloat16 and policy.device.type == "cuda"
    rng = random.Random(0)
    prompts = [render_prompt(TASK.generate(rng, "seen").question) for _ in range(16)]
    outs = {e: generate(policy, prompts, Sampling(32, engine=e)) for e in ("loop", "hf")}
    same = sum(a == b for a, b in zip(outs["loop"], outs["hf"]))
    assert same >= 12, same  # bf16 kernels may differ in rare near-ties
    sampled = generate(policy, prompts, Sampling(32, 1.0, engine="hf"), seed=1)
    assert len(sampled) == 16


@pytest.mark.parametrize("lora", [None, {"r": 8, "lora_alpha": 16, "target_modules": "all-linear"}])
def test_training_on_cuda_in_bf16(ckpt, lora):
    dtype = "bfloat16" if lora else "float32"  # full fine-tune: float32 master weights
    policy = load_policy(ckpt, dtype, lora=lora, device="cuda")
    samples = [Sample(((t[:30], 0.0), (t[30:], 1.0))) for t in task_texts(TASK, 32)]
    cfg = TrainConfig(
        steps=30,
        batch_size=8,
        micro_batch_size=4,
        lr=3e-3,
        bf16=True,
        log_every=0,
        gradient_checkpointing=True,
    )
    first = train_policy(policy, samples, cfg.model_copy(update={"steps": 1}))["final_loss"]
    last = train_policy(policy, samples, cfg)["final_loss"]
    assert policy.device.type == "cuda" and last < first


def test_a_whole_run_on_cuda(ckpt, tmp_path):
    cfg = load_config(
        None,
        yaml.safe_load(f"""
task: multistep_arithmetic
model: {{path: {ckpt}, device: cuda, lora: {{r: 8, lora_alpha: 16}}}}
prompt: {{format: chat}}
data: {{train_problems: 64, eval_seen: 8, eval_unseen: 4}}
sft: {{steps: 10, batch_size: 8, micro_batch_size: 4, lr: 1.0e-3, log_every: 0}}
iterations: 2
rollout: {{problems: 16, max_new_tokens: 64, batch_size: 16}}
postprocess: {{ratio: null}}
train: {{steps: 4, batch_size: 8, micro_batch_size: 4, lr: 1.0e-3, log_every: 0}}
eval: {{rounds: 1, max_new_tokens: 64, batch_size: 16}}
"""),
    )
    report = run_tripost(cfg, tmp_path)
    assert {r["method"] for r in report["results"]} >= {"sft", "tripost", "sft_more"}
