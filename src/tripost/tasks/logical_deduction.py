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
"""

from __future__ import annotations

import itertools
import logging
import random
import re
from dataclasses import dataclass, field

from tripost.tasks.logical_deduction_parse import (
    DOMAINS,
    FINAL_RE,
    Domain,
    Pattern,
    Place,
    Read,
    Scene,
    Translate,
    arrangement,
    asked_phrase,
    join,
    parse_question,
    parse_sentence,
    parse_step,
    phrase_positions,
    place_text,
    read_text,
    same_meaning,
    solutions,
    statement_pattern,
    translate_text,
)
from tripost.trajectory import FINAL, Attempt, Feedback, Problem, Step

log = logging.getLogger(__name__)

SEEN_SIZES = (3, 5)
UNSEEN_SIZES = (7,)

# --- scripted feedback -----------------------------------------------------------------------


@dataclass
class _Checked:
    """What the verified steps so far establish: each step's claim, and the object read off."""

    claims: dict[str, Pattern] = field(default_factory=dict)
    orderings: set[str] = field(default_factory=set)
    read: str | None = None


def _entailment(
    s: Scene, premises: list[Pattern], name: str, p: int, refs: list[str]
) -> tuple[bool, str] | None:
    """None when every order the premises (steps ``refs``) allow has ``name`` in position
    ``p``; else (whether the placement is false, not merely unjustified, and the reason)."""
    where = {sol[name] for sol in solutions(s.objects, premises)}
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


def _check_read(s: Scene, step: Read, text: str, done: _Checked) -> tuple[str, str] | None:
    if step.ref not in done.orderings:
        return f"In ({step.ref})", f"step ({step.ref}) is not an earlier ordering"
    positions = phrase_positions(s.domain, s.n)
    if step.phrase not in positions:
        return step.phrase, f'"{step.phrase}" is not a position the options use'
    if positions[step.phrase] != step.position:
        return (
            f"is position {step.position}",
            f"{step.phrase} is position {positions[step.phrase]} of {s.n}",
        )
    if step.position != s.asked:
        return step.phrase, f"the options ask about {asked_phrase(s)}"
    facts = done.claims[step.ref].facts(s.n)
    holder = next((o for o, p in facts.items() if p == step.position), None)
    segment = text[text.index("which holds") :].rstrip(".")
    if holder is None:
        return segment, f"({step.ref}) does not say what is in position {step.position}"
    if holder != step.name:
        return segment, f"position {step.position} in ({step.ref}) holds {s.domain.mention(holder)}"
    return None


def _check_final(s: Scene, answer: str, text: str, done: _Checked) -> tuple[str, str] | None:
    m = FINAL_RE.match(text)
    if not m:
        return text, 'the final response does not end with "So the answer is (X)."'
    letter = f"({m['l'].upper()})"
    letters = [s.letter(i) for i in range(len(s.options))]
    if letter != answer:
        gold = letters.index(answer) if answer in letters else None
        if done.read is not None and gold is not None and s.option_objects[gold] == done.read:
            return m["so"], f"the option about {s.domain.mention(done.read)} is {answer}"
        return m["so"], f"the correct option is {answer}"
    claim = m["text"].strip().rstrip(".")
    if claim and claim.lower() != s.options[letters.index(letter)].lower():
        return m["text"].strip(), f'option {letter} says "{s.options[letters.index(letter)]}"'
    return None


def _first_error(s: Scene, answer: str, attempt: Attempt) -> Feedback | None:
    done = _Checked()
    for step in attempt.steps:
        text = step.text.strip()
        if step.label == FINAL:
            issue = _check_final(s, answer, text, done)
        else:
            form = parse_step(s, text)
            issue = None
            if isinstance(form, str):
                issue = text.split("\n")[0][:120], f"{form}".rstrip(".")
            elif isinstance(form, Translate):
                if not same_meaning(form.pattern, s.patterns[form.index], s.objects):
                    right = s.patterns[form.index].render(s.domain)
                    issue = form.pat_text, f'"{s.statements[form.index]}" means "{right}"'
                done.claims[step.label] = form.pattern
            elif isinstance(form, Place):
                issue = _check_place(s, form, text, done)
                done.claims[step.label] = arrangement(form.facts, s.n)
                done.orderings.add(step.label)
            else:
                issue = _check_read(s, form, text, done)
                done.read = form.name
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
    def of(cls, s: Scene, steps: tuple[Step, ...]) -> _Progress:
        out = cls()
        for step in steps:
            form = parse_step(s, step.text.strip())
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


def _next_placements(
    s: Scene, known: dict[str, int]
) -> tuple[tuple[int, ...], dict[str, int]] | None:
    """The smallest set of statements that, with ``known``, forces the place of at least one
    more object, and the places it forces."""
    base = solutions(s.objects, [arrangement(known, s.n)] if known else [])
    masks = [sum(1 << i for i, p in enumerate(s.patterns) if p.holds(sol, s.n)) for sol in base]
    free = [o for o in s.objects if o not in known]
    for size in range(len(s.patterns) + 1):
        for subset in itertools.combinations(range(len(s.patterns)), size):
            need = sum(1 << i for i in subset)
            allowed = [sol for sol, m in zip(base, masks, strict=True) if m & need == need]
            if not allowed:
                continue
            forced = {o: allowed[0][o] for o in free if all(a[o] == allowed[0][o] for a in allowed)}
            if forced:
                return subset, forced
    return None


