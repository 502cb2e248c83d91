"""A user-defined task from a problems file and a few lines of config.

It has no scripted step checker: ``check`` compares the final answer only, and ``improve``
returns None, so a run pairs it with the LLM expert (``feedback: llm`` for step-level feedback,
``improvement: llm``). Config (YAML or dict; relative paths are relative to the YAML file)::

    name: farm_legs
    problems: problems.jsonl           # one JSON object per line, see below
    answer_regex: "the answer is (-?[0-9][0-9,.]*)"   # one group, searched in (Final response)
    instruction: ""                    # text after "Answer: Let's think step by step."
    normalize: number                  # strip | lower | number
    examples: demos.jsonl              # optional reviewed examples for the LLM prompts

Problems (``split`` and ``rationale`` optional; ``options`` render as ``\\nOptions:\\n(A) ...``
and make the answer an option letter such as ``(B)``)::

    {"question": "A farm has 3 hens and 2 cows. How many legs are there?", "answer": "14",
     "rationale": "(1) 3 hens have 3 * 2 = 6 legs.\\n(2) ...\\n(Final response) So the answer is 14.",
     "split": "seen"}

Examples (optional; ``feedback`` is ``"correct"`` or ``{"step", "segment", "reason"}`` and an
error example needs ``improved``)::

    {"question": "...", "answer": "14", "attempt": "(1) ...", "feedback": {"step": "2",
     "segment": "2 * 2 = 8", "reason": "2 * 2 is 4"}, "improved": "(1) ...\\n(2) ..."}
"""

from __future__ import annotations

import logging
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tripost.jsonl import read_jsonl
from tripost.tasks.custom.check import LETTER_RE, normalize_answer
from tripost.tasks.custom.model import (
    OPTIONS_RE,
    CustomTaskConfig,
    parse_rationale,
    question_and_options,
)
from tripost.trajectory import FINAL, Attempt, Feedback, FormatError, Problem, Step

log = logging.getLogger(__name__)


