"""Date understanding's option sets (task option ``options``): BBH's distractors unchanged by
default, and the ``balanced`` set, whose options alone do not tell the answer."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import date, timedelta

import pytest

from tests.digest import behaviour_digest
from tripost.cli import demo_config_path
from tripost.config import load_config
from tripost.tasks import Task, check_text, get_task, is_correct
from tripost.tasks.dates import DateUnderstanding
from tripost.tasks.dates.calendar import parse_date
from tripost.tasks.dates.compact import options_of
from tripost.tasks.dates.generate import balanced_options, field_agreement, neighbours
from tripost.tasks.dates.model import parse_question
from tripost.trajectory import Attempt, Problem

#: sha256 of 200 generated questions and answers of the default option set (seen and unseen in
#: turn, seed 7), computed on the code before the option sets
BBH_QUESTIONS = "4cf832e3d4611d4a0cc6372009600e826c51a7a252a8525b7939c844e82c926f"
#: tests.digest.behaviour_digest of the compact style, computed on the code before the option sets
COMPACT_DIGEST = "900f139a343b5a1df428527fad5db8bfd93b70c050ec9c1cb3e01bf26c6f3123"


def _problems(task: Task, n: int, seed: int) -> list[Problem]:
    rng = random.Random(seed)
    return [task.generate(rng, "seen" if i % 2 else "unseen") for i in range(n)]


def _options(question: str) -> dict[str, date]:
    """``"(A)"`` -> the option's date."""
    return {k: parse_date(v) for k, v in options_of(question).items()}


def majority_credit(p: Problem) -> float:
    """The rule of ``benchmarks/option_prior.py`` (the option whose month, day and year agree
    with the most options), a tie broken at random: its chance of answering right."""
    score = field_agreement(options_of(p.question))
    top = [k for k, s in score.items() if s == max(score.values())]
    return (p.answer in top) / len(top)


def chance(problems: list[Problem]) -> float:
    return sum(1 / len(_options(p.question)) for p in problems) / len(problems)


# --- the default is BBH's option set, unchanged ------------------------------------------------


def test_the_default_option_set_is_unchanged():
    for task in (DateUnderstanding(), get_task("date_understanding", options="bbh")):
        h = hashlib.sha256()
        for p in _problems(task, 200, seed=7):
            h.update((p.question + "\x00" + p.answer + "\x00").encode())
        assert h.hexdigest() == BBH_QUESTIONS
    assert behaviour_digest(get_task("date_understanding", style="compact")) == COMPACT_DIGEST
    assert DateUnderstanding().options == "bbh"


def test_an_unknown_option_set_is_refused():
    with pytest.raises(ValueError, match="unknown options 'fair'; known: 'bbh', 'balanced'"):
        DateUnderstanding(options="fair")
    with pytest.raises(ValueError, match="unknown style 'tiny'; known: 'paper', 'compact'"):
        get_task("date_understanding", style="tiny", options="balanced")


@pytest.mark.parametrize("quick", [False, True])
def test_demo_configs_build_a_balanced_compact_task(quick):
    cfg = load_config(demo_config_path("date_understanding", quick), {})
    assert cfg.task_options == {"style": "compact", "options": "balanced"}
    task = get_task(cfg.task, **cfg.task_options)
    assert task.compact and task.options == "balanced"


# --- the balanced option set -------------------------------------------------------------------


def test_neighbours_are_one_reversible_change_away():
    rng = random.Random(1)
    edges = [date(2000, 1, 31), date(2000, 2, 29), date(1999, 3, 31), date(1999, 12, 31)]
    for d in edges + [date(1890, 1, 1) + timedelta(days=rng.randrange(60000)) for _ in range(500)]:
        near = neighbours(d)
        assert 6 <= len(near) <= 8 and len(set(near)) == len(near) and d not in near
        assert all(d in neighbours(x) for x in near)  # y is a neighbour of x iff x is one of y
    assert neighbours(date(2000, 1, 31)) == [
        date(2000, 1, 30), date(2000, 2, 1), date(2000, 1, 24), date(2000, 2, 7),
        date(1999, 12, 31), date(1999, 1, 31), date(2001, 1, 31),
    ]  # fmt: skip
    # none past the calendar's end
    assert neighbours(date(9999, 12, 31)) == [
        date(9999, 12, 30),
        date(9999, 12, 24),
        date(9998, 12, 31),
    ]


def test_balanced_options_are_a_centre_and_its_neighbours_the_answer_among_them():
    rng = random.Random(2)
    sizes = Counter()
    for _ in range(2000):
        answer = date(1890, 1, 1) + timedelta(days=rng.randrange(60000))
        opts = balanced_options(rng, answer)
        sizes[len(opts)] += 1
        assert answer in opts and len(set(opts)) == len(opts)
        centres = [c for c in opts if set(opts) - {c} <= set(neighbours(c))]
        assert len(centres) == 1
    assert set(sizes) == {5, 6}


def test_balanced_questions_keep_bbhs_format():
    task = get_task("date_understanding", options="balanced")
    for p in _problems(task, 300, seed=3):
        head, _, opts = p.question.partition("\nOptions:\n")
        assert head.endswith(" in MM/DD/YYYY?") and p.bucket in task.buckets
        lines = opts.split("\n")
        assert 5 <= len(lines) <= 6 and len(set(lines)) == len(lines)
        assert [line[:3] for line in lines] == [f"({c})" for c in "ABCDEF"[: len(lines)]]
        dates = _options(p.question)
        assert len(dates) == len(lines) and all(d is not None for d in dates.values())
        assert dates[p.answer].strftime("%m/%d/%Y") == p.meta["target_date"]
        assert parse_question(p.question).answer == p.answer
    assert {p.seen for p in _problems(task, 20, seed=4)} == {True, False}


@pytest.mark.parametrize("style", ["paper", "compact"])
def test_balanced_problems_solve_check_inject_and_improve(style):
    task = get_task("date_understanding", style=style, options="balanced")
    rng = random.Random(5)
    named = total = 0
    for p in _problems(task, 200, seed=6):
        gold = task.solve(p)
        assert task.check(p, gold).correct and check_text(task, p, gold.render()).correct
        assert task.extract_answer(gold, p) == p.answer and is_correct(task, p, gold.render())
        injected = task.inject_error(p, gold, rng)
        assert injected is not None
        bad, label = injected
        fb = task.check(p, Attempt.parse(bad.render()))
        total += 1
        named += (not fb.correct) and fb.error_step == label
        new = task.improve(p, bad, fb)
        assert new is not None and task.check(p, new).correct
    assert named / total >= 0.99


def test_the_majority_rule_answers_balanced_questions_at_chance_only():
    """BBH's distractors give the answer away to the rule; balanced ones do not (2,000
    questions: a standard error of about one point)."""
    balanced = _problems(get_task("date_understanding", options="balanced"), 2000, seed=8)
    bbh = _problems(DateUnderstanding(), 500, seed=8)
    right = sum(map(majority_credit, balanced)) / len(balanced)
    assert abs(right - chance(balanced)) < 0.03
    assert sum(map(majority_credit, bbh)) / len(bbh) > 0.8


def test_the_answers_position_is_uniform():
    problems = _problems(get_task("date_understanding", options="balanced"), 2000, seed=9)
    for n in (5, 6):
        letters = [p.answer for p in problems if len(_options(p.question)) == n]
        counts = Counter(letters)
        assert len(counts) == n
        assert all(abs(c / len(letters) - 1 / n) < 0.04 for c in counts.values()), counts
