"""TriPosT iterations and the baselines over a run directory (DESIGN.md §3), with stage-level
resume.

Stages, each skipped when the manifest says it finished (the methods are in ``methods.py``;
a run holds the ones its config names):
``data -> sft -> eval/sft -> [iter{t}/rollouts -> iter{t}/edit -> iter{t}/train_set ->
iter{t}/train -> eval/iter{t}] for t = 1..T -> the same for auto_iter{t} (tripost_auto) ->
sft_more/train -> eval/sft_more -> sft_si_demos/{demos,train} -> eval/sft_si_demos ->
lmsi/{samples,train_set,train} -> eval/lmsi -> report``.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml
from transformers.utils import logging as hf_logging

from tripost import lmsi
from tripost.config import ConfigError, RunConfig, dump_config
from tripost.editing import edit_rollouts
from tripost.evaluation import bucket_rows, outcome_json, result_rows, self_improve
from tripost.experts import build_feedback, build_improvement
from tripost.methods import MATCHED, Iteration
from tripost.policy.generation import generate
from tripost.policy.model import Policy, build_tiny_policy, load_policy
from tripost.postprocess import build_train_set
from tripost.report import write_report
from tripost.rundir import RunDir
from tripost.si_demos import build_si_demos
from tripost.tasks import Task, get_task, read_problems
from tripost.training import Sample, train_policy
from tripost.trajectory import Problem, render_prompt

log = logging.getLogger(__name__)


def run_tripost(cfg: RunConfig, out: str | Path) -> dict:
    """Run (or resume) the whole experiment in ``out``; returns the report dict."""
    hf_logging.disable_progress_bar()
    methods = cfg.run_methods()
    _check_matched(cfg, methods)
    rd = RunDir(out)
    _check_same_config(rd, cfg)
    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    task = get_task(cfg.task, **cfg.task_options)
    stage(rd, "data", lambda: make_data(rd, task, cfg))
    stage(rd, "sft", lambda: train_sft(rd, task, cfg))
    if "sft" in methods:
        stage(rd, "eval/sft", lambda: evaluate(rd, task, cfg, "sft", "sft", 0))
    for family in ("tripost", "tripost_auto"):
        if family in methods:
            for t in range(1, cfg.iterations + 1):
                run_iteration(rd, task, cfg, Iteration(family, t), methods)
    if "sft_more" in methods:
        steps = matched_steps(rd, cfg, methods)
        stage(rd, "sft_more/train", lambda: train_sft_more(rd, task, cfg, steps))
        stage(rd, "eval/sft_more", lambda: evaluate(rd, task, cfg, "sft_more", "sft_more", 0))
    if "sft_si_demos" in methods:
        stage(rd, "sft_si_demos/demos", lambda: si_demos_stage(rd, task, cfg))
        steps = matched_steps(rd, cfg, methods)
        stage(rd, "sft_si_demos/train", lambda: train_matched(rd, cfg, "sft_si_demos", steps, 11))
        stage(
            rd,
            "eval/sft_si_demos",
            lambda: evaluate(rd, task, cfg, "sft_si_demos", "sft_si_demos", 0),
        )
    if "lmsi" in methods:
        stage(rd, "lmsi/samples", lambda: lmsi_samples_stage(rd, task, cfg))
        stage(rd, "lmsi/train_set", lambda: lmsi_train_set_stage(rd, task, cfg))
        steps = matched_steps(rd, cfg, methods)
        stage(rd, "lmsi/train", lambda: train_matched(rd, cfg, "lmsi", steps, 13))
        stage(rd, "eval/lmsi", lambda: evaluate(rd, task, cfg, "lmsi", "lmsi", 0))
    # a run resumed with other methods rewrites its report
    again = rd.info("report").get("methods", methods) != methods
    stage(rd, "report", lambda: {**write_report(rd, cfg), "methods": methods}, force=again)
    return rd.read_json("report.json")


def run_iteration(
    rd: RunDir, task: Task, cfg: RunConfig, it: Iteration, methods: Sequence[str] = ()
) -> None:
    """One iteration: rollouts -> editing -> post-processing -> training -> evaluation.
    TriPosT-auto's first iteration edits the same rollouts of the same SFT model as TriPosT's:
    when the run holds both, it reads TriPosT's edits instead of making them again."""
    n = it.name
    edits = n
    if it.family == "tripost_auto" and it.t == 1 and "tripost" in methods:
        edits = Iteration("tripost", 1).name
    else:
        stage(rd, f"{n}/rollouts", lambda: sample_rollouts(rd, task, cfg, it))
        stage(rd, f"{n}/edit", lambda: edit_stage(rd, task, cfg, n))
    stage(rd, f"{n}/train_set", lambda: train_set_stage(rd, task, cfg, it, edits))
    stage(rd, f"{n}/train", lambda: train_stage(rd, cfg, it))
    stage(rd, f"eval/{n}", lambda: evaluate(rd, task, cfg, n, it.family, it.t))


