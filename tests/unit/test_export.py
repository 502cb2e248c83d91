"""Training samples as JSON: the run's own train.jsonl (old and new layout) and `tripost
export`, loaded back with `datasets` as a user would."""

import json

import pytest

from tripost.cli import main
from tripost.export import sample_from_json, sample_to_json
from tripost.postprocess import LossWeights, TrainItem
from tripost.rundir import RunDir
from tripost.trajectory import Attempt, Feedback

WRONG = Attempt.parse("(1) 2 + 2 = 5.\n(Final response) So the answer is 5.")
RIGHT = Attempt.parse("(1) 2 + 2 = 4.\n(Final response) So the answer is 4.")
ITEMS = [
    TrainItem(
        "improvement",
        "2 + 2 =",
        (WRONG, RIGHT),
        (Feedback.error(WRONG, "1", "2 + 2 = 5", "2 + 2 is 4"), Feedback.ok(RIGHT)),
    ),
    TrainItem("gold", "3 + 3 =", (RIGHT,), (Feedback.ok(RIGHT),)),
    TrainItem(
        "improvement",
        "2 + 2 =",
        (WRONG,),
        (Feedback.error(WRONG, "1", "2 + 2 = 5", "2 + 2 is 4"),),
        eos=False,
    ),
]
WEIGHTS = LossWeights(feedback_weight=1.5)


def samples():
    return [(it.to_sample(WEIGHTS), it.kind) for it in ITEMS]


def test_sample_json_round_trip_and_old_list_layout():
    for s, kind in samples():
        d = json.loads(json.dumps(sample_to_json(s, kind)))
        assert all(isinstance(seg, dict) for seg in d["segments"])
        assert sample_from_json(d) == s
        old = {"kind": kind, "eos": s.eos, "segments": [[t, w] for t, w in s.segments]}
        assert sample_from_json(old) == s


def make_run(root, old_layout=False):
    rd = RunDir(root)
    rd.mark("iter1/train_set", {})
    for t in (1, 2):
        rows = []
        for s, kind in samples()[: t + 1]:
            d = sample_to_json(s, kind)
            if old_layout:
                d["segments"] = [[x["text"], x["weight"]] for x in d["segments"]]
            rows.append(d)
        rd.write_jsonl(f"iter{t}/train.jsonl", rows)
    return rd


@pytest.mark.parametrize("old_layout", [False, True])
@pytest.mark.parametrize("fmt", ["trl", "messages", "jsonl"])
def test_export_loads_with_datasets(tmp_path, fmt, old_layout):
    datasets = pytest.importorskip("datasets")
    make_run(tmp_path / "run", old_layout)
    out = tmp_path / f"{fmt}.jsonl"
    assert (
        main(["export", "--run", str(tmp_path / "run"), "--format", fmt, "--output", str(out)]) == 0
    )
    ds = datasets.load_dataset(
        "json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert len(ds) == 2 + 3 and ds["iteration"] == [1, 1, 2, 2, 2]
    assert ds["kind"][:2] == ["improvement", "gold"] and ds["eos"] == [
        True,
        True,
        True,
        True,
        False,
    ]
    first = samples()[0][0]
    prompt, completion = first.segments[0][0], "".join(t for t, _ in first.segments[1:])
    if fmt == "trl":
        assert ds[0]["prompt"] == prompt and ds[0]["completion"] == completion
        assert "Feedback: " in ds[0]["completion"] and ds[0]["prompt"].startswith("Q: 2 + 2 =")
    elif fmt == "messages":
        assert ds[0]["messages"] == [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": completion},
        ]
    else:
        segs = ds[0]["segments"]
        assert [(s["text"], s["weight"]) for s in segs] == [(t, w) for t, w in first.segments]
        assert [s["weight"] for s in segs] == [0.0, 1.0, 1.5]


def test_export_of_one_iteration(tmp_path):
    make_run(tmp_path / "run")
    out = tmp_path / "one.jsonl"
    argv = ["export", "--run", str(tmp_path / "run"), "--iteration", "1", "--format", "jsonl"]
    assert main([*argv, "--output", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 1]


def test_export_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    assert main(["export", "--run", str(tmp_path), "--format", "trl", "--output", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"tripost: error: {tmp_path}: not a tripost run directory (no manifest.json)"
    )
    make_run(tmp_path / "run")
    argv = ["export", "--run", str(tmp_path / "run"), "--format", "trl", "--output", str(out)]
    assert main([*argv, "--iteration", "7"]) == 2
    assert "iteration 7 has no train.jsonl (have: 1, 2)" in capsys.readouterr().err
    (tmp_path / "run" / "iter2" / "train.jsonl").write_text('{"kind": "gold"}\n')
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tripost: error: {tmp_path / 'run' / 'iter2' / 'train.jsonl'}:1: ")
    assert "\n" not in err and not out.exists()