def _continue(s: Scene, answer: str, prefix: tuple[Step, ...]) -> Attempt | None:
    """Gold steps after a correct ``prefix``: translate the statements not yet written, place
    objects until the order is known, read the asked position, answer."""
    progress = _Progress.of(s, prefix)
    steps = list(prefix)

    def add(text: str) -> str:
        label = str(max((int(st.label.split(".")[0]) for st in steps), default=0) + 1)
        steps.append(Step(label, text))
        return label

    for i in range(len(s.statements)):
        if i not in progress.translated:
            progress.translated[i] = add(translate_text(s, i))
    refs, known = _cited_orderings(progress.orderings)
    while len(known) < s.n:
        found = _next_placements(s, known)
        if found is None:
            return None
        subset, forced = found
        cite = refs + [progress.translated[i] for i in subset]
        known = {**known, **forced}
        refs = [add(place_text(s, cite, forced, known))]
        progress.orderings.append((refs[0], dict(known)))
    if not progress.read:
        label = next(
            lab for lab, facts in reversed(progress.orderings) if s.asked in facts.values()
        )
        holder = next(o for o, p in known.items() if p == s.asked)
        add(read_text(s, label, asked_phrase(s), s.asked, holder))
    letters = [s.letter(i) for i in range(len(s.options))]
    if answer not in letters:
        return None
    steps.append(Step(FINAL, f"{s.options[letters.index(answer)]}. So the answer is {answer}."))
    return Attempt(tuple(steps))


# --- error injection -------------------------------------------------------------------------


def _misread(s: Scene, form: Translate, rng: random.Random) -> str | None:
    """The statement's ordering with the two objects swapped, or the position counted from the
    wrong end or one off."""
    i, pat = form.index, s.patterns[form.index]
    if len(pat.names) == 2:
        a, b = pat.names
        return translate_text(s, i, Pattern(("??", b, "??", a, "??")))
    name, p = pat.names[0], pat.facts(s.n)[pat.names[0]]
    from_last = pat.tokens[0] == "??"
    k = s.n + 1 - p if from_last else p
    wrong = [(k, not from_last), (k - 1, from_last), (k + 1, from_last)]
    wrong = [(j, end) for j, end in wrong if 1 <= j <= s.n and (s.n + 1 - j if end else j) != p]
    if not wrong:
        return None
    j, end = rng.choice(wrong)
    return translate_text(s, i, statement_pattern(s.domain, j, end, name))


def _swap(s: Scene, form: Place, rng: random.Random) -> str:
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
    return place_text(s, form.refs, new, facts)


_WEIGHTS = {"misread": 3, "swap": 4, "lookup": 1, "letter": 2}


def _inject(s: Scene, attempt: Attempt, rng: random.Random) -> tuple[Attempt, str] | None:
    forms = {st.label: parse_step(s, st.text.strip()) for st in attempt.steps if st.label != FINAL}
    kinds: dict[str, list[str]] = {"letter": [FINAL]}
    for label, form in forms.items():
        kind = {Translate: "misread", Place: "swap", Read: "lookup"}.get(type(form))
        if kind:
            kinds.setdefault(kind, []).append(label)
    kind = rng.choices(sorted(kinds), [_WEIGHTS[k] for k in sorted(kinds)])[0]
    label = rng.choice(kinds[kind])
    form = forms.get(label)
    text: str | None
    if isinstance(form, Translate):
        text = _misread(s, form, rng)
    elif isinstance(form, Place):
        text = _swap(s, form, rng)
    elif isinstance(form, Read):
        other = rng.choice([o for o in s.objects if o != form.name])
        text = read_text(s, form.ref, form.phrase, form.position, other)
    else:
        m = FINAL_RE.match(attempt.final.strip())
        letters = [s.letter(i) for i in range(len(s.options))]
        if not m:
            return None
        wrong = rng.choice([x for x in letters if x != f"({m['l'].upper()})"])
        text = f"{attempt.final.strip()[: m.start('so')]}So the answer is {wrong}."
    if text is None:
        return None
    i = attempt.index(label)
    steps = list(attempt.steps)
    steps[i] = Step(label, text)
    return Attempt(tuple(steps)), label


# --- the task --------------------------------------------------------------------------------


