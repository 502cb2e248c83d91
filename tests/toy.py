"""A toy task for fast tests: sum three digits in two steps.

Q: Add 3, 4 and 5.
Answer: Let's think step by step.
(1) 3 + 4 = 7.
(2) 7 + 5 = 12.
(Final response) So the answer is 12.
"""

from __future__ import annotations

import random
import re

from tripost.trajectory import Attempt, Feedback, Problem, Step

_Q = re.compile(r"^Add (\d), (\d) and (\d)\.$")
_STEP = re.compile(r"^(-?\d+) \+ (-?\d+) = (-?\d+)\.$")
_FINAL = re.compile(r"^So the answer is (-?\d+)\.$")


class ToyTask:
    name = "toy"
    instruction = ""
    buckets = ["small", "large"]

    def generate(self, rng: random.Random, split: str) -> Problem:
        lo, hi = (0, 4) if split == "seen" else (5, 9)
        xs = [rng.randint(lo, hi) for _ in range(3)]
        return self.problem_from_text(f"Add {xs[0]}, {xs[1]} and {xs[2]}.", None)

    def problem_from_text(self, question, target):
        m = _Q.match(question)
        if not m:
            return None
        xs = [int(g) for g in m.groups()]
        seen = max(xs) <= 4
        return Problem(question, str(sum(xs)), self.name, "small" if seen else "large", seen)

    def _terms(self, problem):
        return [int(g) for g in _Q.match(problem.question).groups()]

    def solve(self, problem, start: int = 0, acc: int | None = None):
        a, b, c = self._terms(problem)
        steps = [
            Step("1", f"{a} + {b} = {a + b}."),
            Step("2", f"{a + b} + {c} = {a + b + c}."),
            Step("Final response", f"So the answer is {a + b + c}."),
        ]
        return Attempt(tuple(steps))

    def extract_answer(self, attempt, problem=None):
        m = _FINAL.match(attempt.final)
        return m.group(1) if m else None

    def check(self, problem, attempt):
        a, b, c = self._terms(problem)
        want = [(a, b), (None, c)]
        prev = None
        numbered = [s for s in attempt.steps if s.label != "Final response"]
        for i, s in enumerate(numbered):
            m = _STEP.match(s.text)
            if not m or i >= 2:
                return Feedback.error(attempt, s.label, s.text, "it cannot be parsed")
            x, y, z = (int(g) for g in m.groups())
            wx, wy = want[i]
            if (wx if wx is not None else prev) != x or wy != y:
                return Feedback.error(attempt, s.label, f"{x} + {y}", "it uses the wrong numbers")
            if x + y != z:
                return Feedback.error(attempt, s.label, f"{x} + {y} = {z}", f"{x} + {y} is {x + y}")
            prev = z
        if len(numbered) < 2:
            return Feedback.error(attempt, "Final response", attempt.final, "a step is missing")
        if self.extract_answer(attempt) != str(prev):
            return Feedback.error(attempt, "Final response", attempt.final, f"the sum is {prev}")
        return Feedback.ok(attempt)

    def improve(self, problem, attempt, feedback):
        gold = self.solve(problem)
        k = attempt.index(feedback.error_step) if feedback.error_step in attempt.labels else 0
        return Attempt(attempt.steps[:k] + gold.steps[k:])

    def inject_error(self, problem, attempt, rng):
        s = attempt.steps[0]
        x, y, z = (int(g) for g in _STEP.match(s.text).groups())
        bad = Step("1", f"{x} + {y} = {z + 1}.")
        return Attempt((bad,) + attempt.steps[1:]), "1"
