"""Random date understanding questions, written as BIG-Bench Hard writes them.

*Seen* questions use the kinds of statement BBH uses (with new dates, amounts and names) or a
single event (``The exam is on May 2, 1990. Today is 3 days after the exam.``): 1-2 steps.
*Unseen* questions chain events, 3 or more steps::

    The concert is on Christmas Eve of 1937. The party is 3 days after the concert. Today is
    2 weeks after the party. What is the date 10 days ago in MM/DD/YYYY?
    Options:
    (A) 12/31/1937
    ...

Every statement generator computes today's date itself (independently of the parser in
:mod:`tripost.tasks.dates.model`, which the tests compare against it) and returns ``(premise, today)``.

The errors a small model makes are written into a rationale by :func:`wrong_option`,
:func:`wrong_rewrite` and :func:`propagate`, for ``DateUnderstanding.inject_error``.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable
from datetime import date, timedelta

from tripost.tasks.dates.calendar import (
    ANNIVERSARIES,
    EVENTS,
    HOLIDAYS,
    MONTHS,
    ORDINALS,
    WEEKDAYS,
    Offset,
    add_months,
    make_date,
    mdy,
    ordinal_suffix,
)
from tripost.tasks.dates.check import Claim, Literal, literal_like, read_step, resolve
from tripost.tasks.dates.model import ANSWER_RE, Plan
from tripost.trajectory import FINAL, Attempt, Step

NAMES = ["Jane", "Mary", "Anna", "Lisa", "Emma", "Sara", "Kate", "Olivia"]
OTHER = ["John", "Tom", "Mark", "Paul", "Peter", "David"]
#: the holidays on a fixed day, under the names questions write ("Christmas" is an alias)
HOLIDAY_DAYS = {h: md for h, md in HOLIDAYS.items() if md[1] and h != "Christmas"}
TARGETS = [
    "today", "tomorrow", "yesterday", "24 hours later", "one week ago from today",
    "one week from today", "10 days ago", "a month ago", "one year ago from today",
]  # fmt: skip
Premise = tuple[str, date]
#: the option sets of a question: BBH's distractors (:func:`options_for`), or ``balanced`` ones
#: that do not give the answer away (:func:`balanced_options`)
OPTION_SETS = ("bbh", "balanced")


# ---------------------------------------------------------------- formats


def rand_date(rng: random.Random, lo: int = 1900, hi: int = 2030) -> date:
    return date(lo, 1, 1) + timedelta(days=rng.randrange((date(hi, 12, 31) - date(lo, 1, 1)).days))


def abbr(d: date) -> str:
    """``Jan 2, 1958``"""
    return f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}"


def full(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def num(rng: random.Random, d: date) -> str:
    """``06/18/2019`` or ``6/18/2019``."""
    return rng.choice([mdy(d), f"{d.month}/{d.day}/{d.year}"])


def any_format(rng: random.Random, d: date) -> str:
    return rng.choice([abbr, full, lambda x: num(rng, x)])(d)


def ordinal_date(d: date, dotted: bool = False) -> str:
    """``May 9th, 2017``; dotted: ``Sept. 1st, 2021``."""
    name = MONTHS[d.month - 1]
    if dotted and len(name) > 4:
        name = ("Sept" if d.month == 9 else name[:3]) + "."
    return f"{name} {d.day}{ordinal_suffix(d.day)}, {d.year}"


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _not_feb29(rng: random.Random, lo: int, hi: int) -> date:
    d = rand_date(rng, lo, hi)
    return d if (d.month, d.day) != (2, 29) else d - timedelta(days=1)


# ---------------------------------------------------------------- BBH-like statements


def _today_is(rng: random.Random) -> Premise:
    t, who = rand_date(rng), rng.choice(NAMES)
    return rng.choice([
        f"Today is {any_format(rng, t)}.",
        f"It is {num(rng, t)} today.",
        f"Today, {num(rng, t)}, is a day that we will never forget.",
        f"The current local time is {rng.randint(1, 12)}:{rng.randint(0, 59):02d} "
        f"{rng.choice(['am', 'pm'])} of {num(rng, t)}.",
        f"Today is {abbr(t)}. {who}'s appointment will be {_days(rng.randint(1, 9))} later.",
    ]), t  # fmt: skip


def _yesterday(rng: random.Random) -> Premise:
    y = rand_date(rng)
    if rng.random() < 0.2:  # the last day of a month, as BBH's "Today could not be 12/32/1929"
        y = date(y.year, y.month, calendar.monthrange(y.year, y.month)[1])
        bad = f"{y.month}/{y.day + 1}/{y.year}"
        text = (
            f"Yesterday was {num(rng, y)}. Today could not be {bad} because "
            f"{MONTHS[y.month - 1]} has only {y.day} days."
        )
        return text, y + timedelta(days=1)
    a, b, who = rng.randint(1, 5), rng.randint(2, 12), rng.choice(NAMES)
    return rng.choice([
        f"Yesterday was {any_format(rng, y)}.",
        f"Yesterday, {abbr(y)}, {who} ate {a} pizzas and {b} wings.",
        f"The day before yesterday was {any_format(rng, y - timedelta(days=1))}.",
    ]), y + timedelta(days=1)  # fmt: skip


def _tomorrow(rng: random.Random) -> Premise:
    m = rand_date(rng)
    wd, who = WEEKDAYS[m.weekday()][:3], rng.choice(NAMES)
    hour, a, b = (
        f"{rng.randint(1, 12)} {rng.choice(['am', 'pm'])}",
        rng.randint(2, 6),
        rng.randint(2, 9),
    )
    return rng.choice([
        f"Tomorrow is {any_format(rng, m)}.",
        f"{who} booked a flight for tomorrow, {abbr(m)}.",
        f"Today's meeting is rescheduled to {hour} tomorrow, {num(rng, m)}.",
        f"{who} scheduled {a} appointments with {b} people for tomorrow ({wd}, {num(rng, m)}).",
    ]), m - timedelta(days=1)  # fmt: skip


def _days_from_event(rng: random.Random) -> Premise:
    t, who = rand_date(rng, 1901, 2029), rng.choice(NAMES)
    kind = rng.randrange(5)
    if kind == 0:
        return f"It was {ordinal_date(t - timedelta(days=7), dotted=True)} a week ago.", t
    if kind == 1:
        n = rng.randint(1, 30)
        return (
            f"The deadline is {abbr(t + timedelta(days=n))}, which is {_days(n)} away from now.",
            t,
        )
    if kind == 2:
        n = rng.randint(1, 5)
        by = "one day" if n == 1 else _days(n)
        d = mdy(t - timedelta(days=n))
        return f"The concert was scheduled to be on {d}, but was delayed by {by} to today.", t
    if kind == 3:
        n = rng.randint(2, 400)
        d = abbr(t - timedelta(days=n))
        return f"{who} quit her job on {d}. {n} days have passed since then.", t
    n = rng.randint(5, 60)
    start = ordinal_date(t - timedelta(days=n))
    return f"On {start} {who} bought {n} eggs. She ate one per day. Today she ran out of eggs.", t


def _years_from_event(rng: random.Random) -> Premise:
    who, other = rng.choice(NAMES), rng.choice(OTHER)
    kind = rng.randrange(5)
    if kind == 4:  # born on the last day of February
        y, n = rng.randint(1900, 2010), rng.randint(1, 20)
        if calendar.isleap(y) and not calendar.isleap(y + n):
            y += 1
        t = date(y + n, 2, 29 if calendar.isleap(y) else 28)
        text = f"{who} was born on the last day of February in {y}. Today is her {n}-year-old birthday."
        return text, t
    if kind == 3:  # work anniversary, told through the second day at work
        y, n = rng.randint(1950, 2020), rng.randint(1, 10)
        first = _not_feb29(rng, y, y)
        first = first if (first.month, first.day) != (12, 31) else first - timedelta(days=1)
        second = first + timedelta(days=1)
        text = (
            f"{who} got her job in {y}. Today is her {n}-year work anniversary. She still remembers "
            f"that on {MONTHS[second.month - 1][:3]} {second.day}, her second day at work, she "
            "spilled coffee on her laptop."
        )
        return text, first.replace(year=y + n)
    d0 = _not_feb29(rng, 1900, 1990)
    if kind == 2 and rng.random() < 0.5:
        kind_name = rng.choice(list(ANNIVERSARIES))
        text = f"{who} and {other} married on {abbr(d0)}. Today is their {kind_name} wedding anniversary."
        return text, d0.replace(year=d0.year + ANNIVERSARIES[kind_name])
    n = rng.randint(2, 12) if kind == 0 else rng.randint(1, 30)
    t = d0.replace(year=d0.year + n)
    return [
        f"{abbr(d0)} is like yesterday to {who}, but that is actually {_word(n)} years ago.",
        f"{who} was born on {abbr(d0)}. Today is her {n}-year-old birthday.",
        f"{who} and {other} married on {abbr(d0)}. It is their {n}-year anniversary today.",
    ][kind], t


def _word(n: int) -> str:
    words = "zero one two three four five six seven eight nine ten eleven twelve".split()
    return words[n] if n < len(words) else str(n)


def _special_day(rng: random.Random) -> Premise:
    y, who = rng.randint(1900, 2030), rng.choice(NAMES)
    kind = rng.randrange(6)
    if kind == 0:
        h = rng.choice(list(HOLIDAY_DAYS) + ["Thanksgiving"])
        if h == "Thanksgiving":
            thursdays = [d for d in range(1, 31) if date(y, 11, d).weekday() == 3]
            text = (
                "In the US, Thanksgiving is on the fourth Thursday of November. "
                f"Today is the US Thanksgiving of {y}."
            )
            return text, date(y, 11, thursdays[3])
        return f"Today is {h} of {y}.", date(y, *HOLIDAY_DAYS[h])
    if kind == 1:  # a year whose reversed digits are a valid MMDD
        y = rng.choice([x for x in range(1900, 2100) if _palindrome(x)])
        text = (
            f"Today is the palindrome day of {y}, because the MMDDYYYY format of the date is the "
            "same backwards as forwards."
        )
        return text, _palindrome(y)  # type: ignore[return-value]
    if kind == 2:
        m = rng.randint(1, 12)
        last = date(y, m, calendar.monthrange(y, m)[1])
        return rng.choice([
            (f"Today is the first day of {y}.", date(y, 1, 1)),
            (f"This is the last day of {y}.", date(y, 12, 31)),
            (f"{who} is celebrating the last day of {MONTHS[m - 1][:3]} {y}.", last),
            (f"Today is the first day of {MONTHS[m - 1]} {y}.", date(y, m, 1)),
        ])  # fmt: skip
    if kind == 3:
        q, last = rng.randint(1, 4), rng.random() < 0.5
        d = date(y, 3 * q, calendar.monthrange(y, 3 * q)[1]) if last else date(y, 3 * q - 2, 1)
        return (
            f"Today is the {'last' if last else 'first'} day of the {ORDINALS[q - 1]} quarter of {y}.",
            d,
        )
    if kind == 4:
        t = rand_date(rng, y, y)
        return (
            f"Today is the {ORDINALS[t.day - 1]} day of the {ORDINALS[t.month - 1]} month of {y}.",
            t,
        )
    jan1, k, wd = date(y, 1, 1), rng.randint(1, 4), rng.randrange(7)
    t = jan1 + timedelta(days=(wd - jan1.weekday()) % 7 + 7 * (k - 1))
    first, nth = WEEKDAYS[jan1.weekday()], f"{ORDINALS[k - 1]} {WEEKDAYS[wd]}"
    return f"The first day of {y} is a {first}, and today is the {nth} of {y}.", t


def _palindrome(y: int) -> date | None:
    s = str(y)[::-1]
    try:
        return date(y, int(s[:2]), int(s[2:]))
    except ValueError:
        return None


def _date_puzzle(rng: random.Random) -> Premise:
    t, who, other = rand_date(rng, 1901, 2029), rng.choice(NAMES), rng.choice(OTHER)
    kind = rng.randrange(5)
    if kind == 0:
        wrong = t + timedelta(days=rng.choice((-1, 1)))
        a, b = (t, wrong) if rng.random() < 0.5 else (wrong, t)
        right = who if a == t else other
        text = (
            f"{who} thinks today is {num(rng, a)}, but {other} thinks today is {num(rng, b)}. "
            f"{right} is correct."
        )
        return text, t
    if kind == 1:
        n = rng.randint(1, 3)
        text = (
            f"{who} thought today is {num(rng, t - timedelta(days=n))}, but today is in fact "
            f"{MONTHS[t.month - 1][:3]} {t.day}, which is {_days(n)} later."
        )
        return text, t
    if kind == 2:
        return rng.choice([
            f"Today is {t.month}/{t.day}, and it is {who}'s second time in the year {t.year} to "
            "see a meteor shower.",
            f"Today is {t.month}/{t.day}. {who} is watching NFL {t.year}.",
        ]), t  # fmt: skip
    if kind == 3:
        return (
            "In the UK, people usually put the day before the month when formatting the date. "
            f"Therefore, today is {t.day:02d}/{t.month:02d}/{t.year} to them.",
            t,
        )
    day, k = rng.randint(1, 28), rng.randint(2, 12)
    start = date(t.year, rng.randint(1, 12), 1)
    m = add_months(start, k - 1)
    assert m is not None
    text = (
        f"{who} visits the bookstore on the {day}{ordinal_suffix(day)} of each month starting from "
        f"the {MONTHS[start.month - 1]} of {start.year}. It is her {k}{ordinal_suffix(k)} visit to "
        "the bookstore today."
    )
    return text, m.replace(day=day)


STATEMENTS: list[Callable[[random.Random], Premise]] = [
    _today_is, _yesterday, _tomorrow, _days_from_event, _years_from_event, _special_day, _date_puzzle,
]  # fmt: skip


# ---------------------------------------------------------------- chains of events


def _amount(rng: random.Random) -> Offset:
    unit = rng.choices(["day", "week", "month", "year"], weights=[6, 3, 2, 1])[0]
    n = {
        "day": rng.randint(1, 30),
        "week": rng.randint(1, 4),
        "month": rng.randint(1, 6),
        "year": rng.randint(1, 3),
    }[unit]
    return Offset(n * rng.choice((-1, 1)), unit)


def _amount_text(rng: random.Random, off: Offset) -> str:
    k = abs(off.n)
    if k == 1:
        return f"{rng.choice(['one', 'a', '1'])} {off.unit}"
    return f"{k} {off.unit}s"


def chain(rng: random.Random, n_events: int) -> Premise:
    """A first event on a date (or a holiday), ``n_events - 1`` events relative to the one
    before, and today relative to the last."""
    names = rng.sample(EVENTS, n_events)
    if rng.random() < 0.5:
        d = rand_date(rng, 1920, 2010)
        sents = [f"The {names[0]} is on {any_format(rng, d)}."]
    else:
        h, y = rng.choice(list(HOLIDAY_DAYS)), rng.randint(1920, 2010)
        d = date(y, *HOLIDAY_DAYS[h])
        sents = [f"The {names[0]} is on {h} of {y}."]
    for i in range(1, n_events + 1):
        off = _amount(rng)
        d = off.apply(d)  # type: ignore[assignment]
        who = f"The {names[i]} is" if i < n_events else "Today is"
        rel = "before" if off.n < 0 else "after"
        sents.append(f"{who} {_amount_text(rng, off)} {rel} the {names[i - 1]}.")
    return " ".join(sents), d


# ---------------------------------------------------------------- questions


def target_phrase(rng: random.Random, allow_today: bool) -> tuple[str, Offset]:
    if rng.random() < 0.75:
        phrase = rng.choice(TARGETS[0 if allow_today else 1 :])
    else:
        n = rng.randint(2, 30)
        phrase = rng.choice([
            f"{n} days ago", f"{n} days from today", "two weeks ago", "two weeks from today",
            "a month from today", "one year from today", "the day before yesterday",
        ])  # fmt: skip
    from tripost.tasks.dates.calendar import parse_offset

    off = parse_offset(phrase)
    assert off is not None, phrase
    return phrase, off


def options_for(rng: random.Random, answer: date, today: date) -> list[date]:
    """5 or 6 distinct dates, the answer among them, distractors off by a day, a week, a
    month or a year, with day and month swapped, far years, and today itself."""
    cands: list[date | None] = [
        answer + timedelta(days=rng.choice((-1, 1))),
        answer + timedelta(days=rng.choice((-7, 7))),
        add_months(answer, rng.choice((-1, 1))),
        add_months(answer, rng.choice((-12, 12))),
        add_months(answer, 12 * rng.choice((-1, 1)) * rng.randint(5, 90)),
        add_months(answer, rng.randint(2, 10)),
        today,
    ]
    if answer.day <= 12 and answer.day != answer.month:
        cands.append(date(answer.year, answer.day, answer.month))
    pool = sorted({d for d in cands if d and d != answer and 1 <= d.year <= 9999})
    rng.shuffle(pool)
    out = [answer, *pool[: rng.choice((4, 5))]]
    rng.shuffle(out)
    return out


def neighbours(d: date) -> list[date]:
    """The valid dates one change away from d: a day or a week either way, and the same day a
    month or a year either way when that day exists. Each change is undone by a change of the
    same kind, so y is a neighbour of x exactly when x is one of y (February 28, a month after
    January 31 clamped, is no neighbour of it: a month before February 28 is January 28)."""
    out = []
    for k in (-1, 1, -7, 7):
        try:
            out.append(d + timedelta(days=k))
        except OverflowError:  # past 9999 or before year 1
            continue
    moved = (add_months(d, k) for k in (-1, 1, -12, 12))
    return out + [m for m in moved if m is not None and m.day == d.day]


def balanced_options(rng: random.Random, answer: date) -> list[date]:
    """n = 5 or 6 distinct dates around a hidden centre: the centre is the answer with
    probability 1/n, else a random neighbour of it (:func:`neighbours`); the options are the
    centre and n - 1 of its neighbours, the answer among them. The answer is then the centre or
    any one of the centre's neighbours with the same chance (exactly so where dates have 8
    neighbours; a month's last days have 6 or 7), so the options alone (the centre agrees with
    the most options field by field) tell nothing of which one it is, unlike
    :func:`options_for`, whose answer is the centre."""
    n = rng.choice((5, 6))
    centre = answer if rng.random() < 1 / n else rng.choice(neighbours(answer))
    others = [d for d in neighbours(centre) if d != answer]
    out = [centre, *rng.sample(others, n - 1 - (centre != answer))]
    if centre != answer:
        out.append(answer)
    rng.shuffle(out)
    return out


def field_agreement(options: dict[str, str]) -> dict[str, int]:
    """For each option (``{"(A)": "MM/DD/YYYY", ...}``), how many month, day and year fields it
    shares with the options, itself included. With BBH's distractors the highest is the answer
    (:func:`options_for`); with balanced ones it is the hidden centre, the answer by chance only
    (``benchmarks/option_prior.py`` scores that rule)."""
    fields = {k: v.split("/") for k, v in options.items()}
    return {
        k: sum(a == b for g in fields.values() for a, b in zip(f, g)) for k, f in fields.items()
    }


def generate_question(rng: random.Random, unseen: bool, options: str = "bbh") -> str:
    """One question in BBH's format; seen ones take 1-2 gold steps, unseen ones 3 or more.
    ``options`` is the option set (:data:`OPTION_SETS`): ``"bbh"`` (:func:`options_for`) or
    ``"balanced"`` (:func:`balanced_options`)."""
    if unseen:
        premise, today = chain(rng, rng.randint(2, 3))
        phrase, off = target_phrase(rng, allow_today=rng.random() < 0.1)
    else:
        single = rng.random() < 0.2
        premise, today = chain(rng, 1) if single else rng.choice(STATEMENTS)(rng)
        phrase, off = target_phrase(rng, allow_today=True)
    answer = off.apply(today)
    assert answer is not None
    if options == "balanced":
        opts = balanced_options(rng, answer)
    else:
        opts = options_for(rng, answer, today)
    lines = [f"({'ABCDEF'[i]}) {mdy(d)}" for i, d in enumerate(opts)]
    return f"{premise} What is the date {phrase} in MM/DD/YYYY?\nOptions:\n" + "\n".join(lines)


# ---------------------------------------------------------------- injection helpers


def wrong_dates(claim: Claim, plan: Plan, dates: dict[str, date | None]) -> list[date]:
    """Plausible wrong values for a claim's date."""
    x = claim.expected
    out = [x + timedelta(days=k) for k in (-1, 1)]
    if claim.key[0] == "fact":
        out += [x + timedelta(days=k) for k in (-2, 2)]  # yesterday/tomorrow the wrong way
        out += [
            d
            for d in (add_months(x, 12), add_months(x, -12), make_date(x.year, x.day, x.month))
            if d
        ]
    elif claim.key[0] == "offset" and dates.get("today"):
        out += counting_slips(dates["today"], claim.key[1], x)  # type: ignore[arg-type]
    return sorted({d for d in out if d and d != x and 1800 <= d.year <= 2200})


