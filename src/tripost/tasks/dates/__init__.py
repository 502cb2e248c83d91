"""Date understanding: ``task`` (the Task), ``calendar`` (date arithmetic, literals, holidays),
``model`` (questions read into a Plan, the gold rationale), ``generate`` (questions and injected
errors), ``check`` (the date claims of a step, recomputed), ``compact`` (the ``style: compact``
rationale, its feedback and errors)."""

from tripost.tasks.dates.task import DateUnderstanding

__all__ = ["DateUnderstanding"]
