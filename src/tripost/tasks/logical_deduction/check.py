"""Scripted feedback and improvement of logical deduction.

A statement's ordering must mean what the statement says; a placement is right iff every order
allowed by the steps it cites agrees with it. The improvement keeps the steps before the error
and continues the deduction from what they establish (from nothing, it is the gold rationale).
Both rationale styles go through the same code: a :class:`StepStyle` only writes the steps and
reads them into the same forms (:class:`Translate`, :class:`Place`, :class:`Read`, and
:class:`Answer` for the final response).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import numpy as np

from tripost.tasks.logical_deduction.model import (
    PAPER,
    Pattern,
    Place,
    Read,
    Scene,
    StepStyle,
    Translate,
    all_orders,
    arrangement,
    asked_phrase,
    join,
    phrase_positions,
    same_meaning,
    satisfying,
)
from tripost.trajectory import FINAL, Attempt, Feedback, Step

# --- scripted feedback -----------------------------------------------------------------------


@dataclass
class _Checked:
    """What the verified steps so far establish: each step's claim, and the object read off."""

    claims: dict[str, Pattern] = field(default_factory=dict)
    orderings: set[str] = field(default_factory=set)
    read: str | None = None
    read_step: str | None = None  # the label of the reading


def _entailment(
    s: Scene, premises: list[Pattern], name: str, p: int, refs: list[str]
) -> tuple[bool, str] | None:
    """None when every order the premises (steps ``refs``) allow has ``name`` in position
    ``p``; else (whether the placement is false, not merely unjustified, and the reason)."""
    where = set(satisfying(s.objects, premises)[:, s.objects.index(name)].tolist())
    who, cited, one = s.domain.mention(name), join([f"({r})" for r in refs]), len(refs) == 1
    if where == {p}:
        return None
    if not where:
        return True, f"{cited} {'is impossible' if one else 'contradict each other'}"
    if p not in where:
        if len(where) == 1:
            return (
                True,
                f"{cited} {'puts' if one else 'put'} {who} in position {where.pop()}, not {p}",
            )
        return True, f"{cited} {'rules' if one else 'rule'} out position {p} for {who}"
    other = min(where - {p})
    return False, f"{cited} {'does' if one else 'do'} not rule out position {other} for {who}"


def _check_place(s: Scene, step: Place, text: str, done: _Checked) -> tuple[str, str] | None:
    """(segment, reason) of the first unjustified placement. A false placement is named by its
    own words; a true one that the cited steps do not force by the text up to it, so that a
    rewrite with other references does not contain the segment."""
    for r in step.refs:
        if r not in done.claims:
            return f"({r})", f"step ({r}) is not an earlier statement or ordering"
    premises = [done.claims[r] for r in step.refs]
    for name, p, part in step.places:
        if bad := _entailment(s, premises, name, p, step.refs):
            return (part if bad[0] else text[: text.index(part) + len(part)]), bad[1]
        if step.facts.get(name) != p:
            return (
                step.arr_text,
                f"the ordering does not put {s.domain.mention(name)} in position {p}",
            )
    for name, p in sorted(step.facts.items(), key=lambda x: x[1]):
        if bad := _entailment(s, premises, name, p, step.refs):
            return (step.arr_text if bad[0] else text.rstrip(".")), bad[1]
    return None


def _check_read(s: Scene, step: Read, done: _Checked) -> tuple[str, str] | None:
    """The cited ordering, the position words (when the step has them), the position, then
    the object read."""
    if step.ref is None:
        return step.said, "no earlier step is an ordering to read"
    if step.ref not in done.orderings:
        return f"In ({step.ref})", f"step ({step.ref}) is not an earlier ordering"
    if step.phrase is not None:
        positions = phrase_positions(s.domain, s.n)
        if step.phrase not in positions:
            return step.phrase, f'"{step.phrase}" is not a position the options use'
        if positions[step.phrase] != step.position:
            return step.at, f"{step.phrase} is position {positions[step.phrase]} of {s.n}"
    if step.position != s.asked:
        if step.phrase is None:
            return step.at, f"the options ask about {asked_phrase(s)}, position {s.asked}"
        return step.phrase, f"the options ask about {asked_phrase(s)}"
    facts = done.claims[step.ref].facts(s.n)
    holder = next((o for o, p in facts.items() if p == step.position), None)
    if holder is None:
        return step.said, f"({step.ref}) does not say what is in position {step.position}"
    if holder != step.name:
        who = s.domain.mention(holder)
        return step.said, f"position {step.position} in ({step.ref}) holds {who}"
    return None


def _check_final(
    s: Scene, answer: str, text: str, done: _Checked, style: StepStyle
) -> tuple[str, str] | None:
    """The option chosen, then the words before ``So the answer is`` (they must be its
    option's). A wrong object is set against the object the last reading found."""
    form = style.answer(s, text)
    if isinstance(form, str):
        return text, form
    letters = [s.letter(i) for i in range(len(s.options))]
    gold = letters.index(answer) if answer in letters else None
    if form.letter != answer:
        if form.name is not None and done.read is not None and form.name != done.read:
            who = s.domain.mention(done.read)
            return form.so, f"({done.read_step}) reads {who} in position {s.asked}"
        if done.read is not None and gold is not None and s.option_objects[gold] == done.read:
            return form.so, f"the option about {s.domain.mention(done.read)} is {answer}"
        if form.name is not None and gold is not None:
            return (
                form.so,
                f"the correct option is about {s.domain.mention(s.option_objects[gold])}",
            )
        return form.so, f"the correct option is {answer}"
    claim = form.claim.rstrip(".")
    if claim and claim.lower() != s.options[letters.index(form.letter)].lower():
        return form.claim, f'option {form.letter} says "{s.options[letters.index(form.letter)]}"'
    return None


