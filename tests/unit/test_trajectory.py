import pytest

from tripost.trajectory import (
    Attempt,
    Feedback,
    FormatError,
    Trajectory,
    says_correct,
    split_continuation,
    update_marker,
)

ATTEMPT = (
    '(1) This equation can be written as "(A - B)", where A = (7 - -1) and B = (-7 + 7).\n'
    "(2) Let's calculate A = (7 - -1) = 8.\n"
    "(3) Let's calculate B = (-7 + 7) = 0.\n"
    "(4) Then, the final equation is (A - B) = (8 - 0) = 8.\n"
    "(Final response) So the answer is 8."
)
FEEDBACKS = [
    "Step (1) to step (4) are correct. The final response is also correct.",
    "Step (1) is correct. The final response is also correct.",
    "The final response is also correct.",
    'In step (1) the part "(A - B)" is incorrect. This is because the pattern is wrong.',
    'Step (1) is correct. In step (2) the part "(7 - -1) = 8" is incorrect. This is because 7 - -1 is "8".',
    'Step (1) to step (4) are correct. In step (Final response) the part "8" is incorrect. This is because x.',
    'Step (1) to step (2.1) are correct. In step (2.2) the part "a "quoted" b" is incorrect. This is because it is. Really.',
]


@pytest.mark.parametrize("text", FEEDBACKS)
def test_feedback_round_trips(text):
    assert Feedback.parse(text).render() == text


@pytest.mark.parametrize(
    "text",
    ["", "Looks good.", 'In step (2) the part "x" is wrong.', "Step (1) is correct."],
)
def test_feedback_parse_rejects_other_text(text):
    with pytest.raises(FormatError):
        Feedback.parse(text)


def test_attempt_round_trips_with_substeps_and_continuation_lines():
    text = "(1) a\n(1.1) b\ncontinued\n(2) c\n(Final response) So the answer is 1."
    att = Attempt.parse(text)
    assert att.labels == ["1", "1.1", "2", "Final response"]
    assert att.render() == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "So the answer is 3.",
        "(1) a\n(2) b",
        "(1) a\n(Final response) x\n(Final response) y",
        "(1) a\nUpdated Answer: Let's think step by step.\n(Final response) x",
        "(1) a\n(Final response) x\nFeedback: Step (1) is correct.",
    ],
)
def test_attempt_parse_rejects_malformed(text):
    with pytest.raises(FormatError):
        Attempt.parse(text)


def test_error_feedback_prefix_names_the_steps_before_the_error():
    att = Attempt.parse(ATTEMPT)
    assert Feedback.error(att, "1", "x", "r").render().startswith('In step (1) the part "x"')
    assert (
        Feedback.error(att, "2", "x", "r").render().startswith("Step (1) is correct. In step (2)")
    )
    fb = Feedback.error(att, "Final response", "8", "r.")
    assert fb.render() == (
        'Step (1) to step (4) are correct. In step (Final response) the part "8" is incorrect. '
        "This is because r."
    )
    assert Feedback.ok(att).render() == FEEDBACKS[0]


@pytest.mark.parametrize("instruction", ["", " Recall the order of operations."])
def test_trajectory_round_trips(instruction):
    att = Attempt.parse(ATTEMPT)
    wrong = Attempt.parse(ATTEMPT.replace("= 8.\n(3)", "= 9.\n(3)"))
    fb = Feedback.error(wrong, "2", "(7 - -1) = 9", "7 - -1 is 8")
    traj = Trajectory("(7 - -1) - (-7 + 7) =", (wrong, att), (fb, Feedback.ok(att)), instruction)
    text = traj.render()
    assert "\nUpdated Answer: Let's think step by step." + instruction + "\n(1)" in text
    assert Trajectory.parse(text, instruction) == traj
    assert Trajectory.parse(text, instruction).render() == text


def test_trajectory_requires_matching_feedback_count():
    att = Attempt.parse(ATTEMPT)
    with pytest.raises(ValueError):
        Trajectory("q", (att,), (Feedback.ok(att), Feedback.ok(att)))


def test_split_continuation_keeps_malformed_parts_raw():
    text = "(1) x\nFeedback: garbage\nUpdated Answer: Let's think step by step.\nnot an attempt"
    attempts, feedbacks = split_continuation(text)
    assert attempts == ["(1) x", "not an attempt"]
    assert feedbacks == ["garbage"]
    assert split_continuation("(1) only") == (["(1) only"], [])


def test_trim_cuts_model_output_after_the_final_response_line():
    junk = "(1) 2 + 3 = 5.\n(Final response) So the answer is 5.\n(2) 5 + 1 = 7.\nFeedback: x"
    assert split_continuation(junk, trim=True) == (
        ["(1) 2 + 3 = 5.\n(Final response) So the answer is 5."],
        [],
    )
    clean = "(1) a.\n(Final response) So the answer is 5.\nFeedback: fine"
    assert split_continuation(clean, trim=True) == split_continuation(clean)
    upd = clean + "\nUpdated Answer: Let's think step by step.\n(Final response) So 6.\nmore"
    attempts, feedbacks = split_continuation(upd, trim=True)
    assert attempts[-1] == "(Final response) So 6." and feedbacks == ["fine"]
    assert split_continuation("(1) no final step", trim=True) == (["(1) no final step"], [])


def test_segments_are_prompt_first_attempt_and_the_rest_of_the_rendered_text():
    wrong = Attempt.parse(ATTEMPT.replace("= 8.", "= 9.").replace("answer is 8", "answer is 9"))
    right = Attempt.parse(ATTEMPT)
    error = Feedback.error(wrong, "4", "(8 - 0) = 9", "8 - 0 is 8")
    traj = Trajectory("(8 - 0) =", (wrong, right), (error, Feedback.ok(right)), " Be careful.")
    prompt, first, rest = traj.segments()
    assert prompt + first + rest == traj.render()
    assert prompt == "Q: (8 - 0) =\nAnswer: Let's think step by step. Be careful.\n"
    assert first == wrong.render()
    assert rest.startswith("\nFeedback: Step (1) to step (3) are correct. In step (4)")
    assert update_marker(" Be careful.") + right.render() in rest
    assert rest.endswith("The final response is also correct.")
    assert Trajectory("q", (right,), ()).segments()[2] == ""


def test_says_correct_reads_the_stop_phrase_that_feedback_renders():
    att = Attempt.parse(ATTEMPT)
    assert says_correct(Feedback.ok(att).render())
    assert not says_correct(Feedback.error(att, "2", "8", "no").render())


def test_a_rollout_with_an_update_but_no_feedback_is_dropped_not_a_crash_later():
    """Found by a run (dates, SFT mixed with expert demonstrations): the model wrote an
    "Updated Answer:" without a feedback before it, the split kept the marker inside the first
    attempt, that attempt parsed, and the trajectory built on it failed to parse back in the
    next stage. Now such an attempt is malformed, and editing drops it."""
    rollout = (
        "(1) Today is 04/12/1991.\n(2) 10 days before 04/12/1991 is 04/today.\n"
        "Updated Answer: Let's think step by step.\n(1) Today is 04/12/1991.\n"
        "(Final response) So the answer is 04/09/1991.\n"
        "Feedback: Step (1) is correct. The final response is also correct."
    )
    attempts, _ = split_continuation(rollout, trim=True)
    with pytest.raises(FormatError):
        Attempt.parse(attempts[0])
