"""Random logical deduction scenes and the slips a small model makes in a deduction."""

from __future__ import annotations

import random

from tripost.tasks.logical_deduction.model import (
    PAPER,
    Domain,
    Pattern,
    Place,
    Read,
    Scene,
    StepStyle,
    Translate,
    all_orders,
    parse_sentence,
    satisfying,
    statement_pattern,
)
from tripost.trajectory import FINAL, Attempt, Step

# --- error injection -------------------------------------------------------------------------


def _misread(s: Scene, form: Translate, rng: random.Random, style: StepStyle) -> str | None:
    """The statement's ordering with the two objects swapped, or the position counted from the
    wrong end or one off."""
    i, pat = form.index, s.patterns[form.index]
    if len(pat.names) == 2:
        a, b = pat.names
        return style.translate(s, i, Pattern(("??", b, "??", a, "??")))
    name, p = pat.names[0], pat.facts(s.n)[pat.names[0]]
    from_last = pat.tokens[0] == "??"
    k = s.n + 1 - p if from_last else p
    wrong = [(k, not from_last), (k - 1, from_last), (k + 1, from_last)]
    wrong = [(j, end) for j, end in wrong if 1 <= j <= s.n and (s.n + 1 - j if end else j) != p]
    if not wrong:
        return None
    j, end = rng.choice(wrong)
    return style.translate(s, i, statement_pattern(s.domain, j, end, name))


def _swap(s: Scene, form: Place, rng: random.Random, style: StepStyle) -> str:
    """The placement with one newly placed object swapped with another position."""
    name = rng.choice([n for n, _, _ in form.places])
    p = form.facts[name]
    q = rng.choice([x for x in range(1, s.n + 1) if x != p])
    facts = dict(form.facts)
    other = next((o for o, x in facts.items() if x == q), None)
    facts[name] = q
    if other:
        facts[other] = p
    new = {n: facts[n] for n, _, _ in form.places}
    return style.place(s, form.refs, new, facts)


def _other_option(s: Scene, final: str, rng: random.Random, style: StepStyle) -> str | None:
    """The final response choosing another option, named as the style names options (its
    letter, or its object); the words before ``So the answer is`` kept."""
    form = style.answer(s, final)
    if isinstance(form, str):
        return None
    letters = [s.letter(i) for i in range(len(s.options))]
    wrong = rng.choice([x for x in letters if x != form.letter])
    return f"{final[: final.rindex(form.so)]}So the answer is {style.option(s, wrong)}."


#: how often each slip is injected; ``answer``: the final response chooses another option
_WEIGHTS = {"misread": 3, "swap": 4, "lookup": 1, "answer": 2}


def inject(
    s: Scene, attempt: Attempt, rng: random.Random, style: StepStyle = PAPER
) -> tuple[Attempt, str] | None:
    """One slip (see :meth:`LogicalDeduction.inject_error`) in an attempt written in ``style``,
    rendered in that style; the attempt and the label of the wrong step."""
    numbered = [st for st in attempt.steps if st.label != FINAL]
    forms = dict(zip([st.label for st in numbered], style.parse(s, numbered), strict=True))
    kinds: dict[str, list[str]] = {"answer": [FINAL]}
    for label, form in forms.items():
        kind = {Translate: "misread", Place: "swap", Read: "lookup"}.get(type(form))
        if isinstance(form, Place) and not form.places:
            kind = None  # a placement that places nothing new has no object to swap
        if kind:
            kinds.setdefault(kind, []).append(label)
    kind = rng.choices(sorted(kinds), [_WEIGHTS[k] for k in sorted(kinds)])[0]
    label = rng.choice(kinds[kind])
    form = forms.get(label)
    text: str | None
    if isinstance(form, Translate):
        text = _misread(s, form, rng, style)
    elif isinstance(form, Place):
        text = _swap(s, form, rng, style)
    elif isinstance(form, Read):
        other = rng.choice([o for o in s.objects if o != form.name])
        text = style.read(s, form.ref, form.phrase, form.position, other)  # type: ignore[arg-type]
    else:
        text = _other_option(s, attempt.final.strip(), rng, style)
    if text is None:
        return None
    i = attempt.index(label)
    steps = list(attempt.steps)
    steps[i] = Step(label, text)
    return Attempt(tuple(steps)), label


def position_predicate(d: Domain, p: int, n: int) -> str:
    """Counted from the nearer end, as BIG-Bench Hard does: ``is the second from the right``."""
    return d.absolute(p, False) if p <= n + 1 - p else d.absolute(n + 1 - p, True)


def unique_statements(
    d: Domain, objects: tuple[str, ...], truth: dict[str, int], rng: random.Random
) -> tuple[str, ...]:
    """Random true statements added until one order remains, then those not needed dropped
    (BIG-Bench Hard uses about N - 1 statements)."""
    n, index = len(objects), {o: i for i, o in enumerate(objects)}
    left = all_orders(n)
    chosen: dict[str, Pattern] = {}
    while len(left) > 1:
        sentence = _random_statement(d, truth, rng)
        pat = parse_sentence(d, objects, sentence)
        narrowed = left[pat.holds_rows(left, index, n)]  # type: ignore[union-attr]
        if sentence not in chosen and len(narrowed) < len(left):
            chosen[sentence] = pat  # type: ignore[assignment]
            left = narrowed
    for sentence in rng.sample(sorted(chosen), len(chosen)):
        if len(satisfying(objects, [p for t, p in chosen.items() if t != sentence])) == 1:
            del chosen[sentence]
    return tuple(chosen)


def _random_statement(d: Domain, truth: dict[str, int], rng: random.Random) -> str:
    n = len(truth)
    a, b = rng.sample(sorted(truth), 2)
    if rng.random() < 0.25:
        return f"{d.subject(a)} {position_predicate(d, truth[a], n)}"
    if truth[a] > truth[b]:
        a, b = b, a
    if rng.random() < 0.5:
        return f"{d.subject(a)} {d.before} {d.mention(b)}"
    return f"{d.subject(b)} {d.after} {d.mention(a)}"
