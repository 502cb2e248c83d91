"""Date understanding (BIG-Bench Hard ``date_understanding``).

A question states facts that fix today's date and asks for a date relative to today, with 5-6
options (BBH's format). The gold rationale computes today, then the target, then names the
option, in the style of the paper's data::

    Q: Today is Christmas Eve of 1937. What is the date 10 days ago in MM/DD/YYYY?
    Options:
    (A) 12/11/1937
    ...
    Answer: Let's think step by step.
    (1) If today is Christmas Eve of 1937, then today's date is December 24, 1937.
    (2) 10 days before today is December 14, 1937, that is 12/14/1937.
    (Final response) So the answer is (D).

Buckets count the gold steps: ``steps1`` (the date today) and ``steps2`` are *seen*; harder
``steps3+`` questions chain events (``The party is 3 days after the concert. Today is 2 weeks
after the party.``) and are *unseen*. The scripted feedback reads every date claim of every
step (:mod:`dates_claims`), recomputes it, and checks the ``that is MM/DD/YYYY`` rewriting and
the option letter.
"""

from __future__ import annotations

import logging
import random
import re
from datetime import date, timedelta

from tripost.tasks.dates_calendar import Offset, add_months, long_date, make_date, mdy
from tripost.tasks.dates_claims import Claim, Literal, literal_like, read_step, resolve
from tripost.tasks.dates_gen import generate_question
from tripost.tasks.dates_parse import Plan, parse_question
from tripost.trajectory import FINAL, Attempt, Feedback, Problem, Step

log = logging.getLogger(__name__)

SEEN_BUCKETS = ["steps1", "steps2"]
UNSEEN_BUCKETS = ["steps3+"]
_LETTER_RE = re.compile(r"\(([A-Fa-f])\)")
_ANSWER_RE = re.compile(r"answer is \(([A-Fa-f])\)")


def bucket_of(n_steps: int) -> str:
    return f"steps{n_steps}" if n_steps < 3 else "steps3+"


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


