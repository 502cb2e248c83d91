"""The report: verdict cases, binomial intervals, and every section on a hand-built run
directory (with a method the report code does not name)."""

import json

import pytest

from tripost.config import load_config
from tripost.report import markdown, summary_text, verdict, wilson, write_report
from tripost.rundir import RunDir


def row(method, t, acc, n=400, contrib=0.1, split="seen", chance=None, **kw):
    return {
        "method": method,
        "iteration": t,
        "split": split,
        "n": n,
        "accuracy": acc,
        "first_accuracy": acc,
        "si_freq": 0.2,
        "si_contrib": contrib,
        "fixed": kw.get("fixed", 3),
        "broken": kw.get("broken", 1),
        "flag_precision": 0.5,
        "flag_recall": 0.25,
        "chance": chance,
    }


def test_wilson_interval_matches_known_values():
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    lo, hi = wilson(0, 100)
    assert lo == 0.0 and hi == pytest.approx(0.0370, abs=1e-3)


@pytest.mark.parametrize(
    "tp, sft, more, status",
    [
        # a clear gain over both, beyond the intervals
        (row("tripost", 3, 0.70), row("sft", 0, 0.50), row("sft_more", 0, 0.52), "holds"),
        # every model near zero: nothing can be said (the quick-demo case)
        (row("tripost", 3, 0.0), row("sft", 0, 0.02), row("sft_more", 0, 0.0), "inconclusive"),
        # every model at chance among 4 options
        (
            row("tripost", 3, 0.24, n=100, chance=0.25),
            row("sft", 0, 0.27, n=100, chance=0.25),
            row("sft_more", 0, 0.26, n=100, chance=0.25),
            "inconclusive",
        ),
        # a +6 point gain on 40 questions is within the intervals
        (
            row("tripost", 3, 0.56, n=40),
            row("sft", 0, 0.50, n=40),
            row("sft_more", 0, 0.50, n=40),
            "inconclusive",
        ),
        # TriPosT clearly below the compute-matched control
        (
            row("tripost", 3, 0.17, n=100),
            row("sft", 0, 0.32, n=100),
            row("sft_more", 0, 0.37, n=100),
            "does not hold",
        ),
        # beyond the intervals but no answer reached through an update
        (
            row("tripost", 3, 0.70, contrib=0.0),
            row("sft", 0, 0.50),
            row("sft_more", 0, 0.52),
            "does not hold",
        ),
    ],
)
def test_verdict_distinguishes_holds_does_not_hold_and_inconclusive(tp, sft, more, status):
    v = verdict([sft, tp, more], 3)
    assert v["status"] == status
    assert v["claim_holds"] == {"holds": True, "does not hold": False}.get(status)
    assert f"**{status}**" in v["text"]


def test_verdict_without_baselines_is_inconclusive():
    v = verdict([row("tripost", 3, 0.7)], 3)
    assert v["claim_holds"] is None and v["status"] == "inconclusive"


CFG = load_config(None, {"task": "multistep_arithmetic", "iterations": 2, "seed": 5})
Q_FIXED, Q_BROKEN, Q_FLAG = "(1 + 2) =", "(2 * 3) =", "(4 - 9) ="


def outcome(q, first, final, updated, flagged, output):
    return {
        "question": q,
        "bucket": "l2d1",
        "seen": True,
        "first_correct": first,
        "final_correct": final,
        "updated": updated,
        "flagged": flagged,
        "n_updates": int(updated),
        "output": output,
    }


