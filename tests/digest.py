"""A fingerprint of a task's scripted behaviour, for tests that a new task option leaves the
default style byte-identical."""

from __future__ import annotations

import hashlib
import random

from tripost.tasks.base import Task


def behaviour_digest(task: Task, n: int = 200) -> str:
    """sha256 of n generated problems (seen and unseen in turn), their gold rationales and its
    feedback, and one injected error each with its feedback and improvement."""
    rng = random.Random(2024)
    h = hashlib.sha256()
    for i in range(n):
        p = task.generate(rng, "seen" if i % 2 else "unseen")
        gold = task.solve(p)
        assert gold is not None
        out = [p.question, gold.render(), task.check(p, gold).render()]
        injected = task.inject_error(p, gold, rng)
        if injected is not None:
            bad, label = injected
            fb = task.check(p, bad)
            new = task.improve(p, bad, fb)
            out += [label, bad.render(), fb.render(), new.render() if new else "-"]
        h.update("\n\x00".join(out).encode())
    return h.hexdigest()
