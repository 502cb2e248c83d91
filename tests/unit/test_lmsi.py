"""LMSI's majority vote and filter (no gold label)."""

from tests.toy import ToyTask
from tripost.lmsi import majority_vote, parse_rationale, select

TASK = ToyTask()
RIGHT = "(1) 3 + 4 = 7.\n(2) 7 + 5 = 12.\n(Final response) So the answer is 12."
RIGHT_FB = (
    RIGHT + "\nFeedback: Step (1) to step (2) are correct. The final response is also correct."
)
LUCKY = "(1) 3 + 4 = 8.\n(2) 8 + 5 = 12.\n(Final response) So the answer is 12."
WRONG = "(1) 3 + 4 = 7.\n(2) 7 + 5 = 11.\n(Final response) So the answer is 11."
MALFORMED = "3 + 4 = 7 so 12"
NO_ANSWER = "(1) 3 + 4 = 7.\n(Final response) I do not know."


def test_majority_vote():
    assert majority_vote(["12", "12", "11"]) == "12"
    assert majority_vote(["11", "12", "11", "13"]) == "11"
    assert majority_vote(["12"]) == "12"
    assert majority_vote(["12", "11"]) is None  # a tie is no majority
    assert majority_vote(["12", "11", "12", "11", "3"]) is None
    assert majority_vote([]) is None


def test_parse_rationale_takes_the_first_attempt_and_its_answer():
    attempt, answer = parse_rationale(TASK, RIGHT_FB)
    assert attempt.render() == RIGHT and answer == "12"
    assert parse_rationale(TASK, MALFORMED) is None
    assert parse_rationale(TASK, NO_ANSWER) is None


def test_select_keeps_the_distinct_rationales_of_the_majority_answer():
    vote, kept = select(TASK, [RIGHT, RIGHT_FB, LUCKY, WRONG, MALFORMED, NO_ANSWER])
    assert vote == "12"
    assert [a.render() for a in kept] == [RIGHT, LUCKY]  # deduplicated, in sample order


def test_select_uses_no_gold_label():
    # the majority is wrong (the sum is 12): LMSI keeps it anyway
    vote, kept = select(TASK, [WRONG, WRONG, RIGHT])
    assert vote == "11" and [a.render() for a in kept] == [WRONG]


def test_select_without_a_majority_keeps_nothing():
    assert select(TASK, [RIGHT, WRONG]) == (None, [])
    assert select(TASK, [MALFORMED, NO_ANSWER]) == (None, [])
