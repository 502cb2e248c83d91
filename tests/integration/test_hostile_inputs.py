"""Hostile inputs, one row each: exit code 2, one line naming the file (and line or field where
there is one), no traceback, and nothing left behind (no output, no temporary file, no folder).

Each row builds its inputs under ``tmp_path`` and returns the command line and the words the
error line must hold; the test snapshots the tree before and after the command.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tripost.cli import main
from tripost.config import dump_config, load_config

Q = "((-1 + 2 + 9 * 5) - (-2 + -4 + -4 * -7)) ="
DEEP = "(" * 1000 + "1" + ")" * 1000 + " ="

TINY_CFG = """\
task: multistep_arithmetic
model:
  tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}
  threads: 1
data: {train_problems: 4, eval_seen: 2, eval_unseen: 1}
sft: {steps: 1, batch_size: 2, micro_batch_size: 2, bf16: false, log_every: 0}
iterations: 0
sft_more: false
eval: {rounds: 1, max_new_tokens: 8, batch_size: 2}
"""


def w(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    return path


def problems(tmp: Path, n: int = 1) -> Path:
    return w(
        tmp / "p.jsonl",
        "".join(json.dumps({"question": Q, "answer": "24"}) + "\n" for _ in range(n)),
    )


def solve(data: Path, out: Path | None = None) -> list[str]:
    return [
        "solve",
        "--task",
        "multistep_arithmetic",
        "--data",
        str(data),
        "--output",
        str(out or data.parent / "out.jsonl"),
    ]


def feedback(inp: Path, *extra: str) -> list[str]:
    return [
        "feedback",
        "--task",
        "multistep_arithmetic",
        "--input",
        str(inp),
        "--output",
        str(inp.parent / "fb.jsonl"),
        *extra,
    ]


def evaluate(
    tmp: Path, *extra: str, model: Path | None = None, data: Path | None = None
) -> list[str]:
    data = data or problems(tmp)
    return [
        "eval",
        "--model",
        str(model or tmp / "no-model"),
        "--task",
        "multistep_arithmetic",
        "--data",
        str(data),
        "--out",
        str(tmp / "ev"),
        *extra,
    ]


def run(tmp: Path, cfg_text: str = TINY_CFG, *extra: str, out: Path | None = None) -> list[str]:
    cfg = w(tmp / "c.yaml", cfg_text)
    return ["run", "--config", str(cfg), "--out", str(out or tmp / "rd"), *extra]


def custom(tmp: Path, yaml_text: str) -> list[str]:
    cfg = w(tmp / "task.yaml", yaml_text)
    return [
        "solve",
        "--task",
        "custom",
        "--task-config",
        str(cfg),
        "--data",
        str(problems(tmp)),
        "--output",
        str(tmp / "o.jsonl"),
    ]


def prior_run(tmp: Path, stages: dict, cfg_text: str = TINY_CFG) -> Path:
    """A run directory as a killed earlier run left it: config.yaml, manifest, data files."""
    rd = tmp / "rd"
    w(rd / "config.yaml", dump_config(load_config(w(tmp / "c.yaml", cfg_text))))
    w(rd / "manifest.json", json.dumps({"stages": stages}))
    row = json.dumps({"question": Q, "answer": "24", "task": "multistep_arithmetic"}) + "\n"
    w(rd / "data" / "train.jsonl", row * 2)
    w(rd / "data" / "eval.jsonl", row)
    return rd


def cut_stage_file(tmp: Path):
    prior_run(tmp, {"data": {"rows": {"data/train.jsonl": 3, "data/eval.jsonl": 1}}})
    return run(tmp), ["rd/data/train.jsonl", "2 rows", "recorded 3", "delete", "stage data"]


def corrupt_stage_line(tmp: Path):
    rd = prior_run(tmp, {"data": {"rows": {"data/train.jsonl": 2, "data/eval.jsonl": 1}}})
    w(
        rd / "data" / "train.jsonl",
        b'{"question": "1 + 1 =", "answer": "2", "task": "x"}\n{"quest\xff\n',
    )
    return run(tmp), ["rd/data/train.jsonl:2:", "corrupt line", "delete"]


def corrupt_checkpoint(tmp: Path):
    from tripost.policy.model import TinyModelConfig, build_tiny_policy

    rd = prior_run(
        tmp, {"data": {"rows": {"data/train.jsonl": 2, "data/eval.jsonl": 1}}, "sft": {}}
    )
    ckpt = rd / "checkpoints" / "sft"
    build_tiny_policy(
        TinyModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    ).save(ckpt)
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    return run(tmp), ["rd/checkpoints/sft", "cannot load the checkpoint", "delete"]


def corrupt_eval_model(tmp: Path):
    from tripost.policy.model import TinyModelConfig, build_tiny_policy

    ckpt = tmp / "m"
    build_tiny_policy(
        TinyModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    ).save(ckpt)
    (ckpt / "model.safetensors").write_bytes(b"\x00" * 64)
    return evaluate(tmp, model=ckpt), ["/m:", "cannot load the model"]


def corrupt_llm_cache(tmp: Path):
    cache = tmp / "cache"
    w(cache / "responses.sqlite", b"this is not a database" * 100)
    inp = w(
        tmp / "in.jsonl",
        json.dumps({"question": Q, "attempt": "(Final response) So the answer is 24."}) + "\n",
    )
    args = [
        "--expert",
        "llm",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model-name",
        "m",
        "--cache-dir",
        str(cache),
    ]
    return feedback(inp, *args), ["cache/responses.sqlite", "corrupt", "delete it"]


def corrupt_manifest(tmp: Path):
    w(tmp / "rd" / "manifest.json", '{"stages": {"data": {')
    return run(tmp), ["rd/manifest.json", "corrupt manifest", "delete"]


def non_utf8(tmp: Path):
    p = w(
        tmp / "p.jsonl", json.dumps({"question": Q}).encode() + b"\n" + b'{"question": "caf\xe9"}\n'
    )
    return solve(p), ["p.jsonl:2:", "UTF-8"]


ROWS: dict[str, Callable[[Path], tuple[list[str], list[str]]]] = {
    # files that are not what they should be
    "data is a directory": lambda t: (solve(w(t / "d" / "x", "").parent), ["/d", "directory"]),
    "data is missing": lambda t: (solve(t / "none.jsonl"), ["none.jsonl", "not found"]),
    "config is a directory": lambda t: (["run", "--config", str((t / "cd").mkdir() or t / "cd"), "--out", str(t / "rd")], ["/cd", "directory"]),
    "task config is a directory": lambda t: (["solve", "--task", "custom", "--task-config", str((t / "td").mkdir() or t / "td"), "--data", str(problems(t)), "--output", str(t / "o.jsonl")], ["/td", "directory"]),
    "output is a directory": lambda t: (solve(problems(t), (t / "od").mkdir() or t / "od"), ["/od", "directory"]),
    "output under a file": lambda t: (solve(problems(t), w(t / "f", "x") / "o.jsonl"), ["/f", "not a directory"]),
    "run --out is a file": lambda t: (run(t, out=w(t / "outfile", "x")), ["outfile", "not a directory"]),
    "eval --out is a file": lambda t: (["eval", "--model", str(t / "m"), "--task", "multistep_arithmetic", "--data", str(problems(t)), "--out", str(w(t / "of", "x"))], ["/of", "not a directory"]),
    # contents of the wrong kind
    "non-UTF-8 JSONL": non_utf8,
    "non-UTF-8 config": lambda t: (["run", "--config", str(w(t / "c.yaml", b"seed: 1\ntask: caf\xe9\n")), "--out", str(t / "rd")], ["c.yaml:2:", "UTF-8"]),
    "invalid JSON line": lambda t: (solve(w(t / "p.jsonl", '{"question": "1 ="}\n{oops\n')), ["p.jsonl:2:", "invalid JSON"]),
    "BBH target is a number": lambda t: (solve(w(t / "b.json", json.dumps({"examples": [{"input": Q, "target": 0}]}))), ["b.json", "examples[0].target", "string"]),
    "BBH input is a list": lambda t: (solve(w(t / "b.json", json.dumps({"examples": [{"input": [Q]}]}))), ["b.json", "examples[0].input"]),
    "BBH examples not a list": lambda t: (solve(w(t / "b.json", json.dumps({"examples": 3}))), ["b.json", "examples"]),
    "feedback answer is a number": lambda t: (feedback(w(t / "in.jsonl", json.dumps({"question": Q, "attempt": "x", "answer": 0}) + "\n")), ["in.jsonl:1:", "answer", "string"]),
    "feedback attempt is a list": lambda t: (feedback(w(t / "in.jsonl", json.dumps({"question": Q, "attempt": ["x"]}) + "\n")), ["in.jsonl:1:", "attempt"]),
    "1000-deep parentheses (JSONL)": lambda t: (solve(w(t / "p.jsonl", json.dumps({"question": DEEP}) + "\n")), ["p.jsonl:1:", "question", "nested"]),
    "1000-deep parentheses (BBH)": lambda t: (solve(w(t / "b.json", json.dumps({"examples": [{"input": DEEP}]}))), ["b.json", "examples[0].input", "nested"]),
    "1000-deep JSON": lambda t: (solve(w(t / "p.jsonl", "[" * 100000 + "]" * 100000 + "\n")), ["p.jsonl:1:"]),
    # empty inputs
    "empty problems file": lambda t: (solve(w(t / "p.jsonl", "\n")), ["p.jsonl", "no problems"]),
    "empty feedback input": lambda t: (feedback(w(t / "in.jsonl", "")), ["in.jsonl", "no attempts"]),
    "eval data nothing parsable": lambda t: (evaluate(t, data=w(t / "q.jsonl", json.dumps({"question": "capital of France?"}) + "\n")), ["q.jsonl", "no problem"]),
    # configs
    "duplicate YAML key": lambda t: (run(t, TINY_CFG + "seed: 3\nseed: 4\n"), ["c.yaml:", "duplicate key 'seed'"]),
    "invalid YAML": lambda t: (run(t, "task: [\n"), ["c.yaml:", "invalid YAML"]),
    "typo in expert.llm": lambda t: (run(t, TINY_CFG + "expert:\n  llm:\n    temprature: 0.5\n"), ["c.yaml:12:", "expert.llm.temprature"]),
    "bad expert.llm value": lambda t: (run(t, TINY_CFG + "expert:\n  llm:\n    endpoint: grpc\n"), ["c.yaml:12:", "expert.llm.endpoint"]),
    "unknown expert module": lambda t: (run(t, TINY_CFG + "expert: {feedback: oracle}\n"), ["c.yaml:10:", "expert.feedback"]),
    "unknown task": lambda t: (run(t, TINY_CFG.replace("multistep_arithmetic", "chess")), ["c.yaml:1:", "task", "chess"]),
    "tiny model heads do not divide width": lambda t: (run(t, TINY_CFG.replace("num_heads: 2", "num_heads: 3")), ["c.yaml:3:", "model.tiny", "num_heads"]),
    "tiny model zero layers": lambda t: (run(t, TINY_CFG.replace("num_layers: 1", "num_layers: 0")), ["c.yaml:", "model.tiny.num_layers"]),
    "zero training problems": lambda t: (run(t, TINY_CFG.replace("train_problems: 4", "train_problems: 0")), ["c.yaml:5:", "data.train_problems"]),
    "--set through a scalar": lambda t: (run(t, TINY_CFG, "--set", "sft.steps.x=1"), ["--set sft.steps.x", "sft.steps holds a value, not a section"]),
    "--set unparsable value": lambda t: (run(t, TINY_CFG, "--set", "sft.lr=[1"), ["--set sft.lr", "invalid YAML"]),
    "--set bad value blames --set": lambda t: (["demo", "--out", str(t / "rd"), "--set", "sft.lr=fast"], ["--set sft.lr", "sft.lr", "valid number"]),
    "--set without =": lambda t: (run(t, TINY_CFG, "--set", "sft.lr"), ["--set", "KEY=VALUE"]),
    "--concurrency flag is blamed": lambda t: (run(t, TINY_CFG, "--concurrency", "0"), ["--concurrency", "greater than 0"]),
    # eval arguments
    "eval batch size 0": lambda t: (evaluate(t, "--batch-size", "0"), ["--batch-size", "greater than or equal to 1"]),
    "eval negative rounds": lambda t: (evaluate(t, "--rounds", "-1"), ["--rounds", "greater than or equal to 0"]),
    "eval zero token budget": lambda t: (evaluate(t, "--max-new-tokens", "0"), ["--max-new-tokens"]),
    "feedback --timeout 0": lambda t: (feedback(w(t / "in.jsonl", json.dumps({"question": Q, "attempt": "x"}) + "\n"), "--expert", "llm", "--timeout", "0"), ["--timeout", "greater than 0"]),
    # custom task configs
    "task YAML is a list": lambda t: (custom(t, "- name: x\n- problems: p.jsonl\n"), ["task.yaml", "mapping"]),
    "task YAML invalid": lambda t: (custom(t, "name: [x\n"), ["task.yaml:", "invalid YAML"]),
    "task YAML unknown key": lambda t: (custom(t, "name: x\nproblems: p.jsonl\nbogus: 1\n"), ["task.yaml:3:", "bogus", "Extra inputs"]),
    "task YAML duplicate key": lambda t: (custom(t, "name: x\nname: y\nproblems: p.jsonl\n"), ["task.yaml:2:", "duplicate key"]),
    # a run directory damaged by a crash or by hand
    "corrupt manifest": corrupt_manifest,
    "stage JSONL cut at a line boundary": cut_stage_file,
    "stage JSONL corrupt line": corrupt_stage_line,
    "corrupt checkpoint": corrupt_checkpoint,
    "corrupt eval --model checkpoint": corrupt_eval_model,
    "corrupt LLM cache": corrupt_llm_cache,
}  # fmt: skip


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under ``root``."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("name", list(ROWS))
def test_hostile_input_is_one_line_exit_2_and_leaves_nothing(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    argv, words = ROWS[name](tmp_path)
    before = tree(tmp_path)
    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("tripost: error: "), err
    assert "Traceback" not in err + out
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert tree(tmp_path) == before  # no output, no temporary file, no folder, nothing changed


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_data_file(tmp_path, capsys):
    p = problems(tmp_path)
    p.chmod(0)
    assert main(solve(p)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(p) in err[0] and "ermission" in err[0]


def test_console_script_prints_no_traceback(tmp_path):
    """The same contract through the real entry point, in a fresh process."""
    argv, words = non_utf8(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "tripost.cli", *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert all(word in line for word in words)


def test_a_deleted_stage_file_is_redone(tmp_path):
    """The recovery the errors recommend: deleting a stage's file redoes that stage."""
    from tripost.rundir import RunDir

    rd = RunDir(tmp_path / "rd")
    rd.write_jsonl("a/x.jsonl", [{"i": 1}, {"i": 2}])
    rd.mark("a", {})
    assert RunDir(tmp_path / "rd").read_jsonl("a/x.jsonl") == [{"i": 1}, {"i": 2}]
    (tmp_path / "rd" / "a" / "x.jsonl").write_text('{"i": 1}\n')
    with pytest.raises(ValueError, match="has 1 rows, the manifest recorded 2"):
        RunDir(tmp_path / "rd").read_jsonl("a/x.jsonl")
    (tmp_path / "rd" / "a" / "x.jsonl").unlink()
    assert RunDir(tmp_path / "rd").missing_outputs("a") == ["a/x.jsonl"]


def test_strict_json_and_no_tmp_after_a_failed_rename(tmp_path, monkeypatch):
    from tripost import rundir

    rd = rundir.RunDir(tmp_path / "rd")
    rd.write_json("r.json", {"loss": float("nan"), "x": [float("inf"), 1.5]})
    text = (tmp_path / "rd" / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "x": [None, 1.5]}

    def fail(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(rundir.os, "replace", fail)
    with pytest.raises(OSError):
        rd.write_jsonl("a.jsonl", [{"a": 1}])
    assert sorted(p.name for p in (tmp_path / "rd").iterdir()) == ["r.json"]


def test_corrupt_cache_rows_are_not_served(tmp_path):
    """A row whose text is not a string (written by hand or by an old bug) is asked again."""
    from tripost.experts.cache import ResponseCache

    cache = ResponseCache(tmp_path)
    db = sqlite3.connect(tmp_path / ResponseCache.FILENAME)
    db.execute("INSERT INTO responses VALUES ('k', 'completion', 'm', X'00ff', NULL, 0, 0, 0)")
    db.commit()
    assert cache.get("k") is None
