"""Reading JSONL input with errors that name the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_jsonl(
    path: str | Path, required: tuple[str, ...] = ()
) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-empty line. Raises ValueError with
    ``FILE:LINE: ...`` for invalid JSON, a line that is not an object, or a missing string field."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: file not found")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a JSONL file")
    out = []
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1})") from None
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
        except RecursionError:
            raise ValueError(f"{path}:{lineno}: JSON nested too deeply") from None
        if not isinstance(d, dict):
            raise ValueError(f"{path}:{lineno}: a line must be a JSON object")
        for field in required:
            if not isinstance(d.get(field), str):
                raise ValueError(f"{path}:{lineno}: missing string field {field!r}")
        out.append((lineno, d))
    return out
