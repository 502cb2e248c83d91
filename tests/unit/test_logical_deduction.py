"""The logical deduction task: reading questions, gold deduction, scripted feedback and
improvement, error injection, on a hand-written question, generated ones and BIG-Bench Hard."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tripost.tasks import check_text, get_task
from tripost.tasks.logical_deduction import LogicalDeduction
from tripost.tasks.logical_deduction.model import DOMAINS, parse_question, parse_sentence
from tripost.trajectory import FINAL, Attempt, Feedback, Problem, Step

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
BBH = DATA / "bbh"
needs_data = pytest.mark.skipif(not BBH.exists(), reason="../shared/data/bbh is not available")

TASK = LogicalDeduction()
QUESTION = (
    "The following paragraphs each describe a set of three objects arranged in a fixed order. "
    "The statements are logically consistent within each paragraph. On a branch, there are three "
    "birds: a blue jay, a quail, and a falcon. The falcon is to the right of the blue jay. The "
    "blue jay is to the right of the quail.\nOptions:\n(A) The blue jay is the second from the "
    "left\n(B) The quail is the second from the left\n(C) The falcon is the second from the left"
)
GOLD = """(1) The falcon is to the right of the blue jay: "(left) ?? blue jay ?? falcon ?? (right)".
(2) The blue jay is to the right of the quail: "(left) ?? quail ?? blue jay ?? (right)".
(3) From (1) and (2), the quail is in position 1, the blue jay is in position 2 and the falcon is in position 3: "(left) quail blue jay falcon (right)".
(4) In (3), the second from the left is position 2, which holds the blue jay.
(Final response) The blue jay is the second from the left. So the answer is (A)."""


def _problem() -> Problem:
    problem = TASK.problem_from_text(QUESTION, "(A)")
    assert problem is not None
    return problem


def _edit(label: str, text: str) -> Attempt:
    gold = Attempt.parse(GOLD)
    return Attempt(tuple(Step(s.label, text) if s.label == label else s for s in gold.steps))


@pytest.mark.parametrize(
    ("domain", "sentence", "tokens"),
    [
        ("birds", "The quail is to the left of the owl", ("??", "quail", "??", "owl", "??")),
        ("birds", "The quail is to the right of the owl", ("??", "owl", "??", "quail", "??")),
        ("books", "The red book is the leftmost", ("red book", "??")),
        ("books", "The red book is the third from the right", ("??", "red book", "?", "?")),
        ("golfers", "Rob finished below Eve", ("??", "Eve", "??", "Rob", "??")),
        ("golfers", "Rob finished second", ("?", "Rob", "??")),
        ("golfers", "Rob finished last", ("??", "Rob")),
        ("golfers", "Rob finished third-to-last", ("??", "Rob", "?", "?")),
        (
            "vehicles",
            "The bus is newer than the station wagon",
            ("??", "station wagon", "??", "bus", "??"),
        ),
        ("vehicles", "The bus is the second-oldest", ("?", "bus", "??")),
        ("vehicles", "The bus is the newest", ("??", "bus")),
        (
            "fruits",
            "The pears are less expensive than the plums",
            ("??", "plums", "??", "pears", "??"),
        ),
        ("fruits", "The pears are the cheapest", ("??", "pears")),
        ("fruits", "The pears are the second-most expensive", ("?", "pears", "??")),
    ],
)
def test_parse_sentence_reads_each_statement_kind(
    domain: str, sentence: str, tokens: tuple
) -> None:
    names = ["quail", "owl", "red book", "Rob", "Eve", "bus", "station wagon", "pears", "plums"]
    pattern = parse_sentence(DOMAINS[domain], names, sentence)
    assert pattern is not None and pattern.tokens == tokens


@pytest.mark.parametrize(
    "sentence",
    [
        "The quail is above the owl",
        "The quail is the eighth from the left",
        "The emu is the leftmost",
    ],
)
def test_parse_sentence_returns_none_for_unknown_wording(sentence: str) -> None:
    assert parse_sentence(DOMAINS["birds"], ["quail", "owl", "hawk"], sentence) is None


def test_problem_from_text_infers_bucket_and_keeps_target() -> None:
    problem = _problem()
    assert (problem.answer, problem.bucket, problem.seen, problem.task) == (
        "(A)",
        "3",
        True,
        "logical_deduction",
    )
    assert TASK.problem_from_text(QUESTION, None).answer == "(A)"  # type: ignore[union-attr]
    assert TASK.problem_from_text("Q: " + QUESTION, "A").answer == "(A)"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("question", "target"),
    [
        (QUESTION.replace("The falcon is to the right of the blue jay. ", ""), None),  # not unique
        (
            QUESTION.replace("to the right of the quail", "beside the quail"),
            None,
        ),  # unknown wording
        (QUESTION.replace("three birds", "three fish"), None),  # unknown scene
        (QUESTION, "banana"),  # unreadable target
    ],
)
def test_problem_from_text_returns_none_rather_than_guessing(
    question: str, target: str | None
) -> None:
    assert TASK.problem_from_text(question, target) is None


def test_solve_writes_the_stepwise_deduction() -> None:
    gold = TASK.solve(_problem())
    assert gold is not None and gold.render() == GOLD
    assert TASK.check(_problem(), gold).correct
    assert TASK.extract_answer(gold) == "(A)"


@pytest.mark.parametrize(
    ("label", "text", "segment", "reason"),
    [
        ("1", 'The falcon is to the right of the blue jay: "(left) ?? falcon ?? blue jay ?? (right)".',
         "(left) ?? falcon ?? blue jay ?? (right)", '"The falcon is to the right of the blue jay" means "(left) ?? blue jay ?? falcon ?? (right)"'),
        ("2", "The quail is the leftmost, I think.",
         "The quail is the leftmost, I think.", "the step is neither a statement with its ordering, a placement nor a reading"),
        ("2", 'The owl is to the right of the quail: "(left) ?? quail ?? owl ?? (right)".',
         'The owl is to the right of the quail: "(left) ?? quail ?? owl ?? (right)".', '"The owl is to the right of the quail" is not one of the statements'),
        ("3", 'From (1) and (2), the blue jay is in position 1, the quail is in position 2 and the falcon is in position 3: "(left) blue jay quail falcon (right)".',
         "the blue jay is in position 1", "(1) and (2) put the blue jay in position 2, not 1"),
        ("3", 'From (1), the quail is in position 1: "(left) quail ? ? (right)".',
         "From (1), the quail is in position 1", "(1) does not rule out position 2 for the quail"),
        ("3", 'From (1) and (5), the quail is in position 1: "(left) quail ? ? (right)".',
         "(5)", "step (5) is not an earlier statement or ordering"),
        ("3", 'From (1) and (2), the quail is in position 1: "(left) quail falcon blue jay (right)".',
         "(left) quail falcon blue jay (right)", "(1) and (2) put the falcon in position 3, not 2"),
        ("3", 'From (1) and (2), the quail is in position 1: "(left) ? quail ? (right)".',
         "(left) ? quail ? (right)", "the ordering does not put the quail in position 1"),
        ("4", "In (3), the second from the left is position 2, which holds the quail.",
         "which holds the quail", "position 2 in (3) holds the blue jay"),
        ("4", "In (3), the second from the left is position 3, which holds the falcon.",
         "is position 3", "the second from the left is position 2 of 3"),
        ("4", "In (3), the rightmost is position 3, which holds the falcon.",
         "the rightmost", "the options ask about the second from the left"),
        ("4", "In (1), the second from the left is position 2, which holds the blue jay.",
         "In (1)", "step (1) is not an earlier ordering"),
        (FINAL, "The blue jay is the second from the left. So the answer is (B).",
         "So the answer is (B)", "the option about the blue jay is (A)"),
        (FINAL, "The quail is the second from the left. So the answer is (A).",
         "The quail is the second from the left.", 'option (A) says "The blue jay is the second from the left"'),
        (FINAL, "The blue jay is the second from the left.",
         "The blue jay is the second from the left.", 'the final response does not end with "So the answer is (X)."'),
    ],
)  # fmt: skip
def test_feedback_names_first_wrong_step(label: str, text: str, segment: str, reason: str) -> None:
    attempt = _edit(label, text)
    fb = TASK.check(_problem(), attempt)
    assert (fb.correct, fb.error_step, fb.segment, fb.reason) == (False, label, segment, reason)
    assert segment in attempt.steps[attempt.index(label)].text
    assert Feedback.parse(fb.render()) == fb


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        '(1) From (1), the quail is in position 9: "(left) quail ? ? (right)".\n(Final response) So the answer is (Q).',
        '(1) From (1), the quail is in position 1: "(left) quail quail ? (right)".\n(Final response) x',
        "(1) In (0), x is position 1, which holds the owl.\n(Final response) x",
        '(1) The falcon is to the right of the blue jay: "(left) ?? ?? (right)".\n(Final response) x',
    ],
)
def test_malformed_attempts_get_feedback_not_exceptions(text: str) -> None:
    fb = check_text(TASK, _problem(), text)
    assert not fb.correct and fb.error_step == "1"
    assert "could not be checked" not in (fb.reason or "")


def test_correct_placement_with_more_references_than_needed_is_accepted() -> None:
    attempt = _edit(
        "3",
        'From (2) and (1), the falcon is in position 3 and the quail is in position 1: "(left) quail blue jay falcon (right)".',
    )
    assert TASK.check(_problem(), attempt).correct


@pytest.mark.parametrize("split", ["seen", "seen", "unseen"])
@pytest.mark.parametrize("seed", range(6))
def test_generated_problems_round_trip_and_gold_passes(split: str, seed: int) -> None:
    problem = TASK.generate(random.Random(seed), split)
    assert problem.seen == (split == "seen") and problem.bucket in TASK.buckets
    assert (problem.bucket == "7") == (split == "unseen")
    scene = parse_question(problem.question)
    assert scene is not None and scene.question() == problem.question
    assert len(scene.statements) >= scene.n - 1  # unique order needs at least n - 1 statements
    again = TASK.problem_from_text(problem.question, None)
    assert again is not None and again.answer == problem.answer
    gold = TASK.solve(problem)
    assert gold is not None and TASK.check(problem, gold).correct


@pytest.mark.parametrize("seed", range(30))
def test_injected_error_is_named_and_improvement_fixes_it(seed: int) -> None:
    rng = random.Random(seed)
    problem = TASK.generate(rng, "unseen" if seed % 3 == 0 else "seen")
    gold = TASK.solve(problem)
    bad, label = TASK.inject_error(problem, gold, rng)  # type: ignore[arg-type,misc]
    fb = TASK.check(problem, bad)
    assert not fb.correct and fb.error_step == label
    better = TASK.improve(problem, bad, fb)
    assert better is not None and TASK.check(problem, better).correct
    k = bad.index(label)
    assert better.steps[:k] == bad.steps[:k] and better.labels[k] == label
    assert fb.segment not in better.render()


def test_improve_continues_a_partial_deduction_in_another_order() -> None:
    problem = _problem()
    # a correct but different start: statement (2) first, then a placement citing it
    attempt = Attempt.parse(
        '(1) The blue jay is to the right of the quail: "(left) ?? quail ?? blue jay ?? (right)".\n'
        '(2) From (1), the falcon is in position 1: "(left) falcon ? ? (right)".\n'
        "(Final response) So the answer is (C)."
    )
    fb = TASK.check(problem, attempt)
    assert fb.error_step == "2"
    better = TASK.improve(problem, attempt, fb)
    assert better is not None and TASK.check(problem, better).correct
    assert better.steps[0] == attempt.steps[0]
    assert better.steps[1].text.startswith("The falcon is to the right of the blue jay")
    assert "From (2) and (1)" in better.steps[2].text or "From (1) and (2)" in better.steps[2].text


def test_improve_returns_none_for_correct_feedback() -> None:
    gold = Attempt.parse(GOLD)
    assert TASK.improve(_problem(), gold, Feedback.ok(gold)) is None


def test_registry_builds_the_task_with_instruction() -> None:
    task = get_task("logical_deduction", instruction=LogicalDeduction.PAPER_INSTRUCTION)
    assert task.instruction.startswith(' Let "??" represents')
    assert get_task("logical_deduction").instruction == ""
    assert get_task("logical_deduction").buckets == ["3", "5", "7"]


@needs_data
@pytest.mark.parametrize("size", ["three", "five", "seven"])
def test_bbh_questions_are_all_read_and_answered_like_the_target(size: str) -> None:
    examples = json.loads((BBH / f"logical_deduction_{size}_objects.json").read_text())["examples"]
    problems = [TASK.problem_from_text(e["input"], None) for e in examples]
    assert all(p is not None for p in problems)
    assert [p.answer for p in problems] == [e["target"] for e in examples]  # type: ignore[union-attr]
    rng = random.Random(0)
    for problem in problems[::25]:  # the full gold/feedback sweep is benchmarks-sized
        gold = TASK.solve(problem)  # type: ignore[arg-type]
        assert gold is not None and TASK.check(problem, gold).correct  # type: ignore[arg-type]
        bad, label = TASK.inject_error(problem, gold, rng)  # type: ignore[arg-type,misc]
        assert TASK.check(problem, bad).error_step == label  # type: ignore[arg-type]
