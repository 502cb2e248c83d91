"""Policy loading: any Hugging Face causal LM by path or hub id, or the demo's tiny model.

The tiny model is a normal Hugging Face checkpoint: a small ``LlamaConfig`` with random weights
and a character-level ``PreTrainedTokenizerFast`` (one token per character), so that
``AutoModelForCausalLM.from_pretrained(dir)`` and ``AutoTokenizer.from_pretrained(dir)`` load it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]
CHARS = ["\n"] + [chr(i) for i in range(32, 127)]


class TinyModelConfig(BaseModel):
    """Size of the from-scratch demo model (a Llama-style decoder)."""

    model_config = ConfigDict(extra="forbid")
    hidden_size: int = Field(128, ge=1, description="model width d")
    num_layers: int = Field(4, ge=1, description="decoder layers")
    num_heads: int = Field(4, ge=1, description="attention heads")
    intermediate_size: int = Field(344, ge=1, description="MLP width (about 2.7 d, as Llama)")
    max_positions: int = Field(2048, ge=16, description="longest sequence in tokens")
    tokenizer: Literal["char", "word"] = Field(
        "char",
        description="char: one token per character; word: also one token per word (2+ ASCII "
        "letters) of the SFT training texts; other words and characters stay single characters",
    )

    @model_validator(mode="after")
    def _heads_divide_width(self) -> TinyModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}"
            )
        if (self.hidden_size // self.num_heads) % 2:
            raise ValueError("hidden_size / num_heads must be even (rotary position embeddings)")
        return self


@dataclass
class Policy:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase

    def save(self, path: str | Path) -> None:
        """Write a normal HF checkpoint (safetensors weights, config, tokenizer)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)


def build_char_tokenizer(words: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """One token per printable ASCII character and newline; anything else is ``<unk>``.

    With ``words``, each of those words is one token too (``"pardon"`` -> 1 token); a word
    that is not among them is split into characters, so no text is ever lost.
    """
    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS + CHARS)}
    extra = sorted(set(words) - set(vocab))
    vocab.update({w: i for i, w in enumerate(extra, start=len(vocab))})
    # a whole known word (the trie tries longer words first), else any single character
    pattern = (r"\b" + _trie_regex(extra) + r"\b|" if extra else "") + r"[\s\S]"
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        padding_side="right",
    )


def _trie_regex(words: list[str]) -> str:
    """A regex matching exactly ``words``, factored as a trie (``par(?:don|k)``): an
    alternation of thousands of words is that many times slower to match."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if ends:  # the word may end here: longer continuations are tried first
            return "(?:" + body + ")?"
        return body

    return "(?:" + build(trie) + ")"


def text_words(texts: Iterable[str]) -> set[str]:
    """Words (2+ ASCII letters) of some texts: the word vocabulary of a ``word`` tokenizer."""
    return {w for t in texts for w in re.findall(r"\b[A-Za-z]{2,}\b", t)}


def build_tiny_policy(cfg: TinyModelConfig, seed: int = 0, texts: Iterable[str] = ()) -> Policy:
    """A randomly initialised tiny Llama with the character tokenizer (``cfg.tokenizer ==
    "word"``: plus one token per word of ``texts``, e.g. the training texts)."""
    tok = build_char_tokenizer(text_words(texts) if cfg.tokenizer == "word" else ())
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    n = sum(p.numel() for p in model.parameters())
    log.info("built tiny Llama: %.2fM parameters", n / 1e6)
    return Policy(model, tok)


def load_policy(
    name_or_path: str | Path,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    lora: dict | None = None,
) -> Policy:
    """Load any HF causal LM (a local checkpoint directory, or a hub id when online).

    ``lora``: optional peft LoraConfig keyword arguments (e.g. ``{"r": 16, "lora_alpha": 32}``)
    to train adapters instead of the full model.
    """
    tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        name_or_path, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora))
    return Policy(model, tok)
