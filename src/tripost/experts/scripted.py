"""Scripted FBK and IMP: the task's own checker and solver."""

from __future__ import annotations

from tripost.experts.base import ExpertStats, FeedbackResult, ImprovementResult
from tripost.tasks.base import Task, check_text
from tripost.trajectory import Attempt, Feedback, Problem


class ScriptedFeedback:
    name = "scripted"

    def __init__(self, task: Task) -> None:
        self.task = task
        self.stats = ExpertStats()

    def give_feedback(self, problems: list[Problem], attempts: list[str]) -> list[FeedbackResult]:
        self.stats.calls += len(problems)
        return [FeedbackResult(check_text(self.task, p, a)) for p, a in zip(problems, attempts)]


class ScriptedImprovement:
    name = "scripted"

    def __init__(self, task: Task) -> None:
        self.task = task
        self.stats = ExpertStats()

    def improve(
        self, problems: list[Problem], attempts: list[Attempt], feedbacks: list[Feedback]
    ) -> list[ImprovementResult]:
        out = []
        for p, a, f in zip(problems, attempts, feedbacks):
            self.stats.calls += 1
            try:
                new = self.task.improve(p, a, f)
            except Exception as e:  # a solver bug must not kill a run
                out.append(ImprovementResult(None, f"scripted improvement failed: {e}"))
                continue
            out.append(
                ImprovementResult(new, None if new else "scripted improvement found no rewrite")
            )
        return out
