"""``benchmarks/flags.py`` re-reads stored evaluation outputs: a garbled "correct" is not a flag,
a feedback in the "wrong" format is, and the old count (anything but "correct") is shown beside."""

import json
from pathlib import Path

from tests.scripts import load_benchmark

OK = "Step (1) is correct. The final response is also correct."
ERR = 'In step (1) the part "b" is incorrect. This is because it should be a.'
GARBLED = "Stee (1) to step (2) art correct."


def test_flags_table_counts_garbled_feedback_apart(tmp_path: Path) -> None:
    attempt = "(1) x.\n(Final response) So the answer is 1."
    rows = [
        (False, ERR),  # a real flag of a wrong answer
        (True, ERR),  # a false flag
        (False, GARBLED),  # garbled: the old count called it a flag
        (True, OK),
        (False, None),  # no feedback at all
        (False, "junk"),  # junk after the answer: dropped from the output, marked malformed
    ]
    (tmp_path / "eval").mkdir()
    with open(tmp_path / "eval" / "iter1.jsonl", "w") as f:
        for first_correct, fb in rows:
            output = attempt if fb in (None, "junk") else f"{attempt}\nFeedback: {fb}"
            row = {"seen": True, "first_correct": first_correct, "output": output}
            f.write(json.dumps({**row, "malformed": fb in (GARBLED, "junk")}) + "\n")
    line = load_benchmark("flags").table(tmp_path)[-1]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells == ["iter1", "6", "4", "4 (0.75 / 0.75)", "2 (0.50 / 0.25)", "2", "1", "1"]
