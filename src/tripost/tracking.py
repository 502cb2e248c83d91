"""Training curves: kept in the run directory, and optionally sent to an experiment tracker.

Every training stage writes ``DIR/logs/<stage>.jsonl`` (``/`` in the stage name becomes ``.``,
e.g. ``logs/iter1.train.jsonl``),
one line per logging step::

    {"step": 50, "total": 400, "loss": 1.83, "lr": 0.00095, "tokens_per_s": 15210.4}

The report draws these curves. With ``--report-to tensorboard|wandb|trackio`` the same values
also go to that tracker through ``accelerate``'s tracker classes (``pip install tripost[track]``
installs the packages); tags are ``<stage>/<value>``, e.g. ``iter1/train/loss``. Nothing here is
needed to run: without a tracker only the JSONL files are written.

Library code calls ``log_step(step, total, every, loss=..., lr=...)``; it writes only inside
``logging_to(...)`` (opened by the loop for each stage), so tests and scripts that train
without a run directory write nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: tracker name -> the package it needs
TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "trackio": "trackio"}


class TrackingError(ValueError):
    """A tracker that cannot be used (unknown, or its package is not installed)."""


_report_to: str | None = None
_tracker: Any = None
_sink: _Sink | None = None


def check_tracker(name: str) -> None:
    """Raise TrackingError (one line) unless tracker ``name`` can be used here."""
    if name not in TRACKERS:
        raise TrackingError(f"--report-to {name}: unknown tracker; known: {', '.join(TRACKERS)}")
    pkg = TRACKERS[name]
    if importlib.util.find_spec(pkg) is None:
        raise TrackingError(
            f"--report-to {name}: the package {pkg!r} is not installed "
            "(pip install 'tripost[track]')"
        )


def configure(report_to: str | None) -> None:
    """Send training curves to ``report_to`` as well as to the run directory (None: only there)."""
    global _report_to
    if report_to is not None:
        check_tracker(report_to)
    _report_to = report_to


def _external(root: Path) -> Any:
    """The external tracker of this process, started on first use."""
    global _tracker
    if _report_to is None:
        return None
    if _tracker is None:
        from accelerate.tracking import LOGGER_TYPE_TO_CLASS

        cls = LOGGER_TYPE_TO_CLASS[_report_to]
        name = root.resolve().name
        if _report_to == "tensorboard":
            _tracker = cls(name, str(root / "logs" / "tensorboard"))
        else:
            _tracker = cls(name)
        _tracker.start()
    return _tracker


def finish() -> None:
    """Close the external tracker, if one was started."""
    global _tracker
    if _tracker is not None:
        _tracker.finish()
        _tracker = None


class _Sink:
    def __init__(self, root: Path, stage: str) -> None:
        self.root, self.stage = root, stage
        self.path = root / "logs" / f"{stage.replace('/', '.')}.jsonl"
        self._fh = None

    def write(self, row: dict[str, Any]) -> None:
        if self._fh is None:  # created on the first row: a stage that logs nothing has no file
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w")  # a re-run stage starts its curve afresh
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        tracker = _external(self.root)
        if tracker is not None:
            skip = ("step", "total", "time")
            values = {f"{self.stage}/{k}": v for k, v in row.items() if k not in skip}
            tracker.log(values, step=row["step"])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@contextlib.contextmanager
def logging_to(root: str | Path | None, stage: str) -> Iterator[None]:
    """Write the curves logged inside to ``root/logs/<stage>.jsonl`` (None: nowhere, e.g. the
    ranks of a multi-process run that do not write the run directory)."""
    global _sink
    before, _sink = _sink, None if root is None else _Sink(Path(root), stage)
    try:
        yield
    finally:
        if _sink is not None:
            _sink.close()
        _sink = before


def log_step(step: int, total: int, every: int, **values: float) -> None:
    """Record the values of optimizer step ``step`` (1-based) of ``total``: every ``every`` steps
    (every step when ``every`` is 0) and always the last."""
    if _sink is None:
        return
    if every > 0 and step % every and step != total:
        return
    row = {"step": step, "total": total, "time": round(time.time(), 3)}
    row.update({k: float(v) for k, v in values.items()})
    _sink.write(row)


def read_curves(root: str | Path) -> dict[str, list[dict[str, Any]]]:
    """``{stage: rows}`` of every ``root/logs/*.jsonl`` (stage names with ``/`` restored)."""
    out: dict[str, list[dict[str, Any]]] = {}
    logs = Path(root) / "logs"
    if not logs.is_dir():
        return out
    for p in sorted(logs.glob("*.jsonl")):
        rows = []
        for line in p.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: the rest is still useful
                continue
        if rows:
            out[p.stem.replace(".", "/")] = rows
    return out
