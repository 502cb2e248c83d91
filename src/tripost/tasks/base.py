"""The Task protocol: everything task-specific lives in one module that implements it.

A task module provides a generator of problems with *seen* / *unseen* buckets, a reader of
BIG-Bench Hard inputs, a gold solver writing a step-by-step rationale, scripted feedback (the
first wrong step, its segment and a reason), scripted improvement (keep the steps before the
error verbatim, rewrite from there), answer parsing, and error injection (for tests and for
the few-shot examples of an LLM expert).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Protocol, runtime_checkable

from tripost.jsonl import read_jsonl
from tripost.trajectory import Attempt, Feedback, FormatError, Problem


@runtime_checkable
class Task(Protocol):
    name: str
    #: text appended after "Answer: Let's think step by step." (may be empty; keep a leading space)
    instruction: str
    #: the bucket names in report order, e.g. ["l3d2", "l4d2", ...]
    buckets: list[str]

    def generate(self, rng: random.Random, split: str) -> Problem:
        """One random problem of the ``"seen"`` or ``"unseen"`` split."""
        ...

    def problem_from_text(self, question: str, target: str | None) -> Problem | None:
        """A Problem from a question written as BIG-Bench Hard writes it; None if it cannot
        be parsed (never a wrong guess). ``target`` is the given answer, if any."""
        ...

    def solve(self, problem: Problem) -> Attempt | None:
        """The gold rationale, or None when the problem cannot be solved by script."""
        ...

    def extract_answer(self, attempt: Attempt, problem: Problem | None = None) -> str | None:
        """The answer in the (Final response) step, normalised as ``Problem.answer`` is, or
        None. With ``problem``, a multiple-choice task whose rationale style answers with an
        option's content (a date, an object) returns that option's letter."""
        ...

    def check(self, problem: Problem, attempt: Attempt) -> Feedback:
        """Scripted feedback: the first wrong step of a parsed attempt. Never raises."""
        ...

    def improve(self, problem: Problem, attempt: Attempt, feedback: Feedback) -> Attempt | None:
        """Scripted improvement: keep the steps before ``feedback.error_step`` verbatim and
        rewrite from there. None if no rewrite is possible."""
        ...

    def inject_error(
        self, problem: Problem, attempt: Attempt, rng: random.Random
    ) -> tuple[Attempt, str] | None:
        """A copy of a gold attempt with one error; returns it and the label of the wrong step."""
        ...


def check_task_options(update_style: str, style: str, styles: tuple[str, ...]) -> None:
    """Refuse an ``update_style`` or a rationale ``style`` a task does not write (ValueError)."""
    check_choice("update_style", update_style, ("rewrite",))
    check_choice("style", style, styles)


def check_choice(option: str, value: str, known: tuple[str, ...]) -> None:
    """Refuse a task option's value outside ``known`` (ValueError naming the known ones)."""
    if value not in known:
        raise ValueError(f"unknown {option} {value!r}; known: {', '.join(map(repr, known))}")


def check_text(task: Task, problem: Problem, text: str) -> Feedback:
    """Scripted feedback on raw model text: malformed attempts get a parse-error feedback."""
    try:
        attempt = Attempt.parse(text.strip("\n"))
    except FormatError as e:
        first = text.strip().split("\n")[0][:80]
        return Feedback.error(None, "1", first, f"the answer does not follow the step format ({e})")
    try:
        return task.check(problem, attempt)
    except Exception as e:  # a checker bug must never kill a run; report it as feedback
        last = attempt.steps[-1]
        return Feedback.error(
            attempt, last.label, last.text, f"the answer could not be checked ({e})"
        )


def is_correct(task: Task, problem: Problem, text: str) -> bool:
    """Whether the final answer of raw attempt text matches the gold answer."""
    try:
        attempt = Attempt.parse(text.strip("\n"))
    except FormatError:
        return False
    return task.extract_answer(attempt, problem) == problem.answer


def read_problems(task: Task, path: str | Path) -> list[Problem | None]:
    """Problems from a BIG-Bench Hard JSON file (``{"examples": [{"input", "target"}]}``) or a
    JSONL file of ``{"question", "answer"|"target"}`` lines (or Problem.to_json lines, or the
    ``{"input", "target"}`` lines of BBH on the Hugging Face Hub / lm-evaluation-harness).
    Unparsable questions give None; malformed lines raise ValueError naming file and line."""
    return [task.problem_from_text(q, t) for q, t in raw_items(path)]


def raw_items(path: str | Path) -> list[tuple[str, str | None]]:
    """(question, target) pairs of a BBH JSON file or a JSONL file; see ``read_problems``."""
    path = Path(path)
    items: list[tuple[str, str | None]] = []
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a problems file")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
            examples = data["examples"]
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not UTF-8 text (byte {e.start + 1})") from None
        except (json.JSONDecodeError, KeyError, TypeError, RecursionError) as e:
            why = "nested too deeply" if isinstance(e, RecursionError) else e
            raise ValueError(f"{path}: not a BIG-Bench Hard JSON file ({why})") from None
        if not isinstance(examples, list):
            raise ValueError(f"{path}: examples: expected a list of examples")
        for i, ex in enumerate(examples):
            if not isinstance(ex, dict) or "input" not in ex:
                raise ValueError(f"{path}: examples[{i}]: missing field 'input'")
            for field in ("input", "target"):
                if field in ex and not isinstance(ex[field], str):
                    got = type(ex[field]).__name__
                    raise ValueError(f"{path}: examples[{i}].{field}: expected a string, got {got}")
            _check_depth(ex["input"], f"{path}: examples[{i}].input")
            items.append((ex["input"], ex.get("target")))
    else:
        for lineno, d in read_jsonl(path):
            q = d.get("question", d.get("input"))  # "input": the Hub / lm-eval-harness BBH layout
            if not isinstance(q, str):
                raise ValueError(f"{path}:{lineno}: missing string field 'question' (or 'input')")
            if q.startswith("Q: "):
                q = q[3:]
            _check_depth(q, f"{path}:{lineno}: question")
            target = d.get("answer", d.get("target", d.get("correct_answer")))
            if isinstance(target, list):  # word sorting's published data: a list of words
                target = " ".join(map(str, target))
            elif target is not None and not isinstance(target, (str, int, float)):
                raise ValueError(f"{path}:{lineno}: answer: expected a string")
            items.append((q.strip(), None if target is None else str(target)))
    return items


MAX_NESTING = 64


def _check_depth(text: str, where: str) -> None:
    """Refuse a question nested deeper than MAX_NESTING brackets (no task has such problems,
    and recursive parsers would overflow the stack)."""
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth = max(0, depth - 1)
    if deepest > MAX_NESTING:
        raise ValueError(f"{where}: nested {deepest} brackets deep (at most {MAX_NESTING})")
