"""Word-sorting rationales: questions, letter ranks, the gold plan of steps and the step parsers.

The format is the one of the paper's scripted rationales. Words are sorted by their first
letter; words sharing it form a group ``[... ? ...]`` that is sorted in a sub-step by the next
letter, recursively::

    (1) The first letter: "dot"="d" (4), "barn"="b" (2), "damp"="d" (4).
    (2) We now have: (2) "barn" < (4) ["dot" ? "damp"].
    (3) Now sort this subpart ["dot" ? "damp"] by looking at their second letters: "dot"="o" (15), "damp"="a" (1).
    (3.1) We now have: (1) "damp" < (15) "dot".
    (3.2) Hence, we have "damp" < "dot".
    (4) Hence, we have "barn" < "damp" < "dot".
    (Final response) So the answer is: barn damp dot.

Inside a subpart, a chain that is one single group is sorted by the next letter at the same
level (``(4.1) We now have: (9) ["divisive" ? "diagnostician"].`` is followed by ``(4.2) Now
sort this subpart ... third letters``), while the top level always opens a sub-step.

The rank of a character is its code point minus 96 (``"a"`` = 1, ``"z"`` = 26, ``"'"`` = -57,
as in the paper's data). Two cases the paper's data never shows get a consistent extension:
a word with no letter at the position (``"plat"`` against ``"platelet"``) writes ``"plat"=""
(-96)``, the empty letter that comes before every character; duplicates of one word form a
group that is never split and the ``Hence`` line writes them ``"dot" = "dot"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QUESTION_PREFIX = "Sort the following words alphabetically: List: "
LETTERS_PREFIX = "The first letter: "
CHAIN_PREFIX = "We now have: "
HENCE_PREFIX = "Hence, we have "
FINAL_PREFIX = "So the answer is: "
EMPTY_RANK = -96
_ORDINALS = (
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty"}


def rank(letter: str) -> int:
    """The rank of a letter: ``rank("a") == 1``, ``rank("'") == -57``, ``rank("") == -96``."""
    return ord(letter) - 96 if letter else EMPTY_RANK


def letter_at(word: str, pos: int) -> str:
    """The letter of ``word`` at 0-based ``pos``, or ``""`` past its end."""
    return word[pos] if pos < len(word) else ""


def ordinal(n: int) -> str:
    """English ordinal of ``n`` (1-based): ``ordinal(2) == "second"``, ``ordinal(23) ==
    "twenty-third"``; digits past 59 (``"60th"``)."""
    if n < len(_ORDINALS):
        return _ORDINALS[n]
    tens, unit = divmod(n, 10)
    if tens not in _TENS:
        return f"{n}th"
    return f"{_TENS[tens]}-{_ORDINALS[unit]}" if unit else _TENS[tens][:-1] + "ieth"


def quote(word: str) -> str:
    return f'"{word}"'


def render_group(words: tuple[str, ...]) -> str:
    """``"a"`` for one word, ``["a" ? "b"]`` for several."""
    if len(words) == 1:
        return quote(words[0])
    return "[" + " ? ".join(quote(w) for w in words) + "]"


def render_entries(words: tuple[str, ...], pos: int) -> str:
    """``"dot"="o" (15), "damp"="a" (1)`` for ``pos=1``."""
    return ", ".join(f'{quote(w)}="{letter_at(w, pos)}" ({rank(letter_at(w, pos))})' for w in words)


def group_by_letter(words: tuple[str, ...], pos: int) -> list[tuple[int, tuple[str, ...]]]:
    """Groups of words with the same letter at ``pos``, by increasing rank; each group keeps
    the order of ``words``."""
    groups: dict[int, list[str]] = {}
    for w in words:
        groups.setdefault(rank(letter_at(w, pos)), []).append(w)
    return [(r, tuple(groups[r])) for r in sorted(groups)]


def render_chain(groups: list[tuple[int, tuple[str, ...]]]) -> str:
    return " < ".join(f"({r}) {render_group(g)}" for r, g in groups)


def render_hence(words: list[str]) -> str:
    """``"a" < "b" = "b"``: sorted words; ``=`` only between duplicates."""
    out = quote(words[0])
    for prev, w in zip(words, words[1:], strict=False):
        out += (" = " if w == prev else " < ") + quote(w)
    return out


def _splittable(words: tuple[str, ...]) -> bool:
    return len(set(words)) > 1


@dataclass(frozen=True)
class GoldStep:
    """One step of the gold rationale and what it is about: ``kind`` is ``letters``,
    ``subpart``, ``chain``, ``hence`` or ``final`` (the compact style's: ``keys``, ``sorted``,
    ``final``); ``words`` the words of the (sub)part in
    the order the step lists them; ``pos`` the 0-based letter position compared.

    ``official_label`` is the label the paper's scripted rationales write. They number the
    second and later subparts of a nested level like the first (``(6.2)`` twice, then
    ``(6.4) Hence``); we number steps uniquely, and the checker accepts both."""

    label: str
    kind: str
    text: str
    words: tuple[str, ...]
    pos: int = 0
    official_label: str = ""


def plan(words: tuple[str, ...]) -> list[GoldStep]:
    """The gold steps for sorting ``words`` (see the module docstring for an example)."""
    groups = group_by_letter(words, 0)
    steps = [
        GoldStep("1", "letters", f"{LETTERS_PREFIX}{render_entries(words, 0)}.", words, 0, "1"),
        GoldStep("2", "chain", f"{CHAIN_PREFIX}{render_chain(groups)}.", words, 0, "2"),
    ]
    n = 3
    for _, g in groups:
        if _splittable(g):
            steps += _subpart(g, 1, str(n), str(n))
            n += 1
    ordered = sorted(words)
    hence = f"{HENCE_PREFIX}{render_hence(ordered)}."
    final = f"{FINAL_PREFIX}{' '.join(ordered)}."
    steps.append(GoldStep(str(n), "hence", hence, words, 0, str(n)))
    steps.append(GoldStep("Final response", "final", final, words, 0, "Final response"))
    return steps


def _subpart_header(words: tuple[str, ...], pos: int) -> str:
    return (
        f"Now sort this subpart {render_group(words)} by looking at their "
        f"{ordinal(pos + 1)} letters: {render_entries(words, pos)}."
    )


def _subpart(words: tuple[str, ...], pos: int, label: str, official: str) -> list[GoldStep]:
    header = GoldStep(label, "subpart", _subpart_header(words, pos), words, pos, official)
    return [header, *_subpart_body(words, pos, (label, official), 1)]


def _subpart_body(
    words: tuple[str, ...], pos: int, labels: tuple[str, str], n: int
) -> list[GoldStep]:
    """Steps ``label.n``, ``label.(n+1)``, ... after a subpart header at ``pos``;
    ``labels`` is the header's (label, official label)."""
    label, official = labels
    groups = group_by_letter(words, pos)
    text = f"{CHAIN_PREFIX}{render_chain(groups)}."
    steps = [GoldStep(f"{label}.{n}", "chain", text, words, pos, f"{official}.{n}")]
    if len(groups) == 1:  # one group: sort it by the next letter at the same level
        text = _subpart_header(words, pos + 1)
        steps.append(
            GoldStep(f"{label}.{n + 1}", "subpart", text, words, pos + 1, f"{official}.{n + 1}")
        )
        return steps + _subpart_body(words, pos + 1, labels, n + 2)
    n += 1
    first = n
    for _, g in groups:
        if _splittable(g):
            steps += _subpart(g, pos + 1, f"{label}.{n}", f"{official}.{first}")
            n += 1
    text = f"{HENCE_PREFIX}{render_hence(sorted(words))}."
    return [*steps, GoldStep(f"{label}.{n}", "hence", text, words, pos, f"{official}.{n}")]


