"""Evaluation metrics (docs/design.md §5) and the claim verdict, on hand-built outcomes."""

import pytest

from tripost.evaluation import Outcome, chance_accuracy, metrics, result_rows
from tripost.report import verdict


def outcome(first, final, updated=False, flagged=False, seen=True, q="2 + 2 ="):
    return Outcome(q, "b", seen, first, final, updated, flagged, int(updated), "")


def test_metrics_count_fixes_breaks_and_flags():
    outs = [
        outcome(True, True),  # right, untouched
        outcome(False, True, updated=True, flagged=True),  # fixed by its own update
        outcome(True, False, updated=True, flagged=True),  # broken by a false flag
        outcome(False, False, flagged=True),  # flagged, not repaired
        outcome(False, False),  # wrong, not flagged
    ]
    m = metrics(outs)
    assert m["accuracy"] == pytest.approx(2 / 5) and m["first_accuracy"] == pytest.approx(2 / 5)
    assert m["si_freq"] == pytest.approx(2 / 5)
    assert m["si_contrib"] == pytest.approx(1 / 2) and m["si_contrib_all"] == pytest.approx(1 / 5)
    assert (m["fixed"], m["broken"]) == (1, 1)
    assert m["fix_rate"] == 1.0 and m["break_rate"] == 1.0
    assert m["flag_precision"] == pytest.approx(2 / 3)  # 2 of the 3 flagged were wrong
    assert m["flag_recall"] == pytest.approx(2 / 3)  # 2 of the 3 wrong first attempts flagged
    assert m["chance"] is None


def test_chance_is_one_over_the_number_of_options():
    q3 = "Which?\nOptions:\n(A) x\n(B) y\n(C) z"
    q5 = "Which?\nOptions:\n(A) a\n(B) b\n(C) c\n(D) d\n(E) e"
    assert chance_accuracy(q3) == pytest.approx(1 / 3)
    assert chance_accuracy("((1 + 2) * 3) =") is None
    m = metrics([outcome(True, True, q=q3), outcome(False, False, q=q5)])
    assert m["chance"] == pytest.approx((1 / 3 + 1 / 5) / 2)


def test_rows_split_seen_and_unseen():
    rows = result_rows("sft", 0, [outcome(True, True), outcome(False, False, seen=False)])
    by = {r["split"]: r for r in rows}
    assert by["seen"]["accuracy"] == 1.0 and by["unseen"]["accuracy"] == 0.0
    assert by["total"]["n"] == 2


def _row(method, iteration, acc, contrib):
    return {
        "method": method,
        "iteration": iteration,
        "split": "seen",
        "accuracy": acc,
        "si_contrib": contrib,
        "fixed": 1,
        "broken": 0,
        "flag_precision": 1.0,
        "flag_recall": 0.5,
        "chance": None,
    }


def test_verdict_needs_five_points_over_both_baselines_and_real_self_improvement():
    base = [_row("sft", 0, 0.50, 0.0), _row("sft_more", 0, 0.52, 0.0)]
    assert verdict(base + [_row("tripost", 3, 0.58, 0.1)], 3)["claim_holds"] is True
    assert verdict(base + [_row("tripost", 3, 0.56, 0.1)], 3)["claim_holds"] is False
    assert verdict(base + [_row("tripost", 3, 0.60, 0.0)], 3)["claim_holds"] is False
    assert verdict(base, 3)["claim_holds"] is None
