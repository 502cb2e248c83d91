import random

import pytest

from tests.toy import ToyTask
from tripost.editing import edit_rollouts
from tripost.experts import ScriptedFeedback, ScriptedImprovement
from tripost.loop import gold_samples
from tripost.postprocess import (
    GOLD,
    IMPROVEMENT,
    NON_IMPROVEMENT,
    TrainItem,
    build_train_set,
    dedup,
    gold_items,
    rebalance,
    split_turns,
)
from tripost.training import LossWeights
from tripost.trajectory import Attempt, Feedback

TASK = ToyTask()


def items(kind, n):
    att = Attempt.parse("(1) 1 + 1 = 2.\n(Final response) So the answer is 2.")
    return [TrainItem(kind, f"q{i}", (att,), (Feedback.ok(att),)) for i in range(n)]


@pytest.mark.parametrize("ratio,n_imp,expect_other", [(1.5, 30, 20), (1.0, 7, 7), (3.0, 10, 4)])
def test_rebalance_keeps_requested_ratio(ratio, n_imp, expect_other):
    out = rebalance(
        items(IMPROVEMENT, n_imp),
        items(NON_IMPROVEMENT, 100),
        items(GOLD, 100),
        ratio,
        random.Random(0),
    )
    kinds = [i.kind for i in out]
    assert kinds.count(IMPROVEMENT) == n_imp
    assert kinds.count(NON_IMPROVEMENT) == kinds.count(GOLD) == expect_other


def test_rebalance_none_keeps_everything_and_short_pools_are_used_whole():
    out = rebalance(
        items(IMPROVEMENT, 5), items(NON_IMPROVEMENT, 2), items(GOLD, 9), None, random.Random(0)
    )
    assert len(out) == 16
    out = rebalance(
        items(IMPROVEMENT, 30), items(NON_IMPROVEMENT, 2), items(GOLD, 9), 1.5, random.Random(0)
    )
    assert [i.kind for i in out].count(NON_IMPROVEMENT) == 2


def test_rebalance_rejects_nonpositive_ratio():
    with pytest.raises(ValueError):
        rebalance([], [], [], 0.0, random.Random(0))


def test_dedup_removes_identical_samples():
    assert len(dedup(items(GOLD, 3) + items(GOLD, 3))) == 3


def test_turns_and_weights_of_an_improvement_sample():
    rng = random.Random(1)
    p = TASK.generate(rng, "seen")
    bad, _ = TASK.inject_error(p, TASK.solve(p), rng)
    rec = edit_rollouts([p], [bad.render()], ScriptedFeedback(TASK), ScriptedImprovement(TASK))[0]
    imp, non = split_turns([rec])
    assert len(imp) == 1 and not non and imp[0].eos
    sample = imp[0].to_sample(LossWeights(feedback_weight=1.5, wrong_attempt_weight=0.0))
    (prompt, w0), (attempt, w1), (rest, w2) = sample.segments
    assert prompt.startswith("Q: ") and w0 == 0.0
    assert attempt == bad.render() and w1 == 0.0
    assert rest.startswith("\nFeedback: ") and "Updated Answer" in rest and w2 == 1.5
    assert rest.endswith("The final response is also correct.")


def test_a_sample_that_stops_at_a_wrong_feedback_ends_in_the_newline_that_goes_on():
    rng = random.Random(1)
    p = TASK.generate(rng, "seen")
    bad, _ = TASK.inject_error(p, TASK.solve(p), rng)
    fb = TASK.check(p, bad)
    item = TrainItem(IMPROVEMENT, p.question, (bad,), (fb,), eos=False)
    sample = item.to_sample(LossWeights(feedback_weight=1.5))
    assert not fb.correct and sample.segments[-1] == ("\nFeedback: " + fb.render() + "\n", 1.5)
    assert not sample.eos


def test_sft_samples_weigh_prompt_and_gold_as_the_iterations_do():
    """SFT and the compute-matched control train with the run's loss weights: a gold SFT
    sample is weighted like the prompt and first attempt of the iterations' gold items."""
    weights = LossWeights(prompt_weight=0.25, attempt_weight=0.5)
    p = TASK.generate(random.Random(3), "seen")
    [sft] = gold_samples(TASK, [p], weights)
    [item] = gold_items([(p.question, TASK.solve(p))])
    iteration = item.to_sample(weights, TASK.instruction)
    assert sft.segments == iteration.segments[:2]
    assert [w for _, w in sft.segments] == [0.25, 0.5] and sft.eos


def test_a_fraction_of_sft_samples_end_with_the_gold_items_correct_feedback():
    weights = LossWeights(feedback_weight=1.5)
    problems = [TASK.generate(random.Random(i), "seen") for i in range(4)]
    samples = gold_samples(TASK, problems, weights, feedback=0.5)
    assert [len(s.segments) for s in samples] == [2, 2, 3, 3]
    [item] = gold_items([(problems[3].question, TASK.solve(problems[3]))])
    assert samples[3] == item.to_sample(weights, TASK.instruction) and samples[3].eos
    assert samples[3].segments[2][0].startswith("\nFeedback: ")
    assert samples[:2] == gold_samples(TASK, problems[:2], weights)


def test_build_train_set_reports_counts():
    rng = random.Random(2)
    problems = [TASK.generate(rng, "seen") for _ in range(12)]
    rollouts = [
        TASK.inject_error(p, TASK.solve(p), rng)[0].render() if i < 4 else TASK.solve(p).render()
        for i, p in enumerate(problems)
    ]
    recs = edit_rollouts(problems, rollouts, ScriptedFeedback(TASK), ScriptedImprovement(TASK))
    gold = [(p.question, TASK.solve(p)) for p in problems]
    out, stats = build_train_set(recs, gold, 2.0, random.Random(0))
    assert stats["kept_improvement"] == stats["available_improvement"]
    assert stats["kept_non_improvement"] == 2 and stats["kept_gold"] == 2
    assert len(out) == sum(v for k, v in stats.items() if k.startswith("kept_"))
