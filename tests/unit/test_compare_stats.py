"""The statistics of ``tripost compare`` on hand-made numbers."""

import math

import pytest

from tripost.compare import markdown, mean, paired_bootstrap, std, summarize, verdict_line


def _row(method, iteration, split, seed, acc, **kw):
    base = {"n": 10, "first_accuracy": acc, "si_freq": 0.0, "si_contrib": 0.0, "fixed": 0}
    base.update(broken=0, si_contrib_all=0.0, flag_precision=0.0, flag_recall=0.0)
    return {
        "method": method,
        "iteration": iteration,
        "split": split,
        "seed": seed,
        "accuracy": acc,
        **base,
        **kw,
    }


def test_mean_and_sample_std():
    assert mean([0.5, 0.7]) == pytest.approx(0.6)
    assert std([0.5, 0.7]) == pytest.approx(math.sqrt(0.02))  # n - 1: 0.1414
    assert std([0.2, 0.4, 0.6]) == pytest.approx(0.2)
    assert std([0.3]) == 0.0
    assert math.isnan(mean([]))


def test_summarize_groups_seeds_per_method_iteration_and_split():
    rows = [
        _row("tripost", 1, "seen", 0, 0.5, si_freq=0.2, fixed=3, broken=1),
        _row("tripost", 1, "seen", 1, 0.7, si_freq=0.4, fixed=5, broken=0),
        _row("tripost", 1, "unseen", 0, 0.1),
        _row("sft_more", 0, "seen", 0, 0.4),
        _row("sft_more", 0, "seen", 1, 0.4),
        _row("sft", 0, "seen", 0, 0.3),
    ]
    out = summarize(rows, ["sft", "tripost", "sft_more"])
    assert [(r["method"], r["iteration"], r["split"]) for r in out] == [
        ("sft", 0, "seen"),
        ("tripost", 1, "seen"),
        ("tripost", 1, "unseen"),
        ("sft_more", 0, "seen"),
    ]
    tp = out[1]
    assert tp["n_seeds"] == 2 and tp["seeds"] == [0, 1]
    assert tp["accuracy_mean"] == pytest.approx(0.6)
    assert tp["accuracy_std"] == pytest.approx(math.sqrt(0.02))
    assert tp["si_freq_mean"] == pytest.approx(0.3)
    assert tp["fixed_mean"] == 4 and tp["broken_mean"] == 0.5
    assert out[2]["n_seeds"] == 1 and out[2]["accuracy_std"] == 0.0
    assert out[3]["accuracy_std"] == 0.0


def test_paired_difference_on_identical_answers_is_exactly_zero():
    a = {0: [True, False, True, True], 1: [False, False, True]}
    p = paired_bootstrap(a, a, n_boot=200)
    assert (p["difference"], p["low"], p["high"]) == (0.0, 0.0, 0.0)
    assert not p["beats"] and not p["worse"] and p["n_questions"] == 7 and p["n_seeds"] == 2
    assert p["identical"]
    line = verdict_line("tripost", "sft_more", p)
    assert "inconclusive" in line and "exactly the same questions (7 questions x 2 seed" in line
    # same accuracy, different questions: a tie, not identical answers
    q = paired_bootstrap({0: [True, False]}, {0: [False, True]}, n_boot=200)
    assert q["difference"] == 0.0 and not q["identical"]
    assert "does **not** beat" in verdict_line("tripost", "sft_more", q)


def test_paired_difference_always_better_has_a_degenerate_interval():
    a = {0: [True] * 5, 1: [True] * 5}
    b = {0: [False] * 5, 1: [False] * 5}
    p = paired_bootstrap(a, b, n_boot=200)
    assert (p["difference"], p["low"], p["high"]) == (1.0, 1.0, 1.0) and p["beats"]
    q = paired_bootstrap(b, a, n_boot=200)
    assert q["difference"] == -1.0 and q["worse"] and not q["beats"]


def test_paired_interval_of_a_clear_and_of_a_slight_gain():
    # 30 of 40 questions better, 10 tied: +0.75; the interval is about +-0.13 around it
    clear = paired_bootstrap({0: [True] * 30 + [False] * 10}, {0: [False] * 40}, n_boot=2000)
    assert clear["difference"] == pytest.approx(0.75)
    assert 0.55 < clear["low"] < 0.75 < clear["high"] < 0.9 and clear["beats"]
    # 1 of 10 better: +0.1, but the interval reaches 0: no claim
    slight = paired_bootstrap({0: [True] + [False] * 9}, {0: [False] * 10}, n_boot=2000)
    assert slight["difference"] == pytest.approx(0.1)
    assert slight["low"] == 0.0 and slight["high"] >= 0.1 and not slight["beats"]


def test_paired_interval_resamples_seeds_too():
    # seed 0: all better, seed 1: all worse. Over questions alone the pooled difference would
    # be exactly 0 every time; drawing the seeds makes the interval span both outcomes.
    a = {0: [True] * 20, 1: [False] * 20}
    b = {0: [False] * 20, 1: [True] * 20}
    p = paired_bootstrap(a, b, n_boot=1000, seed=1)
    assert p["difference"] == 0.0
    assert p["low"] == -1.0 and p["high"] == 1.0 and not p["beats"]


def test_paired_bootstrap_is_seeded():
    a = {0: [True, False, True, False, True, True], 1: [True, True, False]}
    b = {0: [False, False, True, True, False, True], 1: [False, True, False]}
    assert paired_bootstrap(a, b, n_boot=300, seed=5) == paired_bootstrap(a, b, n_boot=300, seed=5)


def test_paired_bootstrap_rejects_unpaired_input():
    with pytest.raises(ValueError, match="same seeds"):
        paired_bootstrap({0: [True]}, {1: [True]})
    with pytest.raises(ValueError, match="questions"):
        paired_bootstrap({0: [True, False]}, {0: [True]})


def test_markdown_table_and_verdict_lines():
    rows = [
        _row("tripost", 2, s, seed, acc)
        for s in ("seen", "unseen", "total")
        for seed, acc in ((0, 0.5), (1, 0.7))
    ]
    rows += [
        _row("sft_more", 0, s, seed, 0.4) for s in ("seen", "unseen", "total") for seed in (0, 1)
    ]
    win = paired_bootstrap({0: [True] * 9 + [False]}, {0: [False] * 10}, n_boot=200)
    compare = {
        "task": "toy",
        "seeds": [0, 1],
        "n_seeds": 2,
        "methods": ["tripost", "sft_more"],
        "reference": "sft_more",
        "summary": summarize(rows, ["tripost", "sft_more"]),
        "paired": [{"method": "tripost", "iteration": 2, "split": "total", **win}],
    }
    md = markdown(compare)
    assert "| tripost | 2 | 60.0 ± 14.1 | 60.0 ± 14.1 | 60.0 ± 14.1 |" in md
    assert "| sft_more | 0 | 40.0 ± 0.0 |" in md
    assert "**tripost (t=2) beats sft_more** beyond its interval (+90.0 points" in md
