"""Training samples as JSON: the run's own ``iter{t}/train.jsonl`` and ``tripost export``.

A sample is text in weighted segments (the prompt, the first attempt, then feedback and
updates; see ``training.Sample``). In a JSON line each segment is an object, so that every
column has one type and the file loads with ``datasets.load_dataset("json", data_files=F)``::

    {"kind": "improvement", "eos": true,
     "segments": [{"text": "Q: ...\\nAnswer: Let's think step by step.\\n", "weight": 0.0},
                  {"text": "(1) ...\\n(Final response) So the answer is 3.", "weight": 1.0},
                  {"text": "\\nFeedback: ...", "weight": 1.5}]}

Run directories written before this layout hold ``"segments": [["text", 0.0], ...]``; both
are read.

``tripost export`` writes the samples of a run in three formats:

- ``jsonl``: the lines above, plus ``iteration``;
- ``trl``: ``{"prompt", "completion"}`` (TRL's prompt-completion format: the loss is on the
  completion, as with this project's default ``prompt_weight: 0``; the per-segment weights,
  e.g. feedback at 1.5, are not representable there);
- ``messages``: ``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}`` (chat
  format: the prompt as the user turn, attempt + feedback + updates as one assistant turn).

Every format keeps ``kind`` (improvement / non_improvement / gold), ``iteration`` and ``eos``
(false for a sample that stops before the end of its trajectory: a trainer that appends EOS to
every completion teaches the model to stop there).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tripost.training import Sample

FORMATS = ("trl", "messages", "jsonl")


def sample_to_json(sample: Sample, kind: str) -> dict[str, Any]:
    segments = [{"text": t, "weight": float(w)} for t, w in sample.segments]
    return {"kind": kind, "eos": sample.eos, "segments": segments}


def sample_from_json(d: dict[str, Any]) -> Sample:
    """A Sample from a train.jsonl line, in the object or the older ``[text, weight]`` form."""
    segs = []
    for s in d["segments"]:
        if isinstance(s, dict):
            segs.append((s["text"], float(s["weight"])))
        else:
            text, weight = s
            segs.append((text, float(weight)))
    return Sample(tuple(segs), d.get("eos", True))


def convert(d: dict[str, Any], fmt: str, iteration: int) -> dict[str, Any]:
    """One train.jsonl line in export format ``fmt``."""
    sample = sample_from_json(d)
    kind = d.get("kind", "")
    if fmt == "jsonl":
        return {"iteration": iteration, **sample_to_json(sample, kind)}
    prompt = sample.segments[0][0]
    completion = "".join(t for t, _ in sample.segments[1:])
    extra = {"kind": kind, "iteration": iteration, "eos": sample.eos}
    if fmt == "trl":
        return {"prompt": prompt, "completion": completion, **extra}
    if fmt == "messages":
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": completion},
        ]
        return {"messages": messages, **extra}
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")


def run_iterations(run: Path) -> list[int]:
    """Iterations of a run directory that have a train.jsonl, in order."""
    found = []
    for p in run.glob("iter*/train.jsonl"):
        suffix = p.parent.name[len("iter") :]
        if suffix.isdigit():
            found.append(int(suffix))
    return sorted(found)


def export_rows(run: str | Path, fmt: str, iteration: int | None = None) -> Iterable[dict]:
    """The training samples of ``run`` (one iteration, or all) in format ``fmt``."""
    run = Path(run)
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt}: unknown format; known: {', '.join(FORMATS)}")
    if not (run / "manifest.json").exists():
        raise ValueError(f"{run}: not a tripost run directory (no manifest.json)")
    its = run_iterations(run)
    if iteration is not None:
        if iteration not in its:
            have = ", ".join(map(str, its)) or "none"
            raise ValueError(f"{run}: iteration {iteration} has no train.jsonl (have: {have})")
        its = [iteration]
    if not its:
        raise ValueError(f"{run}: no iteration has a train.jsonl yet")
    rows = []
    for t in its:
        path = run / f"iter{t}" / "train.jsonl"
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(convert(json.loads(line), fmt, t))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise ValueError(
                    f"{path}:{lineno}: segments: not a training sample ({e})"
                ) from None
    return rows
