"""A user task's config and problems: the config schema, options rendered as BBH renders them,
rationales read from the problems and examples files."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tripost.trajectory import ANSWER_PREFIX, Attempt

OPTIONS_RE = re.compile(r"\nOptions:\n((?:\([A-Z]\) .*(?:\n|$))+)\Z")


class CustomTaskConfig(BaseModel):
    """The config of a user task; unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Task name used in reports.")
    problems: str = Field(description="JSONL file of problems.")
    answer_regex: str = Field(
        r"the answer is (.+?)\.?\s*$",
        description="Regex with one group: the answer in (Final response).",
    )
    instruction: str | None = Field(None, description='Text after "Let\'s think step by step.".')
    normalize: Literal["strip", "lower", "number"] = Field(
        "strip", description="Answer normalisation."
    )
    examples: str | None = Field(
        None, description="Optional JSONL of reviewed examples for prompts."
    )


def render_question(question: str, options: list[str] | None) -> str:
    if not options:
        return question
    return (
        question
        + "\nOptions:\n"
        + "\n".join(f"({chr(ord('A') + i)}) {o}" for i, o in enumerate(options))
    )


def parse_rationale(text: str) -> Attempt:
    return Attempt.parse(text.strip("\n").removeprefix(ANSWER_PREFIX).strip("\n"))


def question_and_options(d: dict[str, Any], where: str) -> tuple[str, list[str] | None]:
    if not isinstance(d.get("question"), str) or not d["question"].strip():
        raise ValueError(f"{where}: missing string field 'question'")
    options = d.get("options")
    if options is not None:
        if (
            not isinstance(options, list)
            or len(options) < 2
            or not all(isinstance(o, str) for o in options)
        ):
            raise ValueError(f"{where}: options must be a list of at least two strings")
        if len(options) > 26:
            raise ValueError(f"{where}: at most 26 options")
    return render_question(d["question"].strip(), options), options