def build_run(root):
    """A run directory as the loop leaves it, written by hand: iteration 2 trained on nothing
    after dropping most rollouts, and a baseline (lmsi) the report code does not know."""
    rd = RunDir(root)
    stages = {
        "data": {"train": 10, "eval": 3, "seconds": 0.1},
        "sft": {"steps": 40, "tokens": 4000, "final_loss": 0.8, "seconds": 4.0},
        "iter1/rollouts": {"rollouts": 8, "tokens": 900, "seconds": 1.0},
        "iter1/edit": {"n_improved": 5, "n_direct": 2, "n_dropped": 1, "seconds": 0.1},
        "iter1/train_set": {"kept_improvement": 5, "kept_non_improvement": 2, "kept_gold": 2},
        "iter1/train": {"steps": 4, "tokens": 800, "final_loss": 0.9, "seconds": 1.0},
        "iter2/rollouts": {"rollouts": 8, "tokens": 700, "seconds": 1.0},
        "iter2/edit": {
            "n_dropped": 7,
            "n_direct": 1,
            "drop_reasons": {"malformed attempt": 6, "feedback failed": 1},
        },
        "iter2/train_set": {"kept_improvement": 0, "kept_non_improvement": 0, "kept_gold": 0},
        "iter2/train": {"steps": 0, "tokens": 0, "seconds": 0.0},
    }
    for name, info in stages.items():
        rd.mark(name, info)
    models = {
        "sft": [row("sft", 0, 0.30, n=10), row("sft", 0, 0.0, n=5, split="unseen")],
        "iter1": [row("tripost", 1, 0.40, n=10, fixed=1, broken=1)],
        "iter2": [row("tripost", 2, 0.40, n=10, fixed=1, broken=1)],
        "lmsi": [row("lmsi", 0, 0.20, n=10, chance=0.25)],
        "sft_more": [row("sft_more", 0, 0.30, n=10)],
    }
    for name, rows in models.items():
        rd.write_json(f"eval/{name}.metrics.json", {"results": rows, "buckets": []})
    rd.write_jsonl(
        "eval/iter2.jsonl",
        [
            outcome(
                Q_FIXED,
                False,
                True,
                True,
                True,
                "(Final response) So the answer is 4.\n"
                'Feedback: In step (Final response) the part "4" is incorrect.\n'
                "Updated Answer: Let's think step by step.\n(Final response) So the answer is 3.",
            ),
            outcome(Q_BROKEN, True, False, True, True, "(Final response) So the answer is 6.\n..."),
            outcome(Q_FLAG, False, False, False, True, "(Final response) So the answer is 5.\n..."),
            outcome("(1 + 1) =", True, True, False, False, "(Final response) So the answer is 2."),
        ],
    )
    rd.write_jsonl(
        "data/eval.jsonl",
        [{"question": Q_FIXED, "answer": "3"}, {"question": Q_BROKEN, "answer": "6"}],
    )
    rd.write_jsonl("logs/sft.jsonl", [{"step": s, "loss": 2.0 / s, "lr": 1e-3} for s in (1, 2)])
    return rd


def test_report_has_every_section_in_order_from_a_hand_built_run(tmp_path):
    rd = build_run(tmp_path)
    assert write_report(rd, CFG) == {"claim_holds": None}
    md = (tmp_path / "report.md").read_text()
    order = [
        "**Verdict:** **inconclusive**: the gain is within the 95% intervals.",
        "| method | t | seen accuracy",
        "## Warnings",
        "## What self-improvement",
        "## Trajectories",
        "## Stages",
    ]
    positions = [md.index(s) for s in order]
    assert positions == sorted(positions)
    # headline: every method found, with n and an interval; the unknown baseline too
    assert "| lmsi | 0 | 20.0% [" in md and "(n=10)" in md
    assert "| sft | 0 | 30.0% [11%, 60%] (n=10) | 0.0% [0%, 43%] (n=5) |" in md
    # warnings name the stage that trained on nothing, the drops with their reasons, chance
    warnings = md[md.index("## Warnings") : md.index("## What self")]
    assert "`iter2/train` trained on nothing" in warnings
    assert (
        "Iteration 2: 7 of 8 rollouts were dropped (6 malformed attempt; 1 feedback failed)"
        in warnings
    )
    assert "lmsi (t=0) on seen problems is at chance: 20.0% where guessing scores 25.0%" in warnings
    assert "iter1" not in warnings.replace("Iteration 1", "")
    # the three real trajectories, with the gold answer where the data has it
    traj = md[md.index("## Trajectories") : md.index("## Stages")]
    for kind, q in (("fixed", Q_FIXED), ("broken", Q_BROKEN), ("flagged not fixed", Q_FLAG)):
        assert f"**{kind}**" in traj and f"Q: {q}" in traj
    assert "(gold answer: 3)" in traj and "(1 + 1) =" not in traj
    # compact stage table and the curves
    assert "| 2 | 8 | 0 / 1 / 0 / 7 | 0 / 0 / 0 | 0 | – |" in md
    assert "training.png" in md and (tmp_path / "training.png").stat().st_size > 0
    assert (tmp_path / "accuracy.png").stat().st_size > 0
    # report.json keeps its keys and adds the new ones
    rep = json.loads((tmp_path / "report.json").read_text())
    assert {"task", "seed", "results", "buckets", "iterations", "stage_seconds", "verdict"} <= set(
        rep
    )
    assert rep["verdict"]["status"] == "inconclusive" and len(rep["examples"]) == 3
    assert rep["results"][0]["accuracy_ci"][0] == pytest.approx(0.1078, abs=1e-3)


