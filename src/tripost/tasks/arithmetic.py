"""Multistep arithmetic (BIG-Bench / BIG-Bench Hard ``multistep_arithmetic_two``).

A question is a binary tree of flat *groups* of integers in -9..9 joined by ``+ - *``; a bucket
``l4_d22`` has groups of 4 operands and depth levels [2, 2] (4 groups). The gold rationale is
the official one, one operation reduced per ``=``::

    (1) This equation can be written as "(A - B)", where A = (7 - -1 + -1 + -4) and B = (-7 + 7 * 3 * -9).
    (2) Let's calculate A = (7 - -1 + -1 + -4) = (((7 - -1) + -1) + -4) = ((8 + -1) + -4) = (7 + -4) = 3.
    (3) Let's calculate B = (-7 + 7 * 3 * -9) = (-7 + ((7 * 3) * -9)) = (-7 + (21 * -9)) = (-7 + -189) = -196.
    (4) Then, the final equation is (A - B) = (3 - -196) = 199.
    (Final response) So the answer is 199.

The scripted feedback judges any rationale with this step structure by value: a link ``X = Y``
of a chain is wrong iff X and Y differ in value, so shorter chains such as
``(7 - -1 + -1 + -4) = (8 + -1 + -4) = 3`` pass.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass

from tripost.tasks.arithmetic_expr import (
    LETTERS,
    OPS,
    ExprError,
    Group,
    Node,
    Tree,
    chain_error,
    change_an_operator,
    depth,
    evaluate,
    groups,
    parse_expr,
    parse_question,
    pattern,
    random_question,
    reduction_order,
    reductions,
    render,
    same_expr,
    slip,
    slipped_reductions,
    substitute,
    subtree,
    tokenize,
)
from tripost.trajectory import FINAL, Attempt, Feedback, Problem, Step

log = logging.getLogger(__name__)

SEEN_BUCKETS = ["l3_d2", "l3_d22", "l4_d2", "l4_d22"]
UNSEEN_BUCKETS = ["l3_d222", "l4_d222", "l5_d2", "l5_d22", "l6_d2", "l6_d22"]

_DECOMP_RE = re.compile(
    r'^This equation can be written as "(?P<pat>[^"\n]*)", where (?P<defs>.+?)\.?\s*$'
)
_CALC_RE = re.compile(r"^Let's calculate (?P<letter>\S+) = (?P<body>.+?)(?P<period>\.?)\s*$")
_FINAL_EQ_RE = re.compile(r"^Then, the final equation is (?P<body>.+?)(?P<period>\.?)\s*$")
_ANSWER_RE = re.compile(r"the answer is (-?\d+)(\.?)")
_DEF_RE = re.compile(r"(\S+) = (.+)")


@dataclass(frozen=True)
class _Plan:
    """A question taken apart: its pattern of letters, groups and their values."""

    pattern: Tree
    groups: list[Group]
    letters: list[str]
    values: dict[str, int]
    answer: int

    @classmethod
    def of(cls, tree: Node) -> _Plan:
        gs = groups(tree)
        letters = list(LETTERS[: len(gs)])
        values = {x: evaluate(g) for x, g in zip(letters, gs, strict=True)}
        return cls(pattern(tree), gs, letters, values, evaluate(tree))


def _plan(question: str) -> _Plan | None:
    tree = parse_question(question)
    return None if tree is None else _Plan.of(tree)


def _tokens(text: str) -> list[str] | None:
    try:
        return tokenize(text)
    except ExprError:
        return None


# --- the gold rationale ------------------------------------------------------------------------


def _group_trees(group: Group) -> list[Tree]:
    """The fully parenthesised group, then one tree per reduction."""
    full = parse_expr(group.text)
    return [full, *reductions(full)]


def _calc_exprs(group: Group, trees: list[Tree]) -> list[str]:
    texts = [group.text] + [render(t) for t in trees]
    return texts[:1] + texts[2:] if texts[1] == texts[0] else texts  # length-2 group: no repeat


def _final_exprs(plan: _Plan, values: dict[str, int], trees: list[Tree] | None = None) -> list[str]:
    if trees is None:
        sub = substitute(plan.pattern, values)
        trees = [sub, *reductions(sub)]
    return [render(plan.pattern)] + [render(t) for t in trees]


def _decomposition_text(plan: _Plan) -> str:
    defs = [f"{x} = {g.text}" for x, g in zip(plan.letters, plan.groups, strict=True)]
    joined = ", ".join(defs[:-1]) + " and " + defs[-1]
    return f'This equation can be written as "{render(plan.pattern)}", where {joined}.'


def _render_attempt(
    plan: _Plan, calc: list[list[str]], final_eq: list[str], answer: int
) -> Attempt:
    n = len(plan.groups)
    steps = [Step("1", _decomposition_text(plan))]
    steps += [
        Step(str(i + 2), f"Let's calculate {x} = {' = '.join(c)}.")
        for i, (x, c) in enumerate(zip(plan.letters, calc, strict=True))
    ]
    steps.append(Step(str(n + 2), f"Then, the final equation is {' = '.join(final_eq)}."))
    steps.append(Step(FINAL, f"So the answer is {answer}."))
    return Attempt(tuple(steps))


def _solve_plan(plan: _Plan) -> Attempt:
    calc = [_calc_exprs(g, _group_trees(g)) for g in plan.groups]
    return _render_attempt(plan, calc, _final_exprs(plan, plan.values), plan.answer)


# --- scripted feedback -------------------------------------------------------------------------


def _first_line(text: str) -> str:
    return text.split("\n")[0]


def _span(exprs: list[str], i: int, j: int, period: str) -> str:
    """Verbatim text of chain elements i..j (with the final period when j is the last)."""
    return " = ".join(exprs[i : j + 1]) + (period if j == len(exprs) - 1 else "")


def _check_chain(
    attempt: Attempt, step: Step, exprs: list[str], period: str, env: dict[str, int], name: str
) -> Feedback | None:
    """Each ``X = Y`` of the chain must keep the value; the chain must end with a number."""
    fault = chain_error(exprs, env, name)
    if fault is None:
        return None
    i, j, reason = fault
    return Feedback.error(attempt, step.label, _span(exprs, i, j, period), reason)


def _check_decomposition(plan: _Plan, attempt: Attempt, step: Step) -> Feedback | None:
    m = _DECOMP_RE.match(step.text)
    if m is None:
        reason = "it does not follow the format: This equation can be written as <pattern>, where A = <group> and B = <group>"
        return Feedback.error(attempt, step.label, _first_line(step.text), reason)
    expected = render(plan.pattern)
    if not same_expr(m["pat"], plan.pattern):
        reason = f"the question has the form {expected}"
        return Feedback.error(attempt, step.label, f'written as "{m["pat"]}"', reason)
    parts = re.split(r", and |, | and ", m["defs"])
    n = len(plan.groups)
    for i in range(max(n, len(parts))):
        if i >= len(parts):
            missing = plan.letters[i:]
            verb = "is" if len(missing) == 1 else "are"
            reason = f"{' and '.join(missing)} {verb} not defined"
            return Feedback.error(attempt, step.label, m["defs"], reason)
        part, dm = parts[i], _DEF_RE.fullmatch(parts[i])
        if i >= n:
            reason = f"the question has only {n} groups, A to {plan.letters[-1]}"
        elif dm is None:
            reason = f"it does not define {plan.letters[i]} as {plan.letters[i]} = <group>"
        elif dm[1] != plan.letters[i]:
            reason = f"group {i + 1} of the question is named {plan.letters[i]}"
        elif not same_expr(dm[2], parse_expr(plan.groups[i].text)):
            reason = f"{plan.letters[i]} is {plan.groups[i].text} in the question"
        else:
            continue
        return Feedback.error(attempt, step.label, part, reason)
    return None


def _check_calc(plan: _Plan, attempt: Attempt, step: Step, k: int) -> Feedback | None:
    letter, group = plan.letters[k], plan.groups[k]
    if step.text.startswith("Then, the final equation"):
        reason = f"{letter} has not been calculated yet"
        return Feedback.error(attempt, step.label, "Then, the final equation", reason)
    m = _CALC_RE.match(step.text)
    if m is None:
        reason = (
            f"it does not follow the format: Let's calculate {letter} = <group> = ... = <value>"
        )
        return Feedback.error(attempt, step.label, _first_line(step.text), reason)
    if m["letter"] != letter:
        reason = f"step ({step.label}) should calculate {letter}"
        return Feedback.error(attempt, step.label, f"Let's calculate {m['letter']}", reason)
    exprs = m["body"].split(" = ")
    if not same_expr(exprs[0], parse_expr(group.text)):
        reason = f"{letter} is {group.text} according to step (1)"
        return Feedback.error(attempt, step.label, f"{letter} = {exprs[0]}", reason)
    return _check_chain(attempt, step, exprs, m["period"], {}, letter)


def _check_final_equation(plan: _Plan, attempt: Attempt, step: Step) -> Feedback | None:
    n = len(plan.groups)
    m = _FINAL_EQ_RE.match(step.text)
    if m is None:
        if step.text.startswith("Let's calculate"):
            reason = f"the question has only {n} groups, A to {plan.letters[-1]}"
        else:
            reason = "it does not follow the format: Then, the final equation is <pattern> = ... = <value>"
        return Feedback.error(attempt, step.label, _first_line(step.text), reason)
    exprs, expected = m["body"].split(" = "), render(plan.pattern)
    if not same_expr(exprs[0], plan.pattern):
        reason = f"the equation was written as {expected} in step (1)"
        return Feedback.error(attempt, step.label, f"final equation is {exprs[0]}", reason)
    if len(exprs) > 1:
        fb = _check_substitution(plan, attempt, step, exprs, m["period"])
        if fb is not None:
            return fb
    return _check_chain(attempt, step, exprs, m["period"], plan.values, "the final equation")


def _check_substitution(
    plan: _Plan, attempt: Attempt, step: Step, exprs: list[str], period: str
) -> Feedback | None:
    """When the second expression is the pattern with numbers for letters, name a wrong copy."""
    written, shape = _tokens(exprs[1]), tokenize(render(plan.pattern))
    if written is None or len(written) != len(shape):
        return None
    pairs = list(zip(shape, written, strict=True))
    if any(a != b and not (a in plan.values and b.lstrip("-").isdigit()) for a, b in pairs):
        return None
    for a, b in pairs:
        if a in plan.values and int(b) != plan.values[a]:
            reason = f"{a} is {plan.values[a]} according to step ({plan.letters.index(a) + 2})"
            return Feedback.error(attempt, step.label, _span(exprs, 0, 1, period), reason)
    return None


def _check_final_response(plan: _Plan, attempt: Attempt, step: Step) -> Feedback | None:
    m = _ANSWER_RE.search(step.text)
    if m is None:
        reason = "it does not state the answer as: So the answer is <number>"
        return Feedback.error(attempt, step.label, _first_line(step.text), reason)
    if int(m[1]) != plan.answer:
        reason = f"the final equation in step ({len(plan.groups) + 2}) gives {plan.answer}"
        return Feedback.error(attempt, step.label, m.group(0), reason)
    return None


def _numbering_error(attempt: Attempt, numbered: list[Step], i: int) -> Feedback:
    """Step i is numbered wrongly. A repeated label cannot name it (labels name their first
    occurrence), so the error is then put on the step before it."""
    step = numbered[i]
    if attempt.index(step.label) == attempt.steps.index(step) or i == 0:
        reason = f"this step should be numbered ({i + 1})"
        return Feedback.error(attempt, step.label, _first_line(step.text), reason)
    prev = numbered[i - 1]
    reason = f"the step after it is numbered ({step.label}) instead of ({i + 1})"
    return Feedback.error(attempt, prev.label, _first_line(prev.text), reason)


def _first_error(plan: _Plan, attempt: Attempt) -> Feedback | None:
    n = len(plan.groups)
    numbered = [s for s in attempt.steps if s.label != FINAL]
    finals = [s for s in attempt.steps if s.label == FINAL]
    for i, step in enumerate(numbered):
        if step.label != str(i + 1):
            return _numbering_error(attempt, numbered, i)
        if i == 0:
            fb = _check_decomposition(plan, attempt, step)
        elif i <= n:
            fb = _check_calc(plan, attempt, step, i - 1)
        elif i == n + 1:
            fb = _check_final_equation(plan, attempt, step)
        else:
            reason = f"the final equation was already calculated in step ({n + 2})"
            fb = Feedback.error(attempt, step.label, _first_line(step.text), reason)
        if fb is not None:
            return fb
    if not finals:
        last = attempt.steps[-1]
        return Feedback.error(
            attempt, last.label, _first_line(last.text), "there is no final response"
        )
    if len(numbered) < n + 2:
        k = len(numbered)
        what = (
            "the decomposition into groups"
            if k == 0
            else f"the calculation of {plan.letters[k - 1]}"
            if k <= n
            else "the final equation"
        )
        reason = f"step ({k + 1}) with {what} is missing"
        return Feedback.error(attempt, FINAL, _first_line(finals[0].text), reason)
    return _check_final_response(plan, attempt, finals[0])


# --- error injection ---------------------------------------------------------------------------


def _inject_chain(plan: _Plan, rng: random.Random) -> tuple[Attempt, str] | None:
    """An arithmetic slip in a chain (a product more often than not)."""
    starts: list[Tree] = [parse_expr(g.text) for g in plan.groups]
    starts.append(substitute(plan.pattern, plan.values))
    cands = [
        (k, j, subtree(start, path).op)  # type: ignore[union-attr]
        for k, start in enumerate(starts)
        for j, path in enumerate(reduction_order(start))
    ]
    products = [c for c in cands if c[2] == "*"]
    for _ in range(20):
        k, j, _op = rng.choice(products if products and rng.random() < 0.6 else cands)
        trees = slipped_reductions(starts[k], j, rng)
        if trees is not None:
            break
    else:
        return None
    n = len(plan.groups)
    calc = [_calc_exprs(g, _group_trees(g)) for g in plan.groups]
    values = dict(plan.values)
    if k < n:
        calc[k] = _calc_exprs(plan.groups[k], trees)
        values[plan.letters[k]] = evaluate(trees[-1])
        final_eq = _final_exprs(plan, values)
    else:
        final_eq = _final_exprs(plan, values, trees)
    answer = int(final_eq[-1])
    return _render_attempt(plan, calc, final_eq, answer), str(k + 2)


def _inject_substitution(plan: _Plan, rng: random.Random) -> tuple[Attempt, str]:
    """A group's value copied wrongly into the final equation (sometimes another group's)."""
    letter = rng.choice(plan.letters)
    others = {v for x, v in plan.values.items() if x != letter and v != plan.values[letter]}
    if others and rng.random() < 0.3:
        wrong = rng.choice(sorted(others))
    else:
        wrong = slip(plan.values[letter], None, rng)
    values = {**plan.values, letter: wrong}
    final_eq = _final_exprs(plan, values)
    calc = [_calc_exprs(g, _group_trees(g)) for g in plan.groups]
    return _render_attempt(plan, calc, final_eq, int(final_eq[-1])), str(len(plan.groups) + 2)


def _inject_decomposition(plan: _Plan, rng: random.Random) -> tuple[Attempt, str]:
    """A miscopied number or operator in step (1); the rest is computed from the wrong copy."""
    gs = list(plan.groups)
    if rng.random() < 0.2:  # an operator of the pattern
        wrong_pattern = change_an_operator(plan.pattern, rng)
        answer = evaluate(wrong_pattern, plan.values)
        wrong_plan = _Plan(wrong_pattern, gs, plan.letters, plan.values, answer)
    else:
        k = rng.randrange(len(gs))
        toks = list(gs[k].tokens)
        i = rng.randrange(len(toks))
        if toks[i] in OPS:
            toks[i] = rng.choice([o for o in OPS if o != toks[i]])
        else:
            toks[i] = str(rng.choice([v for v in range(-9, 10) if str(v) != toks[i]]))
        gs[k] = Group(tuple(toks))
        values = {x: evaluate(g) for x, g in zip(plan.letters, gs, strict=True)}
        wrong_plan = _Plan(plan.pattern, gs, plan.letters, values, evaluate(plan.pattern, values))
    return _solve_plan(wrong_plan), "1"


def _inject_answer(plan: _Plan, gold: Attempt, rng: random.Random) -> tuple[Attempt, str]:
    """A final response that does not copy the final equation's result."""
    others = {v for v in plan.values.values() if v != plan.answer}
    wrong = rng.choice(sorted(others)) if others and rng.random() < 0.2 else None
    wrong = slip(plan.answer, None, rng) if wrong is None else wrong
    steps = (*gold.steps[:-1], Step(FINAL, f"So the answer is {wrong}."))
    return Attempt(steps), FINAL


