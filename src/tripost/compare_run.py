"""``tripost compare``: every method for every seed, then compare.json, compare.md, compare.png.

One run directory per seed (``DIR/seed{s}``) holds all the methods, so they share that seed's
data and SFT model. Each run resumes at its first unfinished stage, so a killed compare re-run
finishes only what is missing; the compare files are written last, from the run directories.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tripost import compare, processes
from tripost.config import RunConfig
from tripost.methods import FAMILIES, checkpoint, ordered
from tripost.report import atomic_plot
from tripost.rundir import RunDir

log = logging.getLogger(__name__)

REFERENCE = "sft_more"
N_BOOT = 2000


def run_compare(cfg: RunConfig, out: str | Path, seeds: int, methods: list[str]) -> dict:
    """Run (or resume) ``seeds`` seeds from ``cfg.seed`` on; returns the compare dict."""
    from tripost.loop import run_tripost

    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    methods = ordered(methods)
    root = Path(out)
    dirs = {}
    for i in range(seeds):
        s = cfg.seed + i
        dirs[s] = root / f"seed{s}"
        log.info("compare: seed %d (%d of %d) in %s", s, i + 1, seeds, dirs[s])
        run_tripost(cfg.model_copy(update={"seed": s, "methods": methods}), dirs[s])
    result = collect(dirs, methods, cfg)
    processes.on_main(lambda: write_compare(RunDir(root), result))  # under `accelerate launch`
    return result


def write_compare(rd: RunDir, result: dict) -> None:
    rd.write_json("compare.json", result)
    rd.write_text("compare.md", compare.markdown(result))
    atomic_plot(rd, "compare.png", lambda path: plot(result, path))


def collect(dirs: dict[int, Path], methods: list[str], cfg: RunConfig) -> dict:
    """compare.json from finished run directories (seed -> directory)."""
    runs = []
    for s, d in dirs.items():
        report = RunDir(d).read_json("report.json")
        runs += [
            {**r, "seed": s}
            for r in report["results"]
            if r["method"] in methods and (r["method"] not in FAMILIES or r["iteration"] >= 1)
        ]
    paired = []
    if REFERENCE in methods:
        for m in methods:
            if m == REFERENCE:
                continue
            it = cfg.iterations if m in FAMILIES else 0
            if m in FAMILIES and it < 1:
                continue
            for split in compare.SPLITS:
                a, b = _paired_outcomes(dirs, checkpoint(m, it), checkpoint(REFERENCE, 0), split)
                if any(a.values()):
                    p = compare.paired_bootstrap(a, b, N_BOOT, seed=cfg.seed)
                    paired.append({"method": m, "iteration": it, "split": split, **p})
    return {
        "task": cfg.task,
        "seeds": sorted(dirs),
        "n_seeds": len(dirs),
        "methods": methods,
        "iterations": cfg.iterations,
        "reference": REFERENCE,
        "runs": runs,
        "summary": compare.summarize(runs, methods),
        "paired": paired,
    }


def _paired_outcomes(
    dirs: dict[int, Path], ckpt: str, ref: str, split: str
) -> tuple[dict[int, list[bool]], dict[int, list[bool]]]:
    """Per seed, the final correctness of two models on the questions both answered."""
    a, b = {}, {}
    for s, d in dirs.items():
        mine = _outcomes(d / "eval" / f"{ckpt}.jsonl", split)
        theirs = _outcomes(d / "eval" / f"{ref}.jsonl", split)
        common = [q for q in mine if q in theirs]
        a[s] = [mine[q] for q in common]
        b[s] = [theirs[q] for q in common]
    return a, b


def _outcomes(path: Path, split: str) -> dict[str, bool]:
    from tripost.jsonl import read_jsonl

    return {
        d["question"]: bool(d["final_correct"])
        for _, d in read_jsonl(path, required=("question",))
        if split == "total" or d["seen"] == (split == "seen")
    }


def plot(result: dict, path) -> None:
    """Accuracy by method and iteration (mean ± std over seeds) for each split, and the mean
    fixed / broken counts of self-improvement on all questions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {(r["method"], r["iteration"], r["split"]): r for r in result["summary"]}
    models = []
    for m in result["methods"]:
        its = sorted({k[1] for k in rows if k[0] == m})
        models += [(m, t) for t in its]
    labels = [m if m not in FAMILIES else f"{m} t={t}" for m, t in models]
    x = list(range(len(models)))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(8, 1.3 * len(models) + 4), 4.5))
    width = 0.27
    for i, split in enumerate(compare.SPLITS):
        ys = [rows.get((m, t, split)) for m, t in models]
        ax.bar(
            [xi + (i - 1) * width for xi in x],
            [100 * r["accuracy_mean"] if r else 0 for r in ys],
            width,
            # the error bar stops at 0 %
            yerr=[
                [100 * min(r["accuracy_std"], r["accuracy_mean"]) if r else 0 for r in ys],
                [100 * r["accuracy_std"] if r else 0 for r in ys],
            ],
            capsize=3,
            label=split,
        )
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 100)  # a fixed axis: a model at 0% looks like one
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{result['task']}: accuracy ({result['n_seeds']} seed(s), mean ± std)")
    ax.legend(fontsize=8)
    total = [rows.get((m, t, "total")) for m, t in models]
    for i, (field, name) in enumerate((("fixed_mean", "fixed"), ("broken_mean", "broken"))):
        ax2.bar(
            [xi + (i - 0.5) * 0.4 for xi in x],
            [r[field] if r else 0 for r in total],
            0.4,
            label=f"{name} (wrong -> right)" if name == "fixed" else f"{name} (right -> wrong)",
        )
    ax2.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
    counts = [r[f] for r in total if r for f in ("fixed_mean", "broken_mean")]
    ax2.set_ylim(0, max([1.0, *counts]) * 1.15)
    ax2.set_ylabel("questions (mean over seeds)")
    ax2.set_title("self-improvement: fixed / broken")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
