"""Calendar arithmetic and date literals for the date understanding task.

Month and year shifts clamp to the end of a shorter month (one month before 03/31/2008 is
02/29/2008), as BIG-Bench Hard's targets do::

    >>> Offset(-1, "month").apply(date(2008, 3, 31))
    datetime.date(2008, 2, 29)
    >>> parse_offset("one week ago from today")
    Offset(n=-1, unit='week')
    >>> parse_date("Sept. 1st, 2021"), long_date(date(2021, 9, 1)), mdy(date(2021, 9, 1))
    (datetime.date(2021, 9, 1), 'September 1, 2021', '09/01/2021')

The holidays and wedding anniversaries the questions name are written here once, for the
question reader and the generator.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = list(calendar.month_name)[1:]
WEEKDAYS = list(calendar.day_name)
_MONTH_ALIASES = {m.lower(): i for i, m in enumerate(MONTHS, 1)}
_MONTH_ALIASES |= {m[:3].lower(): i for i, m in enumerate(MONTHS, 1)}
_MONTH_ALIASES |= {"sept": 9, "feburary": 2}
MONTH_RE = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Feburary|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_NAMED = rf"{MONTH_RE} \d{{1,2}}(?:st|nd|rd|th)?, \d{{4}}"
_NUMERIC = r"\d{1,2}/\d{1,2}/\d{4}"
DATE_RE = rf"(?:{_NAMED}|{_NUMERIC})"


#: a date literal inside running text
DATE_FIND_RE = re.compile(rf"(?<![\w/])(?:{_NAMED}|{_NUMERIC})(?![\w/])")
_NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()
NUMBER_WORDS = {w: i for i, w in enumerate(_NUMBERS)} | {
    "a": 1,
    "an": 1,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
}
NUM_RE = r"(?:\d+|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"
ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth"
    " fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth twenty-first"
    " twenty-second twenty-third twenty-fourth twenty-fifth twenty-sixth twenty-seventh"
    " twenty-eighth twenty-ninth thirtieth thirty-first"
).split()
ORD_RE = "(?:" + "|".join(sorted(ORDINALS, key=len, reverse=True)) + ")"
EVENTS = (
    "concert party exam wedding trip meeting game interview parade picnic workshop festival"
).split()
EVENT_RE = "(?:" + "|".join(EVENTS) + ")"


def long_date(d: date) -> str:
    """``date(1937, 12, 24)`` -> ``"December 24, 1937"``."""
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def mdy(d: date) -> str:
    """``date(1937, 12, 4)`` -> ``"12/04/1937"`` (the options' format)."""
    return f"{d.month:02d}/{d.day:02d}/{d.year:04d}"


def make_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    """A date literal: ``Dec 24, 1937``, ``Sept. 1st, 2021``, ``12/24/1937`` or ``6/8/2019``
    (month first). None when the text is not one literal or names no real day."""
    text = text.strip()
    if re.fullmatch(_NUMERIC, text):
        m, d, y = (int(x) for x in text.split("/"))
        return make_date(y, m, d)
    m = re.fullmatch(rf"({MONTH_RE}) (\d{{1,2}})(?:st|nd|rd|th)?, (\d{{4}})", text)
    if not m:
        return None
    return make_date(
        int(m.group(3)), _MONTH_ALIASES[m.group(1).rstrip(".").lower()], int(m.group(2))
    )


def month_number(name: str) -> int | None:
    return _MONTH_ALIASES.get(name.rstrip(".").lower())


def number(word: str) -> int | None:
    """``"10"`` -> 10, ``"ten"`` -> 10, ``"a"`` -> 1."""
    word = word.lower()
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word)


def ordinal_number(word: str) -> int | None:
    word = word.lower()
    if re.fullmatch(r"\d+(?:st|nd|rd|th)", word):
        return int(word[:-2])
    return ORDINALS.index(word) + 1 if word in ORDINALS else None


def add_months(d: date, n: int) -> date | None:
    """Shift by n months, clamping the day to the month's length; None out of range."""
    k = d.year * 12 + d.month - 1 + n
    y, m = divmod(k, 12)
    if not 1 <= y <= 9999:
        return None
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


