"""report.json, report.md and accuracy.png of a run.

The Markdown report states plainly whether the paper's claim held at this scale: TriPosT after
the last iteration beats both ``sft`` and the compute-matched ``sft_more`` on held-out *seen*
problems by at least 5 points, with SI.Contrib above zero.
"""

from __future__ import annotations

import logging
import os

from tripost.config import RunConfig
from tripost.methods import METHODS, evaluations
from tripost.rundir import RunDir, tmp_name

log = logging.getLogger(__name__)

CLAIM_MARGIN = 0.05


def collect(rd: RunDir, cfg: RunConfig) -> dict:
    results, buckets = [], []
    for name, _, _ in evaluations(list(METHODS), cfg.iterations):
        p = rd.root / "eval" / f"{name}.metrics.json"
        if p.exists():
            m = rd.read_json(f"eval/{name}.metrics.json")
            results += m["results"]
            buckets += m["buckets"]
    stages = {k: v for k, v in rd.manifest["stages"].items()}
    iterations = [
        {
            "iteration": t,
            "edit": stages.get(f"iter{t}/edit", {}),
            "train_set": stages.get(f"iter{t}/train_set", {}),
            "train": stages.get(f"iter{t}/train", {}),
        }
        for t in range(1, cfg.iterations + 1)
    ]
    return {
        "task": cfg.task,
        "seed": cfg.seed,
        "results": results,
        "buckets": buckets,
        "iterations": iterations,
        "stage_seconds": {k: v.get("seconds") for k, v in stages.items()},
        "verdict": verdict(results, cfg.iterations),
    }


def _row(results: list[dict], method: str, iteration: int, split: str) -> dict | None:
    for r in results:
        if (r["method"], r["iteration"], r["split"]) == (method, iteration, split):
            return r
    return None


def verdict(results: list[dict], iterations: int) -> dict:
    """Did TriPosT (last iteration) beat sft and sft_more on seen by >= 5 points with SI.Contrib > 0?"""
    tp = _row(results, "tripost", iterations, "seen")
    sft = _row(results, "sft", 0, "seen")
    more = _row(results, "sft_more", 0, "seen")
    if not (tp and sft and more):
        return {"claim_holds": None, "text": "not enough results to judge the claim"}
    d_sft, d_more = tp["accuracy"] - sft["accuracy"], tp["accuracy"] - more["accuracy"]
    holds = d_sft >= CLAIM_MARGIN and d_more >= CLAIM_MARGIN and tp["si_contrib"] > 0
    text = (
        f"TriPosT (t={iterations}) seen accuracy {tp['accuracy']:.1%}: {d_sft:+.1%} vs sft, "
        f"{d_more:+.1%} vs sft_more (compute-matched); SI.Contrib {tp['si_contrib']:.1%} "
        f"({tp['fixed']} fixed, {tp['broken']} broken; flag precision {tp['flag_precision']:.2f}, "
        f"recall {tp['flag_recall']:.2f}). The paper's claim (>= 5 points over both, SI.Contrib > 0) "
        f"{'HOLDS' if holds else 'does NOT hold'} in this run."
    )
    if tp.get("chance") is not None:
        text += f" Guessing among the options scores {tp['chance']:.1%} on these questions."
    text += (
        " (The paper's gains, up to +7.13 points, were measured on LLaMA-7B, a pretrained model.)"
    )
    return {"claim_holds": holds, "delta_vs_sft": d_sft, "delta_vs_sft_more": d_more, "text": text}


def markdown(report: dict) -> str:
    lines = [
        f"# tripost report: {report['task']} (seed {report['seed']})",
        "",
        "| method | iter | split | n | accuracy | first attempt | SI.Freq | SI.Contrib | fixed | broken | flag P | flag R | chance |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        chance = "–" if r.get("chance") is None else f"{r['chance']:.1%}"
        lines.append(
            f"| {r['method']} | {r['iteration']} | {r['split']} | {r['n']} | {r['accuracy']:.1%} | "
            f"{r['first_accuracy']:.1%} | {r['si_freq']:.1%} | {r['si_contrib']:.1%} | "
            f"{r['fixed']} | {r['broken']} | {r['flag_precision']:.2f} | {r['flag_recall']:.2f} | "
            f"{chance} |"
        )
    lines += ["", f"**Verdict.** {report['verdict']['text']}", "", "## Iterations", ""]
    for it in report["iterations"]:
        e, ts, tr = it["edit"], it["train_set"], it["train"]
        lines.append(
            f"- t={it['iteration']}: edit direct={e.get('n_direct', 0)} improved={e.get('n_improved', 0)} "
            f"feedback_only={e.get('n_feedback_only', 0)} dropped={e.get('n_dropped', 0)} "
            f"{e.get('drop_reasons', {})}; train set improvement={ts.get('kept_improvement', 0)} "
            f"non-improvement={ts.get('kept_non_improvement', 0)} gold={ts.get('kept_gold', 0)}; "
            f"{tr.get('steps', 0)} steps, {tr.get('tokens', 0)} tokens"
        )
    lines += ["", "## Stage times (s)", ""]
    lines += [f"- {k}: {v}" for k, v in report["stage_seconds"].items()]
    return "\n".join(lines) + "\n"


def plot(report: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for split, style in (("seen", "-o"), ("unseen", "--s")):
        rows = [
            r
            for r in report["results"]
            if r["method"] in ("sft", "tripost") and r["split"] == split
        ]
        rows.sort(key=lambda r: r["iteration"])
        if rows:
            ax.plot(
                [r["iteration"] for r in rows],
                [100 * r["accuracy"] for r in rows],
                style,
                label=f"TriPosT ({split})",
            )
        more = [r for r in report["results"] if r["method"] == "sft_more" and r["split"] == split]
        if more and rows:
            ax.axhline(100 * more[0]["accuracy"], ls=":", color="gray")
            ax.annotate(f"sft_more ({split})", (0, 100 * more[0]["accuracy"]), fontsize=8)
    iters = sorted({r["iteration"] for r in report["results"] if r["method"] == "tripost"})
    ax.set_xticks([0, *iters])
    ax.set_xlabel("iteration (0 = SFT)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{report['task']}: accuracy after self-improvement")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(rd: RunDir, cfg: RunConfig) -> dict:
    report = collect(rd, cfg)
    rd.write_json("report.json", report)
    rd.write_text("report.md", markdown(report))
    png = rd.path("accuracy.png")
    tmp = tmp_name(png)
    try:
        plot(report, tmp)
        os.replace(tmp, png)
    finally:
        tmp.unlink(missing_ok=True)
    return {"claim_holds": report["verdict"]["claim_holds"]}
