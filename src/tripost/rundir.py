"""The run directory: resolved config, per-stage JSONL/JSON outputs, and a manifest of finished
stages. Every file is written to a temporary name unique to its writer and renamed, and a stage
is marked finished in the manifest only after all its files exist, so a run killed at any point
resumes at the first unfinished stage and never mistakes a half-written file for a complete one.

The manifest records how many rows each stage JSONL file had when it was written; reading a file
with another count (cut at a line boundary, or edited) is an error naming the file, never a
silent partial resume. JSON is strict: NaN and infinities are written as ``null``.

One run directory has one writer: ``RunDir(..., lock=True)`` takes ``run.lock`` (an exclusive
``flock`` on a file holding the owner's pid). A second process refuses at once with a line naming
the holder; a lock left by a process that died is stale and is taken over.

Under ``accelerate launch`` the writer is rank 0 (``open_run_dir``); the other ranks read the
same directory through ``RunDir(..., writer=False)``, whose writes are skipped, so they never
write into it (not even a temporary name).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tripost import processes

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_NAME = "run.lock"


class RunDirError(ValueError):
    """A run directory that cannot be used as it is; the message is one line and says what to do."""


def strict(obj: Any) -> Any:
    """``obj`` with NaN and infinite floats replaced by None (strict JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def dumps(obj: Any, **kw: Any) -> str:
    """Strict JSON text of ``obj`` (non-finite floats become null)."""
    return json.dumps(strict(obj), allow_nan=False, **kw)


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary name unique to this writer, then rename.
    Whatever fails, no temporary file is left behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def tmp_name(path: str | Path) -> Path:
    """A temporary sibling name of ``path`` unique to this writer (for writers that need a path,
    such as matplotlib's ``savefig`` or a checkpoint folder)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def open_run_dir(root: str | Path) -> RunDir:
    """The run directory as this process sees it: rank 0 (the only process without
    ``accelerate launch``) takes the lock and writes; the other ranks open it once rank 0 has,
    read-only."""
    if processes.is_main():
        rd = RunDir(root, lock=True)
        processes.barrier()
        return rd
    processes.barrier()
    return RunDir(root, writer=False)


class RunDir:
    """``writer=False``: a read-only view (the ranks other than 0 of a multi-process run):
    the write methods change the in-memory manifest only and leave the disk alone."""

    def __init__(self, root: str | Path, lock: bool = False, writer: bool = True) -> None:
        self.root = Path(root)
        self.writer = writer
        if self.root.exists() and not self.root.is_dir():
            raise RunDirError(f"{self.root}: exists and is not a directory; give another --out")
        if writer:
            self.root.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        if lock:
            self.acquire()
        self.manifest_path = self.root / "manifest.json"
        self.manifest: dict[str, Any] = {"stages": {}}
        self._written: dict[str, int] = {}
        if self.manifest_path.exists():
            try:
                self.manifest = self._load_manifest()
            except BaseException:
                self.release()
                raise

    # ------------------------------------------------------------------ lock

    def acquire(self) -> None:
        """Take the run directory's lock, or raise RunDirError naming the process holding it."""
        if fcntl is None or self._lock_fd is not None:
            return
        path = self.root / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise RunDirError(
                f"{path}: the run directory is in use by {holder}; wait for it to finish or stop "
                "it (one run directory has one writer)"
            ) from None
        old = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if old:
            log.warning("%s: taking over a stale lock (%s is gone)", path, old)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is None:
            return
        (self.root / LOCK_NAME).unlink(missing_ok=True)
        os.close(self._lock_fd)  # closing the descriptor drops the flock
        self._lock_fd = None

    # ------------------------------------------------------------------ manifest

    def _load_manifest(self) -> dict[str, Any]:
        p = self.manifest_path
        how = "delete it (every stage is then redone) or the run directory, and re-run the command"
        try:
            m = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunDirError(f"{p}: corrupt manifest ({_one_line(e)}); {how}") from None
        if not isinstance(m, dict) or not isinstance(m.get("stages"), dict):
            raise RunDirError(f"{p}: corrupt manifest (no 'stages' object); {how}")
        return m

    def path(self, rel: str) -> Path:
        p = self.root / rel
        if self.writer:
            p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def done(self, stage: str) -> bool:
        return stage in self.manifest["stages"]

    def info(self, stage: str) -> dict[str, Any]:
        return self.manifest["stages"].get(stage, {})

    def mark(self, stage: str, info: dict[str, Any]) -> None:
        """Mark ``stage`` finished; the JSONL files written since the last mark are recorded
        with their row counts."""
        entry = {"finished_at": time.time(), **info}
        if self._written:
            entry["rows"] = dict(self._written)
        self.manifest["stages"][stage] = entry
        self._written = {}
        self.write_json("manifest.json", self.manifest)

    def missing_outputs(self, stage: str) -> list[str]:
        """Files recorded for a finished ``stage`` that are gone (deleted to redo the stage)."""
        return [rel for rel in self.info(stage).get("rows", {}) if not (self.root / rel).exists()]

    def forget(self, stage: str) -> None:
        """Unmark ``stage`` (it will be redone)."""
        if self.manifest["stages"].pop(stage, None) is not None:
            self.write_json("manifest.json", self.manifest)

    def _recorded_rows(self, rel: str) -> tuple[str, int] | None:
        for name, info in self.manifest["stages"].items():
            rows = info.get("rows", {}) if isinstance(info, dict) else {}
            if rel in rows:
                return name, rows[rel]
        return None

    # ------------------------------------------------------------------ files

    def write_text(self, rel: str, text: str) -> Path:
        if not self.writer:
            return self.root / rel
        return atomic_write(self.path(rel), text)

    def write_dir(self, rel: str, fill: Callable[[Path], None]) -> Path:
        """Write a directory (a checkpoint): ``fill(tmp)`` writes it under a temporary name
        unique to this writer, which then replaces ``rel``; nothing half-written is left when
        ``fill`` fails."""
        final = self.root / rel
        if not self.writer:
            return final
        tmp = tmp_name(self.path(rel))
        try:
            fill(tmp)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final

    def remove(self, rel: str) -> None:
        """Delete a file of the run directory if it exists (a stage's partial output)."""
        if self.writer:
            (self.root / rel).unlink(missing_ok=True)

    def write_json(self, rel: str, obj: Any) -> Path:
        return self.write_text(rel, dumps(obj, indent=2) + "\n")

    def write_jsonl(self, rel: str, rows: Iterable[dict[str, Any]]) -> Path:
        lines = [dumps(r) + "\n" for r in rows]
        p = self.write_text(rel, "".join(lines))
        self._written[rel] = len(lines)
        return p

    def read_json(self, rel: str) -> Any:
        p = self.root / rel
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunDirError(f"{p}: corrupt JSON ({_one_line(e)}); {self._redo(rel)}") from None

    def read_jsonl(self, rel: str) -> list[dict[str, Any]]:
        """The rows of a stage JSONL file; RunDirError (naming the file and how to redo its
        stage) when it is not valid JSONL or has another row count than the manifest recorded."""
        p = self.root / rel
        rows = []
        data = p.read_bytes()
        for lineno, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise RunDirError(
                    f"{p}:{lineno}: corrupt line ({_one_line(e)}); {self._redo(rel)}"
                ) from None
            if not isinstance(row, dict):
                raise RunDirError(f"{p}:{lineno}: not a JSON object; {self._redo(rel)}")
            rows.append(row)
        recorded = self._recorded_rows(rel)
        if recorded is not None and recorded[1] != len(rows):
            raise RunDirError(
                f"{p}: has {len(rows)} rows, the manifest recorded {recorded[1]} (the file was cut "
                f"or changed); {self._redo(rel)}"
            )
        return rows

    def _redo(self, rel: str) -> str:
        recorded = self._recorded_rows(rel)
        stage = f"stage {recorded[0]}" if recorded else "the stage that wrote it"
        return f"delete {self.root / rel} and re-run the same command to redo {stage}"


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:160]
