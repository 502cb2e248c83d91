"""Problem, Attempt, Feedback and Trajectory, and the one renderer/parser of the text format.

The format (docs/design.md §2) is the paper's::

    Q: ((7 - -1 + -1 + -4) - (-7 + 7 * 3 * -9)) =
    Answer: Let's think step by step.
    (1) This equation can be written as "(A - B)", where A = (7 - -1 + -1 + -4) and B = (-7 + 7 * 3 * -9).
    ...
    (Final response) So the answer is 198.
    Feedback: Step (1) is correct. In step (2) the part "(8 + -1)" is incorrect. This is because ...
    Updated Answer: Let's think step by step.
    (1) ...
    (Final response) So the answer is 199.
    Feedback: Step (1) to step (4) are correct. The final response is also correct.

Every ``render`` has a matching ``parse`` with ``render(parse(x)) == x``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FINAL = "Final response"
ANSWER_PREFIX = "Answer: Let's think step by step."
UPDATE_PREFIX = "Updated Answer: Let's think step by step."
FEEDBACK_PREFIX = "Feedback: "
STOP_PHRASE = "The final response is also correct."
#: what precedes a feedback after its attempt
FEEDBACK_MARKER = f"\n{FEEDBACK_PREFIX}"

_STEP_RE = re.compile(r"^\((\d+(?:\.\d+)*|Final response)\) ?(.*)$")


class FormatError(ValueError):
    """Text that does not follow the text format (docs/design.md §2)."""


@dataclass(frozen=True)
class Problem:
    """One question. ``question`` is written as BIG-Bench Hard writes it: no ``Q:`` prefix,
    options included for multiple choice (``...\\nOptions:\\n(A) ...``)."""

    question: str
    answer: str
    task: str
    bucket: str = ""
    seen: bool = True
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "task": self.task,
            "bucket": self.bucket,
            "seen": self.seen,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Problem:
        return cls(
            question=d["question"],
            answer=str(d["answer"]),
            task=d["task"],
            bucket=d.get("bucket", ""),
            seen=bool(d.get("seen", True)),
            meta=d.get("meta", {}),
        )


@dataclass(frozen=True)
class Step:
    label: str  # "1", "2.1" or "Final response"
    text: str  # may contain newlines (continuation lines)

    def render(self) -> str:
        return f"({self.label}) {self.text}"


@dataclass(frozen=True)
class Attempt:
    """A rationale: numbered steps ending in ``(Final response) ...``."""

    steps: tuple[Step, ...]

    def render(self) -> str:
        return "\n".join(s.render() for s in self.steps)

    @classmethod
    def parse(cls, text: str) -> Attempt:
        """Parse rationale lines. Lines that do not start a step continue the previous one.
        Raises FormatError when text precedes the first step, the last step is not the final
        response, or a line starts a feedback or an updated answer (the attempt would not
        survive a trajectory's render and parse). A repeated or skipped step label parses: the
        checkers name it in their feedback."""
        steps: list[list[str]] = []
        for line in text.split("\n"):
            if line.startswith((FEEDBACK_PREFIX, UPDATE_PREFIX)):
                raise FormatError(f"attempt has a {line.split(':')[0]!r} line inside it")
            m = _STEP_RE.match(line)
            if m and (line.startswith(f"({m.group(1)}) ") or line == f"({m.group(1)})"):
                steps.append([m.group(1), m.group(2)])
            elif steps:
                steps[-1][1] += "\n" + line
            else:
                raise FormatError(f"attempt does not start with a step label: {line[:60]!r}")
        if not steps:
            raise FormatError("empty attempt")
        if steps[-1][0] != FINAL:
            raise FormatError("attempt does not end with a (Final response) step")
        labels = [s[0] for s in steps]
        if labels.count(FINAL) != 1:
            raise FormatError("attempt has more than one (Final response) step")
        return cls(tuple(Step(label, t) for label, t in steps))

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.steps]

    def index(self, label: str) -> int:
        for i, s in enumerate(self.steps):
            if s.label == label:
                return i
        raise KeyError(label)

    @property
    def final(self) -> str:
        return self.steps[-1].text

    def prefix(self, label: str) -> tuple[Step, ...]:
        """The steps strictly before step ``label``."""
        return self.steps[: self.index(label)]


@dataclass(frozen=True)
class Feedback:
    """``correct`` or ``(error_step, segment, reason)``. ``ok_range`` is the
    ``Step (a) to step (b) are correct.`` prefix as written (None when absent)."""

    correct: bool
    error_step: str | None = None
    segment: str | None = None
    reason: str | None = None
    ok_range: tuple[str, str] | None = None

    @classmethod
    def ok(cls, attempt: Attempt) -> Feedback:
        numbered = [lab for lab in attempt.labels if lab != FINAL]
        return cls(True, ok_range=(numbered[0], numbered[-1]) if numbered else None)

    @classmethod
    def error(cls, attempt: Attempt | None, step: str, segment: str, reason: str) -> Feedback:
        """Error feedback; the correct-steps prefix comes from the steps before ``step``."""
        before: list[str] = []
        if attempt is not None and step in attempt.labels:
            before = [s.label for s in attempt.prefix(step)]
        return cls(
            False, step, segment, reason.rstrip("."), (before[0], before[-1]) if before else None
        )

    def render(self) -> str:
        out = ""
        if self.ok_range is not None:
            a, b = self.ok_range
            out = (
                f"Step ({a}) is correct. " if a == b else f"Step ({a}) to step ({b}) are correct. "
            )
        if self.correct:
            return out + STOP_PHRASE
        return (
            f'{out}In step ({self.error_step}) the part "{self.segment}" is incorrect. '
            f"This is because {self.reason}."
        )

    @classmethod
    def parse(cls, text: str) -> Feedback:
        m = _FEEDBACK_RE.match(text)
        if not m:
            raise FormatError(f"feedback does not follow the format: {text[:80]!r}")
        ok_range = None
        if m.group("one"):
            ok_range = (m.group("one"), m.group("one"))
        elif m.group("a"):
            ok_range = (m.group("a"), m.group("b"))
        if m.group("stop"):
            return cls(True, ok_range=ok_range)
        return cls(False, m.group("step"), m.group("seg"), m.group("reason"), ok_range)


_FEEDBACK_RE = re.compile(
    r"^(?:Step \((?P<one>[^()]+)\) is correct\. |Step \((?P<a>[^()]+)\) to step \((?P<b>[^()]+)\) are correct\. )?"
    rf"(?:(?P<stop>{re.escape(STOP_PHRASE)})"
    r'|In step \((?P<step>[^()]+)\) the part "(?P<seg>.*)" is incorrect\. This is because (?P<reason>.*)\.)$',
    re.DOTALL,
)


def render_prompt(question: str, instruction: str = "") -> str:
    """The prompt the policy continues: ``Q: ...\\nAnswer: Let's think step by step.<instr>\\n``."""
    return f"Q: {question}\n{ANSWER_PREFIX}{instruction}\n"


def update_marker(instruction: str = "") -> str:
    """The line between a feedback and the updated attempt that follows it:
    ``"\\nUpdated Answer: Let's think step by step.<instruction>\\n"``."""
    return f"\n{UPDATE_PREFIX}{instruction}\n"


def says_correct(feedback_text: str) -> bool:
    """Whether a (model-written) feedback text ends the trajectory: it has the stop phrase."""
    return STOP_PHRASE in feedback_text


@dataclass(frozen=True)
class Trajectory:
    """question, attempt₀, feedback₀, attempt₁, feedback₁, ... A trajectory may end on an
    attempt with no feedback (e.g. a rollout that stopped early)."""

    question: str
    attempts: tuple[Attempt, ...]
    feedbacks: tuple[Feedback, ...]
    instruction: str = ""

    def __post_init__(self) -> None:
        n, m = len(self.attempts), len(self.feedbacks)
        if n == 0 or m not in (n, n - 1):
            raise ValueError(f"a trajectory needs n attempts and n or n-1 feedbacks, got {n}/{m}")

    def render(self) -> str:
        return "".join(self.segments())

    def segments(self) -> tuple[str, str, str]:
        """The text in the three parts a training sample weighs differently: the prompt, the
        first attempt, and the rest (feedbacks and updated attempts; empty when there is none).
        They join into :meth:`render`."""
        rest = []
        for i, att in enumerate(self.attempts):
            if i > 0:
                rest.append(update_marker(self.instruction) + att.render())
            if i < len(self.feedbacks):
                rest.append(f"{FEEDBACK_MARKER}{self.feedbacks[i].render()}")
        prompt = render_prompt(self.question, self.instruction)
        return prompt, self.attempts[0].render(), "".join(rest)

    @classmethod
    def parse(cls, text: str, instruction: str = "") -> Trajectory:
        if not text.startswith("Q: "):
            raise FormatError("trajectory does not start with 'Q: '")
        head = f"\n{ANSWER_PREFIX}{instruction}\n"
        q, sep, rest = text[3:].partition(head)
        if not sep:
            raise FormatError("missing 'Answer: Let's think step by step.' line")
        attempts_text, feedback_texts = split_continuation(rest, instruction)
        return cls(
            q,
            tuple(Attempt.parse(a) for a in attempts_text),
            tuple(Feedback.parse(f) for f in feedback_texts),
            instruction,
        )


def split_continuation(
    text: str, instruction: str = "", trim: bool = False
) -> tuple[list[str], list[str]]:
    """Split what follows the answer prompt into raw attempt and feedback texts, without
    parsing them (model output may be malformed). Returns (attempts, feedbacks) with
    ``len(feedbacks) in (len(attempts), len(attempts) - 1)``.

    ``trim`` (for model output): an attempt ends with its ``(Final response)`` line; text the
    model wrote after it that is not a ``Feedback:`` is dropped, and so is everything after
    it (``"(1) ...\n(Final response) So the answer is 5.\n(2) junk"`` -> ``"(1) ...\n(Final
    response) So the answer is 5."``, no feedback): the answer is the one the model gave."""
    update = update_marker(instruction)
    attempts: list[str] = []
    feedbacks: list[str] = []
    for i, chunk in enumerate(text.split(update)):
        if i > 0 and len(feedbacks) < len(attempts):
            # an update without feedback before it: treat the marker as text of the attempt
            attempts[-1] += update + chunk
            continue
        att, sep, fb = chunk.partition(FEEDBACK_MARKER)
        cut = _end_of_final_line(att) if trim else len(att)
        attempts.append(att[:cut])
        if cut < len(att):
            break  # junk after the final response: the model never wrote its feedback
        if sep:
            feedbacks.append(fb)
    return attempts, feedbacks


def join_continuation(attempts: list[str], feedbacks: list[str], instruction: str = "") -> str:
    """The inverse of ``split_continuation``."""
    parts = []
    for i, att in enumerate(attempts):
        if i:
            parts.append(update_marker(instruction))
        parts.append(att)
        if i < len(feedbacks):
            parts.append(FEEDBACK_MARKER + feedbacks[i])
    return "".join(parts)


def _end_of_final_line(attempt: str) -> int:
    """Index just past the first ``(Final response)`` line of raw attempt text (or its end)."""
    marker = f"({FINAL})"
    start = 0 if attempt.startswith(marker) else attempt.find(f"\n{marker}")
    if start < 0:
        return len(attempt)
    end = attempt.find("\n", start + 1)
    return len(attempt) if end < 0 else end


def own_verdict(feedback: str) -> str | None:
    """The feedback text up to the end of its stop phrase when it parses as the format's
    "correct" feedback (``Step (1) to step (3) are correct. The final response is also
    correct.``), else None (an error feedback, or text that does not follow the format)."""
    end = feedback.find(STOP_PHRASE)
    if end < 0:
        return None
    text = feedback[: end + len(STOP_PHRASE)]
    try:
        return text if Feedback.parse(text).correct else None
    except FormatError:
        return None
