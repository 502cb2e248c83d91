"""The ``compact`` logical deduction rationale (task option ``style: compact``), for a small
model trained from scratch: the paper style's deduction (the same steps in the same order,
citing the same steps) without the words a step repeats from the question or from itself. In
the paper's style such a model's first error is almost always step (1), where it restates a
statement and miscopies an object's name; here it copies each name once per step::

    (1) Given: ?? blue jay ?? falcon ??.
    (2) Given: ?? quail ?? blue jay ??.
    (3) From (1) and (2): quail blue jay falcon.
    (4) Position 2: blue jay.
    (Final response) So the answer is the blue jay.

A statement's step is its pattern only (no restatement, no end markers, no quotes): the k-th
``Given`` step is the pattern of the k-th statement (the statements are written in the
question's order, as the gold rationale writes them), positions counted from the domain's first
end as in the paper's patterns. A placement writes the full ordering after the steps it cites,
``?`` for an unknown position (``From (1): ? ? hawk.``); the objects it places are those its
cited orderings had not placed. A reading gives the asked position (counted from the first
end) and the object in it in the latest ordering. Object names are read as the paper style
reads them: whole names of the scene's objects, the longest first (``blue jay`` is one name).

The final response names the option by its object, not by its letter: the letter comes before
the words it must be found by (``(A) The blue jay is ...``), and a small model that reads the
right object still picks the letter at chance (measured on date understanding), while the
object is the one its last step wrote. It is written as the options write it, ``the blue jay``
(``Eve`` for golfers): the answer is the whole rest of the sentence, read as one name, so a name
of several words is never a part of another (``the blue`` is no option's object). A letter is
still read, and a right one accepted.

Each step opens with a word and ends with a period, as the paper's steps do and unlike the
bare patterns one might write: the scripted feedback names a part of the wrong step that its
correction must not contain (:func:`tripost.editing.check_update`), and a bare pattern can be a
piece of the right one (1 in 10 injected misreads): ``quail ??`` (first) of ``? quail ??`` (second), ``? a ?? b ??`` of
``?? a ?? b ??``. ``Given:`` and the period make a wrong step a piece of no right step. A
missing period is accepted, as in the paper style.

The checks are the paper style's (:mod:`tripost.tasks.logical_deduction.check`) on the same
:class:`Translate`, :class:`Place` and :class:`Read` forms; only the parts feedback names
differ: a wrong pattern is named by its whole step, a wrong reading by its whole step (without
the period), a reading of the wrong position (counted from the wrong end) by ``Position k``,
and a wrong object in the final response by ``So the answer is the pears``, which says which
object the last reading found.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from tripost.tasks.logical_deduction.model import (
    Answer,
    Form,
    Pattern,
    Place,
    Read,
    Scene,
    StepStyle,
    Translate,
    arrangement,
    find_object,
    find_statement,
    join,
)
from tripost.trajectory import Step

_GIVEN_RE = re.compile(r"Given: (?P<pat>[^\n]*?)\.?")
_STATED_RE = re.compile(r"(?P<stmt>[^:\n]+): (?P<pat>[^\n]*?)\.?")
_FROM_RE = re.compile(r"From (?P<refs>\(\d+\)(?:(?:, | and )\(\d+\))*): (?P<arr>[^\n]*?)\.?")
_POSITION_RE = re.compile(r"Position (?P<p>\d+): (?P<obj>[^\n]*?)\.?")
_PHRASED_RE = re.compile(r"(?P<phrase>[^:\n]+?) is position (?P<p>\d+): (?P<obj>[^\n]*?)\.?")
_ANSWER_RE = re.compile(
    r"(?P<claim>.*?)\s*(?P<so>so the answer is (?P<words>[^\n]*?))\.?", re.I | re.S
)
_LETTER_RE = re.compile(r"\(([a-z])\)", re.I)


# --- writing ---------------------------------------------------------------------------------


def translate_compact(s: Scene, i: int, pattern: Pattern | None = None) -> str:
    """``Given: ?? quail ?? blue jay ??.``: statement i's pattern (or ``pattern``)."""
    return f"Given: {(pattern or s.patterns[i]).bare()}."


