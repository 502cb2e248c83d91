"""The SQLite response cache: keys, persistence, WAL, survival of a killed writer."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tripost.experts.cache import CachedResponse, ResponseCache, cache_key, public_url

URL = "http://127.0.0.1:8000/v1"
REQUEST = {"prompt": "Q: 1 + 1 =", "max_tokens": 16, "temperature": 0.0, "stop": ["\nQ:"]}


def test_response_round_trips_and_survives_reopening(tmp_path):
    cache = ResponseCache(tmp_path)
    key = cache_key(URL, "completion", "m", REQUEST)
    cache.put(key, "completion", "m", CachedResponse("(1) 1 + 1 = 2.", "stop", 12, 7))
    cache.close()
    again = ResponseCache(tmp_path)
    assert again.get(key) == CachedResponse("(1) 1 + 1 = 2.", "stop", 12, 7)
    assert again.get(cache_key(URL, "chat", "m", REQUEST)) is None
    assert len(again) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"url": "http://127.0.0.1:8001/v1"},
        {"endpoint": "chat"},
        {"model": "other"},
        {"request": {**REQUEST, "temperature": 0.7}},
        {"request": {**REQUEST, "stop": ["\nFeedback:"]}},
        {"request": {**REQUEST, "prompt": "Q: 1 + 2 ="}},
        {"request": {**REQUEST, "seed": 1}},
    ],
)
def test_key_changes_with_everything_that_changes_the_answer(change):
    base = {"url": URL, "endpoint": "completion", "model": "m", "request": REQUEST}
    assert cache_key(**base) != cache_key(**{**base, **change})


def test_key_ignores_credentials_in_the_url_and_key_order():
    reordered = dict(reversed(list(REQUEST.items())))
    assert cache_key(
        "http://u:secret@127.0.0.1:8000/v1/", "completion", "m", reordered
    ) == cache_key(URL, "completion", "m", REQUEST)
    assert public_url("https://u:secret@api.example.com/v1/") == "https://api.example.com/v1"


def test_database_runs_in_wal_mode(tmp_path):
    ResponseCache(tmp_path).put("k", "completion", "m", CachedResponse("x"))
    db = sqlite3.connect(tmp_path / ResponseCache.FILENAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_endpoint_choice_is_remembered(tmp_path):
    ResponseCache(tmp_path).set_meta("endpoint|u|m", "chat")
    assert ResponseCache(tmp_path).get_meta("endpoint|u|m") == "chat"


def test_disabled_cache_stores_nothing(tmp_path):
    cache = ResponseCache(None)
    cache.put("k", "completion", "m", CachedResponse("x"))
    assert cache.get("k") is None and len(cache) == 0 and not list(tmp_path.iterdir())


_WRITER = """
import sys
from tripost.experts.cache import CachedResponse, ResponseCache
cache = ResponseCache(sys.argv[1])
i = 0
while True:
    cache.put(f"k{i}", "completion", "m", CachedResponse("x" * 5000 + str(i), "stop", i, i))
    if i == 50:
        print("ready", flush=True)
    i += 1
"""


def test_writer_killed_mid_write_leaves_a_sound_database(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    cache = ResponseCache(tmp_path)
    n = len(cache)
    assert n > 50
    db = sqlite3.connect(tmp_path / ResponseCache.FILENAME)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # every committed row is whole
    for i in range(n):
        assert cache.get(f"k{i}") == CachedResponse("x" * 5000 + str(i), "stop", i, i)
