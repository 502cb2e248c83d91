"""Logical deduction in the compact style (task option ``style: compact``): gold rationale,
the answer read from a final response that names an object, scripted feedback and improvement,
injected errors, the paper style unchanged, and the task option's path from a config."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.digest import behaviour_digest
from tests.ld_questions import BIRDS, HEADER
from tripost.editing import IMPROVED, check_update
from tripost.experts import build_feedback, build_improvement
from tripost.si_demos import build_si_demos
from tripost.tasks import Task, check_text, get_task, is_correct
from tripost.tasks.logical_deduction import LogicalDeduction
from tripost.tasks.logical_deduction.compact import COMPACT
from tripost.tasks.logical_deduction.model import PAPER, Place, Read, Translate, parse_question
from tripost.trajectory import FINAL, Attempt, Feedback, FormatError, Problem

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
BBH = DATA / "bbh"
needs_data = pytest.mark.skipif(not BBH.exists(), reason="../shared/data/bbh is not available")

TASK = get_task("logical_deduction", style="compact")
PAPER_TASK = get_task("logical_deduction")
BIRDS_GOLD = """\
(1) Given: ?? blue jay ?? falcon ??.
(2) Given: ?? quail ?? blue jay ??.
(3) From (1) and (2): quail blue jay falcon.
(4) Position 2: blue jay.
(Final response) So the answer is the blue jay."""
FRUITS = HEADER.format("five") + (
    "A fruit stand sells five fruits: pears, watermelons, loquats, cantaloupes, and mangoes. The "
    "loquats are less expensive than the watermelons. The cantaloupes are the most expensive. "
    "The mangoes are the second-cheapest. The pears are the third-most expensive.\nOptions:\n"
    "(A) The pears are the second-most expensive\n(B) The watermelons are the second-most "
    "expensive\n(C) The loquats are the second-most expensive\n(D) The cantaloupes are the "
    "second-most expensive\n(E) The mangoes are the second-most expensive"
)
FRUITS_GOLD = """\
(1) Given: ?? watermelons ?? loquats ??.
(2) Given: cantaloupes ??.
(3) Given: ?? mangoes ?.
(4) Given: ? ? pears ??.
(5) From (2): cantaloupes ? ? ? ?.
(6) From (5) and (3): cantaloupes ? ? mangoes ?.
(7) From (6) and (4): cantaloupes ? pears mangoes ?.
(8) From (7) and (1): cantaloupes watermelons pears mangoes loquats.
(9) Position 2: watermelons.
(Final response) So the answer is the watermelons."""
GOLFERS = HEADER.format("seven") + (
    "In a golf tournament, there were seven golfers: Rob, Ada, Eve, Mel, Joe, Amy, and Dan. Ada "
    "finished third. Eve finished below Joe. Dan finished last. Mel finished second-to-last. "
    "Rob finished first. Amy finished above Ada. Joe finished below Ada.\nOptions:\n(A) Rob "
    "finished third-to-last\n(B) Ada finished third-to-last\n(C) Eve finished third-to-last\n"
    "(D) Mel finished third-to-last\n(E) Joe finished third-to-last\n(F) Amy finished "
    "third-to-last\n(G) Dan finished third-to-last"
)
GOLFERS_GOLD = """\
(1) Given: ? ? Ada ??.
(2) Given: ?? Joe ?? Eve ??.
(3) Given: ?? Dan.
(4) Given: ?? Mel ?.
(5) Given: Rob ??.
(6) Given: ?? Amy ?? Ada ??.
(7) Given: ?? Ada ?? Joe ??.
(8) From (1): ? ? Ada ? ? ? ?.
(9) From (8) and (3): ? ? Ada ? ? ? Dan.
(10) From (9) and (4): ? ? Ada ? ? Mel Dan.
(11) From (10) and (5): Rob ? Ada ? ? Mel Dan.
(12) From (11) and (6): Rob Amy Ada ? ? Mel Dan.
(13) From (12) and (2): Rob Amy Ada Joe Eve Mel Dan.
(14) Position 5: Eve.
(Final response) So the answer is Eve."""
#: sha256 of the paper style's problems, gold rationales, injected errors, feedback and
#: improvements for 200 generated problems, computed on the code before the compact style
PAPER_DIGEST = "c4273d3b796908e37e1ab998e160dffc8329fadfa70c12ff19a127139a899629"


def problem(question: str = FRUITS) -> Problem:
    p = TASK.problem_from_text(question, None)
    assert p is not None
    return p


def _problems(n: int, seed: int = 0) -> list[Problem]:
    rng = random.Random(seed)
    return [TASK.generate(rng, "unseen" if i % 3 == 0 else "seen") for i in range(n)]


def _slip(p: Problem, gold: Attempt, label: str) -> str:
    """The kind of slip injected at step ``label`` of the gold rationale: its step's form."""
    if label == FINAL:
        return "answer"
    s = parse_question(p.question)
    form = COMPACT.parse(s, gold.steps[: gold.index(label) + 1])[-1]  # type: ignore[arg-type]
    return {Translate: "misread", Place: "swap", Read: "lookup"}[type(form)]


