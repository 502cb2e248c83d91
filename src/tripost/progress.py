"""Progress bars and one-line stage summaries, for a person watching a run.

Library code asks for a bar and feeds it; whether anything is drawn is decided here, once:

    bar = progress(total_steps, unit="step")          # labelled with the current stage
    bar.update(1, tokens=4096, loss=1.83)              # shows "loss=1.83, tok/s=5.1k"
    bar.close()

Bars are drawn by tqdm on stderr, and only when stderr is a terminal, unless the command line
asks for them (``--progress``) or turns them off (``--quiet``). When they are off, a bar is a
counter that draws nothing, so the hooks cost nothing in scripts and tests. The label of a bar
is the stage that is running (``with current_stage("iter1/rollouts"): ...``), so the code that
generates or trains need not know what it is generating for.

``summary(stage, info)`` turns a finished stage's figures into one readable line, with a
warning when the stage did nothing useful (e.g. trained on no samples).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

_bars: bool | None = None  # None: draw when stderr is a terminal
_stage = ""


def configure(bars: bool | None) -> None:
    """``True`` always draws bars, ``False`` never, ``None`` when stderr is a terminal."""
    global _bars
    _bars = bars


def bars_enabled() -> bool:
    if _bars is not None:
        return _bars
    return sys.stderr.isatty()


@contextlib.contextmanager
def current_stage(name: str) -> Iterator[None]:
    """Label the bars opened inside with ``name``."""
    global _stage
    before, _stage = _stage, name
    try:
        yield
    finally:
        _stage = before


class Bar:
    """A counter of work done, drawn as a tqdm bar when bars are on.

    ``update(n, tokens=k, **fields)`` adds ``n`` units and ``k`` tokens; the fields (loss, cache
    hits, ...) are shown after the bar, with the token rate.
    """

    def __init__(self, total: int | None, unit: str, desc: str | None = None) -> None:
        self.total, self.unit = total, unit
        self.done, self.tokens = 0, 0
        self.fields: dict[str, Any] = {}
        self._t0 = time.monotonic()
        self._tqdm = None
        if bars_enabled():
            from tqdm.auto import tqdm

            self._tqdm = tqdm(
                total=total,
                desc=desc if desc is not None else (_stage or None),
                unit=unit,
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
            )

    def update(self, n: int = 1, tokens: int = 0, **fields: Any) -> None:
        self.done += n
        self.tokens += tokens
        self.fields.update(fields)
        if self._tqdm is not None:
            shown = {k: _fmt(v) for k, v in self.fields.items()}
            if self.tokens:
                shown["tok/s"] = _fmt(self.tokens_per_s())
            self._tqdm.set_postfix(shown, refresh=False)
            self._tqdm.update(n)

    def tokens_per_s(self) -> float:
        return self.tokens / max(time.monotonic() - self._t0, 1e-9)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.refresh()  # the final figures, even when the last update was not drawn
            self._tqdm.close()
            self._tqdm = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(total: int | None, unit: str = "it", desc: str | None = None) -> Bar:
    """A bar over ``total`` units, labelled with ``desc`` or the current stage."""
    return Bar(total, unit, desc)


def time_left(elapsed_s: float, done: int, total: int) -> str:
    """The time the rest of ``total`` units will take at the pace so far, for a log line where
    no bar is drawn: ``38 min left``, ``45 s left``."""
    left = elapsed_s / max(done, 1) * max(total - done, 0)
    if left >= 5940:
        return f"{left / 3600:.1f} h left"
    return f"{left / 60:.0f} min left" if left >= 90 else f"{left:.0f} s left"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v / 1000:.1f}k"
        return f"{v:.3g}"
    return str(v)


# --- one line per finished stage -------------------------------------------------------------


def _n(info: dict, key: str) -> int:
    v = info.get(key, 0)
    return int(v) if isinstance(v, (int, float)) and v == v else 0


def _train_line(info: dict) -> str:
    steps, tokens = _n(info, "steps"), _n(info, "tokens")
    if steps == 0:
        return "trained on nothing (0 samples) - WARNING: this model is the previous one"
    loss = info.get("final_loss")
    rate = tokens / info["seconds"] if info.get("seconds") else 0.0
    loss_s = f", final loss {loss:.3f}" if isinstance(loss, float) and loss == loss else ""
    return f"{steps} steps, {tokens:,} tokens{loss_s} ({_fmt(float(rate))} tokens/s)"


def _edit_line(info: dict) -> str:
    kinds = ("direct", "improved", "feedback_only", "dropped")
    total = sum(_n(info, f"n_{k}") for k in kinds)
    line = (
        f"{_n(info, 'n_improved')} improved, {_n(info, 'n_direct')} directly correct, "
        f"{_n(info, 'n_feedback_only')} critique-only, {_n(info, 'n_dropped')} dropped"
    )
    reasons = info.get("drop_reasons") or {}
    if reasons:
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
        line += " (" + ", ".join(f"{v} {k}" for k, v in top) + ")"
    if total and _n(info, "n_dropped") > total / 2:
        line += f" - WARNING: most of the {total} rollouts were dropped"
    calls = []
    for role in ("feedback", "improvement"):
        s = info.get(f"expert_{role}") or {}
        if s.get("calls") or s.get("cache_hits"):
            calls.append(
                f"{role} {s.get('calls', 0)} calls / {s.get('cache_hits', 0)} cached / "
                f"{s.get('failures', 0)} failed"
            )
    if calls:
        line += "; expert " + "; ".join(calls)
    return line


def summary(stage: str, info: dict) -> str:
    """One readable line about a finished stage, e.g.
    ``[iter2/train] done in 3.1s: trained on nothing (0 samples) - WARNING: ...``."""
    secs = info.get("seconds", 0.0)
    kind = stage.split("/")[-1]
    if stage == "data":
        body = f"{_n(info, 'train')} training and {_n(info, 'eval')} evaluation problems"
        if _n(info, "eval_unparsed"):
            body += f" ({_n(info, 'eval_unparsed')} unparsed, skipped)"
    elif stage == "sft" or kind == "train":
        body = _train_line(info)
    elif kind == "rollouts":
        body = f"{_n(info, 'rollouts')} rollouts, {_n(info, 'tokens'):,} characters"
    elif kind == "edit":
        body = _edit_line(info)
    elif stage == "lmsi/train_set":
        body = (
            f"{_n(info, 'voted')} questions with a majority answer ({_n(info, 'vote_correct')} "
            f"of them right), {_n(info, 'kept_samples')} samples"
        )
        if not _n(info, "kept_samples"):
            body += " - WARNING: nothing to train on"
    elif kind == "train_set":
        body = (
            f"{_n(info, 'kept_improvement')} improvement, "
            f"{_n(info, 'kept_non_improvement')} non-improvement, {_n(info, 'kept_gold')} gold "
            "samples"
        )
        if not any(_n(info, f"kept_{k}") for k in ("improvement", "non_improvement", "gold")):
            body += " - WARNING: nothing to train on"
    elif stage.startswith("eval/"):
        accs = [(k[: -len("_accuracy")], v) for k, v in info.items() if k.endswith("_accuracy")]
        body = ", ".join(f"{split} accuracy {v:.1%}" for split, v in accs) or "evaluated"
    else:
        figures = {k: v for k, v in info.items() if isinstance(v, (int, float)) and k != "seconds"}
        body = " ".join(f"{k}={_fmt(v)}" for k, v in list(figures.items())[:6]) or "finished"
    return f"[{stage}] done in {secs:.1f}s: {body}"


def log_summary(logger: logging.Logger, stage: str, info: dict) -> None:
    """Log the summary line of a finished stage: as a warning when the stage did nothing useful
    (so that ``--quiet`` still shows it), else as information."""
    line = summary(stage, info)
    if " - WARNING: " in line:
        logger.warning(line.replace(" - WARNING: ", " - "))
    else:
        logger.info(line)
