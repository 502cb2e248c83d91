"""The LLM expert against real local OpenAI-compatible servers (loopback only).

- ``transformers serve`` on a tiny random Llama built here: answers are garbage, so every item
  must come back parsed or with a drop reason; calls and tokens are counted; a second run with
  the server stopped is served 100 % from the cache.
- a fault-injecting proxy (429 + Retry-After, 500, timeouts, cut connections) in front of a
  stdlib server: the run finishes with every answer obtained or recorded as a drop.
- the CLI's path (``LLMConfig`` -> ``build_feedback("llm", ...)``) reproduces its output from the
  cache alone.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from tripost.experts import build_feedback, build_improvement
from tripost.experts.llm import LLMConfig
from tripost.tasks.custom import CustomTask
from tripost.trajectory import Feedback

pytestmark = pytest.mark.server
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_task" / "task.yaml"


def attempts_for(task: CustomTask, k: int) -> tuple[list, list]:
    """``k`` problems with a rationale: the gold attempt of some, an injected error in others."""
    rng = random.Random(0)
    problems = [p for p in task.problems if task.solve(p) is not None][:k]
    attempts = []
    for i, p in enumerate(problems):
        gold = task.solve(p)
        attempts.append(gold if i % 2 == 0 else task.inject_error(p, gold, rng)[0])
    return problems, attempts


def served_config(server, tmp_path: Path, **kw) -> LLMConfig:
    base = dict(base_url=server.url, model=server.model, max_tokens=16, concurrency=4, n_shots=2)
    return LLMConfig(**{**base, "cache_dir": str(tmp_path / "llm-cache"), "parse_retries": 1, **kw})


def test_chat_endpoint_through_transformers_serve(transformers_server, tmp_path):
    task = CustomTask.from_config(EXAMPLE)
    problems, attempts = attempts_for(task, 2)
    fbk = build_feedback("llm", task, served_config(transformers_server, tmp_path, endpoint="chat"))
    results = fbk.give_feedback(problems, [a.render() for a in attempts])
    assert all((r.feedback is None) != (r.drop_reason is None) for r in results)
    assert fbk.stats.calls >= 2 and fbk.stats.failures == 0
    assert fbk.stats.prompt_tokens > 500 and 0 < fbk.stats.completion_tokens <= 16 * fbk.stats.calls


def test_transformers_serve_feedback_and_improvement_then_cache_only(transformers_server, tmp_path):
    task = CustomTask.from_config(EXAMPLE)
    problems, attempts = attempts_for(task, 4)
    feedbacks = [Feedback.error(a, "2", a.steps[1].text[:12], "it is wrong") for a in attempts]
    cfg = served_config(transformers_server, tmp_path, endpoint="auto")

    def run():
        fbk, imp = build_feedback("llm", task, cfg), build_improvement("llm", task, cfg)
        fb = fbk.give_feedback(problems, [a.render() for a in attempts])
        im = imp.improve(problems, attempts, feedbacks)
        return fbk, imp, fb, im

    fbk, imp, fb1, im1 = run()
    for r in fb1:
        assert (r.feedback is None) != (r.drop_reason is None)
        assert r.drop_reason is None or r.drop_reason.startswith("unusable feedback after 2 tries")
    for r in im1:
        assert (r.attempt is None) != (r.drop_reason is None)
        if r.attempt is not None:  # the kept prefix is verbatim
            assert r.attempt.steps[0] == attempts[im1.index(r)].steps[0]
    assert fbk.client.endpoint == "completion"  # auto found /v1/completions
    for module in (fbk, imp):
        s = module.stats
        assert s.calls >= 4 and s.failures == 0 and s.prompt_tokens > 1000
        assert 0 < s.completion_tokens <= 16 * s.calls
    calls = fbk.stats.calls + imp.stats.calls

    transformers_server.stop()
    fbk2, imp2, fb2, im2 = run()
    assert (fb2, im2) == (fb1, im1)
    assert fbk2.stats.calls + imp2.stats.calls == 0
    assert fbk2.stats.cache_hits + imp2.stats.cache_hits == calls
    assert fbk2.stats.failures + imp2.stats.failures == 0


FAULTS = ["none", "429", "500", "slow", "cut", "dead"]


def fault_task(tmp_path: Path) -> CustomTask:
    lines = []
    for i, fault in enumerate(FAULTS * 2):
        q = f"[fault:{fault}] How many legs do {i + 1} hens have?"
        r = f"(1) {i + 1} hens have {i + 1} * 2 = {2 * (i + 1)} legs.\n(Final response) So the answer is {2 * (i + 1)}."
        lines.append(json.dumps({"question": q, "answer": str(2 * (i + 1)), "rationale": r}))
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    return CustomTask("faulty", tmp_path / "p.jsonl", r"the answer is (\d+)", normalize="number")


def plan(body: dict, n: int) -> str | None:
    text = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
    fault = re.findall(r"\[fault:(\w+)\]", text)[-1]  # the query comes last
    if fault == "dead":
        return "500"
    return None if fault == "none" or n > 0 else fault


def test_faults_end_in_answers_or_drops_and_a_rerun_hits_the_cache(tmp_path, make_stub, make_proxy):
    task = fault_task(tmp_path)
    problems = task.problems
    attempts = [task.solve(p).render() for p in problems]
    upstream = make_stub()
    proxy = make_proxy(upstream.url, plan, slow_s=3.0)
    cfg = LLMConfig(
        base_url=proxy.url, model="stub", endpoint="completion", timeout_s=1.5, max_retries=3,
        backoff_s=0.05, concurrency=8, n_shots=1, parse_retries=0, cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    try:
        fbk = build_feedback("llm", task, cfg)
        first = fbk.give_feedback(problems, attempts)
    finally:
        proxy.stop()
        upstream.stop()
    dead = [i for i, p in enumerate(problems) if "[fault:dead]" in p.question]
    for i, r in enumerate(first):
        if i in dead:
            assert (
                r.feedback is None and r.drop_reason == "feedback request failed: HTTP 500, 4 tries"
            )
        else:
            assert r.feedback is not None and r.feedback.error_step == "Final response"
    s = fbk.stats
    assert (s.calls, s.failures) == (10, 2)
    # one retry per transient fault, three per dead item (more only if the machine stalls)
    assert s.extra["retries"] >= 2 * 4 + 2 * 3
    # Retry-After: 1 was honoured: the next try of a 429'd request came at least 1 s later
    for t, key, fault in proxy.log:
        if fault == "429":
            retry = min(t2 for t2, k2, _ in proxy.log if k2 == key and t2 > t)
            assert retry - t >= 0.95

    again = build_feedback("llm", task, cfg)  # both servers are down now
    second = again.give_feedback(problems, attempts)
    assert again.stats.cache_hits == 10 and again.stats.calls == 0
    assert [r for i, r in enumerate(second) if i not in dead] == [
        r for i, r in enumerate(first) if i not in dead
    ]
    assert all("connection error" in second[i].drop_reason for i in dead)


def test_cli_path_reproduces_feedback_from_the_cache_with_the_server_off(
    tmp_path, monkeypatch, make_stub
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    task = CustomTask.from_config(EXAMPLE)
    problems, attempts = attempts_for(task, 6)
    texts = [a.render() for a in attempts]
    server = make_stub()
    # what `tripost feedback --expert llm --base-url URL --model-name NAME --cache-dir DIR` builds
    cfg = LLMConfig(base_url=server.url, model="stub-model", cache_dir=str(tmp_path / "dir"))
    try:
        first = build_feedback("llm", task, cfg).give_feedback(problems, texts)
    finally:
        server.stop()
    assert server.requests == 6 and all(r.feedback is not None for r in first)
    offline = build_feedback("llm", task, cfg)
    assert offline.give_feedback(problems, texts) == first
    assert offline.stats.as_dict()["calls"] == 0 and offline.stats.cache_hits == 6
