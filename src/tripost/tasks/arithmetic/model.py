"""Expressions of the multistep arithmetic task: tokenizer, precedence-aware parser, evaluator,
the one-operation-per-``=`` reduction the gold rationales write, and the question reader.

An expression parses into a binary tree whose leaves are integers or group letters. Rendering
a tree parenthesises every operation, which is exactly the official "fully parenthesised" form::

    >>> tree = parse_expr("(-7 + 7 * 3 * -9)")
    >>> render(tree)
    '(-7 + ((7 * 3) * -9))'
    >>> [render(t) for t in reductions(tree)]
    ['(-7 + (21 * -9))', '(-7 + -189)', '-196']

A question is a binary tree of *groups* (flat parenthesised sequences of integers)::

    >>> q = parse_question("((7 - -1 + -1 + -4) - (-7 + 7 * 3 * -9)) =")
    >>> render(pattern(q)), [g.text for g in groups(q)]
    ('(A - B)', ['(7 - -1 + -1 + -4)', '(-7 + 7 * 3 * -9)'])

A question taken apart is a :class:`Plan` (its pattern of letters, groups and their values),
from which :func:`solve_plan` writes the gold rationale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import ascii_uppercase

from tripost.trajectory import FINAL, Attempt, Step

OPS = ("+", "-", "*")
LETTERS = ascii_uppercase


class ExprError(ValueError):
    """Text that is not a well-formed arithmetic expression."""


@dataclass(frozen=True)
class Node:
    """One binary operation ``(left op right)``."""

    op: str
    left: Tree
    right: Tree


@dataclass(frozen=True)
class Group:
    """A flat group of the question, e.g. ``(7 - -1 + -1 + -4)``: numbers and operators."""

    tokens: tuple[str, ...]

    @property
    def text(self) -> str:
        return "(" + " ".join(self.tokens) + ")"

    @property
    def length(self) -> int:
        return (len(self.tokens) + 1) // 2


Tree = int | str | Node | Group
_TOKEN_RE = re.compile(r"\d+|[A-Z]|[-+*()]")
_NEG_RE = re.compile(r"-\d+")


def tokenize(text: str) -> list[str]:
    """``"(7 - -1)"`` -> ``["(", "7", "-", "-1", ")"]``. A ``-`` glued to a digit is a sign when
    it follows an operator, ``(`` or the start; otherwise it is the binary minus."""
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise ExprError(f"unexpected character {text[pos]!r}")
        tok = m.group()
        if tok == "-" and (not tokens or tokens[-1] in ("+", "-", "*", "(")):
            neg = _NEG_RE.match(text, pos)
            if neg:
                m, tok = neg, neg.group()
        tokens.append(tok)
        pos = m.end()
    return tokens


def parse_expr(text: str) -> Tree:
    """Parse with precedence (``*`` before ``+ -``, left to right) into a binary tree."""
    tokens = tokenize(text)
    tree, i = _parse_sum(tokens, 0)
    if i != len(tokens):
        raise ExprError(f"unexpected {tokens[i]!r}")
    return tree


def _parse_sum(tokens: list[str], i: int) -> tuple[Tree, int]:
    left, i = _parse_product(tokens, i)
    while i < len(tokens) and tokens[i] in ("+", "-"):
        op = tokens[i]
        right, i = _parse_product(tokens, i + 1)
        left = Node(op, left, right)
    return left, i


def _parse_product(tokens: list[str], i: int) -> tuple[Tree, int]:
    left, i = _parse_atom(tokens, i)
    while i < len(tokens) and tokens[i] == "*":
        right, i = _parse_atom(tokens, i + 1)
        left = Node("*", left, right)
    return left, i


def _parse_atom(tokens: list[str], i: int) -> tuple[Tree, int]:
    if i >= len(tokens):
        raise ExprError("unexpected end of expression")
    tok = tokens[i]
    if tok == "(":
        tree, i = _parse_sum(tokens, i + 1)
        if i >= len(tokens) or tokens[i] != ")":
            raise ExprError("missing closing parenthesis")
        return tree, i + 1
    if tok in LETTERS and len(tok) == 1:
        return tok, i + 1
    if tok.lstrip("-").isdigit():
        return int(tok), i + 1
    raise ExprError(f"unexpected {tok!r}")


def render(tree: Tree) -> str:
    """Every operation in parentheses: ``(((7 - -1) + -1) + -4)``; groups as written."""
    if isinstance(tree, Node):
        return f"({render(tree.left)} {tree.op} {render(tree.right)})"
    if isinstance(tree, Group):
        return tree.text
    return str(tree)


def render_flat(tree: Tree) -> str:
    """The fewest parentheses that keep the value (``*`` binds first, left to right):
    ``(((7 - -1) + -1) + (4 * -4))`` -> ``7 - -1 + -1 + 4 * -4``."""

    def walk(t: Tree, prec: int, right: bool) -> str:
        if isinstance(t, Group):
            return t.text
        if not isinstance(t, Node):
            return str(t)
        mine = 2 if t.op == "*" else 1
        text = f"{walk(t.left, mine, False)} {t.op} {walk(t.right, mine, True)}"
        # a right operand of the same precedence needs brackets unless both are products
        wrap = mine < prec or (right and mine == prec and not (mine == 2 and t.op == "*"))
        return f"({text})" if wrap else text

    return walk(tree, 0, False)


def evaluate(tree: Tree, env: dict[str, int] | None = None) -> int:
    """The value of a tree; letters are looked up in ``env``."""
    if isinstance(tree, int):
        return tree
    if isinstance(tree, str):
        if env is None or tree not in env:
            raise ExprError(f"{tree} has no value")
        return env[tree]
    if isinstance(tree, Group):
        return evaluate(parse_expr(tree.text))
    a, b = evaluate(tree.left, env), evaluate(tree.right, env)
    return a + b if tree.op == "+" else a - b if tree.op == "-" else a * b


def reduction_order(tree: Tree) -> list[tuple[int, ...]]:
    """Paths (0 = left, 1 = right) of the operations in the order the gold rationale reduces
    them: by height in the original tree (operations on two numbers first), left to right
    among equals. So ``((((6 - -4) + -9) + (6 * 7))`` reduces ``(6 - -4)``, then ``(6 * 7)``,
    then ``(10 + -9)``; paths stay valid while the operations below them are reduced."""
    found: list[tuple[int, tuple[int, ...]]] = []

    def walk(t: Tree, path: tuple[int, ...]) -> int:
        if not isinstance(t, Node):
            return 0
        h = 1 + max(walk(t.left, (*path, 0)), walk(t.right, (*path, 1)))
        found.append((h, path))
        return h

    walk(tree, ())
    return [path for _, path in sorted(found)]


def subtree(tree: Tree, path: tuple[int, ...]) -> Tree:
    for d in path:
        assert isinstance(tree, Node)
        tree = tree.left if d == 0 else tree.right
    return tree


def replace(tree: Tree, path: tuple[int, ...], new: Tree) -> Tree:
    """A copy of ``tree`` with the subtree at ``path`` replaced by ``new``."""
    if not path:
        return new
    assert isinstance(tree, Node)
    if path[0] == 0:
        return Node(tree.op, replace(tree.left, path[1:], new), tree.right)
    return Node(tree.op, tree.left, replace(tree.right, path[1:], new))


def reduce_step(tree: Tree, path: tuple[int, ...], value: int | None = None) -> Tree:
    """One official reduction: the operation at ``path`` and every identical copy of it become
    ``value`` (its true value by default). The official generator rewrote text, so twins such
    as the two ``(2 * 1)`` of ``(((2 * 1) + -4) - ((2 * 1) * -9))`` go at once and the twin's
    own turn repeats the expression unchanged; we reproduce that."""
    node = subtree(tree, path)
    if not isinstance(node, Node):
        return tree
    return _replace_all(tree, node, evaluate(node) if value is None else value)


def _replace_all(tree: Tree, old: Node, new: int) -> Tree:
    if tree == old:
        return new
    if isinstance(tree, Node):
        return Node(tree.op, _replace_all(tree.left, old, new), _replace_all(tree.right, old, new))
    return tree


def reductions(tree: Tree) -> list[Tree]:
    """The trees after each single reduction, ending in the value (empty for a number)."""
    out: list[Tree] = []
    for path in reduction_order(tree):
        tree = reduce_step(tree, path)
        out.append(tree)
    return out


def chain_error(
    exprs: list[str], env: dict[str, int] | None = None, name: str = "it"
) -> tuple[int, int, str] | None:
    """The first fault of a chain ``e0 = e1 = ... = en``, judged by value, as ``(i, j, reason)``
    where elements i..j show it: an element that does not parse (with its neighbours), a link
    whose sides differ in value, or a last element that is not a number. None when right.

    >>> chain_error(["(7 - -1 + -1 + -4)", "(8 + -1 + -4)", "(7 + -4)", "3"]) is None
    True
    >>> chain_error(["((8 + -1) + -4)", "(6 + -4)", "2"])
    (0, 1, '((8 + -1) + -4) is not equal to (6 + -4)')
    """
    last = len(exprs) - 1
    trees, values = [], []
    for i, e in enumerate(exprs):
        try:
            trees.append(parse_expr(e))
            values.append(evaluate(trees[-1], env))
        except ExprError:
            return max(i - 1, 0), min(i + 1, last), f"{e.strip()} is not a valid expression"
    for i in range(last):
        if values[i] != values[i + 1]:
            return i, i + 1, f"{exprs[i]} is not equal to {exprs[i + 1]}"
    if not isinstance(trees[-1], int):
        return max(last - 1, 0), last, f"the calculation of {name} is not finished"
    return None


def same_expr(text: str, tree: Tree) -> bool:
    """Whether ``text`` is the expression ``tree`` (extra parentheses allowed)."""
    try:
        return parse_expr(text) == tree
    except ExprError:
        return False


def substitute(tree: Tree, env: dict[str, int]) -> Tree:
    """Letters replaced by their values."""
    if isinstance(tree, str):
        return env[tree]
    if isinstance(tree, Node):
        return Node(tree.op, substitute(tree.left, env), substitute(tree.right, env))
    return tree


# --- questions: binary trees of groups ---------------------------------------------------------


def parse_question(text: str) -> Node | None:
    """``"((-1 + 2 + 9 * 5) - (-2 + -4 + -4 * -7)) ="`` -> a Node whose leaves are Groups;
    None for anything else (a bare group, a non-binary join, letters, no ``=``, >26 groups)."""
    text = text.strip()
    if text.startswith("Q: "):
        text = text[3:].strip()
    if not text.endswith("="):
        return None
    try:
        tokens = tokenize(text[:-1])
        tree, i = _parse_item(tokens, 0)
    except ExprError:
        return None
    if i != len(tokens) or not isinstance(tree, Node) or len(groups(tree)) > len(LETTERS):
        return None
    return tree


def _parse_item(tokens: list[str], i: int) -> tuple[Tree, int]:
    if i >= len(tokens):
        raise ExprError("unexpected end")
    if tokens[i] != "(":
        if not tokens[i].lstrip("-").isdigit():
            raise ExprError(f"unexpected {tokens[i]!r}")
        return int(tokens[i]), i + 1
    items, ops = [], []
    item, i = _parse_item(tokens, i + 1)
    items.append(item)
    while i < len(tokens) and tokens[i] in OPS:
        ops.append(tokens[i])
        item, i = _parse_item(tokens, i + 1)
        items.append(item)
    if i >= len(tokens) or tokens[i] != ")":
        raise ExprError("missing closing parenthesis")
    if len(items) >= 2 and all(isinstance(x, int) for x in items):
        written = [str(items[0])] + [
            t for op, x in zip(ops, items[1:], strict=True) for t in (op, str(x))
        ]
        return Group(tuple(written)), i + 1
    if len(items) == 2 and not any(isinstance(x, int) for x in items):
        return Node(ops[0], items[0], items[1]), i + 1
    raise ExprError("not a binary tree of groups")


def groups(tree: Tree) -> list[Group]:
    """The groups from left to right."""
    if isinstance(tree, Group):
        return [tree]
    if isinstance(tree, Node):
        return groups(tree.left) + groups(tree.right)
    return []


def pattern(tree: Tree) -> Tree:
    """The tree with its groups named A, B, C, ... from left to right: ``((A + B) - (C + D))``."""
    names = iter(LETTERS)

    def walk(t: Tree) -> Tree:
        if isinstance(t, Group):
            return next(names)
        if isinstance(t, Node):
            return Node(t.op, walk(t.left), walk(t.right))
        return t

    return walk(tree)


def depth(tree: Tree) -> int:
    """Levels of joins above the groups (1 for ``(A - B)``); -1 when leaves lie at unequal depths."""
    if not isinstance(tree, Node):
        return 0
    a, b = depth(tree.left), depth(tree.right)
    return a + 1 if a == b and a >= 0 else -1


ANSWER_RE = re.compile(r"the answer is (-?\d+)(\.?)")


@dataclass(frozen=True)
class Plan:
    """A question taken apart: its pattern of letters, groups and their values."""

    pattern: Tree
    groups: list[Group]
    letters: list[str]
    values: dict[str, int]
    answer: int

    @classmethod
    def of(cls, tree: Node) -> Plan:
        gs = groups(tree)
        letters = list(LETTERS[: len(gs)])
        values = {x: evaluate(g) for x, g in zip(letters, gs, strict=True)}
        return cls(pattern(tree), gs, letters, values, evaluate(tree))


def plan_of(question: str) -> Plan | None:
    tree = parse_question(question)
    return None if tree is None else Plan.of(tree)


# --- the gold rationale ------------------------------------------------------------------------


def group_trees(group: Group) -> list[Tree]:
    """The fully parenthesised group, then one tree per reduction."""
    full = parse_expr(group.text)
    return [full, *reductions(full)]


def calc_exprs(group: Group, trees: list[Tree], compact: bool = False) -> list[str]:
    """The chain of a group's calculation: the group as written, (paper style) the group fully
    parenthesised, then one expression per reduction. The compact style writes each reduction
    with the fewest parentheses and skips the parenthesised copy."""
    if compact:
        return [group.text] + [render_flat(t) for t in trees[1:]]
    texts = [group.text] + [render(t) for t in trees]
    return texts[:1] + texts[2:] if texts[1] == texts[0] else texts  # length-2 group: no repeat


def final_exprs(plan: Plan, values: dict[str, int], trees: list[Tree] | None = None) -> list[str]:
    if trees is None:
        sub = substitute(plan.pattern, values)
        trees = [sub, *reductions(sub)]
    return [render(plan.pattern)] + [render(t) for t in trees]


def _decomposition_text(plan: Plan) -> str:
    defs = [f"{x} = {g.text}" for x, g in zip(plan.letters, plan.groups, strict=True)]
    joined = ", ".join(defs[:-1]) + " and " + defs[-1]
    return f'This equation can be written as "{render(plan.pattern)}", where {joined}.'


def render_attempt(
    plan: Plan, calc: list[list[str]], final_eq: list[str], answer: int, compact: bool = False
) -> Attempt:
    """The rationale in the paper's words, or compact: the same steps and chains without the
    sentences around them (``(1) (A - B)``, ``(2) A = ... = 3.``, ``(4) (A - B) = ... = 199.``)."""
    n = len(plan.groups)
    if compact:
        steps = [Step("1", render(plan.pattern))]
        steps += [
            Step(str(i + 2), f"{x} = {' = '.join(c)}.")
            for i, (x, c) in enumerate(zip(plan.letters, calc, strict=True))
        ]
        steps.append(Step(str(n + 2), f"{' = '.join(final_eq)}."))
        steps.append(Step(FINAL, f"So the answer is {answer}."))
        return Attempt(tuple(steps))
    steps = [Step("1", _decomposition_text(plan))]
    steps += [
        Step(str(i + 2), f"Let's calculate {x} = {' = '.join(c)}.")
        for i, (x, c) in enumerate(zip(plan.letters, calc, strict=True))
    ]
    steps.append(Step(str(n + 2), f"Then, the final equation is {' = '.join(final_eq)}."))
    steps.append(Step(FINAL, f"So the answer is {answer}."))
    return Attempt(tuple(steps))


def _tens_units(x: int) -> tuple[int, int]:
    """``-127`` -> ``(-120, -7)``: the number without its units digit, and that digit (signed)."""
    units = abs(x) % 10 * (1 if x >= 0 else -1)
    return x - units, units


def split_op(a: int, op: str, b: int, result: int | None = None) -> str:
    """One operation in the ``split`` style: an operation on a multi-digit number is written
    as a chain on its tens and units (``result``, the true value by default, ends the chain).
    A sum's links are a spread, one-digit facts on the tens and on the units, and a round number
    plus a small one; a product distributes over the multi-digit operand's tens and units (two
    multi-digit operands still make multi-digit products, ``63 * -10 + 63 * -2``)::

        >>> split_op(56, "+", 8), split_op(4, "-", 38), split_op(27, "-", 38)
        ('56 + 8 = 50 + 6 + 8 = 50 + 14 = 64', '4 - 38 = -30 + 4 - 8 = -30 + -4 = -34', '27 - 38 = 20 - 30 + 7 - 8 = -10 + -1 = -11')
        >>> split_op(7, "*", 38), split_op(7, "*", 3), split_op(30, "+", 5)
        ('7 * 38 = 7 * 30 + 7 * 8 = 210 + 56 = 266', '7 * 3 = 21', '30 + 5 = 35')

    Each expression of the chain has the operation's value when read with ``*`` first and
    left to right, so the checker judges it link by link like any other chain."""
    value = evaluate(Node(op, a, b))
    result = value if result is None else result
    head, tail = f"{a} {op} {b}", str(result)
    if a == 0 or b == 0:
        return f"{head} = {tail}"
    (ta, ua), (tb, ub) = _tens_units(a), _tens_units(b)
    if op == "*":
        if abs(b) >= 10 and ub != 0:  # distribute over the right operand's tens and units
            parts = (f"{a} * {tb} + {a} * {ub}", a * tb, a * ub)
        elif abs(a) >= 10 and ua != 0 and abs(b) < 10:
            parts = (f"{ta} * {b} + {ua} * {b}", ta * b, ua * b)
        else:
            return f"{head} = {tail}"
        return f"{head} = {parts[0]} = {parts[1]} + {parts[2]} = {tail}"
    if (abs(a) < 10 and abs(b) < 10) or (ua == 0 and ub == 0):
        return f"{head} = {tail}"
    if abs(b) < 10:  # 56 + 8 = 50 + 6 + 8
        if ua == 0:
            return f"{head} = {tail}"
        tens, spread = ta, f"{ta} + {ua} {op} {b}"
        units = evaluate(Node(op, ua, b))
    elif abs(a) < 10:  # 4 - 38 = -30 + 4 - 8
        if ub == 0:
            return f"{head} = {tail}"
        tens = tb if op == "+" else -tb
        spread, units = f"{tens} + {a} {op} {ub}", evaluate(Node(op, a, ub))
    else:  # 27 - 38 = 20 - 30 + 7 - 8; a zero units digit is left out: 50 - 46 = 50 - 40 - 6
        tens, units = evaluate(Node(op, ta, tb)), evaluate(Node(op, ua, ub))
        if ua == 0:
            spread = f"{ta} {op} {tb} {op} {ub}"
        elif ub == 0:
            spread = f"{ta} {op} {tb} + {ua}"
        else:
            spread = f"{ta} {op} {tb} + {ua} {op} {ub}"
    return f"{head} = {spread} = {tens} + {units} = {tail}"


def _places(x: int) -> list[int]:
    """``-2807`` -> ``[-2000, -800, -7]``: the nonzero digits of ``x`` in their places, highest
    first, each with the sign of ``x``."""
    sign, digits = (-1 if x < 0 else 1), str(abs(x))
    n = len(digits)
    return [sign * int(d) * 10 ** (n - 1 - i) for i, d in enumerate(digits) if d != "0"]


def _merges(terms: list[int]) -> list[str]:
    """The links that add ``terms`` up left to right, one pair at a time: ``[1600, 320, 32]``
    -> ``["1920 + 32", "1952"]``."""
    out = []
    while len(terms) > 1:
        terms = [terms[0] + terms[1], *terms[2:]]
        out.append(" + ".join(map(str, terms)))
    return out


def digits_op(a: int, op: str, b: int, result: int | None = None) -> str:
    """One operation in the ``digits`` style: a chain whose every link does one thing, a
    one-digit fact (zeros appended) or the sum of two numbers. A product is spread over the
    digits of its operands in their places (``20 * 80 + 20 * 8 + ...``), a sum or difference
    over the places of its operands, whose digits are then combined one place per link, highest
    first; the places' values are added up left to right::

        >>> digits_op(43, "+", -65), digits_op(56, "+", 8)
        ('43 + -65 = 40 + -60 + 3 + -5 = -20 + 3 + -5 = -20 + -2 = -22', '56 + 8 = 50 + 6 + 8 = 50 + 14 = 64')
        >>> digits_op(24, "*", 88)
        '24 * 88 = 20 * 80 + 20 * 8 + 4 * 80 + 4 * 8 = 1600 + 160 + 320 + 32 = 1760 + 320 + 32 = 2080 + 32 = 2112'
        >>> digits_op(2880, "-", 663)
        '2880 - 663 = 2000 + 800 - 600 + 80 - 60 + -3 = 2000 + 200 + 80 - 60 + -3 = 2000 + 200 + 20 + -3 = 2200 + 20 + -3 = 2220 + -3 = 2217'

    Operands on one place, or with no place in common, are added in one link (``-6 + 7 = 1``,
    ``30 + 50 = 80``, ``280 + 7 = 287``), and a product of two one-digit numbers is one link too
    (``-30 * -90 = 2700``). ``result`` (the true value by default) ends the chain; each
    expression of it has the operation's value when read with ``*`` first and left to right."""
    value = evaluate(Node(op, a, b))
    result = value if result is None else result
    head, tail = f"{a} {op} {b}", str(result)
    pa, pb = _places(a), _places(b)
    if op == "*":
        if len(pa) * len(pb) <= 1:  # a one-digit fact with zeros, or a zero
            return f"{head} = {tail}"
        spread = " + ".join(f"{x} * {y}" for x in pa for y in pb)
        terms = [x * y for x in pa for y in pb]
        listed = " + ".join(map(str, terms))
        return " = ".join([head, spread, listed, *_merges(terms)[:-1], tail])
    by_place: dict[int, tuple[int | None, int | None]] = {}
    for x in pa:
        by_place[len(str(abs(x)))] = (x, None)
    for y in pb:
        by_place[len(str(abs(y)))] = (by_place.get(len(str(abs(y))), (None, None))[0], y)
    places = [by_place[k] for k in sorted(by_place, reverse=True)]
    if len(places) == 1 or all(x is None or y is None for x, y in places):
        return f"{head} = {tail}"  # one fact on one place, or nothing to combine in a place

    def part(x: int | None, y: int | None) -> str:
        if x is not None and y is not None:
            return f"{x} {op} {y}"
        return str(x if x is not None else y if op == "+" else -y)  # type: ignore[operator]

    terms = [evaluate(Node(op, x or 0, y or 0)) for x, y in places]
    links = [" + ".join(part(x, y) for x, y in places)]
    for i, (x, y) in enumerate(places):
        if x is not None and y is not None:  # this place's digits combined
            done = [str(t) for t in terms[: i + 1]]
            links.append(" + ".join(done + [part(*p) for p in places[i + 1 :]]))
    return " = ".join([head, *links, *_merges(terms)[:-1], tail])


CHAINS = {"ops": lambda a, op, b, r: f"{a} {op} {b} = {r}", "split": split_op, "digits": digits_op}
OPS_STYLES = tuple(CHAINS)  # the styles of one operation per equation


def op_exprs(start: Tree, trees: list[Tree], style: str = "ops") -> list[str]:
    """One ``a op b = c`` per reduction of ``start`` (``trees`` are the trees after each
    reduction), e.g. ``["7 * 3 = 21", "21 * -9 = -189"]`` (the ``ops`` style); the ``split``
    and ``digits`` styles write an operation on a multi-digit number as a chain
    (:func:`split_op`, :func:`digits_op`)."""
    out, before = [], start
    for path, after in zip(reduction_order(start), trees, strict=True):
        node = subtree(before, path)
        if isinstance(node, Node):  # not a twin reduced with an earlier copy of itself
            a, b, result = node.left, node.right, subtree(after, path)
            assert isinstance(a, int) and isinstance(b, int) and isinstance(result, int)
            out.append(CHAINS[style](a, node.op, b, result))
        before = after
    return out


def ops_order(tree: Tree) -> list[tuple[int, ...]]:
    """The reduction order of ``tree`` without the turns of twins (see ``reduce_step``)."""
    out = []
    for path in reduction_order(tree):
        if isinstance(subtree(tree, path), Node):
            out.append(path)
            tree = reduce_step(tree, path)
    return out


def render_ops_attempt(
    plan: Plan,
    calc: list[list[str]],
    final_ops: list[str],
    answer: int,
    values: dict[str, int] | None = None,
) -> Attempt:
    """The ``ops`` style: each calculation names its expression, then one operation per
    equation, so the numbers of an operation sit right before its result::

        (1) (A - B)
        (2) A = (7 - -1 + -1 + -4): 7 - -1 = 8, 8 + -1 = 7, 7 + -4 = 3.
        (3) B = (-7 + 7 * 3 * -9): 7 * 3 = 21, 21 * -9 = -189, -7 + -189 = -196.
        (4) (A - B) = (3 - -196): 3 - -196 = 199.
        (Final response) So the answer is 199.
    """
    n = len(plan.groups)
    steps = [Step("1", render(plan.pattern))]
    steps += [
        Step(str(i + 2), f"{x} = {g.text}: {', '.join(c)}.")
        for i, (x, g, c) in enumerate(zip(plan.letters, plan.groups, calc, strict=True))
    ]
    sub = render(substitute(plan.pattern, plan.values if values is None else values))
    steps.append(Step(str(n + 2), f"{render(plan.pattern)} = {sub}: {', '.join(final_ops)}."))
    steps.append(Step(FINAL, f"So the answer is {answer}."))
    return Attempt(tuple(steps))


def solve_ops(plan: Plan, style: str = "ops") -> Attempt:
    calc = []
    for g in plan.groups:
        full = parse_expr(g.text)
        calc.append(op_exprs(full, reductions(full), style))
    sub = substitute(plan.pattern, plan.values)
    ops = op_exprs(sub, reductions(sub), style)
    return render_ops_attempt(plan, calc, ops, plan.answer)


def solve_plan(plan: Plan, compact: bool = False) -> Attempt:
    calc = [calc_exprs(g, group_trees(g), compact) for g in plan.groups]
    return render_attempt(plan, calc, final_exprs(plan, plan.values), plan.answer, compact)
