"""``rollout.backend`` / ``eval.backend: server``: a real ``transformers serve`` (continuous
batching, CPU, loopback) started by tripost from the default command template on each stage's
checkpoint.

- rollouts and evaluation have the count, order and format of the in-process backend's (a LoRA
  checkpoint, merged for the server; a tokenizer that adds BOS: the server reads the prompt as
  the same tokens);
- a command that fails to start is one line and exit 2, with the server's last log lines;
- a server killed mid-stage is restarted and only the missing prompts are sent again; answers
  received before (also by an earlier run) are kept;
- Ctrl-C to ``python -m tripost run`` leaves no server process behind.

The default template is used with ``--cb-num-blocks`` appended: on a CPU, transformers'
continuous batching otherwise reserves 60 % of the free RAM for its KV cache.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.real_model import build_checkpoint, task_texts
from tests.toy import ToyTask
from tripost import tasks
from tripost.cli import main
from tripost.config import load_config
from tripost.loop import evaluate, make_data, sample_rollouts, stage, train_sft
from tripost.methods import Iteration
from tripost.policy.server import DEFAULT_COMMAND, _key
from tripost.rundir import RunDir
from tripost.tasks import get_task
from tripost.trajectory import render_prompt

pytestmark = pytest.mark.server
for _module in ("fastapi", "uvicorn"):
    pytest.importorskip(_module, reason="needs transformers[serving]")

COMMAND = DEFAULT_COMMAND + " --cb-num-blocks 64"
TASK = get_task("multistep_arithmetic")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        monkeypatch.setenv(k, "1")


def group_members(pgid: int) -> list[int]:
    """Pids of live (not zombie) processes in process group ``pgid``."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(d.name))
    return pids


def server_processes(root: Path) -> list[int]:
    """Pids of live processes whose command line names something under ``root``."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(root) in cmd and "serve" in cmd and state != "Z":
            pids.append(int(d.name))
    return pids


def prepared(root: Path, overrides: dict, task=TASK):
    """A run directory with its data and SFT checkpoint."""
    cfg = load_config(None, overrides)
    rd = RunDir(root)
    stage(rd, "data", lambda: make_data(rd, task, cfg))
    stage(rd, "sft", lambda: train_sft(rd, task, cfg))
    return cfg, rd


def test_server_rollouts_and_evaluation_follow_the_in_process_contract(tmp_path):
    ckpt = build_checkpoint(tmp_path / "llama", task_texts(TASK, 100))
    base = {
        "task": "multistep_arithmetic",
        "model": {"path": str(ckpt), "device": "cpu", "threads": 1, "lora": {"r": 4}},
        "data": {"train_problems": 16, "eval_seen": 3, "eval_unseen": 2},
        "sft": {"steps": 2, "batch_size": 2, "micro_batch_size": 2, "log_every": 0},
        "rollout": {"problems": 6, "max_new_tokens": 24, "batch_size": 6},
        "eval": {"rounds": 1, "max_new_tokens": 24, "batch_size": 8},
        "server.command": COMMAND,
    }
    cfg, rd = prepared(tmp_path / "run", base)
    assert (rd.root / "checkpoints" / "sft" / "adapter_config.json").exists()  # LoRA
    hf_info = sample_rollouts(rd, TASK, cfg, Iteration("tripost", 1))
    evaluate(rd, TASK, cfg, "sft", "sft", 0)
    hf = {
        "rollouts": rd.read_jsonl("iter1/rollouts.jsonl"),
        "eval": rd.read_jsonl("eval/sft.jsonl"),
        "metrics": rd.read_json("eval/sft.metrics.json"),
    }
    served = cfg.model_copy(
        update={
            "rollout": cfg.rollout.model_copy(update={"backend": "server"}),
            "eval": cfg.eval.model_copy(update={"backend": "server"}),
        }
    )
    info = sample_rollouts(rd, TASK, served, Iteration("tripost", 1))
    evaluate(rd, TASK, served, "sft", "sft", 0)
    rollouts = rd.read_jsonl("iter1/rollouts.jsonl")
    outcomes = rd.read_jsonl("eval/sft.jsonl")
    metrics = rd.read_json("eval/sft.metrics.json")

    assert info["rollouts"] == hf_info["rollouts"] == 6
    assert info["server"]["requests"] == 6 and info["server"]["restarts"] == 0
    assert info["server"]["prompt_mismatches"] == 0  # the same tokens as in-process: BOS once
    assert [r["problem"] for r in rollouts] == [r["problem"] for r in hf["rollouts"]]
    assert all(set(r) == {"problem", "rollout"} and isinstance(r["rollout"], str) for r in rollouts)
    assert any(r["rollout"] for r in rollouts)
    assert [o["question"] for o in outcomes] == [o["question"] for o in hf["eval"]]
    assert [set(o) for o in outcomes] == [set(o) for o in hf["eval"]]
    assert [(r["split"], r["n"]) for r in metrics["results"]] == [
        (r["split"], r["n"]) for r in hf["metrics"]["results"]
    ]
    assert [set(r) for r in metrics["buckets"]] == [set(r) for r in hf["metrics"]["buckets"]]
    # the merged LoRA checkpoint is gone, the logs stay, no server is left
    server_dir = rd.root / "server"
    assert sorted(p.name for p in server_dir.iterdir()) == ["eval_sft.log", "iter1_rollouts.log"]
    assert "--- start 1: " in (server_dir / "eval_sft.log").read_text()
    assert not list(rd.root.rglob("*.partial.jsonl"))
    assert server_processes(rd.root) == []


TINY = {
    "task": "toy",
    "model": {
        "tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64},
        "threads": 1,
        "device": "cpu",
    },
    "data": {"train_problems": 24, "eval_seen": 2, "eval_unseen": 2},
    "sft": {"steps": 0},  # random weights: every continuation runs to its token budget
    "iterations": 1,
    "rollout": {"problems": 10, "max_new_tokens": 1000, "batch_size": 2, "backend": "server"},
    "eval": {"rounds": 1, "max_new_tokens": 40, "batch_size": 4, "backend": "server"},
    "server": {"command": COMMAND},
}


@pytest.fixture()
def toy_registry(monkeypatch):
    monkeypatch.setitem(tasks.TASKS, "toy", lambda **kw: ToyTask())


def posts_per_start(log: Path) -> list[int]:
    """Answered completion requests in each start's section of a server log."""
    counts: list[int] = []
    for line in log.read_text().splitlines():
        if line.startswith("--- start "):
            counts.append(0)
        elif "POST /v1/completions" in line and " 200" in line:
            counts[-1] += 1
    return counts


