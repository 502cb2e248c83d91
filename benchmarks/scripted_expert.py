"""Acceptance figures of a task's scripted expert, on real and generated data.

    python benchmarks/scripted_expert.py --task multistep_arithmetic --n 1000

Prints, for the task:
- solver on BIG-Bench Hard: answer == target / unparsed / wrong (wrong must be 0);
- acceptance of the published gold rationales (../shared/data/tripost-official), when present;
- on generated problems (seen and unseen): own gold accepted, the injected error's step named,
  the scripted improvement of the injected attempt accepted with its prefix kept verbatim.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from tripost.editing import check_update
from tripost.tasks import get_task
from tripost.tasks.base import raw_items
from tripost.trajectory import Attempt, FormatError

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BBH = {
    "multistep_arithmetic": ["multistep_arithmetic_two.json"],
    "word_sorting": ["word_sorting.json"],
    "date_understanding": ["date_understanding.json"],
    "logical_deduction": [
        f"logical_deduction_{n}_objects.json" for n in ("three", "five", "seven")
    ],
}
OFFICIAL = {
    "multistep_arithmetic": [
        "raw/multistep_arithmetic_scripted_rationales.jsonl",
        "training/multistep_arithmetic/multistep_arithmetic_world_rationale_l3-4d2-22.jsonl",
    ],
    "word_sorting": [
        "raw/word_sorting_scripted_rationales.jsonl",
        "training/word_sorting/word_sorting_world_rationale_1-7.jsonl",
    ],
    "date_understanding": [
        "raw/date_understanding_codex_rationales_cleaned.jsonl",
        "training/date_understanding/date_understanding_world_rationale_1-2.jsonl",
    ],
    "logical_deduction": ["training/logical_deduction/logical_deduction_world_rationale_3-5.jsonl"],
}


def official_items(path: Path):
    """(question, target, rationale) from the published files (raw or training format)."""
    for line in path.read_text().splitlines():
        d = json.loads(line)
        if "rationale" in d:  # raw/*.jsonl
            q = d["question"].removeprefix("Q: ").strip()
            if d.get("formatted_choices"):
                q += "\nOptions:\n" + d["formatted_choices"]
            target = d.get("correct_answer", d.get("correct_choice"))
        else:  # training/*: text + meta_data
            m = d["meta_data"]
            q, target = m["question"].strip(), m["answer"]
            if m.get("formatted_choices"):
                q += "\nOptions:\n" + m["formatted_choices"]
            d = {"rationale": m["rationale"]}
        if isinstance(target, list):
            target = " ".join(target)
        if target is not None and len(str(target)) == 1 and str(target).isalpha():
            target = f"({target})"
        yield q, None if target is None else str(target), d["rationale"]


def bbh(task) -> None:
    for name in BBH.get(task.name, []):
        path = SHARED / "bbh" / name
        if not path.exists():
            print(f"bbh {name}: skipped (no ../shared)")
            continue
        ok = unparsed = wrong = 0
        for q, target in raw_items(path):
            p = task.problem_from_text(q, None)  # let the solver find the answer itself
            att = task.solve(p) if p else None
            if att is None:
                unparsed += 1
            else:
                # a task may refuse a target that contradicts its own reading (None): then the
                # target as written is compared, and counts as wrong if it differs
                with_target = task.problem_from_text(q, target)
                want = with_target.answer if with_target else target
                if task.extract_answer(att) == want:
                    ok += 1
                else:
                    wrong += 1
        n = ok + unparsed + wrong
        print(f"bbh {name}: {ok}/{n} answer == target, {unparsed} unparsed, {wrong} wrong")


def official(task) -> None:
    for rel in OFFICIAL.get(task.name, []):
        path = SHARED / "tripost-official" / rel
        if not path.exists():
            print(f"official {rel}: skipped (no ../shared)")
            continue
        n = accepted = unparsed = 0
        for q, target, rationale in official_items(path):
            n += 1
            p = task.problem_from_text(q, target)
            if p is None:
                unparsed += 1
                continue
            try:
                accepted += task.check(p, Attempt.parse(rationale.strip())).correct
            except FormatError:
                pass
        print(
            f"official {rel}: {accepted}/{n} gold rationales accepted ({unparsed} questions unparsed)"
        )


def generated(task, n: int, seed: int) -> None:
    rng = random.Random(seed)
    counts = dict(gold=0, injected=0, named=0, improved=0)
    for i in range(n):
        p = task.generate(rng, "seen" if i % 2 == 0 else "unseen")
        gold = task.solve(p)
        counts["gold"] += task.check(p, gold).correct
        inj = task.inject_error(p, gold, rng)
        if inj is None:
            continue
        bad, step = inj
        counts["injected"] += 1
        fb = task.check(p, bad)
        counts["named"] += (not fb.correct) and fb.error_step == step
        new = task.improve(p, bad, fb)
        counts["improved"] += (
            new is not None and task.check(p, new).correct and check_update(bad, fb, new) is None
        )
    k = counts["injected"]
    print(
        f"generated ({n} problems, seen and unseen, seed {seed}): own gold accepted "
        f"{counts['gold']}/{n}; injected step named {counts['named']}/{k} "
        f"({counts['named'] / max(1, k):.1%}); improvement accepted {counts['improved']}/{k}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    task = get_task(args.task)
    bbh(task)
    official(task)
    generated(task, args.n, args.seed)


if __name__ == "__main__":
    main()
