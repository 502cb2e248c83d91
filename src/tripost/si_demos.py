"""Self-improvement demonstrations written entirely by the expert (the ``sft_si_demos`` baseline).

The paper's evidence that a small model must learn from *its own* mistakes: the SFT model is
trained further on trajectories whose errors it did not make. For each training problem

    gold rationale -> the task's ``inject_error`` -> the expert's feedback -> the expert's
    improvement (IMP -> FBK rounds, as in editing) -> correct feedback.

A demonstration is kept only when the expert's first feedback names the injected step (an
injection the checker does not see, or sees elsewhere, is not the demonstration we mean). The
expert's own correct answers (gold rationale + correct feedback) play the part of the
non-improvement samples, so the same post-processing (weights, rebalancing) as TriPosT applies.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from tripost.editing import DIRECT, DROPPED, EditRecord, edit_rollouts
from tripost.experts.base import FeedbackModule, ImprovementModule
from tripost.tasks.base import Task
from tripost.trajectory import Feedback, Problem


@dataclass
class SIDemo:
    """One problem's demonstration: the edit record of its injected attempt."""

    record: EditRecord
    injected_step: str

    def to_json(self, instruction: str = "") -> dict:
        return {**self.record.to_json(instruction), "injected_step": self.injected_step}


def build_si_demos(
    task: Task,
    problems: list[Problem],
    fbk: FeedbackModule,
    imp: ImprovementModule,
    max_rounds: int,
    rng: random.Random,
) -> tuple[list[SIDemo], list[EditRecord], dict]:
    """The kept demonstrations, the expert's correct answers (non-improvement records, one per
    solved problem) and counts of what was skipped and why."""
    skipped: Counter[str] = Counter()
    injected: list[tuple[Problem, str, str]] = []
    correct: list[EditRecord] = []
    for p in problems:
        gold = task.solve(p)
        if gold is None:
            skipped["no gold rationale"] += 1
            continue
        correct.append(EditRecord(p, gold.render(), DIRECT, [gold], [Feedback.ok(gold)]))
        bad = task.inject_error(p, gold, rng)
        if bad is None:
            skipped["no error to inject"] += 1
            continue
        injected.append((p, bad[0].render(), bad[1]))
    records = edit_rollouts(
        [p for p, _, _ in injected],
        [text for _, text, _ in injected],
        fbk,
        imp,
        max_rounds,
        task.instruction,
    )
    demos = []
    for rec, (_, _, label) in zip(records, injected):
        if rec.kind == DIRECT:
            skipped["injected error not seen by the expert"] += 1
        elif rec.kind == DROPPED:
            skipped["expert could not fix it"] += 1
        elif rec.feedbacks[0].error_step != label:
            skipped["feedback names another step"] += 1
        else:
            demos.append(SIDemo(rec, label))
    stats = {
        "problems": len(problems),
        "demos": len(demos),
        "kinds": dict(Counter(d.record.kind for d in demos)),
        "skipped": dict(skipped),
    }
    return demos, correct, stats
