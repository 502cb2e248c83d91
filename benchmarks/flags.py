"""Re-read the model's own first feedback in a run's evaluation files: how often it says, in the
feedback format, that a step is wrong (a flag), how often it is garbled (neither the format's
"correct" nor its "wrong") or absent (the model stopped after its answer), and flag precision /
recall on seen questions with flags counted that way.

Runs evaluated before garbled feedback was told apart counted it as a flag; this prints both,
from the stored outputs, without re-decoding::

    python benchmarks/flags.py runs/cmp_ws/seed0 [RUN ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tripost.evaluation import feedback_verdict
from tripost.trajectory import split_continuation


def first_says(output: str) -> str | None:
    _, feedbacks = split_continuation(output, trim=True)
    return feedback_verdict(feedbacks[0]) if feedbacks else None


def table(run: Path) -> list[str]:
    out = [
        f"`{run}` (seen questions)",
        "",
        "| model | n | wrong first | old flags (P / R) | flags (P / R) | garbled | says correct | none |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted((run / "eval").glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r["seen"]]
        # text after the answer that is no feedback is dropped from the stored output and
        # marked malformed by the evaluation (runs since 2026-12-03; older runs say "none")
        says = [
            first_says(r["output"]) or ("malformed" if r.get("malformed") else None) for r in rows
        ]
        wrong = [not r["first_correct"] for r in rows]
        old = [s in ("wrong", "malformed") for s in says]
        new = [s == "wrong" for s in says]

        out.append(
            f"| {path.stem} | {len(rows)} | {sum(wrong)} | {_pr(old, wrong)} | {_pr(new, wrong)} | "
            f"{says.count('malformed')} | {says.count('correct')} | {says.count(None)} |"
        )
    return out


def _pr(flags: list[bool], wrong: list[bool]) -> str:
    """``n (precision / recall)`` of ``flags`` against the first attempts that were wrong."""
    hits = sum(f and w for f, w in zip(flags, wrong))
    p = hits / sum(flags) if any(flags) else 0.0
    r = hits / sum(wrong) if any(wrong) else 0.0
    return f"{sum(flags)} ({p:.2f} / {r:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    for run in ap.parse_args().runs:
        print("\n".join(table(run)), end="\n\n")


if __name__ == "__main__":
    main()
