"""Date understanding in the compact style (task option ``style: compact``): gold rationale,
scripted feedback and improvement, injected errors, the paper style unchanged, and the task
option's path from a config."""

from __future__ import annotations

import json
import random
import re
from datetime import date
from pathlib import Path

import pytest

from tests.digest import behaviour_digest
from tripost.cli import demo_config_path
from tripost.config import load_config
from tripost.editing import IMPROVED
from tripost.experts import build_feedback, build_improvement
from tripost.si_demos import build_si_demos
from tripost.tasks import Task, check_text, get_task
from tripost.tasks.base import is_correct
from tripost.tasks.dates import DateUnderstanding
from tripost.tasks.dates.calendar import parse_date
from tripost.tasks.dates.compact import ERROR_KINDS, inject_compact
from tripost.tasks.dates.model import parse_question
from tripost.trajectory import FINAL, Attempt, Feedback, Trajectory

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data")

TASK = get_task("date_understanding", style="compact")
PAPER = get_task("date_understanding")
OPTIONS = "\nOptions:\n(A) 12/14/2026\n(B) 12/14/1950\n(C) 12/14/2007\n(D) 12/14/1937\n(E) 07/14/1938\n(F) 12/14/1988"
XMAS = "Today is Christmas Eve of 1937. What is the date 10 days ago in MM/DD/YYYY?" + OPTIONS
XMAS_GOLD = """\
(1) Today is 12/24/1937.
(2) 10 days before 12/24/1937 is 12/14/1937.
(Final response) So the answer is 12/14/1937."""
CHAIN = (
    "The concert is on Christmas Eve of 1937. The party is 3 days after the concert. Today is 2 "
    "weeks after the party. What is the date one week ago from today in MM/DD/YYYY?\nOptions:\n"
    "(A) 01/03/1938\n(B) 01/10/1938\n(C) 12/27/1937\n(D) 01/04/1938\n(E) 01/03/1937"
)
CHAIN_GOLD = """\
(1) The concert is 12/24/1937.
(2) 3 days after 12/24/1937 is 12/27/1937, that is the party.
(3) 2 weeks after 12/27/1937 is 01/10/1938, that is today.
(4) 1 week before 01/10/1938 is 01/03/1938.
(Final response) So the answer is 01/03/1938."""
#: sha256 of the paper style's problems, gold rationales, injected errors, feedback and
#: improvements for 200 generated problems, computed on the code before the compact style
PAPER_DIGEST = "2ee97a0adeb8612f73799fda7a1a32b9c5650309498f92e8a0eff1e4f6c85154"


def problem(question: str = CHAIN):
    p = TASK.problem_from_text(question, None)
    assert p is not None
    return p


def gold_date(p) -> str:
    """The date of the option that is the answer."""
    return parse_question(p.question).options[p.answer]


def _problems(n: int, seed: int = 0):
    rng = random.Random(seed)
    return [TASK.generate(rng, "seen" if i % 2 else "unseen") for i in range(n)]


# --- the gold rationale --------------------------------------------------------------------


def test_solver_writes_one_short_step_per_computed_date():
    assert TASK.solve(problem(XMAS)).render() == XMAS_GOLD
    assert TASK.solve(problem()).render() == CHAIN_GOLD
    assert isinstance(TASK, Task) and TASK.style == "compact" and TASK.compact
    assert PAPER.style == "paper" and not PAPER.compact
    assert len(CHAIN_GOLD) < 0.7 * len(PAPER.solve(problem()).render())


@pytest.mark.parametrize(
    "question, gold",
    [
        # a date the question gives is no step; the first count writes it MM/DD/YYYY
        ("The exam is on May 2, 1990. Today is 3 days after the exam. What is the date "
         "tomorrow in MM/DD/YYYY?\nOptions:\n(A) 05/06/1990\n(B) 05/05/1990",
         "(1) 3 days after 05/02/1990 is 05/05/1990, that is today.\n"
         "(2) 1 day after 05/05/1990 is 05/06/1990.\n(Final response) So the answer is 05/06/1990."),
        # no step for the date asked for when it is today
        ("Anna was born on the last day of February in 1961. Today is her 19-year-old "
         "birthday. What is the date today in MM/DD/YYYY?\nOptions:\n(A) 02/29/1980\n(B) 02/28/1980",
         "(1) Today is 02/28/1980.\n(Final response) So the answer is 02/28/1980."),
    ],
)  # fmt: skip
def test_gold_of_given_dates_and_of_today(question, gold):
    assert TASK.solve(problem(question)).render() == gold


