import random

import pytest

from tests.toy import ToyTask
from tripost.editing import (
    DIRECT,
    DROPPED,
    FEEDBACK_ONLY,
    IMPROVED,
    PENDING,
    EditRecord,
    check_update,
    edit_rollouts,
)
from tripost.experts import ExpertStats, ImprovementResult, ScriptedFeedback, ScriptedImprovement
from tripost.trajectory import Attempt, Feedback

TASK = ToyTask()
P = TASK.problem_from_text("Add 3, 4 and 2.", None)  # answer 9
GOOD = "(1) 3 + 4 = 7.\n(2) 7 + 2 = 9.\n(Final response) So the answer is 9."
BAD1 = "(1) 3 + 4 = 8.\n(2) 8 + 2 = 10.\n(Final response) So the answer is 10."
BAD2 = "(1) 3 + 4 = 7.\n(2) 7 + 2 = 10.\n(Final response) So the answer is 10."
OK_FB = "Step (1) to step (2) are correct. The final response is also correct."
UPD = "\nUpdated Answer: Let's think step by step.\n"


def fb_for(text):
    return TASK.check(P, Attempt.parse(text)).render()


def edit(rollout, imp=None, rounds=5):
    imp = imp or ScriptedImprovement(TASK)
    return edit_rollouts([P], [rollout], ScriptedFeedback(TASK), imp, rounds)[0]


def test_correct_attempt_without_feedback_is_directly_correct():
    rec = edit(GOOD)
    assert rec.kind == DIRECT and rec.feedbacks[0].correct
    assert rec.trajectory().render().endswith(OK_FB)


def test_correct_attempt_with_false_own_critique_gets_expert_correct_feedback():
    rec = edit(GOOD + '\nFeedback: In step (1) the part "3 + 4" is incorrect. This is because no.')
    assert rec.kind == DIRECT and [f.correct for f in rec.feedbacks] == [True]


def test_wrong_attempt_is_improved_from_the_error_step():
    rec = edit(BAD2)
    assert rec.kind == IMPROVED and len(rec.attempts) == 2
    assert rec.attempts[1].render() == GOOD
    assert rec.feedbacks[0].error_step == "2" and rec.feedbacks[1].correct


def test_policy_trajectory_is_followed_while_its_feedback_agrees():
    rollout = BAD2 + "\nFeedback: " + fb_for(BAD2) + UPD + GOOD + "\nFeedback: " + OK_FB
    rec = edit(rollout)
    assert rec.kind == IMPROVED and rec.first_expert_attempt == 2
    assert [a.render() for a in rec.attempts] == [BAD2, GOOD]


def test_disagreement_replaces_own_feedback_and_drops_the_rest():
    rollout = BAD2 + "\nFeedback: " + OK_FB  # the policy wrongly says it is correct
    rec = edit(rollout)
    assert rec.kind == IMPROVED and rec.first_expert_attempt == 1
    assert not rec.feedbacks[0].correct and rec.attempts[1].render() == GOOD


def test_malformed_rollout_is_dropped_with_reason():
    rec = edit("I think the answer is 9")
    assert rec.kind == DROPPED and "malformed" in rec.drop_reason


class BackwardsImprovement:
    """An improvement module whose update introduces an earlier error (a regression)."""

    name = "backwards"
    stats = ExpertStats()

    def improve(self, problems, attempts, feedbacks):
        return [ImprovementResult(Attempt.parse(BAD1)) for _ in problems]


def test_regression_of_the_policy_update_keeps_only_the_critique():
    rollout = BAD2 + "\nFeedback: " + fb_for(BAD2) + UPD + BAD1  # update errs earlier: step 1
    rec = edit(rollout)
    assert rec.kind == FEEDBACK_ONLY
    assert [a.render() for a in rec.attempts] == [BAD2] and not rec.feedbacks[0].correct


def test_update_that_changes_the_correct_prefix_is_rejected():
    rec = edit(BAD2, imp=BackwardsImprovement(), rounds=2)
    assert rec.kind == DROPPED and "before the error" in rec.drop_reason


class NoImprovement:
    name = "none"
    stats = ExpertStats()

    def improve(self, problems, attempts, feedbacks):
        return [ImprovementResult(None, "the server said no") for _ in problems]


def test_sample_is_dropped_when_no_round_succeeds():
    rec = edit(BAD2, imp=NoImprovement(), rounds=3)
    assert rec.kind == DROPPED and rec.rounds == 3 and "the server said no" in rec.drop_reason


@pytest.mark.parametrize(
    "new,reason",
    [
        (None, "does not parse"),
        (
            "(1) 3 + 4 = 8.\n(2) 7 + 2 = 9.\n(Final response) So the answer is 9.",
            "before the error",
        ),
        (BAD2, "does not change"),
        (
            "(1) 3 + 4 = 7.\n(2) 7 + 2 = 10. ok\n(Final response) So the answer is 9.",
            "still contains",
        ),
        (GOOD, None),
    ],
)
def test_check_update_rejects_bad_updates(new, reason):
    old = Attempt.parse(BAD2)
    fb = TASK.check(P, old)
    why = check_update(old, fb, Attempt.parse(new) if new else None)
    assert (why is None) if reason is None else (reason in why)


def test_batch_editing_counts_every_rollout():
    rng = random.Random(0)
    problems = [TASK.generate(rng, "seen") for _ in range(20)]
    rollouts = [
        TASK.solve(p).render() if i % 2 else TASK.inject_error(p, TASK.solve(p), rng)[0].render()
        for i, p in enumerate(problems)
    ]
    recs = edit_rollouts(problems, rollouts, ScriptedFeedback(TASK), ScriptedImprovement(TASK))
    assert [r.kind for r in recs] == [IMPROVED, DIRECT] * 10
    assert all(Feedback.parse(f.render()) == f for r in recs for f in r.feedbacks)


ROLLOUTS = [
    GOOD,  # direct
    BAD2,  # improved by the expert
    BAD2 + "\nFeedback: " + fb_for(BAD2) + UPD + BAD1,  # feedback only (regression)
    "I think the answer is 9",  # dropped
]


def test_edit_record_reads_back_what_to_json_wrote():
    recs = edit_rollouts([P] * 4, ROLLOUTS, ScriptedFeedback(TASK), ScriptedImprovement(TASK))
    assert [r.kind for r in recs] == [DIRECT, IMPROVED, FEEDBACK_ONLY, DROPPED]
    for rec in recs:
        back = EditRecord.from_json(rec.to_json(" Go."), " Go.")
        assert back == rec
        assert back.to_json(" Go.") == rec.to_json(" Go.")


def test_no_record_is_left_pending_after_editing():
    recs = edit_rollouts([P] * 4, ROLLOUTS, ScriptedFeedback(TASK), NoImprovement(), max_rounds=1)
    assert PENDING not in {r.kind for r in recs}
    assert [r.kind for r in recs] == [DIRECT, DROPPED, FEEDBACK_ONLY, DROPPED]
    assert "no improvement round succeeded (the server said no)" == recs[1].drop_reason
