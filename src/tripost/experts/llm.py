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
from collections.abc import Callable
from typing import Any

from tripost.experts.base import ExpertStats, FeedbackResult, ImprovementResult
from tripost.experts.llm_client import LLMClient
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
from tripost.settings import DEFAULT_CACHE_DIR as DEFAULT_CACHE_DIR
from tripost.settings import LLMConfig as LLMConfig
from tripost.tasks.base import Task, check_text
from tripost.trajectory import Attempt, Feedback, FormatError, Problem

log = logging.getLogger(__name__)


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
