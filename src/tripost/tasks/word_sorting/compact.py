"""The ``compact`` word-sorting rationale (task option ``style: compact``), for a small model
trained from scratch: every word is copied as few times as possible, lines are short and there
is no recursion::

    (1) Keys: terrible=t smug=sm swamp=sw conversation=c.
    (2) Sorted: conversation < smug < swamp < terrible.
    (Final response) So the answer is: conversation smug swamp terrible.

Step (1) writes the words in the question's order, each with its *key*: its shortest prefix
that no other word of the list starts with (``smug=sm swamp=sw``; a word whose first letter is
unique: that letter). Two words compare as their keys do, so step (2), the words sorted and
joined by ``" < "``, follows from the keys alone. The final response is the paper style's.

Each step opens with a word and ends with a period, as the paper's steps do: without them a
step that lacks its first or last word would be a piece of the right step, and no part of it
could name the error (the feedback's part must be one the corrected step does not contain).

Lists the generator never makes (BIG-Bench Hard has two) get a consistent extension:

- a word that is a prefix of another has no prefix of its own that the other lacks: its key is
  the whole word (``plat=plat platelet=plate``; ``"plat" < "plate"`` still sorts right);
- duplicates likewise keep the whole word as their key (``dot=dot dot=dot``) and sort together,
  written with ``" = "`` between them as the paper style does: ``Sorted: barn < dot = dot.``;
- a question with a word containing ``=`` or ``<`` cannot be written in this format; it has no
  gold rationale and is judged by its final answer only.

The checker accepts an attempt only when every step is the gold step, so an accepted attempt
has the right answer; otherwise it names the first wrong step, a verbatim part of it and why
(``the key of "swamp" is "sw", since "smug" also starts with "s"``). With ``judge_keys=False``
(the task option) step (1) is judged on its words alone: a wrong key is scratch work, an error
only where it puts a word out of order in step (2), which is then the step named.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from tripost.tasks.word_sorting.check import first_line
from tripost.tasks.word_sorting.generate import misspell
from tripost.tasks.word_sorting.model import FINAL_PREFIX, GoldStep, quote, words_of
from tripost.trajectory import FINAL, Step

KEYS_PREFIX = "Keys: "
SORTED_PREFIX = "Sorted: "

Diagnosis = tuple[str, str]


# ---------------------------------------------------------------------------------------
# Keys and the gold rationale.


def common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b``."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def key_of(word: str, words: tuple[str, ...]) -> str:
    """The shortest prefix of ``word`` that no other word of ``words`` starts with; the whole
    word when there is none (a duplicate, or a prefix of another word).

    >>> key_of("swamp", ("terrible", "smug", "swamp")), key_of("plat", ("plat", "platelet"))
    ('sw', 'plat')
    """
    others = list(words)
    others.remove(word)
    return word[: 1 + max((common_prefix(word, o) for o in others), default=0)]


def compact_words(question: str) -> tuple[str, ...] | None:
    """The words of a question the compact style can write, else None (see module docstring)."""
    words = words_of(question)
    if words is None or any("=" in w or "<" in w for w in words):
        return None
    return words


def render_keys(entries: list[str]) -> str:
    """``Keys: smug=sm swamp=sw.`` from the entries ``word=key``."""
    return f"{KEYS_PREFIX}{' '.join(entries)}."


def render_sorted(words: list[str]) -> str:
    """``Sorted: barn < dot = dot.``: ``=`` only between duplicates."""
    out = words[0]
    for prev, w in zip(words, words[1:], strict=False):
        out += (" = " if w == prev else " < ") + w
    return f"{SORTED_PREFIX}{out}."


def render_final(words: list[str]) -> str:
    return f"{FINAL_PREFIX}{' '.join(words)}."


def compact_plan(words: tuple[str, ...]) -> list[GoldStep]:
    """The three gold steps of ``words``: kinds ``keys``, ``sorted`` and ``final``."""
    ordered = sorted(words)
    keys = render_keys([f"{w}={key_of(w, words)}" for w in words])
    return [
        GoldStep("1", "keys", keys, words, 0, "1"),
        GoldStep("2", "sorted", render_sorted(ordered), words, 0, "2"),
        GoldStep(FINAL, "final", render_final(ordered), words, 0, FINAL),
    ]


# ---------------------------------------------------------------------------------------
# Parsing, with the character span of every part (for verbatim segments).

_ENTRY = re.compile(r"([^\s=]+)=([^\s=]+)")
_ENTRIES = re.compile(rf"{_ENTRY.pattern}(?: {_ENTRY.pattern})*")
_WORD = r"[^\s<=]+"
_SORTED = re.compile(rf"{_WORD}(?: [<=] {_WORD})*")
_SORTED_ITEM = re.compile(rf"(?:^| ([<=]) )({_WORD})")
_PREFIXES = {"keys": KEYS_PREFIX, "sorted": SORTED_PREFIX, "final": FINAL_PREFIX}


@dataclass(frozen=True)
class Item:
    """A word of a parsed step, ``text[start:end]`` verbatim: ``swamp=sw`` in step (1) (with
    its ``key``), ``swamp`` in step (2) (with the sign ``sep`` before it) or the final list."""

    start: int
    end: int
    word: str
    key: str = ""
    sep: str = ""


def parse_compact(text: str, kind: str) -> list[Item] | None:
    """The items of a step of ``kind`` (``keys``, ``sorted`` or ``final``), or None when it
    does not follow that step's format.

    >>> [(it.word, it.sep) for it in parse_compact("Sorted: barn < dot = dot.", "sorted")]
    [('barn', ''), ('dot', '<'), ('dot', '=')]
    """
    prefix = _PREFIXES[kind]
    if "\n" in text or not (text.startswith(prefix) and text.endswith(".")):
        return None
    off, body = len(prefix), text[len(prefix) : -1]
    if kind == "keys" and _ENTRIES.fullmatch(body):
        return [Item(off + m.start(), off + m.end(), m[1], key=m[2]) for m in _ENTRY.finditer(body)]
    if kind == "sorted" and _SORTED.fullmatch(body):
        return [
            Item(off + m.start(2), off + m.end(2), m[2], sep=m[1] or "")
            for m in _SORTED_ITEM.finditer(body)
        ]
    if kind == "final" and re.fullmatch(r"\S+(?: \S+)*", body):
        return [Item(off + m.start(), off + m.end(), m[0]) for m in re.finditer(r"\S+", body)]
    return None


def compact_kind(text: str) -> str | None:
    """The kind a step text claims by its opening word, parsed or not."""
    return next((k for k, p in _PREFIXES.items() if text.startswith(p.split(" ")[0])), None)


# ---------------------------------------------------------------------------------------
# Diagnosis of one step against its gold step: (verbatim segment, reason) or None.
#
# A segment is a slice of the wrong step that the gold step does not contain (so that an
# improvement can be told from a copy of the error): the wrong item, widened when needed
# (``sun.`` for "sunk" miscopied at the end), or an item with the one before it where a word
# is missing (``Sorted: b`` when "a" is missing before "b").

Span = tuple[int, int, str]  # start, end, reason

_UNREADABLE = {
    "keys": 'it cannot be read as "Keys: " followed by word=key entries and a period',
    "sorted": 'it cannot be read as "Sorted: " followed by words joined by "<" and a period',
    "final": 'it cannot be read as "So the answer is: " followed by the words and a period',
}
_EXPECTED = {
    "keys": 'the first step lists every word with its key ("Keys: ")',
    "sorted": 'the words are sorted next ("Sorted: ")',
    "final": "the words are sorted, so the final response comes next",
}


def diagnose_compact(text: str, gold: GoldStep, judge_keys: bool = True) -> Diagnosis | None:
    """Why ``text`` is not the gold step: (segment, reason), or None when its content is right
    (step (1) without ``judge_keys``: its words, whatever their keys).

    >>> g = compact_plan(("terrible", "smug", "swamp"))[0]
    >>> diagnose_compact("Keys: terrible=t smug=sm swamp=s.", g)
    ('swamp=s.', 'the key of "swamp" is "sw", since "smug" also starts with "s"')
    """
    items = parse_compact(text, gold.kind)
    if items is None:
        kind = compact_kind(text)
        reason = _EXPECTED[gold.kind] if kind not in (None, gold.kind) else _UNREADABLE[gold.kind]
        return first_line(text), reason
    if gold.kind == "keys":
        found = _diagnose_keys(items, gold.words, judge_keys)
    else:
        lead = len(SORTED_PREFIX) if gold.kind == "sorted" else len("is: ")
        found = _diagnose_list(items, gold.words, lead)
        if found is None and gold.kind == "sorted":
            found = _diagnose_signs(items)
    if found is None:
        return None
    start, end, reason = found
    return _unique(text, start, end, gold.text), reason


def _unique(text: str, start: int, end: int, gold: str) -> str:
    """``text[start:end]``, widened by whole words (or to the period) on the side that needs
    the fewest characters until the gold step does not contain it."""
    ends = [end, *(i for i, c in enumerate(text) if c == " " and i > end), len(text) - 1]
    starts = [start, *(i + 1 for i, c in enumerate(text) if c == " " and i + 1 < start), 0]
    spans = sorted(
        {(lo, hi) for lo in starts for hi in [*ends, len(text)] if lo <= start and hi >= end},
        key=lambda span: (start - span[0]) + (span[1] - end),
    )
    return next((text[lo:hi] for lo, hi in spans if text[lo:hi] not in gold), text)


def _at(items: list[Item], j: int, reason: str, missing: int = -1) -> Span:
    """Item ``j``; when a word is missing before it (``missing`` >= 0), with the item before it
    or, for item 0, the ``missing`` characters before it (the step's opening word)."""
    if missing < 0:
        return items[j].start, items[j].end, reason
    return (items[j - 1].start if j else items[0].start - missing), items[j].end, reason


def _misspelled(written: str, word: str) -> str:
    return f"{quote(word)} is misspelled as {quote(written)}"


def _extra(items: list[Item], want: list[str], lead: int) -> Span:
    extra = items[len(want)].word
    why = (
        f"{quote(extra)} is listed twice" if extra in want else f"{quote(extra)} is not in the list"
    )
    return _at(items, len(want), why, lead)


def _wrong_word(items: list[Item], j: int, want: list[str], lead: int) -> Span:
    """Item ``j`` is not ``want[j]``: a miscopied, missing or repeated word; a misplaced one
    gets an empty reason, for the caller to fill in."""
    got = [it.word for it in items]
    w, aw = want[j], got[j]
    if aw not in want:
        why = _misspelled(aw, w) if w not in got else f"{quote(aw)} is not in the list"
        return _at(items, j, why)
    if w not in got:
        return _at(items, j, f"{quote(w)} is missing", lead)
    if got[: j + 1].count(aw) > want.count(aw):
        return _at(items, j, f"{quote(aw)} is listed twice", lead)
    return _at(items, j, "", lead)


def _diagnose_keys(items: list[Item], words: tuple[str, ...], judge_keys: bool) -> Span | None:
    lead = len(KEYS_PREFIX)
    for j, w in enumerate(words):
        if j >= len(items):  # with the period: the right step goes on after the last item
            return items[-1].start, items[-1].end + 1, f"{quote(w)} is missing"
        it = items[j]
        if it.word != w:
            start, end, why = _wrong_word(items, j, list(words), lead)
            return start, end, why or f"{quote(w)} comes next, in the question's order"
        key = key_of(w, words)
        if judge_keys and it.key != key:
            return it.start, it.end, _key_reason(w, key, it.key, words)
    if len(items) > len(words):
        return _extra(items, list(words), lead)
    return None


def _key_reason(word: str, key: str, written: str, words: tuple[str, ...]) -> str:
    why = f"the key of {quote(word)} is {quote(key)}"
    others = list(words)
    others.remove(word)
    other = next((o for o in others if o.startswith(written)), None)
    if other is not None and key.startswith(written):  # too short: name a word sharing it
        if other == word:
            return f"{why}, since {quote(word)} is listed twice"
        return f"{why}, since {quote(other)} also starts with {quote(written)}"
    if written.startswith(key):
        return f"{why}, the shortest prefix that no other word starts with"
    return why


def _diagnose_list(items: list[Item], words: tuple[str, ...], lead: int) -> Span | None:
    """Step (2) or the final list: the sorted ``words``; ``lead`` is the length of the opening
    word before the first item (``"Sorted: "``, ``"is: "``)."""
    want = sorted(words)
    for j, w in enumerate(want):
        if j >= len(items):
            return items[-1].start, items[-1].end + 1, f"{quote(w)} is missing"
        it = items[j]
        if it.word == w:
            continue
        start, end, why = _wrong_word(items, j, want, lead)
        if why:
            return start, end, why
        why = (
            f"{quote(w)} ({key_of(w, words)}) comes before "
            f"{quote(it.word)} ({key_of(it.word, words)})"
        )
        if j + 1 < len(items) and items[j + 1].word == w:  # two neighbours swapped
            return it.start, items[j + 1].end, why
        return start, end, why
    if len(items) > len(want):
        return _extra(items, want, lead)
    return None


def _diagnose_signs(items: list[Item]) -> Span | None:
    for j in range(1, len(items)):
        sign = "=" if items[j].word == items[j - 1].word else "<"
        if items[j].sep != sign:
            return items[j - 1].start, items[j].end, f'the sign between these words is "{sign}"'
    return None


# ---------------------------------------------------------------------------------------
# Injected errors: one slip a small model makes, in one step; the steps after it follow from
# it (a word dropped from step (1) is missing from the sorted list and the answer too).

ERROR_KINDS = (("copy", 0.35), ("key", 0.25), ("order", 0.2), ("drop", 0.1), ("repeat", 0.1))
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def inject_compact(
    steps: tuple[Step, ...], words: tuple[str, ...], rng: random.Random, kind: str
) -> tuple[int, tuple[Step, ...]] | None:
    """The steps with a ``kind`` slip (see ERROR_KINDS) at one step, and that step's index;
    None when the slip does not apply (e.g. no two different neighbours to swap)."""
    if kind not in dict(ERROR_KINDS):
        raise ValueError(f"unknown error kind {kind!r}")
    where = [
        (i, parsed)
        for i, (s, k) in enumerate(zip(steps, ("keys", "sorted", "final"), strict=False))
        if (parsed := parse_compact(s.text, k))
    ]
    if kind == "key":
        where = [x for x in where if x[0] == 0]
    elif kind == "order":
        where = [x for x in where if x[0] > 0 and len(x[1]) > 1]
    if not where:
        return None
    i, items = rng.choice(where)
    # the items as written: "swamp=sw" in step (1), "swamp" after it
    entries = [steps[i].text[it.start : it.end] for it in items]
    j = rng.randrange(len(items))
    if kind == "key":
        entries[j] = f"{items[j].word}={_wrong_key(items[j].word, items[j].key, rng)}"
    elif kind == "copy":
        wrong = misspell(items[j].word, rng)
        if wrong in words or "=" in wrong or "<" in wrong:
            return None
        entries[j] = wrong + entries[j][len(items[j].word) :]
    elif kind == "order":
        j = rng.randrange(len(items) - 1)
        if items[j].word == items[j + 1].word:
            return None
        entries[j], entries[j + 1] = entries[j + 1], entries[j]
    elif kind == "drop":
        if len(entries) < 2:
            return None
        del entries[j]
    else:  # repeat
        entries.insert(j, entries[j])
    return i, _follow(steps, i, entries)


def _wrong_key(word: str, key: str, rng: random.Random) -> str:
    """Too short (a shared prefix), one letter too long, or a wrong last letter."""
    options = ["letter"] + ["short"] * (len(key) > 1) + ["long"] * (len(key) < len(word))
    how = rng.choice(options)
    if how == "short":
        return key[:-1]
    if how == "long":
        return word[: len(key) + 1]
    return key[:-1] + rng.choice(_LOWER.replace(key[-1], ""))


def _follow(steps: tuple[Step, ...], i: int, entries: list[str]) -> tuple[Step, ...]:
    """Step ``i`` writes ``entries``; the steps after it copy its words (sorted after (1))."""
    written = [e.split("=")[0] for e in entries]
    if i == 0:
        texts = [
            render_keys(entries),
            render_sorted(sorted(written)),
            render_final(sorted(written)),
        ]
    elif i == 1:
        texts = [steps[0].text, render_sorted(written), render_final(written)]
    else:
        texts = [s.text for s in steps[:2]] + [render_final(written)]
    new = tuple(Step(s.label, t) for s, t in zip(steps, texts, strict=False))
    return steps[:i] + new[i:] + steps[len(new) :]
