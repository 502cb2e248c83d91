"""LMSI (Huang et al. 2022, "Large Language Models Can Self-Improve"): the ``lmsi`` baseline.

Sample k rationales per training question from the SFT model, take the majority answer among
those that parse, keep the rationales that reach it, and train on them. No gold label is used
to choose what to train on (the gold answer only goes into the stage's figures).
"""

from __future__ import annotations

from collections import Counter

from tripost.tasks.base import Task
from tripost.trajectory import Attempt, FormatError, split_continuation


def parse_rationale(task: Task, output: str) -> tuple[Attempt, str] | None:
    """The first attempt of a model output and its answer, or None when either is missing."""
    attempts, _ = split_continuation(output, task.instruction, trim=True)
    try:
        attempt = Attempt.parse(attempts[0].strip("\n"))
    except FormatError:
        return None
    answer = task.extract_answer(attempt)
    return None if answer is None else (attempt, answer)


def majority_vote(answers: list[str]) -> str | None:
    """The most frequent answer; None when there is none or the top count is tied."""
    top = Counter(answers).most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def select(task: Task, outputs: list[str]) -> tuple[str | None, list[Attempt]]:
    """Vote and filter: the majority answer and the distinct rationales that reach it."""
    parsed = [x for x in (parse_rationale(task, o) for o in outputs) if x is not None]
    vote = majority_vote([a for _, a in parsed])
    kept: dict[str, Attempt] = {}
    for attempt, answer in parsed:
        if vote is not None and answer == vote:
            kept.setdefault(attempt.render(), attempt)
    return vote, list(kept.values())
