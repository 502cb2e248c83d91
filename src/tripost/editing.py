"""Interactive trajectory editing (docs/design.md §4.2).

For each rollout of the policy (an attempt, and after iteration 1 its own feedback and updates):

1. Walk the policy's attempts with the expert's feedback (FBK) until the first point where the
   policy's own feedback disagrees with the expert (it said "correct", named another step or
   segment, or wrote none). Keep the trajectory up to that attempt, with the expert's feedback.
2. If that feedback names an error, loop IMP -> FBK (at most ``max_rounds`` rounds) until FBK says
   correct. Reject an update that does not parse, leaves the error step unchanged, changes the
   steps before it, or still contains the error segment. If the error step moves *backwards*
   (a regression), keep only the trajectory before that update: question, attempt, expert
   feedback (a critique-only sample). Drop the rollout if no round succeeds.

Records say what happened to each rollout, with a drop reason when dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tripost.experts.base import FeedbackModule, ImprovementModule
from tripost.trajectory import (
    FINAL,
    Attempt,
    Feedback,
    FormatError,
    Problem,
    Trajectory,
    split_continuation,
)

log = logging.getLogger(__name__)

DIRECT, IMPROVED, FEEDBACK_ONLY, DROPPED = "direct", "improved", "feedback_only", "dropped"
#: a record waiting for an improvement round; only while editing: every one ends in another kind
PENDING = "pending"


@dataclass
class EditRecord:
    """The outcome of editing one rollout: ``kind`` is DIRECT, IMPROVED, FEEDBACK_ONLY or
    DROPPED (PENDING while it waits for an improvement round)."""

    problem: Problem
    rollout: str
    kind: str = DROPPED
    attempts: list[Attempt] = field(default_factory=list)
    feedbacks: list[Feedback] = field(default_factory=list)
    drop_reason: str | None = None
    rounds: int = 0
    #: index of the first attempt written by the expert (len(attempts) if none)
    first_expert_attempt: int = 0

    def trajectory(self, instruction: str = "") -> Trajectory | None:
        if self.kind == DROPPED:
            return None
        return Trajectory(
            self.problem.question, tuple(self.attempts), tuple(self.feedbacks), instruction
        )

    def drop(self, reason: str) -> None:
        self.kind, self.drop_reason = DROPPED, reason

    def to_json(self, instruction: str = "") -> dict[str, Any]:
        traj = self.trajectory(instruction)
        return {
            "problem": self.problem.to_json(),
            "rollout": self.rollout,
            "kind": self.kind,
            "drop_reason": self.drop_reason,
            "rounds": self.rounds,
            "first_expert_attempt": self.first_expert_attempt,
            "trajectory": traj.render() if traj else None,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], instruction: str = "") -> EditRecord:
        """The record :meth:`to_json` wrote, its trajectory parsed back into attempts and
        feedbacks."""
        rec = cls(
            Problem.from_json(d["problem"]),
            d["rollout"],
            d["kind"],
            drop_reason=d.get("drop_reason"),
            rounds=d.get("rounds", 0),
            first_expert_attempt=d.get("first_expert_attempt", 0),
        )
        if d.get("trajectory"):
            traj = Trajectory.parse(d["trajectory"], instruction)
            rec.attempts, rec.feedbacks = list(traj.attempts), list(traj.feedbacks)
        return rec


def step_order(label: str | None) -> tuple[float, ...]:
    """Sort key of a step label: "2" < "2.1" < "3" < "Final response"."""
    if label is None:
        return (float("inf"),)
    if label == FINAL:
        return (float("inf"),)
    try:
        return tuple(float(x) for x in label.split("."))
    except ValueError:
        return (float("inf"),)


def _agrees(own: Feedback | None, expert: Feedback) -> bool:
    if own is None or own.correct != expert.correct:
        return False
    return own.correct or (own.error_step == expert.error_step and own.segment == expert.segment)


def check_update(old: Attempt, fb: Feedback, new: Attempt | None) -> str | None:
    """Why an update is rejected, or None if it is acceptable."""
    if new is None:
        return "update does not parse"
    step = fb.error_step
    if step not in old.labels:
        return None  # feedback on a malformed step: any parsed rewrite is progress
    k = old.index(step)
    if tuple(new.steps[:k]) != tuple(old.steps[:k]):
        return "update changes the steps before the error"
    if len(new.steps) > k and new.steps[k] == old.steps[k]:
        return "update does not change the error step"
    if fb.segment and len(new.steps) > k and fb.segment in new.steps[k].text:
        return "update still contains the error segment"
    return None


def edit_rollouts(
    problems: list[Problem],
    rollouts: list[str],
    fbk: FeedbackModule,
    imp: ImprovementModule,
    max_rounds: int = 5,
    instruction: str = "",
) -> list[EditRecord]:
    """Edit each rollout (text after the answer prompt) into a trajectory, or drop it."""
    records = [EditRecord(p, r) for p, r in zip(problems, rollouts)]
    split = [split_continuation(r, instruction, trim=True) for r in rollouts]
    _walk_policy_attempts(records, split, fbk)
    _improve(records, fbk, imp, max_rounds)
    return records


def _walk_policy_attempts(records, split, fbk: FeedbackModule) -> None:
    """Step 1: follow the policy's own trajectory while its feedback agrees with the expert's."""
    walking = list(range(len(records)))
    i = 0
    while walking:
        items = []
        for r in walking:
            text = split[r][0][i]
            try:
                items.append((r, Attempt.parse(text.strip("\n"))))
            except FormatError as e:
                if i == 0:
                    records[r].drop(f"malformed attempt: {e}")
                else:  # the policy's update is malformed: the expert improves the last attempt
                    records[r].kind = PENDING
        results = fbk.give_feedback(
            [records[r].problem for r, _ in items], [a.render() for _, a in items]
        )
        nxt = []
        for (r, att), res in zip(items, results):
            rec, (attempts, feedbacks) = records[r], split[r]
            if res.feedback is None:
                rec.drop(f"feedback failed: {res.drop_reason}")
                continue
            if i > 0 and _regressed(rec.feedbacks[-1], res.feedback):
                rec.kind = FEEDBACK_ONLY  # the policy's own update moved the error backwards
                continue
            rec.attempts.append(att)
            rec.feedbacks.append(res.feedback)
            own = _parse_own(feedbacks[i]) if i < len(feedbacks) else None
            agreed = _agrees(own, res.feedback)
            if res.feedback.correct:
                rec.kind = DIRECT if i == 0 else IMPROVED
            elif agreed and i + 1 < len(attempts):
                nxt.append(r)  # the policy's own critique was right: follow its update
            else:
                rec.kind = PENDING
            rec.first_expert_attempt = len(rec.attempts)
        walking = nxt
        i += 1


def _regressed(old: Feedback, new: Feedback) -> bool:
    """The error step of an update comes before the error step of the attempt it updates."""
    return not new.correct and step_order(new.error_step) < step_order(old.error_step)


def _parse_own(text: str) -> Feedback | None:
    try:
        return Feedback.parse(text.strip("\n"))
    except FormatError:
        return None


def _improve(records, fbk: FeedbackModule, imp: ImprovementModule, max_rounds: int) -> None:
    """Step 2: IMP -> FBK rounds with progress checks and the regression rule."""
    for _ in range(max_rounds):
        pending = [r for r in records if r.kind == PENDING]
        if not pending:
            break
        results = imp.improve(
            [r.problem for r in pending],
            [r.attempts[-1] for r in pending],
            [r.feedbacks[-1] for r in pending],
        )
        accepted = []
        for rec, res in zip(pending, results):
            rec.rounds += 1
            why = res.drop_reason or check_update(rec.attempts[-1], rec.feedbacks[-1], res.attempt)
            if why is None:
                accepted.append((rec, res.attempt))
            else:
                rec.drop_reason = why  # remembered; the next round may still succeed
        fb_results = fbk.give_feedback(
            [rec.problem for rec, _ in accepted], [a.render() for _, a in accepted]
        )
        for (rec, new), res in zip(accepted, fb_results):
            if res.feedback is None:
                rec.drop_reason = f"feedback failed: {res.drop_reason}"
                continue
            if _regressed(rec.feedbacks[-1], res.feedback):
                rec.kind = FEEDBACK_ONLY  # regression: keep the critique only
                continue
            rec.attempts.append(new)
            rec.feedbacks.append(res.feedback)
            rec.drop_reason = None
            if res.feedback.correct:
                rec.kind = IMPROVED
    for rec in records:
        if rec.kind == PENDING:
            rec.drop(f"no improvement round succeeded ({rec.drop_reason or 'still wrong'})")