def test_summary_printed_after_a_run_has_headline_verdict_and_warnings(tmp_path):
    rd = build_run(tmp_path)
    write_report(rd, CFG)
    text = summary_text(json.loads((tmp_path / "report.json").read_text()))
    assert text.startswith("| method |") and "Verdict: inconclusive: the gain is within" in text
    assert "warning: `iter2/train` trained on nothing" in text and "**" not in text
    assert "host: not measured." in text  # build_run records no host speed


def test_stage_time_is_printed_with_the_host_speed_of_each_invocation(tmp_path):
    rd = build_run(tmp_path)
    speeds = [
        {"bf16_matmul_gflops": 301.7, "threads": 2, "device": "cpu", "at": 1.0},
        {"bf16_matmul_gflops": 950.0, "threads": 1, "device": "cuda:0", "at": 2.0},
    ]
    rd.manifest["host_speed"] = speeds
    write_report(rd, CFG)
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["host_speed"] == speeds
    total = round(sum(v or 0 for v in rep["stage_seconds"].values()))
    line = f"Stages: {total // 60} min {total % 60} s in all; host: bf16 matmul 302 GFLOP/s on "
    line += "2 threads; bf16 matmul 950 GFLOP/s on cuda:0."
    assert line in summary_text(rep) and line in (tmp_path / "report.md").read_text()


def test_markdown_reads_an_older_report_json():
    old = {
        "task": "t",
        "seed": 0,
        "results": [row("sft", 0, 0.5)],
        "buckets": [],
        "iterations": [],
        "stage_seconds": {},
        "verdict": {"claim_holds": None, "text": "not enough results to judge the claim"},
    }
    assert "**Verdict:** not enough results" in markdown(old) and "None." in markdown(old)


def test_html_report_has_the_same_sections_and_escapes_model_output(tmp_path):
    rd = build_run(tmp_path)
    rd.write_jsonl(
        "eval/iter2.jsonl",
        [outcome(Q_FIXED, False, True, True, True, "<script>alert(1)</script>\nFeedback: x")],
    )
    write_report(rd, CFG)
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<h2>Warnings</h2>" in page
    assert (
        "<th>seen accuracy [95% interval]</th>" in page
        and '<img alt="accuracy per iteration"' in page
    )
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_accuracy_plot_has_a_fixed_axis_one_entry_per_method_and_error_bars(tmp_path):
    import matplotlib.pyplot as plt

    from tripost.plots import accuracy_figure
    from tripost.report import collect

    report = collect(build_run(tmp_path), CFG)
    fig = accuracy_figure(report)
    top, bottom = fig.axes[0], fig.axes[1]
    assert top.get_ylim() == (0.0, 100.0)
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels == ["sft", "tripost", "lmsi", "sft_more", "seen", "unseen"]
    assert len(top.containers) == 5  # error bars: 4 methods on seen + sft on unseen
    # the SFT point is sft's, at iteration 0; sft_more sits at the last iteration
    sft_x = top.containers[0].lines[0].get_xdata()
    assert len(sft_x) == 1 and abs(sft_x[0]) < 0.1
    assert [round(x) for x in top.containers[-1].lines[0].get_xdata()] == [2]
    assert [p.get_height() for p in bottom.patches] == [1, 1, 1, 1]  # fixed, broken at t=1, 2
    plt.close(fig)
