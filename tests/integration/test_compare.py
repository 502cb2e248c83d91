"""``tripost compare`` at toy size: every method for 2 seeds, killed during the second seed and
resumed; then the CLI's errors for bad methods."""

import json

import pytest

from tests.toy import ToyTask
from tripost import loop, tasks
from tripost.cli import main
from tripost.compare import SPLITS
from tripost.compare_run import run_compare
from tripost.config import ConfigError, load_config
from tripost.loop import run_tripost
from tripost.methods import METHODS

SMALL = {
    "task": "toy",
    "model.tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64},
    "model.threads": 1,
    "data": {"train_problems": 40, "eval_seen": 6, "eval_unseen": 4},
    "sft": {
        "steps": 100,
        "batch_size": 8,
        "micro_batch_size": 8,
        "lr": 2e-2,
        "bf16": False,
        "log_every": 0,
    },
    "iterations": 1,
    "rollout": {"problems": 12, "temperature": 1.0, "max_new_tokens": 80, "batch_size": 24},
    "train": {
        "steps": 3,
        "batch_size": 8,
        "micro_batch_size": 8,
        "lr": 1e-3,
        "bf16": False,
        "log_every": 0,
    },
    "eval": {"rounds": 1, "max_new_tokens": 100, "batch_size": 16},
    "lmsi": {"samples": 3},
}


@pytest.fixture()
def toy_registry(monkeypatch):
    monkeypatch.setitem(tasks.TASKS, "toy", lambda **kw: ToyTask())


def _stages(path):
    return json.loads((path / "manifest.json").read_text())["stages"]


