"""Multistep arithmetic: ``task`` (the Task), ``model`` (expressions, questions, the gold
rationale), ``generate`` (questions and injected slips), ``check`` (scripted feedback)."""

from tripost.tasks.arithmetic.task import SEEN_BUCKETS, UNSEEN_BUCKETS, MultistepArithmetic

__all__ = ["SEEN_BUCKETS", "UNSEEN_BUCKETS", "MultistepArithmetic"]