class CustomTask:
    """A task from a problems file; see the module docstring for the formats."""

    buckets: list[str]

    def __init__(
        self,
        name: str,
        problems_path: str | Path,
        answer_regex: str = r"the answer is (.+?)\.?\s*$",
        instruction: str | None = None,
        normalize: str = "strip",
        examples_path: str | Path | None = None,
    ) -> None:
        self.name = name
        self.instruction = instruction or ""
        if normalize not in ("strip", "lower", "number"):
            raise ValueError(f"normalize must be 'strip', 'lower' or 'number', not {normalize!r}")
        self.normalize = normalize
        try:
            self.answer_re = re.compile(answer_regex, re.MULTILINE)
        except re.error as e:
            raise ValueError(f"answer_regex {answer_regex!r} is not a valid regex ({e})") from None
        if self.answer_re.groups != 1:
            raise ValueError(
                f"answer_regex must have exactly one group, {answer_regex!r} has {self.answer_re.groups}"
            )
        self.problems_path = Path(problems_path)
        self.problems: list[Problem] = []
        self._rationales: dict[str, Attempt] = {}
        for lineno, d in _jsonl(self.problems_path):
            self._add_problem(lineno, d)
        if not self.problems:
            raise ValueError(f"{self.problems_path}: no problems")
        self.buckets = list(dict.fromkeys(p.bucket for p in self.problems))
        self._by_question = {p.question: p for p in self.problems}
        self._has_options = any(p.meta.get("options") for p in self.problems)
        self._demos = [] if examples_path is None else _read_demos(self, Path(examples_path))
        self._warned: set[str] = set()

    @classmethod
    def from_config(cls, config: dict[str, Any] | str | Path) -> CustomTask:
        """From a YAML file (paths relative to it) or a dict (paths relative to the cwd)."""
        from tripost.yamlio import load_yaml, read_config_text, yaml_line

        base, where, text = Path("."), "custom task config", ""
        if not isinstance(config, dict):
            base, where = Path(config).parent, str(config)
            text = read_config_text(Path(config), "task config")
            config = load_yaml(text, where)
            if config is None:
                config = {}
        if not isinstance(config, dict):
            raise ValueError(f"{where}: a task config must be a mapping of fields")
        try:
            cfg = CustomTaskConfig(**config)
        except ValidationError as e:
            err = e.errors()[0]
            loc = [str(x) for x in err["loc"]]
            line = yaml_line(text, loc) if text else None
            msg = " ".join(str(err["msg"]).split())
            raise ValueError(
                f"{where}{f':{line}' if line else ''}: {'.'.join(loc)}: {msg}"
            ) from None
        return cls(
            cfg.name,
            base / cfg.problems,
            cfg.answer_regex,
            cfg.instruction,
            cfg.normalize,
            None if cfg.examples is None else base / cfg.examples,
        )

    # ------------------------------------------------------------ loading

    def _norm(self, raw: str, options: list[str] | None) -> str | None:
        return normalize_answer(raw, self.normalize, options)

    def _add_problem(self, lineno: int, d: dict[str, Any]) -> None:
        where = f"{self.problems_path}:{lineno}"
        question, options = question_and_options(d, where)
        if "answer" not in d or not isinstance(d["answer"], (str, int, float)):
            raise ValueError(f"{where}: missing string field 'answer'")
        answer = self._norm(str(d["answer"]), options)
        if answer is None:
            raise ValueError(
                f"{where}: answer {d['answer']!r} is not a valid {self._kind(options)}"
            )
        split = d.get("split", "seen")
        if split not in ("seen", "unseen"):
            raise ValueError(f"{where}: split must be 'seen' or 'unseen', not {split!r}")
        bucket = str(d.get("bucket", split))
        problem = Problem(
            question,
            answer,
            self.name,
            bucket,
            split == "seen",
            {"options": options, "line": lineno},
        )
        if d.get("rationale") is not None:
            self._rationales[question] = self._checked_rationale(d["rationale"], problem, where)
        self.problems.append(problem)

    def _kind(self, options: list[str] | None) -> str:
        return (
            "option (letter or option text)"
            if options
            else f"answer for normalize={self.normalize!r}"
        )

    def _checked_rationale(
        self, text: Any, problem: Problem, where: str, field: str = "rationale"
    ) -> Attempt:
        if not isinstance(text, str):
            raise ValueError(f"{where}: {field} must be a string")
        try:
            attempt = parse_rationale(text)
        except FormatError as e:
            raise ValueError(f"{where}: {field} does not follow the step format ({e})") from None
        if field != "attempt" and not self.check(problem, attempt).correct:
            got = self.answer_of(problem, attempt)
            raise ValueError(f"{where}: {field} gives the answer {got!r}, not {problem.answer!r}")
        return attempt

    # ------------------------------------------------------------ Task protocol

    def generate(self, rng: random.Random, split: str) -> Problem:
        pool = [p for p in self.problems if p.seen == (split == "seen")]
        if not pool:
            if split not in self._warned:
                log.warning("task %s has no %r problems: sampling from all", self.name, split)
                self._warned.add(split)
            pool = self.problems
        return rng.choice(pool)

    def problem_from_text(self, question: str, target: str | None) -> Problem | None:
        if target is None:
            return self._by_question.get(question)
        m = OPTIONS_RE.search(question)
        options = [line[4:] for line in m.group(1).strip("\n").split("\n")] if m else None
        answer = self._norm(target, options)
        if answer is None:
            return None
        known = self._by_question.get(question)
        if known is not None:
            return Problem(question, answer, self.name, known.bucket, known.seen, known.meta)
        return Problem(question, answer, self.name, "seen", True, {"options": options})

    def solve(self, problem: Problem) -> Attempt | None:
        return self._rationales.get(problem.question)

    def extract_answer(self, attempt: Attempt, problem: Problem | None = None) -> str | None:
        m = self.answer_re.search(attempt.final)
        if m is None:
            return None
        letter = LETTER_RE.match(m.group(1).strip().rstrip("."))
        if self._has_options and letter:  # option letters are written "(B)", as BBH targets
            return f"({letter.group(1)})"
        return self._norm(m.group(1), None)

    def answer_of(self, problem: Problem, attempt: Attempt) -> str | None:
        """The answer of ``attempt`` for ``problem`` (option text mapped to its letter)."""
        m = self.answer_re.search(attempt.final)
        return None if m is None else self._norm(m.group(1), problem.meta.get("options"))

    def check(self, problem: Problem, attempt: Attempt) -> Feedback:
        """Answer match only: correct final answer -> correct; else the final response is wrong."""
        final = attempt.final
        m = self.answer_re.search(final)
        if m is None or not m.group(1).strip():
            return Feedback.error(
                attempt,
                FINAL,
                final.strip() or final,
                "the final response does not state the answer in the expected form",
            )
        got = self._norm(m.group(1), problem.meta.get("options"))
        if got == problem.answer:
            return Feedback.ok(attempt)
        return Feedback.error(
            attempt, FINAL, m.group(1), f"{m.group(1).strip()} is not the correct answer"
        )

    def improve(self, problem: Problem, attempt: Attempt, feedback: Feedback) -> Attempt | None:
        return None  # no scripted solver: use the LLM improvement module

    def inject_error(
        self, problem: Problem, attempt: Attempt, rng: random.Random
    ) -> tuple[Attempt, str] | None:
        """The gold attempt with another final answer (used for few-shot examples)."""
        final = attempt.final
        m = self.answer_re.search(final)
        if m is None:
            return None
        wrong = self._wrong_answer(problem, m.group(1), rng)
        if wrong is None:
            return None
        if m.group(1).endswith(".") and not wrong.endswith("."):
            wrong += "."  # the group took the sentence's period: keep it
        text = final[: m.start(1)] + wrong + final[m.end(1) :]
        return Attempt(attempt.steps[:-1] + (Step(FINAL, text),)), FINAL

    def _wrong_answer(self, problem: Problem, right: str, rng: random.Random) -> str | None:
        options = problem.meta.get("options")
        if options:
            letters = [
                chr(ord("A") + i)
                for i in range(len(options))
                if f"({chr(ord('A') + i)})" != problem.answer
            ]
            if not letters:
                return None
            letter = rng.choice(letters)
            return f"({letter})" if right.strip().startswith("(") else letter
        if self.normalize == "number":
            value = Decimal(problem.answer) + rng.choice([-10, -2, -1, 1, 2, 10])
            return str(value)
        others = sorted({p.answer for p in self.problems if p.answer != problem.answer})
        return rng.choice(others) if others else None

    def few_shot_demos(
        self, rng: random.Random
    ) -> list[tuple[Problem, Attempt, Feedback, Attempt | None]]:
        """The user's reviewed examples (empty without an examples file)."""
        return list(self._demos)


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return read_jsonl(path)