class LogicalDeduction:
    """The logical deduction task (see the module docstring for the rationale format)."""

    name = "logical_deduction"
    #: the instruction of the official training data
    PAPER_INSTRUCTION = (
        ' Let "??" represents 0 or more objects, and "?" represents exactly 1 object.'
    )

    def __init__(self, instruction: str | None = None) -> None:
        self.instruction = instruction or ""
        self.buckets = [str(n) for n in SEEN_SIZES + UNSEEN_SIZES]

    def generate(self, rng: random.Random, split: str) -> Problem:
        """A random scene of the split's size with statements added until one order remains;
        the options ask for a random position, e.g. ``(B) The quail is the second from the left``."""
        if split not in ("seen", "unseen"):
            raise ValueError(f"split must be 'seen' or 'unseen', got {split!r}")
        n = rng.choice(SEEN_SIZES if split == "seen" else UNSEEN_SIZES)
        domain = rng.choice(list(DOMAINS.values()))
        objects = tuple(rng.sample(domain.pool, n))
        truth = dict(zip(rng.sample(objects, n), range(1, n + 1), strict=True))
        statements = _unique_statements(domain, objects, truth, rng)
        asked = rng.randint(1, n)
        predicate = _position_predicate(domain, asked, n)
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
        answer = _answer(s)
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
        if s is None or _answer(s) != problem.answer:
            return None
        return _continue(s, problem.answer, ())

    def extract_answer(self, attempt: Attempt) -> str | None:
        """``"... So the answer is (B)."`` -> ``"(B)"``; None if absent."""
        finals = [st for st in attempt.steps if st.label == FINAL]
        m = FINAL_RE.match(finals[0].text.strip()) if finals else None
        return None if m is None else f"({m['l'].upper()})"

    def check(self, problem: Problem, attempt: Attempt) -> Feedback:
        """The first wrong step, e.g. ``In step (3) the part "the falcon is in position 2" is
        incorrect. This is because (1) and (2) put the falcon in position 3, not 2.``"""
        s = parse_question(problem.question)
        if s is None:
            first = attempt.steps[0]
            reason = "the question is not a logical deduction question this checker can read"
            return Feedback.error(attempt, first.label, first.text.split("\n")[0], reason)
        return _first_error(s, problem.answer, attempt) or Feedback.ok(attempt)

    def improve(self, problem: Problem, attempt: Attempt, feedback: Feedback) -> Attempt | None:
        """The steps before the error verbatim, then the solver's deduction continued from
        what they establish. None when the result would not pass :meth:`check`."""
        s = parse_question(problem.question)
        if s is None or feedback.correct or feedback.error_step not in attempt.labels:
            return None
        new = _continue(s, problem.answer, attempt.prefix(feedback.error_step))  # type: ignore[arg-type]
        if new is None or not self.check(problem, new).correct:
            return None
        return new

    def inject_error(
        self, problem: Problem, attempt: Attempt, rng: random.Random
    ) -> tuple[Attempt, str] | None:
        """One slip: a statement's ordering misread (objects swapped, position counted from the
        wrong end or one off), a placement with two objects swapped, the wrong object read off
        the ordering, or a wrong option letter. Returns the attempt and its wrong step."""
        s = parse_question(problem.question)
        return None if s is None else _inject(s, attempt, rng)


def _answer(s: Scene) -> str | None:
    sols = solutions(s.objects, s.patterns)
    if len(sols) != 1:
        return None
    holder = [i for i, o in enumerate(s.option_objects) if sols[0][o] == s.asked]
    return s.letter(holder[0]) if len(holder) == 1 else None


def _position_predicate(d: Domain, p: int, n: int) -> str:
    """Counted from the nearer end, as BIG-Bench Hard does: ``is the second from the right``."""
    return d.absolute(p, False) if p <= n + 1 - p else d.absolute(n + 1 - p, True)


def _unique_statements(
    d: Domain, objects: tuple[str, ...], truth: dict[str, int], rng: random.Random
) -> tuple[str, ...]:
    """Random true statements added until one order remains, then those not needed dropped
    (BIG-Bench Hard uses about N - 1 statements)."""
    n = len(objects)
    left = solutions(objects, [])
    chosen: dict[str, Pattern] = {}
    while len(left) > 1:
        sentence = _random_statement(d, truth, rng)
        pat = parse_sentence(d, objects, sentence)
        narrowed = [sol for sol in left if pat.holds(sol, n)]  # type: ignore[union-attr]
        if sentence not in chosen and len(narrowed) < len(left):
            chosen[sentence] = pat  # type: ignore[assignment]
            left = narrowed
    for sentence in rng.sample(sorted(chosen), len(chosen)):
        rest = [p for t, p in chosen.items() if t != sentence]
        if len(solutions(objects, rest)) == 1:
            del chosen[sentence]
    return tuple(chosen)


def _random_statement(d: Domain, truth: dict[str, int], rng: random.Random) -> str:
    n = len(truth)
    a, b = rng.sample(sorted(truth), 2)
    if rng.random() < 0.25:
        return f"{d.subject(a)} {_position_predicate(d, truth[a], n)}"
    if truth[a] > truth[b]:
        a, b = b, a
    if rng.random() < 0.5:
        return f"{d.subject(a)} {d.before} {d.mention(b)}"
    return f"{d.subject(b)} {d.after} {d.mention(a)}"
