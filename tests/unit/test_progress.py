"""Progress bars (off when stderr is not a terminal unless asked), stage summaries, and the
training curves kept in the run directory."""

import json
import logging
import time

import pytest

from tripost import progress, tracking
from tripost.cli import main
from tripost.policy.model import TinyModelConfig, build_tiny_policy
from tripost.training import Sample, TrainConfig, train_policy


@pytest.fixture(autouse=True)
def _reset():
    yield
    progress.configure(None)
    tracking.configure(None)


def test_bars_are_off_when_stderr_is_not_a_terminal(capsys):
    progress.configure(None)  # auto; pytest's captured stderr is not a terminal
    bar = progress.progress(10, unit="step")
    for _ in range(10):
        bar.update(1, tokens=100, loss=1.5)
    bar.close()
    assert capsys.readouterr().err == ""
    assert bar.done == 10 and bar.tokens == 1000 and bar.fields == {"loss": 1.5}


def test_bars_drawn_when_asked_and_labelled_with_the_stage(capsys):
    progress.configure(True)
    with progress.current_stage("iter1/rollouts"):
        with progress.progress(4, unit="seq") as bar:
            bar.update(2, tokens=1000)
            time.sleep(0.2)  # tqdm redraws at most every 0.1 s
            bar.update(2, tokens=1000)
    err = capsys.readouterr().err
    assert "iter1/rollouts" in err and "4/4" in err and "tok/s" in err


def test_quiet_turns_bars_and_info_off(capsys):
    assert main(["--quiet", "tasks"]) == 0
    assert not progress.bars_enabled()
    progress.configure(True)
    assert main(["tasks", "--quiet"]) == 0  # after the command name too
    assert not progress.bars_enabled()
    assert main(["--progress", "tasks"]) == 0
    assert progress.bars_enabled()


@pytest.mark.parametrize(
    "stage, info, expected",
    [
        ("iter2/train", {"steps": 0, "tokens": 0, "seconds": 0.0}, "trained on nothing"),
        (
            "sft",
            {"steps": 100, "tokens": 50000, "final_loss": 0.51, "seconds": 10.0},
            "100 steps, 50,000 tokens, final loss 0.510 (5.0k tokens/s)",
        ),
        (
            "iter2/edit",
            {"n_dropped": 9, "n_direct": 1, "drop_reasons": {"malformed attempt": 9}},
            "9 dropped (9 malformed attempt) - WARNING: most of the 10 rollouts were dropped",
        ),
        (
            "iter1/train_set",
            {"kept_improvement": 0, "kept_non_improvement": 0, "kept_gold": 0},
            "WARNING: nothing to train on",
        ),
        (
            "lmsi/train_set",
            {"voted": 194, "vote_correct": 109, "kept_samples": 298},
            "194 questions with a majority answer (109 of them right), 298 samples",
        ),
        (
            "lmsi/train_set",
            {"voted": 0, "vote_correct": 0, "kept_samples": 0},
            "0 samples - WARNING: nothing to train on",
        ),
        ("eval/sft", {"seen_accuracy": 0.25, "seconds": 2.0}, "seen accuracy 25.0%"),
    ],
)
def test_one_summary_line_per_stage(stage, info, expected):
    line = progress.summary(stage, info)
    assert line.startswith(f"[{stage}] done in") and expected in line and "\n" not in line


def test_summary_of_a_useful_stage_has_no_warning():
    assert "WARNING" not in progress.summary("iter1/edit", {"n_improved": 5, "n_dropped": 1})


def test_training_curves_are_written_inside_a_stage_only(tmp_path):
    policy = build_tiny_policy(
        TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    )
    samples = [Sample((("Q: 1 + 1 =\n", 0.0), ("(Final response) So the answer is 2.", 1.0)))]
    cfg = TrainConfig(steps=5, batch_size=2, micro_batch_size=2, bf16=False, log_every=2)
    train_policy(policy, samples, cfg)  # outside a stage: nothing is written anywhere
    assert not (tmp_path / "logs").exists()
    with tracking.logging_to(tmp_path, "iter1/train"):
        train_policy(policy, samples, cfg)
    rows = [
        json.loads(x) for x in (tmp_path / "logs" / "iter1.train.jsonl").read_text().splitlines()
    ]
    assert [r["step"] for r in rows] == [2, 4, 5]  # every 2 steps and the last
    for r in rows:
        assert r["total"] == 5 and r["loss"] > 0 and r["lr"] > 0 and r["tokens_per_s"] > 0
    assert tracking.read_curves(tmp_path)["iter1/train"] == rows


