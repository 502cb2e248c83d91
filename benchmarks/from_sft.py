"""Ablations that share one SFT model: copy a finished run's data, SFT checkpoint and SFT
evaluation into a new run directory, apply config overrides to the later stages, and run the
TriPosT iterations and the control from there. Changing `data`, `model`, `sft` or `seed` would
make the copied stages stale, so those are refused, and so are task options but the ones that
only change how the expert judges (`EXPERT_TASK_OPTIONS`; the copied SFT data keeps the source's).

    python benchmarks/from_sft.py runs/dates runs/dates_lr1e-4 --set train.lr=1e-4
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from tripost.cli import parse_sets
from tripost.config import dump_config, load_config
from tripost.loop import run_tripost

SHARED = ["data", "sft", "eval/sft"]
#: task options that change the scripted expert's judgement only, not the rationales written
EXPERT_TASK_OPTIONS = {"task_options.judge_keys"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path, help="a run directory whose SFT stages are finished")
    ap.add_argument("dst", type=Path, help="the new run directory")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    overrides = parse_sets(args.set)
    for key in overrides:
        if key in EXPERT_TASK_OPTIONS:
            continue
        if key.split(".")[0] in ("data", "model", "sft", "seed", "task", "task_options"):
            raise SystemExit(f"{key}: would change the shared SFT stages; run a new demo instead")
    cfg = load_config(args.src / "config.yaml", overrides)
    manifest = json.loads((args.src / "manifest.json").read_text())
    if not args.dst.exists():
        for rel in ["data", "checkpoints/sft", "eval/sft.jsonl", "eval/sft.metrics.json"]:
            src, dst = args.src / rel, args.dst / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
        stages = {k: manifest["stages"][k] for k in SHARED}
        (args.dst / "manifest.json").write_text(json.dumps({"stages": stages}, indent=2))
        (args.dst / "config.yaml").write_text(dump_config(cfg))
    report = run_tripost(cfg, args.dst)
    for r in report["results"]:
        if r["split"] == "seen":
            print(
                f"{r['method']:9s} t={r['iteration']} seen {r['accuracy']:.1%} "
                f"(first {r['first_accuracy']:.1%}) fixed {r['fixed']} broken {r['broken']} "
                f"flag P/R {r['flag_precision']:.2f}/{r['flag_recall']:.2f}"
            )
    print(report["verdict"]["text"])


if __name__ == "__main__":
    main()
