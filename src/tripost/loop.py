"""TriPosT iterations and the baselines over a run directory (docs/design.md §4), with stage-level
resume.

Stages, each skipped when the manifest says it finished (the methods are in ``methods.py``;
a run holds the ones its config names):
``data -> sft -> eval/sft -> [iter{t}/rollouts -> iter{t}/edit -> iter{t}/train_set ->
iter{t}/train -> eval/iter{t}] for t = 1..T -> the same for auto_iter{t} (tripost_auto) ->
sft_more/train -> eval/sft_more -> sft_si_demos/{demos,train} -> eval/sft_si_demos ->
lmsi/{samples,train_set,train} -> eval/lmsi -> report``.

Under ``accelerate launch`` every process runs this loop (``processes.py`` says who does what):
rank 0 owns the run directory and runs the stages marked ``main`` alone (data, editing,
post-processing, expert demonstrations, the report); generation stages are sharded across the
processes and training is data-parallel; what is done is rank 0's view, broadcast at each stage.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
import yaml
from transformers import AutoTokenizer
from transformers.utils import logging as hf_logging

from tripost import lmsi, processes
from tripost.config import ConfigError, RunConfig, dump_config
from tripost.copying import mixed_copy_samples, train_copying
from tripost.editing import EditRecord, edit_rollouts
from tripost.evaluation import bucket_rows, outcome_json, result_rows, self_improve
from tripost.experts import build_feedback, build_improvement
from tripost.export import sample_from_json, sample_to_json
from tripost.hostspeed import describe, host_speed
from tripost.methods import MATCHED, Iteration
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
from tripost.postprocess import GOLD, TrainItem, build_train_set, gold_items
from tripost.progress import current_stage, log_summary
from tripost.report import write_report
from tripost.rundir import RunDir, RunDirError, open_run_dir
from tripost.si_demos import build_si_demos
from tripost.tasks import Task, get_task, read_problems
from tripost.tracking import logging_to
from tripost.training import LossWeights, Sample, train_policy
from tripost.trajectory import Problem, render_prompt

log = logging.getLogger(__name__)


def run_tripost(cfg: RunConfig, out: str | Path) -> dict:
    """Run (or resume) the whole experiment in ``out``; returns the report dict."""
    hf_logging.disable_progress_bar()
    preflight(cfg)  # a model, device or format that cannot work fails before anything is written
    task = get_task(cfg.task, **cfg.task_options)  # a bad task fails before anything is written
    methods = cfg.run_methods()
    _check_matched(cfg, methods)
    _check_processes(cfg)
    rd = open_run_dir(out)  # one writer per run directory: rank 0
    try:
        return _run_locked(rd, task, cfg, methods)
    finally:
        rd.release()


def record_host_speed(rd: RunDir, cfg: RunConfig) -> None:
    """Add this invocation's host speed (bf16 and float32 matmul GFLOP/s, a few seconds) to
    the manifest, so that the report puts the stage times next to the speed they ran at
    (rank 0's host under ``accelerate launch``)."""
    if not processes.is_main():
        return
    speed = host_speed(resolve_device(cfg.model.device))
    log.info("host speed: %s", describe(speed))
    # kept in memory until the next stage finishes: a run that fails first writes nothing
    rd.manifest.setdefault("host_speed", []).append(speed)


def _run_locked(rd: RunDir, task: Task, cfg: RunConfig, methods: list[str]) -> dict:
    processes.on_main(lambda: _check_same_config(rd, cfg))
    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    record_host_speed(rd, cfg)
    stage(rd, "data", lambda: make_data(rd, task, cfg), main=True)
    stage(rd, "sft", lambda: train_sft(rd, task, cfg))
    if "sft" in methods:
        eval_stage(rd, task, cfg, "sft", "sft", 0)
    for family in ("tripost", "tripost_auto"):
        if family in methods:
            for t in range(1, cfg.iterations + 1):
                run_iteration(rd, task, cfg, Iteration(family, t), methods)
    # a compute-matched method reads its step count inside its stage, from the manifest that
    # every rank has just been given
    steps = functools.partial(matched_steps, rd, cfg, methods)
    if "sft_more" in methods:
        stage(rd, "sft_more/train", lambda: train_sft_more(rd, task, cfg, steps()))
        eval_stage(rd, task, cfg, "sft_more", "sft_more", 0)
    if "sft_si_demos" in methods:
        stage(rd, "sft_si_demos/demos", lambda: si_demos_stage(rd, task, cfg), main=True)
        stage(rd, "sft_si_demos/train", lambda: train_matched(rd, cfg, "sft_si_demos", steps(), 11))
        eval_stage(rd, task, cfg, "sft_si_demos", "sft_si_demos", 0)
    if "lmsi" in methods:
        stage(rd, "lmsi/samples", lambda: lmsi_samples_stage(rd, task, cfg))
        stage(rd, "lmsi/train_set", lambda: lmsi_train_set_stage(rd, task, cfg), main=True)
        stage(rd, "lmsi/train", lambda: train_matched(rd, cfg, "lmsi", steps(), 13))
        eval_stage(rd, task, cfg, "lmsi", "lmsi", 0)
    # a run resumed with other methods rewrites its report
    again = rd.info("report").get("methods", methods) != methods
    report = lambda: {**write_report(rd, cfg), "methods": methods}  # noqa: E731
    stage(rd, "report", report, force=again, main=True)
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
        server = cfg.rollout.backend == "server"  # a server stage runs on rank 0 alone
        stage(rd, f"{n}/rollouts", lambda: sample_rollouts(rd, task, cfg, it), main=server)
        stage(rd, f"{n}/edit", lambda: edit_stage(rd, task, cfg, n), main=True)
    stage(rd, f"{n}/train_set", lambda: train_set_stage(rd, task, cfg, it, edits), main=True)
    stage(rd, f"{n}/train", lambda: train_stage(rd, cfg, it))
    eval_stage(rd, task, cfg, n, it.family, it.t)


def eval_stage(rd: RunDir, task: Task, cfg: RunConfig, ckpt: str, method: str, t: int) -> None:
    """Stage ``eval/<ckpt>``: sharded across the processes, or on rank 0 alone through a
    server."""
    fn = functools.partial(evaluate, rd, task, cfg, ckpt, method, t)
    stage(rd, f"eval/{ckpt}", fn, main=cfg.eval.backend == "server")


def stage(rd: RunDir, name: str, fn, force: bool = False, main: bool = False) -> None:
    """Run stage ``name`` unless the manifest says it finished. Every process runs ``fn``
    (sharded generation, data-parallel training; rank 0 writes), or with ``main`` rank 0 alone
    runs it while the others wait for its figures. Whether the stage is done is rank 0's view,
    given to every rank with its manifest."""
    todo, rd.manifest = processes.on_main(lambda: (_todo(rd, name, force), rd.manifest))
    if not todo:
        return
    log.info("[%s] starting", name)
    t0 = time.time()
    with current_stage(name), logging_to(rd.root if rd.writer else None, name):
        info = (processes.on_main(fn) if main else fn()) or {}
    if not main and torch.cuda.is_available() and torch.cuda.is_initialized():
        gc.collect()  # the stage's models are garbage: hand their GPU memory back, on every rank
        torch.cuda.empty_cache()
    info["seconds"] = round(time.time() - t0, 2)
    rd.mark(name, info)
    log_summary(log, name, info)


def _todo(rd: RunDir, name: str, force: bool) -> bool:
    """Whether stage ``name`` must run: not finished, forced, or an output of it is gone."""
    missing = rd.missing_outputs(name) or _missing_checkpoint(rd, name)
    if rd.done(name) and missing:
        log.warning("[%s] %s is gone: redoing the stage", name, ", ".join(missing))
        rd.forget(name)
    if rd.done(name) and not force:
        log.info("[%s] already finished: skipping", name)
        return False
    return True


def _check_processes(cfg: RunConfig) -> None:
    """Each process takes an equal share of an optimizer step's samples."""
    n = processes.world_size()
    for name, train in (("sft", cfg.sft), ("train", cfg.train)):
        if train.batch_size % n:
            raise ConfigError(
                f"{name}.batch_size: {train.batch_size} is not a multiple of the {n} processes "
                "(each process takes an equal share of an optimizer step's samples)"
            )


def _missing_checkpoint(rd: RunDir, name: str) -> list[str]:
    """The checkpoint a finished stage trained, when it was deleted (to redo the stage)."""
    ckpt = {"sft": "sft", "sft_more/train": "sft_more"}.get(name)
    if ckpt is None and name.startswith("iter") and name.endswith("/train"):
        ckpt = name.split("/")[0]
    if ckpt is None or not rd.done(name) or (rd.root / "checkpoints" / ckpt).exists():
        return []
    return [f"checkpoints/{ckpt}"]


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
    if not train:
        raise ConfigError(f"task {task.name!r} generated no training problems")
    if not evals:
        where = cfg.data.eval_file or "data.eval_seen / data.eval_unseen"
        raise ConfigError(f"{where}: no evaluation problems")
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
        model_dtype(cfg)  # an unreadable config fails here; the result is cached
    elif cfg.prompt.format == "chat":
        raise ConfigError(
            "prompt.format: chat needs model.path (the tiny model has no chat template)"
        )
    if m.path and cfg.prompt.format == "chat":
        PromptFormat(tok, cfg.prompt.format, cfg.prompt.system)


def checked_load(path: Path, load, *args, **kwargs):
    """``load(path, *args, **kwargs)``; a checkpoint that exists but cannot be read is a
    RunDirError that names it and says how to redo it."""
    try:
        return load(path, *args, **kwargs)
    except Exception as e:  # safetensors, json, torch: any reader of a damaged checkpoint
        if not Path(path).exists() or isinstance(e, (RunDirError, ModelLoadError)):
            raise
        msg = " ".join(str(e).split())[:160]
        raise RunDirError(
            f"{path}: cannot load the checkpoint ({type(e).__name__}: {msg}); delete {path} and "
            "re-run the same command to redo the stage that trained it"
        ) from None


@functools.lru_cache(maxsize=8)
def _decode_dtype(dtype: str, path: str | None, trust_remote_code: bool) -> torch.dtype:
    return resolve_dtype(dtype, path, trust_remote_code)


def model_dtype(cfg: RunConfig, train: bool = False) -> torch.dtype:
    """``model.dtype`` resolved against the base checkpoint (decoding, frozen LoRA bases), or
    ``model.train_dtype`` for the weights a full fine-tune trains."""
    m = cfg.model
    if train and not m.lora and m.train_dtype != "auto":
        return DTYPES[m.train_dtype]
    return _decode_dtype(m.dtype, m.path and local_or_hub(m.path), m.trust_remote_code)


def load_checkpoint(rd: RunDir, name: str, cfg: RunConfig, train: bool = False) -> Policy:
    """A stage's checkpoint on ``model.device``: in ``model.dtype`` for decoding, and in
    ``model.train_dtype`` (float32 master weights) for a full fine-tune. A LoRA checkpoint is
    an adapter over the recorded base; it loads trainable when ``train``."""
    m = cfg.model
    return checked_load(
        rd.root / "checkpoints" / name,
        load_policy,
        model_dtype(cfg, train),
        m.trust_remote_code,
        device=m.device,
        trainable=train,
    )


def prompt_format(cfg: RunConfig, policy: Policy) -> PromptFormat:
    return PromptFormat(policy.tokenizer, cfg.prompt.format, cfg.prompt.system)


def save_checkpoint(rd: RunDir, policy: Policy, name: str, cfg: RunConfig | None = None) -> None:
    """Write a checkpoint under a temporary name and rename it (nothing half-written is left
    when saving fails); rank 0 writes it (``RunDir.write_dir``)."""

    def fill(tmp: Path) -> None:
        policy.save(tmp)
        if cfg is not None:  # how to prompt it, for `tripost eval`
            info = {"prompt": cfg.prompt.model_dump()}
            (tmp / "tripost.json").write_text(json.dumps(info, indent=2) + "\n")

    rd.write_dir(f"checkpoints/{name}", fill)


def gold_samples(
    task: Task, problems: list[Problem], weights: LossWeights, feedback: float = 0.0
) -> list[Sample]:
    """SFT samples: prompt + gold rationale + EOS, weighted as the iterations weigh a prompt
    and a correct first attempt. The last ``feedback`` fraction of the problems' rationales
    end with the all-correct feedback, as the iterations' gold samples do (``data.sft_feedback``;
    the first ones are ``data.sft_si_demos``'s)."""
    first_judged = len(problems) - round(len(problems) * feedback)
    plain = [(p.question, g) for p in problems[:first_judged] if (g := task.solve(p)) is not None]
    judged = [(p.question, g) for p in problems[first_judged:] if (g := task.solve(p)) is not None]
    items = [TrainItem(GOLD, q, (g,), ()) for q, g in plain] + gold_items(judged)
    return [item.to_sample(weights, task.instruction) for item in items]


def expert_demo_samples(
    task: Task, problems: list[Problem], cfg: RunConfig, seed: int, ratio: float | None
) -> list[Sample]:
    """The scripted expert's self-improvement demonstrations on ``problems`` (injected error ->
    feedback -> fix) and its gold answers judged correct, rebalanced with ``ratio``, as
    training samples."""
    rng = random.Random(seed)
    fbk, imp = build_feedback("scripted", task), build_improvement("scripted", task)
    demos, correct, _ = build_si_demos(task, problems, fbk, imp, cfg.expert.max_rounds, rng)
    items, _ = build_train_set([d.record for d in demos] + correct, [], ratio, rng)
    return [item.to_sample(cfg.loss, task.instruction) for item in items]


def si_mix_samples(task: Task, problems: list[Problem], cfg: RunConfig) -> list[Sample]:
    """SFT samples of ``data.sft_si_demos``: the expert's demonstrations and correct answers
    (:func:`expert_demo_samples`) on the first such fraction of the training problems,
    rebalanced with TriPosT's ratio."""
    n = round(len(problems) * cfg.data.sft_si_demos)
    if n == 0:
        return []
    return expert_demo_samples(task, problems[:n], cfg, cfg.seed + 103, cfg.postprocess.ratio)


def format_texts(task: Task, problems: list[Problem], cfg: RunConfig, n: int = 200) -> list[str]:
    """The texts of the expert's demonstrations and correct answers on the first ``n``
    training problems: where a tiny model's tokenizer finds the feedback format's words
    (``model.tiny.feedback_words``)."""
    samples = expert_demo_samples(task, problems[:n], cfg, cfg.seed + 107, None)
    return [s.text for s in samples]


def train_sft(rd: RunDir, task: Task, cfg: RunConfig) -> dict:
    word_vocab = not cfg.model.path and cfg.model.tiny.tokenizer in ("word", "number")
    needed = cfg.sft.steps != 0 or word_vocab
    problems = load_problems(rd, "train") if needed else []
    samples = gold_samples(task, problems, cfg.loss, cfg.data.sft_feedback)
    samples += si_mix_samples(task, problems, cfg)
    m = cfg.model
    if m.path:
        dtype = model_dtype(cfg, train=True)
        torch.manual_seed(cfg.seed)  # new LoRA adapters start from the run's seed, on every rank
        policy = load_policy(m.path, dtype, m.trust_remote_code, m.lora, device=m.device)
    else:  # a ``word`` tokenizer takes its words from the training texts
        texts = [s.text for s in samples]
        if m.tiny.feedback_words:
            texts += format_texts(task, problems, cfg)
        policy = build_tiny_policy(cfg.model.tiny, seed=cfg.seed, texts=texts)
        policy.model.to(resolve_device(m.device))
    stats = {}
    if not m.path and m.tiny.copy_steps:
        copy = train_copying(policy, m.tiny.copy_steps, cfg.sft, cfg.seed, lr=m.tiny.copy_lr)
        stats = {f"copy_{k}": v for k, v in copy.items()}
    if not m.path and m.tiny.copy_mix and samples:
        extra = mixed_copy_samples(policy, len(samples), m.tiny.copy_mix, cfg.seed)
        stats["copy_mix_samples"] = len(extra)
        samples = samples + extra
    if cfg.sft.steps != 0:
        stats |= train_policy(policy, samples, cfg.sft, cfg.seed, prompt_format(cfg, policy))
    save_checkpoint(rd, policy, "sft", cfg)
    return stats


def train_sft_more(rd: RunDir, task: Task, cfg: RunConfig, steps: int) -> dict:
    """The compute-matched control: SFT trained further on gold rationales for as many
    optimizer steps (same batch size and schedule) as all TriPosT iterations together."""
    policy = load_checkpoint(rd, "sft", cfg, train=True)
    tcfg = cfg.train.model_copy(update={"steps": max(1, steps)})
    samples = gold_samples(task, load_problems(rd, "train"), cfg.loss, cfg.data.sft_feedback)
    stats = train_policy(policy, samples, tcfg, cfg.seed + 7, prompt_format(cfg, policy))
    save_checkpoint(rd, policy, "sft_more", cfg)
    return stats


# --- one iteration ----------------------------------------------------------------------------


def sample_rollouts(rd: RunDir, task: Task, cfg: RunConfig, it: Iteration) -> dict:
    """Attempts (and, after iteration 1, the policy's own feedback and updates) on a window of
    training problems, sampled at the rollout temperature."""
    t = it.t
    window = training_window(load_problems(rd, "train"), cfg.rollout.problems, t)
    info = {}
    if cfg.rollout.backend == "server":
        with serve(rd, cfg, it.prev, f"{it.name}/rollouts") as srv:
            prompts = [srv.fmt.prompt(p.question, task.instruction) for p in window]
            partial = rd.path(f"{it.name}/rollouts.partial.jsonl")
            outs = srv.generate(prompts, cfg.rollout.sampling(), cfg.seed * 1000 + t, partial)
            info["server"] = srv.stats
    else:
        policy = load_checkpoint(rd, it.prev, cfg)
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
        f"{it.name}/rollouts.jsonl",
        ({"problem": p.to_json(), "rollout": o} for p, o in zip(window, outs)),
    )
    rd.remove(f"{it.name}/rollouts.partial.jsonl")
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
        dtype=model_dtype(cfg),
        trust_remote_code=m.trust_remote_code,
    )


