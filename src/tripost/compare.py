"""Statistics and the table of ``tripost compare``: pure functions on plain numbers.

- ``summarize``: per (method, iteration, split), the mean and sample standard deviation over seeds
  of the report rows' figures;
- ``paired_bootstrap``: a method against a reference on the same questions: the difference in
  accuracy, pooled over seeds and questions, with a percentile interval from a two-level
  bootstrap (resample the seeds, then the questions within each drawn seed), seeded;
- ``markdown``: the paper-style table and one line per method on whether it beats the reference
  beyond its interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SPLITS = ("seen", "unseen", "total")
#: report-row figures averaged over seeds (``<name>_mean``)
MEAN_FIELDS = (
    "n",
    "first_accuracy",
    "si_freq",
    "si_contrib",
    "si_contrib_all",
    "fixed",
    "broken",
    "flag_precision",
    "flag_recall",
    "feedback_malformed",
)


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def std(xs: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0 for a single value."""
    if len(xs) < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def summarize(rows: list[dict], order: Sequence[str] = ()) -> list[dict]:
    """Summary rows from report ``results`` rows that carry a ``seed``. Rows come out in
    ``order`` of methods (others after), then by iteration and split."""
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["iteration"], r["split"]), []).append(r)
    rank = {m: i for i, m in enumerate(order)}

    def key(k: tuple[str, int, str]):
        split = SPLITS.index(k[2]) if k[2] in SPLITS else len(SPLITS)
        return (rank.get(k[0], len(rank)), k[0], k[1], split)

    out = []
    for method, iteration, split in sorted(groups, key=key):
        g = groups[(method, iteration, split)]
        acc = [r["accuracy"] for r in g]
        row = {
            "method": method,
            "iteration": iteration,
            "split": split,
            "n_seeds": len(g),
            "seeds": sorted(r["seed"] for r in g),
            "accuracy_mean": mean(acc),
            "accuracy_std": std(acc),
        }
        for f in MEAN_FIELDS:
            vals = [r[f] for r in g if r.get(f) is not None]
            row[f"{f}_mean"] = mean(vals) if vals else None
        row["si_freq_std"] = std([r["si_freq"] for r in g])
        row["si_contrib_std"] = std([r["si_contrib"] for r in g])
        out.append(row)
    return out


