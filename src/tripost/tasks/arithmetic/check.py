"""Scripted feedback of multistep arithmetic: the first wrong step of a rationale and why.

Any rationale with the gold step structure is judged by value: a link ``X = Y`` of a chain is
wrong iff X and Y differ in value, so shorter chains such as
``(7 - -1 + -1 + -4) = (8 + -1 + -4) = 3`` pass.
"""

from __future__ import annotations

import re

from tripost.tasks.arithmetic.model import (
    ANSWER_RE,
    OPS_STYLES,
    ExprError,
    Plan,
    Tree,
    chain_error,
    evaluate,
    ops_order,
    parse_expr,
    reduce_step,
    render,
    render_flat,
    same_expr,
    substitute,
    subtree,
    tokenize,
)
from tripost.trajectory import FINAL, Attempt, Feedback, Step

_DECOMP_RE = re.compile(
    r'^This equation can be written as "(?P<pat>[^"\n]*)", where (?P<defs>.+?)\.?\s*$'
)
_CALC_RE = re.compile(r"^Let's calculate (?P<letter>\S+) = (?P<body>.+?)(?P<period>\.?)\s*$")
_FINAL_EQ_RE = re.compile(r"^Then, the final equation is (?P<body>.+?)(?P<period>\.?)\s*$")
_DEF_RE = re.compile(r"(\S+) = (.+)")
# the compact style: the same steps without the sentences around the chains
_C_CALC_RE = re.compile(r"^(?P<letter>[A-Z]) = (?P<body>.+?)(?P<period>\.?)\s*$")
_C_FINAL_EQ_RE = re.compile(r"^(?P<body>\(.+?)(?P<period>\.?)\s*$")


def _tokens(text: str) -> list[str] | None:
    try:
        return tokenize(text)
    except ExprError:
        return None


# --- scripted feedback -------------------------------------------------------------------------


def first_line(text: str) -> str:
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


def _check_compact_decomposition(plan: Plan, attempt: Attempt, step: Step) -> Feedback | None:
    """Compact step (1) is the question's pattern alone: ``((A - B) + (C - D))``."""
    text = step.text.strip().removesuffix(".")
    if same_expr(text, plan.pattern):
        return None
    reason = f"the question has the form {render(plan.pattern)}"
    return Feedback.error(attempt, step.label, first_line(step.text), reason)


def _check_decomposition(plan: Plan, attempt: Attempt, step: Step) -> Feedback | None:
    m = _DECOMP_RE.match(step.text)
    if m is None:
        reason = "it does not follow the format: This equation can be written as <pattern>, where A = <group> and B = <group>"
        return Feedback.error(attempt, step.label, first_line(step.text), reason)
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


def _check_calc(
    plan: Plan, attempt: Attempt, step: Step, k: int, compact: bool = False
) -> Feedback | None:
    letter, group = plan.letters[k], plan.groups[k]
    lead = "" if compact else "Let's calculate "
    early = "(" if compact else "Then, the final equation"
    if step.text.startswith(early):
        reason = f"{letter} has not been calculated yet"
        part = first_line(step.text) if compact else early
        return Feedback.error(attempt, step.label, part, reason)
    m = (_C_CALC_RE if compact else _CALC_RE).match(step.text)
    if m is None:
        reason = f"it does not follow the format: {lead}{letter} = <group> = ... = <value>"
        return Feedback.error(attempt, step.label, first_line(step.text), reason)
    if m["letter"] != letter:
        reason = f"step ({step.label}) should calculate {letter}"
        return Feedback.error(attempt, step.label, f"{lead}{m['letter']}", reason)
    exprs = m["body"].split(" = ")
    if not same_expr(exprs[0], parse_expr(group.text)):
        where = "in the question" if compact else "according to step (1)"
        reason = f"{letter} is {group.text} {where}"
        return Feedback.error(attempt, step.label, f"{letter} = {exprs[0]}", reason)
    return _check_chain(attempt, step, exprs, m["period"], {}, letter)


