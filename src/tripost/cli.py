"""The ``tripost`` command. It only parses arguments and wires objects; the work is elsewhere.

tripost demo [--task T] [--out DIR] [--seed N] [--quick]
tripost run --config FILE --out DIR [--set key=value ...]
tripost compare [--task T | --config FILE] [--seeds N] [--methods m1,m2] [--quick] --out DIR
tripost solve --task T --data FILE --output OUT.jsonl
tripost feedback --task T --input IN.jsonl --output OUT.jsonl [--expert scripted|llm ...]
tripost eval --model DIR --task T --data FILE [--rounds R] [--dtype D] [--device D] --out DIR
tripost tasks
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from tripost.config import ConfigError, RunConfig, load_config, load_yaml
from tripost.methods import METHODS, parse_methods

log = logging.getLogger("tripost")


def _expert_args(p: argparse.ArgumentParser, single: bool = False) -> None:
    g = p.add_argument_group("expert")
    if single:
        g.add_argument(
            "--expert",
            choices=["scripted", "llm"],
            default="scripted",
            help="feedback module (default: scripted)",
        )
    else:
        g.add_argument("--feedback", choices=["scripted", "llm"], help="feedback module")
        g.add_argument("--improvement", choices=["scripted", "llm"], help="improvement module")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)")
    g.add_argument("--model-name", help="model name at the endpoint")
    g.add_argument(
        "--cache-dir",
        help="LLM response cache (default: ~/.cache/tripost/llm, or RUN_DIR/llm_cache in a run)",
    )
    g.add_argument("--concurrency", type=int, help="LLM requests in flight (default 32)")
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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tripost", description=__doc__.split("\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "demo", help="the embedded default: tiny model, generated data, scripted expert"
    )
    p.add_argument("--task", default="multistep_arithmetic")
    p.add_argument("--out", default="runs/demo", help="run directory (re-run to resume)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--quick", action="store_true", help="toy size, a few minutes, no accuracy claim"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.lr=1e-3",
    )
    _methods_arg(p, "the config's methods, else sft,tripost,sft_more")
    _expert_args(p)

    p = sub.add_parser("run", help="run (or resume) an experiment from a YAML config")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    _methods_arg(p, "the config's methods, else sft,tripost,sft_more")
    _expert_args(p)

    p = sub.add_parser(
        "compare", help="every method for several seeds: compare.json, compare.md, compare.png"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--task", help="the task's demo config (default multistep_arithmetic)")
    src.add_argument("--config", help="a YAML config instead of a demo config")
    p.add_argument("--seeds", type=int, default=3, help="seeds from the config's seed on")
    p.add_argument("--quick", action="store_true", help="the task's toy-size demo config")
    p.add_argument("--out", required=True, help="one run directory per seed in it")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    _methods_arg(p, "all: " + ",".join(METHODS))
    _expert_args(p)

    p = sub.add_parser("solve", help="gold solver on a JSONL or BBH JSON file of problems")
    p.add_argument("--task", required=True)
    p.add_argument("--task-config", help="task YAML of a user task (with --task custom)")
    p.add_argument("--data", required=True)
    p.add_argument("--output", required=True)

    p = sub.add_parser("feedback", help="expert feedback on given attempts")
    p.add_argument("--task", required=True)
    p.add_argument("--task-config", help="task YAML of a user task (with --task custom)")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    _expert_args(p, single=True)

    p = sub.add_parser("eval", help="self-improvement evaluation of a checkpoint")
    p.add_argument("--model", required=True, help="HF checkpoint directory (or hub id)")
    p.add_argument("--task", required=True)
    p.add_argument("--task-config", help="task YAML of a user task (with --task custom)")
    p.add_argument("--data", required=True, help="JSONL of problems or a BBH JSON file")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", required=True)
    p.add_argument("--batch-size", type=int, default=64, help="sequences decoded together")
    p.add_argument(
        "--max-new-tokens", type=int, default=2048, help="token budget of a whole trajectory"
    )
    p.add_argument(
        "--dtype",
        choices=["auto", "bfloat16", "float16", "float32"],
        default="auto",
        help="weights dtype (default: the checkpoint's own)",
    )
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, cuda:N")
    p.add_argument(
        "--prompt-format",
        choices=["plain", "chat"],
        help="default: what the run that wrote the checkpoint used (tripost.json), else plain",
    )
    p.add_argument("--engine", choices=["auto", "loop", "hf"], default="auto")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (fp32 weights)")

    sub.add_parser("tasks", help="list the registered tasks")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpx2", "openai", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
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
    if args.methods is None:
        return {}
    try:
        return {"methods": parse_methods(args.methods)}
    except ValueError as e:
        raise ConfigError(f"--methods: {e}") from None


def cmd_demo(args: argparse.Namespace) -> int:
    sets = parse_sets(args.set)
    overrides = {"seed": args.seed, **_expert_overrides(args), **_methods_override(args), **sets}
    labels = {**_labels(overrides), **{k: f"--set {k}" for k in sets}}
    cfg = load_config(demo_config_path(args.task, args.quick), overrides, labels)
    return _run(cfg, args.out)


def cmd_run(args: argparse.Namespace) -> int:
    sets = parse_sets(args.set)
    overrides = {**_expert_overrides(args), **_methods_override(args), **sets}
    labels = {**_labels(overrides), **{k: f"--set {k}" for k in sets}}
    return _run(load_config(args.config, overrides, labels), args.out)


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
    result = run_compare(cfg, args.out, args.seeds, cfg.methods or list(METHODS))
    print(markdown(result))
    print(f"wrote {args.out}/compare.json, {args.out}/compare.md, {args.out}/compare.png")
    return 0


def _run(cfg: RunConfig, out: str) -> int:
    from tripost.loop import run_tripost

    report = run_tripost(cfg, out)
    from tripost.report import markdown

    print(markdown(report))
    print(f"wrote {out}/report.json, {out}/report.md, {out}/accuracy.png")
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
        answer = task.extract_answer(attempt) if attempt else None
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
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"{args.out}: exists and is not a directory; give another --out")
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
    rd = RunDir(args.out)
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

    from tripost.evaluation import EvalConfig

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

    from tripost.experts.llm import LLMConfig

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

    if args.task_config:
        return get_task(args.task, config=args.task_config)
    return get_task(args.task)


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
    "tasks": cmd_tasks,
}

if __name__ == "__main__":
    sys.exit(main())