def test_gold_rationales_of_random_problems_pass_check_and_answer_right():
    for p in _problems(400):
        gold = TASK.solve(p)
        assert TASK.check(p, gold).correct and check_text(TASK, p, gold.render()).correct
        assert TASK.extract_answer(gold, p) == p.answer and is_correct(TASK, p, gold.render())
        assert TASK.extract_answer(gold) == p.meta["target_date"] == gold_date(p)
        plan = parse_question(p.question)
        assert len(gold.steps) - 1 == plan.n_steps  # the bucket counts the compact steps too
        body = "\n".join(s.text for s in gold.steps[:-1])
        dates = re.findall(r"\d+/\d+/\d+", body)
        assert dates and all(re.fullmatch(r"\d\d/\d\d/\d{4}", d) for d in dates)
        assert not re.search(r"[A-Z][a-z]+ \d", body) and "If " not in body  # no restatement


def test_compact_text_renders_and_parses_back():
    p = problem()
    gold = TASK.solve(p)
    assert Attempt.parse(gold.render()) == gold
    bad = Attempt.parse(CHAIN_GOLD.replace("is 12/27/1937", "is 12/28/1937"))
    fb = TASK.check(p, bad)
    assert Feedback.parse(fb.render()) == fb
    traj = Trajectory(p.question, (bad, gold), (fb, Feedback.ok(gold)))
    assert Trajectory.parse(traj.render()) == traj
    assert fb.render() == (
        'Step (1) is correct. In step (2) the part "12/28/1937" is incorrect. '
        "This is because 3 days after 12/24/1937 is 12/27/1937."
    )


# --- scripted feedback -----------------------------------------------------------------------

