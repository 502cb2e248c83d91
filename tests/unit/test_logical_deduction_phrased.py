"""Logical deduction in the ``phrased`` style: the compact deduction, the reading naming the
options' position words before the position. Gold, checks of a wrong position and of wrong
position words, injected errors and improvement (random edits and BBH's questions:
test_logical_deduction_compact.py, for every compact style)."""

from __future__ import annotations

import random
import re

from tests.ld_questions import BIRDS
from tripost.editing import check_update
from tripost.tasks import check_text, get_task
from tripost.tasks.logical_deduction.compact import PHRASED
from tripost.tasks.logical_deduction.model import asked_phrase, parse_question
from tripost.trajectory import FINAL, Attempt

TASK = get_task("logical_deduction", style="phrased")
COMPACT_TASK = get_task("logical_deduction", style="compact")
BIRDS_GOLD = """\
(1) Given: ?? blue jay ?? falcon ??.
(2) Given: ?? quail ?? blue jay ??.
(3) From (1) and (2): quail blue jay falcon.
(4) the second from the left is position 2: blue jay.
(Final response) So the answer is the blue jay."""


def test_gold_is_the_compact_deduction_with_the_position_words_in_the_reading() -> None:
    p = TASK.problem_from_text(BIRDS, None)
    assert p is not None and TASK.solve(p).render() == BIRDS_GOLD  # type: ignore[union-attr]
    assert TASK.style == "phrased" and TASK.compact and TASK.step_style is PHRASED
    rng = random.Random(0)
    for split in ["seen", "unseen"] * 100:
        p = TASK.generate(rng, split)
        gold, compact = TASK.solve(p), COMPACT_TASK.solve(p)
        assert gold is not None and compact is not None and TASK.check(p, gold).correct
        assert (
            check_text(TASK, p, gold.render()).correct and TASK.extract_answer(gold, p) == p.answer
        )
        phrase = asked_phrase(parse_question(p.question))
        for mine, theirs in zip(gold.steps, compact.steps, strict=True):
            reading = re.fullmatch(r"Position (\d+): (.+)", theirs.text)
            want = f"{phrase} is position {reading[1]}: {reading[2]}" if reading else theirs.text
            assert (mine.label, mine.text) == (theirs.label, want)


def test_a_wrong_position_or_wrong_position_words_are_named_and_repaired() -> None:
    p = TASK.problem_from_text(BIRDS, None)
    cases = [  # (the reading written, the part named, the reason starts with)
        (
            "the second from the left is position 3: falcon.",
            "is position 3",
            "the second from the left is position 2",
        ),
        ("the rightmost is position 3: falcon.", "the rightmost", "the options ask about"),
        (
            "the second from the left is position 2: quail.",
            "the second from the left is position 2: quail",
            "",
        ),
        ("the middle one is position 2: blue jay.", "the middle one", '"the middle one" is not'),
    ]
    for reading, part, reason in cases:
        bad = Attempt.parse(BIRDS_GOLD.replace(BIRDS_GOLD.splitlines()[3][4:], reading))
        fb = TASK.check(p, bad)  # type: ignore[arg-type]
        assert (fb.error_step, fb.segment) == ("4", part), reading
        assert fb.reason.startswith(reason), fb.reason  # type: ignore[union-attr]
        better = TASK.improve(p, bad, fb)  # type: ignore[arg-type]
        assert better is not None and better.render() == BIRDS_GOLD
        assert check_update(bad, fb, better) is None


def test_every_injected_kind_is_flagged_at_its_step_and_improved() -> None:
    rng, problems = random.Random(5), random.Random(9)
    kinds: set[str] = set()
    for p in [TASK.generate(problems, split) for split in ["seen", "seen", "unseen"] * 67]:
        gold = TASK.solve(p)
        assert gold is not None
        injected = TASK.inject_error(p, gold, rng)
        if injected is None:
            continue
        bad, label = injected
        k = bad.index(label)
        assert bad.steps[:k] == gold.steps[:k] and bad.steps[k] != gold.steps[k]
        s = parse_question(p.question)
        if label != FINAL:
            form = PHRASED.parse(s, gold.steps[: k + 1])[-1]  # type: ignore[arg-type]
            kinds.add(type(form).__name__)
        fb = TASK.check(p, Attempt.parse(bad.render()))
        assert fb.error_step == label and fb.segment in bad.steps[k].text  # type: ignore[operator]
        better = TASK.improve(p, bad, fb)
        assert better == gold and check_update(bad, fb, better) is None
    assert kinds == {"Translate", "Place", "Read"}
