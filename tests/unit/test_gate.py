"""``expert.accept_right_answers``: the right-answer gate in front of a feedback module."""

from tests.toy import ToyTask
from tripost.config import load_config
from tripost.editing import DIRECT, IMPROVED, edit_rollouts
from tripost.experts import ScriptedFeedback, ScriptedImprovement, build_feedback
from tripost.experts.gate import RightAnswerGate

TASK = ToyTask()
P = TASK.problem_from_text("Add 3, 4 and 2.", None)  # answer 9
LUCKY = "(1) 3 + 4 = 8.\n(2) 8 + 2 = 9.\n(Final response) So the answer is 9."  # two wrong sums
BAD = "(1) 3 + 4 = 7.\n(2) 7 + 2 = 10.\n(Final response) So the answer is 10."


def test_a_right_answer_through_a_wrong_step_is_correct_without_asking_the_expert():
    inner = ScriptedFeedback(TASK)
    [res] = RightAnswerGate(inner, TASK).give_feedback([P], [LUCKY])
    assert res.feedback.correct and res.feedback.ok_range == ("1", "2")
    assert inner.stats.calls == 0 and inner.stats.extra["accepted_by_answer"] == 1
    assert not inner.give_feedback([P], [LUCKY])[0].feedback.correct  # the expert would object


def test_wrong_answers_and_malformed_attempts_go_to_the_expert_in_order():
    inner = ScriptedFeedback(TASK)
    out = RightAnswerGate(inner, TASK).give_feedback([P, P, P], [BAD, LUCKY, "no steps"])
    expert = ScriptedFeedback(TASK).give_feedback([P, P], [BAD, "no steps"])
    assert [out[0], out[2]] == expert and out[1].feedback.correct
    assert out[0].feedback.error_step == "2" and inner.stats.calls == 2


def test_editing_keeps_a_lucky_rollout_as_directly_correct_only_with_the_gate():
    imp = ScriptedImprovement(TASK)
    plain = edit_rollouts([P], [LUCKY], ScriptedFeedback(TASK), imp)[0]
    gated = edit_rollouts([P], [LUCKY], build_feedback("scripted", TASK, None, True), imp)[0]
    assert plain.kind == IMPROVED and gated.kind == DIRECT


def test_the_setting_defaults_to_the_expert_judging_every_step():
    assert load_config(None, {}).expert.accept_right_answers is False
    cfg = load_config(None, {"expert": {"accept_right_answers": True}})
    assert cfg.expert.accept_right_answers is True
