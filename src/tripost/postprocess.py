"""Post-processing (docs/design.md §4.3): turns, gold samples, rebalancing, dedup, weights.

- *improvement* samples: each ``(attempt, feedback, next attempt, its feedback)`` turn of an
  edited trajectory; *feedback-only* samples (regressions: attempt + expert critique) count with
  them;
- *non-improvement* samples: ``(correct attempt, correct feedback)``;
- *gold* samples: gold rationale + correct feedback.

Rebalancing with ratio r keeps every improvement sample and ``ceil(I / r)`` non-improvement and
as many gold samples (paper: r = 1.5); r = None keeps everything (TriPosT-auto).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from tripost.editing import DIRECT, FEEDBACK_ONLY, IMPROVED, EditRecord
from tripost.training import LossWeights, Sample
from tripost.trajectory import Attempt, Feedback, Trajectory, update_marker

IMPROVEMENT, NON_IMPROVEMENT, GOLD = "improvement", "non_improvement", "gold"


@dataclass(frozen=True)
class TrainItem:
    kind: str  # improvement | non_improvement | gold
    question: str
    attempts: tuple[Attempt, ...]
    feedbacks: tuple[Feedback, ...]
    eos: bool = True

    def to_sample(self, weights: LossWeights, instruction: str = "") -> Sample:
        """Weighted segments: prompt, first attempt, then feedback + updates."""
        first_wrong = bool(self.feedbacks) and not self.feedbacks[0].correct
        trajectory = Trajectory(self.question, self.attempts, self.feedbacks, instruction)
        prompt, first, rest = trajectory.segments()
        segments = [
            (prompt, weights.prompt_weight),
            (first, weights.wrong_attempt_weight if first_wrong else weights.attempt_weight),
        ]
        if rest and not self.eos:
            # the trajectory goes on after this wrong feedback: its next line is an updated
            # answer, so the feedback ends in the newline that begins it (tokenized as a whole
            # text, a full stop before a newline may be one token)
            rest += update_marker(instruction)[:1]
        if rest:
            segments.append((rest, weights.feedback_weight))
        return Sample(tuple(segments), eos=self.eos)


def split_turns(records: list[EditRecord]) -> tuple[list[TrainItem], list[TrainItem]]:
    """Improvement and non-improvement items from edited trajectories."""
    improvement, non_improvement = [], []
    for rec in records:
        q, A, F = rec.problem.question, rec.attempts, rec.feedbacks
        if rec.kind == DIRECT:
            non_improvement.append(TrainItem(NON_IMPROVEMENT, q, (A[0],), (F[0],)))
        elif rec.kind == IMPROVED:
            for i in range(len(A) - 1):
                improvement.append(
                    TrainItem(
                        IMPROVEMENT, q, (A[i], A[i + 1]), (F[i], F[i + 1]), eos=F[i + 1].correct
                    )
                )
        elif rec.kind == FEEDBACK_ONLY:
            improvement.append(TrainItem(IMPROVEMENT, q, (A[-1],), (F[-1],), eos=False))
    return improvement, non_improvement


def gold_items(questions_and_gold: list[tuple[str, Attempt]]) -> list[TrainItem]:
    return [TrainItem(GOLD, q, (a,), (Feedback.ok(a),)) for q, a in questions_and_gold]


def dedup(items: list[TrainItem]) -> list[TrainItem]:
    seen, out = set(), []
    for it in items:
        key = (
            it.question,
            tuple(a.render() for a in it.attempts),
            tuple(f.render() for f in it.feedbacks),
        )
        if key not in seen:
            seen.add(key)
            out.append(it)
    return out


def rebalance(
    improvement: list[TrainItem],
    non_improvement: list[TrainItem],
    gold: list[TrainItem],
    ratio: float | None,
    rng: random.Random,
) -> list[TrainItem]:
    """Keep all improvement items and ``ceil(I / ratio)`` of each other kind (all if None)."""
    if ratio is None:
        return improvement + non_improvement + gold
    if ratio <= 0:
        raise ValueError("ratio must be positive (or None for no rebalancing)")
    n = math.ceil(len(improvement) / ratio)
    pick = lambda xs: rng.sample(xs, min(n, len(xs)))  # noqa: E731
    return improvement + pick(non_improvement) + pick(gold)


def build_train_set(
    records: list[EditRecord],
    gold: list[tuple[str, Attempt]],
    ratio: float | None,
    rng: random.Random,
) -> tuple[list[TrainItem], dict[str, int]]:
    """Turns -> dedup -> rebalance; returns the items and stage figures."""
    imp, non = split_turns(records)
    imp, non, gld = dedup(imp), dedup(non), dedup(gold_items(gold))
    items = rebalance(imp, non, gld, ratio, rng)
    rng.shuffle(items)
    counts = Counter(it.kind for it in items)
    stats = {
        "available_improvement": len(imp),
        "available_non_improvement": len(non),
        "available_gold": len(gld),
        **{f"kept_{k}": counts.get(k, 0) for k in (IMPROVEMENT, NON_IMPROVEMENT, GOLD)},
    }
    return items, stats
