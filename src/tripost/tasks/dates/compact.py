"""The ``compact`` date-understanding rationale (task option ``style: compact``), for a small
model trained from scratch: one short step per computed date, every date written MM/DD/YYYY
(the options' format), and no restatement of the premise::

    Q: The concert is on Christmas Eve of 1937. The party is 3 days after the concert. Today
    is 2 weeks after the party. What is the date one week ago from today in MM/DD/YYYY?
    ...
    (1) The concert is 12/24/1937.
    (2) 3 days after 12/24/1937 is 12/27/1937, that is the party.
    (3) 2 weeks after 12/27/1937 is 01/10/1938, that is today.
    (4) 1 week before 01/10/1938 is 01/03/1938.
    (Final response) So the answer is 01/03/1938.

A date the question fixes (today from a BBH statement, an event on a holiday) is a step
``Today is <date>.`` / ``The concert is <date>.``; a date the question gives as a literal is
no step, as in the paper style. A date counted from another one is written ``<amount>
before|after <base> is <result>``: the base date, the offset and the result sit side by side,
in the order they are computed, so the model copies the base from the step just before (not
from a sentence of the premise far back) and writes the result right after its operands. The
claim reader of the paper style (:mod:`tripost.tasks.dates.check`) already reads this phrasing
(``10 days before Dec 24, 1937 is Dec 14, 1937``); the fact a step computes follows as
``, that is the party`` (``, that is today``), a value without a date, which that reader skips
and :func:`diagnose_compact` reads. The step of the date asked for names nothing; there is no
such step when it is today.

The checker reads each step with that claim reader and compares it with the gold step of the
same position: the fact it computes, its base date, its offset, then the result, and names the
first wrong part: ``"12/25/1937"`` (the base: ``the date of the concert is 12/24/1937``),
``"4 days after"`` (``the party is 3 days after the concert``) or the result (``3 days after
12/24/1937 is 12/27/1937``). Its reasons write dates MM/DD/YYYY too.

The final response names the option by its date, as the option writes it, not by its letter:
a tiny model trained on letters wrote the right final date in 90-94 of 100 seen questions but
picked its letter in only 15 (chance), the lookup "which option holds this date" (the letter
written before the date) being what it could not learn. The task reads a date answer back as
the letter of the option showing it (:func:`option_of`), and a letter answer as before;
:func:`final_error` says why a final date is wrong: the date asked for and the step that
computes it, or that no option shows the date.

The errors :func:`inject_compact` writes (:data:`ERROR_KINDS`) are a small model's: wrong
counting (off by one, the wrong direction, a month's length or the year change missed), a
miscopied digit, a wrong amount or unit, a wrong fixed date (the day before or after, a year
off, day and month swapped) and a wrong final date (``option``: another option's date, or the
date asked for miscopied); the steps after the error count from the wrong date, and the final
response writes the date they reach, as a model's would.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta

from tripost.tasks.dates.calendar import DATE_FIND_RE, Offset, mdy, parse_date
from tripost.tasks.dates.check import Claim, claim_error, read_step
from tripost.tasks.dates.generate import counting_slips, wrong_dates
from tripost.tasks.dates.model import Plan, split_question
from tripost.trajectory import FINAL, Attempt, Step

#: the error kinds :func:`inject_compact` writes, with the weights they are drawn by
ERROR_KINDS = (("arithmetic", 3), ("copy", 2), ("offset", 2), ("fact", 2), ("option", 1))
_NAMED_RE = re.compile(r", that is (today|the [a-z]+)\.?\s*$")
_NUMERIC = r"\d{1,2}/\d{1,2}/\d{4}(?![\w/])"
_ANSWER_DATE_RE = re.compile(rf"answer is ({_NUMERIC})")
_DATE_IN_RE = re.compile(rf"(?<![\w/]){_NUMERIC}")

Diagnosis = tuple[str, str]  # (segment, reason)


# ---------------------------------------------------------------- the gold rationale


def counted(off: Offset) -> str:
    """``"3 days after"``, ``"1 week before"``."""
    return f"{off.amount()} {'before' if off.n < 0 else 'after'}"


@dataclass(frozen=True)
class Line:
    """One compact step: the date ``result`` of fact ``name`` (None: the date asked for),
    fixed by the question (``offset`` None) or counted ``offset`` from ``base``, the date of
    fact ``base_fact``."""

    name: str | None
    result: date
    base_fact: str | None = None
    base: date | None = None
    offset: Offset | None = None

    def render(self) -> str:
        if self.offset is None or self.base is None:
            subject = "Today" if self.name == "today" else f"The {self.name}"
            return f"{subject} is {mdy(self.result)}."
        text = f"{counted(self.offset)} {mdy(self.base)} is {mdy(self.result)}"
        return text + (f", that is {fact_phrase(self.name)}." if self.name else ".")


def fact_phrase(name: str) -> str:
    """How a step names a fact: ``"today"``, ``"the party"``."""
    return "today" if name == "today" else f"the {name}"


def what(name: str | None, plan: Plan) -> str:
    """The date a step computes, for feedback: ``"today's date"``, ``"the date of the
    party"``, ``"the date 10 days ago"``."""
    if name is None:
        return f"the date {plan.target_phrase}"
    return "today's date" if name == "today" else f"the date of the {name}"


