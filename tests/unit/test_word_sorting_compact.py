"""Word sorting in the compact style (task option ``style: compact``): keys, gold rationale,
scripted feedback and improvement, injected errors, and the task option's path from a config."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tripost.cli import demo_config_path, main, parse_sets
from tripost.config import load_config
from tripost.editing import FEEDBACK_ONLY, IMPROVED
from tripost.experts import build_feedback, build_improvement
from tripost.experts.prompts import build_demos
from tripost.si_demos import build_si_demos
from tripost.tasks import check_text, get_task, read_problems
from tripost.tasks.word_sorting.compact import ERROR_KINDS, key_of, parse_compact
from tripost.tasks.word_sorting.task import WordSorting
from tripost.trajectory import FINAL, Attempt, Feedback, Step, Trajectory

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data")

TASK = get_task("word_sorting", style="compact")
PAPER = get_task("word_sorting")
PROBLEM = TASK.problem_from_text(
    "Sort the following words alphabetically: List: terrible smug swamp conversation", None
)
GOLD = """\
(1) Keys: terrible=t smug=sm swamp=sw conversation=c.
(2) Sorted: conversation < smug < swamp < terrible.
(Final response) So the answer is: conversation smug swamp terrible."""


def _problems(n: int, seed: int = 0):
    rng = random.Random(seed)
    return [TASK.generate(rng, "seen" if i % 2 else "unseen") for i in range(n)]


# --- keys and the gold rationale -----------------------------------------------------------


def test_solver_writes_keys_then_one_sorted_line():
    assert TASK.solve(PROBLEM).render() == GOLD
    assert TASK.check(PROBLEM, TASK.solve(PROBLEM)).correct
    # the paper style is the default, and much longer
    assert PAPER.style == "paper" and not PAPER.compact
    assert len(GOLD) < len(PAPER.solve(PROBLEM).render()) / 2


@pytest.mark.parametrize(
    "words, keys",
    [
        (("terrible", "smug", "swamp", "conversation"), ("t", "sm", "sw", "c")),
        (("stamp", "stick", "storm", "bee"), ("sta", "sti", "sto", "b")),  # "st" shared
        (("strap", "strong", "street", "axe"), ("stra", "stro", "stre", "a")),  # "str" shared
        (("strap", "strip", "string"), ("stra", "strip", "strin")),  # "stri" shared by two
        (("cat", "car", "dog", "door"), ("cat", "car", "dog", "doo")),
        (("alone",), ("a",)),
        (("plat", "platelet", "plum"), ("plat", "plate", "plu")),  # a prefix: the whole word
        (("dot", "barn", "dot"), ("dot", "b", "dot")),  # duplicates: the whole word
    ],
)
def test_key_is_the_shortest_prefix_no_other_word_shares(words, keys):
    assert tuple(key_of(w, words) for w in words) == keys


def test_gold_rationales_of_random_problems_pass_check_and_answer_right():
    for p in _problems(500):
        gold = TASK.solve(p)
        words = p.question.split("List: ")[1].split()
        assert TASK.check(p, gold).correct and check_text(TASK, p, gold.render()).correct
        assert TASK.extract_answer(gold) == p.answer == " ".join(sorted(words))
        assert gold.labels == ["1", "2", FINAL]
        keys = [it.key for it in parse_compact(gold.steps[0].text, "keys")]
        assert [it.word for it in parse_compact(gold.steps[0].text, "keys")] == words
        for w, k in zip(words, keys, strict=True):
            others = [o for o in words if o != w]
            # a prefix no other word starts with, and one letter shorter would be shared
            assert w.startswith(k) and not any(o.startswith(k) for o in others)
            assert len(k) == 1 or any(o.startswith(k[:-1]) for o in others)
        # sorting the keys sorts the words
        assert sorted(keys) == [key_of(w, tuple(words)) for w in sorted(words)]


def test_compact_text_renders_and_parses_back():
    gold = TASK.solve(PROBLEM)
    assert Attempt.parse(gold.render()) == gold
    bad = Attempt.parse(GOLD.replace("swamp=sw", "swamp=s"))
    fb = TASK.check(PROBLEM, bad)
    assert Feedback.parse(fb.render()) == fb
    traj = Trajectory(PROBLEM.question, (bad, gold), (fb, Feedback.ok(gold)))
    assert Trajectory.parse(traj.render()) == traj
    assert traj.render().endswith(
        "Feedback: Step (1) to step (2) are correct. The final response is also correct."
    )


# --- scripted feedback -----------------------------------------------------------------------

WRONG = [
    # (case, old, new, step, segment, reason)
    ("key too short", "swamp=sw", "swamp=s", "1", "swamp=s conversation=c", 'the key of "swamp" is "sw", since "smug" also starts with "s"'),
    ("key too long", "swamp=sw", "swamp=swa", "1", "swamp=swa", 'the key of "swamp" is "sw", the shortest prefix'),
    ("key wrong letter", "smug=sm", "smug=sn", "1", "smug=sn", 'the key of "smug" is "sm"'),
    ("word miscopied", "swamp=sw", "swump=sw", "1", "swump=sw", '"swamp" is misspelled as "swump"'),
    ("first word dropped", "terrible=t ", "", "1", "Keys: smug=sm", '"terrible" is missing'),
    ("word dropped", "smug=sm ", "", "1", "terrible=t swamp=sw", '"smug" is missing'),
    ("last word dropped", " conversation=c", "", "1", "swamp=sw.", '"conversation" is missing'),
    ("word repeated", "smug=sm", "smug=sm smug=sm", "1", "smug=sm smug=sm", '"smug" is listed twice'),
    ("question order", "smug=sm swamp=sw", "swamp=sw smug=sm", "1", "terrible=t swamp=sw", '"smug" comes next'),
    ("unknown word", "conversation=c", "conversation=c cat=c", "1", "conversation=c cat=c", '"cat" is not in the list'),
    ("swapped", "smug < swamp", "swamp < smug", "2", "swamp < smug", '"smug" (sm) comes before "swamp" (sw)'),
    ("misplaced", "conversation < smug < swamp < terrible", "smug < swamp < terrible < conversation", "2", "Sorted: smug", '"conversation" (c) comes before "smug" (sm)'),
    ("first missing", "conversation < smug", "smug", "2", "Sorted: smug", '"conversation" is missing'),
    ("missing", "< smug <", "<", "2", "conversation < swamp", '"smug" is missing'),
    ("last missing", " < terrible", "", "2", "swamp.", '"terrible" is missing'),
    ("miscopied", "< swamp <", "< swump <", "2", "swump", '"swamp" is misspelled as "swump"'),
    ("miscopied short", "< terrible.", "< terribl.", "2", "terribl.", '"terrible" is misspelled as "terribl"'),
    ("wrong sign", "smug < swamp", "smug = swamp", "2", "smug = swamp", 'the sign between these words is "<"'),
    ("final swapped", "smug swamp terrible.", "smug terrible swamp.", FINAL, "terrible swamp", '"swamp" (sw) comes before "terrible" (t)'),
    ("final first dropped", "is: conversation ", "is: ", FINAL, "is: smug", '"conversation" is missing'),
    ("final dropped", "swamp terrible.", "swamp.", FINAL, "swamp.", '"terrible" is missing'),
    ("final extra", "swamp terrible.", "swamp terrible terrible.", FINAL, "terrible terrible", '"terrible" is listed twice'),
]  # fmt: skip


@pytest.mark.parametrize("case, old, new, step, segment, reason", WRONG, ids=[w[0] for w in WRONG])
def test_feedback_names_the_first_wrong_step_the_part_and_why(
    case, old, new, step, segment, reason
):
    assert old in GOLD
    text = GOLD.replace(old, new, 1)
    fb = check_text(TASK, PROBLEM, text)
    assert (fb.correct, fb.error_step, fb.segment) == (False, step, segment)
    assert fb.reason.startswith(reason)
    bad = Attempt.parse(text)
    k = bad.index(step)
    assert segment in bad.steps[k].text and segment not in TASK.solve(PROBLEM).steps[k].text
    assert fb.ok_range == ((bad.steps[0].label, bad.steps[k - 1].label) if k else None)
    new_attempt = TASK.improve(PROBLEM, bad, fb)
    assert new_attempt.steps[:k] == bad.steps[:k]
    assert new_attempt.render() == GOLD and TASK.check(PROBLEM, new_attempt).correct


def test_a_right_answer_after_a_wrong_step_is_flagged():
    text = GOLD.replace("swamp=sw", "swamp=s")
    assert TASK.extract_answer(Attempt.parse(text)) == PROBLEM.answer
    fb = check_text(TASK, PROBLEM, text)
    assert not fb.correct and fb.error_step == "1"


MALFORMED = [
    # (case, text, step, reason)
    ("keys unreadable", GOLD.replace("smug=sm ", "smug sm "), "1", 'it cannot be read as "Keys: " followed by word=key'),
    ("no period", GOLD.replace("conversation=c.", "conversation=c"), "1", "it cannot be read"),
    ("sorted unreadable", GOLD.replace("smug < swamp", "smug, swamp"), "2", 'it cannot be read as "Sorted: "'),
    ("final unreadable", GOLD.replace("swamp terrible.", "swamp terrible"), FINAL, 'it cannot be read as "So the answer is: "'),
    ("step (2) skipped", "\n".join(GOLD.split("\n")[::2]), FINAL, "the words are sorted next"),
    ("sorted first", "(1) Sorted: conversation < smug < swamp < terrible.\n" + GOLD, "1", "the first step lists every word with its key"),
    ("extra step", GOLD.replace("(Final", "(3) Sorted: conversation < smug.\n(Final"), "3", "the words are sorted, so the final response comes next"),
    ("renumbered", GOLD.replace("(2)", "(3)"), "3", "this step is numbered (2)"),
    ("two spaces", GOLD.replace("is: conversation", "is:  conversation"), FINAL, "it cannot be read"),
]  # fmt: skip


@pytest.mark.parametrize("case, text, step, reason", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_step_in_the_wrong_format_is_the_error(case, text, step, reason):
    fb = check_text(TASK, PROBLEM, text)
    assert (fb.correct, fb.error_step) == (False, step)
    assert fb.reason.startswith(reason), fb.reason
    assert TASK.check(PROBLEM, TASK.improve(PROBLEM, Attempt.parse(text), fb)).correct


def test_check_accepts_only_the_gold_rationale_and_never_raises():
    rng = random.Random(3)
    text = GOLD
    for _ in range(300):  # random character edits: whatever is accepted is the gold text
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice("ab =<.s\n()1") + text[i + 1 :]
        fb = check_text(TASK, PROBLEM, text)
        assert fb.correct == (text == GOLD)
        if rng.random() < 0.3:
            text = GOLD


# --- injected errors -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k, _ in ERROR_KINDS])
def test_injected_errors_are_flagged_at_their_step_and_improved(kind):
    rng = random.Random(hash(kind) % 1000)
    seen: set[str] = set()
    for p in _problems(200, seed=len(kind)):
        gold = TASK.solve(p)
        injected = TASK.inject_error(p, gold, rng, kind)
        if injected is None:  # only a swap can fail to apply (a single-word list)
            assert kind == "order"
            continue
        bad, label = injected
        seen.add(label)
        k = bad.index(label)
        assert bad.steps[:k] == gold.steps[:k] and bad.steps[k] != gold.steps[k]
        fb = TASK.check(p, Attempt.parse(bad.render()))
        assert fb.error_step == label and fb.segment in bad.steps[k].text
        assert fb.segment not in gold.steps[k].text  # an improvement can be told from a copy
        assert Feedback.parse(fb.render()) == fb
        new = TASK.improve(p, bad, fb)
        assert new.steps[:k] == bad.steps[:k] and new == gold
        assert TASK.check(p, new).correct
    # keys are only in step (1); a swap is in the sorted line or the final response
    assert seen == {"key": {"1"}, "order": {"2", FINAL}}.get(kind, {"1", "2", FINAL})


def test_random_injection_draws_every_kind_and_the_slip_carries_to_the_answer():
    rng = random.Random(5)
    wrong_answers = 0
    steps = set()
    for p in _problems(300, seed=9):
        bad, label = TASK.inject_error(p, TASK.solve(p), rng)
        steps.add(label)
        wrong_answers += TASK.extract_answer(bad) != p.answer
        assert TASK.check(p, bad).error_step == label
    assert steps == {"1", "2", FINAL}
    assert 0.5 < wrong_answers / 300 < 1  # a wrong key leaves the answer right


def test_unknown_error_kind_is_refused():
    with pytest.raises(ValueError, match="unknown error kind 'rank'"):
        TASK.inject_error(PROBLEM, TASK.solve(PROBLEM), random.Random(0), "rank")


def test_expert_demonstrations_work_in_the_compact_style():
    rng = random.Random(0)
    problems = [TASK.generate(rng, "seen") for _ in range(30)]
    fbk, imp = build_feedback("scripted", TASK), build_improvement("scripted", TASK)
    demos, correct, stats = build_si_demos(TASK, problems, fbk, imp, 5, random.Random(1))
    assert stats["demos"] == len(demos) == 30, stats
    for d in demos:
        rec, p = d.record, d.record.problem
        traj = rec.trajectory(TASK.instruction)
        assert Trajectory.parse(traj.render(), TASK.instruction) == traj
        assert rec.feedbacks[0].error_step == d.injected_step
        assert rec.kind in (IMPROVED, FEEDBACK_ONLY)
        if rec.kind == IMPROVED:
            assert rec.attempts[-1] == TASK.solve(p) and rec.feedbacks[-1].correct
        assert rec.attempts[0].steps[0].text.startswith("Keys: ")  # compact, not the paper's
    assert sum(d.record.kind == IMPROVED for d in demos) == 30
    assert all(r.attempts[0] == TASK.solve(r.problem) for r in correct)


def test_llm_expert_few_shot_examples_are_compact():
    demos = build_demos(TASK, 3, seed=5)
    errors = [d for d in demos if not d.feedback.correct]
    assert len(errors) == 3 and any(d.feedback.correct for d in demos)
    for d in errors:
        assert d.attempt.steps[0].text.startswith("Keys: ")
        assert TASK.check(d.problem, d.improved).correct
        assert d.improved.prefix(d.feedback.error_step) == d.attempt.prefix(d.feedback.error_step)


# --- the task option -----------------------------------------------------------------------


def test_unknown_style_or_update_style_is_refused():
    with pytest.raises(ValueError, match="unknown style 'tiny'; known: 'paper', 'compact'"):
        WordSorting(style="tiny")
    with pytest.raises(ValueError, match="update_style"):
        WordSorting(update_style="append")
    assert get_task("word_sorting", style="compact", instruction=" Sort.").instruction == " Sort."


def test_demo_config_with_set_task_options_style_builds_a_compact_task():
    sets = parse_sets(["task_options.style=compact"])
    cfg = load_config(demo_config_path("word_sorting", False), {"task": "word_sorting", **sets})
    assert cfg.task_options == {"style": "compact"}
    task = get_task(cfg.task, **cfg.task_options)
    assert task.solve(PROBLEM).render() == GOLD


def test_demo_with_an_unknown_style_fails_in_one_line_before_writing(tmp_path, capsys, monkeypatch):
    import tripost.loop

    def never(*args, **kwargs):  # a style that got through must not start a demo here
        raise AssertionError("the demo would run")

    monkeypatch.setattr(tripost.loop, "_run_locked", never)
    out = tmp_path / "run"
    argv = ["demo", "--task", "word_sorting", "--output", str(out)]
    assert main([*argv, "--set", "task_options.style=tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tripost: error: unknown style 'tiny'; known: 'paper', 'compact'"
    assert not out.exists()


def test_a_question_the_format_cannot_write_is_judged_by_its_answer():
    p = TASK.problem_from_text("Sort the following words alphabetically: List: b=c a", None)
    assert TASK.solve(p) is None and PAPER.solve(p) is not None
    right = Attempt((Step(FINAL, "So the answer is: a b=c."),))
    assert TASK.extract_answer(right) == p.answer
    assert TASK.check(p, right).correct
    assert TASK.check(p, Attempt((Step(FINAL, "So the answer is: b=c a."),))).reason == (
        "the answer is a b=c"
    )
    assert TASK.inject_error(p, right, random.Random(0)) is None


@needs_shared
def test_bbh_questions_get_compact_rationales_that_pass_check():
    problems = read_problems(TASK, SHARED / "bbh" / "word_sorting.json")
    assert len(problems) == 250
    for p in problems:  # two of them hold a word that is a prefix of another
        gold = TASK.solve(p)
        assert TASK.check(p, gold).correct and TASK.extract_answer(gold) == p.answer


# --- judge_keys: false -----------------------------------------------------------------------

LENIENT = get_task("word_sorting", style="compact", judge_keys=False)


def test_without_judge_keys_a_wrong_key_with_a_right_list_is_accepted():
    text = GOLD.replace("swamp=sw", "swamp=s").replace("smug=sm", "smug=smu")
    assert not check_text(TASK, PROBLEM, text).correct
    assert check_text(LENIENT, PROBLEM, text).correct


def test_without_judge_keys_the_words_of_step_1_are_still_judged():
    text = GOLD.replace("swamp=sw", "swap=sw")
    fb = check_text(LENIENT, PROBLEM, text)
    assert (fb.correct, fb.error_step, fb.segment) == (False, "1", "swap=sw")
    assert fb.reason == '"swamp" is misspelled as "swap"'


def test_without_judge_keys_a_wrong_key_is_flagged_where_the_order_goes_wrong():
    # "swamp=s" and a list that follows the wrong keys: the error the answer shows, in (2)
    text = GOLD.replace("swamp=sw", "swamp=s").replace("smug < swamp", "swamp < smug")
    text = text.replace("smug swamp", "swamp smug")
    assert check_text(TASK, PROBLEM, text).error_step == "1"
    fb = check_text(LENIENT, PROBLEM, text)
    assert (fb.correct, fb.error_step) == (False, "2")
    assert fb.segment == "swamp < smug" and fb.reason.startswith('"smug" (sm) comes before')
    bad = Attempt.parse(text)
    new = LENIENT.improve(PROBLEM, bad, fb)  # the model's own step (1) is kept, keys and all
    assert new.steps[0] == bad.steps[0] and new.steps[1:] == TASK.solve(PROBLEM).steps[1:]
    assert LENIENT.check(PROBLEM, new).correct and not TASK.check(PROBLEM, new).correct


def test_without_judge_keys_every_other_injected_error_is_judged_as_before():
    rng = random.Random(11)
    for p in _problems(200, seed=4):
        bad, label = TASK.inject_error(p, TASK.solve(p), rng)
        strict, lenient = TASK.check(p, bad), LENIENT.check(p, bad)
        if label == "1" and strict.reason.startswith("the key of"):
            # a wrong key alone: the list is right, or its first wrong word is flagged
            right = TASK.extract_answer(bad) == p.answer
            assert lenient.correct == right and (right or lenient.error_step == "2")
        else:
            assert lenient == strict


def test_judge_keys_false_needs_the_compact_style_and_a_boolean():
    with pytest.raises(ValueError, match="judge_keys: false needs style: compact"):
        WordSorting(judge_keys=False)
    with pytest.raises(ValueError, match="judge_keys must be true or false, got 'no'"):
        WordSorting(style="compact", judge_keys="no")


def test_without_judge_keys_injected_errors_are_never_a_wrong_key_alone():
    rng = random.Random(2)
    for p in _problems(100, seed=6):
        bad, label = LENIENT.inject_error(p, LENIENT.solve(p), rng)
        fb = LENIENT.check(p, bad)
        assert not fb.correct and fb.error_step == label
    with pytest.raises(ValueError, match="error kind 'key' is no error when judge_keys is false"):
        LENIENT.inject_error(PROBLEM, LENIENT.solve(PROBLEM), rng, "key")
    fbk, imp = build_feedback("scripted", LENIENT), build_improvement("scripted", LENIENT)
    problems = _problems(30, seed=8)
    demos, _, stats = build_si_demos(LENIENT, problems, fbk, imp, 5, random.Random(1))
    assert stats["demos"] == len(demos) == 30, stats
