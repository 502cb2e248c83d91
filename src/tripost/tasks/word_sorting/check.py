"""Scripted feedback of word sorting: what is wrong in a step that differs from the gold step."""

from __future__ import annotations

from tripost.tasks.word_sorting.model import (
    EMPTY_RANK,
    GoldStep,
    ParsedStep,
    Part,
    group_by_letter,
    letter_at,
    ordinal,
    parse_step,
    quote,
    rank,
    render_group,
    step_kind,
)

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

    >>> from tripost.tasks.word_sorting.model import plan
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