# --- the gold rationale ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "gold"), [(BIRDS, BIRDS_GOLD), (FRUITS, FRUITS_GOLD), (GOLFERS, GOLFERS_GOLD)]
)
def test_solver_writes_the_deduction_in_few_words(question: str, gold: str) -> None:
    p = problem(question)
    attempt = TASK.solve(p)
    assert attempt is not None and attempt.render() == gold
    assert TASK.check(p, attempt).correct and TASK.extract_answer(attempt, p) == p.answer
    assert is_correct(TASK, p, gold) and Attempt.parse(gold) == attempt
    assert len(gold) < 0.5 * len(PAPER_TASK.solve(p).render())  # type: ignore[union-attr]


def test_the_style_is_a_task_option() -> None:
    assert isinstance(TASK, Task) and TASK.style == "compact" and TASK.compact
    assert TASK.step_style is COMPACT and PAPER_TASK.step_style is PAPER
    assert LogicalDeduction(style="paper").step_style is PAPER
    assert PAPER_TASK.style == "paper" and not PAPER_TASK.compact


def test_gold_of_random_problems_is_the_paper_deduction_and_passes_check() -> None:
    for p in _problems(300):
        gold, paper = TASK.solve(p), PAPER_TASK.solve(p)
        assert gold is not None and paper is not None
        assert TASK.check(p, gold).correct and check_text(TASK, p, gold.render()).correct
        assert TASK.extract_answer(gold, p) == p.answer
        s = parse_question(p.question)
        holder = s.option_objects[ord(p.answer[1]) - ord("A")]  # type: ignore[union-attr]
        assert gold.final == f"So the answer is {s.domain.mention(holder)}."  # type: ignore[union-attr]
        assert TASK.extract_answer(gold) == holder.lower()
        # the same steps citing the same steps, establishing the same placements
        numbered = [st for st in gold.steps if st.label != FINAL]
        compact = COMPACT.parse(s, numbered)  # type: ignore[arg-type]
        ref = PAPER.parse(s, [st for st in paper.steps if st.label != FINAL])  # type: ignore[arg-type]
        assert gold.labels == paper.labels
        for a, b in zip(compact, ref, strict=True):
            assert type(a) is type(b)
            if isinstance(a, Translate):
                assert (a.index, a.pattern) == (b.index, b.pattern)  # type: ignore[union-attr]
            if isinstance(a, Place) and isinstance(b, Place):
                assert (a.refs, a.facts) == (b.refs, b.facts)
                assert [x[:2] for x in a.places] == [x[:2] for x in b.places]
            if isinstance(a, Read):
                assert (a.position, a.name) == (b.position, b.name)  # type: ignore[union-attr]
        body = "\n".join(st.text for st in numbered)
        assert '"' not in body and "(left)" not in body and " is " not in body
        assert all(st.text.endswith(".") for st in gold.steps)


# --- the answer ----------------------------------------------------------------------------------


ANSWERS = [
    # (final response, without the problem, with it)
    ("So the answer is the blue jay.", "blue jay", "(A)"),
    ("So the answer is the Blue  Jay", "blue jay", "(A)"),
    ("The quail. So the answer is the quail.", "quail", "(B)"),
    ("So the answer is (A).", "(A)", "(A)"),  # a right letter is a right answer
    ("So the answer is (C).", "(C)", "(C)"),
    ("so the answer is (c)", "(C)", "(C)"),
    ("So the answer is the blue.", "blue", None),
    ("So the answer is the owl.", "owl", None),
    ("The blue jay.", None, None),
]


