"""Word sorting: generator, BBH reader, gold solver, scripted feedback/improvement, errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tripost.tasks import check_text, get_task, read_problems
from tripost.tasks.word_sorting.generate import load_word_list, misspell
from tripost.tasks.word_sorting.model import ordinal, plan, rank, words_of
from tripost.trajectory import FINAL, Attempt, Feedback, Step

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
OFFICIAL = SHARED / "tripost-official"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data")

TASK = get_task("word_sorting")
QUESTION = (
    "Sort the following words alphabetically: List: thrill splutter same dot barn damp spline"
)
PROBLEM = TASK.problem_from_text(QUESTION, None)
GOLD = """\
(1) The first letter: "thrill"="t" (20), "splutter"="s" (19), "same"="s" (19), "dot"="d" (4), "barn"="b" (2), "damp"="d" (4), "spline"="s" (19).
(2) We now have: (2) "barn" < (4) ["dot" ? "damp"] < (19) ["splutter" ? "same" ? "spline"] < (20) "thrill".
(3) Now sort this subpart ["dot" ? "damp"] by looking at their second letters: "dot"="o" (15), "damp"="a" (1).
(3.1) We now have: (1) "damp" < (15) "dot".
(3.2) Hence, we have "damp" < "dot".
(4) Now sort this subpart ["splutter" ? "same" ? "spline"] by looking at their second letters: "splutter"="p" (16), "same"="a" (1), "spline"="p" (16).
(4.1) We now have: (1) "same" < (16) ["splutter" ? "spline"].
(4.2) Now sort this subpart ["splutter" ? "spline"] by looking at their third letters: "splutter"="l" (12), "spline"="l" (12).
(4.2.1) We now have: (12) ["splutter" ? "spline"].
(4.2.2) Now sort this subpart ["splutter" ? "spline"] by looking at their fourth letters: "splutter"="u" (21), "spline"="i" (9).
(4.2.3) We now have: (9) "spline" < (21) "splutter".
(4.2.4) Hence, we have "spline" < "splutter".
(4.3) Hence, we have "same" < "spline" < "splutter".
(5) Hence, we have "barn" < "damp" < "dot" < "same" < "spline" < "splutter" < "thrill".
(Final response) So the answer is: barn damp dot same spline splutter thrill."""


def edit_step(label: str, old: str, new: str, text: str = GOLD) -> str:
    """The gold rationale with ``old`` replaced by ``new`` once, in step ``label`` only."""
    steps = list(Attempt.parse(text).steps)
    i = [s.label for s in steps].index(label)
    assert old in steps[i].text, (label, old)
    steps[i] = Step(label, steps[i].text.replace(old, new, 1))
    return Attempt(tuple(steps)).render()


def test_solver_writes_the_paper_format():
    assert TASK.solve(PROBLEM).render() == GOLD
    assert TASK.extract_answer(TASK.solve(PROBLEM)) == PROBLEM.answer


@pytest.mark.parametrize(
    "question, answer",
    [
        ("Sort the following words alphabetically: List: syndrome therefrom", "syndrome therefrom"),
        ("Sort the following words alphabetically: List: r's rajah r", "r r's rajah"),
        ("Sort the following words alphabetically: List: platelet plat", "plat platelet"),
        ("Sort the following words alphabetically: List: dot barn dot", "barn dot dot"),
        ("Sort the following words alphabetically: List: acidify antagonism", "acidify antagonism"),
        ("Sort the following words alphabetically: List: it&t a&m i.e", "a&m i.e it&t"),
    ],
)
def test_gold_rationale_sorts_and_passes_its_own_check(question, answer):
    problem = TASK.problem_from_text(question, None)
    gold = TASK.solve(problem)
    assert TASK.extract_answer(gold) == answer == problem.answer
    assert TASK.check(problem, gold).correct
    assert len(set(gold.labels)) == len(gold.labels)  # unique labels


def test_words_past_their_end_get_the_empty_letter():
    text = TASK.solve(
        TASK.problem_from_text(QUESTION.split(":")[0] + ": List: plat platelet", None)
    )
    assert '"plat"="" (-96), "platelet"="e" (5)' in text.render()


def test_paper_numbering_of_nested_subparts_is_accepted_and_improved():
    problem = TASK.problem_from_text(QUESTION.split(":")[0] + ": List: cot cab cow can", None)
    steps = plan(words_of(problem.question))
    paper = Attempt(tuple(Step(s.official_label, s.text) for s in steps))
    assert paper.labels.count("3.2") == 2 and "3.3" not in paper.labels and "3.4" in paper.labels
    assert TASK.check(problem, paper).correct
    k = [i for i, s in enumerate(paper.steps) if s.label == "3.2.1"][1]  # the second (3.2.1)
    wrong = list(paper.steps)
    wrong[k] = Step("3.2.1", wrong[k].text.replace("(20)", "(21)"))
    wrong = Attempt(tuple(wrong))
    fb = TASK.check(problem, wrong)
    assert (fb.error_step, fb.segment, fb.ok_range) == ("3.2.1", '(21) "cot"', ("1", "3.2"))
    assert fb.render().startswith("Step (1) to step (3.2) are correct. In step (3.2.1)")
    new = TASK.improve(problem, wrong, fb)
    assert new.steps[:k] == wrong.steps[:k] and TASK.check(problem, new).correct


# --- scripted feedback: (case, edited rationale, error step, segment, reason) ---------------
WRONG = [
    ("wrong rank", edit_step("1", '"same"="s" (19)', '"same"="s" (18)'), "1",
     '"same"="s" (18)', 'the rank of "s" is 19, not 18'),
    ("wrong letter", edit_step("1", '"dot"="d" (4)', '"dot"="o" (15)'), "1",
     '"dot"="o" (15)', 'the first letter of "dot" is "d", not "o"'),
    ("miscopied word", edit_step("1", '"splutter"=', '"spluter"='), "1",
     '"spluter"="s" (19)', '"splutter" is misspelled as "spluter"'),
    ("dropped entry", edit_step("1", ', "barn"="b" (2)', ""), "1",
     '"dot"="d" (4), "damp"="d" (4)', 'the word "barn" is missing'),
    ("group split", edit_step("2", '(4) ["dot" ? "damp"]', '(4) "dot" < (4) "damp"'), "2",
     '(4) "dot"', '"damp" also has the first letter "d"'),
    ("groups swapped", edit_step("2", '(2) "barn" < (4) ["dot" ? "damp"]', '(4) ["dot" ? "damp"] < (2) "barn"'),
     "2", '(4) ["dot" ? "damp"] < (2) "barn"', '"barn" (2) comes before ["dot" ? "damp"] (4)'),
    ("chain rank", edit_step("4.2.3", '(9) "spline"', '(8) "spline"'), "4.2.3",
     '(8) "spline"', 'the rank of "i" is 9, not 8'),
    ("wrong subpart", edit_step("3", '["dot" ? "damp"]', '["damp" ? "dot"]'), "3",
     'Now sort this subpart ["damp" ? "dot"]', 'the subpart to sort is ["dot" ? "damp"]'),
    ("wrong ordinal", edit_step("4.2", "third letters", "second letters"), "4.2",
     "their second letters", "this subpart is sorted by the third letters"),
    ("subpart skipped", edit_step("3", Attempt.parse(GOLD).steps[2].text, 'Hence, we have "damp" < "dot".'),
     "3", 'Hence, we have "damp" < "dot".', 'the subpart ["dot" ? "damp"] is sorted next'),
    ("hence swapped", edit_step("5", '"dot" < "same"', '"same" < "dot"'), "5",
     '"same" < "dot"', '"dot" comes before "same"'),
    ("hence miscopied", edit_step("4.3", '"spline"', '"splin"'), "4.3",
     '"splin"', '"spline" is misspelled as "splin"'),
    ("final word dropped", edit_step(FINAL, "dot same", "same"), FINAL,
     " damp same ", 'the word "dot" is missing'),
    ("final miscopied", edit_step(FINAL, "thrill.", "thril."), FINAL,
     " splutter thril.", '"thrill" is misspelled as "thril"'),
    ("final swapped", edit_step(FINAL, "barn damp", "damp barn"), FINAL,
     " damp barn ", '"barn" comes before "damp"'),
    ("wrong label", GOLD.replace("(4.2.3) We", "(4.2.5) We"), "4.2.5",
     'We now have: (9) "spline" < (21) "splutter".', "this step is numbered (4.2.3)"),
]  # fmt: skip


@pytest.mark.parametrize("case, text, step, segment, reason", WRONG, ids=[w[0] for w in WRONG])
def test_feedback_names_first_wrong_step(case, text, step, segment, reason):
    fb = check_text(TASK, PROBLEM, text)
    assert (fb.correct, fb.error_step, fb.segment, fb.reason) == (False, step, segment, reason)
    attempt = Attempt.parse(text)
    assert segment in attempt.steps[attempt.index(step)].text
    assert Feedback.parse(fb.render()) == fb


@pytest.mark.parametrize("case, text, step, segment, reason", WRONG, ids=[w[0] for w in WRONG])
def test_improvement_keeps_prefix_and_passes_check(case, text, step, segment, reason):
    attempt = Attempt.parse(text)
    fb = TASK.check(PROBLEM, attempt)
    new = TASK.improve(PROBLEM, attempt, fb)
    k = attempt.index(step)
    assert new is not None and TASK.check(PROBLEM, new).correct
    assert new.steps[:k] == attempt.steps[:k]
    if case != "wrong label":  # a relabelled step keeps its (right) text
        assert segment not in new.steps[k].text


def test_repeated_label_is_blamed_where_it_stands():
    attempt = Attempt.parse(GOLD.replace("(3.1) We", "(3) We"))
    fb = TASK.check(PROBLEM, attempt)
    assert (fb.error_step, fb.reason, fb.ok_range) == (
        "3",
        "this step is numbered (3.1)",
        ("1", "3"),
    )
    new = TASK.improve(PROBLEM, attempt, fb)
    assert new.steps[:3] == attempt.steps[:3] and TASK.check(PROBLEM, new).correct


MALFORMED = [
    ("entry without parentheses", edit_step("1", '"barn"="b" (2)', '"barn"="b" 2'), "1",
     'it cannot be read as "word"="letter" (rank) entries'),
    ("chain without period", edit_step("2", '(20) "thrill".', '(20) "thrill"'), "2",
     'it cannot be read as (rank) "word" items joined by "<"'),
    ("hence with commas", edit_step("3.2", '"damp" < "dot"', '"damp", "dot"'), "3.2",
     'it cannot be read as quoted words joined by "<"'),
    ("final without period", edit_step(FINAL, "thrill.", "thrill"), FINAL,
     'it cannot be read as "So the answer is: " followed by the words and a period'),
    ("final without colon", edit_step(FINAL, "answer is:", "answer is"), FINAL,
     'it cannot be read as "So the answer is: " followed by the words and a period'),
    ("free text", edit_step("2", Attempt.parse(GOLD).steps[1].text, "I think b comes first."), "2",
     'the letters of the previous step are ordered next with "We now have"'),
    ("subpart garbled", edit_step("3", "by looking at", "by lookin"), "3",
     'it cannot be read as a subpart followed by "word"="letter" (rank) entries'),
    ("continuation line", edit_step("3.1", '"dot".', '"dot".\nand more'), "3.1",
     'it cannot be read as (rank) "word" items joined by "<"'),
]  # fmt: skip


@pytest.mark.parametrize("case, text, step, reason", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_unreadable_step_is_the_error(case, text, step, reason):
    fb = check_text(TASK, PROBLEM, text)
    assert (fb.correct, fb.error_step, fb.reason) == (False, step, reason)
    assert "\n" not in fb.segment and fb.segment.strip()


@pytest.mark.parametrize("text", ["", "blah blah", "(1) The first letter: ", "(3) Hence, we have."])
def test_malformed_attempt_gets_parse_error_feedback(text):
    fb = check_text(TASK, PROBLEM, text)
    assert not fb.correct and fb.error_step == "1"
    assert "format" in fb.reason or "cannot be read" in fb.reason or "first step" in fb.reason


def test_check_never_raises_on_noisy_attempts():
    rng = random.Random(3)
    chars = 'abcdefghijklmnopqrstuvwxyz "()[]<?=.,:-0123456789\n'
    for _ in range(300):
        text = GOLD
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text))
            text = text[:i] + rng.choice(["", rng.choice(chars)]) + text[i + rng.randint(0, 3) :]
        fb = check_text(TASK, PROBLEM, text)
        assert "could not be checked" not in (fb.reason or "")


def test_improve_refuses_when_kept_steps_are_wrong():
    attempt = Attempt.parse(edit_step("1", '"same"="s" (19)', '"same"="s" (18)'))
    blamed_later = Feedback.error(attempt, "3", '"dot"', "made up")
    assert TASK.improve(PROBLEM, attempt, blamed_later) is None
    assert (
        TASK.improve(PROBLEM, attempt, Feedback.error(attempt, "9.9", "x", "no such step")) is None
    )


# --- error injection ------------------------------------------------------------------------
def test_injected_errors_are_named_and_fixed():
    rng = random.Random(0)
    for i in range(300):
        problem = TASK.generate(rng, "seen" if i % 2 else "unseen")
        gold = TASK.solve(problem)
        assert TASK.check(problem, gold).correct
        wrong, label = TASK.inject_error(problem, gold, rng)
        fb = check_text(TASK, problem, wrong.render())
        assert not fb.correct and fb.error_step == label, (wrong.render(), fb.render())
        new = TASK.improve(problem, wrong, fb)
        k = wrong.index(label)
        assert new is not None and TASK.check(problem, new).correct
        assert fb.segment in wrong.steps[k].text and fb.segment not in new.steps[k].text


@pytest.mark.parametrize("word", ["splutter", "dot", "it", "a"])
def test_misspell_changes_the_word(word):
    rng = random.Random(1)
    assert all(misspell(word, rng) != word for _ in range(50))


# --- problems -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question, words",
    [
        (
            "Sort the following words alphabetically: List: syndrome therefrom",
            ("syndrome", "therefrom"),
        ),
        (
            "Sort the following words alphabetically:\nList: syndrome therefrom",
            ("syndrome", "therefrom"),
        ),
        ("Q: Sort the following words alphabetically: List: b a", ("b", "a")),
        ("Sort the following words alphabetically: List: ", None),
        ('Sort the following words alphabetically: List: a"b c', None),
        ("What is 2 + 2?", None),
    ],
)
def test_words_of_question(question, words):
    assert words_of(question) == words
    problem = TASK.problem_from_text(question, "x y")
    assert (problem is None) == (words is None)


@pytest.mark.parametrize(
    "n, bucket, seen", [(2, "2-3", True), (3, "2-3", True), (7, "4-7", True), (8, "8-10", False),
                        (15, "11-15", False), (20, "16-20", False)],
)  # fmt: skip
def test_problem_bucket_follows_word_count(n, bucket, seen):
    question = "Sort the following words alphabetically: List: " + " ".join(
        f"w{i}" for i in range(n)
    )
    problem = TASK.problem_from_text(question, None)
    assert (problem.bucket, problem.seen) == (bucket, seen)


def test_target_is_kept_normalised():
    problem = TASK.problem_from_text(QUESTION, " barn  damp dot same spline splutter thrill ")
    assert problem.answer == "barn damp dot same spline splutter thrill"


@pytest.mark.parametrize("split, lo, hi", [("seen", 2, 7), ("unseen", 8, 20)])
def test_generate_draws_listed_words_in_the_split_range(split, lo, hi):
    rng, vocab = random.Random(7), set(load_word_list())
    sizes = set()
    for _ in range(200):
        problem = TASK.generate(rng, split)
        words = words_of(problem.question)
        sizes.add(len(words))
        assert problem.question.startswith("Sort the following words alphabetically: List: ")
        assert set(words) <= vocab and len(set(words)) == len(words)
        assert problem.answer == " ".join(sorted(words)) and problem.seen == (split == "seen")
        assert problem.bucket in TASK.buckets
    assert min(sizes) == lo and max(sizes) == hi


def test_word_list_is_common_lowercase_ascii():
    words = load_word_list()
    assert len(words) > 3000
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)


@pytest.mark.parametrize(
    "final, answer",
    [("So the answer is: barn damp dot.", "barn damp dot"), ("So the answer is: barn  dot", "barn dot"),
     ("So the answer is: etc..", "etc."), ("I do not know.", None), ("So the answer is: .", None)],
)  # fmt: skip
def test_extract_answer(final, answer):
    assert TASK.extract_answer(Attempt((Step(FINAL, final),))) == answer


@pytest.mark.parametrize(
    "n, word",
    [(1, "first"), (2, "second"), (12, "twelfth"), (21, "twenty-first"), (30, "thirtieth")],
)
def test_ordinal(n, word):
    assert ordinal(n) == word


@pytest.mark.parametrize(
    "letter, value", [("a", 1), ("z", 26), ("'", -57), ("&", -58), (".", -50), ("", -96)]
)
def test_rank_is_code_point_minus_96(letter, value):
    assert rank(letter) == value


# --- the paper's data (skipped without ../shared/data) -------------------------------------
@needs_shared
def test_solver_answers_bbh_word_sorting():
    problems = read_problems(TASK, SHARED / "bbh" / "word_sorting.json")
    assert len(problems) == 250 and all(p is not None for p in problems)
    assert all(TASK.extract_answer(TASK.solve(p)) == p.answer for p in problems)


def _official() -> list[tuple[str, str, str]]:
    """(question, answer, rationale) of the paper's scripted rationales and training data."""
    out = []
    with open(OFFICIAL / "raw" / "word_sorting_scripted_rationales.jsonl") as f:
        for line in f:
            d = json.loads(line)
            out.append((d["question"][3:], " ".join(d["correct_answer"]), d["rationale"]))
    for path in sorted((OFFICIAL / "training" / "word_sorting").glob("*world*.jsonl")):
        with open(path) as f:
            for line in f:
                m = json.loads(line)["meta_data"]
                out.append((m["question"], " ".join(m["answer"]), m["rationale"]))
    return out


@needs_shared
def test_checker_accepts_official_gold_rationales():
    official = _official()
    assert len(official) > 2000
    for question, answer, rationale in official:
        problem = TASK.problem_from_text(question, answer)
        assert check_text(TASK, problem, rationale).correct, rationale
        assert TASK.extract_answer(Attempt.parse(rationale)) == answer


@needs_shared
def test_solver_reproduces_official_rationales_up_to_their_label_quirk():
    same = 0
    official = _official()
    for question, _, rationale in official:
        steps = plan(words_of(question))
        assert "\n".join(f"({s.official_label}) {s.text}" for s in steps) == rationale
        same += "\n".join(f"({s.label}) {s.text}" for s in steps) == rationale
    assert same / len(official) > 0.98
