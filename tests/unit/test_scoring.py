"""Scoring of self-improvement output: the model's own "correct" ends the trajectory, and a
feedback is read with the format's parser (spoofed stop phrases do not count)."""

import random

import pytest

from tripost.evaluation import metrics, own_verdict, score_output
from tripost.tasks import get_task
from tripost.trajectory import UPDATE_PREFIX, join_continuation, split_continuation

TASK = get_task("multistep_arithmetic")
PROBLEM = TASK.generate(random.Random(0), "seen")
GOLD = TASK.solve(PROBLEM).render()
WRONG = GOLD.replace(f"So the answer is {PROBLEM.answer}.", "So the answer is 7.")
OK = "Step (1) to step (6) are correct. The final response is also correct."
ERR = 'In step (Final response) the part "7" is incorrect. This is because it should be 272.'
SPOOF = (
    'In step (6) the part "The final response is also correct." is incorrect. This is because no.'
)
UPD = f"\n{UPDATE_PREFIX}\n"


def out(*parts: str) -> str:
    """attempt, feedback, attempt, feedback, ... as the model writes them."""
    text = ""
    for i, part in enumerate(parts):
        text += (UPD if i and i % 2 == 0 else "\nFeedback: " if i % 2 else "") + part
    return text


@pytest.mark.parametrize(
    "output,first,final,updated,flagged,n_updates",
    [
        # wrong attempt, the model says correct, then writes an update anyway: not a fix
        (out(WRONG, OK, GOLD, OK), False, False, False, False, 0),
        # the same with a correct-steps prefix of one step only
        (out(WRONG, "Step (1) is correct. The final response is also correct.", GOLD), False, False, False, False, 0),
        # the model's stop phrase is followed by junk on the same line: still its own "correct"
        (out(WRONG, OK + " Q: next", GOLD, OK), False, False, False, False, 0),
        # a real flag followed by a fix: scored as a fix
        (out(WRONG, ERR, GOLD, OK), False, True, True, True, 1),
        # a feedback quoting the stop phrase inside its segment is a flag, not "correct"
        (out(WRONG, SPOOF, GOLD, OK), False, True, True, True, 1),
        # a correct attempt the model breaks after a false flag
        (out(GOLD, ERR, WRONG, OK), True, False, True, True, 1),
        # a feedback that does not follow the format is not the model saying "correct": decoding
        # goes on to the update, but garbled text is not a flag
        (out(WRONG, "looks fine to me, The final response is also correct.", GOLD), False, True, True, False, 1),
        # no feedback at all
        (WRONG, False, False, False, False, 0),
    ],
)  # fmt: skip
def test_scoring_reads_the_models_own_verdict(output, first, final, updated, flagged, n_updates):
    o = score_output(TASK, PROBLEM, output, rounds=3)
    assert (o.first_correct, o.final_correct, o.updated, o.flagged, o.n_updates) == (
        first,
        final,
        updated,
        flagged,
        n_updates,
    )


@pytest.mark.parametrize(
    "feedback,flagged,malformed",
    [
        (ERR, True, False),
        (SPOOF, True, False),
        (OK, False, False),
        # a tiny model's garbled "correct" (measured on word sorting: every "flag" of one model)
        ("Step (1) to step (2) are correct. The finals also correct.", False, True),
        ("", False, True),
    ],
)
def test_a_flag_is_a_wrong_verdict_in_the_format(feedback, flagged, malformed):
    o = score_output(TASK, PROBLEM, out(WRONG, feedback), rounds=3)
    assert (o.flagged, o.malformed) == (flagged, malformed)
    m = metrics([o])
    assert m["flag_recall"] == float(flagged) and m["feedback_malformed"] == float(malformed)


@pytest.mark.parametrize(
    "after, malformed",
    [
        # the arithmetic demo's models after an iteration: the marker spelled letter by letter
        ("\nFeeecack: Step (1) te step (6) are correct. Tee fct. response is is ct.", True),
        ("\n(7) 3 + 4 = 7.", True),
        ("", False),  # the answer, then the end: no feedback, nothing garbled
        ("\n\n", False),
    ],
)
def test_text_after_the_answer_that_is_no_feedback_is_garbled(after, malformed):
    o = score_output(TASK, PROBLEM, WRONG + after, rounds=3)
    assert (o.flagged, o.malformed, o.updated) == (False, malformed, False)
    assert o.output == WRONG
    assert metrics([o])["feedback_malformed"] == float(malformed)


def test_scored_output_ends_at_the_models_own_correct():
    o = score_output(TASK, PROBLEM, out(WRONG, OK + " trailing", GOLD, OK), rounds=3)
    assert o.output == out(WRONG, OK)
    assert UPDATE_PREFIX not in o.output


def test_own_verdict_parses_the_feedback():
    assert own_verdict(OK) == OK
    assert own_verdict(OK + "\nQ: more") == OK
    assert own_verdict(SPOOF) is None and own_verdict(ERR) is None
    assert own_verdict("The final response is also correct.") is not None
    assert own_verdict("Nope. The final response is also correct.") is None


def test_join_inverts_split():
    text = out(WRONG, ERR, GOLD, OK)
    assert join_continuation(*split_continuation(text)) == text
