"""Multistep arithmetic (BIG-Bench / BIG-Bench Hard ``multistep_arithmetic_two``).

A question is a binary tree of flat *groups* of integers in -9..9 joined by ``+ - *``; a bucket
``l4_d22`` has groups of 4 operands and depth levels [2, 2] (4 groups). The gold rationale is
the official one, one operation reduced per ``=``::

    (1) This equation can be written as "(A - B)", where A = (7 - -1 + -1 + -4) and B = (-7 + 7 * 3 * -9).
    (2) Let's calculate A = (7 - -1 + -1 + -4) = (((7 - -1) + -1) + -4) = ((8 + -1) + -4) = (7 + -4) = 3.
    (3) Let's calculate B = (-7 + 7 * 3 * -9) = (-7 + ((7 * 3) * -9)) = (-7 + (21 * -9)) = (-7 + -189) = -196.
    (4) Then, the final equation is (A - B) = (3 - -196) = 199.
    (Final response) So the answer is 199.

The ``compact`` style (task option ``style: compact``) writes the same steps and chains
without the sentences and the fully parenthesised copy, half the characters, for a small
model trained from scratch::

    (1) (A - B)
    (2) A = (7 - -1 + -1 + -4) = 8 + -1 + -4 = 7 + -4 = 3.
    (3) B = (-7 + 7 * 3 * -9) = -7 + 21 * -9 = -7 + -189 = -196.
    (4) (A - B) = (3 - -196) = 199.
    (Final response) So the answer is 199.

The scripted feedback judges any rationale with this step structure by value: a link ``X = Y``
of a chain is wrong iff X and Y differ in value, so shorter chains such as
``(7 - -1 + -1 + -4) = (8 + -1 + -4) = 3`` pass.
"""

from __future__ import annotations

import logging
import random

from tripost.tasks.arithmetic.check import first_error, first_line
from tripost.tasks.arithmetic.generate import (
    INJECTIONS,
    inject_answer,
    inject_chain,
    inject_decomposition,
    inject_ops,
    inject_substitution,
    random_question,
)
from tripost.tasks.arithmetic.model import (
    ANSWER_RE,
    OPS_STYLES,
    Node,
    depth,
    evaluate,
    groups,
    parse_question,
    plan_of,
    render,
    solve_ops,
    solve_plan,
)
from tripost.tasks.base import check_task_options
from tripost.trajectory import FINAL, Attempt, Feedback, Problem

log = logging.getLogger(__name__)

STYLES = ("paper", "compact", *OPS_STYLES)
SEEN_BUCKETS = ["l3_d2", "l3_d22", "l4_d2", "l4_d22"]
UNSEEN_BUCKETS = ["l3_d222", "l4_d222", "l5_d2", "l5_d22", "l6_d2", "l6_d22"]


