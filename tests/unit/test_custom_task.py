"""User-defined tasks: config and problems file, line-numbered errors, answer-match checking."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tripost.experts.prompts import build_demos, feedback_prompt
from tripost.tasks.base import Task
from tripost.tasks.custom import CustomTask, normalize_answer
from tripost.trajectory import FINAL, Attempt

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_task"
RATIONALE = "(1) 2 hens have 2 * 2 = 4 legs.\n(Final response) So the answer is 4."
LINES = [
    {"question": "How many legs do 2 hens have?", "answer": "4", "rationale": RATIONALE},
    {
        "question": "How many legs do 3 cows have?",
        "answer": "12",
        "split": "unseen",
        "bucket": "cows",
    },
    {"question": "Which animal lays eggs?", "options": ["cow", "hen", "goat"], "answer": "hen"},
]


def write(tmp_path: Path, lines: list, name: str = "p.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def make(tmp_path: Path, lines: list = LINES, **kw) -> CustomTask:
    kw = {"answer_regex": r"the answer is (.+?)\.?$", **kw}
    return CustomTask("legs", write(tmp_path, lines), **kw)


def test_example_task_loads_from_its_yaml_and_is_a_task():
    task = CustomTask.from_config(EXAMPLE / "task.yaml")
    assert isinstance(task, Task) and task.name == "farm_legs"
    assert task.buckets == ["seen", "unseen"] and len(task.few_shot_demos(random.Random(0))) == 4
    for p in task.problems:
        gold = task.solve(p)
        assert gold is None or task.check(p, gold).correct


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", ":2: invalid JSON"),
        ('["a list"]', ":2: a line must be a JSON object"),
        ({"answer": "4"}, ":2: missing string field 'question'"),
        ({"question": "q"}, ":2: missing string field 'answer'"),
        ({"question": "q", "answer": "4", "split": "test"}, ":2: split must be"),
        (
            {"question": "q", "answer": "(D)", "options": ["a", "b"]},
            ":2: answer '(D)' is not a valid option",
        ),
        ({"question": "q", "answer": "a", "options": "a, b"}, ":2: options must be a list"),
        (
            {"question": "q", "answer": "4", "rationale": "It is 4."},
            ":2: rationale does not follow the step format",
        ),
        (
            {"question": "q", "answer": "5", "rationale": RATIONALE},
            ":2: rationale gives the answer '4', not '5'",
        ),
        (
            {"question": "q", "answer": "four"},
            ":2: answer 'four' is not a valid answer for normalize='number'",
        ),
    ],
)
def test_malformed_problem_lines_give_line_numbered_errors(tmp_path, line, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(tmp_path, [LINES[0], line], normalize="number")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"name": "x", "problems": "p.jsonl", "answr_regex": "(.)"}, "answr_regex"),
        ({"problems": "p.jsonl"}, "name"),
        ({"name": "x", "problems": "p.jsonl", "answer_regex": "answer is .+"}, "exactly one group"),
        ({"name": "x", "problems": "p.jsonl", "answer_regex": "(unclosed"}, "not a valid regex"),
        ({"name": "x", "problems": "p.jsonl", "normalize": "upper"}, "normalize"),
        ({"name": "x", "problems": "missing.jsonl"}, "file not found"),
    ],
)
def test_config_errors_are_clear(tmp_path, monkeypatch, config, message):
    write(tmp_path, LINES)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        CustomTask.from_config(config)


@pytest.mark.parametrize(
    "raw, how, options, expected",
    [
        (" Paris. ", "strip", None, "Paris"),
        ("PARIS", "lower", None, "paris"),
        ("1,200.50", "number", None, "1200.5"),
        ("12.0", "number", None, "12"),
        ("-3", "number", None, "-3"),
        ("twelve", "number", None, None),
        ("B", "strip", ["x", "y"], "(B)"),
        ("(b)", "strip", ["x", "y"], "(B)"),
        ("Y", "strip", ["x", "y"], "(B)"),
        ("z", "strip", ["x", "y"], None),
    ],
)
def test_answers_are_normalised(raw, how, options, expected):
    assert normalize_answer(raw, how, options) == expected


def test_options_are_rendered_and_the_answer_is_their_letter(tmp_path):
    p = make(tmp_path).problems[2]
    assert (
        p.question == "Which animal lays eggs?\nOptions:\n(A) cow\n(B) hen\n(C) goat"
        and p.answer == "(B)"
    )


@pytest.mark.parametrize(
    "final, correct, segment",
    [
        ("So the answer is 4.", True, None),
        ("So the answer is 5.", False, "5"),
        ("I do not know.", False, "I do not know."),
    ],
)
def test_check_matches_the_final_answer_only(tmp_path, final, correct, segment):
    task = make(tmp_path)
    attempt = Attempt.parse(f"(1) 2 hens have 2 * 3 = 7 legs.\n(Final response) {final}")
    fb = task.check(task.problems[0], attempt)
    assert fb.correct == correct
    if not correct:
        assert fb.error_step == FINAL and fb.segment == segment and segment in attempt.final


def test_option_answers_are_checked_by_letter_or_text(tmp_path):
    task = make(tmp_path)
    p = task.problems[2]
    for final, ok in [
        ("So the answer is (B).", True),
        ("So the answer is hen.", True),
        ("So the answer is (A).", False),
    ]:
        assert task.check(p, Attempt.parse(f"(Final response) {final}")).correct == ok
    assert task.extract_answer(Attempt.parse("(Final response) So the answer is B.")) == "(B)"


def test_generate_samples_the_split_and_falls_back_when_empty(tmp_path):
    task = make(tmp_path)
    rng = random.Random(0)
    assert {task.generate(rng, "unseen").question for _ in range(10)} == {LINES[1]["question"]}
    assert all(task.generate(rng, "seen").seen for _ in range(10))
    only_seen = make(tmp_path, [LINES[0]])
    assert only_seen.generate(rng, "unseen") == only_seen.problems[0]
    assert task.buckets == ["seen", "cows"]


def test_solve_returns_the_given_rationale_and_improve_needs_the_llm(tmp_path):
    task = make(tmp_path)
    gold = task.solve(task.problems[0])
    assert gold.render() == RATIONALE and task.solve(task.problems[1]) is None
    assert task.improve(task.problems[0], gold, task.check(task.problems[0], gold)) is None


def test_injected_error_changes_only_the_final_answer(tmp_path):
    task = make(tmp_path, normalize="number", lines=LINES[:2])
    p = task.problems[0]
    gold = task.solve(p)
    wrong, label = task.inject_error(p, gold, random.Random(1))
    assert label == FINAL and wrong.steps[:-1] == gold.steps[:-1]
    assert task.check(p, wrong).error_step == FINAL


def test_problem_from_text_keeps_target_or_looks_the_question_up(tmp_path):
    task = make(tmp_path)
    assert task.problem_from_text(LINES[1]["question"], None).bucket == "cows"
    assert task.problem_from_text("Unknown?", None) is None
    p = task.problem_from_text("Which?\nOptions:\n(A) x\n(B) y", "(A)")
    assert p.answer == "(A)" and p.meta["options"] == ["x", "y"]


def test_user_examples_become_the_llm_prompt_examples():
    task = CustomTask.from_config(EXAMPLE / "task.yaml")
    demos = build_demos(task, 3, seed=0)
    steps = {d.feedback.error_step for d in demos if not d.feedback.correct}
    assert steps == {"1", "2", "3"}  # step-level feedback the answer-match checker cannot give
    p = task.problems[0]
    prompt = feedback_prompt(task, demos, 3, p, task.solve(p), show_answer=True).as_text()
    assert '"segment": "3 * 4 = 16"' in prompt and prompt.endswith("Review:")


def test_without_examples_file_rationales_give_the_few_shot_examples(tmp_path):
    task = make(tmp_path, normalize="number", lines=LINES[:2])
    demos = build_demos(task, 2, seed=0)
    assert demos and all(d.problem.question == LINES[0]["question"] for d in demos)
    assert any(d.feedback.error_step == FINAL and d.improved.render() == RATIONALE for d in demos)


@pytest.mark.parametrize(
    "demo, message",
    [
        (
            {"question": "q", "answer": "4", "attempt": RATIONALE, "feedback": "wrong"},
            "feedback must be",
        ),
        (
            {
                "question": "q",
                "answer": "4",
                "attempt": RATIONALE,
                "feedback": {"step": "2", "segment": "x", "reason": "r"},
            },
            "step \\(2\\)",
        ),
        (
            {
                "question": "q",
                "answer": "4",
                "attempt": RATIONALE,
                "feedback": {"step": "1", "segment": "= 4", "reason": "r"},
            },
            "improved must be a string",
        ),
    ],
)
def test_malformed_examples_give_line_numbered_errors(tmp_path, demo, message):
    examples = write(tmp_path, [demo], "demos.jsonl")
    with pytest.raises(ValueError, match=f"demos.jsonl:1: .*{message}"):
        make(tmp_path, examples_path=examples)
