"""A copying stage for the from-scratch tiny model, before its SFT (``model.tiny.copy_steps``).

A pretrained model can copy a word it has seen earlier in its context: an *induction head*
finds the earlier occurrence of the current token and predicts the token that followed it. A
tiny model trained from scratch on rationales has to discover that mechanism from the task's
text, and until it does, every name or number a rationale repeats from the question is a guess
(docs/ablations.md §4, §22). Here it learns it on data where nothing else can be learned:
strings of random tokens of its own vocabulary, each followed by its copy, with the loss on the
copies only. The first token of a copy cannot be predicted; every later one can, by copying.
"""

from __future__ import annotations

import logging
import random

from tripost.policy.model import Policy
from tripost.training import Sample, TrainConfig, train_policy

log = logging.getLogger(__name__)

BATCH_SIZE = 16
MIN_LEN, MAX_LEN = 4, 16  # tokens per string
SAMPLE_TOKENS = 200  # about this many tokens of (string, copy) pairs per sample


def copy_units(tokenizer) -> list[str]:
    """The texts of the tokenizer's ordinary tokens (no special token, no newline): each one,
    encoded alone, is that one token."""
    special = set(tokenizer.all_special_tokens) | {"\n"}
    units = []
    for text in sorted(tokenizer.get_vocab()):
        if text not in special and len(tokenizer.encode(text, add_special_tokens=False)) == 1:
            units.append(text)
    return units


def unit_pool(tokenizer, units: int, rng: random.Random) -> list[str]:
    """``units`` of copy_units drawn at random (all of them when 0 or more than there are)."""
    pool = copy_units(tokenizer)
    return sorted(rng.sample(pool, units)) if 0 < units < len(pool) else pool


def copy_samples(units: list[str], n: int, rng: random.Random) -> list[Sample]:
    """``n`` samples of random strings of ``units``, each string followed by a newline and its
    copy; the strings have weight 0 and the copies weight 1. A unit is its own segment, tokenised
    alone (``whole=False``), so it stays one token (``blue`` next to ``jay`` would otherwise be
    characters)."""
    out = []
    for _ in range(n):
        segments: list[tuple[str, float]] = []
        size = 0
        while size < SAMPLE_TOKENS:
            s = rng.choices(units, k=rng.randint(MIN_LEN, MAX_LEN))
            for w in (0.0, 1.0):
                segments += [(u, w) for u in s] + [("\n", w)]
            size += 2 * len(s) + 2
        out.append(Sample(tuple(segments), eos=False, whole=False))
    return out


def train_copying(
    policy: Policy, steps: int, sft: TrainConfig, seed: int, lr: float, units: int = 0
) -> dict:
    """``steps`` optimizer steps of copying (batch 16, constant ``lr`` after a 5% warm-up)
    with the SFT stage's precision and log cadence; returns train_policy's figures. ``units``
    > 0 draws the strings from that many of the vocabulary's tokens (a random choice)."""
    rng = random.Random(seed + 211)
    pool = unit_pool(policy.tokenizer, units, rng)
    samples = copy_samples(pool, steps * BATCH_SIZE, rng)
    cfg = TrainConfig(
        steps=steps,
        batch_size=BATCH_SIZE,
        micro_batch_size=BATCH_SIZE,
        lr=lr,
        warmup=0.05,
        min_lr_ratio=1.0,
        bf16=sft.bf16,
        log_every=sft.log_every,
        loss_chunk=sft.loss_chunk,
    )
    log.info("copying stage: %d steps of random token strings and their copies", steps)
    return train_policy(policy, samples, cfg, seed + 211)


def mixed_copy_samples(policy: Policy, n_task: int, share: float, seed: int) -> list[Sample]:
    """Copying samples to add to ``n_task`` SFT samples so that they are ``share`` of the mix."""
    n = round(n_task * share / (1.0 - share))
    return copy_samples(copy_units(policy.tokenizer), n, random.Random(seed + 223))
