"""TriPosT iterations over a run directory (docs/design.md §4), with stage-level resume.

Stages, each skipped when the manifest says it finished:
``data -> sft -> eval/sft -> [iter{t}/rollouts -> iter{t}/edit -> iter{t}/train_set ->
iter{t}/train -> eval/iter{t}] for t = 1..T -> sft_more/train -> eval/sft_more -> report``.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from collections import Counter
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from tripost.config import ConfigError, RunConfig, dump_config
from tripost.editing import edit_rollouts
from tripost.evaluation import bucket_rows, outcome_json, result_rows, self_improve
from tripost.experts import build_feedback, build_improvement
from tripost.export import sample_from_json, sample_to_json
from tripost.policy.generation import generate
from tripost.policy.model import Policy, build_tiny_policy, load_policy
from tripost.postprocess import build_train_set
from tripost.progress import current_stage, log_summary
from tripost.report import write_report
from tripost.rundir import RunDir
from tripost.tasks import Task, get_task, read_problems
from tripost.tracking import logging_to
from tripost.training import Sample, train_policy
from tripost.trajectory import Problem, render_prompt

log = logging.getLogger(__name__)


def run_tripost(cfg: RunConfig, out: str | Path) -> dict:
    """Run (or resume) the whole experiment in ``out``; returns the report dict."""
    hf_logging.disable_progress_bar()
    rd = RunDir(out)
    _check_same_config(rd, cfg)
    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    task = get_task(cfg.task, **cfg.task_options)
    stage(rd, "data", lambda: make_data(rd, task, cfg))
    stage(rd, "sft", lambda: train_sft(rd, task, cfg))
    stage(rd, "eval/sft", lambda: evaluate(rd, task, cfg, "sft", "sft", 0))
    prev = "sft"
    for t in range(1, cfg.iterations + 1):
        run_iteration(rd, task, cfg, t, prev)
        prev = f"iter{t}"
    if cfg.sft_more:
        steps = sum(rd.info(f"iter{t}/train").get("steps", 0) for t in range(1, cfg.iterations + 1))
        stage(rd, "sft_more/train", lambda: train_sft_more(rd, task, cfg, steps))
        stage(rd, "eval/sft_more", lambda: evaluate(rd, task, cfg, "sft_more", "sft_more", 0))
    stage(rd, "report", lambda: write_report(rd, cfg))
    return rd.read_json("report.json")


def run_iteration(rd: RunDir, task: Task, cfg: RunConfig, t: int, prev: str) -> None:
    """One TriPosT iteration: rollouts -> editing -> post-processing -> training -> evaluation."""
    it = f"iter{t}"
    stage(rd, f"{it}/rollouts", lambda: sample_rollouts(rd, task, cfg, t, prev))
    stage(rd, f"{it}/edit", lambda: edit_stage(rd, task, cfg, it))
    stage(rd, f"{it}/train_set", lambda: train_set_stage(rd, task, cfg, it))
    stage(rd, f"{it}/train", lambda: train_stage(rd, cfg, it, prev))
    stage(rd, f"eval/{it}", lambda: evaluate(rd, task, cfg, it, "tripost", t))


def stage(rd: RunDir, name: str, fn) -> None:
    if rd.done(name):
        log.info("[%s] already finished: skipping", name)
        return
    log.info("[%s] starting", name)
    t0 = time.time()
    with current_stage(name), logging_to(rd.root, name):
        info = fn() or {}
    info["seconds"] = round(time.time() - t0, 2)
    rd.mark(name, info)
    log_summary(log, name, info)


def _check_same_config(rd: RunDir, cfg: RunConfig) -> None:
    text = dump_config(cfg)
    p = rd.root / "config.yaml"
    if p.exists() and rd.manifest["stages"] and p.read_text() != text:
        raise ConfigError(
            f"{p}: this run directory was started with another config; use a new --out "
            "directory (or delete it) to start over"
        )
    rd.write_text("config.yaml", text)


# --- data -------------------------------------------------------------------------------------


def make_data(rd: RunDir, task: Task, cfg: RunConfig) -> dict:
    """Generated training problems (seen buckets) and disjoint held-out eval problems."""
    rng = random.Random(cfg.seed)
    seen_q: set[str] = set()

    def draw(split: str, n: int) -> list[Problem]:
        out: list[Problem] = []
        for _ in range(50 * n + 100):
            if len(out) == n:
                break
            p = task.generate(rng, split)
            if p.question not in seen_q:
                seen_q.add(p.question)
                out.append(p)
        return out

    if cfg.data.eval_file:
        parsed = read_problems(task, cfg.data.eval_file)
        evals = [p for p in parsed if p is not None]
        seen_q.update(p.question for p in evals)
        unparsed = len(parsed) - len(evals)
    else:
        evals = draw("seen", cfg.data.eval_seen) + draw("unseen", cfg.data.eval_unseen)
        unparsed = 0
    train = draw("seen", cfg.data.train_problems)
    rd.write_jsonl("data/train.jsonl", (p.to_json() for p in train))
    rd.write_jsonl("data/eval.jsonl", (p.to_json() for p in evals))
    return {"train": len(train), "eval": len(evals), "eval_unparsed": unparsed}


def load_problems(rd: RunDir, name: str) -> list[Problem]:
    return [Problem.from_json(d) for d in rd.read_jsonl(f"data/{name}.jsonl")]


# --- models -----------------------------------------------------------------------------------


def load_checkpoint(rd: RunDir, name: str) -> Policy:
    return load_policy(rd.root / "checkpoints" / name)


def save_checkpoint(rd: RunDir, policy: Policy, name: str) -> None:
    final = rd.root / "checkpoints" / name
    tmp = final.with_name(name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    policy.save(tmp)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def gold_samples(task: Task, problems: list[Problem]) -> list[Sample]:
    """SFT samples: prompt (weight 0) + gold rationale (weight 1) + EOS."""
    out = []
    for p in problems:
        gold = task.solve(p)
        if gold is not None:
            out.append(
                Sample(((render_prompt(p.question, task.instruction), 0.0), (gold.render(), 1.0)))
            )
    return out


def train_sft(rd: RunDir, task: Task, cfg: RunConfig) -> dict:
    word_vocab = not cfg.model.path and cfg.model.tiny.tokenizer == "word"
    needed = cfg.sft.steps != 0 or word_vocab
    samples = gold_samples(task, load_problems(rd, "train")) if needed else []
    if cfg.model.path:
        policy = load_policy(
            cfg.model.path, cfg.model.dtype, cfg.model.trust_remote_code, cfg.model.lora
        )
    else:  # a ``word`` tokenizer takes its words from the training texts
        texts = (s.text for s in samples)
        policy = build_tiny_policy(cfg.model.tiny, seed=cfg.seed, texts=texts)
    stats = {}
    if cfg.sft.steps != 0:
        stats = train_policy(policy, samples, cfg.sft, cfg.seed)
    save_checkpoint(rd, policy, "sft")
    return stats


def train_sft_more(rd: RunDir, task: Task, cfg: RunConfig, steps: int) -> dict:
    """The compute-matched control: SFT trained further on gold rationales for as many
    optimizer steps (same batch size and schedule) as all TriPosT iterations together."""
    policy = load_checkpoint(rd, "sft")
    tcfg = cfg.train.model_copy(update={"steps": max(1, steps)})
    stats = train_policy(policy, gold_samples(task, load_problems(rd, "train")), tcfg, cfg.seed + 7)
    save_checkpoint(rd, policy, "sft_more")
    return stats


# --- one iteration ----------------------------------------------------------------------------


def sample_rollouts(rd: RunDir, task: Task, cfg: RunConfig, t: int, prev: str) -> dict:
    """Attempts (and, after iteration 1, the policy's own feedback and updates) on a window of
    training problems, sampled at the rollout temperature."""
    train = load_problems(rd, "train")
    n = min(cfg.rollout.problems, len(train))
    start = ((t - 1) * n) % len(train)
    window = (train[start:] + train[:start])[:n]
    policy = load_checkpoint(rd, prev)
    prompts = [render_prompt(p.question, task.instruction) for p in window]
    outs = generate(
        policy,
        prompts,
        cfg.rollout.max_new_tokens,
        cfg.rollout.temperature,
        cfg.rollout.batch_size,
        cfg.rollout.bf16,
        seed=cfg.seed * 1000 + t,
    )
    rd.write_jsonl(
        f"iter{t}/rollouts.jsonl",
        ({"problem": p.to_json(), "rollout": o} for p, o in zip(window, outs)),
    )
    return {"rollouts": len(outs), "tokens": sum(len(o) for o in outs)}


def _llm_settings(rd: RunDir, cfg: RunConfig):
    if "llm" not in (cfg.expert.feedback, cfg.expert.improvement):
        return None
    from tripost.experts.llm import LLMConfig

    settings = {"cache_dir": str(rd.root / "llm_cache"), **cfg.expert.llm}
    return LLMConfig(**settings)


def edit_stage(rd: RunDir, task: Task, cfg: RunConfig, it: str) -> dict:
    rows = rd.read_jsonl(f"{it}/rollouts.jsonl")
    llm = _llm_settings(rd, cfg)
    fbk = build_feedback(cfg.expert.feedback, task, llm)
    imp = build_improvement(cfg.expert.improvement, task, llm)
    records = edit_rollouts(
        [Problem.from_json(r["problem"]) for r in rows],
        [r["rollout"] for r in rows],
        fbk,
        imp,
        cfg.expert.max_rounds,
        task.instruction,
    )
    rd.write_jsonl(f"{it}/edits.jsonl", (r.to_json(task.instruction) for r in records))
    kinds = Counter(r.kind for r in records)
    reasons = Counter(_reason_key(r.drop_reason) for r in records if r.kind == "dropped")
    return {
        **{f"n_{k}": v for k, v in kinds.items()},
        "drop_reasons": dict(reasons),
        "expert_feedback": fbk.stats.as_dict(),
        "expert_improvement": imp.stats.as_dict(),
    }


def _reason_key(reason: str | None) -> str:
    """Group drop reasons: drop the variable detail in parentheses."""
    return (reason or "unknown").split(" (")[0].split(":")[0]


def train_set_stage(rd: RunDir, task: Task, cfg: RunConfig, it: str) -> dict:
    from tripost.editing import EditRecord
    from tripost.trajectory import Trajectory

    records = []
    for row in rd.read_jsonl(f"{it}/edits.jsonl"):
        rec = EditRecord(Problem.from_json(row["problem"]), row["rollout"], row["kind"])
        if row["trajectory"]:
            traj = Trajectory.parse(row["trajectory"], task.instruction)
            rec.attempts, rec.feedbacks = list(traj.attempts), list(traj.feedbacks)
        records.append(rec)
    gold = []
    if cfg.postprocess.gold:
        for rec in records:
            g = task.solve(rec.problem)
            if g is not None:
                gold.append((rec.problem.question, g))
    rng = random.Random(cfg.seed + int(it[4:]))
    items, stats = build_train_set(records, gold, cfg.postprocess.ratio, rng)
    rd.write_jsonl(f"{it}/train.jsonl", (_item_json(i, cfg, task) for i in items))
    return stats


def _item_json(item, cfg: RunConfig, task: Task) -> dict:
    return sample_to_json(item.to_sample(cfg.loss, task.instruction), item.kind)


def train_stage(rd: RunDir, cfg: RunConfig, it: str, prev: str) -> dict:
    items = rd.read_jsonl(f"{it}/train.jsonl")
    samples = [sample_from_json(d) for d in items]
    policy = load_checkpoint(rd, prev)
    stats = train_policy(policy, samples, cfg.train, cfg.seed + int(it[4:]))
    save_checkpoint(rd, policy, it)
    return stats


def evaluate(
    rd: RunDir, task: Task, cfg: RunConfig, ckpt: str, method: str, iteration: int
) -> dict:
    policy = load_checkpoint(rd, ckpt)
    outcomes = self_improve(policy, task, load_problems(rd, "eval"), cfg.eval)
    rd.write_jsonl(f"eval/{ckpt}.jsonl", (outcome_json(o) for o in outcomes))
    rows = result_rows(method, iteration, outcomes)
    rd.write_json(
        f"eval/{ckpt}.metrics.json",
        {"results": rows, "buckets": bucket_rows(method, iteration, outcomes)},
    )
    return {r["split"] + "_accuracy": r["accuracy"] for r in rows}