def _llm_settings(rd: RunDir, cfg: RunConfig):
    if "llm" not in (cfg.expert.feedback, cfg.expert.improvement):
        return None
    llm = cfg.expert.llm
    if llm.cache_dir is not None:
        return llm
    return llm.model_copy(update={"cache_dir": str(rd.root / "llm_cache")})


def edit_stage(rd: RunDir, task: Task, cfg: RunConfig, it: str) -> dict:
    rows = rd.read_jsonl(f"{it}/rollouts.jsonl")
    llm = _llm_settings(rd, cfg)
    fbk = build_feedback(cfg.expert.feedback, task, llm, cfg.expert.accept_right_answers)
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
    rows = rd.read_jsonl(f"{edits or it.name}/edits.jsonl")
    records = [EditRecord.from_json(row, task.instruction) for row in rows]
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
    return sample_to_json(item.to_sample(cfg.loss, task.instruction), item.kind)


def train_stage(rd: RunDir, cfg: RunConfig, it: Iteration) -> dict:
    samples = read_samples(rd, f"{it.name}/train.jsonl")
    policy = load_checkpoint(rd, it.prev, cfg, train=True)
    stats = train_policy(policy, samples, cfg.train, cfg.seed + it.t, prompt_format(cfg, policy))
    save_checkpoint(rd, policy, it.name, cfg)
    return stats