WRONG = [
    # (case, old, new, step, segment, reason)
    ("fixed date", "The concert is 12/24/1937", "The concert is 12/25/1937", "1", "12/25/1937", "the date of the concert is 12/24/1937"),
    ("fixed date invalid", "The concert is 12/24/1937", "The concert is 02/30/1937", "1", "02/30/1937", "02/30/1937 is not a valid date"),
    ("other fact first", "The concert is", "Today is", "1", "Today", "the date of the concert comes next"),
    ("step skipped", "(1) The concert is 12/24/1937.\n(2)", "(1)", "1", "the party", "the date of the concert comes next"),
    ("result", "is 12/27/1937", "is 12/28/1937", "2", "12/28/1937", "3 days after 12/24/1937 is 12/27/1937"),
    ("base miscopied", "after 12/27/1937", "after 12/28/1937", "3", "12/28/1937", "the date of the party is 12/27/1937"),
    ("base of another fact", "after 12/27/1937", "after 12/24/1937", "3", "12/24/1937", "the date of the party is 12/27/1937"),
    ("amount", "3 days after", "4 days after", "2", "4 days after", "the party is 3 days after the concert"),
    ("direction", "2 weeks after", "2 weeks before", "3", "2 weeks before", "today is 2 weeks after the party"),
    ("unit", "2 weeks after", "2 days after", "3", "2 days after", "today is 2 weeks after the party"),
    ("wrong fact named", "that is the party", "that is the exam", "2", "the exam", "the date of the party comes next"),
    ("fact not named", ", that is the party", "", "2", "3 days after 12/24/1937 is 12/27/1937.", 'it is not written as "3 days after MM/DD/YYYY is MM/DD/YYYY, that is the party."'),
    ("no count", "3 days after 12/24/1937 is 12/27/1937, that is the party", "The party is 12/27/1937", "2", "The party is 12/27/1937.", "it is not written as"),
    ("target base", "before 01/10/1938", "before 12/27/1937", "4", "12/27/1937", "today's date is 01/10/1938"),
    ("target offset", "1 week before 01/10/1938 is 01/03/1938", "1 week after 01/10/1938 is 01/17/1938", "4", "1 week after", "the date one week ago from today is 1 week before today"),
    ("target result", "is 01/03/1938", "is 01/04/1938", "4", "01/04/1938", "1 week before 01/10/1938 is 01/03/1938"),
    ("target named", "is 01/03/1938.", "is 01/03/1938, that is today.", "4", "today", "the date one week ago from today comes next"),
    ("target unreadable", "1 week before 01/10/1938 is 01/03/1938.", "Count back one week.", "4", "Count back one week.", 'it is not written as "1 week before MM/DD/YYYY is MM/DD/YYYY."'),
    ("two dates", "The concert is 12/24/1937.", "The concert is 12/24/1937. Today is 01/10/1938.", "1", "01/10/1938", "a step states one date"),
    ("target missing", "(4) 1 week before 01/10/1938 is 01/03/1938.\n", "", FINAL, "So the answer is 01/03/1938.", "the date one week ago from today comes next"),
    ("extra step", "(Final", "(5) 1 day before 01/03/1938 is 01/02/1938.\n(Final", "5", "1 day before 01/03/1938 is 01/02/1938.", "the date asked for is computed, so the final response comes next"),
    ("renumbered", "(3)", "(5)", "5", "2 weeks after 12/27/1937 is 01/10/1938, that is today.", "this step is numbered (3)"),
    ("other option's date", "answer is 01/03/1938", "answer is 01/04/1938", FINAL, "01/04/1938", "the date one week ago from today is 01/03/1938 (step (4))"),
    ("no option's date", "answer is 01/03/1938", "answer is 01/17/1938", FINAL, "01/17/1938", "no option is 01/17/1938, and the date one week ago from today is 01/03/1938 (step (4))"),
    ("invalid date", "answer is 01/03/1938", "answer is 02/30/1938", FINAL, "02/30/1938", "02/30/1938 is not a valid date"),
    ("no date", "answer is 01/03/1938", "answer is January", FINAL, "So the answer is January.", "the final response names no date as MM/DD/YYYY"),
    ("wrong letter", "answer is 01/03/1938", "answer is (D)", FINAL, "(D)", "the date one week ago from today is 01/03/1938, which is option (A)"),
    ("no such letter", "answer is 01/03/1938", "answer is (F)", FINAL, "(F)", "there is no option (F)"),
]  # fmt: skip


@pytest.mark.parametrize("case, old, new, step, segment, reason", WRONG, ids=[w[0] for w in WRONG])
def test_feedback_names_the_first_wrong_step_the_part_and_why(
    case, old, new, step, segment, reason
):
    assert old in CHAIN_GOLD
    text = CHAIN_GOLD.replace(old, new, 1)
    fb = check_text(TASK, problem(), text)
    assert (fb.correct, fb.error_step, fb.segment) == (False, step, segment)
    assert fb.reason.startswith(reason), fb.reason
    bad = Attempt.parse(text)
    k = bad.index(step)
    assert segment in bad.steps[k].text
    assert fb.ok_range == ((bad.steps[0].label, bad.steps[k - 1].label) if k else None)
    new_attempt = TASK.improve(problem(), bad, fb)
    assert new_attempt.steps[:k] == bad.steps[:k]
    assert new_attempt.render() == CHAIN_GOLD and TASK.check(problem(), new_attempt).correct


def test_a_right_answer_after_a_wrong_step_is_flagged():
    text = CHAIN_GOLD.replace("4) 1 week before 01/10/1938", "4) 1 week before 12/27/1937")
    assert TASK.extract_answer(Attempt.parse(text), problem()) == "(A)"
    assert check_text(TASK, problem(), text).error_step == "4"


@pytest.mark.parametrize(
    "final, with_problem, without",
    [
        ("So the answer is 01/03/1938.", "(A)", "01/03/1938"),
        ("So the answer is 1/3/1938.", "(A)", "01/03/1938"),  # M/D/YYYY
        ("So the answer is 01/04/1938.", "(D)", "01/04/1938"),
        ("So the answer is 01/17/1938.", None, "01/17/1938"),  # no option shows it
        ("So the answer is 02/30/1938.", None, None),  # no such day
        ("So the answer is (d).", "(D)", "(D)"),  # a letter is read as before
        ("So the answer is January 3, 1938.", None, None),
    ],
)
def test_extract_answer_reads_a_date_as_its_options_letter(final, with_problem, without):
    attempt = Attempt.parse(CHAIN_GOLD.replace("So the answer is 01/03/1938.", final))
    assert TASK.extract_answer(attempt, problem()) == with_problem
    assert TASK.extract_answer(attempt) == without


