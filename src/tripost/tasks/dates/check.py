"""Reading the date claims of a rationale step, for the scripted feedback of date understanding.

A step states dates of *subjects*: ``today``, an event of the question, or an offset from
today. The gold phrasing is one claim per step::

    If today is Christmas Eve of 1937, then today's date is December 24, 1937.
    10 days before today is December 14, 1937, that is 12/14/1937.
    If the party is 3 days after the concert, then the date of the party is June 4, 1943.

Freer phrasings of the same shape are read too (``then today is Jul 28, 2002``, ``The date one
year ago from today is Sept. 8th, 2020``, ``10 days before Jan 31, 2012 is Jan 21, 2012``):
the clause after ``If ..., then`` (or a whole sentence) must read ``<subject> is <date>[, that
is <date>]``. Sentences without a date are ignored; a step with no readable claim is an error.

:func:`claim_error` recomputes a claim and names its first wrong date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from tripost.tasks.dates.calendar import (
    DATE_FIND_RE,
    DATE_RE,
    EVENT_RE,
    MONTH_RE,
    MONTHS,
    NUM_RE,
    Offset,
    long_date,
    mdy,
    number,
    ordinal_suffix,
    parse_date,
    parse_offset,
)
from tripost.tasks.dates.model import Plan, explain, sentences

_TODAY = {"today", "today's date", "the date today", "the current date", "the date of today"}
_LEADING = re.compile(r"^(?:so|then|thus|and|therefore|hence),? ", re.I)
_VERB = r" (?:is|was|will be|would be) "
_CLAIM_RES = [
    re.compile(rf"(?P<subj>.+?){_VERB}(?P<vals>.+?)\.?", re.S),
    re.compile(
        rf"(?P<subj>.+?), (?:the date|it){_VERB}(?P<vals>.+?)\.?", re.S
    ),  # "10 days ago, the date is"
    re.compile(
        rf"(?P<subj>it) is (?P<vals>{DATE_RE}) today\.?", re.I
    ),  # "It is April 19, 1969 today."
]
_VALUE_SEP_RE = re.compile(r",? (?:that is|i\.e\.,?) |, or ")
_FILLER_RE = re.compile(
    r"^(?:really |actually |in fact |on |exactly |(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,? "
    r"|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? )+",
    re.I,
)
_FROM_LITERAL_RE = re.compile(
    rf"(?P<n>{NUM_RE}) (?P<unit>day|week|month|year)s? (?P<rel>before|after|from) (?P<base>{DATE_RE})",
    re.I,
)
_ALIAS_RE = re.compile(r"\b[Tt]oday is (the [a-z][^,.]*?|[A-Z][a-z][^,.]*?)(?=,|\.| because)")


@dataclass(frozen=True)
class Literal:
    text: str  # verbatim
    start: int  # offset in the step text
    value: date | None  # None: names no real day (e.g. February 30)


@dataclass(frozen=True)
class Claim:
    """``<subject> is <literal>[, that is <literal>]``: the literals must all be ``expected``."""

    subject: str
    key: tuple  # what is dated: ("fact", "today") | ("offset", ("day", -10)) | ("from", ...)
    expected: date
    why: str  # the computation, for feedback: "10 days before today (...) is ..."
    literals: tuple[Literal, ...]
    base: Literal | None = None  # "10 days before <base>" writes its base date


def _describe(off: Offset) -> str:
    return f"{off.amount()} {'before' if off.n < 0 else 'after'}"


def today_aliases(plan: Plan) -> set[str]:
    """Names the question gives today: ``"the palindrome day of 2020"``, ``"christmas eve of
    1937"`` (lowercased), but not dates (``Today is Apr 10, 1985``)."""
    names = {m.group(1).lower() for m in _ALIAS_RE.finditer(plan.premise)}
    return {n for n in names if not re.match(rf"{MONTH_RE} \d", n, re.I)}


def resolve(
    subject: str,
    plan: Plan,
    dates: dict[str, date | None],
    base: Literal | None = None,
    previous: Claim | None = None,
) -> tuple[tuple, date, str] | None:
    """``(key, date, why)`` of a subject under the facts' ``dates``; None if unreadable.
    ``previous`` is the claim before in the same step, which ``that`` refers to."""
    s = " ".join(_LEADING.sub("", subject.strip()).split()).replace("’", "'")
    low, today = s.lower(), dates.get("today")
    if low in ("that", "this") and previous is not None:
        return previous.key, previous.expected, previous.why
    if (low in _TODAY or low in today_aliases(plan)) and today:
        return ("fact", "today"), today, explain(plan, "today", dates)
    m = re.fullmatch(rf"(?:the date of )?the ({EVENT_RE})(?:'s date)?", low)
    if m and plan.fact(m.group(1)) and (d := dates.get(m.group(1))):
        return ("fact", m.group(1)), d, explain(plan, m.group(1), dates)
    m = _FROM_LITERAL_RE.fullmatch(s)
    if m and base is not None and base.value and (k := number(m.group("n"))) is not None:
        off = Offset(-k if m.group("rel").lower() == "before" else k, m.group("unit").lower())
        d = off.apply(base.value)
        key = ("offset", off.key) if base.value == today else ("from", base.value, off.key)
        return (
            (key, d, f"{_describe(off)} {long_date(base.value)} is {long_date(d)}") if d else None
        )
    off = parse_offset(low)
    if off is not None and today and (d := off.apply(today)):
        if off.n == 0:
            return ("fact", "today"), today, explain(plan, "today", dates)
        return (
            ("offset", off.key),
            d,
            f"{_describe(off)} today ({long_date(today)}) is {long_date(d)}",
        )
    return None


