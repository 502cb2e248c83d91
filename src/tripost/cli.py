"""The ``tripost`` command: argument parsing and wiring; the work is done in the library.

tripost demo [--task T [--task-config task.yaml]] [--output DIR] [--seed N] [--quick]
tripost run --config FILE --output DIR [--task T] [--task-config task.yaml] [--set key=value ...]
tripost compare [--task T | --config FILE] [--seeds N] [--methods m1,m2] [--quick] --output DIR
tripost solve --task T --data FILE --output OUT.jsonl
tripost feedback --task T --input IN.jsonl --output OUT.jsonl [--expert scripted|llm ...]
tripost eval --model DIR --task T --data FILE [--rounds R] [--dtype D] [--device D] --output DIR
tripost export --run DIR [--iteration t] --format trl|messages|jsonl --output FILE
tripost tasks

Output options are spelled ``--output`` everywhere; ``--out`` is kept as an alias.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from tripost import __version__
from tripost.config import ConfigError, RunConfig, load_config, load_yaml
from tripost.methods import METHODS, parse_methods

log = logging.getLogger("tripost")

DESCRIPTION = (
    "TriPosT: teach a small language model to correct its own mistakes. A run samples the "
    "model's answers, has an expert (a scripted checker or an LLM) mark the first wrong step and "
    "repair it, trains the model on those repairs, and repeats; then it reports whether the model "
    "learned to fix its own answers. Start with `tripost demo --quick`."
)


def _output_arg(p: argparse.ArgumentParser, what: str, **kw: Any) -> None:
    """``--output`` (and its old spelling ``--out``) for every command that writes."""
    p.add_argument("--output", "--out", dest="output", metavar="PATH", help=what, **kw)


def _task_args(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument(
        "--task",
        help="task name (see `tripost tasks`); `custom` for your own task with --task-config"
        + (f" (default: {default})" if default else ""),
    )
    p.add_argument(
        "--task-config",
        metavar="TASK.yaml",
        help="the YAML of your own task (answer regex, problems file; see "
        "examples/custom_task/); implies --task custom",
    )


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field (repeatable), e.g. --set train.lr=1e-3 "
        "--set postprocess.ratio=null",
    )
    p.add_argument(
        "--report-to",
        choices=["tensorboard", "wandb", "trackio"],
        help="also send training curves to this tracker (needs `pip install tripost[track]`); "
        "the curves are always kept in DIR/logs/",
    )
    _expert_args(p)


def _expert_args(p: argparse.ArgumentParser, single: bool = False) -> None:
    g = p.add_argument_group(
        "expert", "who writes feedback and repairs: the scripted checker of the task or an LLM"
    )
    if single:
        g.add_argument(
            "--expert",
            choices=["scripted", "llm"],
            default="scripted",
            help="who writes the feedback (default: scripted)",
        )
    else:
        g.add_argument(
            "--feedback",
            choices=["scripted", "llm"],
            help="who finds the first wrong step (default: the config's, scripted)",
        )
        g.add_argument(
            "--improvement",
            choices=["scripted", "llm"],
            help="who rewrites the answer from that step (default: the config's, scripted)",
        )
    g.add_argument(
        "--base-url",
        help="OpenAI-compatible server of the LLM expert (default: $OPENAI_BASE_URL or OpenAI)",
    )
    g.add_argument("--model-name", help="model name of the LLM expert at that server")
    g.add_argument(
        "--cache-dir",
        help="where LLM answers are cached so no call is paid twice "
        "(default: ~/.cache/tripost/llm, or DIR/llm_cache in a run)",
    )
    g.add_argument("--concurrency", type=int, help="LLM requests in flight at once (default: 32)")
    g.add_argument(
        "--timeout",
        type=float,
        help="deadline of one LLM request in seconds, the whole answer included (default 60)",
    )


def _llm_overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = {
        "base_url": "base_url",
        "model_name": "model",
        "cache_dir": "cache_dir",
        "concurrency": "concurrency",
        "timeout": "timeout_s",
    }
    return {v: getattr(args, k) for k, v in keys.items() if getattr(args, k, None) is not None}


def _methods_arg(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "--methods",
        metavar="M1,M2",
        help=f"methods of the run, comma-separated, from {', '.join(METHODS)} (default: {default})",
    )


def _display_args(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="show debug messages"
    )
    shown = p.add_mutually_exclusive_group()
    shown.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="for scripts: no progress bars and no progress messages, only warnings, errors "
        "and the result",
    )
    shown.add_argument(
        "--progress",
        action="store_true",
        default=default,
        help="draw progress bars even when stderr is not a terminal (e.g. into a log file)",
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tripost", description=DESCRIPTION)
    ap.add_argument("--version", action="version", version=f"tripost {__version__}")
    _display_args(ap, argparse.SUPPRESS)
    ap.set_defaults(verbose=False, quiet=False, progress=False)
    # the same options after the command name: `tripost demo --quiet`
    common = argparse.ArgumentParser(add_help=False)
    _display_args(common, argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kw)

    p = command(
        "demo",
        help="run the whole method on a built-in task with a tiny model (start here)",
        description="Generate problems, train a tiny model from scratch on gold answers (SFT), "
        "run TriPosT iterations with the scripted expert, train the compute-matched control, "
        "evaluate every model and write a report. Re-run the same command to resume.",
    )
    _task_args(p, default="multistep_arithmetic")
    _output_arg(p, "run directory (default: runs/demo; re-run to resume)", default="runs/demo")
    p.add_argument("--seed", type=int, default=0, help="seed of data, model and sampling")
    p.add_argument(
        "--quick",
        action="store_true",
        help="toy size: the whole pipeline in a few minutes, no accuracy claim",
    )
    _methods_arg(p, "the config's methods, else sft,tripost,sft_more")
    _run_args(p)

    p = command(
        "run",
        help="run (or resume) an experiment described by a YAML config",
        description="Run the experiment of a YAML config (see src/tripost/configs/) in a run "
        "directory. Re-running the same command resumes at the first unfinished stage.",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="YAML config of the run")
    _output_arg(p, "run directory (re-run to resume)", required=True)
    p.add_argument("--task", help="task name, overriding the config's (see `tripost tasks`)")
    p.add_argument(
        "--task-config",
        metavar="TASK.yaml",
        help="the YAML of your own task; implies --task custom",
    )
    _methods_arg(p, "the config's methods, else sft,tripost,sft_more")
    _run_args(p)

    p = command(
        "compare",
        help="every method for several seeds: the paper's comparison table",
        description="Run every method (or --methods) for several seeds, one run directory per "
        "seed sharing its data and SFT model, and write compare.json, compare.md and "
        "compare.png. Re-run the same command to finish what is missing.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--task", help="the task's demo config (default: multistep_arithmetic)")
    src.add_argument("--config", metavar="FILE", help="a YAML config instead of a demo config")
    p.add_argument("--seeds", type=int, default=3, help="seeds from the config's seed on")
    p.add_argument("--quick", action="store_true", help="the task's toy-size demo config")
    _output_arg(p, "directory holding one run directory per seed", required=True)
    _methods_arg(p, "all: " + ",".join(METHODS))
    _run_args(p)

    p = command(
        "solve",
        help="write the gold step-by-step answers of a problem file",
        description="Run the task's gold solver on each problem and write one JSON line per "
        "problem: question, rationale, answer, target (null when the question cannot be parsed).",
    )
    _task_args(p)
    p.add_argument(
        "--data",
        required=True,
        metavar="FILE",
        help="problems: JSONL ({question, answer} or BBH {input, target}) or a BBH JSON file",
    )
    _output_arg(p, "JSONL file to write", required=True)

    p = command(
        "feedback",
        help="have the expert review given answers",
        description="For each {question, attempt} line, the expert names the first wrong step "
        "(or says the answer is correct); writes the lines back with the feedback added.",
    )
    _task_args(p)
    p.add_argument(
        "--input", required=True, metavar="FILE", help="JSONL of {question, attempt} lines"
    )
    _output_arg(p, "JSONL file to write", required=True)
    _expert_args(p, single=True)

    p = command(
        "eval",
        help="measure how well a trained model corrects itself",
        description="Greedy self-improvement decoding of a checkpoint on a problem file: "
        "accuracy, how often the model updates its answer, and how often that fixes or breaks "
        "it, for seen and unseen problems.",
    )
    p.add_argument("--model", required=True, help="Hugging Face checkpoint directory (or hub id)")
    _task_args(p)
    p.add_argument(
        "--data",
        required=True,
        metavar="FILE",
        help="problems: JSONL ({question, answer} or the Hub / lm-evaluation-harness BBH "
        "layout {input, target}) or a BBH JSON file",
    )
    p.add_argument(
        "--rounds", type=int, default=2, help="most self-corrections per question (default: 2)"
    )
    _output_arg(p, "directory for report.json and outcomes.jsonl", required=True)
    p.add_argument(
        "--batch-size", type=int, default=64, help="questions decoded at once (default: 64)"
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=2048,
        help="token budget of a whole answer with its corrections (default: 2048)",
    )
    p.add_argument(
        "--dtype",
        choices=["auto", "bfloat16", "float16", "float32"],
        default="auto",
        help="weights dtype (default: the checkpoint's own)",
    )
    p.add_argument(
        "--device", default="auto", help="auto (the GPU when there is one), cpu, cuda, cuda:N"
    )
    p.add_argument(
        "--prompt-format",
        choices=["plain", "chat"],
        help="default: what the run that wrote the checkpoint used (tripost.json), else plain",
    )
    p.add_argument(
        "--engine",
        choices=["auto", "loop", "hf"],
        default="auto",
        help="decoding engine: loop (tripost's), hf (transformers generate); auto: loop on the "
        "CPU, hf on a GPU",
    )
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (for float32 weights)")

    p = command(
        "export",
        help="write a run's training samples for other trainers (TRL, chat, JSONL)",
        description="Write the training samples of a run's iterations in a format that "
        "`datasets.load_dataset('json', data_files=FILE)` reads: TRL prompt/completion, chat "
        "messages, or JSONL with weighted segments ({text, weight}).",
    )
    p.add_argument("--run", required=True, metavar="DIR", help="run directory")
    p.add_argument(
        "--iteration", type=int, metavar="T", help="only iteration T (default: all iterations)"
    )
    p.add_argument(
        "--format",
        required=True,
        choices=["trl", "messages", "jsonl"],
        help="trl: {prompt, completion}; messages: {messages: [user, assistant]}; "
        "jsonl: {segments: [{text, weight}]}",
    )
    _output_arg(p, "JSONL file to write", required=True)

    command("tasks", help="list the built-in tasks", description="List the task names.")
    return ap


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the command itself, not a call from Python: mimalloc where installed
        from tripost import allocator

        allocator.reexec(["-m", "tripost", *sys.argv[1:]])
    args = build_parser().parse_args(argv)
    from tripost import processes, progress

    progress.configure(False if args.quiet else (True if args.progress else None))
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    processes.follow_launcher()
    if not processes.is_main():  # under `accelerate launch` rank 0 speaks for the run
        progress.configure(False)
        level = logging.ERROR
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpx2", "openai", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        with _bars_and_logs():
            code = COMMANDS[args.command](args)
        processes.close()
        return code
    except (ConfigError, ValueError) as e:
        return _error(str(e))
    except OSError as e:  # a directory, an unreadable file, a full disk...
        where = f"{e.filename}: " if e.filename else ""
        return _error(f"{where}{e.strerror or e}")
    except KeyboardInterrupt:
        print("tripost: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


def _error(message: str) -> int:
    """One line on stderr, exit code 2."""
    print(f"tripost: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _bars_and_logs():
    """While bars are drawn, log lines are printed above them instead of through them."""
    from contextlib import nullcontext

    from tripost import progress

    if not progress.bars_enabled():
        return nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm()


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        out[key.strip()] = load_yaml(value, f"--set {key.strip()}")
    return out


_FLAGS = {
    "feedback": "--feedback",
    "improvement": "--improvement",
    "llm.base_url": "--base-url",
    "llm.model": "--model-name",
    "llm.cache_dir": "--cache-dir",
    "llm.concurrency": "--concurrency",
    "llm.timeout_s": "--timeout",
}


def _expert_overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if getattr(args, "feedback", None):
        out["expert.feedback"] = args.feedback
    if getattr(args, "improvement", None):
        out["expert.improvement"] = args.improvement
    for k, v in _llm_overrides(args).items():
        out[f"expert.llm.{k}"] = v
    return out


def _labels(overrides: dict[str, Any]) -> dict[str, str]:
    """Where each override came from, for error messages."""
    labels = {k: f"--set {k}" for k in overrides}
    labels.update({f"expert.{k}": flag for k, flag in _FLAGS.items() if f"expert.{k}" in labels})
    if "seed" in labels:
        labels["seed"] = "--seed"
    return labels


def demo_config_path(task: str, quick: bool) -> Path:
    name = f"demo_{task}{'_quick' if quick else ''}.yaml"
    path = resources.files("tripost") / "configs" / name
    if not path.is_file():
        raise ConfigError(f"no demo config for task {task!r} ({name})")
    return Path(str(path))


def _methods_override(args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "methods", None) is None:
        return {}
    try:
        return {"methods": parse_methods(args.methods)}
    except ValueError as e:
        raise ConfigError(f"--methods: {e}") from None


def task_name(args: argparse.Namespace, default: str | None = None) -> str:
    """The task of a command: ``--task``, or ``custom`` when only ``--task-config`` is given."""
    task, config = getattr(args, "task", None), getattr(args, "task_config", None)
    if config and task not in (None, "custom"):
        raise ConfigError(f"--task-config is for --task custom, not --task {task}")
    if task is None:
        task = "custom" if config else default
    if task is None:
        raise ConfigError("--task is required (see `tripost tasks`), or --task-config for your own")
    if task == "custom" and not config:
        raise ConfigError("--task custom needs --task-config TASK.yaml (see examples/custom_task/)")
    return task


def _task_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Config overrides of ``--task`` / ``--task-config`` (the task YAML by absolute path, so
    that the run directory's config.yaml works from anywhere)."""
    out: dict[str, Any] = {}
    if args.task or args.task_config:
        out["task"] = task_name(args)
    if args.task_config:
        path = Path(args.task_config)
        if not path.is_file():
            raise ConfigError(f"{path}: task config not found")
        out["task_options"] = {"config": str(path.resolve())}
    return out


