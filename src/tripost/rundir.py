"""The run directory: resolved config, per-stage JSONL/JSON outputs, and a manifest of finished
stages. Every file is written to a temporary name and renamed, and a stage is marked finished in
the manifest only after all its files exist, so a run killed at any point resumes at the first
unfinished stage and never mistakes a half-written file for a complete one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class RunDir:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.root / "manifest.json"
        self.manifest: dict[str, Any] = {"stages": {}}
        if self.manifest_path.exists():
            self.manifest = json.loads(self.manifest_path.read_text())

    def path(self, rel: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def done(self, stage: str) -> bool:
        return stage in self.manifest["stages"]

    def info(self, stage: str) -> dict[str, Any]:
        return self.manifest["stages"].get(stage, {})

    def mark(self, stage: str, info: dict[str, Any]) -> None:
        self.manifest["stages"][stage] = {"finished_at": time.time(), **info}
        self.write_json("manifest.json", self.manifest)

    def write_text(self, rel: str, text: str) -> Path:
        p = self.path(rel)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, p)
        return p

    def write_json(self, rel: str, obj: Any) -> Path:
        return self.write_text(rel, json.dumps(obj, indent=2) + "\n")

    def write_jsonl(self, rel: str, rows: Iterable[dict[str, Any]]) -> Path:
        return self.write_text(rel, "".join(json.dumps(r) + "\n" for r in rows))

    def read_json(self, rel: str) -> Any:
        return json.loads((self.root / rel).read_text())

    def read_jsonl(self, rel: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.root / rel).read_text().splitlines() if line]
