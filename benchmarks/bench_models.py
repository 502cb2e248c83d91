"""Models and data shared by the rollout and training benchmarks.

- ``tiny``: the demo's model (d=128, 4 layers, character tokenizer), random weights;
- ``llama-1.5b``: a randomly initialised model of Qwen2.5-1.5B's shape (d=1536, 28 layers,
  12 query / 2 key-value heads, MLP 8960, vocabulary 151,936), tokenized with a byte-level BPE
  tokenizer trained here (a smaller vocabulary than the model's: token ids only, never decoded);
- a directory: any local checkpoint.
"""

from __future__ import annotations

import platform
import random
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.real_model

from tests.real_model import bpe_tokenizer, task_texts  # noqa: E402
from tripost.policy.model import Policy, TinyModelConfig, build_tiny_policy, load_policy  # noqa: E402
from tripost.tasks import get_task  # noqa: E402
from tripost.trajectory import render_prompt  # noqa: E402

TASK = get_task("multistep_arithmetic")


def build_model(name: str, device: str, dtype: torch.dtype) -> Policy:
    if name == "tiny":
        policy = build_tiny_policy(TinyModelConfig())
        policy.model.to(device=device, dtype=dtype)
        return policy
    if name == "llama-1.5b":
        tok = bpe_tokenizer(task_texts(TASK, 300), vocab_size=2000)
        tok.pad_token = tok.eos_token
        config = LlamaConfig(
            vocab_size=151936,
            hidden_size=1536,
            intermediate_size=8960,
            num_hidden_layers=28,
            num_attention_heads=12,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            tie_word_embeddings=True,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        torch.manual_seed(0)
        with torch.device(device):
            model = LlamaForCausalLM(config).to(dtype)
        return Policy(model, tok)
    return load_policy(name, dtype, device=device)


def prompts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [render_prompt(TASK.generate(rng, "seen").question) for _ in range(n)]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def machine(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    return (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads "
        f"(torch {torch.__version__})"
    )


def arithmetic_demo_setup(n: int, style: str = "ops"):
    """The arithmetic demo's model (d=256, 4 layers, number tokens, random weights) and the
    weighted gold samples of ``n`` seen problems in ``style``: ``(policy, samples)``."""
    from tripost.loop import gold_samples
    from tripost.training import LossWeights

    task = get_task("multistep_arithmetic", style=style)
    rng = random.Random(0)
    problems = [task.generate(rng, "seen") for _ in range(n)]
    samples = gold_samples(task, problems, LossWeights())
    texts = [render_prompt(p.question) + task.solve(p).render() for p in problems]
    tiny = TinyModelConfig(
        hidden_size=256, num_layers=4, num_heads=8, intermediate_size=688, tokenizer="number"
    )
    return build_tiny_policy(tiny, texts=texts), samples