@dataclass(frozen=True)
class Offset:
    """A signed amount of one unit, e.g. ``Offset(-10, "day")`` for "10 days ago"."""

    n: int
    unit: str

    def apply(self, d: date) -> date | None:
        if self.unit in ("day", "week"):
            try:
                return d + timedelta(days=self.n * (7 if self.unit == "week" else 1))
            except OverflowError:
                return None
        return add_months(d, self.n * (12 if self.unit == "year" else 1))

    @property
    def key(self) -> tuple[str, int]:
        """Unit-free identity: 1 week == 7 days, 1 year == 12 months."""
        if self.unit in ("day", "week"):
            return ("day", self.n * (7 if self.unit == "week" else 1))
        return ("month", self.n * (12 if self.unit == "year" else 1))

    def amount(self) -> str:
        """``"10 days"``, ``"1 week"``."""
        k = abs(self.n)
        return f"{k} {self.unit}{'' if k == 1 else 's'}"


_FIXED_OFFSETS = {
    "today": 0,
    "today's date": 0,
    "now": 0,
    "tomorrow": 1,
    "tomorrow's date": 1,
    "yesterday": -1,
    "yesterday's date": -1,
    "the day before yesterday": -2,
    "the day after tomorrow": 2,
}
_AMOUNT = rf"(?P<n>{NUM_RE}) (?P<unit>day|week|month|year)s?"
_BEFORE_RE = re.compile(rf"{_AMOUNT} (?:ago(?: from today)?|before today|earlier)")
_AFTER_RE = re.compile(rf"{_AMOUNT} (?:from today|after today|later(?: from today)?|from now)")
_HOURS_RE = re.compile(
    r"(?P<n>\d+) hours (?:(?P<ago>ago(?: from today)?|before today|earlier)"
    r"|later(?: from today)?|from now|from today|after today)"
)


def parse_offset(phrase: str) -> Offset | None:
    """The offset from today a phrase names: ``"10 days ago"`` -> ``Offset(-10, "day")``,
    ``"one week from today"`` -> ``Offset(1, "week")``, ``"24 hours later"`` -> 1 day."""
    p = " ".join(phrase.strip().lower().split())
    if p in _FIXED_OFFSETS:
        return Offset(_FIXED_OFFSETS[p], "day")
    for prefix in ("the date of ", "the date "):
        if p.startswith(prefix):
            return parse_offset(p[len(prefix) :])
    for rx, sign in ((_BEFORE_RE, -1), (_AFTER_RE, 1)):
        m = rx.fullmatch(p)
        if m and (k := number(m.group("n"))) is not None:
            return Offset(sign * k, m.group("unit"))
    m = _HOURS_RE.fullmatch(p)
    if m and int(m.group("n")) % 24 == 0:
        return Offset((-1 if m.group("ago") else 1) * int(m.group("n")) // 24, "day")
    return None


#: the holidays questions name, with their (month, day); day 0: see :func:`holiday`
HOLIDAYS = {
    "Christmas Eve": (12, 24),
    "Christmas Day": (12, 25),
    "Christmas": (12, 25),
    "New Year's Eve": (12, 31),
    "New Year's Day": (1, 1),
    "Halloween": (10, 31),
    "Valentine's Day": (2, 14),
    "the US Independence Day": (7, 4),
    "the US Thanksgiving": (11, 0),  # the fourth Thursday of November
}
ANNIVERSARIES = {"silver": 25, "pearl": 30, "ruby": 40, "golden": 50, "diamond": 60}


def holiday(name: str, year: int) -> date | None:
    """``holiday("the US Thanksgiving", 2001)`` -> ``date(2001, 11, 22)``."""
    if not 1 <= year <= 9999 or name not in HOLIDAYS:
        return None
    month, day = HOLIDAYS[name]
    if day == 0:  # fourth Thursday: the first Thursday is day 1..7
        first = date(year, month, 1)
        day = 1 + (3 - first.weekday()) % 7 + 21
    return date(year, month, day)


def ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
