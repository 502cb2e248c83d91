"""The expert-written self-improvement demonstrations of the ``sft_si_demos`` baseline."""

import random

import pytest

from tests.toy import ToyTask
from tripost.editing import FEEDBACK_ONLY, IMPROVED
from tripost.experts import build_feedback, build_improvement
from tripost.postprocess import IMPROVEMENT, build_train_set
from tripost.si_demos import build_si_demos
from tripost.tasks import get_task
from tripost.trajectory import Attempt, Trajectory

TASKS = ["multistep_arithmetic", "word_sorting", "date_understanding", "logical_deduction"]


def _build(task, n=30, seed=0):
    rng = random.Random(seed)
    problems = [task.generate(rng, "seen") for _ in range(n)]
    fbk, imp = build_feedback("scripted", task), build_improvement("scripted", task)
    demos, correct, stats = build_si_demos(task, problems, fbk, imp, 5, random.Random(seed + 1))
    return problems, demos, correct, stats


@pytest.mark.parametrize("name", TASKS)
def test_demos_parse_name_the_injected_step_and_end_in_a_fix_the_checker_accepts(name):
    task = get_task(name)
    problems, demos, correct, stats = _build(task)
    assert stats["demos"] == len(demos) >= 0.8 * len(problems), stats
    for d in demos:
        rec, p = d.record, d.record.problem
        traj = rec.trajectory(task.instruction)
        # the trajectory is the text format: it renders and parses back to itself
        assert Trajectory.parse(traj.render(), task.instruction) == traj
        # the first attempt is the gold rationale with the injected error, nothing else
        assert rec.attempts[0].render() == rec.rollout
        assert rec.attempts[0] != task.solve(p)
        k = rec.attempts[0].index(d.injected_step)
        assert rec.attempts[0].steps[:k] == task.solve(p).steps[:k]
        # the checker (independently of the builder) names the injected step
        assert task.check(p, rec.attempts[0]).error_step == d.injected_step
        assert rec.feedbacks[0].error_step == d.injected_step
        if rec.kind == IMPROVED:  # the expert's fix is right, and its last feedback says so
            assert task.check(p, rec.attempts[-1]).correct
            assert task.extract_answer(rec.attempts[-1], p) == p.answer
            assert rec.feedbacks[-1].correct and len(rec.attempts) >= 2
        else:
            assert rec.kind == FEEDBACK_ONLY
    assert sum(d.record.kind == IMPROVED for d in demos) >= 0.8 * len(demos)
    # the expert's correct answers: the gold rationale with correct feedback
    assert all(r.feedbacks[0].correct and r.attempts[0] == task.solve(r.problem) for r in correct)


def test_demos_go_through_tripost_post_processing():
    task = get_task("multistep_arithmetic")
    _, demos, correct, _ = _build(task, n=20)
    gold = [(r.problem.question, r.attempts[0]) for r in correct]
    items, stats = build_train_set([d.record for d in demos] + correct, gold, 1.5, random.Random(0))
    n_imp = sum(d.record.kind == IMPROVED for d in demos)
    assert stats["kept_improvement"] >= n_imp > 0
    # rebalanced as TriPosT: ceil(I / 1.5) non-improvement and as many gold samples
    assert (
        stats["kept_non_improvement"] == stats["kept_gold"] == -(-stats["kept_improvement"] // 1.5)
    )
    assert {i.kind for i in items if len(i.attempts) == 2} == {IMPROVEMENT}


class _InvisibleError(ToyTask):
    """Its 'injected error' changes nothing the checker could see."""

    def inject_error(self, problem, attempt, rng):
        return attempt, "1"


class _ErrorElsewhere(ToyTask):
    """Says it broke step (2) but broke step (1)."""

    def inject_error(self, problem, attempt, rng):
        bad, _ = super().inject_error(problem, attempt, rng)
        return bad, "2"


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        (_InvisibleError(), "injected error not seen by the expert"),
        (_ErrorElsewhere(), "feedback names another step"),
    ],
)
def test_a_demo_whose_feedback_does_not_name_the_injected_step_is_skipped(task, reason):
    problems, demos, correct, stats = _build(task, n=8)
    assert demos == [] and stats["skipped"] == {reason: 8}
    assert len(correct) == 8


def test_the_toy_task_gives_a_demo_per_problem():
    task = ToyTask()
    problems, demos, _, stats = _build(task, n=8)
    assert len(demos) == 8 and stats["skipped"] == {}
    d = demos[0]
    assert d.injected_step == "1" and d.record.kind == IMPROVED
    assert d.record.attempts[-1] == task.solve(d.record.problem)
    assert isinstance(d.record.attempts[0], Attempt)


def test_sft_mix_adds_expert_demonstrations_on_a_fraction_of_the_problems():
    from tripost.config import RunConfig
    from tripost.loop import si_mix_samples
    from tripost.trajectory import says_correct

    task = get_task("multistep_arithmetic", style="ops")
    rng = random.Random(0)
    problems = [task.generate(rng, "seen") for _ in range(40)]
    cfg = RunConfig(task="multistep_arithmetic", data={"sft_si_demos": 0.25})
    samples = si_mix_samples(task, problems, cfg)
    questions = {s.text.split("\n")[0] for s in samples}
    assert questions <= {f"Q: {p.question}" for p in problems[:10]}  # the first quarter only
    repaired = [s for s in samples if "Updated Answer" in s.text]
    assert repaired and len(repaired) < len(samples)  # demonstrations and correct answers
    for s in repaired:  # every demonstration ends in a fix judged correct
        assert says_correct(s.text.rsplit("Feedback:", 1)[1])
    assert si_mix_samples(task, problems, RunConfig(task="multistep_arithmetic")) == []