def test_compare_two_seeds_killed_and_resumed(tmp_path, toy_registry, monkeypatch):
    cfg = load_config(None, SMALL)
    evaluate = loop.evaluate

    def killed_at_seed1_lmsi(rd, task, cfg, ckpt, *a):
        if rd.root.name == "seed1" and ckpt == "lmsi":
            raise KeyboardInterrupt  # what Ctrl-C or a kill -INT raises in the middle of a stage
        return evaluate(rd, task, cfg, ckpt, *a)

    monkeypatch.setattr(loop, "evaluate", killed_at_seed1_lmsi)
    with pytest.raises(KeyboardInterrupt):
        run_compare(cfg, tmp_path, 2, list(METHODS))
    assert not (tmp_path / "compare.json").exists()
    before = {s: _stages(tmp_path / f"seed{s}") for s in (0, 1)}
    assert "report" in before[0] and "lmsi/train" in before[1]
    assert "eval/lmsi" not in before[1] and "report" not in before[1]

    monkeypatch.setattr(loop, "evaluate", evaluate)
    result = run_compare(cfg, tmp_path, 2, list(METHODS))
    after = {s: _stages(tmp_path / f"seed{s}") for s in (0, 1)}
    # the re-run finished only what was missing
    for s in (0, 1):
        for name, info in before[s].items():
            assert after[s][name]["finished_at"] == info["finished_at"], f"seed{s} {name} redone"
    assert set(after[1]) - set(before[1]) == {"eval/lmsi", "report"}

    stages = after[0]
    # every method's stage family; TriPosT-auto's first iteration reuses TriPosT's edits
    for name in [
        "eval/sft",
        "iter1/train",
        "eval/iter1",
        "auto_iter1/train_set",
        "eval/auto_iter1",
        "sft_more/train",
        "eval/sft_more",
        "sft_si_demos/demos",
        "sft_si_demos/train",
        "eval/sft_si_demos",
        "lmsi/samples",
        "lmsi/train_set",
        "lmsi/train",
        "eval/lmsi",
    ]:
        assert name in stages, name
    assert "auto_iter1/rollouts" not in stages
    # tripost_auto keeps every sample (ratio null), tripost rebalances
    auto, tp = stages["auto_iter1/train_set"], stages["iter1/train_set"]
    assert auto["kept_gold"] == auto["available_gold"] > tp["kept_gold"]
    # compute-matched: as many optimizer steps as the TriPosT iteration
    matched = stages["iter1/train"]["steps"]
    assert matched == 3
    assert stages["sft_more/train"]["steps"] == stages["sft_si_demos/train"]["steps"] == matched
    assert stages["lmsi/train"]["steps"] == (
        matched if stages["lmsi/train_set"]["kept_samples"] else 0
    )
    assert stages["sft_si_demos/demos"]["demos"] == 12
    assert stages["lmsi/samples"]["samples"] == 12 * 3

    # compare.json
    on_disk = json.loads((tmp_path / "compare.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert {r["seed"] for r in result["runs"]} == {0, 1}
    models = {("sft", 0), ("tripost", 1), ("tripost_auto", 1), ("sft_more", 0)}
    models |= {("sft_si_demos", 0), ("lmsi", 0)}
    assert {(r["method"], r["iteration"]) for r in result["summary"]} == models
    for r in result["summary"]:
        assert r["n_seeds"] == 2
        accs = [
            x["accuracy"]
            for x in result["runs"]
            if x["method"] == r["method"] and x["split"] == r["split"]
        ]
        assert r["accuracy_mean"] == pytest.approx(sum(accs) / 2)
    paired = {(p["method"], p["split"]): p for p in result["paired"]}
    assert set(paired) == {(m, s) for m, _ in models - {("sft_more", 0)} for s in SPLITS}
    for p in paired.values():
        assert p["low"] <= p["difference"] <= p["high"] and p["n_seeds"] == 2
        assert p["n_questions"] == (
            20 if p["split"] == "total" else 12 if p["split"] == "seen" else 8
        )
    md = (tmp_path / "compare.md").read_text()
    for m in METHODS:
        assert f"| {m} |" in md
    assert sum(line.startswith("- ") and "sft_more" in line for line in md.splitlines()) == 5
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_cli_rejects_bad_methods_with_one_line(tmp_path, capsys):
    assert main(["compare", "--quick", "--out", str(tmp_path / "c"), "--methods", "sft,lmsj"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tripost: error: --methods: unknown method 'lmsj'") and "\n" not in err
    assert not (tmp_path / "c").exists()
    assert main(["compare", "--out", str(tmp_path / "c"), "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err and not (tmp_path / "c").exists()
    for command in (["demo", "--quick"], ["run", "--config", str(tmp_path / "none.yaml")]):
        assert main([*command, "--out", str(tmp_path / "r"), "--methods", "tripost,sft,,x"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == "tripost: error: --methods: unknown method 'x'; known: " + ", ".join(METHODS)
        assert not (tmp_path / "r").exists()


def test_a_compute_matched_method_needs_tripost_or_fixed_steps(tmp_path, toy_registry):
    cfg = load_config(None, {**SMALL, "methods": ["sft", "lmsi"], "train.steps": None})
    with pytest.raises(ConfigError, match="lmsi is compute-matched to tripost"):
        run_tripost(cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()


CLI_CFG = """
task: multistep_arithmetic
model:
  tiny: {hidden_size: 32, num_layers: 1, num_heads: 2, intermediate_size: 64}
  threads: 1
data: {train_problems: 32, eval_seen: 4, eval_unseen: 2}
sft: {steps: 5, batch_size: 4, micro_batch_size: 4, lr: 1.0e-3, bf16: false, log_every: 0}
iterations: 1
rollout: {problems: 8, max_new_tokens: 30, batch_size: 8}
train: {steps: 2, batch_size: 4, micro_batch_size: 4, bf16: false, log_every: 0}
eval: {rounds: 1, max_new_tokens: 30, batch_size: 8}
lmsi: {samples: 2}
"""


def test_compare_command_on_a_builtin_task(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CLI_CFG)
    out = tmp_path / "cmp"
    argv = ["compare", "--config", str(cfg), "--seeds", "1", "--out", str(out)]
    assert main([*argv, "--methods", "sft,sft_si_demos,sft_more,tripost"]) == 0
    printed = capsys.readouterr().out
    assert "| sft_si_demos | 0 |" in printed and f"wrote {out}/compare.json" in printed
    stages = _stages(out / "seed0")
    assert "lmsi/samples" not in stages and "auto_iter1/train_set" not in stages
    # the expert's demonstrations on the arithmetic task: one per problem it could break and fix
    assert stages["sft_si_demos/demos"]["demos"] >= 7
    result = json.loads((out / "compare.json").read_text())
    assert result["methods"] == ["sft", "tripost", "sft_more", "sft_si_demos"]
    # the same command with one more method adds only that method's stages
    assert main([*argv, "--methods", "sft,sft_si_demos,sft_more,tripost,lmsi"]) == 0
    again = _stages(out / "seed0")
    assert set(again) - set(stages) == {"lmsi/samples", "lmsi/train_set", "lmsi/train", "eval/lmsi"}
    assert all(
        again[k]["finished_at"] == v["finished_at"] for k, v in stages.items() if k != "report"
    )
    assert again["report"]["methods"][-1] == "lmsi"
    result = json.loads((out / "compare.json").read_text())
    assert {r["method"] for r in result["runs"]} == {
        "sft",
        "tripost",
        "sft_more",
        "sft_si_demos",
        "lmsi",
    }
