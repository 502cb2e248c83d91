"""Batched generation with a KV cache, and self-improvement decoding.

Two engines, chosen per device (``Sampling.engine``; ``benchmarks/rollout_throughput.py``
measures both):

- ``loop``: our own short decoding loop. It drops finished rows from the batch (and from the KV
  cache) as they end, which matters when a few self-improving answers run long while most stop
  after one attempt, and appends to a preallocated cache instead of concatenating.
- ``hf``: transformers' ``generate``, the library path, for any architecture whose cache the loop
  does not handle (sliding-window and hybrid caches).

``auto`` takes ``loop`` on the CPU and ``hf`` on a GPU (see docs/real_models.md for why and what
was measured). Both stop on every EOS id of the tokenizer and of the model's
``generation_config`` (and on the chat template's end of turn), put BOS in front of a prompt
exactly when the tokenizer does so for ordinary text, and sample with the same settings (pure
temperature sampling: no top-k / top-p / repetition penalty from the model's defaults).
"""

from __future__ import annotations

import contextlib
import inspect
import logging

import torch
from transformers import DynamicCache, GenerationConfig

from tripost import processes
from tripost.hostspeed import bf16_pays, say_float32_once
from tripost.policy.model import Policy
from tripost.progress import progress
from tripost.settings import Engine as Engine
from tripost.settings import Sampling as Sampling
from tripost.trajectory import FEEDBACK_PREFIX, update_marker

log = logging.getLogger(__name__)


def autocast_context(device: torch.device, bf16: bool):
    """bf16 autocast on CPU or CUDA when asked and the device computes bf16 fast
    (``hostspeed.bf16_pays``: not on an AVX2 CPU, where a bf16 matmul is 60-100x slower than
    float32; said once in the log); a no-op otherwise."""
    if not bf16:
        return contextlib.nullcontext()
    if not bf16_pays(device.type):
        say_float32_once(device.type)
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def choose_engine(engine: Engine, device: torch.device) -> str:
    if engine != "auto":
        return engine
    return "loop" if device.type == "cpu" else "hf"


