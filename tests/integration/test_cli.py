"""The `tripost` command-line contract: solve, feedback, eval, run (kill and resume), errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tripost.cli import main
from tripost.hostspeed import describe
from tripost.policy.model import TinyModelConfig, build_tiny_policy

BBH = {
    "examples": [
        {"input": "((-1 + 2 + 9 * 5) - (-2 + -4 + -4 * -7)) =", "target": "24"},
        {"input": "((3 * -3 * 6 + -5) - (-2 + -7 - 7 - -7)) =", "target": "-50"},
        {"input": "What is the capital of France?", "target": "Paris"},
    ]
}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_solve_reads_bbh_json_and_reports_unparsed(tmp_path, capsys):
    data = write(tmp_path / "bbh.json", json.dumps(BBH))
    assert (
        main(
            [
                "solve",
                "--task",
                "multistep_arithmetic",
                "--data",
                str(data),
                "--output",
                str(tmp_path / "out.jsonl"),
            ]
        )
        == 0
    )
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["answer"] for r in rows] == ["24", "-50", None]
    assert rows[2]["rationale"] is None and rows[0]["rationale"].endswith("So the answer is 24.")
    assert "2 solved, 1 unparsed, 0 disagreeing" in capsys.readouterr().out


def test_feedback_names_the_wrong_step(tmp_path):
    q = "((-1 + 2 + 9 * 5) - (-2 + -4 + -4 * -7)) ="
    subprocess_free = main  # in-process: the same code path as the console script
    solve_out = tmp_path / "s.jsonl"
    data = write(tmp_path / "p.jsonl", json.dumps({"question": q, "answer": "24"}) + "\n")
    subprocess_free(
        ["solve", "--task", "multistep_arithmetic", "--data", str(data), "--output", str(solve_out)]
    )
    gold = read_jsonl(solve_out)[0]["rationale"]
    wrong = gold.replace("So the answer is 24.", "So the answer is 25.")
    garbage = "I do not know."
    inp = write(
        tmp_path / "in.jsonl",
        "".join(json.dumps({"question": q, "attempt": a}) + "\n" for a in (gold, wrong, garbage)),
    )
    assert (
        main(
            [
                "feedback",
                "--task",
                "multistep_arithmetic",
                "--input",
                str(inp),
                "--output",
                str(tmp_path / "fb.jsonl"),
            ]
        )
        == 0
    )
    ok, bad, malformed = read_jsonl(tmp_path / "fb.jsonl")
    assert ok["correct"] is True and ok["error_step"] is None
    assert bad["correct"] is False and bad["error_step"] == "Final response"
    assert bad["segment"] in wrong and bad["feedback"].startswith(
        "Step (1) to step (4) are correct."
    )
    assert malformed["correct"] is False and malformed["error_step"] == "1"


def test_malformed_input_line_gives_one_line_error_naming_file_and_line(tmp_path, capsys):
    inp = write(tmp_path / "in.jsonl", '{"question": "1 =", "attempt": "x"}\n{not json\n')
    assert (
        main(
            [
                "feedback",
                "--task",
                "multistep_arithmetic",
                "--input",
                str(inp),
                "--output",
                str(tmp_path / "o.jsonl"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("tripost: error:") and f"{inp}:2" in err and "\n" not in err
    assert not (tmp_path / "o.jsonl").exists()


def test_bad_config_names_file_line_and_field(tmp_path, capsys):
    cfg = write(tmp_path / "c.yaml", "task: multistep_arithmetic\nsft:\n  steps: 10\n  lr: fast\n")
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}:4: sft.lr:" in err
    cfg2 = write(tmp_path / "d.yaml", "task: multistep_arithmetic\nrolout: {}\n")
    assert main(["run", "--config", str(cfg2), "--out", str(tmp_path / "run")]) == 2
    assert f"{cfg2}:2: rolout: Extra inputs are not permitted" in capsys.readouterr().err


def test_eval_writes_report_rows_for_a_checkpoint(tmp_path):
    policy = build_tiny_policy(
        TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    )
    policy.save(tmp_path / "ckpt")
    data = write(tmp_path / "bbh.json", json.dumps(BBH))
    assert (
        main(
            [
                "eval",
                "--model",
                str(tmp_path / "ckpt"),
                "--task",
                "multistep_arithmetic",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "ev"),
                "--max-new-tokens",
                "20",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["unparsed"] == 1
    total = [r for r in report["results"] if r["split"] == "total"][0]
    assert total["n"] == 2 and set(total) >= {
        "method",
        "iteration",
        "split",
        "accuracy",
        "si_freq",
        "si_contrib",
        "n",
    }


RUN_CFG = """
task: multistep_arithmetic
model:
  tiny: {hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64}
  threads: 1
