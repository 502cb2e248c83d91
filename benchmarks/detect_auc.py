"""Can a run's models tell their own wrong answers from their right ones? Greedy evaluation
only shows the model's *decision* (it flags an answer when "a step is wrong" outscores "all
correct"), and a model that leans to "correct" never flags, however well it ranks. This reads a
run's stored evaluation outputs and, for each checkpoint, scores every seen first attempt that
parses with the log-probability the model gives to the feedback that calls it all correct
(``Feedback: Step (1) to step (k) are correct. The final response is also correct.``), teacher
forced, encoded as training encodes it. AUC: the chance that a wrong attempt gets a lower score
than a right one (0.5: the model cannot tell them apart; 1.0: a threshold would flag every wrong
answer and no right one). No decoding, no training::

    python benchmarks/detect_auc.py runs/dates_mix30 [--models sft,iter1,iter3]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from tripost.config import load_config
from tripost.loop import load_checkpoint, prompt_format
from tripost.rundir import RunDir
from tripost.tasks import get_task
from tripost.training import Sample, collate, encode_sample, weighted_sft_loss
from tripost.trajectory import Attempt, Feedback, FormatError, Trajectory, split_continuation


def auc(wrong: list[tuple[int, float]], right: list[tuple[int, float]], stratified: bool) -> float:
    """P(score of a wrong attempt < score of a right one), ties counted half; ``stratified``:
    over pairs of attempts with the same number of steps only (the all-correct feedback names
    the last step, so its text, and its score, vary with the length of the attempt, and longer
    attempts are wrong more often: without strata, length alone would rank them)."""
    pairs = [(w, r) for kw, w in wrong for kr, r in right if kw == kr or not stratified]
    if not pairs:
        return float("nan")
    return sum((w < r) + 0.5 * (w == r) for w, r in pairs) / len(pairs)


@torch.no_grad()
def says_correct_logprob(policy, fmt, question: str, attempt: Attempt, instruction: str) -> float:
    _, first, rest = Trajectory(
        question, (attempt,), (Feedback.ok(attempt),), instruction
    ).segments()
    sample = Sample(
        ((fmt.prompt(question, instruction), 0.0), (first, 0.0), (rest, 1.0)), eos=False
    )
    bos = policy.bos_ids() if fmt.add_bos else []
    encoded = encode_sample(sample, policy.tokenizer, 10**6, bos)
    inputs, attn, labels, weights = (t.to(policy.device) for t in collate([encoded], 0))
    logits = policy.model(input_ids=inputs, attention_mask=attn).logits
    # the training loss with weight 1 on the feedback and a divisor of 1: minus its log-prob
    return -float(weighted_sft_loss(logits, labels, weights, 1.0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--models", default="", help="comma-separated checkpoints (default: all)")
    args = ap.parse_args()
    cfg = load_config(args.run / "config.yaml", {})
    task = get_task(cfg.task, **cfg.task_options)
    rd = RunDir(args.run)
    stored = [p.stem for p in (args.run / "eval").glob("*.jsonl")]
    order = {"sft": 0, "sft_more": 2}  # sft, the iterations in order, then the controls
    names = (
        args.models.split(",")
        if args.models
        else sorted(stored, key=lambda n: (order.get(n, 1 if n.startswith("iter") else 3), n))
    )
    print(
        f"`{args.run}`, seen questions; score: log P(the all-correct feedback | own first attempt)"
    )
    print()
    print(
        "| model | attempts scored (wrong / right) | unparsed | AUC, same length "
        "| AUC, all pairs | median score wrong / right | flags at greedy |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in names:
        rows = [
            json.loads(x) for x in (args.run / "eval" / f"{name}.jsonl").read_text().splitlines()
        ]
        rows = [r for r in rows if r["seen"]]
        policy = load_checkpoint(rd, name, cfg)
        policy.model.eval()
        fmt = prompt_format(cfg, policy)
        wrong, right, unparsed = [], [], 0
        for r in rows:
            attempts, _ = split_continuation(r["output"], task.instruction, trim=True)
            try:
                att = Attempt.parse(attempts[0])
            except FormatError:
                unparsed += 1
                continue
            s = says_correct_logprob(policy, fmt, r["question"], att, task.instruction)
            (right if r["first_correct"] else wrong).append((len(att.steps), s))
        flags = sum(r["flagged"] for r in rows)
        med = lambda v: statistics.median(x for _, x in v) if v else float("nan")  # noqa: E731
        print(
            f"| {name} | {len(wrong)} / {len(right)} | {unparsed} | "
            f"{auc(wrong, right, True):.2f} | {auc(wrong, right, False):.2f} | "
            f"{med(wrong):.2f} / {med(right):.2f} | {flags} |"
        )


if __name__ == "__main__":
    main()
