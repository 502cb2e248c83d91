"""Markdown summary of finished runs, for README / docs: one table per run with seen and unseen
accuracy, SI figures and flag precision / recall, plus the stage times and the verdict.

    python benchmarks/summarize.py runs/final_multistep_arithmetic runs/final_word_sorting
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def summarize(run: Path) -> str:
    report = json.loads((run / "report.json").read_text())
    rows = {(r["method"], r["iteration"], r["split"]): r for r in report["results"]}
    keys = sorted({(m, i) for m, i, _ in rows}, key=lambda k: (k[0] == "sft_more", k[1]))
    out = [
        f"**{report['task']}** (seed {report['seed']}, `{run}`)",
        "",
        "| method | iter | seen acc. | unseen acc. | first attempt (seen) | SI.Freq (seen) | "
        "SI.Contrib (seen) | fixed / broken (seen) | flag P / R (seen) | garbled feedback (seen) | "
        "chance (seen) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, it in keys:
        s, u = rows.get((method, it, "seen")), rows.get((method, it, "unseen"))
        if s is None:
            continue
        out.append(
            f"| {method} | {it} | {pct(s['accuracy'])} (n={s['n']}) | "
            f"{pct(u['accuracy']) if u else '–'} (n={u['n'] if u else 0}) | "
            f"{pct(s['first_accuracy'])} | {pct(s['si_freq'])} | {pct(s['si_contrib'])} | "
            f"{s['fixed']} / {s['broken']} | {s['flag_precision']:.2f} / {s['flag_recall']:.2f} | "
            f"{pct(s.get('feedback_malformed'))} | {pct(s.get('chance'))} |"
        )
    secs = report["stage_seconds"]
    total = sum(v for v in secs.values() if v)
    out += [
        "",
        f"Stage seconds (sum {total:.0f} s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in secs.items() if v is not None and v >= 1),
    ]
    for it in report["iterations"]:
        e, ts = it["edit"], it["train_set"]
        out.append(
            f"- t={it['iteration']}: edited {e.get('n_improved', 0)}, directly correct "
            f"{e.get('n_direct', 0)}, critique-only {e.get('n_feedback_only', 0)}, dropped "
            f"{e.get('n_dropped', 0)} {e.get('drop_reasons', {})}; trained on "
            f"{ts.get('kept_improvement', 0)} improvement / {ts.get('kept_non_improvement', 0)} "
            f"non-improvement / {ts.get('kept_gold', 0)} gold samples"
        )
    out += ["", f"Verdict: {report['verdict']['text']}", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print("\n".join(summarize(Path(p)) for p in sys.argv[1:]))