def test_server_killed_mid_stage_is_restarted_and_the_stage_resumes(tmp_path, toy_registry):
    cfg, rd = prepared(tmp_path / "run", TINY, ToyTask())
    # two answers an earlier (killed) run received: kept, never asked again
    train = [json.loads(x) for x in (rd.root / "data" / "train.jsonl").read_text().splitlines()]
    prompts = [render_prompt(p["question"]) for p in train[:10]]
    keys = [_key(p, cfg.rollout.sampling()) for p in prompts]
    partial = rd.path("iter1/rollouts.partial.jsonl")
    earlier = {3: "EARLIER-3", 7: "EARLIER-7"}
    partial.write_text(
        "".join(json.dumps({"i": i, "key": keys[i], "text": t}) + "\n" for i, t in earlier.items())
        + '{"i": 5, "key": "torn'  # a line cut by the kill
    )
    killed: list[int] = []

    def kill_after_two_answers() -> None:
        deadline = time.time() + 240
        while time.time() < deadline:
            lines = partial.read_text().splitlines() if partial.exists() else []
            if sum(line.startswith('{"i"') and line.endswith("}") for line in lines) >= 4:
                pids = server_processes(rd.root)
                if pids:
                    os.kill(min(pids), signal.SIGKILL)  # the group leader: the server
                    killed.append(min(pids))
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_two_answers, daemon=True)
    killer.start()
    info = sample_rollouts(rd, ToyTask(), cfg, Iteration("tripost", 1))
    killer.join()
    assert killed, "the server was never killed"
    rows = rd.read_jsonl("iter1/rollouts.jsonl")
    assert len(rows) == 10 and [r["problem"]["question"] for r in rows] == [
        p["question"] for p in train[:10]
    ]
    assert rows[3]["rollout"] == "EARLIER-3" and rows[7]["rollout"] == "EARLIER-7"
    assert info["server"]["restarts"] == 1 and info["server"]["resumed"] == 2
    assert info["server"]["requests"] == 8  # each missing prompt answered exactly once
    first, second = info["server"]["answers_per_start"]
    assert first >= 2 and first + second == 8
    # after the restart only what was missing was asked (the first server may have answered one
    # more that the kill cut off before it arrived: asked again)
    before, after = posts_per_start(rd.root / "server" / "iter1_rollouts.log")
    assert after == second and before >= first
    assert not partial.exists()
    assert server_processes(rd.root) == []


def test_a_server_that_does_not_start_is_one_line_and_exit_2(tmp_path, toy_registry, capsys):
    fail = f"{shlex.quote(sys.executable)} -c \"import sys; print('loading {{model}}'); "
    fail += "print('error: no such option --bogus'); sys.exit(3)\""
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump({**TINY, "server": {"command": fail}}))
    out = tmp_path / "run"
    assert main(["run", "--config", str(cfg_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("tripost: error: server: ") and "exited with code 3" in err[0]
    assert "error: no such option --bogus" in err[0] and "eval_sft.log" in err[0]
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert list(stages) == ["data", "sft"]  # eval/sft: nothing written
    assert not (out / "eval" / "sft.jsonl").exists()

    # a program that is not there: found out before anything is written
    missing = "no-such-inference-server serve {model} --port {port}"
    args = ["run", "--config", str(cfg_path), "--out", str(tmp_path / "run2")]
    assert main([*args, "--set", f"server.command={missing}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "tripost: error: server.command: 'no-such-inference-server' not found (install it, or "
        "set server.command)"
    ]
    assert not (tmp_path / "run2").exists()


def test_ctrl_c_leaves_no_server_process(tmp_path):
    cfg = dict(TINY)
    cfg.update(
        task="multistep_arithmetic", data={"train_problems": 8, "eval_seen": 64, "eval_unseen": 0}
    )
    cfg["eval"] = {"rounds": 1, "max_new_tokens": 2000, "batch_size": 1, "backend": "server"}
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tripost", "run", "--config", str(cfg_path), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(  # Ctrl-C's default action, whatever this process inherited
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.time() + 240
        pids: list[int] = []
        log = out / "server" / "eval_sft.log"
        while time.time() < deadline and proc.poll() is None:
            pids = server_processes(out)
            if pids and log.exists() and "POST /v1/completions" in log.read_text():
                break  # answering: mid-stage
            time.sleep(0.1)
        assert pids and proc.poll() is None, "the server never answered"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert server_processes(out) == []
    for pid in pids:  # the server's whole process group is gone (a zombie is dead too: in a
        # container whose init does not reap, an orphan's zombie can outlive the test)
        assert group_members(pid) == []