def lines_of(plan: Plan) -> list[Line]:
    """The gold steps of a plan: one per computed fact, one for the date asked for (unless it
    is today)."""
    dates = plan.dates()
    lines = []
    for f in plan.facts:
        d = dates[f.name]
        assert d is not None  # parse_question dated every fact
        if f.step and f.offset is not None and f.base is not None:
            lines.append(Line(f.name, d, f.base, dates[f.base], f.offset))
        elif f.step:
            lines.append(Line(f.name, d))
    target = plan.target_date()
    if plan.target.n != 0 and target is not None:
        lines.append(Line(None, target, "today", dates["today"], plan.target))
    return lines


def render_compact(lines: list[Line], answer: str) -> Attempt:
    """The steps of ``lines`` and a final response answering with the date ``answer``."""
    steps = [Step(str(i), line.render()) for i, line in enumerate(lines, 1)]
    return Attempt((*steps, Step(FINAL, f"So the answer is {answer}.")))


def gold_compact(plan: Plan, answer: str) -> Attempt:
    """The gold compact rationale of a plan whose answer is option ``answer``: its final
    response writes that option's date (see the module docstring)."""
    return render_compact(lines_of(plan), plan.options[answer])


# ---------------------------------------------------------------- the final response


def options_of(question: str) -> dict[str, str]:
    """The options of a question, ``{"(A)": "12/11/1937", ...}`` ({} if it has none)."""
    split = split_question(question)
    return split[2] if split else {}


def answer_date(final: str) -> date | None:
    """The date of ``So the answer is 08/11/2009.`` (also ``8/11/2009``), or None."""
    m = _ANSWER_DATE_RE.search(final)
    return parse_date(m.group(1)) if m else None


def option_of(d: date, options: dict[str, str]) -> str | None:
    """The letter of the option showing date d, if exactly one does."""
    hits = [k for k, v in options.items() if v == mdy(d)]
    return hits[0] if len(hits) == 1 else None


def find_final_date(final: str) -> str | None:
    """The date a final response answers with, as written: the one after ``answer is``, else
    the first M/D/YYYY date in it (the checker reads a misspelt final response too)."""
    m = _ANSWER_DATE_RE.search(final) or _DATE_IN_RE.search(final)
    return m.group(m.lastindex or 0) if m else None


def target_step(plan: Plan) -> int | None:
    """The position of the gold step that computes the date asked for (None: no step)."""
    lines = lines_of(plan)
    if plan.target.n != 0:
        return len(lines)
    return next((i for i, line in enumerate(lines, 1) if line.name == "today"), None)


def final_error(
    plan: Plan | None, options: dict[str, str], answer: str, written: str
) -> Diagnosis | None:
    """Why the date ``written`` in a final response is wrong when the answer is option
    ``answer``; None when it is that option's date. The reason names the date asked for and
    the step that computes it: ``the date 10 days ago is 08/01/2009 (step (2))``."""
    d = parse_date(written)
    if d is None:
        return written, f"{written} is not a valid date"
    gold = options[answer]
    if mdy(d) == gold:
        return None
    why = f"the answer is {gold}"
    if plan is not None:
        step = target_step(plan)
        why = f"the date {plan.target_phrase} is {gold}" + (f" (step ({step}))" if step else "")
    if not any(v == mdy(d) for v in options.values()):
        why = f"no option is {mdy(d)}, and {why}"
    return written, why


# ---------------------------------------------------------------- scripted feedback


