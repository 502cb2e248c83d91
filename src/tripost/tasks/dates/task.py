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
step (:mod:`tripost.tasks.dates.check`), recomputes it, and checks the ``that is MM/DD/YYYY`` rewriting and
the option letter.

The ``compact`` style (task option ``style: compact``) writes one short step per computed date,
every date MM/DD/YYYY and no restatement of the premise, for a small model trained from scratch
(:mod:`tripost.tasks.dates.compact`)::

    (1) Today is 12/24/1937.
    (2) 10 days before 12/24/1937 is 12/14/1937.
    (Final response) So the answer is 12/14/1937.

It answers with the option's date, as the option writes it, not its letter (a tiny model
learned the date but not the lookup of its letter); :meth:`DateUnderstanding.extract_answer`
reads that date back as the option's letter.

Generated questions have BBH's options by default: each distractor changes one field of the
answer, so the option that agrees with the most others field by field is the answer (91% of
seen questions, ``benchmarks/option_prior.py``), a shortcut a small model learns instead of the
dates. The task option ``options: balanced`` draws them around a hidden centre that is the
answer or one of its neighbours by chance (:func:`tripost.tasks.dates.generate.balanced_options`),
so that no rule on the options alone beats chance; the text format is BBH's either way.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re

from tripost.tasks.base import check_choice, check_task_options
from tripost.tasks.dates.calendar import mdy
from tripost.tasks.dates.check import claim_error, read_step
from tripost.tasks.dates.compact import (
    answer_date,
    diagnose_compact,
    final_error,
    find_final_date,
    gold_compact,
    inject_compact,
    option_of,
    options_of,
)
from tripost.tasks.dates.generate import (
    OPTION_SETS,
    generate_question,
    propagate,
    wrong_dates,
    wrong_option,
    wrong_rewrite,
)
from tripost.tasks.dates.model import ANSWER_RE, LETTER_RE, Plan, parse_question, render_gold
from tripost.trajectory import FINAL, Attempt, Feedback, Problem, Step

log = logging.getLogger(__name__)

SEEN_BUCKETS = ["steps1", "steps2"]
UNSEEN_BUCKETS = ["steps3+"]
STYLES = ("paper", "compact")


def bucket_of(n_steps: int) -> str:
    return f"steps{n_steps}" if n_steps < 3 else "steps3+"