_INJECTIONS = ("chain", "chain", "substitution", "decomposition", "answer")


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

    def __init__(self, instruction: str | None = None, update_style: str = "rewrite") -> None:
        if update_style != "rewrite":
            raise ValueError(f"unknown update_style {update_style!r}; known: 'rewrite'")
        self.instruction = instruction or ""
        self.update_style = update_style
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
        plan = _plan(problem.question)
        return None if plan is None else _solve_plan(plan)

    def extract_answer(self, attempt: Attempt) -> str | None:
        """``"So the answer is -7."`` -> ``"-7"`` (``"+07"`` would give ``"7"``); None if absent."""
        finals = [s for s in attempt.steps if s.label == FINAL]
        m = _ANSWER_RE.search(finals[0].text) if finals else None
        return None if m is None else str(int(m[1]))

    def check(self, problem: Problem, attempt: Attempt) -> Feedback:
        """The first wrong step, e.g. ``In step (2) the part "((8 + -1) + -4) = (6 + -4)" is
        incorrect. This is because ((8 + -1) + -4) is not equal to (6 + -4).``"""
        plan = _plan(problem.question)
        if not attempt.steps:
            return Feedback.error(None, "1", "", "the answer is empty")
        if plan is None:
            first = attempt.steps[0]
            reason = "the question is not a multistep arithmetic expression"
            return Feedback.error(attempt, first.label, _first_line(first.text), reason)
        return _first_error(plan, attempt) or Feedback.ok(attempt)

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
        plan = _plan(problem.question)
        if plan is None:
            return None
        kind = kind or rng.choice(_INJECTIONS)
        if kind == "chain":
            return _inject_chain(plan, rng) or _inject_answer(plan, _solve_plan(plan), rng)
        if kind == "substitution":
            return _inject_substitution(plan, rng)
        if kind == "decomposition":
            return _inject_decomposition(plan, rng)
        if kind == "answer":
            return _inject_answer(plan, _solve_plan(plan), rng)
        raise ValueError(f"unknown error kind {kind!r}")