# ---------------------------------------------------------------------------------------
# Parsing of step texts, with the character span of every part (for verbatim segments).

_Q = r'"[^"]*"'
_ENTRY = re.compile(r'"([^"]*)"="([^"]*)" \((-?\d+)\)')
_ENTRIES = re.compile(rf"{_ENTRY.pattern}(?:, {_ENTRY.pattern})*")
_GROUP = rf"\[{_Q}(?: \? {_Q})*\]"
_ITEM = re.compile(rf"\((-?\d+)\) ({_Q}|{_GROUP})")
_CHAIN = re.compile(rf"{_ITEM.pattern}(?: < {_ITEM.pattern})*")
_HENCE = re.compile(rf"{_Q}(?: [<=] {_Q})*")
_PREFIXES = {
    "letters": LETTERS_PREFIX,
    "subpart": "Now sort this subpart ",
    "chain": CHAIN_PREFIX,
    "hence": HENCE_PREFIX,
    "final": FINAL_PREFIX,
}
_SUBPART = re.compile(
    rf"Now sort this subpart ({_Q}|{_GROUP}) by looking at their (\S+) letters: (.*)\.", re.DOTALL
)


@dataclass(frozen=True)
class Part:
    """A parsed piece of a step: ``text[start:end]`` is its verbatim text."""

    start: int
    end: int
    words: tuple[str, ...]
    letter: str = ""
    rank: int = 0
    sep: str = ""  # for hence words: the separator before it ("<", "=" or "")


