"""TriPosT iterations over a run directory (DESIGN.md §3), with stage-level resume.

Stages, each skipped when the manifest says it finished:
``data -> sft -> eval/sft -> [iter{t}/rollouts -> iter{t}/edit -> iter{t}/train_set ->
iter{t}/train -> eval/iter{t}] for t = 1..T -> sft_more/train -> eval/sft_more -> report``.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import shutil
import time
from collections import Counter
from pathlib import Path

import torch
from transformers import AutoTokenizer
from transformers.utils import logging as hf_logging

from tripost.config import ConfigError, RunConfig, dump_config
from tripost.editing import edit_rollouts
from tripost.evaluation import bucket_rows, outcome_json, result_rows, self_improve
from tripost.experts import build_feedback, build_improvement
from tripost.policy.generation import generate
from tripost.policy.model import (
    DTYPES,
    ModelLoadError,
    Policy,
    build_tiny_policy,
    check_tokenizer,
    load_policy,
    local_or_hub,
    lora_config,
    resolve_device,
    resolve_dtype,
)
from tripost.policy.prompting import PromptFormat
from tripost.postprocess import build_train_set
from tripost.report import write_report
from tripost.rundir import RunDir
from tripost.tasks import Task, get_task, read_problems
from tripost.training import Sample, train_policy
from tripost.trajectory import Problem, render_prompt

log = logging.getLogger(__name__)


def run_tripost(cfg: RunConfig, out: str | Path) -> dict:
    """Run (or resume) the whole experiment in ``out``; returns the report dict."""
    hf_logging.disable_progress_bar()
    preflight(cfg)  # a model, device or format that cannot work fails before anything is written
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


def preflight(cfg: RunConfig) -> None:
    """Check what can be checked cheaply before any work: the device, the model path, the
    tokenizer's EOS, the LoRA settings and the prompt format (one-line errors)."""
    m = cfg.model
    resolve_device(m.device)
    if "server" in (cfg.rollout.backend, cfg.eval.backend):
        from tripost.policy.server import check_command

        check_command(cfg.server.command)
    if m.lora:
        lora_config(m.lora)
    if m.path:
        path = local_or_hub(m.path)
        try:
            tok = AutoTokenizer.from_pretrained(path, trust_remote_code=m.trust_remote_code)
        except (OSError, ValueError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelLoadError(
                f"model.path: {m.path}: cannot load its tokenizer ({first})"
            ) from None
        check_tokenizer(tok, m.path)
        resolve_dtype(m.dtype, path, m.trust_remote_code)
    elif cfg.prompt.format == "chat":
        raise ConfigError(
            "prompt.format: chat needs model.path (the tiny model has no chat template)"
        )
    if m.path and cfg.prompt.format == "chat":
        PromptFormat(tok, cfg.prompt.format, cfg.prompt.system)


@functools.lru_cache(maxsize=8)
def _decode_dtype(dtype: str, path: str | None, trust_remote_code: bool) -> torch.dtype:
    return resolve_dtype(dtype, path, trust_remote_code)


def load_checkpoint(rd: RunDir, name: str, cfg: RunConfig, train: bool = False) -> Policy:
    """A stage's checkpoint on ``model.device``: in ``model.dtype`` for decoding, and in
    ``model.train_dtype`` (float32 master weights) for a full fine-tune. A LoRA checkpoint is
    an adapter over the recorded base; it loads trainable when ``train``."""
    m = cfg.model
    dtype = _decode_dtype(m.dtype, m.path and local_or_hub(m.path), m.trust_remote_code)
    if train and not m.lora and m.train_dtype != "auto":
        dtype = DTYPES[m.train_dtype]
    return load_policy(
        rd.root / "checkpoints" / name,
        dtype,
        m.trust_remote_code,
        device=m.device,
        trainable=train,
    )


def prompt_format(cfg: RunConfig, policy: Policy) -> PromptFormat:
    return PromptFormat(policy.tokenizer, cfg.prompt.format, cfg.prompt.system)


def save_checkpoint(rd: RunDir, policy: Policy, name: str, cfg: RunConfig | None = None) -> None:
    final = rd.root / "checkpoints" / name
    tmp = final.with_name(name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    policy.save(tmp)
    if cfg is not None:  # how to prompt it, for `tripost eval`
        info = {"prompt": cfg.prompt.model_dump()}
        (tmp / "tripost.json").write_text(json.dumps(info, indent=2) + "\n")
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
    m = cfg.model
    if m.path:
        dtype = _decode_dtype(m.dtype, local_or_hub(m.path), m.trust_remote_code)
        if not m.lora and m.train_dtype != "auto":
            dtype = DTYPES[m.train_dtype]
        policy = load_policy(m.path, dtype, m.trust_remote_code, m.lora, device=m.device)
    else:  # a ``word`` tokenizer takes its words from the training texts
        texts = (s.text for s in samples)
        policy = build_tiny_policy(cfg.model.tiny, seed=cfg.seed, texts=texts)
        policy.model.to(resolve_device(m.device))
    stats = {}
    if cfg.sft.steps != 0:
        stats = train_policy(policy, samples, cfg.sft, cfg.seed, prompt_format(cfg, policy))
    save_checkpoint(rd, policy, "sft", cfg)
    return stats


def train_sft_more(rd: RunDir, task: Task, cfg: RunConfig, steps: int) -> dict:
    """The compute-matched control: SFT trained further on gold rationales for as many
    optimizer steps (same batch size and schedule) as all TriPosT iterations together."""
    policy = load_checkpoint(rd, "sft", cfg, train=True)
    tcfg = cfg.train.model_copy(update={"steps": max(1, steps)})
    samples = gold_samples(task, load_problems(rd, "train"))
    stats = train_policy(policy, samples, tcfg, cfg.seed + 7, prompt_format(cfg, policy))
    save_checkpoint(rd, policy, "sft_more", cfg)
    return stats


# --- one iteration ----------------------------------------------------------------------------


def sample_rollouts(rd: RunDir, task: Task, cfg: RunConfig, t: int, prev: str) -> dict:
    """Attempts (and, after iteration 1, the policy's own feedback and updates) on a window of
    training problems, sampled at the rollout temperature."""
    train = load_problems(rd, "train")
    n = min(cfg.rollout.problems, len(train))
    start = ((t - 1) * n) % len(train)
    window = (train[start:] + train[:start])[:n]
    info = {}
    if cfg.rollout.backend == "server":
        with serve(rd, cfg, prev, f"iter{t}/rollouts") as srv:
            prompts = [srv.fmt.prompt(p.question, task.instruction) for p in window]
            partial = rd.path(f"iter{t}/rollouts.partial.jsonl")
            outs = srv.generate(prompts, cfg.rollout.sampling(), cfg.seed * 1000 + t, partial)
            info["server"] = srv.stats
    else:
        policy = load_checkpoint(rd, prev, cfg)
        fmt = prompt_format(cfg, policy)
        prompts = [fmt.prompt(p.question, task.instruction) for p in window]
        outs = generate(
            policy,
            prompts,
            cfg.rollout.sampling(),
            seed=cfg.seed * 1000 + t,
            add_bos=fmt.add_bos,
            extra_stop_ids=fmt.stop_ids(),
        )
        del policy
    rd.write_jsonl(
        f"iter{t}/rollouts.jsonl",
        ({"problem": p.to_json(), "rollout": o} for p, o in zip(window, outs)),
    )
    rd.path(f"iter{t}/rollouts.partial.jsonl").unlink(missing_ok=True)
    return {"rollouts": len(outs), "tokens": sum(len(o) for o in outs), **info}


def serve(rd: RunDir, cfg: RunConfig, ckpt: str, stage_name: str):
    """The ``server`` backend: ``ckpt`` behind an inference server for a ``with`` block."""
    from tripost.policy.server import serve_checkpoint

    m = cfg.model
    return serve_checkpoint(
        rd.root / "checkpoints" / ckpt,
        cfg.server,
        cfg.prompt.format,
        cfg.prompt.system,
        rd.root / "server",
        stage_name,
        dtype=_decode_dtype(m.dtype, m.path and local_or_hub(m.path), m.trust_remote_code),
        trust_remote_code=m.trust_remote_code,
    )


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
    s = item.to_sample(cfg.loss, task.instruction)
    return {"kind": item.kind, "eos": s.eos, "segments": [list(x) for x in s.segments]}


def train_stage(rd: RunDir, cfg: RunConfig, it: str, prev: str) -> dict:
    items = rd.read_jsonl(f"{it}/train.jsonl")
    samples = [Sample(tuple((t, w) for t, w in d["segments"]), d["eos"]) for d in items]
    policy = load_checkpoint(rd, prev, cfg, train=True)
    stats = train_policy(
        policy, samples, cfg.train, cfg.seed + int(it[4:]), prompt_format(cfg, policy)
    )
    save_checkpoint(rd, policy, it, cfg)
    return stats


def evaluate(
    rd: RunDir, task: Task, cfg: RunConfig, ckpt: str, method: str, iteration: int
) -> dict:
    problems = load_problems(rd, "eval")
    if cfg.eval.backend == "server":
        from tripost.evaluation import score_output

        with serve(rd, cfg, ckpt, f"eval/{ckpt}") as srv:
            prompts = [srv.fmt.prompt(p.question, task.instruction) for p in problems]
            partial = rd.path(f"eval/{ckpt}.partial.jsonl")
            outs = srv.generate(prompts, cfg.eval.sampling(), None, partial)
        outcomes = [score_output(task, p, o, cfg.eval.rounds) for p, o in zip(problems, outs)]
    else:
        policy = load_checkpoint(rd, ckpt, cfg)
        fmt = prompt_format(cfg, policy)
        outcomes = self_improve(policy, task, problems, cfg.eval, fmt)
        del policy
    rd.write_jsonl(f"eval/{ckpt}.jsonl", (outcome_json(o) for o in outcomes))
    rd.path(f"eval/{ckpt}.partial.jsonl").unlink(missing_ok=True)
    rows = result_rows(method, iteration, outcomes)
    rd.write_json(
        f"eval/{ckpt}.metrics.json",
        {"results": rows, "buckets": bucket_rows(method, iteration, outcomes)},
    )
    return {r["split"] + "_accuracy": r["accuracy"] for r in rows}
