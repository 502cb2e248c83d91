"""Logical deduction (BIG-Bench Hard ``logical_deduction_{three,five,seven}_objects``).

A question describes N objects in a fixed order (books on a shelf, birds on a branch, golfers in
a tournament, vehicles by age, fruits by price) through statements; the options ask which object
is at one position. Buckets: ``3`` and ``5`` objects (seen), ``7`` (unseen). The gold rationale
first writes each statement as an ordering in the paper's "??" notation, then places objects one
deduction at a time (each step cites the statements and the earlier ordering it uses), then reads
the asked position::

    (1) The falcon is to the right of the blue jay: "(left) ?? blue jay ?? falcon ?? (right)".
    (2) The blue jay is to the right of the quail: "(left) ?? quail ?? blue jay ?? (right)".
    (3) From (1) and (2), the quail is in position 1, the blue jay is in position 2 and the falcon is in position 3: "(left) quail blue jay falcon (right)".
    (4) In (3), the second from the left is position 2, which holds the blue jay.
    (Final response) The blue jay is the second from the left. So the answer is (A).

Positions count from the end written first. The scripted feedback checks each statement's
ordering against the statement, and each placement by enumerating the orders allowed by the
steps it cites: a placement is right iff every such order agrees with it.

The ``compact`` style (task option ``style: compact``) writes the same deduction without the
words a step repeats from the question or from itself, for a small model trained from scratch
(:mod:`tripost.tasks.logical_deduction.compact`)::

    (1) Given: ?? blue jay ?? falcon ??.
    (2) Given: ?? quail ?? blue jay ??.
    (3) From (1) and (2): quail blue jay falcon.
    (4) Position 2: blue jay.
    (Final response) So the answer is the blue jay.

Its final response names the chosen option by its object, not its letter. The ``stated`` style
(``style: stated``) is the compact one with each pattern after its statement as the question
writes it (``(1) The falcon is to the right of the blue jay: ?? blue jay ?? falcon ??.``), so
that a step names the statement it is about instead of leaving it to its place. The ``phrased``
style (``style: phrased``) reads the asked position after the options' words for it (``(4) the
second from the left is position 2: blue jay.``); ``stepwise`` is ``phrased`` with one object
placed per step (``(3) From (1) and (2): quail ? ?.``), each placement copying the ordering it
cites and adding one name.
"""

from __future__ import annotations

import logging
import random
import re

from tripost.tasks.base import check_task_options
from tripost.tasks.logical_deduction.check import continue_deduction, first_error
from tripost.tasks.logical_deduction.compact import (
    COMPACT,
    PHRASED,
    STATED,
    STEPWISE,
    answer_letter,
    answer_words,
)
from tripost.tasks.logical_deduction.generate import inject, position_predicate, unique_statements
from tripost.tasks.logical_deduction.model import (
    DOMAINS,
    FINAL_RE,
    PAPER,
    Scene,
    answer_of,
    parse_question,
    parse_sentence,
)
from tripost.trajectory import FINAL, Attempt, Feedback, Problem

log = logging.getLogger(__name__)

SEEN_SIZES = (3, 5)
UNSEEN_SIZES = (7,)
#: the step forms of each ``style``; every one but ``paper`` is a compact style
STEP_STYLES = {
    "paper": PAPER,
    "compact": COMPACT,
    "stated": STATED,
    "phrased": PHRASED,
    "stepwise": STEPWISE,
}
STYLES = tuple(STEP_STYLES)


# --- the task --------------------------------------------------------------------------------


