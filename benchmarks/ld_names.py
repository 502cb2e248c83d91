"""Does a logical-deduction model copy the question's object names? Teacher-forced on gold
rationales (``compact`` style) of a run's evaluation questions, for each kind of step: the loss
and probability of the right token where a name is written, and the probability on the
question's own words (knowing only the scene's kind of objects gives about 0.55). For the
``Given`` steps' names also: the part on the words of the statement the step is about, at the
step's first name and at later ones (docs/ablations.md §22).

    python benchmarks/ld_names.py runs/ld_X/checkpoints/sft runs/ld_X/data/eval.jsonl 60 [STYLE]

For the ``From`` steps' names also, by how many steps the placement cites: those copied from a
cited ordering and those it places new (docs/ablations.md §26).

Also the probability of the right position number where the reading writes it (``Position 5``
in the ``compact`` style, ``the cheapest is position 5`` in ``phrased``; STYLE, default
``compact``, is the style of the run's rationales), and on how many rationales it is above 0.5.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tripost.tasks import get_task
from tripost.trajectory import Problem, render_prompt

NOT_NAMES = set(
    "The the is are to of left right than newer older finished above below more less expensive "
    "cheaper second third fourth fifth sixth rightmost leftmost oldest newest from most least "
    "cheapest last first Given From Position So answer and Final response position".split()
)


def main() -> None:
    ckpt, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 60
    style = sys.argv[4] if len(sys.argv) > 4 else "compact"
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(ckpt)
    model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
    task = get_task("logical_deduction", style=style)
    vocab = tok.get_vocab()
    loss, mass, own = defaultdict(list), defaultdict(list), defaultdict(list)
    position: list[float] = []
    placed: dict[tuple[str, int], list[float]] = defaultdict(list)  # (copied/new, refs) -> p
    for line in Path(data).read_text().splitlines()[:n]:
        p = Problem(**json.loads(line))
        if not p.seen:
            continue
        prompt = render_prompt(p.question, task.instruction)
        text = prompt + task.solve(p).render()  # type: ignore[union-attr]
        start = len(tok(prompt, add_special_tokens=False)["input_ids"])
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        body = p.question.split("\nOptions")[0]
        words = set(re.findall(r"[A-Za-z]+", body.split(":", 1)[1])) - NOT_NAMES
        q_ids = [vocab[w] for w in words if w in vocab]
        statements = [s.strip() for s in body.split(":", 1)[1].split(".")[1:]]
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
        at = [m.start(1) for m in re.finditer(r"(?:Position|is position) (\d+)", text)][-1]
        t = next(t for t in range(start, len(ids)) if offsets[t][0] <= at < offsets[t][1])
        position.append(lp[t - 1, ids[t]].exp().item())
        orderings: dict[str, str] = {}  # label -> the ordering a placement writes
        for m in re.finditer(r"^\((\d+)\) From ([^:]*): (.*)$", text[len(prompt) :], re.M):
            orderings[m[1]] = m[3]
        for t in range(start, len(ids)):
            a, b = offsets[t]
            w = text[a:b]
            if not (w.isalpha() and len(w) > 1 and w not in NOT_NAMES):
                continue
            head = text[text.rfind("\n", 0, a) + 1 : a]
            if m := re.match(r"\(\d+\) From ([^:]*): ", head):
                refs = re.findall(r"\((\d+)\)", m[1])
                cited = " ".join(orderings.get(r, "") for r in refs).split()
                kind = "copied" if w in cited else "new"
                placed[(kind, min(len(refs), 4))].append(lp[t - 1, ids[t]].exp().item())
            kinds = ("Given", "Position", "From", "Final")  # "from" is in position words
            kind = next((k for k in kinds if k.lower() in head.lower()), "other")
            loss[kind].append(-lp[t - 1, ids[t]].item())
            mass[kind].append(lp[t - 1, q_ids].exp().sum().item())
            m = re.match(r"\((\d+)\) Given: ", head)
            if m and int(m[1]) <= len(statements):
                s_words = set(re.findall(r"[A-Za-z]+", statements[int(m[1]) - 1])) - NOT_NAMES
                s_ids = [vocab[x] for x in s_words if x in vocab]
                first = not re.search(r"[a-z]{2,}", head[m.end() :])
                own["first" if first else "later"].append(lp[t - 1, s_ids].exp().sum().item())
    for k in loss:
        v = loss[k]
        p_right = sum(math.exp(-x) for x in v) / len(v)
        print(
            f"{k:9s} names n={len(v):4d} loss {sum(v) / len(v):.3f} p(right) {p_right:.2f} "
            f"mass on the question's names {sum(mass[k]) / len(mass[k]):.2f}"
        )
    print(
        f"the reading's position number: p(right) {sum(position) / len(position):.2f}, above 0.5 "
        f"in {sum(x > 0.5 for x in position)} of {len(position)}"
    )
    for (kind, refs), v in sorted(placed.items()):
        more = "+" if refs == 4 else ""
        print(
            f"From, {kind} names, {refs}{more} cited steps: p(right) {sum(v) / len(v):.2f} n={len(v)}"
        )
    for k, v in own.items():
        print(
            f"Given, {k} name: mass on its own statement's names {sum(v) / len(v):.2f} n={len(v)}"
        )


if __name__ == "__main__":
    main()