def _claim_starts(sentence: str) -> list[int]:
    """Where the claim may start: after the last ``, then`` / ``, so``; in an ``If``/``Since``
    sentence without them after a comma (rightmost first); and the sentence start."""
    starts = [m.end() for m in re.finditer(r", (?:then|so) ", sentence, re.I)][-1:]
    if not starts and re.match(r"(?:if|since|because) ", sentence, re.I):
        starts = [m.end() for m in re.finditer(r", ", sentence)][::-1]
    return [*starts, 0]


def _quotes_question(sentence: str, plan: Plan) -> bool:
    """Whether a sentence only repeats the question's text (4 words or more): it states no
    new date, so there is nothing to check."""

    def norm(x: str) -> str:
        return " " + " ".join(re.sub(r"[.,]", " ", x.replace("’", "'").lower()).split()) + " "

    quote = norm(sentence)
    return len(quote.split()) >= 4 and quote in norm(plan.premise)


def _read_claim(
    text: str, at: int, plan: Plan, dates: dict[str, date | None], previous: Claim | None
) -> Claim | None:
    for rx in _CLAIM_RES:
        m = rx.fullmatch(text, at)
        if m:
            claim = _claim_of(m, text, plan, dates, previous)
            if claim is not None:
                return claim
    return None


def _claim_of(
    m: re.Match[str], text: str, plan: Plan, dates: dict[str, date | None], previous: Claim | None
) -> Claim | None:
    subject = "today" if m.group("subj").lower() == "it" else m.group("subj")
    base = None
    fm = _FROM_LITERAL_RE.fullmatch(_LEADING.sub("", subject))
    if fm:
        start = m.start("subj") + subject.rindex(fm.group("base"))
        base = Literal(fm.group("base"), start, parse_date(fm.group("base")))
    res = resolve(subject, plan, dates, base, previous)
    if res is None:
        return None
    literals: list[Literal] = []
    vs, ve = m.span("vals")
    cuts = [x for sep in _VALUE_SEP_RE.finditer(text, vs, ve) for x in sep.span()]
    bounds = [vs, *cuts, ve]
    for a, b in zip(bounds[0::2], bounds[1::2], strict=True):
        found = list(DATE_FIND_RE.finditer(text, a, b))
        if not found:
            continue  # a description such as "the first day of 1900"
        if len(found) > 1 or not re.fullmatch(DATE_RE, _FILLER_RE.sub("", text[a:b])):
            return None  # a date inside other words: not a claim this reader understands
        literals.append(Literal(found[0].group(0), found[0].start(), parse_date(found[0].group(0))))
    if not literals:
        return None
    key, expected, why = res
    return Claim(subject, key, expected, why, tuple(literals), base)


def read_step(text: str, plan: Plan, dates: dict[str, date | None]) -> list[Claim] | None:
    """The claims of a step, or None when a sentence with a date cannot be read as claims
    (or the step states no date at all). Sentences repeating the question are skipped."""
    claims: list[Claim] = []
    quoted = False
    offset = 0
    for sentence in sentences(text):
        start = text.index(sentence, offset)
        offset = start + len(sentence)
        if _quotes_question(sentence, plan):
            quoted = True
            continue
        if not DATE_FIND_RE.search(sentence):
            continue
        previous = claims[-1] if claims else None
        for at in _claim_starts(sentence):
            claim = _read_claim(text[:offset], start + at, plan, dates, previous)
            if claim is not None:
                break
        else:
            return None
        claims.append(claim)
    return claims if claims or quoted else None


def literal_like(example: str, d: date) -> str:
    """Date d written in the style of literal ``example``: numeric padded or not, month name
    full or abbreviated (with its dot), ordinal day suffix or not.

    >>> literal_like("Sept. 1st, 2021", date(2021, 9, 8)), literal_like("6/8/2019", date(2019, 6, 9))
    ('Sept. 8th, 2021', '6/9/2019')
    """
    if "/" in example:
        return mdy(d) if re.match(r"\d{2}/\d{2}/", example) else f"{d.month}/{d.day}/{d.year}"
    token = example.split(" ")[0]
    full = long_date(d).split(" ")[0]
    if token.rstrip(".").lower() in {m.lower() for m in MONTHS}:
        name = full
    else:
        name = "Sept" if d.month == 9 and token.startswith("Sept") else full[:3]
        name += "." if token.endswith(".") and name != "May" else ""
    suffix = ordinal_suffix(d.day) if re.search(r"\d(?:st|nd|rd|th),", example) else ""
    return f"{name} {d.day}{suffix}, {d.year}"


# ---------------------------------------------------------------- checking helpers


def claim_error(claim: Claim, plan: Plan, dates: dict[str, date | None]) -> tuple[str, str] | None:
    """``(segment, reason)`` of the first wrong literal of a claim, or None."""
    if claim.base is not None:
        known = {d for d in dates.values() if d}
        if claim.base.value is None:
            return claim.base.text, f"{claim.base.text} is not a valid date"
        if claim.base.value not in known:
            today = dates["today"]
            return (
                claim.base.text,
                f"{long_date(claim.base.value)} is not today's date ({long_date(today)})",
            )  # type: ignore[arg-type]
    correct: Literal | None = None
    for lit in claim.literals:
        if lit.value is None:
            return lit.text, f"{lit.text} is not a valid date"
        if lit.value == claim.expected:
            correct = correct or lit
            continue
        x = claim.expected
        if "/" in lit.text and correct is not None:
            return lit.text, f"{correct.text} is {mdy(x)} in MM/DD/YYYY"
        if "/" in lit.text and (lit.value.day, lit.value.month) == (x.month, x.day):
            return lit.text, f"{long_date(x)} is written {mdy(x)} in MM/DD/YYYY, month first"
        return lit.text, claim.why
    return None