@dataclass(frozen=True)
class ParsedStep:
    kind: str
    parts: tuple[Part, ...]
    group: Part | None = None  # subpart header: the bracket group
    ordinal: str = ""  # subpart header: "second", ...
    ordinal_start: int = 0


def quoted_words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r'"([^"]*)"', text))


def _entries(text: str, start: int) -> tuple[Part, ...] | None:
    body = text[start:-1]
    if not text.endswith(".") or not _ENTRIES.fullmatch(body):
        return None
    return tuple(
        Part(start + m.start(), start + m.end(), (m.group(1),), m.group(2), int(m.group(3)))
        for m in _ENTRY.finditer(body)
    )


def parse_step(text: str) -> ParsedStep | None:
    """Parse a step text into its kind and parts; None when it follows no step format.

    >>> p = parse_step('We now have: (2) "barn" < (4) ["dot" ? "damp"].')
    >>> [(x.rank, x.words) for x in p.parts]
    [(2, ('barn',)), (4, ('dot', 'damp'))]
    """
    kind = step_kind(text)
    if kind is None or "\n" in text or not text.endswith("."):
        return None
    if kind == "subpart":
        return _parse_subpart(text)
    prefix = _PREFIXES[kind]
    off, body = len(prefix), text[len(prefix) : -1]
    parts: tuple[Part, ...] | None = None
    if not text.startswith(prefix):
        return None
    if kind == "letters":
        parts = _entries(text, off)
    elif kind == "final":
        parts = tuple(
            Part(off + m.start(), off + m.end(), (m[0],)) for m in re.finditer(r"\S+", body)
        )
    elif kind == "chain" and _CHAIN.fullmatch(body):
        parts = tuple(
            Part(off + m.start(), off + m.end(), quoted_words(m[2]), rank=int(m[1]))
            for m in _ITEM.finditer(body)
        )
    elif kind == "hence" and _HENCE.fullmatch(body):
        parts = tuple(
            Part(off + m.start(2), off + m.end(2), (m[2][1:-1],), sep=m[1] or "")
            for m in re.finditer(rf"(?:^| ([<=]) )({_Q})", body)
        )
    return None if parts is None else ParsedStep(kind, parts)


def _parse_subpart(text: str) -> ParsedStep | None:
    m = _SUBPART.fullmatch(text)
    if not m:
        return None
    parts = _entries(text, m.start(3))
    if parts is None:
        return None
    group = Part(m.start(1), m.end(1), quoted_words(m.group(1)))
    return ParsedStep("subpart", parts, group, m.group(2), m.start(2))


def step_kind(text: str) -> str | None:
    """The kind a step text claims by its opening words, parsed or not."""
    return next((k for k, p in _PREFIXES.items() if text.startswith(p.strip())), None)


_QUESTION_RE = re.compile(
    r"(?:Q: )?Sort the following words alphabetically:\s*List:(.*)", re.DOTALL
)
ANSWER_RE = re.compile(r"(?:So )?the answer is:?(.*)", re.DOTALL | re.IGNORECASE)


def words_of(question: str) -> tuple[str, ...] | None:
    """The words to sort, or None when the question is not a word-sorting question.

    >>> words_of("Sort the following words alphabetically: List: syndrome therefrom")
    ('syndrome', 'therefrom')
    """
    m = _QUESTION_RE.fullmatch(question.strip())
    if not m:
        return None
    words = tuple(m.group(1).split())
    if not words or any('"' in w for w in words):  # a quote would break the rationale format
        return None
    return words
