"""The configuration sections that the library's modules share: decoding (:class:`Sampling`,
:class:`EvalConfig`), the tiny model, training and its loss weights, and the LLM expert.

They live here, apart from the code that uses them, because this module imports neither torch,
transformers nor openai: reading and validating a config (``tripost.config``), ``tripost
--help`` and a config error take a fraction of a second instead of the seconds those imports
take (about 10 s on a slow 2-core host). The modules that use a section import it from here and
keep it as a name of their own (``tripost.training.TrainConfig`` still works).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_CACHE_DIR = "~/.cache/tripost/llm"

Engine = Literal["auto", "loop", "hf"]


@dataclass(frozen=True)
class Sampling:
    """How to decode: shared by rollouts and evaluation."""

    max_new_tokens: int
    temperature: float = 0.0  # 0 = greedy
    batch_size: int = 64
    bf16: bool = False  # bf16 autocast (for fp32 weights; a bf16 model needs none)
    engine: Engine = "auto"


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rounds: int = Field(2, ge=0, description="max self-improvement updates per question")
    max_new_tokens: int = Field(
        2048, ge=1, description="token budget of a whole trajectory, in the model's tokens"
    )
    batch_size: int = Field(64, ge=1, description="generation batch size")
    bf16: bool = Field(False, description="bf16 autocast while decoding (fp32 weights only)")
    engine: Literal["auto", "loop", "hf"] = Field(
        "auto", description="decoding engine: loop (ours), hf (transformers generate), auto"
    )
    backend: Literal["hf", "server"] = Field(
        "hf", description="hf: decode in-process; server: through an inference server"
    )

    def sampling(self) -> Sampling:
        return Sampling(self.max_new_tokens, 0.0, self.batch_size, self.bf16, self.engine)


class TinyModelConfig(BaseModel):
    """Size of the from-scratch demo model (a Llama-style decoder)."""

    model_config = ConfigDict(extra="forbid")
    hidden_size: int = Field(128, ge=1, description="model width d")
    num_layers: int = Field(4, ge=1, description="decoder layers")
    num_heads: int = Field(4, ge=1, description="attention heads")
    intermediate_size: int = Field(344, ge=1, description="MLP width (about 2.7 d, as Llama)")
    max_positions: int = Field(2048, ge=16, description="longest sequence in tokens")
    tokenizer: Literal["char", "word", "number"] = Field(
        "char",
        description="char: one token per character; word: also one token per word (2+ ASCII "
        "letters) of the SFT training texts; other words and characters stay single characters; "
        "number: word, plus one token per integer of up to 3 digits (-999..999) and per operator "
        "between spaces (' + ', ' - ', ' * ', ' = ')",
    )
    number_init: Literal["digits", "random"] = Field(
        "digits",
        description="with the number tokenizer, how integer tokens' embeddings start: digits: "
        "half random, half the sum of a sign vector and one vector per place value of the "
        "zero-padded digits (numbers sharing digits start alike; with tied embeddings a number's "
        "logit starts as a sum of per-digit scores); random: as every other token",
    )

    feedback_words: bool = Field(
        False,
        description="word and number tokenizers: also take words from the scripted expert's "
        "self-improvement demonstrations (an injected error, its feedback and the fix) on 200 of "
        "the training problems, so that the feedback format's words (Feedback, correct, "
        "incorrect, because) are tokens: SFT on gold answers never shows them, and a model that "
        "must spell them letter by letter after SFT writes garbled feedback (docs/ablations.md "
        "§34)",
    )
    format_pieces: bool = Field(
        False,
        description="the answer format's recurring pieces are one token each: the answer's "
        "opening (Answer: Let's think step by step.), step labels (1) to (30), the final "
        "response's opening, ', ', ': ' and a line's closing full stop "
        "(tripost.policy.model.FORMAT_PIECES): an arithmetic sample shrinks from 258 to about "
        "202 tokens (docs/ablations.md §35-§36)",
    )
    copy_steps: int = Field(
        0,
        ge=0,
        description="optimizer steps of a copying stage before SFT: strings of random tokens, each "
        "followed by its copy, loss on the copies (batch 16, lr `copy_lr`), so that the model can "
        "repeat a name or number of its context before it learns the task (0 = none)",
    )
    copy_lr: float = Field(
        1e-3,
        gt=0.0,
        description="the copying stage's learning rate (1e-3 installs copying within 600 steps at "
        "d=128 and d=256; 3e-3 does it unreliably at d=128 and not at all at d=256: "
        "docs/ablations.md §23-§24)",
    )
    copy_mix: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="the share of SFT samples that are copying samples like the copying stage's "
        "(random token strings and their copies), so that SFT keeps the copying it installed "
        "(0 = none)",
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


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int | None = Field(None, ge=0, description="optimizer steps (overrides epochs when set)")
    epochs: float = Field(1.0, gt=0, description="passes over the training set when steps is unset")
    batch_size: int = Field(32, ge=1, description="samples per optimizer step (all processes)")
    micro_batch_size: int = Field(4, ge=1, description="samples per forward pass per process")
    lr: float = Field(1e-5, description="peak learning rate (1e-5: a pretrained model)")
    weight_decay: float = Field(0.0, description="AdamW weight decay")
    warmup: float = Field(0.05, ge=0, le=1, description="fraction of steps of linear warm-up")
    min_lr_ratio: float = Field(
        0.1, description="final LR as a fraction of the peak (linear decay)"
    )
    grad_clip: float = Field(1.0, description="max gradient norm")
    ema: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="decay of an exponential moving average of the trainable weights, which "
        "replaces them when training ends (0 = off; one process or DDP only)",
    )
    bf16: bool = Field(True, description="bf16 autocast (CPU with AVX512-BF16, or CUDA)")
    compile: bool = Field(
        False,
        description="torch.compile the decoder's layers for this training, eager again after it "
        "(pays over thousands of steps: about 35 s to compile, then about 1.2x faster steps for "
        "the arithmetic demo's model on a 2-core CPU, docs/ablations.md §37; trains without it, "
        "with a warning, where torch.compile cannot run)",
    )
    max_length: int = Field(2048, ge=2, description="truncate samples to this many tokens")
    log_every: int = Field(50, ge=0, description="log the loss every N steps (0: never)")
    gradient_checkpointing: bool = Field(
        False, description="recompute activations in the backward pass (less memory, ~30% slower)"
    )
    length_groups: int = Field(
        0,
        ge=0,
        description="batches of similar length: each run of this many batches of the shuffled "
        "samples is sorted by length, cut into batches, and the batches shuffled (less padding, "
        "faster steps; 0 or 1 = plain shuffled batches)",
    )
    loss_chunk: int = Field(
        1024,
        description="supervised tokens per chunk of the output layer + loss, recomputed in the "
        "backward pass, so fp32 logits of a whole micro-batch never exist (0 = whole logits)",
    )


class LossWeights(BaseModel):
    """The loss weight of each part of a sample, the same for SFT, the iterations and the
    compute-matched control (``loss`` in the run config)."""

    model_config = ConfigDict(extra="forbid")
    feedback_weight: float = Field(
        1.5, description="weight w of tokens from the first 'Feedback:' on"
    )
    attempt_weight: float = Field(1.0, description="weight of a (correct) first attempt")
    wrong_attempt_weight: float = Field(
        1.0, description="weight of a wrong first attempt that is followed by feedback"
    )
    prompt_weight: float = Field(0.0, description="weight of the question prompt")


class LLMConfig(BaseModel):
    """The ``llm`` section of a config. Unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(
        None,
        description="Server URL ending in /v1; None reads OPENAI_BASE_URL, then uses OpenAI's.",
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="NAME of the environment variable holding the API key (never the key itself). "
        "Local servers need none.",
    )
    model: str = Field("gpt-4o-mini", description="Model name as the server knows it.")
    endpoint: Literal["completion", "chat", "auto"] = Field(
        "auto",
        description="'completion' (/v1/completions, best for continuing the verbatim prefix), "
        "'chat' (/v1/chat/completions), or 'auto': completion, falling back to chat when the "
        "server says it has no completion endpoint (404/405); the choice is remembered in the cache.",
    )
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature of the first try.")
    retry_temperature: float = Field(
        0.7, ge=0.0, description="Temperature (at least) of the re-asks after an unparsable answer."
    )
    max_tokens: int = Field(512, gt=0, description="Most tokens one answer may have.")
    seed: int | None = Field(
        0, description="Seed of the few-shot examples and request seed (re-ask k uses seed + k)."
    )
    timeout_s: float = Field(
        60.0,
        gt=0,
        description="Deadline of one HTTP request, seconds: the whole answer must arrive by then "
        "(a server trickling bytes does not extend it).",
    )
    max_retries: int = Field(
        5, ge=0, description="Retries of a request after 429, 5xx, timeouts, dropped connections."
    )
    backoff_s: float = Field(
        1.0, ge=0, description="First retry delay; doubles each retry (jittered)."
    )
    max_backoff_s: float = Field(30.0, ge=0, description="Largest retry delay without Retry-After.")
    max_retry_after_s: float = Field(
        60.0, ge=0, description="Largest wait a server's Retry-After may ask for; longer is cut."
    )
    parse_retries: int = Field(
        2, ge=0, description="Re-asks (new seed, retry_temperature) after an unparsable answer."
    )
    concurrency: int = Field(32, gt=0, description="Requests in flight at once.")
    cache: bool = Field(True, description="Store and reuse responses (SQLite in cache_dir).")
    cache_dir: str | None = Field(
        None,
        description="Cache folder; None = the run directory's llm_cache/ in a run, else "
        "~/.cache/tripost/llm.",
    )
    n_shots: int = Field(3, ge=0, description="Few-shot examples per prompt.")
    show_answer: bool = Field(
        True,
        description="Show the reference answer in the feedback prompt (as a scripted checker knows it).",
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra request fields for the server (e.g. top_k for vLLM).",
    )
    prompt_price_per_1m: float | None = Field(
        None, ge=0, description="Price of 1M prompt tokens, for the cost in stats (optional)."
    )
    completion_price_per_1m: float | None = Field(
        None, ge=0, description="Price of 1M completion tokens, for the cost in stats (optional)."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_config(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "do not put an API key in a config: set it in an environment variable and give "
                "that variable's NAME as api_key_env"
            )
        return data

    def resolved_cache_dir(self) -> str:
        return self.cache_dir or DEFAULT_CACHE_DIR

    def resolved_base_url(self) -> str:
        return (self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
