"""The ``compact`` word-sorting rationale (task option ``style: compact``), for a small model
trained from scratch: every word is copied as few times as possible, lines are short and there
is no recursion::

    (1) terrible=t smug=sm swamp=sw conversation=c
    (2) conversation < smug < swamp < terrible
    (Final response) So the answer is: conversation smug swamp terrible.

Step (1) writes the words in the question's order, each with its *key*: its shortest prefix
that no other word of the list starts with (``smug=sm swamp=sw``; a word whose first letter is
unique: that letter). Two words compare as their keys do, so step (2), the words sorted and
joined by ``" < "``, follows from the keys alone. The final response is the paper style's.

Lists the generator never makes (BIG-Bench Hard has two) get a consistent extension:

- a word that is a prefix of another has no prefix of its own that the other lacks: its key is
  the whole word (``plat=plat platelet=plate``; ``"plat" < "plate"`` still sorts right);
- duplicates likewise keep the whole word as their key (``dot=dot dot=dot``) and sort together,
  written with ``" = "`` between them as the paper style does: ``barn < dot = dot``;
- a question with a word containing ``=`` or ``<`` cannot be written in this format; it has no
  gold rationale and is judged by its final answer only.

The checker accepts an attempt only when every step is the gold step, so an accepted attempt
has the right answer; otherwise it names the first wrong step, a verbatim part of it and why
(``the key of "swamp" is "sw", since "smug" also starts with "s"``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from tripost.tasks.word_sorting.check import first_line
from tripost.tasks.word_sorting.generate import misspell
from tripost.tasks.word_sorting.model import FINAL_PREFIX, GoldStep, quote, words_of
from tripost.trajectory import FINAL, Step

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


def render_keys(words: tuple[str, ...]) -> str:
    return " ".join(f"{w}={key_of(w, words)}" for w in words)


def render_sorted(words: list[str]) -> str:
    """``barn < dot = dot``: ``=`` only between duplicates."""
    out = words[0]
    for prev, w in zip(words, words[1:], strict=False):
        out += (" = " if w == prev else " < ") + w
    return out


def render_final(words: list[str]) -> str:
    return f"{FINAL_PREFIX}{' '.join(words)}."


def compact_plan(words: tuple[str, ...]) -> list[GoldStep]:
    """The three gold steps of ``words``: kinds ``keys``, ``sorted`` and ``final``."""
    ordered = sorted(words)
    return [
        GoldStep("1", "keys", render_keys(words), words, 0, "1"),
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


@dataclass(frozen=True)
class Item:
    """A word of a parsed step, ``text[start:end]`` verbatim: ``swamp=sw`` in step (1) (with
    its ``key``), ``swamp`` in step (2) (with the sign ``sep`` before it) or the final list."""

    start: int
    end: int
    word: str
    key: str = ""
    sep: str = ""


def parse_keys(text: str) -> list[Item] | None:
    if not _ENTRIES.fullmatch(text):
        return None
    return [Item(m.start(), m.end(), m[1], key=m[2]) for m in _ENTRY.finditer(text)]


def parse_sorted(text: str) -> list[Item] | None:
    if not _SORTED.fullmatch(text):
        return None
    return [Item(m.start(2), m.end(2), m[2], sep=m[1] or "") for m in _SORTED_ITEM.finditer(text)]


def parse_final(text: str) -> list[Item] | None:
    if not (text.startswith(FINAL_PREFIX) and text.endswith(".")):
        return None
    off = len(FINAL_PREFIX)
    body = text[off:-1]
    if not re.fullmatch(r"\S+(?: \S+)*", body):
        return None
    return [Item(off + m.start(), off + m.end(), m[0]) for m in re.finditer(r"\S+", body)]


def parse_compact(text: str, kind: str) -> list[Item] | None:
    """The items of a step of ``kind`` (``keys``, ``sorted`` or ``final``), or None."""
    return {"keys": parse_keys, "sorted": parse_sorted, "final": parse_final}[kind](text)


def compact_kind(text: str) -> str | None:
    """The kind a step text looks like, parsed or not."""
    if text.startswith(FINAL_PREFIX.split(":")[0]):
        return "final"
    if re.search(r"[^\s=]=[^\s=]", text):
        return "keys"
    return "sorted" if parse_sorted(text) is not None else None


# ---------------------------------------------------------------------------------------
# Diagnosis of one step against its gold step: (verbatim segment, reason) or None.

_UNREADABLE = {
    "keys": "it cannot be read as word=key entries separated by spaces",
    "sorted": 'it cannot be read as words joined by "<"',
    "final": 'it cannot be read as "So the answer is: " followed by the words and a period',
}
_EXPECTED = {
    "keys": "the first step lists every word with its key",
    "sorted": 'the words are sorted next, joined by "<"',
    "final": "the words are sorted, so the final response comes next",
}


def diagnose_compact(text: str, gold: GoldStep) -> Diagnosis | None:
    """Why ``text`` is not the gold step: (segment, reason), or None when its content is right.

    >>> g = compact_plan(("terrible", "smug", "swamp"))[0]
    >>> diagnose_compact("terrible=t smug=sm swamp=s", g)
    ('swamp=s', 'the key of "swamp" is "sw", since "smug" also starts with "s"')
    """
    items = parse_compact(text, gold.kind)
    if items is None:
        kind = compact_kind(text)
        if kind is not None and kind != gold.kind:
            return first_line(text), _EXPECTED[gold.kind]
        return first_line(text), _UNREADABLE[gold.kind]
    if gold.kind == "keys":
        return _diagnose_keys(text, items, gold.words)
    found = _diagnose_list(text, items, gold.words)
    if found is None and gold.kind == "sorted":
        return _diagnose_signs(text, items)
    return found


def _before(text: str, items: list[Item], j: int) -> str:
    """Item ``j`` with the item before it (item 0 alone): where a missing word belongs."""
    return text[items[j - 1].start if j else items[0].start : items[j].end]


def _misspelled(written: str, word: str) -> str:
    return f"{quote(word)} is misspelled as {quote(written)}"


def _extra(text: str, items: list[Item], words: tuple[str, ...], n: int) -> Diagnosis:
    extra = items[n].word
    why = f"{quote(extra)} is listed twice" if extra in words else f"{quote(extra)} is not in the list"
    return _before(text, items, n), why


def _diagnose_keys(text: str, items: list[Item], words: tuple[str, ...]) -> Diagnosis | None:
    written = [it.word for it in items]
    for j, w in enumerate(words):
        if j >= len(items):
            return text[items[-1].start :], f"{quote(w)} is missing"
        it = items[j]
        if it.word != w:
            if it.word not in words:
                why = (
                    _misspelled(it.word, w)
                    if w not in written
                    else f"{quote(it.word)} is not in the list"
                )
                return text[it.start : it.end], why
            if w not in written:
                return _before(text, items, j), f"{quote(w)} is missing"
            if written[: j + 1].count(it.word) > words.count(it.word):
                return _before(text, items, j), f"{quote(it.word)} is listed twice"
            return _before(text, items, j), f"{quote(w)} comes next, in the question's order"
        key = key_of(w, words)
        if it.key != key:
            return text[it.start : it.end], _key_reason(w, key, it.key, words)
    if len(items) > len(words):
        return _extra(text, items, words, len(words))
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


def _diagnose_list(text: str, items: list[Item], words: tuple[str, ...]) -> Diagnosis | None:
    """Step (2) or the final list: the sorted ``words``."""
    want = sorted(words)
    got = [it.word for it in items]
    for j, w in enumerate(want):
        if j >= len(items):
            return text[items[-1].start :], f"{quote(w)} is missing"
        it = items[j]
        if it.word == w:
            continue
        if it.word not in words:
            why = _misspelled(it.word, w) if w not in got else f"{quote(it.word)} is not in the list"
            return text[it.start : it.end], why
        if w not in got:
            return _before(text, items, j), f"{quote(w)} is missing"
        if got[: j + 1].count(it.word) > want.count(it.word):
            return _before(text, items, j), f"{quote(it.word)} is listed twice"
        why = (
            f"{quote(w)} ({key_of(w, words)}) comes before "
            f"{quote(it.word)} ({key_of(it.word, words)})"
        )
        if j + 1 < len(items) and got[j + 1] == w:  # two neighbours swapped
            return text[it.start : items[j + 1].end], why
        return _before(text, items, j), why
    if len(items) > len(want):
        return _extra(text, items, words, len(want))
    return None


def _diagnose_signs(text: str, items: list[Item]) -> Diagnosis | None:
    for j in range(1, len(items)):
        sign = "=" if items[j].word == items[j - 1].word else "<"
        if items[j].sep != sign:
            return _before(text, items, j), f'the sign between these words is "{sign}"'
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
    options = ["long"] if len(key) < len(word) else []
    options += ["short"] if len(key) > 1 else ["letter"]
    how = rng.choice(options)
    if how == "short":
        return key[:-1]
    if how == "long":
        return word[: len(key) + 1]
    return key[:-1] + rng.choice(_LOWER.replace(key[-1], ""))


def _with_step(steps: tuple[Step, ...], i: int, text: str) -> tuple[Step, ...]:
    return steps[:i] + (Step(steps[i].label, text),) + steps[i + 1 :]


def _follow(steps: tuple[Step, ...], i: int, entries: list[str]) -> tuple[Step, ...]:
    """Step ``i`` writes ``entries``; the steps after it copy its words (sorted after (1))."""
    written = [e.split("=")[0] for e in entries]
    if i == 0:
        texts = [" ".join(entries), render_sorted(sorted(written)), render_final(sorted(written))]
    elif i == 1:
        texts = [steps[0].text, render_sorted(written), render_final(written)]
    else:
        texts = [s.text for s in steps[:2]] + [render_final(written)]
    new = tuple(Step(s.label, t) for s, t in zip(steps, texts, strict=False))
    return steps[:i] + new[i:] + steps[len(new) :]