def translate_stated(s: Scene, i: int, pattern: Pattern | None = None) -> str:
    """``The blue jay is to the right of the quail: ?? quail ?? blue jay ??.``: statement i as
    the question writes it, then its pattern (or ``pattern``)."""
    return f"{s.statements[i]}: {(pattern or s.patterns[i]).bare()}."


def place_compact(s: Scene, refs: list[str], new: dict[str, int], facts: dict[str, int]) -> str:
    """``From (1) and (2): quail blue jay falcon.``; the objects placed (``new``) are those
    the cited orderings lack, so the step does not name them apart."""
    return f"From {join([f'({r})' for r in refs])}: {arrangement(facts, s.n).bare()}."


def read_compact(s: Scene, ref: str, phrase: str, p: int, name: str) -> str:
    """``Position 2: blue jay.``: the ordering read is the latest, the position words are the
    options'."""
    return f"Position {p}: {name}."


def read_phrased(s: Scene, ref: str, phrase: str, p: int, name: str) -> str:
    """``the cheapest is position 5: minivan.``: the options' position words, then the
    position they mean (counted from the first end) and its object in the latest ordering. The
    position is written next to the words it is read from, not only in the options far above
    (docs/ablations.md §25)."""
    return f"{phrase} is position {p}: {name}."


def option_object(s: Scene, letter: str) -> str:
    """How the compact final response names option ``letter``: by its object as the options
    write it, ``the blue jay`` (see the module docstring)."""
    return s.domain.mention(s.option_objects[_index(letter)])


def _index(letter: str) -> int:
    """``(B)`` -> 1."""
    return ord(letter[1]) - ord("A")


def final_compact(s: Scene, answer: str) -> str:
    """``So the answer is the blue jay.``"""
    return f"So the answer is {option_object(s, answer)}."


# --- reading ---------------------------------------------------------------------------------


def parse_compact(s: Scene, steps: Sequence[Step]) -> list[Form]:
    """The form of each numbered step, with what a compact step leaves to its place in the
    rationale: which statement a pattern is of, which ordering a reading reads, which objects a
    placement places."""
    return _parse(s, steps, stated=False)


def parse_stated(s: Scene, steps: Sequence[Step]) -> list[Form]:
    """As :func:`parse_compact`, for the ``stated`` style: a pattern's step says which statement
    it is of by restating it (as the paper style's steps do)."""
    return _parse(s, steps, stated=True)


def parse_phrased(s: Scene, steps: Sequence[Step]) -> list[Form]:
    """As :func:`parse_compact`, for the ``phrased`` style: a reading names the options'
    position words before the position (``the cheapest is position 5: minivan.``)."""
    return _parse(s, steps, stated=False, phrased=True)


def _parse(s: Scene, steps: Sequence[Step], stated: bool, phrased: bool = False) -> list[Form]:
    forms: list[Form] = []
    orderings: dict[str, dict[str, int]] = {}  # label -> placements, of the placements so far
    latest: str | None = None  # the label of the latest placement
    statements = 0  # the statements written so far
    for step in steps:
        text = step.text.strip()
        form: Form
        if m := _FROM_RE.fullmatch(text):
            form = _placement(s, m, orderings)
            if isinstance(form, Place):
                orderings[step.label], latest = form.facts, step.label
        elif not phrased and (m := _POSITION_RE.fullmatch(text)):
            form = _reading(s, m, text, latest)
        elif phrased and (m := _PHRASED_RE.fullmatch(text)):
            form = _reading(s, m, text, latest, m["phrase"])
        elif not stated and (m := _GIVEN_RE.fullmatch(text)):
            form = _statement(s, m, text, statements)
            statements += isinstance(form, Translate)
        elif stated and (m := _STATED_RE.fullmatch(text)):
            form = _stated(s, m, text)
        else:
            form = "the step is neither a statement's pattern, a placement nor a reading"
        forms.append(form)
    return forms


def _statement(s: Scene, m: re.Match[str], text: str, index: int) -> Translate | str:
    """The pattern of statement ``index`` (the statements are written in order)."""
    try:
        pattern = Pattern.read(m["pat"], s.objects)
    except ValueError as e:
        return str(e)
    if index >= len(s.statements):
        return f"the question has only {len(s.statements)} statements"
    return Translate(index, pattern, text)


