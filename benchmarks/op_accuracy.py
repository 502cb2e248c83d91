"""Teacher-forced accuracy of every operation's result in gold ``ops``-style arithmetic
rationales, by operator and operand size: which facts a trained model has learned.

    python benchmarks/sft_probe.py --style ops --tokenizer number --steps 2000 --save DIR
    python benchmarks/op_accuracy.py DIR

Each rationale line holds operations ``a op b = c``; the model reads the gold text and its
greedy prediction of the token of ``c`` (one token with the ``number`` tokenizer) is scored.
Sizes are the digit counts of ``a`` and ``b``: ``21`` is a two-digit by one-digit operation.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import defaultdict

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tripost.tasks import get_task
from tripost.trajectory import render_prompt

NUMBER = re.compile(r"-?\d+")
OPS = (" + ", " - ", " * ")


def digits(t: str) -> str:
    return str(min(3, len(t.lstrip("-"))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="a checkpoint trained with the number tokenizer")
    ap.add_argument("--problems", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    task, rng = get_task("multistep_arithmetic", style="ops"), random.Random(7)
    right, total = defaultdict(int), defaultdict(int)
    for _ in range(args.problems):
        p = task.generate(rng, "seen")
        prompt, gold = render_prompt(p.question), task.solve(p).render()
        n_prompt = len(tok.encode(prompt, add_special_tokens=False))
        ids = tok.encode(prompt + gold, add_special_tokens=False)
        with torch.no_grad():
            pred = model(input_ids=torch.tensor([ids])).logits[0].argmax(-1).tolist()
        t = tok.convert_ids_to_tokens(ids)
        for k in range(n_prompt + 4, len(t)):
            a, op, b, eq, c = t[k - 4 : k + 1]
            if eq == " = " and op in OPS and all(NUMBER.fullmatch(x) for x in (a, b, c)):
                for key in ((op.strip(), digits(a) + "x" + digits(b)), ("all", "")):
                    right[key] += pred[k - 1] == ids[k]
                    total[key] += 1
    print("| operation | operand digits | right / total | accuracy |\n|---|---|---|---|")
    for key in sorted(total):
        print(
            f"| {key[0]} | {key[1]} | {right[key]} / {total[key]} | {right[key] / total[key]:.0%} |"
        )


if __name__ == "__main__":
    main()
