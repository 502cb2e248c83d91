"""Task registry: a task is chosen by name. Adding a task = one package (``tasks/<name>/`` with
``task.py``, ``model.py``, ``generate.py``, ``check.py``) + one line here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tripost.tasks.base import Task, check_text, is_correct, read_problems


def _arithmetic(**kw: Any) -> Task:
    from tripost.tasks.arithmetic.task import MultistepArithmetic

    return MultistepArithmetic(**kw)


def _word_sorting(**kw: Any) -> Task:
    from tripost.tasks.word_sorting.task import WordSorting

    return WordSorting(**kw)


def _dates(**kw: Any) -> Task:
    from tripost.tasks.dates.task import DateUnderstanding

    return DateUnderstanding(**kw)


def _logical_deduction(**kw: Any) -> Task:
    from tripost.tasks.logical_deduction.task import LogicalDeduction

    return LogicalDeduction(**kw)


def _custom(config: Any = None, **kw: Any) -> Task:
    """A user's task: ``config`` is the path of its task YAML (or the dict itself)."""
    from tripost.tasks.custom.task import CustomTask

    if config is None:
        raise ValueError("task 'custom' needs a task config (task_options.config or --task-config)")
    return CustomTask.from_config(config)


TASKS: dict[str, Callable[..., Task]] = {
    "multistep_arithmetic": _arithmetic,
    "word_sorting": _word_sorting,
    "date_understanding": _dates,
    "logical_deduction": _logical_deduction,
    "custom": _custom,
}


def get_task(name: str, **options: Any) -> Task:
    """The task called ``name``; ``options`` go to its constructor (e.g. ``instruction``)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}")
    return TASKS[name](**options)


__all__ = ["TASKS", "Task", "check_text", "get_task", "is_correct", "read_problems"]
