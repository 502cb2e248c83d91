"""Weighted SFT on ``accelerate`` (docs/design.md §4.4).

A training sample is text split into weighted segments: the prompt (weight ``prompt_weight``,
0 by default), the attempt (1, or ``wrong_attempt_weight`` for a wrong attempt that is followed by
feedback), and everything from the first ``Feedback:`` on (``w``, the paper's 1.5). EOS is appended
when the sample ends a trajectory so the model learns to stop.

The loss is normalised by the number of supervised tokens of the whole optimizer step, so
splitting a step into micro-batches (or processes) does not change the gradient.

Under ``accelerate launch`` training is data-parallel (DDP, or FSDP / DeepSpeed ZeRO from the
accelerate config): each process takes an equal share of every step's samples, gradients are
reduced once per optimizer step (not per micro-batch), and the full weights are gathered for
the checkpoint rank 0 saves.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedType
from torch.utils.checkpoint import checkpoint

from tripost.policy.generation import autocast_context
from tripost.policy.model import Policy
from tripost.progress import progress, time_left
from tripost.settings import LossWeights as LossWeights
from tripost.settings import TrainConfig as TrainConfig
from tripost.tracking import log_step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """Text segments with loss weights; ``eos`` appends EOS (weight of the last segment).
    ``whole``: tokenize the text as a whole, as generation does; ``False`` tokenizes segment by
    segment (drills whose segments are meant to be one token each)."""

    segments: tuple[tuple[str, float], ...]
    eos: bool = True
    whole: bool = True

    @property
    def text(self) -> str:
        return "".join(s for s, _ in self.segments)


def weighted_sft_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, num_tokens: float
) -> torch.Tensor:
    """Sum over tokens of ``weight * cross-entropy``, divided by ``num_tokens``.

    logits (B, T, V) predict labels (B, T) at the same positions (already shifted); weights (B, T)
    is 0 on unsupervised positions (prompt, padding). ``num_tokens`` counts supervised tokens of
    the whole optimizer step, across micro-batches and processes.
    """
    ce = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), reduction="none")
    return (ce * weights.flatten()).sum() / max(num_tokens, 1.0)


def chunked_weighted_sft_loss(
    hidden: torch.Tensor,
    head: torch.nn.Module,
    labels: torch.Tensor,
    weights: torch.Tensor,
    num_tokens: float,
    chunk: int = 1024,
) -> torch.Tensor:
    """``weighted_sft_loss(head(hidden), ...)`` without the logits of the whole batch.

    Only positions with a non-zero weight are projected, ``chunk`` of them at a time, and each
    chunk's logits are recomputed in the backward pass instead of kept (activation
    checkpointing), so memory holds one chunk's fp32 logits (chunk x vocabulary) instead of
    B x T x vocabulary. Equal to the plain loss up to float rounding (tested).
    """
    keep = weights.flatten() != 0
    if not keep.any():  # one position at weight 0 keeps every parameter in the graph (DDP
        keep[0] = True  # waits for the gradient of each; backward needs a graph at all)
    h = hidden.flatten(0, 1)[keep]
    y, w = labels.flatten()[keep], weights.flatten()[keep]
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, h.shape[0], max(1, chunk)):
        sl = slice(start, start + chunk)
        total = total + checkpoint(_chunk_loss, h[sl], head, y[sl], w[sl], use_reentrant=False)
    return total / max(num_tokens, 1.0)


def _chunk_loss(h, head, y, w):
    ce = F.cross_entropy(head(h).float(), y, reduction="none")
    return (ce * w).sum()


def encode_sample(
    sample: Sample, tokenizer, max_length: int, bos: list[int] = (), cache: dict | None = None
) -> tuple[list[int], list[float]]:
    """Token ids and per-token weights of a sample. The weight of token t is the weight of
    the segment it belongs to (the highest one when it spans several); it is used when t is
    *predicted* (label position). ``bos``: ids put in front (weight 0), e.g. ``[bos]`` for
    tokenizers that add BOS to ordinary text. ``cache``: segment text -> ids for samples
    tokenized segment by segment, shared by the samples of a stage (the copying stage's
    samples are thousands of one-token segments of a few hundred texts).

    The text is tokenized as a whole, so a token that spans two segments (``".\n"`` where an
    answer ends and its feedback begins) is the token generation produces there; the weights
    come from the tokens' character offsets. Tokenizers without offsets (slow ones) and
    samples with ``whole=False`` are tokenized segment by segment."""
    ids: list[int] = list(bos)
    weights: list[float] = [0.0] * len(ids)
    if sample.whole and getattr(tokenizer, "is_fast", False):
        t, w = _encode_whole(sample, tokenizer)
        ids += t
        weights += w
    else:
        for text, w in sample.segments:
            t = cache.get(text) if cache is not None else None
            if t is None:
                t = tokenizer.encode(text, add_special_tokens=False)
                if cache is not None and len(text) <= 32:
                    cache[text] = t
            ids += t
            weights += [w] * len(t)
    if sample.eos:
        ids.append(tokenizer.eos_token_id)
        weights.append(sample.segments[-1][1])
    return ids[:max_length], weights[:max_length]


def _encode_whole(sample: Sample, tokenizer) -> tuple[list[int], list[float]]:
    """Ids of the whole text, each weighted by the segments its characters come from."""
    char_w: list[float] = []
    for text, w in sample.segments:
        char_w += [w] * len(text)
    enc = tokenizer(sample.text, add_special_tokens=False, return_offsets_mapping=True)
    weights, last = [], sample.segments[0][1] if sample.segments else 0.0
    for start, end in enc["offset_mapping"]:
        if end > start:
            last = max(char_w[start:end])
        weights.append(last)  # a token with no characters of its own: its neighbour's weight
    return enc["input_ids"], weights


def batch_order(
    rng: random.Random, lengths: list[int], cfg: TrainConfig, head: Sequence[int] = ()
) -> list[int]:
    """``head`` (the samples not yet taken) followed by one epoch of sample indices in
    shuffled order. With ``cfg.length_groups`` = G > 1, each run of G batches is regrouped so
    that a batch holds samples of similar length (the full batches of a run in random order, a
    short last one at the end, so that the next epoch starts on a batch boundary)."""
    order = list(head) + rng.sample(range(len(lengths)), len(lengths))
    if cfg.length_groups <= 1:
        return order
    size, out = cfg.length_groups * cfg.batch_size, []
    for start in range(0, len(order), size):
        run = sorted(order[start : start + size], key=lambda i: lengths[i])
        batches = [run[k : k + cfg.batch_size] for k in range(0, len(run), cfg.batch_size)]
        short = batches.pop() if len(batches[-1]) < cfg.batch_size else []
        rng.shuffle(batches)
        out += [i for b in batches for i in b] + short
    return out


def collate(encoded: list[tuple[list[int], list[float]]], pad_id: int):
    """Right-padded (input_ids, labels, weights), shifted so position t predicts token t+1."""
    width = max(len(ids) for ids, _ in encoded) - 1
    B = len(encoded)
    inputs = torch.full((B, width), pad_id, dtype=torch.long)
    labels = torch.zeros((B, width), dtype=torch.long)
    weights = torch.zeros((B, width), dtype=torch.float)
    attn = torch.zeros((B, width), dtype=torch.long)
    for r, (ids, w) in enumerate(encoded):
        n = len(ids) - 1
        inputs[r, :n] = torch.tensor(ids[:-1])
        labels[r, :n] = torch.tensor(ids[1:])
        weights[r, :n] = torch.tensor(w[1:])
        attn[r, :n] = 1
    return inputs, attn, labels, weights


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up then linear decay to ``min_lr_ratio``."""
    warm = max(1, int(cfg.warmup * total))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    return cfg.lr * (1 - (1 - cfg.min_lr_ratio) * frac)


