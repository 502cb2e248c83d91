"""Expert = FBK (feedback module) + IMP (improvement module), chosen separately by name.

Both work on batches so that an LLM module can run its calls concurrently. A module never
raises on bad model output or a failed call: it returns a result with a ``drop_reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tripost.trajectory import Attempt, Feedback, Problem


@dataclass(frozen=True)
class FeedbackResult:
    feedback: Feedback | None
    drop_reason: str | None = None


@dataclass(frozen=True)
class ImprovementResult:
    attempt: Attempt | None
    drop_reason: str | None = None


@dataclass
class ExpertStats:
    """Counters for a stage's metrics (calls made, answers served from the cache, tokens)."""

    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        d = {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "failures": self.failures,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
        }
        d.update(self.extra)
        return d


class FeedbackModule(Protocol):
    name: str
    stats: ExpertStats

    def give_feedback(self, problems: list[Problem], attempts: list[str]) -> list[FeedbackResult]:
        """Feedback on raw attempt texts (rationale lines from ``(1)`` to ``(Final response)``)."""
        ...


class ImprovementModule(Protocol):
    name: str
    stats: ExpertStats

    def improve(
        self, problems: list[Problem], attempts: list[Attempt], feedbacks: list[Feedback]
    ) -> list[ImprovementResult]:
        """An updated attempt per item that keeps the steps before the error step verbatim."""
        ...