def first_error(
    s: Scene, answer: str, attempt: Attempt, style: StepStyle = PAPER
) -> Feedback | None:
    """The feedback on the first wrong step of an attempt written in ``style``; None when
    every step is right."""
    done = _Checked()
    forms = iter(style.parse(s, [st for st in attempt.steps if st.label != FINAL]))
    for step in attempt.steps:
        text = step.text.strip()
        if step.label == FINAL:
            issue = _check_final(s, answer, text, done, style)
        else:
            form = next(forms)
            issue = None
            if isinstance(form, str):
                issue = text.split("\n")[0][:120], f"{form}".rstrip(".")
            elif isinstance(form, Translate):
                if not same_meaning(form.pattern, s.patterns[form.index], s.objects):
                    right = style.ordering(s.patterns[form.index], s.domain)
                    issue = form.pat_text, f'"{s.statements[form.index]}" means "{right}"'
                done.claims[step.label] = form.pattern
            elif isinstance(form, Place):
                issue = _check_place(s, form, text, done)
                done.claims[step.label] = arrangement(form.facts, s.n)
                done.orderings.add(step.label)
            else:
                issue = _check_read(s, form, done)
                done.read, done.read_step = form.name, step.label
        if issue:
            return Feedback.error(attempt, step.label, issue[0], issue[1])
    return None


# --- gold solver (also continues a correct partial deduction) --------------------------------


@dataclass
class _Progress:
    """What a (partial) rationale has established, read from its steps."""

    translated: dict[int, str] = field(default_factory=dict)  # statement index -> step label
    orderings: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    read: bool = False

    @classmethod
    def of(cls, s: Scene, steps: tuple[Step, ...], style: StepStyle) -> _Progress:
        out = cls()
        for step, form in zip(steps, style.parse(s, steps), strict=True):
            if isinstance(form, Translate):
                out.translated.setdefault(form.index, step.label)
            elif isinstance(form, Place):
                out.orderings.append((step.label, form.facts))
            elif isinstance(form, Read):
                out.read = True
        return out


def _cited_orderings(
    orderings: list[tuple[str, dict[str, int]]],
) -> tuple[list[str], dict[str, int]]:
    """The latest orderings that together hold every known placement, and those placements."""
    refs: list[str] = []
    known: dict[str, int] = {}
    for label, facts in reversed(orderings):
        if set(facts.items()) - set(known.items()):
            refs.insert(0, label)
            known.update(facts)
    return refs, known


@functools.lru_cache(maxsize=32)
def _orders(
    objects: tuple[str, ...], patterns: tuple[Pattern, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Every order of ``objects`` (rows of 1-based positions, columns in listed order) and the
    bit mask of the patterns each satisfies, once per scene."""
    n, index = len(objects), {o: i for i, o in enumerate(objects)}
    orders = all_orders(n)
    masks = np.zeros(len(orders), dtype=np.int64)
    for b, p in enumerate(patterns):
        masks |= p.holds_rows(orders, index, n).astype(np.int64) << b
    return orders, masks


def _next_placements(
    s: Scene, known: dict[str, int]
) -> tuple[tuple[int, ...], dict[str, int]] | None:
    """The smallest set of statements that, with ``known``, forces the place of at least one
    more object, and the places it forces."""
    perms, masks = _orders(s.objects, s.patterns)
    keep = np.ones(len(perms), dtype=bool)
    for o, p in known.items():
        keep &= perms[:, s.objects.index(o)] == p
    perms, masks = perms[keep], masks[keep]
    free = [i for i, o in enumerate(s.objects) if o not in known]
    for size in range(len(s.patterns) + 1):
        for subset in itertools.combinations(range(len(s.patterns)), size):
            need = sum(1 << i for i in subset)
            allowed = perms[(masks & need) == need][:, free]
            if not len(allowed):
                continue
            fixed = (allowed == allowed[0]).all(axis=0)
            if fixed.any():
                return subset, {
                    s.objects[i]: int(allowed[0, j]) for j, i in enumerate(free) if fixed[j]
                }
    return None


def continue_deduction(
    s: Scene, answer: str, prefix: tuple[Step, ...], style: StepStyle = PAPER
) -> Attempt | None:
    """Gold steps in ``style`` after a correct ``prefix``: translate the statements not yet
    written, place objects until the order is known, read the asked position, answer."""
    progress = _Progress.of(s, prefix, style)
    steps = list(prefix)

    def add(text: str) -> str:
        label = str(max((int(st.label.split(".")[0]) for st in steps), default=0) + 1)
        steps.append(Step(label, text))
        return label

    for i in range(len(s.statements)):
        if i not in progress.translated:
            progress.translated[i] = add(style.translate(s, i, None))
    refs, known = _cited_orderings(progress.orderings)
    while len(known) < s.n:
        found = _next_placements(s, known)
        if found is None:
            return None
        subset, forced = found
        if style.one_place:  # a name the cited statements mention first, then by position
            named = {o for i in subset for o in s.patterns[i].names}
            first = min(forced, key=lambda o: (o not in named, forced[o]))
            forced = {first: forced[first]}
        cite = refs + [progress.translated[i] for i in subset]
        known = {**known, **forced}
        refs = [add(style.place(s, cite, forced, known))]
        progress.orderings.append((refs[0], dict(known)))
    if not progress.read:
        label = next(
            lab for lab, facts in reversed(progress.orderings) if s.asked in facts.values()
        )
        holder = next(o for o, p in known.items() if p == s.asked)
        add(style.read(s, label, asked_phrase(s), s.asked, holder))
    letters = [s.letter(i) for i in range(len(s.options))]
    if answer not in letters:
        return None
    steps.append(Step(FINAL, style.final(s, answer)))
    return Attempt(tuple(steps))