def counting_slips(base: date, key: tuple[str, int], x: date) -> list[date]:
    """Wrong results of counting an offset (``Offset.key``) from ``base`` whose right result
    is x: the wrong direction, the year of ``base`` kept, a month's length wrong (30 for 31
    and back), and for months a month off or the year not advanced."""
    unit, n = key
    back = Offset(-n, unit).apply(base)  # the wrong direction
    out = [back] if back else []
    out += [d for d in (make_date(base.year, x.month, x.day), _month_slip(base, n, unit)) if d]
    if unit == "month":
        out += [d for d in (add_months(x, 1), add_months(x, -1), add_months(x, 12)) if d]
    return out


def _month_slip(today: date, n: int, unit: str) -> date | None:
    """Day arithmetic across a month end with the month's length wrong (30 for 31 and back)."""
    if unit != "day" or n == 0:
        return None
    day = today.day + n
    month = date(today.year, today.month, 1)
    if 1 <= day <= 28 or abs(n) > 28:
        return None
    if n > 0:
        length = (add_months(month, 1) - month).days  # type: ignore[operator]
        if day <= length:
            return None
        wrong = 30 if length == 31 else 31
        nxt = add_months(month, 1)
        return make_date(nxt.year, nxt.month, day - wrong) if nxt else None
    prev = add_months(month, -1)
    if prev is None or day >= 1:
        return None
    length = (month - prev).days
    return make_date(prev.year, prev.month, day + (30 if length == 31 else 31))


