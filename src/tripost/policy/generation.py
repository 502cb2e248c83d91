"""Batched generation with a KV cache, and self-improvement decoding.

Our own short decoding loop rather than ``model.generate``: it drops finished rows from the
batch (and from the KV cache) as they end, which matters when a few self-improving answers run
long while most stop after one attempt.
"""

from __future__ import annotations

import contextlib
import inspect
import logging

import torch
from transformers import DynamicCache

from tripost.policy.model import Policy
from tripost.progress import progress
from tripost.trajectory import FEEDBACK_PREFIX, STOP_PHRASE, UPDATE_PREFIX

log = logging.getLogger(__name__)


def autocast_context(device: torch.device, bf16: bool):
    """bf16 autocast on CPU or CUDA when asked; a no-op otherwise."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.inference_mode()
def generate(
    policy: Policy,
    prompts: list[str],
    max_new_tokens: int,
    temperature: float = 0.0,
    batch_size: int = 64,
    bf16: bool = False,
    seed: int | None = None,
) -> list[str]:
    """Continue each prompt until EOS or ``max_new_tokens``; greedy when temperature is 0.
    Returns the continuations (without the prompt and without EOS), in input order."""
    tok, model = policy.tokenizer, policy.model
    model.eval()
    gen = None
    if seed is not None and temperature > 0:
        gen = torch.Generator(device=model.device).manual_seed(seed)
    encoded = [tok.encode(p, add_special_tokens=False) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    out: list[str] = [""] * len(prompts)
    bar = progress(len(prompts), unit="seq")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        seqs = _generate_batch(
            model, [encoded[i] for i in idx], tok, max_new_tokens, temperature, bf16, gen
        )
        for i, s in zip(idx, seqs):
            out[i] = tok.decode(s, skip_special_tokens=True)
        bar.update(len(idx), tokens=sum(len(s) for s in seqs))
    bar.close()
    return out


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


def _generate_batch(model, batch_ids, tok, max_new_tokens, temperature, bf16, gen):
    device = model.device
    pad, eos = tok.pad_token_id, tok.eos_token_id
    max_positions = getattr(model.config, "max_position_embeddings", None) or 10**9
    width = max(len(x) for x in batch_ids)
    max_new_tokens = min(max_new_tokens, max_positions - width)
    input_ids = torch.full((len(batch_ids), width), pad, dtype=torch.long)
    attn = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for r, ids in enumerate(batch_ids):  # left padding
        input_ids[r, width - len(ids) :] = torch.tensor(ids)
        attn[r, width - len(ids) :] = 1
    input_ids, attn = input_ids.to(device), attn.to(device)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    cache = _new_cache()
    ck = _cache_kwarg(model)
    rows = torch.arange(len(batch_ids), device=device)  # which original rows are still active
    outputs: list[list[int]] = [[] for _ in batch_ids]
    with autocast_context(device, bf16):
        logits = model(
            input_ids=input_ids, attention_mask=attn, position_ids=pos, **{ck: cache}
        ).logits[:, -1]
        for _ in range(max_new_tokens):
            nxt = _sample(logits.float(), temperature, gen)  # (B,)
            done = nxt == eos
            for r, t in zip(rows.tolist(), nxt.tolist()):
                if t != eos:
                    outputs[r].append(t)
            if done.all():
                break
            if done.any():  # drop finished rows from the batch and the cache
                keep = (~done).nonzero().squeeze(-1)
                rows, nxt, attn, pos = rows[keep], nxt[keep], attn[keep], pos[keep]
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
    marker = f"\n{UPDATE_PREFIX}{instruction}\n"
    parts = continuation.split(marker)
    if len(parts) <= max_rounds + 1:
        return continuation
    kept = marker.join(parts[: max_rounds + 1])
    return kept


def says_correct(feedback_text: str) -> bool:
    """Whether a (model-written) feedback text ends the trajectory."""
    return STOP_PHRASE in feedback_text


__all__ = ["FEEDBACK_PREFIX", "autocast_context", "generate", "says_correct", "truncate_rounds"]
