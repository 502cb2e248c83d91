"""benchmarks/gpu_demo_sweep.sh on the CPU with two toy jobs and one that fails: one summary line
per job with its exit code and accuracies, and an archive of the runs without checkpoints."""

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.scripts import ROOT

TOY = (
    "--quick --set sft.steps=4 --set data.train_problems=40 --set data.eval_seen=3 "
    "--set data.eval_unseen=2 --set eval.max_new_tokens=8 --set eval.rounds=1"
)


def test_sweep_runs_jobs_in_parallel_and_reports_each(tmp_path: Path):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text(
        f"toy_s0|word_sorting|--seed 0 {TOY}\n"
        f"toy_s1|word_sorting|--seed 1 {TOY}\n"
        "broken|word_sorting|--set sft.steps=-1\n"  # refused at once: exit code 2
    )
    out, work = tmp_path / "out", tmp_path / "work"
    env = {
        **os.environ,
        "OUT": str(out),
        "WORK": str(work),
        "JOBS_FILE": str(jobs),
        "DEVICE": "cpu",
        "LIMIT": "300",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_demo_sweep.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = {line.split()[0]: line for line in (out / "summary.txt").read_text().splitlines()}
    for name in ("toy_s0", "toy_s1"):
        assert " rc   0 " in lines[name], lines[name]
        assert "(4 steps" in lines[name] and re.search(r"seen \d+%  unseen \d+%", lines[name])
    assert " rc   2 " in lines["broken"] and "seen -" in lines["broken"], lines["broken"]
    with tarfile.open(out / "runs.tar.gz") as tar:
        names = tar.getnames()
    assert "./toy_s0/manifest.json" in names and "./toy_s1/eval/sft.metrics.json" in names
    assert not any("checkpoints" in n or n.endswith("train.jsonl") for n in names)
