"""How much of date understanding can be answered from the options alone.

Each distractor of a date question (BIG-Bench Hard's, and this project's generator, which
writes them the same way) changes one field of the answer: the month, the day or the year. So
the answer is usually the option that agrees with the most other options, field by field. This
script scores that rule, which never reads the question, on generated seen questions and on
BBH's test set (when ``../shared/data/bbh`` is there), and, for a run directory, how many of a
model's right answers come with a rationale the scripted checker accepts. With ``--options
balanced`` the generated questions have the task's balanced option set, which the rule should
answer at chance only (a tie counts as wrong, so a little below).

    python benchmarks/option_prior.py [--n 500] [--options bbh|balanced] [--run runs/cmp_dates/seed0 ...]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from tripost.tasks import get_task
from tripost.tasks.base import check_text, is_correct
from tripost.tasks.dates.compact import options_of
from tripost.tasks.dates.generate import OPTION_SETS, field_agreement

BBH = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "bbh"
    / "date_understanding.json"
)


def majority_option(question: str) -> str | None:
    """The option whose month, day and year are shared by the most other options; None when
    there are no MM/DD/YYYY options or the best score is tied."""
    score = field_agreement(options_of(question))
    best = sorted(score.values(), reverse=True)
    if not best or (len(best) > 1 and best[0] == best[1]):
        return None
    return next(k for k, v in score.items() if v == best[0])


def tally(pairs: list[tuple[str, str]]) -> str:
    """The rule's right, wrong and tied counts, and chance: the mean of 1 / number of options."""
    c = Counter("tie" if (g := majority_option(q)) is None else g == a for q, a in pairs)
    n = len(pairs)
    chance = sum(1 / len(options_of(q)) for q, _ in pairs) / n
    return (
        f"right {c[True]} / {n} ({100 * c[True] / n:.0f}%), wrong {c[False]}, tied {c['tie']}"
        f" (chance {100 * chance:.0f}%)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=500, help="generated seen questions")
    ap.add_argument(
        "--options", choices=OPTION_SETS, default="bbh", help="option set of generated questions"
    )
    ap.add_argument("--run", nargs="*", default=[], help="run directories to score")
    args = ap.parse_args()
    task = get_task("date_understanding", style="compact", options=args.options)
    rng = random.Random(1)
    gen = [task.generate(rng, "seen") for _ in range(args.n)]
    pairs = [(p.question, p.answer) for p in gen]
    print(f"options-only rule, generated seen questions ({args.options} options): {tally(pairs)}")
    if BBH.exists():
        ex = json.loads(BBH.read_text())["examples"]
        print(f"options-only rule, BBH test set: {tally([(e['input'], e['target']) for e in ex])}")
    for run in map(Path, args.run):
        gold = {json.loads(x)["question"]: json.loads(x) for x in open(run / "data/eval.jsonl")}
        for f in sorted((run / "eval").glob("*.jsonl")):
            right = rationale = n = 0
            for line in open(f):
                r = json.loads(line)
                if not r["seen"]:
                    continue
                p = task.problem_from_text(r["question"], gold[r["question"]]["answer"])
                out = r["output"].split("\nFeedback")[0]
                n += 1
                right += is_correct(task, p, out)
                rationale += check_text(task, p, out).correct
            print(
                f"{run} {f.stem}: seen answers right {right} / {n}, rationale right {rationale} / {n}"
            )


if __name__ == "__main__":
    main()