@torch.inference_mode()
def generate(
    policy: Policy,
    prompts: list[str],
    sampling: Sampling,
    seed: int | None = None,
    add_bos: bool = True,
    extra_stop_ids: list[int] = (),
) -> list[str]:
    """Continue each prompt until a stop token or ``max_new_tokens``; greedy when temperature
    is 0. Returns the continuations (without the prompt and the stop token), in input order.

    ``add_bos``: prepend BOS when the tokenizer adds it to ordinary text (the plain format; a
    chat template writes its own). ``extra_stop_ids``: more ids that end a sequence."""
    tok, model = policy.tokenizer, policy.model
    model.eval()
    device = policy.device
    engine = choose_engine(sampling.engine, device)
    stops = sorted(set(policy.stop_ids()) | set(extra_stop_ids))
    bos = policy.bos_ids() if add_bos else []
    encoded = [bos + tok.encode(p, add_special_tokens=False) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    step = max(1, sampling.batch_size)
    batches = [order[start : start + step] for start in range(0, len(order), step)]
    bar = progress(sum(len(b) for b in processes.my_share(batches)), unit="seq")

    def decode(k: int, idx: list[int]) -> list[str]:
        gen = None
        if seed is not None and sampling.temperature > 0:
            gen = torch.Generator(device=device).manual_seed(batch_seed(seed, k))
            if engine == "hf":
                torch.manual_seed(batch_seed(seed, k))
        batch = [encoded[i] for i in idx]
        if engine == "loop":
            seqs = _generate_batch(model, batch, tok.pad_token_id, stops, sampling, gen, device)
        else:
            seqs = _generate_hf(model, batch, tok.pad_token_id, stops, sampling, device)
        bar.update(len(idx), tokens=sum(len(s) for s in seqs))
        return [tok.decode(s, skip_special_tokens=True) for s in seqs]

    # under `accelerate launch` each process decodes its share of the batches
    texts = processes.map_in_order(decode, batches)
    bar.close()
    out: list[str] = [""] * len(prompts)
    for idx, batch_texts in zip(batches, texts):
        for i, text in zip(idx, batch_texts):
            out[i] = text
    return out


def batch_seed(seed: int, k: int) -> int:
    """The sampling seed of batch ``k`` (batch 0 keeps ``seed``). Each batch has its own
    generator, so a batch samples the same tokens whichever process decodes it, and a run
    sharded over N processes samples what one process samples."""
    return seed + k * 1_000_003


def _left_pad(batch_ids: list[list[int]], pad: int, device: torch.device):
    width = max(len(x) for x in batch_ids)
    input_ids = torch.full((len(batch_ids), width), pad, dtype=torch.long)
    attn = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for r, ids in enumerate(batch_ids):
        input_ids[r, width - len(ids) :] = torch.tensor(ids)
        attn[r, width - len(ids) :] = 1
    return input_ids.to(device), attn.to(device)


def _budget(model, width: int, max_new_tokens: int) -> int:
    max_positions = getattr(model.config, "max_position_embeddings", None) or 10**9
    return max(0, min(max_new_tokens, max_positions - width))


def generation_config(temperature: float, budget: int, stops: list[int], pad) -> GenerationConfig:
    """Our sampling for transformers' ``generate``: pure temperature sampling (no top-k / top-p
    from the model's defaults) or greedy, stopping on ``stops``."""
    sample = temperature > 0
    return GenerationConfig(
        max_new_tokens=budget,
        do_sample=sample,
        temperature=temperature if sample else None,
        top_k=0 if sample else None,
        top_p=1.0 if sample else None,
        eos_token_id=stops,
        pad_token_id=pad,
    )


def _generate_hf(model, batch_ids, pad, stops, sampling: Sampling, device) -> list[list[int]]:
    """transformers' ``generate`` with our sampling settings and stop ids."""
    input_ids, attn = _left_pad(batch_ids, pad, device)
    width = input_ids.shape[1]
    budget = _budget(model, width, sampling.max_new_tokens)
    if budget == 0:
        return [[] for _ in batch_ids]
    config = generation_config(sampling.temperature, budget, stops, pad)
    with autocast_context(device, sampling.bf16):
        out = model.generate(input_ids=input_ids, attention_mask=attn, generation_config=config)
    seqs = []
    stop_set = set(stops)
    for row in out[:, width:].tolist():
        cut = next((i for i, t in enumerate(row) if t in stop_set), len(row))
        seqs.append(row[:cut])
    return seqs


try:  # transformers >= 4.56: caches are made of layers
    from transformers.cache_utils import DynamicLayer
except ImportError:  # pragma: no cover - older transformers: plain DynamicCache
    DynamicLayer = None


if DynamicLayer is not None:

    class GrowingLayer(DynamicLayer):
        """A KV-cache layer that appends into a preallocated buffer (capacity doubles when
        full) and hands out views, instead of ``torch.cat`` on every token: concatenation
        copies the whole cache each step, which dominates decoding of long trajectories."""

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self._n, self._kbuf, self._vbuf = 0, None, None
            n, add = self._n, key_states.shape[-2]
            if self._kbuf is None or n + add > self._kbuf.shape[-2]:
                cap = max(256, 2 * (n + add))
                shape = (*key_states.shape[:-2], cap, key_states.shape[-1])
                kbuf = key_states.new_empty(shape)
                vbuf = value_states.new_empty(shape)
                if n:
                    kbuf[..., :n, :] = self._kbuf[..., :n, :]
                    vbuf[..., :n, :] = self._vbuf[..., :n, :]
                self._kbuf, self._vbuf = kbuf, vbuf
            self._kbuf[..., n : n + add, :] = key_states
            self._vbuf[..., n : n + add, :] = value_states
            self._n = n + add
            self.keys, self.values = self._kbuf[..., : self._n, :], self._vbuf[..., : self._n, :]
            return self.keys, self.values

        def batch_select_indices(self, indices):
            if self.is_initialized and self._n:
                self._kbuf, self._vbuf = self._kbuf[indices], self._vbuf[indices]
                self.keys = self._kbuf[..., : self._n, :]
                self.values = self._vbuf[..., : self._n, :]


def _new_cache() -> DynamicCache:
    cache = DynamicCache()
    if (
        DynamicLayer is not None
        and getattr(cache, "layer_class_to_replicate", None) is DynamicLayer
    ):
        cache.layer_class_to_replicate = GrowingLayer
    return cache


def _cache_kwarg(model) -> str:
    """transformers 5.x renamed ``past_key_values`` to ``cache``; accept both."""
    params = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _generate_batch(model, batch_ids, pad, stops, sampling: Sampling, gen, device):
    """Our KV-cache loop: finished rows leave the batch and the cache."""
    input_ids, attn = _left_pad(batch_ids, pad, device)
    budget = _budget(model, input_ids.shape[1], sampling.max_new_tokens)
    outputs: list[list[int]] = [[] for _ in batch_ids]
    if budget == 0:
        return outputs
    stop_set = set(stops)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    cache = _new_cache()
    ck = _cache_kwarg(model)
    rows = list(range(len(batch_ids)))  # which original rows are still active
    with autocast_context(device, sampling.bf16):
        logits = model(
            input_ids=input_ids, attention_mask=attn, position_ids=pos, **{ck: cache}
        ).logits[:, -1]
        for _ in range(budget):
            nxt = _sample(logits.float(), sampling.temperature, gen)  # (B,)
            tokens = nxt.tolist()  # the one host sync of a step
            live = [t not in stop_set for t in tokens]
            for r, t, alive in zip(rows, tokens, live):
                if alive:
                    outputs[r].append(t)
            if not any(live):
                break
            if not all(live):  # drop finished rows from the batch and the cache
                keep_list = [i for i, alive in enumerate(live) if alive]
                keep = torch.tensor(keep_list, device=device)
                rows = [rows[i] for i in keep_list]
                nxt, attn, pos = nxt[keep], attn[keep], pos[keep]
                cache.batch_select_indices(keep)
            attn = torch.cat([attn, torch.ones_like(attn[:, :1])], dim=1)
            pos = pos[:, -1:] + 1
            logits = model(
                input_ids=nxt[:, None], attention_mask=attn, position_ids=pos, **{ck: cache}
            ).logits[:, -1]
    return outputs


def _sample(logits: torch.Tensor, temperature: float, gen: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(-1)


def truncate_rounds(continuation: str, max_rounds: int, instruction: str = "") -> str:
    """Cut a self-improvement continuation after ``max_rounds`` updates (the last kept update
    keeps its feedback if the model wrote one)."""
    marker = update_marker(instruction)
    parts = continuation.split(marker)
    if len(parts) <= max_rounds + 1:
        return continuation
    kept = marker.join(parts[: max_rounds + 1])
    return kept


__all__ = ["FEEDBACK_PREFIX", "Sampling", "autocast_context", "generate", "truncate_rounds"]