def paired_bootstrap(
    method: dict[int, list[bool]],
    reference: dict[int, list[bool]],
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Accuracy of ``method`` minus ``reference`` on the same questions.

    Both map a seed to per-question correctness, the i-th entries being the same question.
    The difference is pooled over all (seed, question) pairs; the interval is the percentile
    interval of ``n_boot`` resamples that draw seeds with replacement and, within each drawn seed,
    its questions with replacement."""
    if set(method) != set(reference):
        raise ValueError("method and reference must have the same seeds")
    diffs = []
    for s in sorted(method):
        a, b = method[s], reference[s]
        if len(a) != len(b):
            raise ValueError(f"seed {s}: {len(a)} vs {len(b)} questions")
        if a:
            diffs.append([int(x) - int(y) for x, y in zip(a, b)])
    if not diffs:
        raise ValueError("no questions to compare")
    n = sum(len(d) for d in diffs)
    point = sum(map(sum, diffs)) / n
    rng = np.random.default_rng(seed)
    k = len(diffs)
    drawn = rng.integers(k, size=(n_boot, k))  # the seeds of each resample
    total = np.zeros(n_boot)
    count = np.zeros(n_boot)
    for j in range(k):  # slot j of every resample: its own question resample of each seed
        for s, d in enumerate(diffs):
            arr = np.asarray(d, dtype=np.int64)
            sums = arr[rng.integers(len(d), size=(n_boot, len(d)))].sum(axis=1)
            pick = drawn[:, j] == s
            total[pick] += sums[pick]
            count[pick] += len(d)
    stats = np.sort(total / count)
    alpha = (1 - level) / 2
    low = float(stats[min(n_boot - 1, max(0, math.floor(alpha * n_boot)))])
    high = float(stats[min(n_boot - 1, max(0, math.ceil((1 - alpha) * n_boot) - 1))])
    return {
        "difference": point,
        "low": low,
        "high": high,
        "level": level,
        "n_questions": n,
        "n_seeds": len(diffs),
        "beats": low > 0,
        "worse": high < 0,
        "identical": not any(map(any, diffs)),
    }


def verdict_line(method: str, reference: str, p: dict, label: str = "") -> str:
    """One sentence: does ``method`` beat ``reference`` beyond its interval?"""
    what = f"{method}{label}"
    ci = (
        f"{100 * p['difference']:+.1f} points, {100 * p['level']:.0f}% interval "
        f"[{100 * p['low']:+.1f}, {100 * p['high']:+.1f}] over {p['n_questions']} questions "
        f"x {p['n_seeds']} seed(s)"
    )
    if p["beats"]:
        return f"- **{what} beats {reference}** beyond its interval ({ci})."
    if p["worse"]:
        return f"- {what} is **worse** than {reference} beyond its interval ({ci})."
    if p.get("identical"):
        return (
            f"- {what} and {reference} were right on exactly the same questions "
            f"({p['n_questions']} questions x {p['n_seeds']} seed(s)): **inconclusive**, "
            "there is no difference to measure."
        )
    return f"- {what} does **not** beat {reference} beyond its interval ({ci})."


def _cell(row: dict | None, field: str = "accuracy") -> str:
    if row is None:
        return "–"
    m, s = row[f"{field}_mean"], row.get(f"{field}_std")
    if m is None:
        return "–"
    return f"{100 * m:.1f} ± {100 * s:.1f}" if s is not None else f"{100 * m:.1f}"


def markdown(compare: dict) -> str:
    """compare.md: the table (method x seen / unseen / total accuracy, SI.Freq and SI.Contrib on
    the total split, mean ± std over seeds, in %) and the verdict lines."""
    rows = {(r["method"], r["iteration"], r["split"]): r for r in compare["summary"]}
    models = sorted(
        {(r["method"], r["iteration"]) for r in compare["summary"]}, key=_model_key(compare)
    )
    ref = compare.get("reference", "sft_more")
    lines = [
        f"# tripost compare: {compare['task']} ({compare['n_seeds']} seed(s): "
        f"{', '.join(map(str, compare['seeds']))})",
        "",
        "Accuracy, SI.Freq and SI.Contrib in %, mean ± std over seeds; SI.Freq, SI.Contrib, "
        "fixed and broken on all questions (total).",
        "",
        "| method | iter | seen | unseen | total | SI.Freq | SI.Contrib | fixed | broken |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method, it in models:
        total = rows.get((method, it, "total"))
        fixed = "–" if total is None else f"{total['fixed_mean']:.1f}"
        broken = "–" if total is None else f"{total['broken_mean']:.1f}"
        lines.append(
            f"| {method} | {it} | {_cell(rows.get((method, it, 'seen')))} | "
            f"{_cell(rows.get((method, it, 'unseen')))} | {_cell(total)} | "
            f"{_cell(total, 'si_freq')} | {_cell(total, 'si_contrib')} | {fixed} | {broken} |"
        )
    lines += [
        "",
        f"## Against {ref} (paired, same questions, bootstrap over questions and seeds)",
        "",
    ]
    paired = compare.get("paired", [])
    if not paired:
        lines.append(f"- no paired comparison ({ref} is not among the methods)")
    for p in paired:
        if p["split"] == "total":
            label = f" (t={p['iteration']})" if p["iteration"] else ""
            lines.append(verdict_line(p["method"], ref, p, label))
    if paired:
        lines += [
            "",
            "| method | iter | split | difference | low | high |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {p['method']} | {p['iteration']} | {p['split']} | {100 * p['difference']:+.1f} | "
            f"{100 * p['low']:+.1f} | {100 * p['high']:+.1f} |"
            for p in paired
        ]
    return "\n".join(lines) + "\n"


def _model_key(compare: dict):
    rank = {m: i for i, m in enumerate(compare.get("methods", []))}
    return lambda k: (rank.get(k[0], len(rank)), k[0], k[1])