def numeric_dates(text: str) -> str:
    """Every date of a reason written MM/DD/YYYY, the compact style's one format.

    >>> numeric_dates("3 days after December 24, 1937 is December 27, 1937")
    '3 days after 12/24/1937 is 12/27/1937'
    """

    def one(m: re.Match[str]) -> str:
        d = parse_date(m.group(0))
        return mdy(d) if d else m.group(0)

    return DATE_FIND_RE.sub(one, text)


def _first_line(text: str) -> str:
    return text.split("\n")[0] or text


def diagnose_compact(plan: Plan, attempt: Attempt) -> tuple[int, str, str] | None:
    """``(position, segment, reason)`` of the first wrong numbered step of an attempt, each
    step compared with the gold step of its position; a step missing before the final
    response is the final response's error. None when the numbered steps are right (the
    final response is checked by the task)."""
    lines = lines_of(plan)
    dates = plan.dates()
    *numbered, final = attempt.steps
    for i, step in enumerate(numbered):
        if i == len(lines):
            why = "the date asked for is computed, so the final response comes next"
            return i, _first_line(step.text), why
        found = diagnose_line(step.text, lines[i], plan, dates)
        if found is not None:
            return (i, *found)
        if step.label != str(i + 1):
            return i, _first_line(step.text), f"this step is numbered ({i + 1})"
    if len(numbered) < len(lines):
        missing = lines[len(numbered)].name
        return len(numbered), _first_line(final.text), f"{what(missing, plan)} comes next"
    return None


def diagnose_line(
    text: str, line: Line, plan: Plan, dates: dict[str, date | None]
) -> Diagnosis | None:
    """The first wrong part of a step that should state ``line``, in reading order after the
    fact it computes: the base date, the offset, the result."""
    pattern = f'it is not written as "{DATE_FIND_RE.sub("MM/DD/YYYY", line.render())}"'
    claims = read_step(text, plan, dates)
    if not claims:
        return _first_line(text), pattern
    if len(claims) > 1:
        return claims[1].literals[0].text, "a step states one date"
    claim = claims[0]
    stated, segment = _stated(claim, text)
    if stated != line.name and segment is not None and segment in text:
        return segment, f"{what(line.name, plan)} comes next"
    if stated != line.name or (claim.base is None) != (line.base is None):
        return _first_line(text), pattern
    if claim.base is not None and line.base is not None and line.offset is not None:
        if claim.base.value != line.base:
            return claim.base.text, f"{what(line.base_fact, plan)} is {mdy(line.base)}"
        if claim.key[-1] != line.offset.key:
            phrase = claim.subject[: claim.subject.rindex(claim.base.text)].strip()
            return phrase, _offset_reason(line, plan)
    err = claim_error(claim, plan, dates)
    return (err[0], numeric_dates(err[1])) if err else None


def _stated(claim: Claim, text: str) -> tuple[str | None, str | None]:
    """The fact a step says it dates (None: the date asked for) and the words that say so:
    the subject of ``Today is <date>``, or the ``that is the party`` after a count."""
    if claim.base is None:
        return (claim.key[1], claim.subject) if claim.key[0] == "fact" else (None, None)
    m = _NAMED_RE.search(text)
    if m is None:
        return None, None
    return m.group(1).removeprefix("the "), m.group(1)


def _offset_reason(line: Line, plan: Plan) -> str:
    """``"the party is 3 days after the concert"``, ``"the date 10 days ago is 10 days
    before today"``."""
    assert line.offset is not None
    if line.name is None:
        return f"the date {plan.target_phrase} is {counted(line.offset)} today"
    return f"{fact_phrase(line.name)} is {counted(line.offset)} the {line.base_fact}"


# ---------------------------------------------------------------- error injection


def _miscopied(d: date, rng: random.Random) -> date | None:
    """Date d with one digit of its MM/DD/YYYY miscopied, if that names a real day."""
    text = mdy(d)
    spots = [i for i, ch in enumerate(text) if ch.isdigit()]
    for _ in range(20):
        i = rng.choice(spots)
        digit = rng.choice([c for c in "0123456789" if c != text[i]])
        out = parse_date(text[:i] + digit + text[i + 1 :])
        if out is not None and 1800 <= out.year <= 2200:
            return out
    return None


def _wrong_offsets(off: Offset) -> list[Offset]:
    """An amount one more or less, the other direction, or the other unit (days for weeks)."""
    k, sign = abs(off.n), (1 if off.n > 0 else -1)
    other = {"day": "week", "week": "day", "month": "year", "year": "month"}[off.unit]
    out = [Offset(sign * (k + 1), off.unit), Offset(-off.n, off.unit), Offset(off.n, other)]
    out += [Offset(sign * (k - 1), off.unit)] if k > 1 else []
    return [o for o in out if o.key != off.key]


