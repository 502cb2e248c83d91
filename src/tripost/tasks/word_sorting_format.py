"""Word-sorting rationales: letter ranks, the gold plan of steps, step parsers and diagnosis.

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
    ``subpart``, ``chain``, ``hence`` or ``final``; ``words`` the words of the (sub)part in
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


# ---------------------------------------------------------------------------------------
# Diagnosis of one step against its gold step: (verbatim segment, reason) or None.
#
# Segments are slices of the wrong step's text chosen so that the corrected step does not
# contain them: an entry with its quotes (``"same"="s" (18)``), or a word with the one written
# before it when the error is a missing or misplaced word (``"damp" < "dot"``).

_UNREADABLE = {
    "letters": 'it cannot be read as "word"="letter" (rank) entries',
    "subpart": 'it cannot be read as a subpart followed by "word"="letter" (rank) entries',
    "chain": 'it cannot be read as (rank) "word" items joined by "<"',
    "hence": 'it cannot be read as quoted words joined by "<"',
    "final": 'it cannot be read as "So the answer is: " followed by the words and a period',
}
_EXPECTED_NEXT = {
    "letters": "the first step lists the first letter of every word",
    "chain": 'the letters of the previous step are ordered next with "We now have"',
    "hence": 'all groups are sorted, so they are combined next with "Hence, we have"',
    "final": "the words are sorted, so the final response comes next",
}
Diagnosis = tuple[str, str]


def first_line(text: str) -> str:
    """A short verbatim piece of a step to name when the whole step is wrong."""
    return next((line for line in text.split("\n") if line.strip()), text)[:80]


def diagnose_step(text: str, gold: GoldStep) -> Diagnosis | None:
    """Why ``text`` is not the gold step: (segment, reason), or None when its content is right.

    >>> g = plan(("same", "dot"))[0]
    >>> diagnose_step('The first letter: "same"="s" (18), "dot"="d" (4).', g)
    ('"same"="s" (18)', 'the rank of "s" is 19, not 18')
    """
    kind = step_kind(text)
    if kind is None and gold.kind == "final":
        return first_line(text), _UNREADABLE["final"]
    if kind != gold.kind:
        if gold.kind == "subpart":
            reason = f"the subpart {render_group(gold.words)} is sorted next"
        else:
            reason = _EXPECTED_NEXT[gold.kind]
        return first_line(text), reason
    parsed = parse_step(text)
    if parsed is None:
        return first_line(text), _UNREADABLE[kind]
    if kind == "subpart":
        found = _diagnose_header(text, parsed, gold)
        return found or _diagnose_entries(text, parsed.parts, gold)
    if kind == "letters":
        return _diagnose_entries(text, parsed.parts, gold)
    if kind == "chain":
        return _diagnose_chain(text, parsed.parts, gold)
    return _diagnose_sorted(text, parsed.parts, gold)


def _context(text: str, parts: tuple[Part, ...], j: int, kind: str) -> str:
    """Part ``j`` with the part before it (or the word and colon before the first one); in
    the final list also the characters around them, since its words carry no quotes."""
    if j == 0:  # from the word before the colon: "is: barn", "letter: "barn"="b" (2)"
        start = text.rfind(" ", 0, max(parts[0].start - 2, 0)) + 1
    else:
        start = parts[j - 1].start - (1 if kind == "final" else 0)
    return text[start : parts[j].end + (1 if kind == "final" else 0)]


def _tail(text: str, parts: tuple[Part, ...]) -> str:
    """The last part and the final period: where a missing last word belongs."""
    return text[parts[-1].start :] if parts else text


def _name(words: tuple[str, ...]) -> str:
    return f"the word {quote(words[0])}" if len(words) == 1 else f"the group {render_group(words)}"


def _diagnose_header(text: str, parsed: ParsedStep, gold: GoldStep) -> Diagnosis | None:
    assert parsed.group is not None
    if text[parsed.group.start : parsed.group.end] != render_group(gold.words):
        unknown = [w for w in parsed.group.words if w not in gold.words]
        reason = (
            f"{quote(unknown[0])} is not a word of this subpart"
            if unknown
            else f"the subpart to sort is {render_group(gold.words)}"
        )
        return text[: parsed.group.end], reason
    if parsed.ordinal != ordinal(gold.pos + 1):
        seg = text[
            parsed.ordinal_start - len("their ") : parsed.ordinal_start + len(parsed.ordinal)
        ]
        return f"{seg} letters", f"this subpart is sorted by the {ordinal(gold.pos + 1)} letters"
    return None


def _diagnose_entries(text: str, parts: tuple[Part, ...], gold: GoldStep) -> Diagnosis | None:
    words, pos, nth = gold.words, gold.pos, ordinal(gold.pos + 1)
    written = [p.words[0] for p in parts]
    for j, w in enumerate(words):
        if j >= len(parts):
            return _tail(text, parts), f"the word {quote(w)} is missing"
        a, aw = parts[j], written[j]
        letter = letter_at(w, pos)
        if aw != w:
            if aw not in words:
                why = _misspelled(aw, w) if w not in written else f"{quote(aw)} is not in the list"
                return text[a.start : a.end], why
            if w not in written:
                return _context(text, parts, j, "entries"), f"the word {quote(w)} is missing"
            if written[: j + 1].count(aw) > words.count(aw):
                return _context(text, parts, j, "entries"), f"{quote(aw)} is listed twice"
            return _context(text, parts, j, "entries"), f"{quote(w)} comes next in the list"
        if a.letter != letter:
            why = (
                f'the {nth} letter of {quote(w)} is "{letter}", not "{a.letter}"'
                if letter
                else f'{quote(w)} has no {nth} letter, which is written "" ({EMPTY_RANK})'
            )
            return text[a.start : a.end], why
        if a.rank != rank(letter):
            return text[a.start : a.end], f'the rank of "{letter}" is {rank(letter)}, not {a.rank}'
    if len(parts) > len(words):
        extra = written[len(words)]
        why = (
            f"{quote(extra)} is listed twice"
            if extra in words
            else f"{quote(extra)} is not in the list"
        )
        return _context(text, parts, len(words), "entries"), why
    return None


def _misspelled(written: str, word: str) -> str:
    return f"{quote(word)} is misspelled as {quote(written)}"


def _diagnose_chain(text: str, parts: tuple[Part, ...], gold: GoldStep) -> Diagnosis | None:
    groups = group_by_letter(gold.words, gold.pos)
    nth = ordinal(gold.pos + 1)
    for j, (r, ws) in enumerate(groups):
        if j >= len(parts):
            return _tail(text, parts), f"{_name(ws)} is missing"
        a = parts[j]
        item = text[a.start : a.end]
        if item == f"({r}) {render_group(ws)}":
            continue
        unknown = [w for w in a.words if w not in gold.words]
        if unknown:
            return item, _unknown_word(unknown[0], ws, a.words)
        if sorted(a.words) == sorted(ws):
            if a.rank != r:
                return item, f'the rank of "{letter_at(ws[0], gold.pos)}" is {r}, not {a.rank}'
            return item, f"the group keeps the order of the previous step: {render_group(ws)}"
        if set(a.words) < set(ws):
            other = next(w for w in ws if w not in a.words)
            return item, f'{quote(other)} also has the {nth} letter "{letter_at(other, gold.pos)}"'
        if set(a.words) > set(ws):
            other = next(w for w in a.words if w not in ws)
            return item, f'the {nth} letter of {quote(other)} is "{letter_at(other, gold.pos)}"'
        later = [w for p in parts[j + 1 :] for w in p.words]
        if ws[0] not in later:
            return _context(text, parts, j, "chain"), f"{_name(ws)} is missing"
        mine = rank(letter_at(a.words[0], gold.pos))
        why = f"{render_group(ws)} ({r}) comes before {render_group(a.words)} ({mine})"
        if j + 1 < len(parts) and set(parts[j + 1].words) == set(ws):
            return text[a.start : parts[j + 1].end], why
        return _context(text, parts, j, "chain"), why
    if len(parts) > len(groups):
        extra = parts[len(groups)].words[0]
        return _context(text, parts, len(groups), "chain"), f"{quote(extra)} is listed twice"
    return None


def _unknown_word(word: str, expected: tuple[str, ...], written: tuple[str, ...]) -> str:
    missing = [w for w in expected if w not in written]
    if len(expected) == len(written) and len(missing) == 1:
        return _misspelled(word, missing[0])
    return f"{quote(word)} is not a word of this part"


def _diagnose_sorted(text: str, parts: tuple[Part, ...], gold: GoldStep) -> Diagnosis | None:
    """A ``Hence`` chain or the final list: the sorted words of ``gold.words``."""
    kind = gold.kind
    want = sorted(gold.words)
    got = [p.words[0] for p in parts]
    for j, w in enumerate(want):
        if j >= len(parts):
            return _tail(text, parts), f"the word {quote(w)} is missing"
        a, aw = parts[j], got[j]
        if aw == w:
            sep = "" if j == 0 else ("=" if want[j - 1] == w else "<")
            if kind == "hence" and a.sep != sep:
                return _context(text, parts, j, kind), f'the sign between these words is "{sep}"'
            continue
        shown = text[a.start : a.end]
        if aw not in gold.words:
            why = _misspelled(aw, w) if w not in got else f"{quote(aw)} is not a word of this part"
            return (shown if kind == "hence" else _context(text, parts, j, kind)), why
        if w not in got:
            return _context(text, parts, j, kind), f"the word {quote(w)} is missing"
        if got[: j + 1].count(aw) > want.count(aw):
            return _context(text, parts, j, kind), f"{quote(aw)} is listed twice"
        why = f"{quote(w)} comes before {quote(aw)}"
        if j + 1 < len(parts) and got[j + 1] == w:
            end = parts[j + 1].end + (1 if kind == "final" else 0)
            start = a.start - (1 if kind == "final" else 0)
            return text[start:end], why
        return _context(text, parts, j, kind), why
    if len(parts) > len(want):
        extra = got[len(want)]
        why = (
            f"{quote(extra)} is listed twice"
            if extra in want
            else f"{quote(extra)} is not in the list"
        )
        return _context(text, parts, len(want), kind), why
    return None
