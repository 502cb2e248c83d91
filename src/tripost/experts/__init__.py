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
from tripost.experts.gate import RightAnswerGate
from tripost.experts.scripted import ScriptedFeedback, ScriptedImprovement
from tripost.tasks.base import Task


def build_feedback(
    kind: str, task: Task, llm: Any = None, accept_right_answers: bool = False
) -> FeedbackModule:
    """``kind`` is ``scripted`` or ``llm``; ``llm`` is the LLM section of the config. With
    ``accept_right_answers`` an attempt whose final answer is right is correct without asking
    the module (:mod:`tripost.experts.gate`)."""
    if kind == "scripted":
        fbk: FeedbackModule = ScriptedFeedback(task)
    elif kind == "llm":
        from tripost.experts.llm import LLMFeedback

        fbk = LLMFeedback(task, llm)
    else:
        raise ValueError(f"unknown feedback module {kind!r}; use 'scripted' or 'llm'")
    return RightAnswerGate(fbk, task) if accept_right_answers else fbk


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