class LogicalDeduction:
    """The logical deduction task (see the module docstring for the rationale format)."""

    name = "logical_deduction"
    #: the instruction of the official training data
    PAPER_INSTRUCTION = (
        ' Let "??" represents 0 or more objects, and "?" represents exactly 1 object.'
    )

    def __init__(
        self, instruction: str | None = None, update_style: str = "rewrite", style: str = "paper"
    ) -> None:
        check_task_options(update_style, style, STYLES)
        self.instruction = instruction or ""
        self.update_style = update_style
        self.buckets = [str(n) for n in SEEN_SIZES + UNSEEN_SIZES]
        #: ``"paper"``: the paper's rationale; ``"compact"``: the same deduction in fewer
        #: words, for a small model trained from scratch; ``"stated"``: compact, with each
        #: statement restated before its pattern; ``"phrased"``: compact, with the reading
        #: naming the options' position words before the position; ``"stepwise"``: phrased,
        #: one object placed per step (module docstring)
        self.style = style
        self.compact = style != "paper"
        self.step_style = STEP_STYLES[style]

    def generate(self, rng: random.Random, split: str) -> Problem:
        """A random scene of the split's size with statements added until one order remains;
        the options ask for a random position, e.g. ``(B) The quail is the second from the left``."""
        if split not in ("seen", "unseen"):
            raise ValueError(f"split must be 'seen' or 'unseen', got {split!r}")
        n = rng.choice(SEEN_SIZES if split == "seen" else UNSEEN_SIZES)
        domain = rng.choice(list(DOMAINS.values()))
        objects = tuple(rng.sample(domain.pool, n))
        truth = dict(zip(rng.sample(objects, n), range(1, n + 1), strict=True))
        statements = unique_statements(domain, objects, truth, rng)
        asked = rng.randint(1, n)
        predicate = position_predicate(domain, asked, n)
        options = tuple(f"{domain.subject(o)} {predicate}" for o in objects)
        holder = next(o for o, p in truth.items() if p == asked)
        patterns = tuple(parse_sentence(domain, objects, t) for t in statements)
        scene = Scene(domain, objects, statements, patterns, options, objects, asked)  # type: ignore[arg-type]
        answer = scene.letter(objects.index(holder))
        return self._problem(scene.question(), answer, n, domain.key)

    def _problem(self, question: str, answer: str, n: int, domain: str) -> Problem:
        return Problem(question, answer, self.name, str(n), n in SEEN_SIZES, {"domain": domain})

    def problem_from_text(self, question: str, target: str | None) -> Problem | None:
        """A BIG-Bench Hard question -> Problem (bucket = number of objects); None when a
        statement or option is not understood or the statements do not fix one order."""
        question = question.strip().removeprefix("Q: ")
        s = parse_question(question)
        if s is None:
            return None
        answer = answer_of(s)
        if answer is None:
            return None
        if target is not None:
            m = re.fullmatch(r"\(?([A-Z])\)?", target.strip())
            if m is None:
                return None
            if f"({m[1]})" != answer:
                log.warning("target %s differs from the deduced answer %s", target, answer)
            answer = f"({m[1]})"
        return self._problem(question, answer, s.n, s.domain.key)

    def solve(self, problem: Problem) -> Attempt | None:
        """The gold deduction; None if the question cannot be read or its answer differs."""
        s = parse_question(problem.question)
        if s is None or answer_of(s) != problem.answer:
            return None
        return continue_deduction(s, problem.answer, (), self.step_style)

    def extract_answer(self, attempt: Attempt, problem: Problem | None = None) -> str | None:
        """``"... So the answer is (B)."`` -> ``"(B)"``; None if absent. The compact style
        also reads an object, ``"So the answer is the blue jay."``: with ``problem``, the letter
        of the option about it (None if none); without, the name as LMSI votes on it,
        ``"blue jay"`` (lower case, no article)."""
        finals = [st for st in attempt.steps if st.label == FINAL]
        if not finals:
            return None
        if self.compact:
            return self._compact_answer(finals[0].text, problem)
        m = FINAL_RE.match(finals[0].text.strip())
        return None if m is None else f"({m['l'].upper()})"

    def _compact_answer(self, final: str, problem: Problem | None) -> str | None:
        words = answer_words(final)
        if words is None or problem is None:
            return words
        return answer_letter(parse_question(problem.question), words)

    def check(self, problem: Problem, attempt: Attempt) -> Feedback:
        """The first wrong step, e.g. ``In step (3) the part "the falcon is in position 2" is
        incorrect. This is because (1) and (2) put the falcon in position 3, not 2.``"""
        s = parse_question(problem.question)
        if s is None:
            first = attempt.steps[0]
            reason = "the question is not a logical deduction question this checker can read"
            return Feedback.error(attempt, first.label, first.text.split("\n")[0], reason)
        return first_error(s, problem.answer, attempt, self.step_style) or Feedback.ok(attempt)

    def improve(self, problem: Problem, attempt: Attempt, feedback: Feedback) -> Attempt | None:
        """The steps before the error verbatim, then the solver's deduction continued from
        what they establish. None when the result would not pass :meth:`check`."""
        s = parse_question(problem.question)
        if s is None or feedback.correct or feedback.error_step not in attempt.labels:
            return None
        prefix = attempt.prefix(feedback.error_step)  # type: ignore[arg-type]
        new = continue_deduction(s, problem.answer, prefix, self.step_style)
        if new is None or not self.check(problem, new).correct:
            return None
        return new

    def inject_error(
        self, problem: Problem, attempt: Attempt, rng: random.Random
    ) -> tuple[Attempt, str] | None:
        """One slip: a statement's ordering misread (objects swapped, position counted from the
        wrong end or one off), a placement with two objects swapped, the wrong object read off
        the ordering, or another option in the final response (its letter; in the compact
        style its object), written in the task's style. Returns the attempt and its wrong
        step."""
        s = parse_question(problem.question)
        return None if s is None else inject(s, attempt, rng, self.step_style)
