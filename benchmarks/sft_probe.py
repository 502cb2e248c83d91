"""SFT of the tiny model on gold arithmetic rationales, then: greedy accuracy on held-out seen
problems and the per-character NLL of digits vs other characters (does it copy / compute digits,
or only the format?).

    python benchmarks/sft_probe.py --lr 1e-3 --steps 600 --batch 8
    python benchmarks/sft_probe.py --lr 1.5e-3 --steps 150 --batch 32 --fp32
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import re
from collections import Counter, defaultdict

import torch

from tripost.evaluation import EvalConfig, metrics, self_improve
from tripost.hostspeed import describe, host_speed
from tripost.loop import gold_samples
from tripost.policy.model import TinyModelConfig, build_tiny_policy, init_number_embeddings
from tripost.tasks import get_task
from tripost.tasks.arithmetic.model import (
    ExprError,
    parse_expr,
    reduce_step,
    reduction_order,
    render_flat,
    tokenize,
)
from tripost.tasks.arithmetic.task import STYLES
from tripost.tasks.base import check_text
from tripost.training import LossWeights, Sample, TrainConfig, train_policy
from tripost.trajectory import FINAL, render_prompt


def digit_nll(policy, task, n: int = 20) -> dict[str, float]:
    """Mean NLL of the tokens of gold rationales that hold digits and of the others (with
    character tokens, chance for a digit is ln 10 = 2.30)."""
    rng, agg = random.Random(5), defaultdict(list)
    tok = policy.tokenizer
    for _ in range(n):
        p = task.generate(rng, "seen")
        prompt, gold = render_prompt(p.question), task.solve(p).render()
        n_prompt = len(tok.encode(prompt, add_special_tokens=False))
        ids = tok.encode(prompt + gold, add_special_tokens=False)
        with torch.no_grad():
            logits = policy.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
        nll = -torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
        for k in range(n_prompt, len(ids)):
            text = tok.convert_ids_to_tokens(ids[k])
            agg["digit" if any(c.isdigit() for c in text) else "other"].append(nll[k - 1].item())
    return {k: sum(v) / len(v) for k, v in agg.items()}


def error_kind(task, problem, text: str) -> str:
    """What the scripted checker finds first in an attempt, in a few classes: ``right``,
    ``format``, ``group copy`` (a group miscopied from the question), ``link: compute`` (a
    chain link whose only wrong number is the result of the reduced operation), ``link: copy``
    (any other wrong link: a number or operator of the rest of the expression miscopied),
    ``substitution`` (a value miscopied into the final equation), ``final`` (the answer line)."""
    fb = check_text(task, problem, text.split("\nFeedback:")[0])
    if fb.correct:
        return "right"
    r = fb.reason
    if "according to step (1)" in r or "in the question" in r or "has the form" in r:
        return "group copy"
    if "according to step" in r:
        return "substitution"
    if fb.error_step == FINAL:
        return "final"
    if "the next operation of" in r:  # ops style: not the operation that comes next
        return "op: wrong operands"
    if re.fullmatch(r".+ is -?\d+", r):  # ops style: the right operation, a wrong result
        return "op: compute"
    m = re.fullmatch(r"(.+) is not equal to (.+)", r)
    try:
        x, y = parse_expr(m[1]), tokenize(m[2])
    except (ExprError, TypeError):
        return "format"
    order = reduction_order(x)
    if not order:
        return "format"
    want = tokenize(render_flat(reduce_step(x, order[0])))
    if len(want) != len(y):
        return "link: copy"
    diff = [i for i, (a, b) in enumerate(zip(want, y, strict=True)) if a != b]
    new = {i for i, t in enumerate(want) if t not in tokenize(m[1])}
    return "link: compute" if diff and set(diff) <= new else "link: copy"


def fourier_numbers(policy, share: float = 0.5) -> None:
    """Initialise the first ``share`` of each integer token's embedding with cos / sin of its
    value at geometric periods 2 .. 2000, scaled to the embedding's init std."""
    emb = policy.model.get_input_embeddings().weight
    d = int(emb.shape[1] * share) // 2
    periods = torch.logspace(math.log10(2), math.log10(2000), d)
    std = emb.std().item()
    with torch.no_grad():
        for t, i in policy.tokenizer.get_vocab().items():
            if re.fullmatch(r"-?\d+", t):
                ang = 2 * math.pi * int(t) / periods
                emb[i, : 2 * d] = torch.cat([ang.cos(), ang.sin()]) * std


OP_RE = re.compile(r"(-?\d+) ([+*-]) (-?\d+) = (-?\d+)")