def test_a_right_date_or_letter_answer_is_correct():
    p = problem()
    for final in ("01/03/1938", "1/3/1938", "(A)"):
        text = CHAIN_GOLD.replace("answer is 01/03/1938", "answer is " + final)
        assert check_text(TASK, p, text).correct and is_correct(TASK, p, text)
    wrong = CHAIN_GOLD.replace("is 01/03/1938.", "is 01/04/1938.")
    assert not is_correct(TASK, p, wrong) and not is_correct(TASK, p, wrong.replace("(4)", "(5)"))
    assert not is_correct(PAPER, p, CHAIN_GOLD)  # the paper style reads letters only


@pytest.mark.parametrize(
    "text",
    [
        XMAS_GOLD.replace("12/14/1937.", "December 14, 1937.", 1),  # a true claim in other words
        XMAS_GOLD.replace("Today is 12/24/1937", "Today is Dec 24, 1937"),
        XMAS_GOLD.replace("10 days before", "ten days before"),
    ],
)
def test_true_claims_in_other_words_pass(text):
    assert check_text(TASK, problem(XMAS), text).correct


def test_check_never_raises_and_accepts_only_the_right_option():
    rng = random.Random(3)
    p = problem()
    text = CHAIN_GOLD
    for _ in range(300):  # random character edits
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice("0129/ ,.aA()\n") + text[i + 1 :]
        fb = check_text(TASK, p, text)
        if fb.correct:  # the final response may be misspelt around the date or the option
            final = Attempt.parse(text).final
            dates = [parse_date(d) for d in re.findall(r"\d+/\d+/\d+", final)]
            assert p.answer in final or date(1938, 1, 3) in dates
        if rng.random() < 0.3:
            text = CHAIN_GOLD


# --- injected errors -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k, _ in ERROR_KINDS])
def test_injected_errors_are_flagged_at_their_step_and_improved(kind):
    rng = random.Random(len(kind))
    where = set()
    for p in _problems(200, seed=len(kind)):
        gold = TASK.solve(p)
        injected = inject_compact(parse_question(p.question), p.answer, rng, kind)
        if injected is None:  # a fixed date only where the question fixes one
            assert kind in ("fact", "arithmetic", "offset")
            continue
        bad, label = injected
        where.add(label)
        k = bad.index(label)
        assert bad.steps[:k] == gold.steps[:k] and bad.steps[k] != gold.steps[k]
        fb = TASK.check(p, Attempt.parse(bad.render()))
        assert fb.error_step == label and bad.steps[k].text.count(fb.segment) == 1
        assert Feedback.parse(fb.render()) == fb
        if kind != "fact":  # a year off can vanish in a month's length clamped
            assert TASK.extract_answer(bad, p) != p.answer
            assert TASK.extract_answer(bad) != gold_date(p)
        new = TASK.improve(p, bad, fb)
        assert new.steps[:k] == bad.steps[:k] and new == gold
    # the question fixes at most the first date; the final response shows the date only
    if kind in ("fact", "option"):
        assert where == {"fact": {"1"}, "option": {FINAL}}[kind]
    else:
        assert {"1", "2", "3", "4"} <= where and FINAL not in where


def test_random_injection_names_its_step_and_later_steps_follow():
    rng = random.Random(5)
    labels = set()
    for p in _problems(300, seed=9):
        gold = TASK.solve(p)
        bad, label = TASK.inject_error(p, gold, rng)
        labels.add(label)
        fb = TASK.check(p, bad)
        assert fb.error_step == label and TASK.check(p, TASK.improve(p, bad, fb)).correct
    assert {"1", "2", "3", FINAL} <= labels


