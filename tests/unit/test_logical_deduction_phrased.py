"""Logical deduction in the ``phrased`` style: the compact deduction, the reading naming the
options' position words before the position. Gold, checks of a wrong position and of wrong
position words, injected errors and improvement (random edits and BBH's questions:
test_logical_deduction_compact.py, for every compact style)."""

from __future__ import annotations

import random

from tripost.editing import check_update
from tripost.tasks import check_text, get_task
from tripost.tasks.logical_deduction.compact import COMPACT, PHRASED
from tripost.tasks.logical_deduction.model import Read, parse_question
from tripost.trajectory import FINAL, Attempt, Problem

TASK = get_task("logical_deduction", style="phrased")
COMPACT_TASK = get_task("logical_deduction", style="compact")
BIRDS = (
    "The following paragraphs each describe a set of three objects arranged in a fixed order. "
    "The statements are logically consistent within each paragraph. On a branch, there are "
    "three birds: a blue jay, a quail, and a falcon. The falcon is to the right of the blue "
    "jay. The blue jay is to the right of the quail.\nOptions:\n(A) The blue jay is the second "
    "from the left\n(B) The quail is the second from the left\n(C) The falcon is the second "
    "from the left"
)
BIRDS_GOLD = """\
(1) Given: ?? blue jay ?? falcon ??.
(2) Given: ?? quail ?? blue jay ??.
(3) From (1) and (2): quail blue jay falcon.
(4) the second from the left is position 2: blue jay.
(Final response) So the answer is the blue jay."""


def _problems(n: int, seed: int = 0) -> list[Problem]:
    rng = random.Random(seed)
    return [TASK.generate(rng, "unseen" if i % 3 == 0 else "seen") for i in range(n)]


def test_gold_is_the_compact_deduction_with_the_position_words_in_the_reading() -> None:
    p = TASK.problem_from_text(BIRDS, None)
    assert p is not None and TASK.solve(p).render() == BIRDS_GOLD  # type: ignore[union-attr]
    assert TASK.style == "phrased" and TASK.compact and TASK.step_style is PHRASED
    for p in _problems(200):
        gold, compact = TASK.solve(p), COMPACT_TASK.solve(p)
        assert gold is not None and compact is not None
        assert TASK.check(p, gold).correct and check_text(TASK, p, gold.render()).correct
        assert TASK.extract_answer(gold, p) == p.answer and gold.labels == compact.labels
        s = parse_question(p.question)
        numbered = [st for st in gold.steps if st.label != FINAL]
        cnumbered = [st for st in compact.steps if st.label != FINAL]
        forms = PHRASED.parse(s, numbered)  # type: ignore[arg-type]
        ref = COMPACT.parse(s, cnumbered)  # type: ignore[arg-type]
        for step, cstep, a, b in zip(numbered, cnumbered, forms, ref, strict=True):
            assert type(a) is type(b)
            if isinstance(a, Read):
                assert (a.position, a.name) == (b.position, b.name)  # type: ignore[union-attr]
                assert a.phrase and step.text.startswith(f"{a.phrase} is position ")
            else:
                assert step.text == cstep.text


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
    rng = random.Random(5)
    kinds: set[str] = set()
    for p in _problems(200, seed=9):
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
