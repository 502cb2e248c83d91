"""A full (tiny) TriPosT run in a temporary directory: data -> SFT -> one iteration of
rollouts, editing, post-processing, training, evaluation -> compute-matched control -> report;
then resume after a simulated kill."""

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.toy import ToyTask
from tripost import tasks
from tripost.config import load_config
from tripost.loop import run_tripost

TINY = {
    "task": "toy",
    "model.tiny": {"hidden_size": 48, "num_layers": 2, "num_heads": 2, "intermediate_size": 128},
    "model.threads": 2,
    "data": {"train_problems": 120, "eval_seen": 12, "eval_unseen": 8},
    "sft": {
        "steps": 200,
        "batch_size": 16,
        "micro_batch_size": 16,
        "lr": 1e-2,
        "bf16": False,
        "log_every": 0,
    },
    "iterations": 1,
    "rollout": {"problems": 48, "temperature": 1.0, "max_new_tokens": 160, "batch_size": 48},
    "train": {
        "steps": 10,
        "batch_size": 8,
        "micro_batch_size": 4,
        "lr": 1e-3,
        "bf16": False,
        "log_every": 0,
    },
    "eval": {"rounds": 1, "max_new_tokens": 200, "batch_size": 32},
}


@pytest.fixture()
def toy_registry(monkeypatch):
    monkeypatch.setitem(tasks.TASKS, "toy", lambda **kw: ToyTask())