def _check_final_equation(
    plan: Plan, attempt: Attempt, step: Step, compact: bool = False
) -> Feedback | None:
    n = len(plan.groups)
    m = (_C_FINAL_EQ_RE if compact else _FINAL_EQ_RE).match(step.text)
    if m is None:
        if _C_CALC_RE.match(step.text) if compact else step.text.startswith("Let's calculate"):
            reason = f"the question has only {n} groups, A to {plan.letters[-1]}"
        else:
            lead = "" if compact else "Then, the final equation is "
            reason = f"it does not follow the format: {lead}<pattern> = ... = <value>"
        return Feedback.error(attempt, step.label, first_line(step.text), reason)
    exprs, expected = m["body"].split(" = "), render(plan.pattern)
    if not same_expr(exprs[0], plan.pattern):
        reason = f"the equation was written as {expected} in step (1)"
        part = exprs[0] if compact else f"final equation is {exprs[0]}"
        return Feedback.error(attempt, step.label, part, reason)
    if len(exprs) > 1:
        fb = _check_substitution(plan, attempt, step, exprs, m["period"])
        if fb is not None:
            return fb
    return _check_chain(attempt, step, exprs, m["period"], plan.values, "the final equation")


def _check_substitution(
    plan: Plan, attempt: Attempt, step: Step, exprs: list[str], period: str
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


def _check_final_response(plan: Plan, attempt: Attempt, step: Step) -> Feedback | None:
    m = ANSWER_RE.search(step.text)
    if m is None:
        reason = "it does not state the answer as: So the answer is <number>"
        return Feedback.error(attempt, step.label, first_line(step.text), reason)
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
        return Feedback.error(attempt, step.label, first_line(step.text), reason)
    prev = numbered[i - 1]
    reason = f"the step after it is numbered ({step.label}) instead of ({i + 1})"
    return Feedback.error(attempt, prev.label, first_line(prev.text), reason)


_OPS_CALC_RE = re.compile(
    r"^(?P<letter>[A-Z]) = (?P<expr>\([^:]*\)): (?P<ops>.+?)(?P<period>\.?)\s*$"
)
_OPS_FINAL_RE = re.compile(
    r"^(?P<pat>\([^=:]*\)) = (?P<sub>[^=:]+): (?P<ops>.+?)(?P<period>\.?)\s*$"
)
_OP_HEAD_RE = re.compile(r"^(-?\d+) ([-+*]) (-?\d+)$")
_INT_RE = re.compile(r"^-?\d+$")


def _check_ops(
    attempt: Attempt, step: Step, tree: Tree, ops_text: str, name: str
) -> Feedback | None:
    """The operations of an ``ops``-style calculation of ``tree``: each must be the next one
    of the reduction order (products first, then left to right), with its right result. An
    operation may reach its result through a chain (the ``split`` style's ``56 + 8 = 50 + 6 +
    8 = 50 + 14 = 64``), judged link by link by value."""
    order, ops = ops_order(tree), ops_text.split(", ")
    for i, op_text in enumerate(ops):
        parts = op_text.split(" = ")
        m = _OP_HEAD_RE.match(parts[0])
        if i >= len(order):
            reason = f"{name} was already calculated: there is no operation left"
            return Feedback.error(attempt, step.label, op_text, reason)
        node = subtree(tree, order[i])
        if m is None or len(parts) < 2:
            reason = "it does not follow the format: <number> <operator> <number> = <result>"
            return Feedback.error(attempt, step.label, op_text, reason)
        a, op, b = int(m[1]), m[2], int(m[3])
        if (a, op, b) != (node.left, node.op, node.right):
            reason = f"the next operation of {render_flat(tree)} is {render_flat(node)}"
            return Feedback.error(attempt, step.label, op_text, reason)
        value = evaluate(node)
        if len(parts) == 2 and _INT_RE.match(parts[1]) and int(parts[1]) != value:
            reason = f"{render_flat(node)} is {value}"
            return Feedback.error(attempt, step.label, op_text, reason)
        fault = chain_error(parts, name=render_flat(node))
        if fault is not None:
            j, k, reason = fault
            return Feedback.error(attempt, step.label, " = ".join(parts[j : k + 1]), reason)
        tree = reduce_step(tree, order[i])
    if len(ops) < len(order):
        reason = f"the calculation of {name} is not finished"
        return Feedback.error(attempt, step.label, ops[-1], reason)
    return None


def _check_ops_calc(plan: Plan, attempt: Attempt, step: Step, k: int) -> Feedback | None:
    letter, group = plan.letters[k], plan.groups[k]
    if step.text.startswith("("):
        reason = f"{letter} has not been calculated yet"
        return Feedback.error(attempt, step.label, first_line(step.text), reason)
    m = _OPS_CALC_RE.match(step.text)
    if m is None:
        reason = f"it does not follow the format: {letter} = <group>: <operations>"
        return Feedback.error(attempt, step.label, first_line(step.text), reason)
    if m["letter"] != letter:
        reason = f"step ({step.label}) should calculate {letter}"
        return Feedback.error(attempt, step.label, f"{m['letter']} = {m['expr']}", reason)
    full = parse_expr(group.text)
    if not same_expr(m["expr"], full):
        reason = f"{letter} is {group.text} in the question"
        return Feedback.error(attempt, step.label, f"{letter} = {m['expr']}", reason)
    return _check_ops(attempt, step, full, m["ops"], letter)


def _check_ops_final(plan: Plan, attempt: Attempt, step: Step) -> Feedback | None:
    n = len(plan.groups)
    m = _OPS_FINAL_RE.match(step.text)
    if m is None:
        if _OPS_CALC_RE.match(step.text):
            reason = f"the question has only {n} groups, A to {plan.letters[-1]}"
        else:
            reason = (
                "it does not follow the format: <pattern> = <pattern with values>: <operations>"
            )
        return Feedback.error(attempt, step.label, first_line(step.text), reason)
    if not same_expr(m["pat"], plan.pattern):
        reason = f"the equation was written as {render(plan.pattern)} in step (1)"
        return Feedback.error(attempt, step.label, m["pat"], reason)
    exprs = [m["pat"], m["sub"]]
    fb = _check_substitution(plan, attempt, step, exprs, "")
    if fb is not None:
        return fb
    sub = substitute(plan.pattern, plan.values)
    if not same_expr(m["sub"], sub):
        reason = (
            f"the final equation with the values of step (2) to step ({n + 1}) is {render(sub)}"
        )
        return Feedback.error(attempt, step.label, _span(exprs, 0, 1, ""), reason)
    return _check_ops(attempt, step, sub, m["ops"], "the final equation")


def first_error(plan: Plan, attempt: Attempt, style: str = "paper") -> Feedback | None:
    """The first wrong step of a rationale in the paper's style, the ``compact`` one or the
    ``ops``, ``split`` and ``digits`` ones (one checker: an operation may be a chain)."""
    compact, ops = style == "compact", style in OPS_STYLES
    n = len(plan.groups)
    numbered = [s for s in attempt.steps if s.label != FINAL]
    finals = [s for s in attempt.steps if s.label == FINAL]
    for i, step in enumerate(numbered):
        if step.label != str(i + 1):
            return _numbering_error(attempt, numbered, i)
        if i == 0 and (compact or ops):
            fb = _check_compact_decomposition(plan, attempt, step)
        elif i == 0:
            fb = _check_decomposition(plan, attempt, step)
        elif i <= n and ops:
            fb = _check_ops_calc(plan, attempt, step, i - 1)
        elif i <= n:
            fb = _check_calc(plan, attempt, step, i - 1, compact)
        elif i == n + 1 and ops:
            fb = _check_ops_final(plan, attempt, step)
        elif i == n + 1:
            fb = _check_final_equation(plan, attempt, step, compact)
        else:
            reason = f"the final equation was already calculated in step ({n + 2})"
            fb = Feedback.error(attempt, step.label, first_line(step.text), reason)
        if fb is not None:
            return fb
    if not finals:
        last = attempt.steps[-1]
        return Feedback.error(
            attempt, last.label, first_line(last.text), "there is no final response"
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
        return Feedback.error(attempt, FINAL, first_line(finals[0].text), reason)
    return _check_final_response(plan, attempt, finals[0])