def cmd_demo(args: argparse.Namespace) -> int:
    task = task_name(args, default="multistep_arithmetic")
    sets = parse_sets(args.set)
    overrides = {"seed": args.seed, **_task_overrides(args), **_expert_overrides(args)}
    overrides.update({**_methods_override(args), **sets})
    labels = {**_labels(overrides), **{k: f"--set {k}" for k in sets}}
    cfg = load_config(demo_config_path(task, args.quick), overrides, labels)
    return _run(cfg, args.output, args.report_to)


def cmd_run(args: argparse.Namespace) -> int:
    sets = parse_sets(args.set)
    overrides = {**_task_overrides(args), **_expert_overrides(args), **_methods_override(args)}
    overrides.update(sets)
    labels = {**_labels(overrides), **{k: f"--set {k}" for k in sets}}
    return _run(load_config(args.config, overrides, labels), args.output, args.report_to)


def cmd_compare(args: argparse.Namespace) -> int:
    from tripost.compare import markdown
    from tripost.compare_run import run_compare

    overrides = {**_expert_overrides(args), **_methods_override(args), **parse_sets(args.set)}
    if args.config:
        if args.quick:
            raise ConfigError("--quick chooses a demo config: use it with --task, not --config")
        cfg = load_config(args.config, overrides)
    else:
        path = demo_config_path(args.task or "multistep_arithmetic", args.quick)
        cfg = load_config(path, overrides)
    if args.seeds < 1:
        raise ConfigError(f"--seeds: must be at least 1, got {args.seeds}")
    # --methods, else the config's methods, else all of them
    result = run_compare(cfg, args.output, args.seeds, cfg.methods or list(METHODS))
    from tripost import processes

    if processes.is_main():  # under `accelerate launch` rank 0 speaks for the runs
        print(markdown(result))
        print(
            f"wrote {args.output}/compare.json, {args.output}/compare.md, {args.output}/compare.png"
        )
    return 0