def test_the_steps_after_an_error_count_from_the_wrong_date():
    plan, counted = parse_question(CHAIN), 0
    for seed in range(40):
        bad, label = inject_compact(plan, "(A)", random.Random(seed), "arithmetic")
        if label in ("2", "3"):
            k = int(label)
            wrong = re.search(r" is (\S+?)[,.]", bad.steps[k - 1].text).group(1)
            assert re.match(rf"\d+ weeks? (before|after) {wrong} is ", bad.steps[k].text)
            counted += 1
        last = re.search(r" is (\S+?)\.$", bad.steps[-2].text).group(1)
        assert bad.final == f"So the answer is {last}."  # the date the steps reach
    assert counted >= 10


def test_an_injected_wrong_final_date_is_another_options_or_a_miscopy():
    plan, p = parse_question(CHAIN), problem()
    finals = set()
    for seed in range(60):
        bad, label = inject_compact(plan, "(A)", random.Random(seed), "option")
        assert label == FINAL and bad.steps[:-1] == TASK.solve(p).steps[:-1]
        finals.add(TASK.extract_answer(bad))
    others = set(plan.options.values()) - {"01/03/1938"}
    assert others < finals and "01/03/1938" not in finals
    miscopied = finals - others
    assert miscopied and all(sum(a != b for a, b in zip(d, "01/03/1938")) == 1 for d in miscopied)


def test_errors_are_injected_into_the_gold_rationale_only():
    p = problem()
    other = Attempt.parse(CHAIN_GOLD.replace("12/24/1937.", "December 24, 1937."))
    assert TASK.check(p, other).correct and TASK.inject_error(p, other, random.Random(0)) is None
    with pytest.raises(ValueError, match="unknown error kind 'swap'"):
        inject_compact(parse_question(CHAIN), "(A)", random.Random(0), "swap")


def test_expert_demonstrations_work_in_the_compact_style():
    rng = random.Random(0)
    problems = [TASK.generate(rng, "seen" if i % 2 else "unseen") for i in range(20)]
    fbk, imp = build_feedback("scripted", TASK), build_improvement("scripted", TASK)
    demos, _, stats = build_si_demos(TASK, problems, fbk, imp, 5, random.Random(1))
    assert stats["demos"] == len(demos) == 20, stats
    for d in demos:
        rec = d.record
        assert rec.feedbacks[0].error_step == d.injected_step and rec.kind == IMPROVED
        assert rec.attempts[-1] == TASK.solve(rec.problem) and "If " not in rec.attempts[0].render()


# --- the paper style and the task option ---------------------------------------------------


def test_the_paper_style_is_unchanged():
    assert behaviour_digest(PAPER) == PAPER_DIGEST
    assert behaviour_digest(get_task("date_understanding", style="paper")) == PAPER_DIGEST


def test_unknown_style_or_update_style_is_refused():
    with pytest.raises(ValueError, match="unknown style 'tiny'; known: 'paper', 'compact'"):
        DateUnderstanding(style="tiny")
    with pytest.raises(ValueError, match="update_style"):
        DateUnderstanding(update_style="append")
    assert get_task("date_understanding", style="compact", instruction=" X.").instruction == " X."


@pytest.mark.parametrize("quick", [False, True])
def test_demo_configs_build_a_compact_task(quick):
    cfg = load_config(demo_config_path("date_understanding", quick), {})
    assert cfg.task_options == {"style": "compact", "options": "balanced"}
    assert get_task(cfg.task, **cfg.task_options).solve(problem()).render() == CHAIN_GOLD


# --- BIG-Bench Hard ------------------------------------------------------------------------


@needs_data
def test_bbh_questions_solve_and_check_in_the_compact_style():
    examples = json.loads((DATA / "bbh" / "date_understanding.json").read_text())["examples"]
    problems = [TASK.problem_from_text(ex["input"], ex["target"]) for ex in examples]
    problems = [p for p in problems if p is not None]
    assert len(problems) >= 0.9 * len(examples)
    rng = random.Random(7)
    for p in problems:
        gold = TASK.solve(p)
        assert TASK.check(p, gold).correct and TASK.extract_answer(gold, p) == p.answer
        assert gold.final == f"So the answer is {gold_date(p)}."
        bad, label = TASK.inject_error(p, gold, rng)
        fb = TASK.check(p, bad)
        assert fb.error_step == label and TASK.improve(p, bad, fb) == gold