class DateUnderstanding:
    """The ``date_understanding`` task (see the module docstring)."""

    name = "date_understanding"
    #: the official data appends nothing after "Let's think step by step."
    PAPER_INSTRUCTION = ""
    buckets = SEEN_BUCKETS + UNSEEN_BUCKETS

    def __init__(
        self,
        instruction: str | None = None,
        update_style: str = "rewrite",
        style: str = "paper",
        options: str = "bbh",
    ) -> None:
        check_task_options(update_style, style, STYLES)
        check_choice("options", options, OPTION_SETS)
        self.instruction = instruction or ""
        self.update_style = update_style
        #: ``"paper"``: the paper's rationale; ``"compact"``: one short step per computed date,
        #: every date MM/DD/YYYY, for a small model trained from scratch (module docstring)
        self.style = style
        self.compact = style == "compact"
        #: the option set of generated questions: ``"bbh"``'s distractors or ``"balanced"``
        #: ones that do not give the answer away (module docstring)
        self.options = options

    # ------------------------------------------------------------ problems

    def generate(self, rng: random.Random, split: str) -> Problem:
        if split not in ("seen", "unseen"):
            raise ValueError(f"split must be 'seen' or 'unseen', got {split!r}")
        for _ in range(100):
            question = generate_question(rng, split == "unseen", self.options)
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

    def extract_answer(self, attempt: Attempt, problem: Problem | None = None) -> str | None:
        """``"So the answer is (D)."`` -> ``"(D)"``. The compact style answers with a date:
        ``"So the answer is 8/11/2009."`` -> the letter of the option showing 08/11/2009 with
        ``problem`` (None if no option does), else ``"08/11/2009"`` (what LMSI votes on)."""
        m = ANSWER_RE.search(attempt.final)
        if m:
            return f"({m.group(1).upper()})"
        d = answer_date(attempt.final) if self.compact else None
        if d is None:
            return None
        return option_of(d, options_of(problem.question)) if problem else mdy(d)

    def solve(self, problem: Problem) -> Attempt | None:
        plan = parse_question(problem.question)
        if plan is None or plan.answer is None or plan.answer != problem.answer:
            return None
        return gold_compact(plan, plan.answer) if self.compact else render_gold(plan, plan.answer)

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
        elif self.compact:
            found = diagnose_compact(plan, attempt)
            if found is not None:
                return self._step_error(attempt, *found)
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
                    err = claim_error(claim, plan, dates)
                    if err:
                        return Feedback.error(attempt, step.label, *err)
        return self._check_final(problem, attempt, plan)

    @staticmethod
    def _step_error(attempt: Attempt, i: int, segment: str, reason: str) -> Feedback:
        """The error of the step at position i; the steps before it are the correct ones (even
        if a wrong label repeats one of theirs)."""
        feedback = Feedback.error(attempt, attempt.steps[i].label, segment, reason)
        ok = (attempt.steps[0].label, attempt.steps[i - 1].label) if i else None
        return dataclasses.replace(feedback, ok_range=ok)

    def _check_final(self, problem: Problem, attempt: Attempt, plan: Plan | None) -> Feedback:
        final = attempt.final
        written = find_final_date(final) if self.compact else None
        if written is not None and not ANSWER_RE.search(final):
            options = options_of(problem.question)
            err = final_error(plan, options, problem.answer, written)
            return Feedback.error(attempt, FINAL, *err) if err else Feedback.ok(attempt)
        m = ANSWER_RE.search(final) or LETTER_RE.search(final)
        if m is None:
            example = "date as MM/DD/YYYY" if self.compact else "option such as (A)"
            return Feedback.error(attempt, FINAL, final, f"the final response names no {example}")
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
        plan = parse_question(problem.question)
        assert plan is not None  # solve() parsed it
        if self.compact:
            return self._improve_compact(problem, attempt, label, plan, gold)
        kept = list(attempt.prefix(label)) if label in attempt.labels else []
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

    def _improve_compact(
        self, problem: Problem, attempt: Attempt, label: str, plan: Plan, gold: Attempt
    ) -> Attempt | None:
        """Compact style: keep the steps before the error verbatim and write the gold steps
        from its position on (the compact steps are positional). Of several steps labelled
        ``label``, the last one after right steps only is meant."""
        found = diagnose_compact(plan, attempt)
        last = found[0] if found else len(attempt.steps) - 1
        at = [i for i, s in enumerate(attempt.steps[: last + 1]) if s.label == label]
        if not at or at[-1] >= len(gold.steps):
            return None
        new = Attempt(attempt.steps[: at[-1]] + gold.steps[at[-1] :])
        return new if self.check(problem, new).correct else None

    # ------------------------------------------------------------ error injection

    def inject_error(
        self, problem: Problem, attempt: Attempt, rng: random.Random
    ) -> tuple[Attempt, str] | None:
        """One error of a kind a small model makes: a wrong reference date (today or an
        event), wrong day arithmetic for the target (off by one, a wrong month length, a
        forgotten year change, the wrong direction), a wrong MM/DD/YYYY rewriting, or a wrong
        option letter. Later steps follow the wrong date, as a model's would. The compact
        style writes its own kinds (:data:`tripost.tasks.dates.compact.ERROR_KINDS`) into its
        gold rationale, and no other attempt."""
        plan = parse_question(problem.question)
        if plan is None:
            return None
        if self.compact:
            gold = self.solve(problem)
            return inject_compact(plan, problem.answer, rng) if attempt == gold else None
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
            return wrong_option(plan, attempt, rng, problem.answer)
        if kind == "rewrite":
            return wrong_rewrite(plan, attempt, *rng.choice(rewrites), rng)
        pool = [(i, c) for i, c in claims if (c.key[0] == "fact") == (kind == "fact")]
        i, c = rng.choice(pool)
        wrong = wrong_dates(c, plan, dates)
        if not wrong:
            return wrong_option(plan, attempt, rng, problem.answer)
        return propagate(plan, attempt, i, c, rng.choice(wrong), rng), attempt.steps[i].label