def drill_samples(task, n: int, per: int = 16, seed: int = 3) -> list[Sample]:
    """``n`` drill samples of ``per`` operations each (``21 - -17 = 38``, one per line, loss on
    the results only), drawn from the operations of gold ops-style rationales of random seen
    problems whose operands are not both single digits."""
    rng, pool = random.Random(seed), []
    while len(pool) < n * per:
        p = task.generate(rng, "seen")
        pool += [
            m
            for m in OP_RE.findall(task.solve(p).render())
            if max(map(len, (m[0].lstrip("-"), m[2].lstrip("-")))) > 1
        ]
    rng.shuffle(pool)
    out = []
    for k in range(n):
        segs = [("Drill:\n", 0.0)]
        for a, op, b, c in pool[k * per : (k + 1) * per]:
            segs += [(f"{a} {op} {b} = ", 0.0), (f"{c}\n", 1.0)]
        out.append(Sample(tuple(segs)))
    return out


def copy_check(steps: int = 100) -> float:
    """Sanity check of model + training loop: learn to copy a random 12-digit string."""
    rng = random.Random(0)

    def sample() -> Sample:
        digits = "".join(rng.choice("0123456789") for _ in range(12))
        return Sample(((f"copy {digits} = ", 0.0), (digits + ".", 1.0)))

    policy = build_tiny_policy(TinyModelConfig())
    cfg = TrainConfig(steps=steps, batch_size=32, micro_batch_size=32, lr=1e-3, log_every=50)
    return train_policy(policy, [sample() for _ in range(4000)], cfg)["final_loss"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--fp32", action="store_true")
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--copy-check", action="store_true", help="only the 12-digit copy check")
    ap.add_argument("--style", default="paper", choices=STYLES)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--tokenizer", default="char", choices=["char", "word", "number"])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=700)
    ap.add_argument("--save", help="save the trained model here")
    ap.add_argument("--seed", type=int, default=0, help="model init and batch order")
    ap.add_argument("--length-groups", type=int, default=0, help="TrainConfig.length_groups")
    ap.add_argument("--fourier", action="store_true", help="number embeddings from their values")
    ap.add_argument(
        "--drills", type=float, default=0.0, help="share of SFT samples that are drills"
    )
    ap.add_argument("--number-init", default="digits", choices=["digits", "random"])
    ap.add_argument(
        "--number-keep", type=float, help="digits init keeping this share of the random init"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.copy_check:
        print(f"copy check: loss after 100 steps {copy_check():.4f}")
        return
    speed = describe(host_speed())
    print(f"host: {speed}")
    task = get_task("multistep_arithmetic", style=args.style)
    rng = random.Random(0)
    samples = gold_samples(task, [task.generate(rng, "seen") for _ in range(20000)], LossWeights())
    shape = {"hidden_size": args.hidden, "num_layers": args.layers, "num_heads": args.hidden // 32}
    tiny = TinyModelConfig(
        **shape,
        intermediate_size=args.hidden * 86 // 32,
        tokenizer=args.tokenizer,
        number_init=args.number_init,
    )
    policy = build_tiny_policy(tiny, seed=args.seed, texts=[s.text for s in samples])
    if args.drills:
        samples += drill_samples(task, int(len(samples) * args.drills / (1 - args.drills)))
    if args.fourier:
        fourier_numbers(policy)
    if args.number_keep is not None:
        init_number_embeddings(policy.model, policy.tokenizer, args.number_keep)
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        micro_batch_size=min(16, args.batch),
        lr=args.lr,
        bf16=not args.fp32,
        log_every=50,
        length_groups=args.length_groups,
    )
    stats = train_policy(policy, samples, cfg, seed=args.seed)
    eval_rng = random.Random(99)
    evals = [task.generate(eval_rng, "seen") for _ in range(args.eval_n)]
    outcomes = self_improve(policy, task, evals, EvalConfig(max_new_tokens=args.max_new_tokens))
    acc = metrics(outcomes)["accuracy"]
    kinds = Counter(error_kind(task, p, o.output) for p, o in zip(evals, outcomes, strict=True))
    print("first error of each greedy answer:", dict(kinds.most_common()))
    if args.save:
        policy.save(args.save)
    nll = digit_nll(policy, task)
    print(
        f"[{speed}; after: {describe(host_speed())}] "
        f"{args.style} style, seed {args.seed}, {args.tokenizer} tokens ({args.number_init} numbers), d={args.hidden} x {args.layers} layers, "
        f"steps {args.steps} x batch {args.batch}, length groups {args.length_groups}, lr {args.lr}, {'fp32' if args.fp32 else 'bf16'}: "
        f"{stats['tokens']} tokens in {stats['seconds']:.0f}s, final loss {stats['final_loss']:.3f}, "
        f"seen accuracy {acc:.1%}, NLL digits {nll['digit']:.2f} other {nll['other']:.2f}"
    )


if __name__ == "__main__":
    main()