def _stated(s: Scene, m: re.Match[str], text: str) -> Translate | str:
    """The pattern of the statement the step restates."""
    index = find_statement(s, m["stmt"])
    if index is None:
        return f'"{m["stmt"].strip()}" is not one of the statements'
    try:
        pattern = Pattern.read(m["pat"], s.objects)
    except ValueError as e:
        return str(e)
    return Translate(index, pattern, text)


def _placement(s: Scene, m: re.Match[str], orderings: dict[str, dict[str, int]]) -> Place | str:
    try:
        pattern = Pattern.read(m["arr"], s.objects)
    except ValueError as e:
        return str(e)
    if len(pattern.tokens) != s.n or "??" in pattern.tokens:
        return f"the ordering must list all {s.n} positions, with ? for an unknown one"
    refs = re.findall(r"\((\d+)\)", m["refs"])
    facts = pattern.facts(s.n)
    known = {item for r in refs for item in orderings.get(r, {}).items()}
    new = sorted(set(facts.items()) - known, key=lambda x: x[1])
    return Place(refs, [(name, p, m["arr"]) for name, p in new], facts, m["arr"])


def _reading(
    s: Scene, m: re.Match[str], text: str, latest: str | None, phrase: str | None = None
) -> Read | str:
    name = find_object(s, m["obj"])
    if name is None:
        return f'"{m["obj"]}" is not one of the objects'
    at = f"Position {m['p']}" if phrase is None else f"is position {m['p']}"
    return Read(latest, phrase, int(m["p"]), name, at, text.rstrip("."))


def answer_words(final: str) -> str | None:
    """What ``So the answer is ...`` chooses, normalised: ``(B)`` for a letter, else the name
    in lower case without article (``the Blue Jay.`` -> ``blue jay``); None when absent."""
    m = _ANSWER_RE.fullmatch(final.strip())
    return None if m is None else _normal(m["words"])


def _normal(words: str) -> str:
    if letter := _LETTER_RE.fullmatch(words):
        return f"({letter[1].upper()})"
    return " ".join(words.split()).lower().removeprefix("the ")


def answer_letter(s: Scene | None, words: str) -> str | None:
    """The letter that :func:`answer_words` ``words`` choose: a letter as it is, an object
    the letter of the option about it in ``s`` (None if none, or no scene)."""
    if _LETTER_RE.fullmatch(words):
        return words
    if s is None:
        return None
    i = next((i for i, o in enumerate(s.option_objects) if _normal(o) == words), None)
    return None if i is None else s.letter(i)


def read_final_compact(s: Scene, text: str) -> Answer | str:
    """The option of ``So the answer is the blue jay.`` (or ``... is (A).``), or why none."""
    m = _ANSWER_RE.fullmatch(text.strip())
    if m is None:
        return 'the final response does not end with "So the answer is" and an object'
    words = _normal(m["words"])
    letter = answer_letter(s, words)
    if letter is None:
        return f'no option is about "{m["words"]}"'
    name = None if words == letter else s.option_objects[_index(letter)]
    return Answer(m["claim"].strip(), m["so"], letter, name)


#: the compact step forms (see the module docstring)
COMPACT = StepStyle(
    lambda pattern, domain: pattern.bare(),
    translate_compact,
    place_compact,
    read_compact,
    final_compact,
    option_object,
    parse_compact,
    read_final_compact,
)

#: the ``stated`` step forms: the compact ones, each pattern after its statement as the question
#: writes it (``The quail is to the left of the crow: ?? quail ?? crow ??.``)
STATED = StepStyle(
    lambda pattern, domain: pattern.bare(),
    translate_stated,
    place_compact,
    read_compact,
    final_compact,
    option_object,
    parse_stated,
    read_final_compact,
)

#: the ``phrased`` step forms: the compact ones, a reading naming the options' position words
#: before the position (``the cheapest is position 5: minivan.``)
PHRASED = dataclasses.replace(COMPACT, read=read_phrased, parse=parse_phrased)

#: the ``stepwise`` step forms: the phrased ones, each placement adding one of the objects its
#: cited steps force (:attr:`StepStyle.one_place`), so that a step writes one new name and
#: copies the rest of the ordering it cites
STEPWISE = dataclasses.replace(PHRASED, one_place=True)