@pytest.mark.parametrize(("final", "alone", "letter"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_the_answer_is_an_object_or_a_letter(
    final: str, alone: str | None, letter: str | None
) -> None:
    attempt = Attempt.parse(BIRDS_GOLD.replace("So the answer is the blue jay.", final))
    assert TASK.extract_answer(attempt) == alone  # what LMSI votes on
    assert TASK.extract_answer(attempt, problem(BIRDS)) == letter
    assert is_correct(TASK, problem(BIRDS), attempt.render()) == (letter == "(A)")
    assert TASK.check(problem(BIRDS), attempt).correct == (letter == "(A)")


def test_a_golfer_is_named_without_article() -> None:
    p = problem(GOLFERS)
    assert TASK.extract_answer(Attempt.parse(GOLFERS_GOLD)) == "eve"
    for final, letter in [("Eve", "(C)"), ("the Eve", "(C)"), ("Dan", "(G)"), ("Eva", None)]:
        attempt = Attempt.parse(GOLFERS_GOLD.replace("is Eve.", f"is {final}."))
        assert TASK.extract_answer(attempt, p) == letter


def test_the_paper_style_reads_only_a_letter() -> None:
    paper = PAPER_TASK.solve(problem(BIRDS))
    assert paper is not None and paper.final.endswith("So the answer is (A).")
    assert PAPER_TASK.extract_answer(paper, problem(BIRDS)) == "(A)"
    attempt = Attempt.parse(BIRDS_GOLD)
    assert PAPER_TASK.extract_answer(attempt) is None
    assert not is_correct(PAPER_TASK, problem(BIRDS), BIRDS_GOLD)


def test_a_wrong_object_without_a_reading_is_named_by_the_right_one() -> None:
    text = FRUITS_GOLD.replace("(9) Position 2: watermelons.\n", "").replace(
        "the watermelons.", "the pears."
    )
    fb = check_text(TASK, problem(), text)
    assert (fb.error_step, fb.segment, fb.reason) == (
        FINAL,
        "So the answer is the pears",
        "the correct option is about the watermelons",
    )


def test_a_missing_period_is_accepted() -> None:
    text = "\n".join(line.rstrip(".") for line in BIRDS_GOLD.split("\n"))
    assert check_text(TASK, problem(BIRDS), text).correct


# --- scripted feedback -------------------------------------------------------------------------

WRONG = [
    # (case, old, new, step, segment, reason)
    ("objects swapped", "Given: ?? watermelons ?? loquats ??.", "Given: ?? loquats ?? watermelons ??.", "1",
     "Given: ?? loquats ?? watermelons ??.", '"The loquats are less expensive than the watermelons" means "?? watermelons ?? loquats ??"'),
    ("another name", "?? loquats ??.", "?? kiwis ??.", "1",
     "Given: ?? watermelons ?? kiwis ??.", '"kiwis" in the ordering is not one of the objects'),
    ("one off", "Given: ? ? pears ??.", "Given: ? pears ??.", "4",
     "Given: ? pears ??.", '"The pears are the third-most expensive" means "? ? pears ??"'),
    ("a piece of the right pattern", "Given: ?? mangoes ?.", "Given: ?? mangoes.", "3",
     "Given: ?? mangoes.", '"The mangoes are the second-cheapest" means "?? mangoes ?"'),
    ("other end", "Given: cantaloupes ??.", "Given: ?? cantaloupes.", "2",
     "Given: ?? cantaloupes.", '"The cantaloupes are the most expensive" means "cantaloupes ??"'),
    ("statement restated", "Given: cantaloupes ??.", "The cantaloupes are the most expensive.", "2",
     "The cantaloupes are the most expensive.", "the step is neither a statement's pattern, a placement nor a reading"),
    ("end markers", "Given: cantaloupes ??.", "Given: (most expensive) cantaloupes ??.", "2",
     "Given: (most expensive) cantaloupes ??.", '"(most" in the ordering is not one of the objects'),
    ("statement too many", "(5) From (2): cantaloupes ? ? ? ?.", "(5) Given: cantaloupes ??.", "5",
     "Given: cantaloupes ??.", "the question has only 4 statements"),
    ("placement false", "From (5) and (3): cantaloupes ? ? mangoes ?.", "From (5) and (3): cantaloupes ? mangoes ? ?.", "6",
     "cantaloupes ? mangoes ? ?", "(5) and (3) put the mangoes in position 4, not 3"),
    ("placement unjustified", "From (5) and (3):", "From (5):", "6",
     "From (5): cantaloupes ? ? mangoes ?", "(5) does not rule out position 2 for the mangoes"),
    ("known object moved", "From (6) and (4): cantaloupes ? pears", "From (6) and (4): ? cantaloupes pears", "7",
     "? cantaloupes pears mangoes ?", "(6) and (4) put the cantaloupes in position 1, not 2"),
    ("later step cited", "From (5) and (3):", "From (5) and (7):", "6",
     "(7)", "step (7) is not an earlier statement or ordering"),
    ("ordering too short", "From (2): cantaloupes ? ? ? ?.", "From (2): cantaloupes ? ? ?.", "5",
     "From (2): cantaloupes ? ? ?.", "the ordering must list all 5 positions, with ? for an unknown one"),
    ("pattern as ordering", "From (2): cantaloupes ? ? ? ?.", "From (2): cantaloupes ??.", "5",
     "From (2): cantaloupes ??.", "the ordering must list all 5 positions, with ? for an unknown one"),
    ("wrong object read", "Position 2: watermelons.", "Position 2: pears.", "9",
     "Position 2: pears", "position 2 in (8) holds the watermelons"),
    ("counted from the other end", "Position 2: watermelons.", "Position 4: mangoes.", "9",
     "Position 4", "the options ask about the second-most expensive, position 2"),
    ("unknown object read", "Position 2: watermelons.", "Position 2: melons.", "9",
     "Position 2: melons.", '"melons" is not one of the objects'),
    ("read too early", "(8) From (7) and (1): cantaloupes watermelons pears mangoes loquats.\n(9)", "(8)", "8",
     "Position 2: watermelons", "(7) does not say what is in position 2"),
    ("nothing to read", "(5) From (2): cantaloupes ? ? ? ?.", "(5) Position 2: watermelons.", "5",
     "Position 2: watermelons", "no earlier step is an ordering to read"),
    ("object not the one read", "answer is the watermelons", "answer is the pears", FINAL,
     "So the answer is the pears", "(9) reads the watermelons in position 2"),
    ("no option's object", "answer is the watermelons.", "answer is the melons.", FINAL,
     "So the answer is the melons.", 'no option is about "the melons"'),
    ("part of a name", "answer is the watermelons.", "answer is the water.", FINAL,
     "So the answer is the water.", 'no option is about "the water"'),
    ("two objects", "answer is the watermelons.", "answer is the watermelons pears.", FINAL,
     "So the answer is the watermelons pears.", 'no option is about "the watermelons pears"'),
    ("wrong letter", "answer is the watermelons", "answer is (C)", FINAL,
     "So the answer is (C)", "the option about the watermelons is (B)"),
    ("wrong option restated", "(Final response) So", "(Final response) The pears are the second-most expensive. So", FINAL,
     "The pears are the second-most expensive.", 'option (B) says "The watermelons are the second-most expensive"'),
    ("no answer", "So the answer is the watermelons.", "The watermelons.", FINAL,
     "The watermelons.", 'the final response does not end with "So the answer is" and an object'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "old", "new", "step", "segment", "reason"), WRONG, ids=[w[0] for w in WRONG]
)
def test_feedback_names_the_first_wrong_step_the_part_and_why(
    case: str, old: str, new: str, step: str, segment: str, reason: str
) -> None:
    assert FRUITS_GOLD.count(old) == 1
    text = FRUITS_GOLD.replace(old, new)
    fb = check_text(TASK, problem(), text)
    assert (fb.correct, fb.error_step, fb.segment, fb.reason) == (False, step, segment, reason)
    bad = Attempt.parse(text)
    k = bad.index(step)
    assert segment in bad.steps[k].text and Feedback.parse(fb.render()) == fb
    better = TASK.improve(problem(), bad, fb)
    assert better is not None and better.render() == FRUITS_GOLD
    assert check_update(bad, fb, better) is None  # the correction no longer holds the part


def test_feedback_renders_in_the_paper_format() -> None:
    text = BIRDS_GOLD.replace("quail blue jay falcon", "blue jay quail falcon")
    fb = check_text(TASK, problem(BIRDS), text)
    assert fb.render() == (
        'Step (1) to step (2) are correct. In step (3) the part "blue jay quail falcon" is '
        "incorrect. This is because (1) and (2) put the blue jay in position 2, not 1."
    )


def test_improve_continues_a_partial_deduction() -> None:
    p = problem()
    # right so far, then a placement of an object the cited steps do not fix
    text = (
        FRUITS_GOLD.split("\n(6)")[0]
        + "\n(6) From (5) and (1): cantaloupes watermelons ? ? ?.\n(Final response) So the answer is (B)."
    )
    bad = Attempt.parse(text)
    fb = TASK.check(p, bad)
    assert (fb.error_step, fb.reason) == (
        "6",
        "(5) and (1) do not rule out position 3 for the watermelons",
    )
    assert TASK.improve(p, bad, fb).render() == FRUITS_GOLD  # type: ignore[union-attr]
    assert TASK.improve(p, bad, Feedback.ok(bad)) is None


@pytest.mark.parametrize("style", ["compact", "stated", "phrased", "stepwise"])
def test_check_never_raises_and_accepts_only_the_right_option(style: str) -> None:
    rng = random.Random(3)
    task = get_task("logical_deduction", style=style)
    p = problem()
    gold = text = task.solve(p).render()  # type: ignore[union-attr]
    for _ in range(400):  # random character edits
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice("?.:() \n12aBk") + text[i + 1 :]
        try:
            attempt = Attempt.parse(text)
        except FormatError:
            continue
        fb = task.check(p, attempt)  # raises on a checker bug (check_text would hide it)
        assert fb.correct == (fb.error_step is None)
        if fb.correct:
            assert task.extract_answer(attempt, p) == p.answer
        if rng.random() < 0.3:
            text = gold


# --- injected errors ---------------------------------------------------------------------------


def test_every_injected_kind_is_flagged_at_its_step_and_improved() -> None:
    rng = random.Random(5)
    kinds: set[str] = set()
    for p in _problems(200, seed=9):
        gold = TASK.solve(p)
        assert gold is not None
        injected = TASK.inject_error(p, gold, rng)
        if injected is None:  # a misread with no other position to count
            continue
        bad, label = injected
        k = bad.index(label)
        assert bad.steps[:k] == gold.steps[:k] and bad.steps[k] != gold.steps[k]
        kinds.add(_slip(p, gold, label))
        fb = TASK.check(p, Attempt.parse(bad.render()))
        assert fb.error_step == label and fb.segment in bad.steps[k].text  # type: ignore[operator]
        if label == FINAL:  # another option's object, not the one read
            assert TASK.extract_answer(bad, p) != p.answer and "(" not in bad.final
            assert fb.reason.startswith(f"({bad.steps[k - 1].label}) reads ")  # type: ignore[union-attr]
        better = TASK.improve(p, bad, fb)
        assert better == gold and check_update(bad, fb, better) is None
    assert kinds == {"misread", "swap", "lookup", "answer"}


def test_expert_demonstrations_work_in_the_compact_style() -> None:
    problems = _problems(20)
    fbk, imp = build_feedback("scripted", TASK), build_improvement("scripted", TASK)
    demos, _, stats = build_si_demos(TASK, problems, fbk, imp, 5, random.Random(1))
    assert stats["demos"] == len(demos) >= 18, stats
    for d in demos:
        rec = d.record
        assert rec.feedbacks[0].error_step == d.injected_step and rec.kind == IMPROVED
        assert rec.attempts[-1] == TASK.solve(rec.problem) and '"' not in rec.attempts[0].render()


# --- the paper style and the task option ------------------------------------------------------


def test_the_paper_style_is_unchanged() -> None:
    assert behaviour_digest(LogicalDeduction(style="paper")) == PAPER_DIGEST


def test_unknown_style_or_update_style_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown style 'tiny'; known: 'paper', 'compact'"):
        LogicalDeduction(style="tiny")
    with pytest.raises(ValueError, match="update_style"):
        LogicalDeduction(update_style="append")
    task = get_task("logical_deduction", style="compact", instruction=" X.")
    assert task.instruction == " X."


# --- BIG-Bench Hard ----------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize("style", ["compact", "stated", "phrased", "stepwise"])
@pytest.mark.parametrize("size", ["three", "five", "seven"])
def test_bbh_questions_solve_and_check_in_the_compact_styles(size: str, style: str) -> None:
    examples = json.loads((BBH / f"logical_deduction_{size}_objects.json").read_text())["examples"]
    rng = random.Random(7)
    task = get_task("logical_deduction", style=style)
    for ex in examples[::5]:
        p = task.problem_from_text(ex["input"], ex["target"])
        assert p is not None
        gold = task.solve(p)
        assert gold is not None and task.check(p, gold).correct
        assert task.extract_answer(gold, p) == ex["target"] and is_correct(task, p, gold.render())
        bad, label = task.inject_error(p, gold, rng)  # type: ignore[misc]
        fb = task.check(p, bad)
        assert fb.error_step == label and task.improve(p, bad, fb) == gold
