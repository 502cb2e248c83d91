"""GPU paths: training with bf16 autocast and KV-cache decoding on CUDA (skipped without CUDA)."""

import pytest
import torch

from tripost.policy.generation import generate
from tripost.policy.model import TinyModelConfig, build_tiny_policy
from tripost.training import Sample, TrainConfig, train_policy

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_training_and_generation_run_on_cuda():
    policy = build_tiny_policy(
        TinyModelConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128)
    )
    policy.model.to("cuda")
    sample = Sample((("Q: 1+1\n", 0.0), ("(Final response) So the answer is 2.", 1.0)))
    cfg = TrainConfig(steps=80, batch_size=8, micro_batch_size=4, lr=1e-2, bf16=True, log_every=0)
    stats = train_policy(policy, [sample] * 8, cfg)
    assert next(policy.model.parameters()).device.type == "cuda"
    assert stats["final_loss"] < 0.5
    out = generate(policy, ["Q: 1+1\n"] * 3, 40, bf16=True)
    assert out[0] == out[1] == out[2] and out[0].startswith("(Final response)")