def _recount(line: Line, base: date, off: Offset) -> Line | None:
    result = off.apply(base)
    return dataclasses.replace(line, base=base, offset=off, result=result) if result else None


def _counts(line: Line) -> bool:
    """Whether a step counts its date from another one (else the question fixes it)."""
    return line.offset is not None and line.base is not None


def _wrong_line(
    kind: str, line: Line, plan: Plan, dates: dict[str, date | None], rng: random.Random
) -> Line | None:
    """Line with one error of ``kind`` (one that applies to it: ``fact`` to a fixed date,
    ``arithmetic`` and ``offset`` to a count); None when no such error is found."""
    if not _counts(line):
        if kind == "copy":
            wrong_day = _miscopied(line.result, rng)
            return dataclasses.replace(line, result=wrong_day) if wrong_day else None
        claim = (read_step(line.render(), plan, dates) or [None])[0]
        wrong = wrong_dates(claim, plan, dates) if claim else []
        return dataclasses.replace(line, result=rng.choice(wrong)) if wrong else None
    assert line.base is not None and line.offset is not None
    if kind == "copy":
        base = _miscopied(line.base, rng)
        return _recount(line, base, line.offset) if base else None
    if kind == "offset":
        return _recount(line, line.base, rng.choice(_wrong_offsets(line.offset)))
    x = line.result
    slips = [x - timedelta(days=1), x + timedelta(days=1)]
    slips += counting_slips(line.base, line.offset.key, x)
    wrong = sorted({d for d in slips if d not in (x, line.base) and 1800 <= d.year <= 2200})
    return dataclasses.replace(line, result=rng.choice(wrong)) if wrong else None


def follow(lines: list[Line], i: int) -> list[Line] | None:
    """The steps after step i counted again from the dates the steps before them write, as a
    model continues after its own error; None if a date leaves the calendar."""
    written: dict[str, date] = {}
    out = []
    for j, line in enumerate(lines):
        if j > i and line.offset is not None and line.base is not None:
            moved = _recount(line, written.get(line.base_fact or "", line.base), line.offset)
            if moved is None:
                return None
            line = moved
        out.append(line)
        if line.name:
            written[line.name] = line.result
    return out


def inject_compact(
    plan: Plan, answer: str, rng: random.Random, kind: str | None = None
) -> tuple[Attempt, str] | None:
    """The gold compact rationale with one error of ``kind`` (by default drawn by the weights
    of :data:`ERROR_KINDS` among the kinds that apply to some step), the later steps and the
    option following it; returns the attempt and the label of the wrong step, or None when
    the kind applies nowhere."""
    weights = dict(ERROR_KINDS)
    if kind is not None and kind not in weights:
        raise ValueError(f"unknown error kind {kind!r}; known: {', '.join(weights)}")
    gold, dates = lines_of(plan), plan.dates()
    where = {
        k: [i for i, line in enumerate(gold) if k == "copy" or (k == "fact") != _counts(line)]
        for k in weights
    }
    where["option"] = [len(gold)]
    kinds = [k for k in weights if where[k] and kind in (None, k)]
    if not kinds:
        return None
    for _ in range(20):  # a miscopied digit or a slip may not give a real day: draw again
        pick = rng.choices(kinds, weights=[weights[k] for k in kinds])[0]
        if pick == "option":
            wrong_final = _wrong_answer(plan, answer, rng)
            if wrong_final is None:
                continue
            return render_compact(gold, wrong_final), FINAL
        i = rng.choice(where[pick])
        wrong = _wrong_line(pick, gold[i], plan, dates, rng)
        lines = follow([*gold[:i], wrong, *gold[i + 1 :]], i) if wrong else None
        if lines is None:
            continue
        asked = lines[-1].result  # the date asked for, or today's when that is asked
        return render_compact(lines, mdy(asked)), str(i + 1)
    return None


def _wrong_answer(plan: Plan, answer: str, rng: random.Random) -> str | None:
    """A wrong final date: another option's, or the date of option ``answer`` miscopied."""
    gold = plan.options[answer]
    day = parse_date(gold)
    miscopied = _miscopied(day, rng) if day else None
    wrong = [v for k, v in plan.options.items() if k != answer and v != gold]
    wrong += [mdy(miscopied)] if miscopied else []
    return rng.choice(wrong) if wrong else None
