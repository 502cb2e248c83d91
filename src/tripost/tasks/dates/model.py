"""Date understanding questions taken apart into a :class:`Plan`.

A plan is a chain of *facts* (named dates, the last one ``today``), the target offset from
today and the options. Two kinds of premise are read:

* the statements BIG-Bench Hard uses, each matched in full by one template (anything else
  gives None: never a guess)::

      The deadline is Jun 1, 2021, which is 2 days away from now.   -> today = 05/30/2021

* chains of events, the generator's harder (*unseen*) questions::

      The concert is on Christmas Eve of 1937. The party is 3 days after the concert.
      Today is 2 weeks after the party.   -> concert 12/24/1937, party 12/27/1937, today 01/10/1938

Readings that are ambiguous give None too: a birthday or anniversary of February 29 in a year
without one, a weekday that contradicts the date given, etc.

The gold rationale of a plan is written by :func:`render_gold`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from tripost.tasks.dates.calendar import (
    ANNIVERSARIES,
    DATE_RE,
    EVENT_RE,
    HOLIDAYS,
    MONTH_RE,
    NUM_RE,
    ORD_RE,
    WEEKDAYS,
    Offset,
    add_months,
    holiday,
    long_date,
    make_date,
    mdy,
    month_number,
    number,
    ordinal_number,
    parse_date,
    parse_offset,
)
from tripost.trajectory import FINAL, Attempt, Step

# ---------------------------------------------------------------- plans


@dataclass(frozen=True)
class Fact:
    """A named date of the question: ``today`` or an event (``"party"``). It is either
    ``fixed`` or ``offset`` from the fact ``base``; ``premise`` restates the sentence(s) it
    comes from; ``step`` says whether the gold rationale spends a step computing it."""

    name: str
    premise: str
    fixed: date | None = None
    base: str | None = None
    offset: Offset | None = None
    step: bool = True


@dataclass(frozen=True)
class Plan:
    facts: tuple[Fact, ...]
    target_phrase: str
    target: Offset
    options: dict[str, str] = field(default_factory=dict)  # "(A)" -> "12/11/1937"
    premise: str = ""  # as the question writes it

    def dates(self, overrides: dict[str, date] | None = None) -> dict[str, date | None]:
        """Every fact's date, computed in order; ``overrides`` replaces some (and so moves
        the facts computed from them), as an early error in a rationale would."""
        out: dict[str, date | None] = {}
        for f in self.facts:
            if overrides and f.name in overrides:
                out[f.name] = overrides[f.name]
            elif f.fixed is not None:
                out[f.name] = f.fixed
            else:
                base = out.get(f.base or "")
                out[f.name] = f.offset.apply(base) if base and f.offset else None
        return out

    def fact(self, name: str) -> Fact | None:
        return next((f for f in self.facts if f.name == name), None)

    @property
    def today(self) -> date | None:
        return self.dates().get("today")

    def target_date(self, today: date | None = None) -> date | None:
        today = today or self.today
        return self.target.apply(today) if today else None

    def letter_of(self, d: date | None) -> str | None:
        """The option showing date d, if exactly one does."""
        hits = [k for k, v in self.options.items() if d is not None and v == mdy(d)]
        return hits[0] if len(hits) == 1 else None

    @property
    def answer(self) -> str | None:
        return self.letter_of(self.target_date())

    @property
    def n_steps(self) -> int:
        """Steps of the gold rationale: one per computed fact, one for the target."""
        return sum(f.step for f in self.facts) + (self.target.n != 0)


_QUESTION_RE = re.compile(
    r"(?P<premise>\S.*?) What is the date (?P<phrase>[^?\n]+?) in MM/DD/YYYY\?", re.S
)
_OPTION_RE = re.compile(r"(\([A-F]\)) (\d{2}/\d{2}/\d{4})")


def split_question(question: str) -> tuple[str, str, dict[str, str]] | None:
    """``(premise, target phrase, options)`` of a question written as BBH writes it."""
    head, sep, tail = question.strip().partition("\nOptions:\n")
    m = _QUESTION_RE.fullmatch(head)
    if not m or not sep:
        return None
    options: dict[str, str] = {}
    for line in tail.split("\n"):
        om = _OPTION_RE.fullmatch(line.strip())
        if not om or om.group(1) in options:
            return None
        options[om.group(1)] = om.group(2)
    return m.group("premise"), m.group("phrase"), options


def parse_question(question: str) -> Plan | None:
    """The plan of a question, or None when any part of it is not understood."""
    parts = split_question(question)
    if parts is None:
        return None
    premise, phrase, options = parts
    target = parse_offset(phrase)
    facts = parse_premise(premise)
    if target is None or not facts or facts[-1].name != "today":
        return None
    plan = Plan(tuple(facts), phrase, target, options, premise)
    if any(v is None for v in plan.dates().values()) or plan.target_date() is None:
        return None
    return plan


_SPLIT_RE = re.compile(
    r"(?<=\.)"
    + "".join(rf"(?<!\b{m}\.)" for m in ("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep"))
    + r"(?<!\bSept\.)(?<!\bOct\.)(?<!\bNov\.)(?<!\bDec\.) (?=[A-Z0-9])"
)
_LOWER = ("Today", "Yesterday", "Tomorrow", "The ", "This ", "It ", "In ", "On ", "She ")


def sentences(text: str) -> list[str]:
    """Sentences of a premise, keeping ``Sept. 1st`` whole."""
    return _SPLIT_RE.split(text.strip())


def restate(premise: str) -> str:
    """A premise as the clause after "If": sentences joined, first words lowercased.

    >>> restate("Jane and John married on Jan 2, 1958. It is their 5-year anniversary today.")
    'Jane and John married on Jan 2, 1958 and it is their 5-year anniversary today'
    """
    parts = [s.rstrip(".").removeprefix("Therefore, ") for s in sentences(premise)]
    parts = [s[0].lower() + s[1:] if s.startswith(_LOWER) else s for s in parts]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# ---------------------------------------------------------------- statements BBH uses

NAME = r"[A-Z][a-z]+"
HOLIDAY_RE = "(?:" + "|".join(sorted(map(re.escape, HOLIDAYS), key=len, reverse=True)) + ")"
_WD = "(?:" + "|".join(WEEKDAYS) + ")"
_D = rf"(?P<d>{DATE_RE})"
_Y = r"(?P<y>\d{4})"
_N_DAYS = rf"(?P<n>{NUM_RE}) days?"
Resolver = Callable[[re.Match[str]], date | None]
_TEMPLATES: list[tuple[re.Pattern[str], Resolver]] = []


def _template(*patterns: str) -> Callable[[Resolver], Resolver]:
    def register(fn: Resolver) -> Resolver:
        _TEMPLATES.extend((re.compile(p), fn) for p in patterns)
        return fn

    return register


def _shift(d: date | None, days: int) -> date | None:
    try:
        return d + timedelta(days=days) if d else None
    except OverflowError:
        return None


def _years_later(d: date | None, n: int) -> date | None:
    """An anniversary n years after d; None for February 29 in a year without one."""
    if d is None or n <= 0:
        return None
    out = add_months(d, 12 * n)
    return out if out and out.day == d.day else None


def _n(m: re.Match[str]) -> int:
    return number(m.group("n")) or 0


@_template(
    rf"Today is {_D}\.",
    rf"It is {_D} today\.",
    rf"Today, {_D}, is a day that we will never forget\.",
    rf"The current local time is \d{{1,2}}:\d{{2}} [ap]m of {_D}\.",
    rf"Today is {_D}\. {NAME}'s appointment will be {_N_DAYS} later\.",
)
def _today_is(m: re.Match[str]) -> date | None:
    return parse_date(m.group("d"))


@_template(
    rf"Yesterday was {_D}\.",
    rf"Yesterday, {_D}, {NAME} ate \d+ pizzas and \d+ wings\.",
)
def _yesterday(m: re.Match[str]) -> date | None:
    return _shift(parse_date(m.group("d")), 1)


@_template(
    rf"Yesterday was {_D}\. Today could not be (?P<bad>\d{{1,2}}/\d{{1,2}}/\d{{4}}) because "
    rf"(?P<mon>{MONTH_RE}) has only (?P<len>\d+) days\."
)
def _yesterday_month_end(m: re.Match[str]) -> date | None:
    d = parse_date(m.group("d"))
    if d is None:
        return None
    bad = tuple(int(x) for x in m.group("bad").split("/"))
    ok = bad == (d.month, d.day + 1, d.year) and month_number(m.group("mon")) == d.month
    nxt = _shift(d, 1)
    return nxt if ok and int(m.group("len")) == d.day and nxt and nxt.month != d.month else None


@_template(rf"The day before yesterday was {_D}\.")
def _day_before_yesterday(m: re.Match[str]) -> date | None:
    return _shift(parse_date(m.group("d")), 2)


@_template(
    rf"Tomorrow is {_D}\.",
    rf"{NAME} booked a flight for tomorrow, {_D}\.",
    rf"Today's meeting is rescheduled to \d{{1,2}} [ap]m tomorrow, {_D}\.",
    # the weekday is not read: BBH's "(Tue, 7/9/1972)" names a Sunday, and its targets follow
    # the date
    rf"{NAME} scheduled \d+ ap?pointments with \d+ p(?:eo|oe)ple for tomorrow "
    rf"\((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), {_D}\)\.",
)
def _tomorrow(m: re.Match[str]) -> date | None:
    return _shift(parse_date(m.group("d")), -1)


@_template(rf"It was {_D} a week ago\.")
def _week_ago(m: re.Match[str]) -> date | None:
    return _shift(parse_date(m.group("d")), 7)


@_template(rf"The deadline is {_D}, which is {_N_DAYS} away from now\.")
def _deadline(m: re.Match[str]) -> date | None:
    return _shift(parse_date(m.group("d")), -_n(m))


@_template(
    rf"The concert was scheduled to be on {_D}, but was delayed by {_N_DAYS} to today\.",
    rf"{NAME} quit(?:ed)? (?:her|his) job on {_D}\. (?P<n>\d+) days have passed since then\.",
    rf"On {_D} {NAME} bought (?P<n>\d+) eggs\. (?:She|He) ate one per day\. "
    r"Today (?:she|he) ran out of eggs\.",
)
def _days_after(m: re.Match[str]) -> date | None:
    return _shift(parse_date(m.group("d")), _n(m))


@_template(
    rf"{_D} is like yesterday to {NAME}, but that is actually (?P<n>{NUM_RE}) years ago\.",
    rf"{NAME} and {NAME} married on {_D}\. It is their (?P<n>\d+)-year anniversary today\.",
    rf"{NAME} was born on {_D}\. Today is (?:her|his) (?P<n>\d+)-year-old birthday\.",
)
def _years_after(m: re.Match[str]) -> date | None:
    return _years_later(parse_date(m.group("d")), _n(m))


@_template(
    rf"{NAME} and {NAME} married on {_D}\. Today is their "
    rf"(?P<kind>{'|'.join(ANNIVERSARIES)}) wedding anniversary\."
)
def _named_anniversary(m: re.Match[str]) -> date | None:
    return _years_later(parse_date(m.group("d")), ANNIVERSARIES[m.group("kind")])


@_template(
    rf"{NAME} was born on the last day of Feb(?:ruary|urary) in {_Y}\. "
    r"Today is (?:her|his) (?P<n>\d+)-year-old birthday\."
)
def _born_end_of_february(m: re.Match[str]) -> date | None:
    y = int(m.group("y"))
    return _years_later(date(y, 2, calendar.monthrange(y, 2)[1]), _n(m))


@_template(
    rf"{NAME} got (?:her|his) job in {_Y}\. Today is (?:her|his) (?P<n>\d+)-year work "
    rf"anniversary\. (?:She|He) still remembers? that on (?P<mon>{MONTH_RE}) (?P<day>\d{{1,2}}), "
    r"(?:her|his) second day at work, (?:she|he) spilled coffee on (?:her|his) laptop\."
)
def _work_anniversary(m: re.Match[str]) -> date | None:
    second = make_date(int(m.group("y")), month_number(m.group("mon")) or 0, int(m.group("day")))
    first = _shift(second, -1)
    return _years_later(first, _n(m)) if first and first.year == second.year else None


@_template(
    rf"(?:In the US, Thanksgiving is on the fourth Thursday of November\. )?"
    rf"Today is (?P<h>{HOLIDAY_RE}) of {_Y}\."
)
def _holiday(m: re.Match[str]) -> date | None:
    return holiday(m.group("h"), int(m.group("y")))


@_template(
    rf"Today is the palindrome day of {_Y}, because the MMDDYYYY format of the date is the "
    r"same backwards as forwards\."
)
def _palindrome(m: re.Match[str]) -> date | None:
    rev = m.group("y")[::-1]
    return make_date(int(m.group("y")), int(rev[:2]), int(rev[2:]))


@_template(
    rf"(?:Today is|This is|{NAME} is celebrating) the (?P<fl>first|last) day of "
    rf"(?:(?P<mon>{MONTH_RE}) )?{_Y}\."
)
def _first_last_day(m: re.Match[str]) -> date | None:
    y = int(m.group("y"))
    first, last = (month_number(m.group("mon")),) * 2 if m.group("mon") else (1, 12)
    if m.group("fl") == "first":
        return make_date(y, first or 0, 1)
    return make_date(y, last or 0, calendar.monthrange(y, last or 1)[1])


@_template(
    rf"Today is the (?P<fl>first|last) day of the (?P<q>first|second|third|fourth) quarter of {_Y}\."
)
def _quarter(m: re.Match[str]) -> date | None:
    y, q = int(m.group("y")), ordinal_number(m.group("q")) or 1
    if m.group("fl") == "first":
        return date(y, 3 * q - 2, 1)
    return date(y, 3 * q, calendar.monthrange(y, 3 * q)[1])


@_template(rf"Today is the (?P<dd>{ORD_RE}) day of the (?P<mm>{ORD_RE}) month of {_Y}\.")
def _ordinal_day(m: re.Match[str]) -> date | None:
    mm, dd = ordinal_number(m.group("mm")) or 0, ordinal_number(m.group("dd")) or 0
    return make_date(int(m.group("y")), mm, dd)


@_template(
    rf"The first day of {_Y} is an? (?P<wd>{_WD}), and today is the "
    rf"(?P<k>first|second|third|fourth) (?P<wd2>{_WD}) of (?P=y)\."
)
def _nth_weekday(m: re.Match[str]) -> date | None:
    jan1 = date(int(m.group("y")), 1, 1)
    if WEEKDAYS[jan1.weekday()] != m.group("wd"):
        return None
    first = 1 + (WEEKDAYS.index(m.group("wd2")) - jan1.weekday()) % 7
    return date(jan1.year, 1, first + 7 * ((ordinal_number(m.group("k")) or 1) - 1))


@_template(
    rf"(?P<p>{NAME}) thinks today is (?P<a>{DATE_RE}), but (?P<q>{NAME}) thinks today is "
    rf"(?P<b>{DATE_RE})\. (?P<who>{NAME}) is correct\."
)
def _who_is_correct(m: re.Match[str]) -> date | None:
    if m.group("p") == m.group("q") or m.group("who") not in (m.group("p"), m.group("q")):
        return None
    return parse_date(m.group("a" if m.group("who") == m.group("p") else "b"))


@_template(
    rf"{NAME} thought today is (?P<a>{DATE_RE}), but today is in fact (?P<mon>{MONTH_RE}) "
    rf"(?P<day>\d{{1,2}}), which is {_N_DAYS} later\."
)
def _in_fact_later(m: re.Match[str]) -> date | None:
    d = _shift(parse_date(m.group("a")), _n(m))
    stated = (month_number(m.group("mon")), int(m.group("day")))
    return d if d and (d.month, d.day) == stated else None


@_template(
    rf"Today is (?P<m>\d{{1,2}})/(?P<dd>\d{{1,2}}), and it is {NAME}'s (?:first|second|third) "
    rf"time in the year {_Y} to see a meteor shower\.",
    rf"Today is (?P<m>\d{{1,2}})/(?P<dd>\d{{1,2}})\. {NAME} is watching NFL {_Y}\.",
)
def _month_day_and_year(m: re.Match[str]) -> date | None:
    return make_date(int(m.group("y")), int(m.group("m")), int(m.group("dd")))


@_template(
    r"In the UK, people usually put the day before the month when formatting the date\. "
    rf"Therefore, today is (?P<dd>\d{{2}})/(?P<m>\d{{2}})/{_Y} to them\."
)
def _uk(m: re.Match[str]) -> date | None:
    return make_date(int(m.group("y")), int(m.group("m")), int(m.group("dd")))


@_template(
    rf"{NAME} visits the bookstore on the (?P<day>\d{{1,2}}(?:st|nd|rd|th)) of each month "
    rf"starting from the (?P<mon>{MONTH_RE}) of {_Y}\. It is (?:her|his) "
    r"(?P<k>\d+(?:st|nd|rd|th)) visit to the bookstore today\."
)
def _monthly_visit(m: re.Match[str]) -> date | None:
    start = make_date(int(m.group("y")), month_number(m.group("mon")) or 0, 1)
    k, day = ordinal_number(m.group("k")) or 0, ordinal_number(m.group("day")) or 0
    month = add_months(start, k - 1) if start and k >= 1 else None
    return make_date(month.year, month.month, day) if month else None


# ---------------------------------------------------------------- chains of events

_EVENT_ON_RE = re.compile(rf"The (?P<e>{EVENT_RE}) (?:is|was) on {_D}\.")
_EVENT_HOLIDAY_RE = re.compile(
    rf"The (?P<e>{EVENT_RE}) (?:is|was) on (?P<h>{HOLIDAY_RE}) of {_Y}\."
)
_RELATIVE_RE = re.compile(
    rf"(?:The (?P<e>{EVENT_RE}) (?:is|was)|Today is) (?P<n>{NUM_RE}) "
    rf"(?P<unit>day|week|month|year)s? (?P<rel>before|after) the (?P<b>{EVENT_RE})\."
)


def _chain(premise: str) -> list[Fact] | None:
    """Facts of a chain premise: a first event on a date, events relative to earlier ones,
    and last ``Today is <amount> before|after the <event>.``"""
    facts: list[Fact] = []
    for i, s in enumerate(sentences(premise)):
        if i == 0:
            m, h = _EVENT_ON_RE.fullmatch(s), _EVENT_HOLIDAY_RE.fullmatch(s)
            d = parse_date(m.group("d")) if m else h and holiday(h.group("h"), int(h.group("y")))
            if not d:
                return None
            facts.append(Fact((m or h).group("e"), restate(s), fixed=d, step=h is not None))
            continue
        m = _RELATIVE_RE.fullmatch(s)
        name = (m.group("e") or "today") if m else None
        known = {f.name for f in facts}
        if not m or name in known or m.group("b") not in known or "today" in known:
            return None
        k = number(m.group("n"))
        if not k:
            return None
        off = Offset(k if m.group("rel") == "after" else -k, m.group("unit"))
        facts.append(Fact(name, restate(s), base=m.group("b"), offset=off))
    return facts


def parse_premise(premise: str) -> list[Fact] | None:
    """The facts of a premise: one BBH statement template matched in full, or a chain."""
    for rx, resolve in _TEMPLATES:
        m = rx.fullmatch(premise)
        if m:
            d = resolve(m)
            return [Fact("today", restate(premise), fixed=d)] if d else None
    return _chain(premise)


def explain(plan: Plan, name: str, dates: dict[str, date | None] | None = None) -> str:
    """Why fact ``name`` has its date, for feedback: ``"3 days after the concert (June 1,
    1943) is June 4, 1943"``, or ``"today's date is May 30, 2021"``."""
    dates = dates or plan.dates()
    f, d = plan.fact(name), dates.get(name)
    if f is None or d is None:
        return f"the date of {name} is unknown"
    if f.offset is not None and f.base is not None and dates.get(f.base):
        rel = "before" if f.offset.n < 0 else "after"
        base = long_date(dates[f.base])  # type: ignore[arg-type]
        return f"{f.offset.amount()} {rel} the {f.base} ({base}) is {long_date(d)}"
    what = "today's date" if name == "today" else f"the date of the {name}"
    return f"{what} is {long_date(d)}"


