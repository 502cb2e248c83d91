"""One writer per run directory (two real processes), and secrets in a config refused before
anything is written, without being echoed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tripost.cli import main
from tripost.rundir import LOCK_NAME, RunDir, RunDirError

CFG = """\
task: multistep_arithmetic
model:
  tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}
data: {train_problems: 4, eval_seen: 2, eval_unseen: 1}
sft: {steps: 1, batch_size: 2, micro_batch_size: 2, bf16: false, log_every: 0}
iterations: 0
sft_more: false
"""

HOLDER = """
import sys
from tripost.rundir import RunDir
rd = RunDir(sys.argv[1], lock=True)
print("locked", flush=True)
sys.stdin.read()
"""


def test_second_process_refuses_at_once_naming_the_holder_and_a_stale_lock_is_taken(tmp_path):
    out = tmp_path / "rd"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CFG)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "tripost.cli", "run", "--config", str(cfg), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        elapsed = time.monotonic() - t0
        assert second.returncode == 2, second.stderr
        [line] = second.stderr.strip().splitlines()
        assert f"pid {holder.pid}" in line and str(out / LOCK_NAME) in line and "in use" in line
        assert "Traceback" not in second.stderr
        # it refused before doing anything: no data, no config, no manifest
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
        assert elapsed < 120  # at once: the time is the interpreter's imports, no stage ran
        with pytest.raises(RunDirError, match=f"pid {holder.pid}"):
            RunDir(out, lock=True)  # this process too
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: the lock file stays behind
        holder.wait()
    assert f"pid {holder.pid}" in (out / LOCK_NAME).read_text()
    rd = RunDir(out, lock=True)  # stale: the holder is gone
    assert f"pid {os.getpid()}" in (out / LOCK_NAME).read_text()
    rd.release()
    assert not (out / LOCK_NAME).exists()


SECRET = "sk-proj-Zq8Xw3Vb7Nn1Mm2Ll4Kk6Jj9Hh0Gg"


@pytest.mark.parametrize(
    "extra,args,field",
    [
        (f"expert:\n  feedback: llm\n  llm:\n    api_key: {SECRET}\n", [], "expert.llm.api_key"),
        (
            f"expert:\n  llm:\n    extra_body: {{token: {SECRET}}}\n",
            [],
            "expert.llm.extra_body.token",
        ),
        (f"task_options: {{hint: {SECRET}}}\n", [], "task_options.hint"),
        ("", ["--set", f"expert.llm.password={SECRET}"], "expert.llm.password"),
        ("", ["--set", f"expert.llm.extra_body.Authorization=Bearer {SECRET}"], "Authorization"),
    ],
)
def test_secret_in_config_is_refused_before_anything_is_written(
    tmp_path, capsys, caplog, extra, args, field
):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CFG + extra)
    out = tmp_path / "rd"
    rc = main(["run", "--config", str(cfg), "--out", str(out), *args])
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert rc == 2
    [line] = captured.err.strip().splitlines()
    assert field in line and "secret" in line and "value not shown" in line
    assert SECRET not in text and SECRET[:10] not in text
    assert not out.exists()  # nothing written, not even the run directory
    for p in tmp_path.rglob("*"):
        if p.is_file() and p != cfg:
            assert SECRET.encode() not in p.read_bytes(), p


def test_names_of_secrets_are_fine(tmp_path):
    """``api_key_env`` names a variable and ``max_tokens`` counts tokens: neither is a secret."""
    from tripost.config import find_secrets, load_config

    cfg = load_config(
        None, {"expert.llm.api_key_env": "MY_KEY", "expert.llm.max_tokens": 64, "seed": 1}
    )
    assert cfg.expert.llm.api_key_env == "MY_KEY" and cfg.expert.llm.max_tokens == 64
    harmless = {"eos_token": "</s>", "pad_token_id": 0, "max_new_tokens": 9, "bypass": "x"}
    assert find_secrets({"model": harmless, "note": "sk-short"}) == []
    secret = {"hf_token": "abc", "x": {"client_secret": "abc"}, "y": ["hf_" + "a" * 30]}
    assert find_secrets(secret) == [("hf_token",), ("x", "client_secret"), ("y", "0")]


def test_lock_is_released_after_a_run_error(tmp_path):
    """A run that fails releases its lock, so the next command is not refused."""
    out = tmp_path / "rd"
    out.mkdir()
    (out / "manifest.json").write_text("{")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CFG)
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 2
    assert not (out / LOCK_NAME).exists()
    (out / "manifest.json").unlink()  # the recovery the error names
    RunDir(out, lock=True).release()


def test_unique_temporary_names_per_writer(tmp_path, monkeypatch):
    """Two writers of the same file never share a temporary name."""
    from tripost import rundir

    seen = []
    real = rundir.os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        real(src, dst)

    monkeypatch.setattr(rundir.os, "replace", spy)
    a, b = RunDir(tmp_path), RunDir(tmp_path)
    a.write_text("x.txt", "a")
    b.write_text("x.txt", "b")
    assert len(set(seen)) == 2 and all(str(os.getpid()) in n for n in seen)
