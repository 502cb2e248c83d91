"""The checker of a user task: answers compared after normalisation (a user task has no step
checker; step-level feedback comes from the LLM expert)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

LETTER_RE = re.compile(r"^\(?([A-Z])\)?$")


def normalize_answer(raw: str, how: str, options: list[str] | None = None) -> str | None:
    """The normalised answer, or None when ``raw`` is not one (e.g. not a number).

    >>> normalize_answer(" 1,200.0. ", "number"), normalize_answer("b", "strip", ["x", "y"])
    ('1200', '(B)')
    """
    text = " ".join(raw.split()).rstrip(".").strip()
    if options:
        m = LETTER_RE.match(text.upper())
        if m and ord(m.group(1)) - ord("A") < len(options):
            return f"({m.group(1)})"
        for i, opt in enumerate(options):
            if text.lower() == " ".join(opt.split()).lower():
                return f"({chr(ord('A') + i)})"
        return None
    if how == "lower":
        return text.lower()
    if how == "number":
        try:
            value = Decimal(text.replace(",", "").lstrip("$"))
        except InvalidOperation:
            return None
        if not value.is_finite():
            return None
        return (
            str(value.quantize(Decimal(1)))
            if value == value.to_integral_value()
            else format(value.normalize(), "f")
        )
    return text