def _replace(text: str, edits: list[tuple[Literal, str]]) -> str:
    for lit, new in sorted(edits, key=lambda e: -e[0].start):
        text = text[: lit.start] + new + text[lit.start + len(lit.text) :]
    return text


def _with_letter(attempt: Attempt, letter: str) -> Attempt:
    final = ANSWER_RE.sub(f"answer is {letter}", attempt.final, count=1)
    return Attempt((*attempt.steps[:-1], Step(FINAL, final)))


def wrong_option(
    plan: Plan, attempt: Attempt, rng: random.Random, answer: str
) -> tuple[Attempt, str] | None:
    others = [k for k in plan.options if k != answer]
    if not others or not ANSWER_RE.search(attempt.final):
        return None
    return _with_letter(attempt, rng.choice(others)), FINAL


def wrong_rewrite(
    plan: Plan, attempt: Attempt, i: int, c: Claim, rng: random.Random
) -> tuple[Attempt, str]:
    x, lit = c.expected, c.literals[-1]
    swapped = make_date(x.year, x.day, x.month)
    wrong = swapped if swapped and swapped != x else add_months(x, rng.choice((-1, 1)))
    assert wrong is not None
    new = mdy(wrong)  # day first when swapped: "10/11/2019" for November 10
    steps = list(attempt.steps)
    steps[i] = Step(steps[i].label, _replace(steps[i].text, [(lit, new)]))
    out = Attempt(tuple(steps))
    hit = next((k for k, v in plan.options.items() if v == new), None)
    if c.key[0] != "fact" and hit:
        out = _with_letter(out, hit)
    return out, steps[i].label


