"""``benchmarks/detect_auc.py``: how well a run's models rank their own wrong first attempts
below their right ones by the probability of the all-correct feedback."""

import math

import pytest
import torch

from tests.integration.test_pipeline import TINY
from tests.scripts import load_benchmark
from tests.toy import ToyTask
from tripost import tasks
from tripost.config import load_config
from tripost.loop import load_checkpoint, prompt_format, run_tripost
from tripost.rundir import RunDir
from tripost.trajectory import Attempt, Feedback


def test_auc_counts_pairs_and_ties_and_strata() -> None:
    auc = load_benchmark("detect_auc").auc
    assert auc([(2, 0.0)], [(2, 1.0)], True) == 1.0
    assert auc([(2, 1.0)], [(2, 1.0)], True) == 0.5
    # pairs across lengths say 0.5, the one pair of equal length says 0.0
    wrong, right = [(3, -9.0), (2, -1.0)], [(2, -2.0)]
    assert auc(wrong, right, False) == 0.5
    assert auc(wrong, right, True) == 0.0
    assert math.isnan(auc([], [(2, 1.0)], True))


def test_script_scores_a_finished_run(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(tasks.TASKS, "toy", lambda **kw: ToyTask())
    run_tripost(load_config(None, {**TINY, "methods": ["sft"]}), tmp_path)
    mod = load_benchmark("detect_auc")
    monkeypatch.setattr("sys.argv", ["detect_auc.py", str(tmp_path)])
    mod.main()
    row = capsys.readouterr().out.strip().splitlines()[-1]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "sft"
    wrong, right = (int(x) for x in cells[1].split(" / "))
    assert wrong + right + int(cells[2]) == 12  # every seen question scored or counted unparsed
    assert cells[3] == "nan" or 0.0 <= float(cells[3]) <= 1.0

    # the score is the log-probability of the feedback tokens, as one forward pass of the
    # whole text reads them
    cfg = load_config(tmp_path / "config.yaml", {})
    policy = load_checkpoint(RunDir(tmp_path), "sft", cfg)
    fmt = prompt_format(cfg, policy)
    att = Attempt.parse("(1) 1 + 2 = 3.\n(2) 3 + 3 = 6.\n(Final response) So the answer is 6.")
    score = mod.says_correct_logprob(policy, fmt, "Add 1, 2 and 3.", att, "")
    tok = policy.tokenizer
    head = fmt.prompt("Add 1, 2 and 3.") + att.render()
    tail = "\nFeedback: " + Feedback.ok(att).render()
    bos = policy.bos_ids()
    ids = bos + tok.encode(head, add_special_tokens=False)
    full = bos + tok.encode(head + tail, add_special_tokens=False)
    assert full[: len(ids)] == ids  # the character tokenizer splits at the boundary
    with torch.no_grad():
        logp = torch.log_softmax(policy.model(input_ids=torch.tensor([full])).logits[0], -1)
    direct = sum(float(logp[i - 1, full[i]]) for i in range(len(ids), len(full)))
    assert score == pytest.approx(direct, abs=1e-3)
    assert score < 0