data: {train_problems: 64, eval_seen: 4, eval_unseen: 2}
sft: {steps: 30, batch_size: 8, micro_batch_size: 8, lr: 1.0e-3, bf16: false, log_every: 0}
iterations: 1
rollout: {problems: 8, max_new_tokens: 40, batch_size: 8}
train: {steps: 2, batch_size: 4, micro_batch_size: 4, log_every: 0}
eval: {rounds: 1, max_new_tokens: 40, batch_size: 8}
"""


def test_killed_run_resumes_with_the_same_command(tmp_path):
    cfg = write(tmp_path / "c.yaml", RUN_CFG)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tripost.cli", "run", "--config", str(cfg), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "manifest.json"
    deadline = time.time() + 120
    while time.time() < deadline and '"data"' not in (
        manifest.read_text() if manifest.exists() else ""
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # killed during SFT: only "data" has finished
    proc.wait()
    stages = json.loads(manifest.read_text())["stages"]
    assert list(stages) == ["data"]
    data_time = stages["data"]["finished_at"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    stages = json.loads(manifest.read_text())["stages"]
    assert stages["data"]["finished_at"] == data_time
    assert "report" in stages and (out / "report.json").exists()
    assert not list(out.rglob("*.tmp"))
    speeds = json.loads(manifest.read_text())["host_speed"]  # one per invocation
    assert len(speeds) == 2 and all(s["bf16_matmul_gflops"] > 0 for s in speeds)
    assert f"host: {describe(speeds[0])}; {describe(speeds[1])}." in done.stdout


def test_help_and_config_checks_import_no_torch_transformers_or_openai(tmp_path):
    """`tripost --help` and reading a config (where a config error is caught) stay fast: those
    imports take ~10 s on a slow 2-core host. The heavy modules load when a stage needs them."""
    bad = write(tmp_path / "bad.yaml", "task: multistep_arithmetic\nsft: {lr: fast}\n")
    code = (
        "import sys; from tripost.cli import build_parser; from tripost.config import load_config\n"
        "build_parser().format_help()\n"
        "try:\n    load_config(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'openai') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(bad)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["ConfigError", "[]"]


def test_version_and_a_help_text_for_every_command_and_option(capsys):
    import argparse

    import pytest

    from tripost import __version__
    from tripost.cli import build_parser

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"tripost {__version__}"
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {c.dest for c in subs._choices_actions} == set(subs.choices)
    for c in subs._choices_actions:
        assert c.help and len(c.help) > 15, c.dest
    for name, sub in [("tripost", parser), *subs.choices.items()]:
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction) or not action.option_strings:
                continue
            assert action.help and action.help != argparse.SUPPRESS, (name, action.option_strings)


def test_output_option_has_one_spelling_and_keeps_the_old_one(tmp_path):
    from tripost.cli import build_parser

    parser = build_parser()
    for argv in (
        ["demo"],
        ["run", "--config", "c.yaml"],
        ["solve", "--task", "t", "--data", "d"],
        ["feedback", "--task", "t", "--input", "i"],
        ["eval", "--model", "m", "--task", "t", "--data", "d"],
        ["export", "--run", "r", "--format", "trl"],
    ):
        assert parser.parse_args([*argv, "--output", "X"]).output == "X"
        assert parser.parse_args([*argv, "--out", "X"]).output == "X"


def test_eval_reads_the_hub_bbh_input_target_jsonl(tmp_path):
    policy = build_tiny_policy(
        TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    )
    policy.save(tmp_path / "ckpt")
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(ex) + "\n" for ex in BBH["examples"]))
    argv = ["eval", "--model", str(tmp_path / "ckpt"), "--task", "multistep_arithmetic"]
    argv += ["--data", str(data), "--output", str(tmp_path / "ev"), "--max-new-tokens", "10"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["unparsed"] == 1
    outcomes = read_jsonl(tmp_path / "ev" / "outcomes.jsonl")
    assert [o["question"] for o in outcomes] == [ex["input"] for ex in BBH["examples"][:2]]


def test_custom_task_needs_its_config_in_one_line(tmp_path, capsys):
    assert main(["demo", "--task", "custom", "--output", str(tmp_path / "d")]) == 2
    assert capsys.readouterr().err == (
        "tripost: error: --task custom needs --task-config TASK.yaml (see examples/custom_task/)\n"
    )
    missing = tmp_path / "nope.yaml"
    assert main(["demo", "--task-config", str(missing), "--output", str(tmp_path / "d")]) == 2
    assert capsys.readouterr().err == f"tripost: error: {missing}: task config not found\n"
    assert not (tmp_path / "d").exists()


EXAMPLE_TASK = Path(__file__).parents[2] / "examples" / "custom_task" / "task.yaml"
CUSTOM_TOY = [
    "model.tiny={hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64}",
    "model.threads=1",
    "sft={steps: 3, batch_size: 4, micro_batch_size: 4, bf16: false, log_every: 0}",
    "train={steps: 1, batch_size: 4, micro_batch_size: 4, bf16: false, log_every: 0}",
    "rollout={problems: 4, max_new_tokens: 30, batch_size: 4}",
    "eval={rounds: 1, max_new_tokens: 30, batch_size: 8}",
    "data={train_problems: 100, eval_seen: 2, eval_unseen: 2}",
    "iterations=1",
]


def _sets(pairs):
    return [x for p in pairs for x in ("--set", p)]


def test_custom_task_runs_from_demo_and_run(tmp_path, monkeypatch):
    """The README's `--task custom --task-config task.yaml`, from another working directory."""
    monkeypatch.chdir(tmp_path)
    demo = tmp_path / "demo"
    argv = ["--quiet", "demo", "--task", "custom", "--task-config", str(EXAMPLE_TASK), "--quick"]
    assert main([*argv, "--output", str(demo), *_sets(CUSTOM_TOY)]) == 0
    report = json.loads((demo / "report.json").read_text())
    assert report["task"] == "custom" and {r["method"] for r in report["results"]} == {
        "sft",
        "tripost",
        "sft_more",
    }
    eval_qs = [
        json.loads(x)["question"] for x in (demo / "data" / "eval.jsonl").read_text().splitlines()
    ]
    assert len(eval_qs) == 4 and all("farm" in q for q in eval_qs)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("iterations: 1\n")
    run = tmp_path / "run"
    argv = ["--quiet", "run", "--config", str(cfg), "--task-config", str(EXAMPLE_TASK)]
    assert main([*argv, "--out", str(run), *_sets(CUSTOM_TOY)]) == 0
    assert (run / "report.md").exists() and "config:" in (run / "config.yaml").read_text()
