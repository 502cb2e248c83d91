"""Word lists to sort and the errors a small model makes in a word-sorting rationale."""

from __future__ import annotations

import functools
import random
import re
from importlib import resources

from tripost.tasks.word_sorting import model as fmt
from tripost.trajectory import Step


@functools.lru_cache(maxsize=1)
def load_word_list() -> tuple[str, ...]:
    """The packaged word list (``#`` lines are its licence header)."""
    text = resources.files("tripost").joinpath("data/words.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.split("\n"))
    return tuple(w for w in lines if w and not w.startswith("#"))


# --- error injection ------------------------------------------------------------------------
# Each injector returns (index of the changed step, its new text) or None when it does not apply.

_Injected = tuple[int, str] | None
ERROR_KINDS = (("copy", 0.4), ("letter", 0.1), ("rank", 0.15), ("order", 0.15), ("drop", 0.2))
_QUOTED_RE = re.compile(r'"([^"]*)"')
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def misspell(word: str, rng: random.Random) -> str:
    """A copying error: a letter dropped, doubled, swapped with its neighbour or replaced."""
    i = rng.randrange(len(word))
    op = rng.choice(
        ("drop", "double", "swap", "replace") if len(word) > 2 else ("double", "replace")
    )
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "double":
        return word[: i + 1] + word[i:]
    if op == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice(_LOWER.replace(word[i], "")) + word[i + 1 :]


def _parsed_steps(steps: tuple[Step, ...], kinds: set[str]) -> list[tuple[int, fmt.ParsedStep]]:
    out = []
    for i, s in enumerate(steps):
        parsed = fmt.parse_step(s.text)
        if parsed is not None and parsed.kind in kinds and parsed.parts:
            out.append((i, parsed))
    return out


def _word_spans(text: str) -> list[tuple[int, int]]:
    """Where the words of a parsed step are, quotes excluded."""
    parsed = fmt.parse_step(text)
    if parsed is None:
        return []
    if parsed.kind == "final":
        return [(p.start, p.end) for p in parsed.parts]
    pieces = list(parsed.parts) + ([parsed.group] if parsed.group else [])
    spans = []
    for p in pieces:
        if parsed.kind in ("letters", "subpart") and p is not parsed.group:
            spans.append((p.start + 1, p.start + 1 + len(p.words[0])))
        else:  # chain items, bracket groups and hence words: quoted words only
            spans += [
                (p.start + m.start(1), p.start + m.end(1))
                for m in _QUOTED_RE.finditer(text[p.start : p.end])
            ]
    return spans


def _inject_copy(steps: tuple[Step, ...], words: tuple[str, ...], rng: random.Random) -> _Injected:
    i = rng.randrange(len(steps))
    text = steps[i].text
    spans = _word_spans(text)
    if not spans:
        return None
    a, b = rng.choice(spans)
    wrong = misspell(text[a:b], rng)
    if wrong in words or not wrong:
        return None
    return i, text[:a] + wrong + text[b:]


def _entry_text(word: str, letter: str, rank: int) -> str:
    return f'"{word}"="{letter}" ({rank})'


def _inject_letter(
    steps: tuple[Step, ...], words: tuple[str, ...], rng: random.Random
) -> _Injected:
    found = _parsed_steps(steps, {"letters", "subpart"})
    if not found:
        return None
    i, parsed = rng.choice(found)
    p = rng.choice(parsed.parts)
    letter = rng.choice(_LOWER.replace(p.letter, "") if p.letter else _LOWER)
    rank = fmt.rank(letter) if rng.random() < 0.5 else p.rank  # misread, or also mis-ranked
    text = steps[i].text
    return i, text[: p.start] + _entry_text(p.words[0], letter, rank) + text[p.end :]


def _inject_rank(steps: tuple[Step, ...], words: tuple[str, ...], rng: random.Random) -> _Injected:
    found = _parsed_steps(steps, {"letters", "subpart", "chain"})
    if not found:
        return None
    i, parsed = rng.choice(found)
    p = rng.choice(parsed.parts)
    text = steps[i].text
    rank = p.rank + rng.choice((-2, -1, 1, 2))
    if parsed.kind == "chain":
        old = f"({p.rank}) "
        return i, text[: p.start] + f"({rank}) " + text[p.start + len(old) :]
    return i, text[: p.start] + _entry_text(p.words[0], p.letter, rank) + text[p.end :]


def _inject_order(steps: tuple[Step, ...], words: tuple[str, ...], rng: random.Random) -> _Injected:
    found = [
        (i, p) for i, p in _parsed_steps(steps, {"chain", "hence", "final"}) if len(p.parts) > 1
    ]
    if not found:
        return None
    i, parsed = rng.choice(found)
    j = rng.randrange(len(parsed.parts) - 1)
    a, b = parsed.parts[j], parsed.parts[j + 1]
    text = steps[i].text
    first, second = text[a.start : a.end], text[b.start : b.end]
    if first == second:
        return None
    return i, text[: a.start] + second + text[a.end : b.start] + first + text[b.end :]


def _inject_drop(steps: tuple[Step, ...], words: tuple[str, ...], rng: random.Random) -> _Injected:
    """A word dropped, most often from the final list."""
    kinds = {"final"} if rng.random() < 0.6 else {"letters", "hence"}
    found = _parsed_steps(steps, kinds)
    if not found:
        return None
    i, parsed = rng.choice(found)
    parts, text = parsed.parts, steps[i].text
    j = rng.randrange(len(parts))
    if j > 0:  # drop the separator before the word with it
        return i, text[: parts[j - 1].end] + text[parts[j].end :]
    if len(parts) > 1:
        return i, text[: parts[0].start] + text[parts[1].start :]
    return i, text[: parts[0].start] + text[parts[0].end :]


INJECTORS = {
    "copy": _inject_copy,
    "letter": _inject_letter,
    "rank": _inject_rank,
    "order": _inject_order,
    "drop": _inject_drop,
}
