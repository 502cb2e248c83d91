"""Self-improvement evaluation and metrics (docs/design.md §4.5 and §5).

Greedy decoding of the whole trajectory: attempt -> own feedback -> if it says wrong, update ->
... up to ``rounds`` updates. The answer is parsed from the last attempt.

Metrics per bucket and split (seen / unseen / total):
- accuracy: final answer correct;
- si_freq: fraction of questions with at least one update;
- si_contrib: fraction of *correct* answers reached through an update (first wrong, final right);
  ``si_contrib_all`` is the same count over all questions;
- fix_rate / break_rate: wrong -> right and right -> wrong among updated questions;
- flag precision / recall: the model's first feedback says, in the feedback format, that a step
  is wrong (``In step (k) the part "..." is incorrect. ...``) vs the first attempt really is;
- feedback_malformed: fraction of questions whose first feedback is neither the format's
  "correct" nor its "wrong" (garbled text). Decoding treats it as "not correct" and goes on to
  an update, as at inference, but it is not counted as a flag: a tiny model that garbles its
  "correct" sentence has not detected an error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Literal

from tripost.policy.generation import generate, truncate_rounds
from tripost.policy.model import Policy
from tripost.policy.prompting import PromptFormat
from tripost.settings import EvalConfig as EvalConfig
from tripost.tasks.base import Task, is_correct
from tripost.trajectory import (
    Feedback,
    FormatError,
    Problem,
    join_continuation,
    own_verdict,
    split_continuation,
)

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """One evaluated question."""

    question: str
    bucket: str
    seen: bool
    first_correct: bool
    final_correct: bool
    updated: bool
    flagged: bool  # the model's own first feedback says, in the format, that a step is wrong
    n_updates: int
    output: str
    malformed: bool = False  # its first feedback is neither the format's "correct" nor "wrong"


def self_improve(
    policy: Policy,
    task: Task,
    problems: list[Problem],
    cfg: EvalConfig,
    prompt_format: PromptFormat | None = None,
) -> list[Outcome]:
    """Greedy self-improvement decoding on ``problems``."""
    fmt = prompt_format or PromptFormat(policy.tokenizer)
    prompts = [fmt.prompt(p.question, task.instruction) for p in problems]
    outs = generate(
        policy,
        prompts,
        cfg.sampling(),
        add_bos=fmt.add_bos,
        extra_stop_ids=fmt.stop_ids(),
    )
    return [score_output(task, p, o, cfg.rounds) for p, o in zip(problems, outs)]


def score_output(task: Task, problem: Problem, output: str, rounds: int) -> Outcome:
    """Score one generated continuation (what follows the answer prompt).

    The continuation is read with the format's one parser (``split_continuation`` and
    ``Feedback.parse``). The model's own feedback saying the attempt is correct ends the
    trajectory, as it does at inference: an update written after it is not scored. A feedback
    flags the attempt unless it parses as the "correct" feedback (quoting the stop phrase inside
    an error's segment is a flag)."""
    output = truncate_rounds(output, rounds, task.instruction)
    attempts, feedbacks = split_continuation(output, task.instruction, trim=True)
    # text after the answer that is not a feedback (a misspelled "Feedback:" of a model that
    # spells the format's words character by character) is a garbled feedback, not none
    garbled = not feedbacks and bool(output[len(attempts[0]) :].strip())
    for i, fb in enumerate(feedbacks):
        verdict = own_verdict(fb)
        if verdict is not None:
            attempts, feedbacks = attempts[: i + 1], [*feedbacks[:i], verdict]
            break
    output = join_continuation(attempts, feedbacks, task.instruction)
    first = is_correct(task, problem, attempts[0])
    final = is_correct(task, problem, attempts[-1])
    first_says = feedback_verdict(feedbacks[0]) if feedbacks else None
    if garbled:
        first_says = "malformed"
    return Outcome(
        problem.question,
        problem.bucket,
        problem.seen,
        first,
        final,
        len(attempts) > 1,
        first_says == "wrong",
        len(attempts) - 1,
        output,
        first_says == "malformed",
    )


def feedback_verdict(feedback: str) -> Literal["correct", "wrong", "malformed"]:
    """What a feedback the model wrote says, read with the format's parser (also used by
    ``benchmarks/flags.py`` on stored outputs)."""
    if own_verdict(feedback) is not None:
        return "correct"
    try:
        return "correct" if Feedback.parse(feedback.strip()).correct else "wrong"
    except FormatError:
        return "malformed"


_OPTION = re.compile(r"^\([A-Z]\) ", re.M)


def chance_accuracy(question: str) -> float | None:
    """Accuracy of a uniform guess among the options of a multiple-choice question (``(A) ...``
    lines after ``Options:``); None for a question without options."""
    _, sep, options = question.partition("Options:")
    k = len(_OPTION.findall(options)) if sep else 0
    return 1.0 / k if k else None


def metrics(outcomes: list[Outcome]) -> dict[str, float]:
    n = len(outcomes)
    if n == 0:
        return {"n": 0}
    chances = [chance_accuracy(o.question) for o in outcomes]
    correct = sum(o.final_correct for o in outcomes)
    updated = [o for o in outcomes if o.updated]
    contrib = sum(o.final_correct and not o.first_correct for o in outcomes)
    fixed = sum(o.final_correct and not o.first_correct for o in updated)
    broken = sum(o.first_correct and not o.final_correct for o in updated)
    flagged = [o for o in outcomes if o.flagged]
    wrong_first = [o for o in outcomes if not o.first_correct]
    return {
        "n": n,
        "accuracy": correct / n,
        "first_accuracy": sum(o.first_correct for o in outcomes) / n,
        "si_freq": len(updated) / n,
        "si_contrib": contrib / correct if correct else 0.0,
        "si_contrib_all": contrib / n,
        "fixed": fixed,
        "broken": broken,
        "fix_rate": fixed / max(1, sum(not o.first_correct for o in updated)),
        "break_rate": broken / max(1, sum(o.first_correct for o in updated)),
        "flag_precision": sum(not o.first_correct for o in flagged) / len(flagged)
        if flagged
        else 0.0,
        "flag_recall": sum(o.flagged for o in wrong_first) / len(wrong_first)
        if wrong_first
        else 0.0,
        "feedback_malformed": sum(o.malformed for o in outcomes) / n,
        # what guessing among the options would score (multiple choice only)
        "chance": sum(chances) / n if None not in chances else None,
    }


def result_rows(method: str, iteration: int, outcomes: list[Outcome]) -> list[dict]:
    """report.json ``results`` rows for one model: seen / unseen / total."""
    groups = {
        "seen": [o for o in outcomes if o.seen],
        "unseen": [o for o in outcomes if not o.seen],
        "total": outcomes,
    }
    return [
        {"method": method, "iteration": iteration, "split": split, **metrics(outs)}
        for split, outs in groups.items()
        if outs
    ]


def bucket_rows(method: str, iteration: int, outcomes: list[Outcome]) -> list[dict]:
    """report.json ``buckets`` rows: the same metrics per subtask bucket."""
    rows = []
    for bucket in sorted({o.bucket for o in outcomes}):
        outs = [o for o in outcomes if o.bucket == bucket]
        seen = outs[0].seen
        rows.append(
            {
                "method": method,
                "iteration": iteration,
                "bucket": bucket,
                "seen": seen,
                **metrics(outs),
            }
        )
    return rows


def outcome_json(o: Outcome) -> dict:
    return asdict(o)
