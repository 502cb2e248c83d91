"""The multistep arithmetic task: reader, gold solver, scripted feedback and improvement."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tripost.tasks import get_task
from tripost.tasks.arithmetic import SEEN_BUCKETS, UNSEEN_BUCKETS, MultistepArithmetic
from tripost.tasks.arithmetic.model import (
    ExprError,
    Node,
    chain_error,
    digits_op,
    evaluate,
    parse_expr,
    reductions,
    render,
    split_op,
)
from tripost.tasks.base import check_text
from tripost.trajectory import FINAL, Attempt, Feedback, Problem, Step, Trajectory

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
OFFICIAL = DATA / "tripost-official"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data")

TASK = MultistepArithmetic()
QUESTION = "(((7 * 3 - -7) + (-9 * -6 + -3)) - ((2 + 6 * -2) + (4 * -4 * 5))) ="
GOLD = """\
(1) This equation can be written as "((A + B) - (C + D))", where A = (7 * 3 - -7), B = (-9 * -6 + -3), C = (2 + 6 * -2) and D = (4 * -4 * 5).
(2) Let's calculate A = (7 * 3 - -7) = ((7 * 3) - -7) = (21 - -7) = 28.
(3) Let's calculate B = (-9 * -6 + -3) = ((-9 * -6) + -3) = (54 + -3) = 51.
(4) Let's calculate C = (2 + 6 * -2) = (2 + (6 * -2)) = (2 + -12) = -10.
(5) Let's calculate D = (4 * -4 * 5) = ((4 * -4) * 5) = (-16 * 5) = -80.
(6) Then, the final equation is ((A + B) - (C + D)) = ((28 + 51) - (-10 + -80)) = (79 - (-10 + -80)) = (79 - -90) = 169.
(Final response) So the answer is 169."""
STEP5 = "(5) Let's calculate D = (4 * -4 * 5) = ((4 * -4) * 5) = (-16 * 5) = -80.\n"


def problem():
    p = TASK.problem_from_text(QUESTION, None)
    assert p is not None
    return p


def short_style(question: str) -> str:
    """The gold structure written tersely: one operation per `=` without the fully
    parenthesised form, several operations per `=` in the final equation."""
    p = TASK.problem_from_text(question, None)
    gold = TASK.solve(p)
    steps = [gold.steps[0]]
    for step in gold.steps[1:-2]:
        head, group = step.text.split(" = ")[:2]
        toks, chain = group.strip("()").split(" "), [group]
        while len(toks) > 1:
            i = toks.index("*") if "*" in toks else 1
            a, op, b = int(toks[i - 1]), toks[i], int(toks[i + 1])
            toks[i - 1 : i + 2] = [str(a * b if op == "*" else a + b if op == "+" else a - b)]
            chain.append(f"({' '.join(toks)})" if len(toks) > 1 else toks[0])
        steps.append(Step(step.label, f"{head} = {' = '.join(chain)}."))
    final_eq = gold.steps[-2].text.rstrip(".").split(" = ")
    steps.append(Step(gold.steps[-2].label, " = ".join([*final_eq[:2], final_eq[-1]]) + "."))
    steps.append(gold.steps[-1])
    return Attempt(tuple(steps)).render()


# --- expressions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, full, value",
    [
        ("(7 - -1 + -1 + -4)", "(((7 - -1) + -1) + -4)", 3),
        ("(-7 + 7 * 3 * -9)", "(-7 + ((7 * 3) * -9))", -196),
        ("(1 - -7 + -3 * 2)", "((1 - -7) + (-3 * 2))", 2),
        ("7 -1", "(7 - 1)", 6),
        ("((4))", "4", 4),
    ],
)
def test_parser_respects_precedence_and_signs(text, full, value):
    tree = parse_expr(text)
    assert render(tree) == full
    assert evaluate(tree) == value == ([tree, *reductions(tree)][-1])


@pytest.mark.parametrize("text", ["", "(1 + 2", "1 +", "(1 2)", "1 / 2", "x", "(1 + 2))"])
def test_parser_rejects_malformed_expressions(text):
    with pytest.raises(ExprError):
        parse_expr(text)


def test_reductions_follow_the_official_order():
    # operations on two numbers first, left to right, then the next level
    tree = parse_expr("(((0 * 10) + (-51 - 49)) + ((0 - -140) + (-48 + -24)))")
    assert [render(t) for t in reductions(tree)][2:5] == [
        "((0 + -100) + (140 + (-48 + -24)))",
        "((0 + -100) + (140 + -72))",
        "(-100 + (140 + -72))",
    ]


@pytest.mark.parametrize(
    "chain, fault",
    [
        (["(7 - -1 + -1 + -4)", "(8 + -1 + -4)", "(7 + -4)", "3"], None),
        (["(7 - -1 + -1 + -4)", "3"], None),
        (["(7 + -4)", "4"], (0, 1, "(7 + -4) is not equal to 4")),
        (["(8 + -1)", "(7 + -4", "3"], (0, 2, "(7 + -4 is not a valid expression")),
        (["(8 + -1)", "(3 + 4)"], (0, 1, "the calculation of A is not finished")),
    ],
)
def test_chain_error_judges_links_by_value(chain, fault):
    assert chain_error(chain, {}, "A") == fault


# --- reading questions and generating them -----------------------------------------------------


@pytest.mark.parametrize(
    "question, bucket, seen",
    [
        ("((-1 + 2 + 9 * 5) - (-2 + -4 + -4 * -7)) =", "l4_d2", True),
        ("((-1 + 2 + 9 * 5) - (-2 + -4 + -4 * -7)) = ", "l4_d2", True),
        ("Q: ((1 + 2 * 3) * (4 - 5 - 6)) =", "l3_d2", True),
        (QUESTION, "l3_d22", True),
        ("((1 + 2 + 3 + 4 + 5) - (1 - 2 - 3 - 4 - 5)) =", "l5_d2", False),
        ("(((1 + 2) - (3 + 4)) * ((5 + 6) * (7 + 8))) =", "l2_d22", False),
        ("((1 + 2 + 3) - (4 + 5)) =", "other", False),
        ("((1 + 2) - ((3 + 4) * (5 + 6))) =", "other", False),
    ],
)
def test_problem_from_text_infers_bucket(question, bucket, seen):
    p = TASK.problem_from_text(question, None)
    assert (p.bucket, p.seen, p.task) == (bucket, seen, "multistep_arithmetic")
    assert p.question == question.removeprefix("Q: ").strip()


@pytest.mark.parametrize(
    "question",
    [
        "",
        "1 + 2 =",
        "(1 + 2 * 3) =",
        "((1 + 2) - (3 + 4))",
        "((1 + 2) - (3 + 4) + (5 + 6)) =",
        "((1 + (2 * 3)) - (4 + 5)) =",
        "((1 + 2) / (3 + 4)) =",
        "((A + 2) - (3 + 4)) =",
        "((1 + 2) - (3)) =",
        "Sort the following words: apple banana",
    ],
)
def test_problem_from_text_rejects_other_text(question):
    assert TASK.problem_from_text(question, None) is None


def test_problem_from_text_keeps_target_normalised():
    assert TASK.problem_from_text(QUESTION, " +169").answer == "169"
    assert TASK.problem_from_text(QUESTION, None).answer == "169"
    assert TASK.problem_from_text(QUESTION, "(B)") is None


@pytest.mark.parametrize("split, buckets", [("seen", SEEN_BUCKETS), ("unseen", UNSEEN_BUCKETS)])
def test_generate_draws_from_the_split_buckets(split, buckets):
    rng = random.Random(0)
    problems = [TASK.generate(rng, split) for _ in range(200)]
    assert {p.bucket for p in problems} == set(buckets)
    for p in problems:
        assert p.seen == (split == "seen")
        again = TASK.problem_from_text(p.question, None)
        assert (again.bucket, again.answer) == (p.bucket, p.answer)
        assert TASK.extract_answer(TASK.solve(p)) == p.answer


def test_task_options_and_registry():
    assert TASK.buckets == SEEN_BUCKETS + UNSEEN_BUCKETS
    assert TASK.instruction == ""
    assert get_task("multistep_arithmetic", instruction=" Hi.").instruction == " Hi."
    assert MultistepArithmetic.PAPER_INSTRUCTION.startswith(" Recall that the order")
    with pytest.raises(ValueError, match="update_style"):
        MultistepArithmetic(update_style="append")
    with pytest.raises(ValueError, match="split"):
        TASK.generate(random.Random(0), "train")


# --- gold solver and answers -------------------------------------------------------------------


def test_solver_writes_the_official_rationale():
    gold = TASK.solve(problem())
    assert gold.render() == GOLD
    assert Attempt.parse(gold.render()) == gold


def test_solver_writes_a_length_two_group_once():
    p = TASK.problem_from_text("((1 + 2) * (3 - 4 * 5)) =", None)
    gold = TASK.solve(p)
    assert gold.steps[1].text == "Let's calculate A = (1 + 2) = 3."
    assert TASK.check(p, gold).correct


def test_solver_repeats_an_expression_when_twins_reduce_together():
    # the official generator rewrote text: both (2 * 1) go at once, then the expression repeats
    p = TASK.problem_from_text("((2 * 1 + -4 - 2 * 1 * -9) - (1 + 2)) =", None)
    assert "= ((2 + -4) - (2 * -9)) = ((2 + -4) - (2 * -9)) =" in TASK.solve(p).steps[1].text


def test_gold_trajectory_round_trips():
    gold = TASK.solve(problem())
    traj = Trajectory(QUESTION, (gold,), (Feedback.ok(gold),), TASK.PAPER_INSTRUCTION)
    assert Trajectory.parse(traj.render(), TASK.PAPER_INSTRUCTION) == traj


@pytest.mark.parametrize(
    "final, answer",
    [
        ("So the answer is -7.", "-7"),
        ("So the answer is 007.", "7"),
        ("So the answer is -0", "0"),
        ("I do not know.", None),
    ],
)
def test_extract_answer_normalises_integers(final, answer):
    assert TASK.extract_answer(Attempt((Step(FINAL, final),))) == answer


# --- scripted feedback -------------------------------------------------------------------------


def test_gold_and_short_style_rationales_are_correct():
    rng = random.Random(1)
    for split in ("seen", "unseen") * 50:
        p = TASK.generate(rng, split)
        for text in (TASK.solve(p).render(), short_style(p.question)):
            fb = check_text(TASK, p, text)
            assert fb.correct, (text, fb.render())
    assert "= (8 + -6) = 2." in short_style("((1 - -7 + -3 * 2) - (1 + 1)) =")
    assert Feedback.ok(TASK.solve(problem())).render() == (
        "Step (1) to step (6) are correct. The final response is also correct."
    )


# fmt: off
WRONG = [  # (edit of GOLD: old -> new, wrong step, segment (None: not checked), words of the reason)
    ('"((A + B) - (C + D))",', '"((A + B) - (C * D))",', "1",
     'written as "((A + B) - (C * D))"', "the question has the form ((A + B) - (C + D))"),
    ("B = (-9 * -6 + -3),", "B = (-9 * -6 - -3),", "1", "B = (-9 * -6 - -3)", "B is (-9 * -6 + -3)"),
    (", C = (2 + 6 * -2) and D = (4 * -4 * 5).", " and C = (2 + 6 * -2).", "1",
     "A = (7 * 3 - -7), B = (-9 * -6 + -3) and C = (2 + 6 * -2)", "D is not defined"),
    ("and D = (4 * -4 * 5).", ", D = (4 * -4 * 5) and E = (1 + 1).", "1", "E = (1 + 1)", "only 4 groups"),
    ("(54 + -3) = 51.", "(54 + -3) = 41.", "3", "(54 + -3) = 41.", "(54 + -3) is not equal to 41"),
    ("((7 * 3) - -7) = (21 - -7) = 28", "((7 * 3) - -7) = (24 - -7) = 31", "2",
     "((7 * 3) - -7) = (24 - -7)", "((7 * 3) - -7) is not equal to (24 - -7)"),
    ("C = (2 + 6 * -2) = (2 +", "C = (2 + 6 * 2) = (2 +", "4", "C = (2 + 6 * 2)", "C is (2 + 6 * -2)"),
    ("(4) Let's calculate C", "(4) Let's calculate D", "4", "Let's calculate D", "should calculate C"),
    ("= ((28 + 51) -", "= ((28 + 15) -", "6",
     "((A + B) - (C + D)) = ((28 + 15) - (-10 + -80))", "B is 51 according to step (3)"),
    ("(79 - -90) = 169.", "(79 - -90) = 179.", "6", "(79 - -90) = 179.", "is not equal to 179"),
    ("(79 - -90) = 169.", "(79 - -90).", "6", "(79 - (-10 + -80)) = (79 - -90).", "not finished"),
    ("final equation is ((A + B) - (C + D)) =", "final equation is ((A + B) + (C + D)) =", "6",
     "final equation is ((A + B) + (C + D))", "written as ((A + B) - (C + D)) in step (1)"),
    ("So the answer is 169.", "So the answer is 196.", FINAL, "the answer is 196.", "gives 169"),
    (STEP5 + "(6)", "(5)", "5", "Then, the final equation", "D has not been calculated"),
    ("(6) Then", "(7) Then", "7", None, "should be numbered (6)"),
    ("\n(Final", "\n(7) Then, the final equation is 169.\n(Final", "7", None, "already calculated"),
]
# fmt: on


@pytest.mark.parametrize("old, new, step, segment, reason", WRONG)
def test_feedback_names_first_wrong_step(old, new, step, segment, reason):
    assert old in GOLD
    text = GOLD.replace(old, new, 1)
    fb = check_text(TASK, problem(), text)
    assert (fb.correct, fb.error_step) == (False, step), fb.render()
    if segment is not None:
        assert fb.segment == segment
    assert reason in fb.reason
    attempt = Attempt.parse(text)
    assert fb.segment in attempt.steps[attempt.index(step)].text
    assert Feedback.parse(fb.render()) == fb


def test_feedback_on_missing_final_equation_points_at_final_response():
    text = GOLD.replace(GOLD.split("\n")[5] + "\n", "")
    fb = check_text(TASK, problem(), text)
    assert (fb.error_step, fb.segment) == (FINAL, "So the answer is 169.")
    assert "step (6) with the final equation is missing" in fb.reason


def test_feedback_on_swapped_steps_names_the_first_out_of_order():
    lines = GOLD.split("\n")
    lines[2], lines[3] = lines[3].replace("(4)", "(3)"), lines[2].replace("(3)", "(4)")
    fb = check_text(TASK, problem(), "\n".join(lines))
    assert (fb.error_step, fb.segment) == ("3", "Let's calculate C")


# fmt: off
MALFORMED = [  # (edit of GOLD: old -> new, wrong step, words of the reason)
    ("This equation can be written as", "I think the equation is", "1", "does not follow the format"),
    ("= ((7 * 3) - -7) =", "= ((7 * 3) - -7 =", "2", "is not a valid expression"),
    ("Let's calculate A = (7 * 3 - -7)", "We compute A, it is", "2", "does not follow the format"),
    ("So the answer is 169.", "So the answer is unknown.", FINAL, "does not state the answer"),
    ("(54 + -3) = 51.", "(54 + -3) = 51.\nso B is 51.", "3", "does not follow the format"),
    ("(3) Let's", "(2) Let's", "2", "numbered (2) instead of (3)"),  # a repeated label
    ("(2) Let's", "(4) Let's", "4", "should be numbered (2)"),
    ("(6) Then, the final", "(Final response) Then, the final", "1", "step format"),  # 2 finals
]
# fmt: on


@pytest.mark.parametrize("old, new, step, reason", MALFORMED)
def test_feedback_on_malformed_steps_is_a_parse_error(old, new, step, reason):
    assert old in GOLD
    fb = check_text(TASK, problem(), GOLD.replace(old, new, 1))
    assert (fb.correct, fb.error_step) == (False, step), fb.render()
    assert reason in fb.reason


@pytest.mark.parametrize("text", ["", "The answer is 3.", "(1) foo", "(Final response)"])
def test_feedback_never_raises_on_garbage(text):
    fb = check_text(TASK, problem(), text)
    assert not fb.correct


def test_feedback_on_a_question_of_another_task():
    p = Problem("Sort: b a", "a b", "word_sorting")
    fb = TASK.check(p, TASK.solve(problem()))
    assert (fb.correct, fb.error_step) == (False, "1")


# --- error injection and scripted improvement --------------------------------------------------


@pytest.mark.parametrize(
    "kind, where",
    [("chain", "calculation"), ("substitution", "6"), ("decomposition", "1"), ("answer", FINAL)],
)
def test_injected_error_of_each_kind_is_found(kind, where):
    rng = random.Random(5)
    for _ in range(20):
        bad, label = TASK.inject_error(problem(), TASK.solve(problem()), rng, kind=kind)
        assert label == where or (where == "calculation" and label in {"2", "3", "4", "5", "6"})
        fb = TASK.check(problem(), bad)
        assert fb.error_step == label
        assert fb.segment in bad.steps[bad.index(label)].text


def test_feedback_finds_injected_errors_and_improvement_fixes_them():
    rng = random.Random(0)
    n, named = 500, 0
    for i in range(n):
        p = TASK.generate(rng, "seen" if i % 2 else "unseen")
        bad, label = TASK.inject_error(p, TASK.solve(p), rng)
        fb = TASK.check(p, Attempt.parse(bad.render()))
        named += fb.error_step == label
        new = TASK.improve(p, bad, fb)
        k = bad.index(fb.error_step)
        assert new.steps[:k] == bad.steps[:k]  # the correct prefix is kept verbatim
        assert new.steps[k] != bad.steps[k] and fb.segment not in new.steps[k].text
        assert TASK.check(p, new).correct
    assert named / n >= 0.99


def test_improvement_keeps_a_short_style_prefix():
    text = short_style(QUESTION).replace("(-16 * 5) = -80.", "(-16 * 5) = -90.")
    bad = Attempt.parse(text)
    fb = TASK.check(problem(), bad)
    assert fb.error_step == "5"
    new = TASK.improve(problem(), bad, fb)
    assert new.steps[:4] == bad.steps[:4] and new.steps[4:] == TASK.solve(problem()).steps[4:]
    assert TASK.check(problem(), new).correct


def test_improvement_declines_without_an_error():
    gold = TASK.solve(problem())
    assert TASK.improve(problem(), gold, Feedback.ok(gold)) is None
    assert TASK.improve(problem(), gold, Feedback.error(None, "9", "x", "y")) is None


# --- the published data ------------------------------------------------------------------------


@needs_data
def test_solver_reproduces_and_checker_accepts_official_rationales():
    lines = (OFFICIAL / "raw" / "multistep_arithmetic_scripted_rationales.jsonl").read_text()
    rows = [json.loads(x) for x in lines.splitlines()]
    assert len(rows) == 960
    for row in rows:
        p = TASK.problem_from_text(row["question"], row["correct_answer"])
        gold = Attempt.parse(row["rationale"])
        assert TASK.solve(p) == gold
        assert TASK.check(p, gold).correct


@needs_data
def test_checker_accepts_official_training_rationales():
    files = sorted((OFFICIAL / "training" / "multistep_arithmetic").glob("*_world_rationale_*"))
    assert files
    for f in files:
        for line in f.read_text().splitlines():
            row = json.loads(line)
            traj = Trajectory.parse(row["text"], TASK.PAPER_INSTRUCTION)  # the instruction too
            p = TASK.problem_from_text(traj.question, row["meta_data"]["answer"])
            assert TASK.check(p, traj.attempts[0]).correct


@needs_data
def test_solver_answers_all_bbh_questions():
    examples = json.loads((DATA / "bbh" / "multistep_arithmetic_two.json").read_text())["examples"]
    assert len(examples) == 250
    for ex in examples:
        p = TASK.problem_from_text(ex["input"], None)
        assert TASK.extract_answer(TASK.solve(p)) == ex["target"] == p.answer


# --- the compact style --------------------------------------------------------------------------

COMPACT = MultistepArithmetic(style="compact")


def test_compact_style_writes_the_same_steps_without_sentences():
    p = COMPACT.problem_from_text("((-9 - 8 * -9) + (4 + -9 - 7)) =", None)
    assert COMPACT.solve(p).render() == (
        "(1) (A + B)\n"
        "(2) A = (-9 - 8 * -9) = -9 - -72 = 63.\n"
        "(3) B = (4 + -9 - 7) = -5 - 7 = -12.\n"
        "(4) (A + B) = (63 + -12) = 51.\n"
        "(Final response) So the answer is 51."
    )
    assert len(COMPACT.solve(p).render()) < len(TASK.solve(p).render()) * 0.6


def test_compact_style_rejects_unknown_styles():
    with pytest.raises(ValueError, match="unknown style 'tiny'"):
        MultistepArithmetic(style="tiny")
    assert get_task("multistep_arithmetic", style="compact").compact


@pytest.mark.parametrize(
    "old, new, step, reason",
    [
        ("(1) (A + B)", "(1) (A - B)", "1", "the question has the form (A + B)"),
        ("= -9 - -72 = 63.", "= -9 - -72 = 62.", "2", "-9 - -72 is not equal to 62"),
        ("(3) B = (4 + -9 - 7)", "(3) B = (4 + 9 - 7)", "3", "B is (4 + -9 - 7) in the question"),
        ("(3) B", "(3) C", "3", "step (3) should calculate B"),
        ("(63 + -12) = 51.", "(63 + -12) = 41.", "4", "(63 + -12) is not equal to 41"),
        ("(4) (A + B) = (63", "(4) (A + B) = (36", "4", "A is 63 according to step (2)"),
        ("answer is 51.", "answer is 15.", FINAL, "the final equation in step (4) gives 51"),
    ],
)
def test_compact_feedback_names_the_first_wrong_step(old, new, step, reason):
    p = COMPACT.problem_from_text("((-9 - 8 * -9) + (4 + -9 - 7)) =", None)
    text = COMPACT.solve(p).render()
    assert old in text
    fb = check_text(COMPACT, p, text.replace(old, new, 1))
    assert (fb.correct, fb.error_step) == (False, step)
    assert reason in fb.reason


def test_compact_injected_errors_are_found_and_fixed_in_compact_style():
    rng = random.Random(1)
    for i in range(300):
        p = COMPACT.generate(rng, "seen" if i % 2 else "unseen")
        gold = COMPACT.solve(p)
        assert COMPACT.check(p, gold).correct
        bad, label = COMPACT.inject_error(p, gold, rng)
        assert bad.steps[0].text == gold.steps[0].text or label == "1"
        fb = COMPACT.check(p, Attempt.parse(bad.render()))
        assert fb.error_step == label and fb.segment in bad.steps[bad.index(label)].text
        new = COMPACT.improve(p, bad, fb)
        k = bad.index(label)
        assert new.steps[:k] == bad.steps[:k] and new.steps[k:] == gold.steps[k:]
        assert COMPACT.check(p, new).correct


# --- the ops style ------------------------------------------------------------------------------

OPS = MultistepArithmetic(style="ops")
OPS_Q = "((-9 - 8 * -9) + (4 + -9 - 7)) ="


@pytest.mark.parametrize(
    "style, a, final",
    [
        ("ops", "-9 - -72 = 63", "63 + -12 = 51"),
        # split: an operation on a multi-digit number on its tens and units
        (
            "split",
            "-9 - -72 = 70 + -9 - -2 = 70 + -7 = 63",
            "63 + -12 = 60 + -10 + 3 + -2 = 50 + 1 = 51",
        ),
    ],
)
def test_the_ops_styles_write_one_operation_per_equation(style, a, final):
    task = MultistepArithmetic(style=style)
    p = task.problem_from_text(OPS_Q, None)
    assert task.solve(p).render() == (
        "(1) (A + B)\n"
        f"(2) A = (-9 - 8 * -9): 8 * -9 = -72, {a}.\n"
        "(3) B = (4 + -9 - 7): 4 + -9 = -5, -5 - 7 = -12.\n"
        f"(4) (A + B) = (63 + -12): {final}.\n"
        "(Final response) So the answer is 51."
    )


def test_ops_style_writes_a_twin_operation_once():
    # the official rationale reduces both "2 * 1" at once (reduce_step); so does the ops style
    p = OPS.problem_from_text("((2 * 1 + 2 * 1) - (3 + 4 - 5)) =", None)
    text = OPS.solve(p).render()
    assert "(2) A = (2 * 1 + 2 * 1): 2 * 1 = 2, 2 + 2 = 4." in text
    assert OPS.check(p, OPS.solve(p)).correct


@pytest.mark.parametrize(
    "old, new, step, reason",
    [
        ("8 * -9 = -72", "8 * -9 = -63", "2", "8 * -9 is -72"),
        ("-9 - -72 = 63", "-9 - -72 = 70 + -7", "2", "the calculation of -9 - -72 is not finished"),
        ("8 * -9 = -72, ", "", "2", "the next operation of -9 - 8 * -9 is 8 * -9"),
        (", -5 - 7 = -12.", ".", "3", "the calculation of B is not finished"),
        ("(3) B = (4 + -9 - 7)", "(3) B = (4 + 9 - 7)", "3", "B is (4 + -9 - 7) in the question"),
        ("= (63 + -12):", "= (36 + -12):", "4", "A is 63 according to step (2)"),
        ("63 + -12 = 51", "63 + -12 = 52", "4", "63 + -12 is 51"),
        ("(4) (A + B) =", "(4) (A - B) =", "4", "the equation was written as (A + B)"),
        ("answer is 51.", "answer is 15.", FINAL, "the final equation in step (4) gives 51"),
    ],
)
def test_ops_feedback_names_the_wrong_operation(old, new, step, reason):
    p = OPS.problem_from_text(OPS_Q, None)
    text = OPS.solve(p).render()
    assert old in text
    fb = check_text(OPS, p, text.replace(old, new, 1))
    assert (fb.correct, fb.error_step) == (False, step) and reason in fb.reason
    assert fb.segment in text.replace(old, new, 1)


# --- the split style ----------------------------------------------------------------------------

SPLIT = MultistepArithmetic(style="split")


def test_every_link_of_a_split_operation_keeps_its_value():
    for op in "+-*":
        for a in range(-130, 131, 7):
            for b in range(-99, 100, 3):
                parts = split_op(a, op, b).split(" = ")
                assert parts[0] == f"{a} {op} {b}" and int(parts[-1]) == evaluate(Node(op, a, b))
                assert {evaluate(parse_expr(x)) for x in parts} == {int(parts[-1])}
                if max(abs(a), abs(b)) < 10 or 0 in (a, b):
                    assert len(parts) == 2  # nothing to split
                elif op != "*" and a % 10 and b % 10:
                    assert len(parts) == 4  # spread, tens + units, result


@pytest.mark.parametrize(
    "old, new, reason",
    [
        (
            "70 + -9 - -2 = 70 + -7",
            "70 + -9 - -2 = 70 + -8",
            "70 + -9 - -2 is not equal to 70 + -8",
        ),
        ("= 70 + -7 = 63", "= 70 + -7 = 64", "70 + -7 is not equal to 64"),
        (
            "-9 - -72 = 70 + -9 - -2",
            "-9 - -72 = 70 + -9 - 2",
            "-9 - -72 is not equal to 70 + -9 - 2",
        ),
        ("= 70 + -7 = 63.", "= 70 + -7.", "the calculation of -9 - -72 is not finished"),
    ],
)
def test_split_feedback_names_the_wrong_link(old, new, reason):
    p = SPLIT.problem_from_text(OPS_Q, None)
    text = SPLIT.solve(p).render()
    assert old in text
    fb = check_text(SPLIT, p, text.replace(old, new, 1))
    assert (fb.correct, fb.error_step) == (False, "2") and reason in fb.reason
    assert fb.segment in text.replace(old, new, 1)


def test_the_ops_checker_accepts_the_split_style_and_the_split_checker_the_ops_style():
    # one checker judges both: an operation may or may not reach its result through a chain
    rng = random.Random(4)
    for _ in range(50):
        p = SPLIT.generate(rng, "seen")
        assert OPS.check(p, SPLIT.solve(p)).correct and SPLIT.check(p, OPS.solve(p)).correct
        assert OPS.check(p, DIGITS.solve(p)).correct and DIGITS.check(p, SPLIT.solve(p)).correct


# --- the digits style ---------------------------------------------------------------------------

DIGITS = MultistepArithmetic(style="digits")


def one_digit(x: int) -> bool:
    """-700 yes, 70 yes, 75 no: one nonzero digit."""
    return len(str(abs(x)).rstrip("0")) <= 1


def test_every_link_of_a_digits_operation_keeps_its_value_and_does_one_thing():
    for op in "+-*":
        for a in range(-1300, 1301, 37):
            for b in range(-999, 1000, 23):
                parts = digits_op(a, op, b).split(" = ")
                value = evaluate(Node(op, a, b))
                assert parts[0] == f"{a} {op} {b}" and int(parts[-1]) == value
                assert {evaluate(parse_expr(x)) for x in parts} == {value}
                for link in parts[1:-1]:  # every product of a link: two one-digit numbers
                    for term in link.split(" + "):
                        if " * " in term:
                            x, y = map(int, term.split(" * "))
                            assert one_digit(x) and one_digit(y), (a, op, b, link)
                if op == "*" and not (one_digit(a) and one_digit(b)):
                    assert len(parts) > 2  # a spread, never one product of many digits
                if op != "*" and 9 < abs(a) < 100 and 9 < abs(b) < 100 and a % 10 and b % 10:
                    # spread, tens combined, units combined, result
                    assert len(parts) == 5, parts


def test_digits_feedback_names_the_wrong_link():
    p = DIGITS.problem_from_text(QUESTION, None)
    text = DIGITS.solve(p).render()
    assert "28 + 51 = 20 + 50 + 8 + 1 = 70 + 8 + 1 = 70 + 9 = 79" in text
    assert "79 - -90 = 70 - -90 + 9 = 160 + 9 = 169" in text
    fb = check_text(DIGITS, p, text.replace("= 70 + 8 + 1", "= 60 + 8 + 1"))
    assert (fb.correct, fb.error_step) == (False, "6")
    assert "20 + 50 + 8 + 1 is not equal to 60 + 8 + 1" in fb.reason
    assert digits_op(24, "*", 88, 2012).endswith("= 2080 + 32 = 2012")  # a slip ends the chain


@pytest.mark.parametrize("style", ["ops", "split", "digits"])
def test_injected_errors_are_found_and_fixed_in_the_ops_styles(style):
    task = MultistepArithmetic(style=style)
    rng = random.Random(2)
    for i in range(300):
        p = task.generate(rng, "seen" if i % 2 else "unseen")
        gold = task.solve(p)
        kind = ("chain", "substitution", "decomposition", "answer")[i % 4]
        bad, label = task.inject_error(p, gold, rng, kind)
        fb = task.check(p, Attempt.parse(bad.render()))
        assert fb.error_step == label and fb.segment in bad.steps[bad.index(label)].text
        new = task.improve(p, bad, fb)
        k = bad.index(label)
        assert new.steps[:k] == bad.steps[:k] and task.check(p, new).correct
        assert new.steps[k:] == gold.steps[k:]