def _run(cfg: RunConfig, out: str, report_to: str | None = None) -> int:
    from tripost import processes, tracking
    from tripost.loop import run_tripost

    tracking.configure(report_to if processes.is_main() else None)
    try:
        report = run_tripost(cfg, out)
    finally:
        tracking.finish()
    if not processes.is_main():
        return 0
    from tripost.report import summary_text

    print(summary_text(report))
    print(f"wrote {out}/report.md, {out}/report.json, {out}/accuracy.png")
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    from tripost.tasks.base import raw_items

    task = _task(args)
    _check_output(args.output)
    items = raw_items(args.data)
    if not items:
        raise ValueError(f"{args.data}: no problems in the file")
    solved = unparsed = disagree = 0
    rows = []
    for question, target in items:
        problem = task.problem_from_text(question, target)
        attempt = task.solve(problem) if problem else None
        answer = task.extract_answer(attempt, problem) if attempt else None
        if attempt is None:
            unparsed += 1
        else:
            solved += 1
            if target is not None and problem.answer != answer:
                disagree += 1
        rows.append(
            {
                "question": question,
                "rationale": attempt.render() if attempt else None,
                "answer": answer,
                "target": target,
            }
        )
    _write_jsonl(args.output, rows)
    print(
        f"{len(rows)} problems: {solved} solved, {unparsed} unparsed, "
        f"{disagree} disagreeing with the target"
    )
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from tripost.experts import build_feedback
    from tripost.trajectory import Problem

    task = _task(args)
    _check_output(args.output)
    llm = None
    if args.expert == "llm":
        llm = _llm_config(args)
    items = _read_jsonl(args.input, required=("question", "attempt"))
    if not items:
        raise ValueError(f"{args.input}: no attempts in the file")
    problems, attempts = [], []
    for lineno, d in items:
        target = d.get("target", d.get("answer"))
        if target is not None and not isinstance(target, str):
            field = "target" if "target" in d else "answer"
            raise ValueError(
                f"{args.input}:{lineno}: {field}: expected a string, got {type(target).__name__}"
            )
        p = task.problem_from_text(d["question"], target)
        problems.append(p or Problem(d["question"], target or "", task.name))
        attempts.append(d["attempt"])
    fbk = build_feedback(args.expert, task, llm)
    results = fbk.give_feedback(problems, attempts)
    rows = []
    for (_, d), res in zip(items, results):
        f = res.feedback
        row = dict(d)
        row.update(
            {
                "correct": None if f is None else f.correct,
                "error_step": None if f is None or f.correct else f.error_step,
                "segment": None if f is None or f.correct else f.segment,
                "feedback": None if f is None else f.render(),
            }
        )
        if f is None:
            row["drop_reason"] = res.drop_reason
        rows.append(row)
    _write_jsonl(args.output, rows)
    n_ok = sum(r["correct"] is True for r in rows)
    n_drop = sum(r["correct"] is None for r in rows)
    print(
        f"{len(rows)} attempts: {n_ok} correct, {len(rows) - n_ok - n_drop} wrong, {n_drop} dropped"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from tripost.evaluation import bucket_rows, outcome_json, result_rows, self_improve
    from tripost.policy.model import load_policy
    from tripost.policy.prompting import PromptFormat
    from tripost.rundir import RunDir
    from tripost.tasks import read_problems

    cfg = _eval_config(args)
    task = _task(args)
    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise ValueError(f"{args.output}: exists and is not a directory; give another --output")
    parsed = read_problems(task, args.data)
    problems = [p for p in parsed if p is not None]
    if not problems:
        raise ValueError(f"{args.data}: no problem the task {task.name!r} can read")
    if len(problems) < len(parsed):
        log.warning(
            "%d of %d questions could not be parsed: skipped",
            len(parsed) - len(problems),
            len(parsed),
        )
    policy = _load_model(
        args.model, lambda p: load_policy(p, args.dtype, device=args.device, trainable=False)
    )
    fmt = PromptFormat(policy.tokenizer, **_checkpoint_prompt(args.model, args.prompt_format))
    outcomes = self_improve(policy, task, problems, cfg, fmt)
    rd = RunDir(args.output)
    rd.write_jsonl("outcomes.jsonl", (outcome_json(o) for o in outcomes))
    rows = result_rows("eval", 0, outcomes)
    rd.write_json(
        "report.json",
        {
            "task": task.name,
            "model": str(args.model),
            "results": rows,
            "buckets": bucket_rows("eval", 0, outcomes),
            "unparsed": len(parsed) - len(problems),
        },
    )
    for r in rows:
        print(
            f"{r['split']:>6}: n={r['n']} accuracy={r['accuracy']:.1%} SI.Freq={r['si_freq']:.1%} "
            f"SI.Contrib={r['si_contrib']:.1%}"
        )
    return 0


def _checkpoint_prompt(model: str, fmt: str | None) -> dict[str, Any]:
    """The prompt settings recorded with a run's checkpoint, overridden by ``--prompt-format``."""
    info = Path(model) / "tripost.json"
    prompt = json.loads(info.read_text()).get("prompt", {}) if info.is_file() else {}
    out = {"format": prompt.get("format", "plain"), "system": prompt.get("system")}
    if fmt:
        out["format"] = fmt
    return out


def _eval_config(args: argparse.Namespace):
    from pydantic import ValidationError

    from tripost.settings import EvalConfig

    flags = {
        "rounds": "--rounds",
        "batch_size": "--batch-size",
        "max_new_tokens": "--max-new-tokens",
        "engine": "--engine",
        "bf16": "--bf16",
    }
    try:
        return EvalConfig(**{k: getattr(args, k) for k in flags})
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(f"{flags[str(err['loc'][0])]}: {err['msg']}") from None


def _llm_config(args: argparse.Namespace):
    from pydantic import ValidationError

    from tripost.settings import LLMConfig

    flags = {v.removeprefix("llm."): f for v, f in _FLAGS.items() if v.startswith("llm.")}
    try:
        return LLMConfig(**_llm_overrides(args))
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        raise ConfigError(f"{flags.get(field, field)}: {err['msg']}") from None


def _load_model(path: str, load):
    """A checkpoint given on the command line; one line naming it when it cannot be loaded."""
    from tripost.policy.model import ModelLoadError

    try:
        return load(path)
    except ModelLoadError:
        raise
    except Exception as e:  # safetensors, json, torch: any reader of a damaged checkpoint
        msg = " ".join(str(e).split())[:200]
        raise ValueError(f"{path}: cannot load the model ({type(e).__name__}: {msg})") from None


def _check_output(path: str) -> None:
    """Fail before any work when the output path cannot be a file."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p}: is a directory; --output must be a file path")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{parent}: is not a directory; cannot write {p}")
            break


def _task(args: argparse.Namespace):
    from tripost.tasks import get_task

    name = task_name(args)
    if args.task_config:
        return get_task(name, config=args.task_config)
    return get_task(name)


def cmd_export(args: argparse.Namespace) -> int:
    from tripost.export import export_rows

    rows = export_rows(args.run, args.format, args.iteration)
    _write_jsonl(args.output, rows)
    print(f"wrote {len(rows)} training samples to {args.output} ({args.format})")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from tripost.tasks import TASKS

    print("\n".join(sorted(TASKS)))
    return 0


def _read_jsonl(path: str, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    from tripost.jsonl import read_jsonl

    return read_jsonl(path, required)


def _write_jsonl(path: str, rows: list[dict]) -> None:
    from tripost.rundir import atomic_write, dumps

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(p, "".join(dumps(r) + "\n" for r in rows))


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "compare": cmd_compare,
    "solve": cmd_solve,
    "feedback": cmd_feedback,
    "eval": cmd_eval,
    "export": cmd_export,
    "tasks": cmd_tasks,
}

if __name__ == "__main__":
    sys.exit(main())
