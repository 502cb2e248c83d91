"""Logical deduction in the ``stated`` style: the compact deduction, each pattern after its
statement as the question writes it. Gold, checks, injected errors and improvement (random
edits and BBH's questions: test_logical_deduction_compact.py, for both compact styles)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.ld_questions import BIRDS
from tripost.editing import check_update
from tripost.tasks import check_text, get_task
from tripost.tasks.logical_deduction.compact import COMPACT, STATED
from tripost.tasks.logical_deduction.model import Place, Read, Translate, parse_question
from tripost.trajectory import FINAL, Attempt, Problem

BBH = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "bbh"
needs_data = pytest.mark.skipif(not BBH.exists(), reason="../shared/data/bbh is not available")

TASK = get_task("logical_deduction", style="stated")
COMPACT_TASK = get_task("logical_deduction", style="compact")
BIRDS_GOLD = """\
(1) The falcon is to the right of the blue jay: ?? blue jay ?? falcon ??.
(2) The blue jay is to the right of the quail: ?? quail ?? blue jay ??.
(3) From (1) and (2): quail blue jay falcon.
(4) Position 2: blue jay.
(Final response) So the answer is the blue jay."""


def _problems(n: int, seed: int = 0) -> list[Problem]:
    rng = random.Random(seed)
    return [TASK.generate(rng, "unseen" if i % 3 == 0 else "seen") for i in range(n)]


def test_gold_restates_each_statement_before_the_compact_pattern() -> None:
    p = TASK.problem_from_text(BIRDS, None)
    assert p is not None and TASK.solve(p).render() == BIRDS_GOLD  # type: ignore[union-attr]
    assert TASK.style == "stated" and TASK.compact and TASK.step_style is STATED
    for p in _problems(200):
        gold, compact = TASK.solve(p), COMPACT_TASK.solve(p)
        assert gold is not None and compact is not None
        assert TASK.check(p, gold).correct and check_text(TASK, p, gold.render()).correct
        assert TASK.extract_answer(gold, p) == p.answer and gold.labels == compact.labels
        s = parse_question(p.question)
        numbered = [st for st in gold.steps if st.label != FINAL]
        forms = STATED.parse(s, numbered)  # type: ignore[arg-type]
        cnumbered = [st for st in compact.steps if st.label != FINAL]
        ref = COMPACT.parse(s, cnumbered)  # type: ignore[arg-type]
        for step, cstep, a, b in zip(numbered, cnumbered, forms, ref, strict=True):
            assert type(a) is type(b)
            if isinstance(a, Translate):
                assert (a.index, a.pattern) == (b.index, b.pattern)  # type: ignore[union-attr]
                statement = s.statements[a.index]  # type: ignore[union-attr]
                assert step.text == f"{statement}: {cstep.text.removeprefix('Given: ')}"
            else:
                assert step.text == cstep.text
                if isinstance(a, Place):
                    assert (a.refs, a.facts) == (b.refs, b.facts)  # type: ignore[union-attr]
                if isinstance(a, Read):
                    assert (a.position, a.name) == (b.position, b.name)  # type: ignore[union-attr]


def test_a_misquoted_statement_or_a_wrong_pattern_is_named() -> None:
    p = TASK.problem_from_text(BIRDS, None)
    misquoted = BIRDS_GOLD.replace("The falcon is to the right", "The quail is to the right")
    fb = TASK.check(p, Attempt.parse(misquoted))  # type: ignore[arg-type]
    assert fb.error_step == "1" and "is not one of the statements" in fb.reason  # type: ignore[operator]
    swapped = BIRDS_GOLD.replace("?? blue jay ?? falcon ??", "?? falcon ?? blue jay ??")
    fb = TASK.check(p, Attempt.parse(swapped))  # type: ignore[arg-type]
    assert fb.error_step == "1" and "?? falcon ?? blue jay ??" in fb.segment  # type: ignore[operator]
    assert TASK.improve(p, Attempt.parse(swapped), fb).render() == BIRDS_GOLD  # type: ignore[arg-type,union-attr]


def test_every_injected_kind_is_flagged_at_its_step_and_improved() -> None:
    rng = random.Random(5)
    kinds: set[type] = set()
    for p in _problems(200, seed=9):
        gold = TASK.solve(p)
        injected = TASK.inject_error(p, gold, rng)  # type: ignore[arg-type]
        if injected is None:
            continue
        bad, label = injected
        k = bad.index(label)
        assert bad.steps[:k] == gold.steps[:k] and bad.steps[k] != gold.steps[k]  # type: ignore[union-attr]
        s = parse_question(p.question)
        kinds.add(FINAL if label == FINAL else type(STATED.parse(s, gold.steps[: k + 1])[-1]))  # type: ignore[arg-type,union-attr]
        fb = TASK.check(p, Attempt.parse(bad.render()))
        assert fb.error_step == label and fb.segment in bad.steps[k].text  # type: ignore[operator]
        better = TASK.improve(p, bad, fb)
        assert better == gold and check_update(bad, fb, better) is None
    assert kinds == {Translate, Place, Read, FINAL}
