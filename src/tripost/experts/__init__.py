"""Expert modules by name: ``scripted`` or ``llm``, for feedback and improvement separately."""

from __future__ import annotations

from typing import Any

from tripost.experts.base import (
    ExpertStats,
    FeedbackModule,
    FeedbackResult,
    ImprovementModule,
    ImprovementResult,
)
from tripost.experts.scripted import ScriptedFeedback, ScriptedImprovement
from tripost.tasks.base import Task


def build_feedback(kind: str, task: Task, llm: Any = None) -> FeedbackModule:
    """``kind`` is ``scripted`` or ``llm``; ``llm`` is the LLM section of the config."""
    if kind == "scripted":
        return ScriptedFeedback(task)
    if kind == "llm":
        from tripost.experts.llm import LLMFeedback

        return LLMFeedback(task, llm)
    raise ValueError(f"unknown feedback module {kind!r}; use 'scripted' or 'llm'")


def build_improvement(kind: str, task: Task, llm: Any = None) -> ImprovementModule:
    if kind == "scripted":
        return ScriptedImprovement(task)
    if kind == "llm":
        from tripost.experts.llm import LLMImprovement

        return LLMImprovement(task, llm)
    raise ValueError(f"unknown improvement module {kind!r}; use 'scripted' or 'llm'")


__all__ = [
    "ExpertStats",
    "FeedbackModule",
    "FeedbackResult",
    "ImprovementModule",
    "ImprovementResult",
    "build_feedback",
    "build_improvement",
]