def stage(rd: RunDir, name: str, fn, force: bool = False) -> None:
    if rd.done(name) and not force:
        log.info("[%s] already finished: skipping", name)
        return
    log.info("[%s] starting", name)
    t0 = time.time()
    info = fn() or {}
    info["seconds"] = round(time.time() - t0, 2)
    rd.mark(name, info)
    log.info("[%s] done in %.1fs %s", name, info["seconds"], _short(info))


def _short(info: dict) -> str:
    keep = {k: v for k, v in info.items() if isinstance(v, (int, float)) and k != "seconds"}
    return " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(keep.items())[:8]
    )


def _check_same_config(rd: RunDir, cfg: RunConfig) -> None:
    """The run directory's config must be this one, up to the methods it holds (a run gains
    methods when re-run with more) and fields added since it was written (their defaults)."""
    text = dump_config(cfg)
    p = rd.root / "config.yaml"
    if p.exists() and rd.manifest["stages"] and _settings(p.read_text()) != _settings(text):
        raise ConfigError(
            f"{p}: this run directory was started with another config; use a new --out "
            "directory (or delete it) to start over"
        )
    rd.write_text("config.yaml", text)


def _settings(text: str) -> object:
    """A config's fields without those that only choose methods; the text itself if it is not
    a valid config any more."""
    try:
        cfg = RunConfig.model_validate(yaml.safe_load(text))
    except Exception:
        return text
    return cfg.model_dump(mode="json", exclude={"methods", "sft_more"})


def _check_matched(cfg: RunConfig, methods: list[str]) -> None:
    """A compute-matched method needs the step count of the TriPosT iterations."""
    matched = [m for m in methods if m in MATCHED]
    if matched and "tripost" not in methods and cfg.train.steps is None:
        raise ConfigError(
            f"methods: {matched[0]} is compute-matched to tripost: add tripost to the methods "
            "or set train.steps (then it trains train.steps x iterations steps)"
        )


def matched_steps(rd: RunDir, cfg: RunConfig, methods: list[str]) -> int:
    """Optimizer steps of all TriPosT iterations (what a compute-matched method trains)."""
    if "tripost" in methods:
        names = [Iteration("tripost", t).name for t in range(1, cfg.iterations + 1)]
        return sum(rd.info(f"{n}/train").get("steps", 0) for n in names)
    return (cfg.train.steps or 0) * cfg.iterations


def training_window(train: list[Problem], n: int, t: int) -> list[Problem]:
    """The ``n`` training problems iteration ``t`` attempts (windows move round the set)."""
    n = min(n, len(train))
    start = ((t - 1) * n) % len(train)
    return (train[start:] + train[:start])[:n]


def tripost_problems(rd: RunDir, cfg: RunConfig) -> list[Problem]:
    """The training problems all TriPosT iterations attempt, each once, in order."""
    train = load_problems(rd, "train")
    seen: dict[str, Problem] = {}
    for t in range(1, cfg.iterations + 1):
        for p in training_window(train, cfg.rollout.problems, t):
            seen.setdefault(p.question, p)
    return list(seen.values())


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


def sample_rollouts(rd: RunDir, task: Task, cfg: RunConfig, it: Iteration) -> dict:
    """Attempts (and, after iteration 1, the policy's own feedback and updates) on a window of
    training problems, sampled at the rollout temperature."""
    t = it.t
    window = training_window(load_problems(rd, "train"), cfg.rollout.problems, t)
    policy = load_checkpoint(rd, it.prev)
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
        f"{it.name}/rollouts.jsonl",
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


def train_set_stage(
    rd: RunDir, task: Task, cfg: RunConfig, it: Iteration, edits: str | None = None
) -> dict:
    """Post-processing of the edits of iteration ``edits`` (default: ``it`` itself); TriPosT-auto
    keeps every sample (ratio null)."""
    from tripost.editing import EditRecord
    from tripost.trajectory import Trajectory

    records = []
    for row in rd.read_jsonl(f"{edits or it.name}/edits.jsonl"):
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
    rng = random.Random(cfg.seed + it.t)
    ratio = None if it.family == "tripost_auto" else cfg.postprocess.ratio
    items, stats = build_train_set(records, gold, ratio, rng)
    rd.write_jsonl(f"{it.name}/train.jsonl", (_item_json(i, cfg, task) for i in items))
    return stats


def _item_json(item, cfg: RunConfig, task: Task) -> dict:
    s = item.to_sample(cfg.loss, task.instruction)
    return {"kind": item.kind, "eos": s.eos, "segments": [list(x) for x in s.segments]}


