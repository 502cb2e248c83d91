"""``expert.accept_right_answers``: an attempt whose final answer is right counts as correct
without the expert's step check.

The scripted checkers judge every step, so an attempt that reaches the right answer through a
wrong step (a placement that names an object twice, and a reading that happens to land on the
right one) gets error feedback and becomes an improvement sample. With a weak model most right
answers are of that kind (docs/ablations.md §24: 27 of 256 greedy logical-deduction rollouts
had a rationale the checker accepted, about half had the right answer), and the iterations then
spend themselves on errors that did not change the answer. The paper's reference code sorts
rollouts by their final answer instead; this gate does that, for the first attempt and for
every update (the policy's or the expert's), and spares the expert those calls.
"""

from __future__ import annotations

from tripost.experts.base import FeedbackModule, FeedbackResult
from tripost.tasks.base import Task, is_correct
from tripost.trajectory import Attempt, Feedback, Problem


class RightAnswerGate:
    """A feedback module that answers "correct" for attempts whose final answer is right and
    asks ``inner`` about the rest; ``stats`` are the inner module's, with the attempts it
    accepted by their answer in ``extra["accepted_by_answer"]``."""

    def __init__(self, inner: FeedbackModule, task: Task) -> None:
        self.inner, self.task = inner, task
        self.name, self.stats = inner.name, inner.stats
        self.stats.extra.setdefault("accepted_by_answer", 0)

    def give_feedback(self, problems: list[Problem], attempts: list[str]) -> list[FeedbackResult]:
        right = [is_correct(self.task, p, a) for p, a in zip(problems, attempts)]
        rest = [i for i, r in enumerate(right) if not r]
        asked = iter(
            self.inner.give_feedback([problems[i] for i in rest], [attempts[i] for i in rest])
        )
        self.stats.extra["accepted_by_answer"] += len(problems) - len(rest)
        # is_correct parsed a right attempt, so it parses
        return [
            FeedbackResult(Feedback.ok(Attempt.parse(a.strip("\n")))) if r else next(asked)
            for a, r in zip(attempts, right)
        ]