class MultistepArithmetic:
    """The multistep arithmetic task (see the module docstring for the rationale format)."""

    name = "multistep_arithmetic"
    #: the instruction of the official training data (its typo "addition and multiplication" kept)
    PAPER_INSTRUCTION = (
        " Recall that the order of operations in mathematics is as follows: (1) Parentheses,"
        " (2) exponents, (3) multiplication and division (from left to right), (4) addition"
        " and multiplication (from left to right). So, remember to always compute the"
        " expressions inside parentheses or brackets first."
    )

    def __init__(
        self, instruction: str | None = None, update_style: str = "rewrite", style: str = "paper"
    ) -> None:
        check_task_options(update_style, style, STYLES)
        self.instruction = instruction or ""
        self.update_style = update_style
        #: ``"paper"``: the official rationale; ``"compact"``: the same steps and chains without
        #: the sentences around them, for a small model trained from scratch (module docstring);
        #: ``"ops"``: one operation per equation; ``"split"``: ``ops`` with an operation on a
        #: multi-digit number written on its tens and units; ``"digits"``: one thing per link, a
        #: product spread over its operands' digits, a sum's places combined one per link
        self.style = style
        self.compact = style == "compact"
        self.buckets = SEEN_BUCKETS + UNSEEN_BUCKETS

    def generate(self, rng: random.Random, split: str) -> Problem:
        """A random question of a random bucket of the split, BIG-Bench style:
        ``((-1 + 2 + 9 * 5) - (-2 + -4 + -4 * -7)) =``."""
        if split not in ("seen", "unseen"):
            raise ValueError(f"split must be 'seen' or 'unseen', got {split!r}")
        bucket = rng.choice(SEEN_BUCKETS if split == "seen" else UNSEEN_BUCKETS)
        length, levels = int(bucket[1]), len(bucket.split("_d")[1])
        tree = random_question(rng, levels, length)
        return self._problem(f"{render(tree)} =", tree, None)

    def problem_from_text(self, question: str, target: str | None) -> Problem | None:
        """``"((-1 + 2 + 9 * 5) - (-2 + -4 + -4 * -7)) ="`` -> Problem (bucket ``l4_d2``);
        None for anything that is not a binary tree of groups followed by ``=``."""
        tree = parse_question(question)
        if tree is None:
            return None
        text = question.strip().removeprefix("Q: ").strip()
        return self._problem(text, tree, target)

    def _problem(self, question: str, tree: Node, target: str | None) -> Problem | None:
        answer = evaluate(tree)
        if target is not None:
            try:
                given = int(target.strip())
            except ValueError:
                return None
            if given != answer:
                log.warning("target %s of %r differs from its value %d", target, question, answer)
            answer = given
        lengths = {g.length for g in groups(tree)}
        levels = depth(tree)
        bucket = "other"
        if len(lengths) == 1 and levels > 0:
            bucket = f"l{lengths.pop()}_d{'2' * levels}"
        meta = {"groups": len(groups(tree)), "depth": levels}
        return Problem(question, str(answer), self.name, bucket, bucket in SEEN_BUCKETS, meta)

    def solve(self, problem: Problem) -> Attempt | None:
        """The official gold rationale (see the module docstring)."""
        plan = plan_of(problem.question)
        if plan is None:
            return None
        if self.style in OPS_STYLES:
            return solve_ops(plan, self.style)
        return solve_plan(plan, self.compact)

    def extract_answer(self, attempt: Attempt, problem: Problem | None = None) -> str | None:
        """``"So the answer is -7."`` -> ``"-7"`` (``"+07"`` would give ``"7"``); None if absent."""
        finals = [s for s in attempt.steps if s.label == FINAL]
        m = ANSWER_RE.search(finals[0].text) if finals else None
        return None if m is None else str(int(m[1]))

    def check(self, problem: Problem, attempt: Attempt) -> Feedback:
        """The first wrong step, e.g. ``In step (2) the part "((8 + -1) + -4) = (6 + -4)" is
        incorrect. This is because ((8 + -1) + -4) is not equal to (6 + -4).``"""
        plan = plan_of(problem.question)
        if not attempt.steps:
            return Feedback.error(None, "1", "", "the answer is empty")
        if plan is None:
            first = attempt.steps[0]
            reason = "the question is not a multistep arithmetic expression"
            return Feedback.error(attempt, first.label, first_line(first.text), reason)
        return first_error(plan, attempt, self.style) or Feedback.ok(attempt)

    def improve(self, problem: Problem, attempt: Attempt, feedback: Feedback) -> Attempt | None:
        """The steps before the error verbatim, then the gold steps from the error step on."""
        if feedback.correct or feedback.error_step not in attempt.labels:
            return None
        gold = self.solve(problem)
        k = attempt.index(feedback.error_step)  # type: ignore[arg-type]
        if gold is None or k >= len(gold.steps):
            return None
        return Attempt(attempt.steps[:k] + gold.steps[k:])

    def inject_error(
        self, problem: Problem, attempt: Attempt, rng: random.Random, kind: str | None = None
    ) -> tuple[Attempt, str] | None:
        """One slip a small model makes, written into the gold rationale (rebuilt by the solver,
        which reproduces the official one): ``"chain"`` a wrong result in a chain (a product
        more often than not), ``"substitution"`` a value miscopied into the final equation,
        ``"decomposition"`` a miscopied number or operator in step (1), ``"answer"`` a final
        response that does not copy the result. The steps after the slip follow from it.
        Returns the attempt and the label of its (first) wrong step; ``kind`` is random by
        default."""
        plan = plan_of(problem.question)
        if plan is None:
            return None
        kind, c = kind or rng.choice(INJECTIONS), self.compact
        if self.style in OPS_STYLES:
            if kind in ("chain", "substitution", "decomposition"):
                injected = inject_ops(plan, kind, rng, self.style)
                return injected or inject_answer(plan, solve_ops(plan, self.style), rng)
            if kind == "answer":
                return inject_answer(plan, solve_ops(plan, self.style), rng)
        if kind == "chain":
            return inject_chain(plan, rng, c) or inject_answer(plan, solve_plan(plan, c), rng)
        if kind == "substitution":
            return inject_substitution(plan, rng, c)
        if kind == "decomposition":
            return inject_decomposition(plan, rng, c)
        if kind == "answer":
            return inject_answer(plan, solve_plan(plan, c), rng)
        raise ValueError(f"unknown error kind {kind!r}")
