"""Random multistep arithmetic questions and the slips a small model makes in a rationale."""

from __future__ import annotations

import random

from tripost.tasks.arithmetic.model import (
    OPS,
    Group,
    Node,
    Plan,
    Tree,
    calc_exprs,
    evaluate,
    final_exprs,
    group_trees,
    op_exprs,
    parse_expr,
    reduce_step,
    reduction_order,
    reductions,
    render_attempt,
    render_ops_attempt,
    replace,
    solve_ops,
    solve_plan,
    substitute,
    subtree,
)
from tripost.trajectory import FINAL, Attempt, Step

# --- slips: the arithmetic errors of a small model -----------------------------------------------


def slip(value: int, node: Node | None, rng: random.Random) -> int:
    """A wrong value a small model might write for ``value`` (the result of ``node``, if
    given): off by 1, 2 or 10, the wrong sign, a times-table slip, the other operator."""
    cands = {value + d for d in (-10, -2, -1, 1, 2, 10)} | {-value}
    if isinstance(node, Node) and isinstance(node.left, int) and isinstance(node.right, int):
        a, b = node.left, node.right
        if node.op == "*":  # 7 * 8 taken as 7 * 9 or 6 * 8
            cands |= {value + a, value - a, value + b, value - b}
        else:
            cands.add(a - b if node.op == "+" else a + b)
    cands.discard(value)
    return rng.choice(sorted(cands))


def slipped_reductions(start: Tree, j: int, rng: random.Random) -> list[Tree] | None:
    """``[start, *reductions(start)]`` except that reduction j gives a wrong value (the rest
    continues from it); None when the slip does not change the value (e.g. ``(x * 0)``) or
    reduction j only repeats the expression."""
    order = reduction_order(start)
    trees = [start]
    for path in order[:j]:
        trees.append(reduce_step(trees[-1], path))
    node = subtree(trees[-1], order[j])
    if not isinstance(node, Node):
        return None
    bad = reduce_step(trees[-1], order[j], slip(evaluate(node), node, rng))
    if evaluate(bad) == evaluate(trees[-1]):
        return None
    trees.append(bad)
    for path in order[j + 1 :]:
        trees.append(reduce_step(trees[-1], path))
    return trees


def random_question(rng: random.Random, levels: int, length: int) -> Node | Group:
    """A BIG-Bench question tree: ``levels`` levels of joins over groups of ``length`` operands."""
    if levels == 0:
        nums = [str(rng.randint(-9, 9)) for _ in range(length)]
        ops = [rng.choice(OPS) for _ in range(length - 1)]
        return Group((nums[0], *(t for pair in zip(ops, nums[1:], strict=True) for t in pair)))
    left = random_question(rng, levels - 1, length)
    return Node(rng.choice(OPS), left, random_question(rng, levels - 1, length))


def change_an_operator(tree: Tree, rng: random.Random) -> Tree:
    """A copy of ``tree`` with one random operation given another operator."""
    path = rng.choice(reduction_order(tree))
    node = subtree(tree, path)
    assert isinstance(node, Node)
    return replace(
        tree, path, Node(rng.choice([o for o in OPS if o != node.op]), node.left, node.right)
    )


# --- error injection ---------------------------------------------------------------------------


def slip_in_a_chain(starts: list[Tree], rng: random.Random) -> tuple[int, list[Tree]] | None:
    """A slipped reduction of one of the ``starts`` (a product more often than not): the index
    of that start and its trees (``slipped_reductions``); None after 20 tries without one."""
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
            return k, trees
    return None


def inject_chain(
    plan: Plan, rng: random.Random, compact: bool = False
) -> tuple[Attempt, str] | None:
    """An arithmetic slip in a chain (a product more often than not)."""
    starts: list[Tree] = [parse_expr(g.text) for g in plan.groups]
    starts.append(substitute(plan.pattern, plan.values))
    picked = slip_in_a_chain(starts, rng)
    if picked is None:
        return None
    k, trees = picked
    n = len(plan.groups)
    calc = [calc_exprs(g, group_trees(g), compact) for g in plan.groups]
    values = dict(plan.values)
    if k < n:
        calc[k] = calc_exprs(plan.groups[k], trees, compact)
        values[plan.letters[k]] = evaluate(trees[-1])
        final_eq = final_exprs(plan, values)
    else:
        final_eq = final_exprs(plan, values, trees)
    answer = int(final_eq[-1])
    return render_attempt(plan, calc, final_eq, answer, compact), str(k + 2)


