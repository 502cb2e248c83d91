"""Word sorting: ``task`` (the Task), ``model`` (questions, letter ranks, the gold plan, step
parsers), ``generate`` (word lists and injected errors), ``check`` (diagnosis of a wrong step), ``compact`` (the ``compact`` rationale style: all of
these for it)."""

from tripost.tasks.word_sorting.task import WordSorting

__all__ = ["WordSorting"]
