"""LLM expert against a fake transport: request payloads, parsing, retries, endpoint choice, cache."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import random
import re

import pytest
from pydantic import ValidationError

from tripost.experts import build_feedback
from tripost.experts.llm import LLMConfig, LLMFeedback, LLMImprovement
from tripost.experts.llm_client import retry_after_s
from tripost.experts.prompts import (
    FEEDBACK_STOP,
    IMPROVEMENT_STOP,
    assemble_improvement,
    build_demos,
    parse_feedback,
)
from tripost.trajectory import FINAL, Attempt, Feedback, FormatError, Problem, Step

httpx = None
for _name in ("httpx2", "httpx"):  # openai >= 3 ships on httpx2, older releases on httpx
    try:
        httpx = importlib.import_module(_name)
        break
    except ImportError:
        pass


class AddTask:
    """A toy task: add numbers left to right, one step per addition."""

    name = "add"
    instruction = ""
    buckets = ["seen"]
    _STEP = re.compile(r"^(-?\d+) \+ (-?\d+) = (-?\d+)\.$")

    def generate(self, rng: random.Random, split: str) -> Problem:
        nums = [rng.randint(1, 9) for _ in range(3)]
        return Problem(" + ".join(map(str, nums)) + " =", str(sum(nums)), self.name)

    def problem_from_text(self, question, target):
        return None

    def solve(self, problem: Problem) -> Attempt:
        nums = [int(x) for x in problem.question.removesuffix(" =").split(" + ")]
        acc, steps = nums[0], []
        for i, n in enumerate(nums[1:], 1):
            steps.append(Step(str(i), f"{acc} + {n} = {acc + n}."))
            acc += n
        return Attempt((*steps, Step(FINAL, f"So the answer is {acc}.")))

    def extract_answer(self, attempt: Attempt, problem: Problem | None = None) -> str | None:
        m = re.search(r"answer is (-?\d+)\.", attempt.final)
        return m.group(1) if m else None

    def check(self, problem: Problem, attempt: Attempt) -> Feedback:
        for step in attempt.steps[:-1]:
            m = self._STEP.match(step.text)
            if m and int(m.group(1)) + int(m.group(2)) != int(m.group(3)):
                total = int(m.group(1)) + int(m.group(2))
                return Feedback.error(
                    attempt,
                    step.label,
                    f"= {m.group(3)}",
                    f"{m.group(1)} + {m.group(2)} is {total}",
                )
        if self.extract_answer(attempt) != problem.answer:
            return Feedback.error(attempt, FINAL, attempt.final, f"the answer is {problem.answer}")
        return Feedback.ok(attempt)

    def improve(self, problem, attempt, feedback):
        return self.solve(problem)

    def inject_error(self, problem, attempt, rng):
        s = attempt.steps[0]
        wrong = re.sub(r"= (-?\d+)\.$", lambda m: f"= {int(m.group(1)) + 1}.", s.text)
        return Attempt((Step(s.label, wrong), *attempt.steps[1:])), s.label


TASK = AddTask()
PROBLEM = Problem("2 + 3 + 4 =", "9", "add")
ATTEMPT = Attempt.parse("(1) 2 + 3 = 6.\n(2) 6 + 4 = 10.\n(Final response) So the answer is 10.")
ERROR_JSON = '{"verdict": "error", "step": "1", "segment": "= 6", "reason": "2 + 3 is 5"}'


class FakeServer:
    """An OpenAI-compatible answerer for httpx.MockTransport; records every request."""

    def __init__(self, answers=None, statuses=None, no_completion=False):
        self.answers = list(answers or [ERROR_JSON])
        self.statuses = list(statuses or [])  # (status, headers, body) served first, in order
        self.no_completion = no_completion
        self.requests: list[tuple[str, dict]] = []

    def handler(self, request):
        body = json.loads(request.content)
        self.requests.append((request.url.path, body))
        if (
            self.no_completion
            and request.url.path.endswith("/completions")
            and "chat" not in request.url.path
        ):
            return httpx.Response(404, json={"error": {"message": "no such endpoint"}})
        if self.statuses:
            status, headers, payload = self.statuses.pop(0)
            return httpx.Response(status, headers=headers, json=payload)
        text = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
        if "messages" in body:
            choice = {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
            return httpx.Response(
                200,
                json={
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [choice],
                    "usage": usage,
                },
            )
        choice = {"index": 0, "finish_reason": "stop", "text": text}
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": [choice],
                "usage": usage,
            },
        )

    def factory(self):
        return lambda: httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def make(cls, server, tmp_path, **cfg):
    base = {
        "base_url": "http://fake.local/v1",
        "model": "m",
        "cache_dir": str(tmp_path / "cache"),
        "backoff_s": 0.0,
    }
    module = cls(TASK, LLMConfig(**{**base, **cfg}), http_client_factory=server.factory())
    delays: list[float] = []

    async def sleep(s: float) -> None:
        delays.append(s)

    module.client._sleep = sleep
    module.delays = delays
    return module


pytestmark = pytest.mark.skipif(httpx is None, reason="needs httpx2 or httpx")


def test_feedback_request_carries_few_shot_prompt_stop_and_sampling(tmp_path):
    server = FakeServer()
    fbk = make(LLMFeedback, server, tmp_path, endpoint="completion", max_tokens=77, n_shots=3)
    [res] = fbk.give_feedback([PROBLEM], [ATTEMPT.render()])
    path, body = server.requests[0]
    assert path == "/v1/completions"
    assert body["model"] == "m" and body["temperature"] == 0.0 and body["max_tokens"] == 77
    assert body["stop"] == FEEDBACK_STOP and body["seed"] == 0
    prompt = body["prompt"]
    assert prompt.count("\nReview: {") == 3  # three worked examples from the task's own code
    assert prompt.endswith(
        "Q: 2 + 3 + 4 =\nReference answer: 9\nAnswer under review (quoted):\n"
        "> Answer: Let's think step by step.\n"
        + "\n".join("> " + line for line in ATTEMPT.render().split("\n"))
        + "\nReview:"
    )
    assert (
        res.feedback.render()
        == 'In step (1) the part "= 6" is incorrect. This is because 2 + 3 is 5.'
    )


@pytest.mark.parametrize(
    "answer, show, shown", [("9", True, True), ("9", False, False), ("", True, False)]
)
def test_reference_answer_is_shown_only_when_known_and_wanted(tmp_path, answer, show, shown):
    server = FakeServer()
    problem = Problem(PROBLEM.question, answer, "add")
    make(LLMFeedback, server, tmp_path, show_answer=show).give_feedback(
        [problem], [ATTEMPT.render()]
    )
    query = server.requests[0][1]["prompt"].rsplit("\n\n", 1)[1]
    assert ("\nReference answer: 9\n" in query) == shown and query.endswith("Review:")


def test_feedback_counts_calls_tokens_and_cost(tmp_path):
    server = FakeServer()
    fbk = make(LLMFeedback, server, tmp_path, prompt_price_per_1m=2.0, completion_price_per_1m=10.0)
    fbk.give_feedback([PROBLEM] * 2, [ATTEMPT.render(), ATTEMPT.render() + "\n"])
    s = fbk.stats
    assert (s.calls, s.cache_hits, s.prompt_tokens, s.completion_tokens) == (
        1,
        1,
        100,
        10,
    )  # same prompt twice
    assert s.cost == pytest.approx((100 * 2.0 + 10 * 10.0) / 1e6)


@pytest.mark.parametrize(
    "answers, ok, requests",
    [
        (["not json", ERROR_JSON], True, 2),
        (
            ['{"verdict": "error", "step": "7", "segment": "= 6", "reason": "x"}', ERROR_JSON],
            True,
            2,
        ),
        (["garbage"], False, 3),
    ],
)
def test_unusable_feedback_is_reasked_with_new_seed_then_dropped(tmp_path, answers, ok, requests):
    server = FakeServer(answers)
    fbk = make(LLMFeedback, server, tmp_path, parse_retries=2)
    [res] = fbk.give_feedback([PROBLEM], [ATTEMPT.render()])
    assert len(server.requests) == requests
    second = server.requests[1][1]
    assert second["seed"] == 1 and second["temperature"] == 0.7
    assert (res.feedback is not None) == ok
    if not ok:
        assert (
            res.drop_reason.startswith("unusable feedback after 3 tries")
            and fbk.stats.extra["drops"] == 1
        )


@pytest.mark.parametrize(
    "answer, expected",
    [
        (ERROR_JSON, ("1", "= 6", "2 + 3 is 5")),
        (
            '```json\n{"verdict": "error", "step": "(2)", "segment": "\\"6 + 4\\"", "reason": "This is because x."}\n```',
            ("2", "6 + 4", "x"),
        ),
        (
            '{"verdict": "error", "step": "final response", "segment": "10", "reason": "it is 9"}',
            (FINAL, "10", "it is 9"),
        ),
        ('{"verdict": "correct"}', None),
        (
            'Step (1) is correct. In step (2) the part "= 10" is incorrect. This is because 6 + 4 is 10.',
            ("2", "= 10", "6 + 4 is 10"),
        ),
    ],
)
def test_parse_feedback_accepts_structured_answers(answer, expected):
    fb = parse_feedback(answer, ATTEMPT)
    if expected is None:
        assert fb.correct and fb.ok_range == ("1", "2")
    else:
        assert (fb.error_step, fb.segment, fb.reason) == expected


@pytest.mark.parametrize(
    "answer, message",
    [
        ('{"verdict": "error", "step": "3", "segment": "= 6", "reason": "x"}', "does not have"),
        ('{"verdict": "error", "step": "1", "segment": "= 7", "reason": "x"}', "not verbatim"),
        ('{"verdict": "error", "step": "1", "segment": "= 6"}', "no reason"),
        ('{"verdict": "maybe"}', "verdict"),
        ("{not json}", "not valid JSON"),
        ("the answer looks fine", "no JSON"),
    ],
)
def test_parse_feedback_rejects_answers_that_do_not_fit_the_attempt(answer, message):
    with pytest.raises(FormatError, match=message):
        parse_feedback(answer, ATTEMPT)


def test_improvement_prompt_ends_with_verbatim_prefix_and_result_keeps_it(tmp_path):
    attempt = Attempt.parse(
        "(1) 2 + 3 = 5.\n(2) 5 + 4 = 10.\n(Final response) So the answer is 10."
    )
    feedback = Feedback.error(attempt, "2", "= 10", "5 + 4 is 9")
    server = FakeServer(["(2) 5 + 4 = 9.\n(Final response) So the answer is 9.\nFeedback: junk"])
    imp = make(LLMImprovement, server, tmp_path, endpoint="completion")
    [res] = imp.improve([PROBLEM], [attempt], [feedback])
    body = server.requests[0][1]
    assert body["stop"] == IMPROVEMENT_STOP and body["temperature"] == 0.0
    assert body["prompt"].endswith(
        'Feedback: Step (1) is correct. In step (2) the part "= 10" is incorrect. This is because 5 + 4 is 9.\n'
        "Updated Answer: Let's think step by step.\n(1) 2 + 3 = 5.\n"
    )
    assert (
        res.attempt.render()
        == "(1) 2 + 3 = 5.\n(2) 5 + 4 = 9.\n(Final response) So the answer is 9."
    )


@pytest.mark.parametrize(
    "continuation, expected",
    [
        ("(2) 5 + 4 = 9.\n(Final response) So the answer is 9.", "(2) 5 + 4 = 9."),
        (
            "Updated Answer: Let's think step by step.\n(1) 2 + 3 = 5.\n(2) 5 + 4 = 9.\n(Final response) So the answer is 9.",
            "(2) 5 + 4 = 9.",
        ),
        ("(2) 5 + 4 = 9.\n(Final response) So the answer is 9.\n(3) extra", "(2) 5 + 4 = 9."),
    ],
)
def test_assemble_improvement_keeps_prefix_once_and_stops_after_final_line(continuation, expected):
    attempt = Attempt.parse(
        "(1) 2 + 3 = 5.\n(2) 5 + 4 = 10.\n(Final response) So the answer is 10."
    )
    feedback = Feedback.error(attempt, "2", "= 10", "5 + 4 is 9")
    new = assemble_improvement(attempt, feedback, continuation, "")
    assert new.render() == f"(1) 2 + 3 = 5.\n{expected}\n(Final response) So the answer is 9."


def test_improvement_without_final_response_is_dropped_after_reasks(tmp_path):
    attempt = Attempt.parse("(1) 2 + 3 = 6.\n(Final response) So the answer is 6.")
    server = FakeServer(["(1) 2 + 3 = 5."])
    imp = make(LLMImprovement, server, tmp_path, parse_retries=1)
    [res] = imp.improve([PROBLEM], [attempt], [Feedback.error(attempt, "1", "= 6", "2 + 3 is 5")])
    assert res.attempt is None and "unparsable improvement after 2 tries" in res.drop_reason
    assert len(server.requests) == 2


def test_auto_endpoint_falls_back_to_chat_on_404_and_remembers_it(tmp_path):
    server = FakeServer(no_completion=True)
    fbk = make(LLMFeedback, server, tmp_path, endpoint="auto")
    [res] = fbk.give_feedback([PROBLEM], [ATTEMPT.render()])
    assert [p for p, _ in server.requests] == ["/v1/completions", "/v1/chat/completions"]
    messages = server.requests[1][1]["messages"]
    assert messages[0]["role"] == "system" and messages[-1]["content"].endswith("Review:")
    assert res.feedback is not None
    # a new module on the same cache goes to chat directly, for a prompt it has not seen
    again = make(LLMFeedback, server, tmp_path, endpoint="auto")
    again.give_feedback([PROBLEM], ["(1) 2 + 3 = 6.\n(Final response) So the answer is 6."])
    assert server.requests[-1][0] == "/v1/chat/completions" and len(server.requests) == 3


def test_retries_honour_retry_after_then_back_off_exponentially(tmp_path):
    server = FakeServer(statuses=[(429, {"Retry-After": "3"}, {}), (500, {}, {}), (502, {}, {})])
    fbk = make(LLMFeedback, server, tmp_path, backoff_s=1.0, max_retries=5)
    [res] = fbk.give_feedback([PROBLEM], [ATTEMPT.render()])
    assert res.feedback is not None and len(server.requests) == 4
    assert fbk.delays[0] == 3.0  # Retry-After
    assert 1.0 <= fbk.delays[1] <= 2.0 and 2.0 <= fbk.delays[2] <= 4.0  # 2^n with jitter
    assert fbk.stats.extra["retries"] == 3 and fbk.stats.failures == 0


@pytest.mark.parametrize(
    "status, requests, reason",
    [(503, 3, "HTTP 503, 3 tries"), (400, 1, "HTTP 400"), (422, 1, "HTTP 422")],
)
def test_failed_request_becomes_drop_reason_and_is_not_cached(tmp_path, status, requests, reason):
    server = FakeServer(statuses=[(status, {}, {"error": {"message": "nope"}})] * 3)
    fbk = make(LLMFeedback, server, tmp_path, max_retries=2)
    [res] = fbk.give_feedback([PROBLEM], [ATTEMPT.render()])
    assert res.feedback is None and reason in res.drop_reason and len(server.requests) == requests
    assert fbk.stats.failures == 1 and fbk.client.cache.get_meta(fbk.client._meta) is None
    assert len(fbk.client.cache) == 0


def test_second_run_on_the_same_cache_makes_no_calls(tmp_path):
    server = FakeServer(['{"verdict": "correct"}'])
    attempts = [f"(1) 2 + 3 = {k}.\n(Final response) So the answer is {k}." for k in range(6)]
    first = make(LLMFeedback, server, tmp_path).give_feedback([PROBLEM] * 6, attempts)
    n = len(server.requests)
    second_module = make(LLMFeedback, server, tmp_path)
    second = second_module.give_feedback([PROBLEM] * 6, attempts)
    assert len(server.requests) == n == 6
    assert (
        second == first and second_module.stats.cache_hits == 6 and second_module.stats.calls == 0
    )


def test_api_key_stays_out_of_results_logs_and_cache(tmp_path, monkeypatch, caplog):
    secret = "sk-test-5ecret-never-stored"
    monkeypatch.setenv("TRIPOST_TEST_KEY", secret)
    server = FakeServer(
        statuses=[(401, {}, {"error": {"message": f"Incorrect API key provided: {secret}"}})]
    )
    caplog.set_level(logging.DEBUG)
    fbk = make(LLMFeedback, server, tmp_path, api_key_env="TRIPOST_TEST_KEY")
    [bad] = fbk.give_feedback([PROBLEM], [ATTEMPT.render()])
    [good] = fbk.give_feedback([PROBLEM], [ATTEMPT.render()])
    assert "***" in bad.drop_reason and secret not in bad.drop_reason
    assert good.feedback is not None and secret not in caplog.text
    db = (tmp_path / "cache" / "responses.sqlite").read_bytes()
    assert b"5ecret" not in db and len(fbk.client.cache) == 1


def test_unparsable_attempt_gets_format_feedback_without_a_call(tmp_path):
    server = FakeServer()
    [res] = make(LLMFeedback, server, tmp_path).give_feedback([PROBLEM], ["I think it is 9"])
    assert (
        not server.requests
        and res.feedback.error_step == "1"
        and "step format" in res.feedback.reason
    )


def test_improvement_of_correct_attempt_is_dropped_without_a_call(tmp_path):
    server = FakeServer()
    [res] = make(LLMImprovement, server, tmp_path).improve(
        [PROBLEM], [ATTEMPT], [Feedback.ok(ATTEMPT)]
    )
    assert not server.requests and "correct" in res.drop_reason


def test_batch_methods_run_repeatedly_and_inside_a_running_loop(tmp_path):
    fbk = make(LLMFeedback, FakeServer(), tmp_path)
    for _ in range(3):
        assert fbk.give_feedback([PROBLEM], [ATTEMPT.render()])[0].feedback is not None

    async def inside() -> bool:
        return fbk.give_feedback([PROBLEM], [ATTEMPT.render()])[0].feedback is not None

    assert asyncio.run(inside())


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"api_key": "sk-x"}, "api_key_env"),
        ({"modle": "x"}, "modle"),
        ({"endpoint": "responses"}, "endpoint"),
        ({"concurrency": 0}, "concurrency"),
    ],
)
def test_config_errors_are_clear(cfg, message):
    with pytest.raises(ValidationError, match=message):
        LLMConfig(**cfg)


def test_openai_url_without_key_is_refused(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        build_feedback("llm", TASK, LLMConfig(cache_dir=str(tmp_path)))


def test_base_url_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    fbk = build_feedback("llm", TASK, {"cache_dir": str(tmp_path)})
    assert fbk.client.url == "http://127.0.0.1:9/v1"


def test_few_shot_demos_come_from_the_task_and_are_seeded():
    demos = build_demos(TASK, 3, seed=5)
    errors = [d for d in demos if not d.feedback.correct]
    assert len(errors) == 3 and any(d.feedback.correct for d in demos)
    for d in errors:
        assert TASK.check(d.problem, d.improved).correct
        assert d.improved.prefix(d.feedback.error_step) == d.attempt.prefix(d.feedback.error_step)
    assert build_demos(TASK, 3, seed=5) == demos


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_header_is_read(headers, seconds):
    assert retry_after_s(headers) == seconds
