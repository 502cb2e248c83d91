"""Persistent cache of LLM responses: one SQLite row per successful response.

Re-running a finished or killed run asks the server nothing it has already answered. The
database runs in WAL mode and every write is its own committed transaction, so a process
killed mid-write leaves at most the row it was writing missing, never a corrupt file.

The key is a SHA-256 of the canonical JSON of everything that determines an answer::

    {"url": "http://127.0.0.1:8000/v1", "endpoint": "completion", "model": "m",
     "request": {"prompt": "Q: ...", "max_tokens": 512, "temperature": 0.0, "stop": ["\\nQ:"]}}

The API key is never part of the key nor of any stored column.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class CacheError(ValueError):
    """A cache file that cannot be used; the message names it and says how to recover."""


@dataclass(frozen=True)
class CachedResponse:
    """One answer of the server, as stored."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def public_url(url: str) -> str:
    """``url`` without user info and with no trailing slash: what may be stored and logged.

    >>> public_url("https://user:secret@host.example/v1/")
    'https://host.example/v1'
    """
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def cache_key(url: str, endpoint: str, model: str, request: dict[str, Any]) -> str:
    """The hash of (endpoint URL, endpoint kind, model, request body without the model)."""
    blob = json.dumps(
        {"url": public_url(url), "endpoint": endpoint, "model": model, "request": request},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """SQLite response cache. ``ResponseCache(None)`` is a cache that stores nothing.

    >>> cache = ResponseCache(None)
    >>> cache.get("k") is None
    True
    """

    FILENAME = "responses.sqlite"

    def __init__(self, directory: str | Path | None) -> None:
        self.path: Path | None = None
        self._db: sqlite3.Connection | None = None
        if directory is None:
            return
        folder = Path(directory).expanduser()
        if folder.exists() and not folder.is_dir():
            raise CacheError(f"{folder}: the LLM cache folder is a file; give another cache_dir")
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / self.FILENAME
        with self._guard():
            # autocommit (isolation_level=None): each INSERT is its own committed transaction
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
            self._db.execute("SELECT COUNT(*) FROM responses").fetchone()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A corrupt database file is a CacheError naming it and saying how to recover."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            raise CacheError(
                f"{self.path}: the LLM response cache is corrupt ({e}); delete it (and its "
                "-wal/-shm files) to start a fresh cache: answers are then asked again"
            ) from None

    def get(self, key: str) -> CachedResponse | None:
        if self._db is None:
            return None
        with self._guard():
            row = self._db.execute(
                "SELECT text, finish_reason, prompt_tokens, completion_tokens FROM responses "
                "WHERE key=?",
                (key,),
            ).fetchone()
        if row is None or not isinstance(row[0], str):
            return None  # a row that is not a text answer is asked again
        return CachedResponse(*row)

    def put(self, key: str, endpoint: str, model: str, response: CachedResponse) -> None:
        """Store a successful response (committed before returning)."""
        if self._db is None:
            return
        if not isinstance(response.text, str):
            raise TypeError(f"a cached answer must be a string, not {type(response.text).__name__}")
        with self._guard():
            self._put(key, endpoint, model, response)

    def _put(self, key: str, endpoint: str, model: str, response: CachedResponse) -> None:
        assert self._db is not None
        self._db.execute(
            "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                endpoint,
                model,
                response.text,
                response.finish_reason,
                response.prompt_tokens,
                response.completion_tokens,
                time.time(),
            ),
        )

    def get_meta(self, name: str) -> str | None:
        if self._db is None:
            return None
        row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, name: str, value: str) -> None:
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def __len__(self) -> int:
        if self._db is None:
            return 0
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