def inject_ops(
    plan: Plan, kind: str, rng: random.Random, style: str = "ops"
) -> tuple[Attempt, str] | None:
    """The ``ops`` style's slips, as in the other styles: ``"chain"`` a wrong result of one
    operation (a product more often than not), ``"substitution"`` a group's value miscopied
    into the final equation, ``"decomposition"`` a miscopied number or operator of the question
    (in the pattern of step (1), or in a group where its calculation names it). The operations
    after the slip follow from it. In the ``split`` and ``digits`` styles an operation's chain
    is right up to its last link, whose result is the slip."""
    n = len(plan.groups)
    starts: list[Tree] = [parse_expr(g.text) for g in plan.groups]
    calc = [op_exprs(t, reductions(t), style) for t in starts]
    values = dict(plan.values)
    if kind == "decomposition":
        wrong, k = wrong_decomposition(plan, rng)
        return solve_ops(wrong, style), "1" if k is None else str(k + 2)
    if kind == "substitution":
        letter = rng.choice(plan.letters)
        others = {v for x, v in plan.values.items() if x != letter and v != plan.values[letter]}
        if others and rng.random() < 0.3:
            values[letter] = rng.choice(sorted(others))
        else:
            values[letter] = slip(plan.values[letter], None, rng)
        sub = substitute(plan.pattern, values)
        final = op_exprs(sub, reductions(sub), style)
        answer = evaluate(sub)
        return render_ops_attempt(plan, calc, final, answer, values), str(n + 2)
    starts.append(substitute(plan.pattern, plan.values))
    picked = slip_in_a_chain(starts, rng)
    if picked is None:
        return None
    k, trees = picked
    if k < n:
        calc[k] = op_exprs(starts[k], trees[1:], style)
        values[plan.letters[k]] = evaluate(trees[-1])
        sub = substitute(plan.pattern, values)
        final, answer = op_exprs(sub, reductions(sub), style), evaluate(sub)
    else:
        final, answer = op_exprs(starts[k], trees[1:], style), evaluate(trees[-1])
    return render_ops_attempt(plan, calc, final, answer, values), str(k + 2)


def inject_substitution(
    plan: Plan, rng: random.Random, compact: bool = False
) -> tuple[Attempt, str]:
    """A group's value copied wrongly into the final equation (sometimes another group's)."""
    letter = rng.choice(plan.letters)
    others = {v for x, v in plan.values.items() if x != letter and v != plan.values[letter]}
    if others and rng.random() < 0.3:
        wrong = rng.choice(sorted(others))
    else:
        wrong = slip(plan.values[letter], None, rng)
    values = {**plan.values, letter: wrong}
    final_eq = final_exprs(plan, values)
    calc = [calc_exprs(g, group_trees(g), compact) for g in plan.groups]
    answer = int(final_eq[-1])
    return render_attempt(plan, calc, final_eq, answer, compact), str(len(plan.groups) + 2)


def wrong_decomposition(plan: Plan, rng: random.Random) -> tuple[Plan, int | None]:
    """The plan of a question read wrongly: an operator of the pattern changed (k None) or a
    number or operator of group k miscopied."""
    gs = list(plan.groups)
    if rng.random() < 0.2:  # an operator of the pattern
        wrong_pattern = change_an_operator(plan.pattern, rng)
        answer = evaluate(wrong_pattern, plan.values)
        return Plan(wrong_pattern, gs, plan.letters, plan.values, answer), None
    k = rng.randrange(len(gs))
    toks = list(gs[k].tokens)
    i = rng.randrange(len(toks))
    if toks[i] in OPS:
        toks[i] = rng.choice([o for o in OPS if o != toks[i]])
    else:
        toks[i] = str(rng.choice([v for v in range(-9, 10) if str(v) != toks[i]]))
    gs[k] = Group(tuple(toks))
    values = {x: evaluate(g) for x, g in zip(plan.letters, gs, strict=True)}
    return Plan(plan.pattern, gs, plan.letters, values, evaluate(plan.pattern, values)), k


def inject_decomposition(
    plan: Plan, rng: random.Random, compact: bool = False
) -> tuple[Attempt, str]:
    """A miscopied number or operator in step (1) (compact style: in the pattern of step (1), or
    in the group where its calculation copies it); the rest is computed from the wrong copy."""
    wrong, k = wrong_decomposition(plan, rng)
    return solve_plan(wrong, compact), "1" if k is None or not compact else str(k + 2)


def inject_answer(plan: Plan, gold: Attempt, rng: random.Random) -> tuple[Attempt, str]:
    """A final response that does not copy the final equation's result."""
    others = {v for v in plan.values.values() if v != plan.answer}
    wrong = rng.choice(sorted(others)) if others and rng.random() < 0.2 else None
    wrong = slip(plan.answer, None, rng) if wrong is None else wrong
    steps = (*gold.steps[:-1], Step(FINAL, f"So the answer is {wrong}."))
    return Attempt(steps), FINAL


INJECTIONS = ("chain", "chain", "substitution", "decomposition", "answer")
