"""Logical deduction in the ``stepwise`` style: the ``phrased`` deduction with one object placed
per step. Gold, the one-name-per-placement rule, injected errors and their repair (random edits and
BBH's questions: test_logical_deduction_compact.py, for every compact style)."""

from __future__ import annotations

import random

import pytest

from tests.ld_questions import BIRDS
from tripost.cli import demo_config_path
from tripost.config import load_config
from tripost.tasks import check_text, get_task
from tripost.tasks.logical_deduction.compact import STEPWISE
from tripost.tasks.logical_deduction.model import parse_question
from tripost.trajectory import Attempt

TASK = get_task("logical_deduction", style="stepwise")
PHRASED_TASK = get_task("logical_deduction", style="phrased")
BIRDS_GOLD = """\
(1) Given: ?? blue jay ?? falcon ??.
(2) Given: ?? quail ?? blue jay ??.
(3) From (1) and (2): quail ? ?.
(4) From (3) and (1): quail blue jay ?.
(5) From (4): quail blue jay falcon.
(6) the second from the left is position 2: blue jay.
(Final response) So the answer is the blue jay."""


def _orderings(attempt: Attempt) -> list[list[str]]:
    """Each placement's ordering as a list of slots (``?`` or a name)."""
    out = []
    for st in attempt.steps:
        if st.text.startswith("From "):
            out.append(st.text.split(": ", 1)[1].rstrip("."))
    return out


def test_gold_places_one_object_per_step_and_checks() -> None:
    p = TASK.problem_from_text(BIRDS, None)
    assert p is not None and TASK.solve(p).render() == BIRDS_GOLD  # type: ignore[union-attr]
    assert TASK.style == "stepwise" and TASK.compact and TASK.step_style is STEPWISE
    rng = random.Random(0)
    for split in ["seen", "unseen"] * 100:
        p = TASK.generate(rng, split)
        gold, phrased = TASK.solve(p), PHRASED_TASK.solve(p)
        assert gold is not None and phrased is not None
        assert check_text(TASK, p, gold.render()).correct
        assert TASK.extract_answer(gold, p) == p.answer
        s = parse_question(p.question)
        orderings = _orderings(gold)
        unknown = [o.count("?") for o in orderings]  # one fewer unknown per placement
        assert unknown == list(range(s.n - 1, -1, -1))[-len(orderings) :]
        assert orderings[-1] == _orderings(phrased)[-1]  # the same order in the end
        # the Given steps, the reading and the answer are the phrased style's
        given = [st for st in gold.steps if st.text.startswith("Given")]
        assert given == [st for st in phrased.steps if st.text.startswith("Given")]
        assert gold.steps[-2].text == phrased.steps[-2].text
        assert gold.steps[-1] == phrased.steps[-1]


def test_a_placement_of_two_objects_is_accepted_and_continued_one_at_a_time() -> None:
    """The checker judges what a placement claims, not how many objects it adds: the compact
    style's two-object step is right here too, and the repair after a later error goes on one
    object at a time."""
    p = TASK.problem_from_text(BIRDS, None)
    two = BIRDS_GOLD.replace("quail ? ?.", "quail blue jay ?.")
    assert TASK.check(p, Attempt.parse(two)).correct
    ok = "\n".join(BIRDS_GOLD.split("\n")[:2] + ["(3) From (1) and (2): quail blue jay ?."])
    bad = Attempt.parse(
        ok + "\n(4) From (3): quail blue jay hawk.\n(Final response) So it is the quail."
    )
    fb = TASK.check(p, bad)
    assert fb.error_step == "4"
    fixed = TASK.improve(p, bad, fb)
    assert fixed is not None and TASK.check(p, fixed).correct
    assert fixed.render().split("\n")[2:4] == [
        "(3) From (1) and (2): quail blue jay ?.",
        "(4) From (3): quail blue jay falcon.",
    ]


def test_injected_errors_are_found_and_repaired() -> None:
    rng = random.Random(5)
    for split in ["seen", "unseen"] * 50:
        p = TASK.generate(rng, split)
        gold = TASK.solve(p)
        out = TASK.inject_error(p, gold, rng)  # type: ignore[arg-type]
        if out is None:
            continue
        bad, label = out
        fb = TASK.check(p, bad)
        assert not fb.correct and fb.error_step == label
        assert TASK.improve(p, bad, fb) == gold


@pytest.mark.parametrize("quick", [False, True])
def test_demo_configs_build_the_stepwise_task(quick: bool) -> None:
    cfg = load_config(demo_config_path("logical_deduction", quick), {})
    assert cfg.task_options == {"style": "stepwise"}
    task = get_task(cfg.task, **cfg.task_options)
    p = task.problem_from_text(BIRDS, None)
    assert task.solve(p).render() == BIRDS_GOLD  # type: ignore[union-attr]