def _read_demos(
    task: CustomTask, path: Path
) -> list[tuple[Problem, Attempt, Feedback, Attempt | None]]:
    demos = []
    for lineno, d in _jsonl(path):
        where = f"{path}:{lineno}"
        question, options = question_and_options(d, where)
        answer = task._norm(str(d.get("answer", "")), options)
        if answer is None:
            raise ValueError(f"{where}: missing or invalid 'answer'")
        problem = Problem(question, answer, task.name, meta={"options": options})
        attempt = task._checked_rationale(d.get("attempt"), problem, where, "attempt")
        fb = d.get("feedback")
        if fb == "correct":
            demos.append((problem, attempt, Feedback.ok(attempt), None))
            continue
        if not isinstance(fb, dict) or not all(
            isinstance(fb.get(k), str) for k in ("step", "segment", "reason")
        ):
            raise ValueError(
                f'{where}: feedback must be "correct" or {{"step", "segment", "reason"}}'
            )
        step = fb["step"].strip("() ")
        if (
            step not in attempt.labels
            or fb["segment"] not in attempt.steps[attempt.index(step)].text
        ):
            raise ValueError(
                f"{where}: feedback names step ({step}) or a segment the attempt does not have"
            )
        improved = task._checked_rationale(d.get("improved"), problem, where, "improved")
        demos.append(
            (problem, attempt, Feedback.error(attempt, step, fb["segment"], fb["reason"]), improved)
        )
    return demos