def propagate(
    plan: Plan, attempt: Attempt, i: int, c: Claim, wrong: date, rng: random.Random
) -> Attempt:
    """Write ``wrong`` for claim c in step i, and let the later steps and the option follow it."""
    overrides = {c.key[1]: wrong} if c.key[0] == "fact" else {}
    moved = plan.dates(overrides)
    steps = list(attempt.steps)
    for j in range(i, len(steps) - 1):
        cs = read_step(steps[j].text, plan, plan.dates()) or []
        edits = []
        for claim in cs:
            if j == i and claim.key == c.key:
                new = wrong
            elif j > i or claim.key != c.key:
                new = _moved_value(claim, plan, moved) if overrides else claim.expected
            edits += [
                (lit, literal_like(lit.text, new))
                for lit in claim.literals
                if new and lit.value == claim.expected
            ]
        steps[j] = Step(steps[j].label, _replace(steps[j].text, edits))
    out = Attempt(tuple(steps))
    target = (
        plan.target_date(moved.get("today"))
        if overrides
        else (wrong if c.key[0] == "offset" else None)
    )
    truth = plan.target_date()
    if target is not None and target != truth:
        letter = plan.letter_of(target) or rng.choice([k for k in plan.options if k != plan.answer])
        out = _with_letter(out, letter)
    return out


def _moved_value(claim: Claim, plan: Plan, moved: dict[str, date | None]) -> date | None:
    res = resolve(claim.subject, plan, moved, claim.base)
    return res[1] if res else None