def train_stage(rd: RunDir, cfg: RunConfig, it: Iteration) -> dict:
    samples = read_samples(rd, f"{it.name}/train.jsonl")
    policy = load_checkpoint(rd, it.prev)
    stats = train_policy(policy, samples, cfg.train, cfg.seed + it.t)
    save_checkpoint(rd, policy, it.name)
    return stats


def read_samples(rd: RunDir, rel: str) -> list[Sample]:
    """Weighted samples written by a train-set stage."""
    return [Sample(tuple((t, w) for t, w in d["segments"]), d["eos"]) for d in rd.read_jsonl(rel)]


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


# --- baselines (methods.py) --------------------------------------------------------------------


def train_matched(rd: RunDir, cfg: RunConfig, name: str, steps: int, seed_offset: int) -> dict:
    """SFT trained further on ``name/train.jsonl`` for ``steps`` optimizer steps with the TriPosT
    iterations' batch size and schedule (compute-matched); saved as checkpoint ``name``."""
    samples = read_samples(rd, f"{name}/train.jsonl")
    policy = load_checkpoint(rd, "sft")
    if not samples:  # e.g. no majority anywhere: the method is the SFT model, said so
        log.warning("%s: no training samples; its model is the SFT model", name)
        save_checkpoint(rd, policy, name)
        return {"steps": 0, "samples": 0}
    tcfg = cfg.train.model_copy(update={"steps": max(1, steps)})
    stats = train_policy(policy, samples, tcfg, cfg.seed + seed_offset)
    save_checkpoint(rd, policy, name)
    return stats


def si_demos_stage(rd: RunDir, task: Task, cfg: RunConfig) -> dict:
    """Expert-written self-improvement demonstrations on TriPosT's training problems,
    post-processed with TriPosT's weights and rebalancing (sft_si_demos)."""
    problems = tripost_problems(rd, cfg)
    llm = _llm_settings(rd, cfg)
    fbk = build_feedback(cfg.expert.feedback, task, llm)
    imp = build_improvement(cfg.expert.improvement, task, llm)
    rng = random.Random(cfg.seed + 101)
    demos, correct, stats = build_si_demos(task, problems, fbk, imp, cfg.expert.max_rounds, rng)
    rd.write_jsonl("sft_si_demos/demos.jsonl", (d.to_json(task.instruction) for d in demos))
    gold = [(r.problem.question, r.attempts[0]) for r in correct] if cfg.postprocess.gold else []
    items, counts = build_train_set(
        [d.record for d in demos] + correct, gold, cfg.postprocess.ratio, rng
    )
    rd.write_jsonl("sft_si_demos/train.jsonl", (_item_json(i, cfg, task) for i in items))
    return {
        **stats,
        **counts,
        "expert_feedback": fbk.stats.as_dict(),
        "expert_improvement": imp.stats.as_dict(),
    }


def lmsi_samples_stage(rd: RunDir, task: Task, cfg: RunConfig) -> dict:
    """k rationales per TriPosT training problem, sampled from the SFT model (lmsi)."""
    problems = tripost_problems(rd, cfg)
    k = cfg.lmsi.samples
    prompts = [render_prompt(p.question, task.instruction) for p in problems for _ in range(k)]
    outs = generate(
        load_checkpoint(rd, "sft"),
        prompts,
        cfg.rollout.max_new_tokens,
        cfg.lmsi.temperature,
        cfg.rollout.batch_size,
        cfg.rollout.bf16,
        seed=cfg.seed * 1000 + 997,
    )
    rd.write_jsonl(
        "lmsi/samples.jsonl",
        (
            {"problem": p.to_json(), "outputs": outs[i * k : (i + 1) * k]}
            for i, p in enumerate(problems)
        ),
    )
    return {"problems": len(problems), "samples": len(outs)}


def lmsi_train_set_stage(rd: RunDir, task: Task, cfg: RunConfig) -> dict:
    """Majority vote and filter (no gold label); the vote's accuracy is only reported."""
    rows, voted, right = [], 0, 0
    for d in rd.read_jsonl("lmsi/samples.jsonl"):
        problem = Problem.from_json(d["problem"])
        vote, kept = lmsi.select(task, d["outputs"])
        voted += vote is not None
        right += vote is not None and vote == problem.answer
        prompt = render_prompt(problem.question, task.instruction)
        rows += [
            {"kind": "lmsi", "eos": True, "segments": [[prompt, 0.0], [a.render(), 1.0]]}
            for a in kept
        ]
    rd.write_jsonl("lmsi/train.jsonl", rows)
    return {"voted": voted, "vote_correct": right, "kept_samples": len(rows)}
