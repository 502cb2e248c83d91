"""The shipped example configs for real models validate, and peft accepts their LoRA settings."""

from pathlib import Path

import pytest

from tripost.config import load_config
from tripost.policy.model import lora_config

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_is_valid(path):
    cfg = load_config(path)
    assert cfg.model.path and cfg.model.dtype == "bfloat16"
    assert "llm" in (cfg.expert.feedback, cfg.expert.improvement)
    assert cfg.train.lr <= 1e-4 and cfg.train.gradient_checkpointing
    if cfg.model.lora:
        assert lora_config(cfg.model.lora).r == cfg.model.lora["r"]


def test_there_is_a_full_and_a_lora_example():
    kinds = {load_config(p).model.lora is None for p in EXAMPLES}
    assert kinds == {True, False}
