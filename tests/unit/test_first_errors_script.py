"""``benchmarks/first_errors.py`` counts each seen answer under the kind of its first wrong
step, as the scripted checker finds it, in the run's own rationale style."""

import json
from pathlib import Path

from tests.ld_questions import BIRDS
from tests.scripts import load_benchmark
from tripost.tasks import get_task
from tripost.trajectory import Problem


def write_run(run: Path, config: str, problems: list[Problem], rows: list[dict]) -> None:
    """A run directory with what the script reads: its config, the problems, the evaluation."""
    (run / "config.yaml").write_text(config)
    (run / "data").mkdir()
    (run / "data" / "eval.jsonl").write_text(
        "".join(json.dumps(p.to_json()) + "\n" for p in problems)
    )
    (run / "eval").mkdir()
    (run / "eval" / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_first_errors_by_kind(tmp_path: Path) -> None:
    task = get_task("logical_deduction", style="stepwise")
    p = task.problem_from_text(BIRDS, None)
    gold = task.solve(p).render()  # type: ignore[union-attr]
    outputs = [  # (output, first answer right)
        (gold, True),
        (gold.replace("Given: ?? blue jay ?? falcon", "Given: ?? falcon ?? blue jay"), True),
        (
            gold.replace("(3) From (1) and (2): quail ? ?.", "(3) From (1) and (2): blue jay ? ?."),
            False,
        ),
        (gold.replace("position 2: blue jay", "position 2: quail"), False),
        (gold + "\nFeedback: Step (1) to step (6) are correct.", True),  # feedback is not a step
    ]
    rows = [
        {"question": p.question, "seen": True, "first_correct": c, "output": o} for o, c in outputs
    ]
    rows.append({"question": p.question, "seen": False, "first_correct": False, "output": "x"})
    write_run(tmp_path, "task: logical_deduction\ntask_options: {style: stepwise}\n", [p], rows)
    first, lucky, n = load_benchmark("first_errors").count(tmp_path)
    assert n == 5
    assert first == {"none": 2, "Given": 1, "From, 2 cited": 1, "reading": 1}
    assert +lucky == {"none": 2, "Given": 1}


def test_arithmetic_first_errors_by_the_wrong_part_s_shape(tmp_path: Path) -> None:
    task = get_task("multistep_arithmetic", style="split")
    p = task.problem_from_text("((4 + 7 * 8) - (9 * -6 + 5)) =", None)
    gold = task.solve(p).render()  # type: ignore[union-attr]
    wrong = gold.replace("7 * 8 = 56", "7 * 8 = 54")
    assert wrong != gold
    rows = [
        {"question": p.question, "seen": True, "first_correct": c, "output": o}
        for o, c in [(gold, True), (wrong, False)]
    ]
    write_run(tmp_path, "task: multistep_arithmetic\ntask_options: {style: split}\n", [p], rows)
    first, lucky, n = load_benchmark("first_errors").count(tmp_path)
    assert (n, first, +lucky) == (2, {"none": 1, "n1 * n1": 1}, {"none": 1})


def test_arithmetic_answers_by_the_largest_number_of_the_gold_rationale(tmp_path: Path) -> None:
    task = get_task("multistep_arithmetic", style="split")
    small = task.problem_from_text("((4 + 7 * 8) - (9 * -6 + 5)) =", None)  # 56 + 49 = 105
    big = task.problem_from_text("((9 * 8 * 7) * (9 * -6 + 5)) =", None)  # 504 * -49
    rows = [
        {"question": small.question, "seen": True, "first_correct": True},
        {"question": big.question, "seen": True, "first_correct": False},
        {"question": big.question, "seen": False, "first_correct": False},
    ]
    write_run(
        tmp_path, "task: multistep_arithmetic\ntask_options: {style: split}\n", [small, big], rows
    )
    answers, right = load_benchmark("first_errors").by_size(tmp_path)
    assert (answers, +right) == ({3: 1, 5: 1}, {3: 1})
