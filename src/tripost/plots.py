"""The report's figures: accuracy per iteration (accuracy.png) and training curves
(training.png). Drawn with matplotlib's Agg backend: no display needed."""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _x_of(method: str, iteration: int, last: int) -> float:
    """Where a model sits on the iteration axis: SFT at 0, iterated methods at their
    iteration, and other one-shot baselines (e.g. the compute-matched sft_more) at the last
    iteration, whose training compute they match."""
    if iteration > 0 or method == "sft":
        return float(iteration)
    return float(last)


def plot_accuracy(report: dict, path: str | Path) -> None:
    fig = accuracy_figure(report)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)


def accuracy_figure(report: dict):
    """Top: accuracy (0-100%) per method and iteration, seen solid and unseen dashed, with 95%
    intervals as error bars; one legend entry per method. Bottom: TriPosT's answers fixed and
    broken by an update (bars) and its flag precision / recall (lines) per iteration."""
    from matplotlib.lines import Line2D

    from tripost.report import _models, _row, interval, method_key

    plt = _pyplot()
    results = report["results"]
    models = _models(results)
    last = max([t for _, t in models] or [0])
    methods = sorted({m for m, _ in models}, key=method_key)
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(7, 7), gridspec_kw={"height_ratios": [3, 2]}, sharex=True
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, method in enumerate(methods):
        color = colors[i % len(colors)]
        nudge = 0.04 * (i - (len(methods) - 1) / 2)  # markers of one x do not hide each other
        for split, style in (("seen", "-o"), ("unseen", "--s")):
            rows = [
                (_x_of(method, t, last) + nudge, _row(results, m, t, split))
                for m, t in models
                if m == method
            ]
            rows = [(x, r) for x, r in rows if r is not None]
            if not rows:
                continue
            xs = [x for x, _ in rows]
            ys = [100 * r["accuracy"] for _, r in rows]
            lo, hi = [], []
            for _, r in rows:
                ci = interval(r) or (r["accuracy"], r["accuracy"])
                lo.append(100 * (r["accuracy"] - ci[0]))
                hi.append(100 * (ci[1] - r["accuracy"]))
            ax.errorbar(
                xs,
                ys,
                yerr=[lo, hi],
                fmt=style,
                color=color,
                capsize=3,
                label=method if split == "seen" else None,
                alpha=1.0 if split == "seen" else 0.6,
            )
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{report['task']}: accuracy per iteration (bars: 95% interval)")
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="gray", ls="-", marker="o", label="seen"),
        Line2D([], [], color="gray", ls="--", marker="s", label="unseen"),
    ]
    ax.legend(handles=handles, fontsize=8, loc="best", ncol=2)
    ax.grid(alpha=0.3)

    tp = sorted(
        (r for r in results if r["method"] == "tripost" and r["split"] == "seen"),
        key=lambda r: r["iteration"],
    )
    if tp:
        xs = [r["iteration"] for r in tp]
        ax2.bar([x - 0.15 for x in xs], [r.get("fixed", 0) for r in tp], 0.3, label="fixed")
        ax2.bar([x + 0.15 for x in xs], [r.get("broken", 0) for r in tp], 0.3, label="broken")
        ax2.set_ylabel("answers (seen)")
        twin = ax2.twinx()
        twin.plot(xs, [r.get("flag_precision", 0) for r in tp], "k-^", label="flag precision")
        twin.plot(xs, [r.get("flag_recall", 0) for r in tp], "k:v", label="flag recall")
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("flag precision / recall")
        h1, l1 = ax2.get_legend_handles_labels()
        h2, l2 = twin.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left", ncol=2)
        ax2.set_title("TriPosT's self-corrections per iteration", fontsize=10)
    else:
        ax2.text(0.5, 0.5, "no TriPosT iteration evaluated", ha="center", transform=ax2.transAxes)
    ax2.set_xticks(range(0, last + 1))
    ax2.set_xlabel("iteration (0 = SFT; one-shot baselines at the last iteration)")
    fig.tight_layout()
    return fig


def plot_training(curves: dict[str, list[dict]], path: str | Path) -> None:
    """Loss, learning rate and tokens/s against the optimizer step of each training stage."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    panels = (("loss", "weighted loss"), ("lr", "learning rate"), ("tokens_per_s", "tokens/s"))
    for ax, (key, label) in zip(axes, panels):
        for stage, rows in curves.items():
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                ax.plot([s for s, _ in pts], [v for _, v in pts], label=stage)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(label)
        ax.set_title(f"{label} per training stage", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