LETTER_RE = re.compile(r"\(([A-Fa-f])\)")
ANSWER_RE = re.compile(r"answer is \(([A-Fa-f])\)")


def _target_subject(off: Offset) -> str:
    """``"10 days before today"``, ``"The date tomorrow"``."""
    if off.key == ("day", 1):
        return "The date tomorrow"
    if off.key == ("day", -1):
        return "The date yesterday"
    return f"{off.amount()} {'before' if off.n < 0 else 'after'} today"


def render_gold(plan: Plan, answer: str) -> Attempt:
    """The gold rationale of a plan: one step per computed fact, one for the target."""
    dates = plan.dates()
    texts: list[str] = []
    for f in plan.facts:
        if not f.step:
            continue
        d = dates[f.name]
        assert d is not None
        subject = "today's date" if f.name == "today" else f"the date of the {f.name}"
        tail = f", that is {mdy(d)}" if f.name == "today" and plan.target.n == 0 else ""
        texts.append(f"If {f.premise}, then {subject} is {long_date(d)}{tail}.")
    target = plan.target_date()
    if plan.target.n != 0 and target is not None:
        texts.append(
            f"{_target_subject(plan.target)} is {long_date(target)}, that is {mdy(target)}."
        )
    steps = [Step(str(i), t) for i, t in enumerate(texts, 1)]
    return Attempt((*steps, Step(FINAL, f"So the answer is {answer}.")))
