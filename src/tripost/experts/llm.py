"""LLM feedback and improvement modules over the OpenAI-compatible protocol.

Works with any server that speaks it (OpenAI, vLLM, SGLang, Ollama, ``transformers serve``)
through the official ``openai`` client (``AsyncOpenAI``). The batch methods are synchronous:
each runs its requests on an event loop of its own, concurrently up to ``concurrency``, with
retries (exponential backoff + jitter, ``Retry-After`` honoured) on 429, 5xx, timeouts and
dropped connections. A request that still fails becomes a ``drop_reason``; the run goes on.
Every successful response is stored in a SQLite cache (``cache.py``), so a re-run asks the
server nothing it has already answered.

Example::

    cfg = LLMConfig(base_url="http://127.0.0.1:8000/v1", model="my-model", cache_dir="runs/x/llm")
    fbk = build_feedback("llm", task, cfg)        # tripost.experts.build_feedback
    results = fbk.give_feedback(problems, attempt_texts)
    fbk.stats.as_dict()   # {"calls": 12, "cache_hits": 0, "failures": 0, "prompt_tokens": ...}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tripost.experts.base import ExpertStats, FeedbackResult, ImprovementResult
from tripost.experts.llm_client import DEFAULT_BASE_URL, LLMClient
from tripost.experts.prompts import (
    FEEDBACK_STOP,
    IMPROVEMENT_STOP,
    Demo,
    assemble_improvement,
    build_demos,
    feedback_prompt,
    improvement_prompt,
    parse_feedback,
)
from tripost.tasks.base import Task, check_text
from tripost.trajectory import Attempt, Feedback, FormatError, Problem

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = "~/.cache/tripost/llm"


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


def as_config(cfg: LLMConfig | dict[str, Any] | None) -> LLMConfig:
    if cfg is None:
        return LLMConfig()
    return cfg if isinstance(cfg, LLMConfig) else LLMConfig(**cfg)


def _cut(text: str, stops: list[str]) -> str:
    for stop in stops:  # some servers include the stop string in the answer
        text = text.split(stop)[0]
    return text


class _LLMModule:
    name = "llm"

    def __init__(
        self,
        task: Task,
        cfg: LLMConfig | dict[str, Any] | None = None,
        *,
        http_client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.task = task
        self.cfg = as_config(cfg)
        self.stats = ExpertStats()
        self.client = LLMClient(self.cfg, self.stats, http_client_factory)
        self._demos: list[Demo] | None = None

    @property
    def demos(self) -> list[Demo]:
        if self._demos is None:
            self._demos = build_demos(self.task, self.cfg.n_shots, self.cfg.seed or 0)
            log.debug("%s: %d few-shot demos", self.task.name, len(self._demos))
        return self._demos

    def _drop(self, reason: str) -> str:
        self.stats.extra["drops"] += 1
        log.info("LLM %s dropped an item: %s", type(self).__name__, reason)
        return reason


class LLMFeedback(_LLMModule):
    """FBK: the earliest wrong step, its verbatim segment and a reason, or "correct"."""

    def give_feedback(self, problems: list[Problem], attempts: list[str]) -> list[FeedbackResult]:
        _ = self.demos  # built once, outside the event loop
        return self.client.map(self._one, list(zip(problems, attempts, strict=True)))

    async def _one(self, item: tuple[Problem, str]) -> FeedbackResult:
        problem, text = item
        try:
            attempt = Attempt.parse(text.strip("\n"))
        except FormatError:  # the same parse-error feedback as the scripted checker, no call
            return FeedbackResult(check_text(self.task, problem, text))
        prompt = feedback_prompt(
            self.task, self.demos, self.cfg.n_shots, problem, attempt, self.cfg.show_answer
        )
        last_error = ""
        for n in range(self.cfg.parse_retries + 1):
            reply = await self.client.complete(prompt, FEEDBACK_STOP, n)
            if reply.text is None:
                return FeedbackResult(None, self._drop(f"feedback request failed: {reply.error}"))
            try:
                feedback = parse_feedback(_cut(reply.text, FEEDBACK_STOP), attempt)
                return FeedbackResult(self._ground_truth(problem, attempt, feedback))
            except FormatError as e:
                last_error = str(e)
                if n < self.cfg.parse_retries:
                    self.stats.extra["parse_retries"] += 1
        tries = self.cfg.parse_retries + 1
        return FeedbackResult(
            None, self._drop(f"unusable feedback after {tries} tries: {last_error}")
        )

    def _ground_truth(self, problem: Problem, attempt: Attempt, feedback: Feedback) -> Feedback:
        """The reference answer, where known, outranks the LLM: an attempt whose final answer
        is wrong is never "correct" (the task's checker names its error instead); one whose
        answer is right keeps the LLM's step-level verdict."""
        if not feedback.correct or not problem.answer:
            return feedback
        try:
            answer = self.task.extract_answer(attempt, problem)
        except Exception:  # a task bug: the answer is not known to be right
            answer = None
        if answer == problem.answer:
            return feedback
        self.stats.extra["overruled"] += 1
        checked = check_text(self.task, problem, attempt.render())
        if checked.correct or checked.error_step not in attempt.labels:
            final = attempt.steps[-1]
            checked = Feedback.error(
                attempt, final.label, final.text, f"the final answer should be {problem.answer}"
            )
        log.debug("LLM said correct for a wrong final answer: overruled by the reference")
        return checked


class LLMImprovement(_LLMModule):
    """IMP: keeps the steps before the error verbatim; the model continues from the error step."""

    def improve(
        self, problems: list[Problem], attempts: list[Attempt], feedbacks: list[Feedback]
    ) -> list[ImprovementResult]:
        _ = self.demos
        return self.client.map(self._one, list(zip(problems, attempts, feedbacks, strict=True)))

    async def _one(self, item: tuple[Problem, Attempt, Feedback]) -> ImprovementResult:
        problem, attempt, feedback = item
        if feedback.correct or feedback.error_step not in attempt.labels:
            why = (
                "the feedback says the attempt is correct"
                if feedback.correct
                else f"the feedback names step ({feedback.error_step}), which the attempt lacks"
            )
            return ImprovementResult(None, self._drop(f"nothing to improve: {why}"))
        prompt = improvement_prompt(
            self.task, self.demos, self.cfg.n_shots, problem, attempt, feedback
        )
        last_error = ""
        for n in range(self.cfg.parse_retries + 1):
            reply = await self.client.complete(prompt, IMPROVEMENT_STOP, n)
            if reply.text is None:
                return ImprovementResult(
                    None, self._drop(f"improvement request failed: {reply.error}")
                )
            try:
                return ImprovementResult(
                    assemble_improvement(attempt, feedback, reply.text, self.task.instruction)
                )
            except FormatError as e:
                last_error = str(e)
                if n < self.cfg.parse_retries:
                    self.stats.extra["parse_retries"] += 1
        tries = self.cfg.parse_retries + 1
        return ImprovementResult(
            None, self._drop(f"unparsable improvement after {tries} tries: {last_error}")
        )