def test_missing_tracker_package_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(tracking.TRACKERS, "wandb", "tripost_test_no_such_package")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("iterations: 1\n")
    code = main(
        ["run", "--config", str(cfg), "--output", str(tmp_path / "r"), "--report-to", "wandb"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err == (
        "tripost: error: --report-to wandb: the package 'tripost_test_no_such_package' is not "
        "installed (pip install 'tripost[track]')\n"
    )
    assert not (tmp_path / "r" / "manifest.json").exists()


def test_report_to_sends_the_curves_to_an_accelerate_tracker(tmp_path, monkeypatch):
    """The wiring to accelerate's trackers, with a tracker class of our own in place of
    TensorBoard's (whose package the test environment need not have)."""
    from accelerate import tracking as acc_tracking

    logged = []

    class Recorder(acc_tracking.GeneralTracker):
        name, requires_logging_directory = "recorder", True

        def __init__(self, run_name, logging_dir):
            super().__init__()
            self.run_name, self.logging_dir = run_name, logging_dir

        @property
        def tracker(self):
            return self

        def log(self, values, step=None, **kwargs):
            logged.append((self.run_name, self.logging_dir, step, values))

    monkeypatch.setitem(tracking.TRACKERS, "tensorboard", "accelerate")
    monkeypatch.setitem(acc_tracking.LOGGER_TYPE_TO_CLASS, "tensorboard", Recorder)
    tracking.configure("tensorboard")
    root = tmp_path / "myrun"
    with tracking.logging_to(root, "sft"):
        tracking.log_step(1, 2, 0, loss=2.5, lr=0.1)
        tracking.log_step(2, 2, 0, loss=1.5, lr=0.05)
    tracking.finish()
    assert logged == [
        ("myrun", str(root / "logs" / "tensorboard"), 1, {"sft/loss": 2.5, "sft/lr": 0.1}),
        ("myrun", str(root / "logs" / "tensorboard"), 2, {"sft/loss": 1.5, "sft/lr": 0.05}),
    ]


def test_a_stage_that_did_nothing_is_logged_as_a_warning(caplog):
    log = logging.getLogger("tripost.test")
    with caplog.at_level(logging.INFO, logger="tripost.test"):
        progress.log_summary(log, "iter2/train", {"steps": 0, "seconds": 0.0})
        progress.log_summary(log, "iter1/train", {"steps": 3, "tokens": 30, "seconds": 1.0})
    levels = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records]
    assert levels == [
        ("WARNING", "[iter2/train] done in 0.0s"),
        ("INFO", "[iter1/train] done in 1.0s"),
    ]
    assert "WARNING" not in caplog.records[0].getMessage()


def test_expert_calls_bar_counts_done_cache_hits_and_failures(tmp_path, capsys):
    llm = pytest.importorskip("tests.unit.test_llm_expert")
    from tripost.experts.llm import LLMFeedback

    server = llm.FakeServer(['{"verdict": "correct"}'])
    attempts = [f"(1) 2 + 3 = {k}.\n(Final response) So the answer is {k}." for k in range(3)]
    llm.make(LLMFeedback, server, tmp_path).give_feedback([llm.PROBLEM] * 3, attempts)
    capsys.readouterr()
    progress.configure(True)
    again = llm.make(LLMFeedback, server, tmp_path)
    again.give_feedback([llm.PROBLEM] * 3, attempts)  # all three answered from the cache
    err = capsys.readouterr().err
    assert "expert" in err and "3/3" in err and "cached=3" in err and "failed=0" in err


@pytest.mark.parametrize(
    "elapsed, done, total, expected",
    [
        (12.0, 100, 2800, "5 min left"),  # 0.12 s a step, 2,700 to go: 324 s
        (60.0, 100, 2800, "27 min left"),
        (10.0, 100, 150, "5 s left"),
        (10.0, 100, 100, "0 s left"),
        (3600.0, 100, 300, "2.0 h left"),
        (5.0, 0, 10, "50 s left"),  # no step done yet: the elapsed time counts as one step
    ],
)
def test_time_left_is_the_pace_so_far_times_what_is_left(elapsed, done, total, expected):
    assert progress.time_left(elapsed, done, total) == expected