def train_policy(
    policy: Policy,
    samples: list[Sample],
    cfg: TrainConfig,
    seed: int = 0,
    prompt_format=None,
) -> dict[str, float]:
    """Train in place on ``samples`` (plain-format samples; ``prompt_format`` rewrites them,
    e.g. into the model's chat template); returns stage figures (steps, tokens, loss, time)."""
    if not samples:
        log.warning("no training samples: skipping training")
        return {"steps": 0, "tokens": 0, "final_loss": None, "seconds": 0.0}
    device = policy.device
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    n_procs = PartialState(cpu=device.type == "cpu").num_processes
    if cfg.batch_size % n_procs:
        raise ValueError(
            f"batch_size {cfg.batch_size} is not a multiple of the {n_procs} processes"
        )
    per_proc = cfg.batch_size // n_procs
    # gradients are reduced across processes once per optimizer step, after its last micro-batch
    n_micro = math.ceil(per_proc / cfg.micro_batch_size)
    accelerator = Accelerator(cpu=device.type == "cpu", gradient_accumulation_steps=n_micro)
    model = policy.model
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters (a LoRA adapter loaded frozen?)")
    model.train()
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    optim = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = _Ema(trainable, cfg.ema, accelerator) if cfg.ema else None
    compiled = _compile_layers(model, accelerator) if cfg.compile else []
    _deepspeed_settings(accelerator, cfg)
    loss_model = PolicyLoss(model, _output_head(model, accelerator, cfg), cfg.loss_chunk)
    loss_model, optim = accelerator.prepare(loss_model, optim)
    tok = policy.tokenizer
    bos = policy.bos_ids() if prompt_format is None or prompt_format.add_bos else []
    if prompt_format is not None:
        samples = [prompt_format.sample(s) for s in samples]
    cache: dict[str, list[int]] = {}
    encoded = [encode_sample(s, tok, cfg.max_length, bos, cache) for s in samples]
    total = cfg.steps or max(1, math.ceil(cfg.epochs * len(encoded) / cfg.batch_size))
    rng = random.Random(seed)
    order: list[int] = []
    lengths = [len(ids) for ids, _ in encoded]
    t0, tokens, losses = time.time(), 0, []
    bar = progress(total, unit="step")
    for step in range(total):
        while len(order) < cfg.batch_size:  # epochs of shuffled samples
            order = batch_order(rng, lengths, cfg, order)
        batch = order[: cfg.batch_size]
        del order[: cfg.batch_size]
        rank = accelerator.process_index
        mine = batch[rank * per_proc : (rank + 1) * per_proc]
        for group in optim.param_groups:
            group["lr"] = lr_at(step, total, cfg)
        loss_sum, step_tokens = _optimizer_step(
            accelerator, loss_model, optim, [encoded[i] for i in mine], tok, cfg
        )
        if ema is not None:
            ema.update(step)
        tokens += step_tokens
        losses.append(loss_sum)
        bar.update(1, tokens=step_tokens, loss=loss_sum)
        log_step(
            step + 1,
            total,
            cfg.log_every,
            loss=loss_sum,
            lr=optim.param_groups[0]["lr"],
            tokens_per_s=tokens / max(time.time() - t0, 1e-9),
        )
        if cfg.log_every and (step + 1) % cfg.log_every == 0:
            took = time.time() - t0
            log.info(
                "step %d/%d loss %.4f (%.0f tokens/s, %s)",
                step + 1,
                total,
                loss_sum,
                tokens / took,
                time_left(took, step + 1, total),
            )
    bar.close()
    for layers, i, layer in compiled:  # eager again: generation and saving see the plain model
        layers[i] = layer
    if ema is not None:
        ema.copy_to_model()
    policy.full_state = _full_state(accelerator, loss_model)
    policy.model = accelerator.unwrap_model(loss_model).model
    if cfg.gradient_checkpointing:
        policy.model.gradient_checkpointing_disable()
        policy.model.config.use_cache = True
    policy.model.eval()
    optim.zero_grad(set_to_none=True)
    del optim
    tail = losses[-max(1, len(losses) // 10) :]
    return {
        "steps": total,
        "tokens": tokens,
        "final_loss": sum(tail) / len(tail) if tail else None,
        "seconds": time.time() - t0,
    }


class PolicyLoss(torch.nn.Module):
    """The policy and its weighted loss as one module: what accelerate wraps (DDP, FSDP,
    DeepSpeed), so that the wrapper sees every forward pass, the chunked loss's too (it runs
    the decoder and the output layer apart, which would bypass a wrapper of the model)."""

    def __init__(self, model: torch.nn.Module, head, chunk: int) -> None:
        super().__init__()
        self.model = model
        self._head, self._chunk = head, chunk  # (decoder, output layer) or None: not modules
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self._no_split_modules = getattr(base, "_no_split_modules", None)  # FSDP's auto-wrap

    def forward(self, inputs, labels, weights, num_tokens: float) -> torch.Tensor:
        # Right padding: real tokens never attend to the pads after them, so the causal
        # mask alone is exact, and it lets attention take its fast path (1.3-1.5x on CPU).
        if self._head is None:
            logits = self.model(input_ids=inputs).logits
            return weighted_sft_loss(logits, labels, weights, num_tokens)
        decoder, head = self._head
        hidden = decoder(input_ids=inputs).last_hidden_state
        return chunked_weighted_sft_loss(hidden, head, labels, weights, num_tokens, self._chunk)


def _output_head(model, accelerator, cfg: TrainConfig):
    """(decoder, output layer) of a causal LM for the chunked loss, or None where the chunked
    loss does not apply: ``loss_chunk: 0``, parameters sharded across processes (FSDP,
    DeepSpeed: the plain loss through the wrapped model), or a model that post-processes its
    logits (soft-capping, scaling). One process and DDP take it: it is exact, the loss is a
    per-token sum divided by the step's token count."""
    sharded = accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    if not cfg.loss_chunk or sharded:
        return None
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config
    text = getattr(config, "get_text_config", lambda: config)()
    if getattr(text, "final_logit_softcapping", None) or getattr(text, "logit_scale", None):
        return None
    try:
        decoder, head = base.get_decoder(), base.get_output_embeddings()
    except (AttributeError, ValueError, NotImplementedError):
        return None
    if decoder is None or head is None or decoder is base:
        return None
    return decoder, head


def _deepspeed_settings(accelerator, cfg: TrainConfig) -> None:
    """What a DeepSpeed config cannot know: the micro-batch and the accumulation steps are
    tripost's (DeepSpeed steps the optimizer itself, in ``accelerator.backward`` at a step's
    last micro-batch, so its count must be ours), and clipping unless the config sets it.
    accelerate derives ``train_batch_size`` from them."""
    if accelerator.distributed_type != DistributedType.DEEPSPEED:
        return
    ds = accelerator.state.deepspeed_plugin.deepspeed_config
    ds["train_micro_batch_size_per_gpu"] = cfg.micro_batch_size
    ds["gradient_accumulation_steps"] = accelerator.gradient_accumulation_steps
    if ds.get("gradient_clipping", "auto") == "auto":
        ds["gradient_clipping"] = cfg.grad_clip


def _compile_layers(model, accelerator) -> list[tuple[torch.nn.ModuleList, int, torch.nn.Module]]:
    """Put ``torch.compile``d wrappers of the decoder's layers in their places (the same
    parameters; shapes dynamic, since batch lengths vary); returns (list, index, layer) to put
    back. Nothing where torch.compile cannot run here (no C++ compiler, an unsupported
    platform), where the weights are sharded, or where the model has no ``layers`` list."""
    if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        log.warning("compile: not with FSDP or DeepSpeed; training without it")
        return []
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        layers = base.get_decoder().layers
    except (AttributeError, ValueError, NotImplementedError):
        layers = None
    if not isinstance(layers, torch.nn.ModuleList):
        log.warning("compile: the model has no list of decoder layers; training without it")
        return []
    try:  # a compiler or platform problem shows on the first call, not on torch.compile
        torch.compile(lambda x: x * 2, dynamic=True)(torch.ones(3, device=accelerator.device))
    except Exception as e:  # noqa: BLE001 - any failure means: train eagerly
        log.warning("compile: torch.compile cannot run here (%s); training without it", e)
        return []
    out = []
    for i, layer in enumerate(layers):
        out.append((layers, i, layer))
        layers[i] = torch.compile(layer, dynamic=True)
    return out


class _Ema:
    """An exponential moving average of the trainable weights, in float32. Its decay ramps up
    as ``min(decay, (1 + step) / (10 + step))``, so that the starting weights (a tiny model's
    random ones) soon weigh nothing; ``copy_to_model`` puts the average in their place."""

    def __init__(self, params: list[torch.nn.Parameter], decay: float, accelerator) -> None:
        if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
            raise ValueError(
                "ema needs the whole weights on every process: not with FSDP or "
                "DeepSpeed (use one process or DDP)"
            )
        self.params, self.decay = params, decay
        self.average = [p.detach().float().clone() for p in params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        keep = min(self.decay, (1 + step) / (10 + step))
        for avg, p in zip(self.average, self.params):
            avg.lerp_(p.detach().float(), 1 - keep)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        for avg, p in zip(self.average, self.params):
            p.copy_(avg.to(p.dtype))


def _full_state(accelerator, loss_model) -> dict | None:
    """The full weights for the checkpoint when they are sharded across processes (FSDP,
    DeepSpeed): gathered by every rank, held by rank 0 (``Policy.save`` writes them); None
    when the unwrapped model holds them (one process, DDP)."""
    if accelerator.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return None
    state = accelerator.get_state_dict(loss_model)  # unwrapped: keys "model.<name>"
    return {k.removeprefix("model."): v for k, v in (state or {}).items()}


def _optimizer_step(accelerator, model, optim, encoded, tok, cfg: TrainConfig):
    """One optimizer step over micro-batches; the loss is normalised by the step's token count
    (all processes). Returns the step's loss and tokens, summed over the processes."""
    n_local = sum(sum(1 for w in ws[1:] if w > 0) for _, ws in encoded)
    n_tokens = accelerator.gather(torch.tensor([n_local], device=accelerator.device)).sum().item()
    # DDP averages gradients over processes and accelerate divides the loss by the
    # accumulation steps: scale so that the result is the global sum / n_tokens
    scale = accelerator.num_processes * accelerator.gradient_accumulation_steps
    total = 0.0
    encoded = sorted(encoded, key=lambda e: len(e[0]))  # similar lengths share a micro-batch
    for start in range(0, len(encoded), cfg.micro_batch_size):
        inputs, _, labels, weights = (
            t.to(accelerator.device)
            for t in collate(encoded[start : start + cfg.micro_batch_size], tok.pad_token_id)
        )
        # no gradient all-reduce before the step's last micro-batch
        with accelerator.accumulate(model):
            with autocast_context(accelerator.device, cfg.bf16):
                loss = model(inputs, labels, weights, n_tokens)
            accelerator.backward(loss * scale)
        total += loss.item()
    if cfg.grad_clip:
        accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optim.step()
    optim.zero_grad(set_to_none=True)
    n = sum(len(ids) for ids, _ in encoded)
    local = torch.tensor([total, n], dtype=torch.float64, device=accelerator.device)
    loss_sum, tokens = accelerator.reduce(local, reduction="sum").tolist()
    return loss_sum, int(tokens)