def read_samples(rd: RunDir, rel: str) -> list[Sample]:
    """Weighted samples written by a train-set stage."""
    return [sample_from_json(d) for d in rd.read_jsonl(rel)]


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
    rd.remove(f"eval/{ckpt}.partial.jsonl")
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
    policy = load_checkpoint(rd, "sft", cfg, train=True)
    if not samples:  # e.g. no majority anywhere: the method is the SFT model, said so
        log.warning("%s: no training samples; its model is the SFT model", name)
        save_checkpoint(rd, policy, name, cfg)
        return {"steps": 0, "samples": 0}
    tcfg = cfg.train.model_copy(update={"steps": max(1, steps)})
    fmt = prompt_format(cfg, policy)
    stats = train_policy(policy, samples, tcfg, cfg.seed + seed_offset, fmt)
    save_checkpoint(rd, policy, name, cfg)
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
    policy = load_checkpoint(rd, "sft", cfg)
    fmt = prompt_format(cfg, policy)
    prompts = [fmt.prompt(p.question, task.instruction) for p in problems for _ in range(k)]
    sampling = replace(cfg.rollout.sampling(), temperature=cfg.lmsi.temperature)
    outs = generate(
        policy,
        prompts,
        sampling,
        seed=cfg.seed * 1000 + 997,
        add_bos=fmt.add_bos,
        extra_stop_ids=fmt.stop_ids(),
    )
    del policy
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
        # a style that answers with an option's content votes on it: score by its letter
        right += vote is not None and task.extract_answer(kept[0], problem) == problem.answer
        prompt = render_prompt(problem.question, task.instruction)
        rows += [
            {"kind": "lmsi", "eos": True, "segments": [[prompt, 0.0], [a.render(), 1.0]]}
            for a in kept
        ]
    rd.write_jsonl("lmsi/train.jsonl", rows)
    return {"voted": voted, "vote_correct": right, "kept_samples": len(rows)}
