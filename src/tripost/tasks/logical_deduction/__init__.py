"""Logical deduction: ``task`` (the Task), ``model`` (scenes, statements, "??" patterns, step
forms), ``compact`` (the compact style's step forms), ``generate`` (scenes and injected slips),
``check`` (scripted feedback and improvement)."""

from tripost.tasks.logical_deduction.task import LogicalDeduction

__all__ = ["LogicalDeduction"]