class DateUnderstanding:
    """The ``date_understanding`` task (see the module docstring)."""

    name = "date_understanding"
    #: the official data appends nothing after "Let's think step by step."
    PAPER_INSTRUCTION = ""
    buckets = SEEN_BUCKETS + UNSEEN_BUCKETS

    def __init__(self, instruction: str | None = None) -> None:
        self.instruction = instruction or ""

    # ------------------------------------------------------------ problems

    def generate(self, rng: random.Random, split: str) -> Problem:
        if split not in ("seen", "unseen"):
            raise ValueError(f"split must be 'seen' or 'unseen', got {split!r}")
        for _ in range(100):
            question = generate_question(rng, split == "unseen")
            problem = self.problem_from_text(question, None)
            if problem is not None and problem.seen == (split == "seen"):
                return problem
        raise RuntimeError("could not generate a date understanding problem")  # pragma: no cover

    def problem_from_text(self, question: str, target: str | None) -> Problem | None:
        question = question.strip()
        plan = parse_question(question)
        answer = plan.answer if plan else None
        if plan is None or answer is None:
            return None
        if target is not None and self._normalise(target) != answer:
            log.warning("computed %s but the target is %s: %s", answer, target, question[:80])
            return None
        bucket = bucket_of(plan.n_steps)
        meta = {"today": mdy(plan.today), "target_date": mdy(plan.target_date())}  # type: ignore[arg-type]
        return Problem(question, answer, self.name, bucket, bucket in SEEN_BUCKETS, meta)

    @staticmethod
    def _normalise(answer: str) -> str | None:
        m = re.fullmatch(r"\(?([A-Fa-f])\)?", answer.strip())
        return f"({m.group(1).upper()})" if m else None

    def extract_answer(self, attempt: Attempt) -> str | None:
        m = _ANSWER_RE.search(attempt.final)
        return f"({m.group(1).upper()})" if m else None

    def solve(self, problem: Problem) -> Attempt | None:
        plan = parse_question(problem.question)
        if plan is None or plan.answer is None or plan.answer != problem.answer:
            return None
        return render_gold(plan, plan.answer)

    # ------------------------------------------------------------ scripted feedback

    def check(self, problem: Problem, attempt: Attempt) -> Feedback:
        try:
            return self._check(problem, attempt)
        except Exception as e:  # never raise: report it as feedback on the final response
            log.exception("date checker failed")
            return Feedback.error(
                attempt, FINAL, attempt.final, f"the answer could not be checked ({e})"
            )

    def _check(self, problem: Problem, attempt: Attempt) -> Feedback:
        plan = parse_question(problem.question)
        if plan is None:
            log.warning("question not understood; checking the final response only")
        else:
            dates = plan.dates()
            for step in attempt.steps:
                if step.label == FINAL:
                    continue
                claims = read_step(step.text, plan, dates)
                if claims is None:
                    segment = step.text.split("\n")[0] or step.text
                    return Feedback.error(
                        attempt,
                        step.label,
                        segment,
                        "the step does not state a date as "
                        '"<what> is <Month D, YYYY>" that can be checked',
                    )
                for claim in claims:
                    err = _claim_error(claim, plan, dates)
                    if err:
                        return Feedback.error(attempt, step.label, *err)
        return self._check_final(problem, attempt, plan)

    def _check_final(self, problem: Problem, attempt: Attempt, plan: Plan | None) -> Feedback:
        final = attempt.final
        m = _ANSWER_RE.search(final) or _LETTER_RE.search(final)
        if m is None:
            return Feedback.error(
                attempt, FINAL, final, "the final response names no option such as (A)"
            )
        letter = f"({m.group(1).upper()})"
        segment = m.group(0)[-3:]
        if plan is not None and letter not in plan.options:
            return Feedback.error(attempt, FINAL, segment, f"there is no option {letter}")
        if letter != problem.answer:
            why = f"the answer is {problem.answer}"
            target = plan.target_date() if plan else None
            if plan is not None and target is not None:
                why = f"the date {plan.target_phrase} is {mdy(target)}, which is option {problem.answer}"
            return Feedback.error(attempt, FINAL, segment, why)
        return Feedback.ok(attempt)

    # ------------------------------------------------------------ scripted improvement

    def improve(self, problem: Problem, attempt: Attempt, feedback: Feedback) -> Attempt | None:
        """Keep the steps before the error verbatim; rewrite the rest with the gold steps
        that state what the kept steps have not stated yet."""
        gold = self.solve(problem)
        if feedback.correct or feedback.error_step is None or gold is None:
            return None
        label = feedback.error_step
        kept = list(attempt.prefix(label)) if label in attempt.labels else []
        plan = parse_question(problem.question)
        assert plan is not None  # solve() parsed it
        dates = plan.dates()
        stated = {c.key for s in kept for c in read_step(s.text, plan, dates) or []}
        rest = [
            s
            for s in gold.steps
            if s.label != FINAL
            and not {c.key for c in read_step(s.text, plan, dates) or []} <= stated
        ]
        first = int(kept[-1].label.split(".")[0]) + 1 if kept else 1
        rest = [Step(str(first + i), s.text) for i, s in enumerate(rest)]
        new = Attempt((*kept, *rest, gold.steps[-1]))
        return new if self.check(problem, new).correct else None

    # ------------------------------------------------------------ error injection

    def inject_error(
        self, problem: Problem, attempt: Attempt, rng: random.Random
    ) -> tuple[Attempt, str] | None:
        """One error of a kind a small model makes: a wrong reference date (today or an
        event), wrong day arithmetic for the target (off by one, a wrong month length, a
        forgotten year change, the wrong direction), a wrong MM/DD/YYYY rewriting, or a wrong
        option letter. Later steps follow the wrong date, as a model's would."""
        plan = parse_question(problem.question)
        if plan is None:
            return None
        dates = plan.dates()
        read = [
            (i, read_step(s.text, plan, dates))
            for i, s in enumerate(attempt.steps)
            if s.label != FINAL
        ]
        if any(c is None for _, c in read):
            return None
        claims = [(i, c) for i, cs in read for c in cs or []]
        rewrites = [(i, c) for i, c in claims if len(c.literals) > 1 and "/" in c.literals[-1].text]
        weights = {
            "fact": 3 * any(c.key[0] == "fact" for _, c in claims),
            "target": 3 * any(c.key[0] != "fact" for _, c in claims),
            "rewrite": 1 * bool(rewrites),
            "option": 2,
        }
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if kind == "option":
            return _wrong_option(plan, attempt, rng, problem.answer)
        if kind == "rewrite":
            return _wrong_rewrite(plan, attempt, *rng.choice(rewrites), rng)
        pool = [(i, c) for i, c in claims if (c.key[0] == "fact") == (kind == "fact")]
        i, c = rng.choice(pool)
        wrong = _wrong_dates(c, plan, dates)
        if not wrong:
            return _wrong_option(plan, attempt, rng, problem.answer)
        return _propagate(plan, attempt, i, c, rng.choice(wrong), rng), attempt.steps[i].label


# ---------------------------------------------------------------- checking helpers


def _claim_error(claim: Claim, plan: Plan, dates: dict[str, date | None]) -> tuple[str, str] | None:
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


# ---------------------------------------------------------------- injection helpers


def _wrong_dates(claim: Claim, plan: Plan, dates: dict[str, date | None]) -> list[date]:
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
        today = dates["today"]
        unit, n = claim.key[1]
        back = Offset(-n, unit).apply(today)  # the wrong direction
        out += [back] if back else []
        out += [
            d for d in (make_date(today.year, x.month, x.day), _month_slip(today, n, unit)) if d
        ]
        if unit == "month":
            out += [d for d in (add_months(x, 1), add_months(x, -1), add_months(x, 12)) if d]
    return sorted({d for d in out if d and d != x and 1800 <= d.year <= 2200})


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
    final = _ANSWER_RE.sub(f"answer is {letter}", attempt.final, count=1)
    return Attempt((*attempt.steps[:-1], Step(FINAL, final)))


def _wrong_option(
    plan: Plan, attempt: Attempt, rng: random.Random, answer: str
) -> tuple[Attempt, str] | None:
    others = [k for k in plan.options if k != answer]
    if not others or not _ANSWER_RE.search(attempt.final):
        return None
    return _with_letter(attempt, rng.choice(others)), FINAL


def _wrong_rewrite(
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


def _propagate(
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
