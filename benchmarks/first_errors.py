"""Where a model's answers first go wrong: the scripted checker's first wrong step of each seen
first attempt in a run's evaluation, counted by its kind, and how many of those attempts still
end with the right answer. The kind of a logical-deduction step: a ``Given`` pattern, a ``From``
placement by how many steps it cites, the reading, the final response (docs/ablations.md §26);
of an arithmetic step: the shape of the wrong part's left side, each number as its digit count
(``280 + 7 = 217`` -> ``n3 + n1``; docs/ablations.md §28); other tasks: the step's label.
For arithmetic a second table: the answers by the digit count of the largest number in the
problem's operations, and how many of them are right (docs/ablations.md §33).

    python benchmarks/first_errors.py runs/X [METHOD]   # METHOD: eval/METHOD.jsonl, default sft
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from tripost.config import load_config
from tripost.jsonl import read_jsonl
from tripost.tasks import get_task
from tripost.tasks.base import check_text
from tripost.trajectory import FINAL, Attempt, FormatError, Problem, split_continuation


def shape(segment: str) -> str:
    """``280 + 7 = 217`` -> ``n3 + n1``: the left side, each integer as its digit count."""
    left = segment.split("=")[0].split()
    return " ".join(f"n{len(t.lstrip('-'))}" if t.lstrip("-").isdigit() else t for t in left)


def kind(task: str, text: str, label: str, segment: str) -> str:
    if task == "multistep_arithmetic" and label != FINAL:
        return shape(segment)
    if task != "logical_deduction":
        return label
    if label == FINAL:
        return "final response"
    if text.startswith("Given"):
        return "Given"
    if m := re.match(r"From ([^:]*):", text):
        refs = len(re.findall(r"\(\d+\)", m[1]))
        return f"From, {min(refs, 4)}{'+' if refs >= 4 else ''} cited"
    return "reading"


def load_run(run: Path):
    """A run's config, its task and its evaluation problems by question."""
    cfg = load_config(run / "config.yaml")
    task = get_task(cfg.task, **cfg.task_options)
    problems = {}
    for _, d in read_jsonl(run / "data" / "eval.jsonl"):
        p = Problem.from_json(d)
        problems[p.question] = p
    return cfg, task, problems


def count(run: Path, method: str = "sft") -> tuple[Counter[str], Counter[str], int]:
    """(attempts by the kind of their first wrong step, those of them with the right answer,
    seen attempts); attempts with every step right count under ``none``."""
    cfg, task, problems = load_run(run)
    first: Counter[str] = Counter()
    lucky: Counter[str] = Counter()
    n = 0
    for _, r in read_jsonl(run / "eval" / f"{method}.jsonl"):
        if not r["seen"]:
            continue
        n += 1
        # the first attempt as the evaluation scored it; a malformed one counts as unreadable
        text = split_continuation(r["output"], task.instruction, trim=True)[0][0]
        fb = check_text(task, problems[r["question"]], text)
        try:
            steps = Attempt.parse(text.strip("\n")).steps
        except FormatError:
            steps = ()
        step = next((s for s in steps if s.label == fb.error_step), None)
        k = (
            "none"
            if fb.correct
            else "unreadable"
            if step is None
            else kind(cfg.task, step.text, step.label, fb.segment or "")
        )
        first[k] += 1
        lucky[k] += bool(r["first_correct"])
    return first, lucky, n


def by_size(run: Path, method: str = "sft") -> tuple[Counter[int], Counter[int]]:
    """Arithmetic: (seen answers, right ones) by the digit count of the largest number in the
    problem's operations (its gold rationale in the ``ops`` style: the same numbers as the
    ``split`` style's, and a class that does not move with the run's style)."""
    _, _, problems = load_run(run)
    ops = get_task("multistep_arithmetic", style="ops")
    answers: Counter[int] = Counter()
    right: Counter[int] = Counter()
    for _, r in read_jsonl(run / "eval" / f"{method}.jsonl"):
        if not r["seen"]:
            continue
        gold = ops.solve(problems[r["question"]])
        digits = max(len(x) for x in re.findall(r"\d+", gold.render() if gold else "0"))
        answers[digits] += 1
        right[digits] += bool(r["first_correct"])
    return answers, right


def main() -> None:
    run = Path(sys.argv[1])
    method = sys.argv[2] if len(sys.argv) > 2 else "sft"
    first, lucky, n = count(run, method)
    print(f"{run} {method}: {n} seen first attempts")
    print("| first wrong step | attempts | of them with the right answer |")
    print("|---|---|---|")
    for k, v in first.most_common():
        print(f"| {k} | {v} | {lucky[k]} |")
    if load_config(run / "config.yaml").task == "multistep_arithmetic":
        answers, right = by_size(run, method)
        print("\n| largest number in the operations | answers | right |")
        print("|---|---|---|")
        for k in sorted(answers):
            print(f"| {k} digit{'s' if k > 1 else ''} | {answers[k]} | {right[k]} |")


if __name__ == "__main__":
    main()