def test_one_full_iteration_writes_every_stage_and_a_report(tmp_path, toy_registry):
    report = run_tripost(load_config(None, TINY), tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stages = list(manifest["stages"])
    assert stages == [
        "data",
        "sft",
        "eval/sft",
        "iter1/rollouts",
        "iter1/edit",
        "iter1/train_set",
        "iter1/train",
        "eval/iter1",
        "sft_more/train",
        "eval/sft_more",
        "report",
    ]
    methods = {(r["method"], r["iteration"], r["split"]) for r in report["results"]}
    assert {("sft", 0, "seen"), ("tripost", 1, "unseen"), ("sft_more", 0, "total")} <= methods
    for r in report["results"]:
        assert 0.0 <= r["accuracy"] <= 1.0 and r["n"] > 0
    # every rollout is accounted for: edited, directly correct, critique-only or dropped
    edit = manifest["stages"]["iter1/edit"]
    assert sum(v for k, v in edit.items() if k.startswith("n_")) == 48
    assert edit.get("n_improved", 0) > 0, "the expert should have fixed some rollouts"
    # the rollouts contained errors that the expert fixed, so the iteration trained on them
    assert manifest["stages"]["iter1/train_set"]["kept_improvement"] > 0
    assert manifest["stages"]["iter1/train"]["steps"] == 10
    assert manifest["stages"]["sft_more/train"]["steps"] == 10  # compute-matched
    # checkpoints are normal HF checkpoints
    ckpt = tmp_path / "checkpoints" / "iter1"
    AutoModelForCausalLM.from_pretrained(ckpt)
    tok = AutoTokenizer.from_pretrained(ckpt)
    assert tok.decode(tok.encode("Q: (1 + 2)", add_special_tokens=False)) == "Q: (1 + 2)"
    for name in (
        "report.json",
        "report.md",
        "accuracy.png",
        "config.yaml",
        "iter1/edits.jsonl",
        "iter1/train.jsonl",
        "eval/iter1.jsonl",
    ):
        assert (tmp_path / name).exists(), name
    assert "Verdict" in (tmp_path / "report.md").read_text()


def test_rerun_resumes_at_the_unfinished_stage(tmp_path, toy_registry):
    cfg = load_config(None, TINY)
    run_tripost(cfg, tmp_path)
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    before = {k: v["finished_at"] for k, v in manifest["stages"].items()}
    # simulate a kill during training of iteration 1: later stages never finished
    for name in ["iter1/train", "eval/iter1", "sft_more/train", "eval/sft_more", "report"]:
        del manifest["stages"][name]
    manifest_path.write_text(json.dumps(manifest))
    (tmp_path / "report.json").unlink()
    run_tripost(cfg, tmp_path)
    after = {
        k: v["finished_at"] for k, v in json.loads(manifest_path.read_text())["stages"].items()
    }
    for name in ["data", "sft", "eval/sft", "iter1/rollouts", "iter1/edit", "iter1/train_set"]:
        assert after[name] == before[name], f"{name} was redone"
    assert after["iter1/train"] > before["iter1/train"]
    assert (tmp_path / "report.json").exists()


def test_a_run_directory_refuses_another_config(tmp_path, toy_registry):
    run_tripost(
        load_config(None, {**TINY, "sft.steps": 0, "iterations": 0, "sft_more": False}), tmp_path
    )
    with pytest.raises(ValueError, match="another config"):
        run_tripost(
            load_config(None, {**TINY, "sft.steps": 0, "iterations": 0, "seed": 3}), tmp_path
        )


def test_rerun_of_llm_editing_makes_no_repeated_calls(tmp_path, toy_registry, make_stub):
    """Scripted feedback + LLM improvement (the paper's mix) through a local OpenAI-compatible
    server; after a simulated kill, re-running the edit stage with the server switched off is
    served entirely from the run's cache and gives the same edits."""
    server = make_stub()
    overrides = {
        **TINY,
        "sft_more": False,
        "expert.improvement": "llm",
        "expert.llm": {"base_url": server.url, "model": "stub", "concurrency": 4},
    }
    cfg = load_config(None, overrides)
    run_tripost(cfg, tmp_path)
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    first = manifest["stages"]["iter1/edit"]["expert_improvement"]
    assert first["calls"] > 0 and server.requests > 0
    edits = (tmp_path / "iter1" / "edits.jsonl").read_text()
    server.stop()
    for name in ["iter1/edit", "iter1/train_set", "iter1/train", "eval/iter1", "report"]:
        del manifest["stages"][name]
    manifest_path.write_text(json.dumps(manifest))
    run_tripost(cfg, tmp_path)
    second = json.loads(manifest_path.read_text())["stages"]["iter1/edit"]["expert_improvement"]
    assert second["calls"] == 0 and second["cache_hits"] >= first["calls"]
    assert (tmp_path / "iter1" / "edits.jsonl").read_text() == edits


def test_word_tokenizer_run_takes_its_words_from_the_training_texts(tmp_path, toy_registry):
    cfg = load_config(None, {**TINY, "model.tiny.tokenizer": "word", "sft_more": False})
    report = run_tripost(cfg, tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path / "checkpoints" / "iter1")
    pieces = tok.convert_ids_to_tokens(tok.encode("Add 3, 4 and 5.", add_special_tokens=False))
    assert pieces == ["Add", " ", "3", ",", " ", "4", " ", "and", " ", "5", "."]
    assert {r["method"] for r in report["results"]} == {"sft", "tripost"}


@pytest.mark.parametrize("feedback_words", [False, True])
def test_feedback_words_become_tokens_only_when_asked(tmp_path, toy_registry, feedback_words):
    # SFT on gold answers never shows the feedback format's words; with model.tiny.feedback_words
    # the tokenizer takes them from the scripted expert's demonstrations as well
    over = {"model.tiny.tokenizer": "word", "model.tiny.feedback_words": feedback_words}
    cfg = load_config(None, {**TINY, **over, "methods": ["sft"], "sft.steps": 2, "iterations": 0})
    run_tripost(cfg, tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path / "checkpoints" / "sft")
    for word in ("Feedback", "correct", "incorrect", "because"):
        pieces = tok.convert_ids_to_tokens(tok.encode(word, add_special_tokens=False))
        assert pieces == ([word] if feedback_words else list(word))


def test_copy_stage_runs_before_sft_with_the_word_tokenizer(tmp_path, toy_registry):
    over = {"model.tiny.tokenizer": "word", "model.tiny.copy_steps": 4, "methods": ["sft"]}
    over["model.tiny.copy_mix"] = 0.2
    cfg = load_config(None, {**TINY, **over, "sft.steps": 5, "iterations": 0})
    report = run_tripost(cfg, tmp_path)
    sft = json.loads((tmp_path / "manifest.json").read_text())["stages"]["sft"]
    assert sft["copy_steps"] == 4 and sft["copy_tokens"] >= 4 * 16 * 200 and sft["steps"] == 5
    n_train = len((tmp_path / "data" / "train.jsonl").read_text().splitlines())
    assert sft["copy_mix_samples"] == round(n_train * 0.2 / 0.8)
    assert [r["method"] for r in report["results"]] == ["sft"] * len(report["results"])
