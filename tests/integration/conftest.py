"""Local OpenAI-compatible servers for the LLM expert tests, all on loopback.

- ``StubOpenAIServer``: a stdlib HTTP server answering the OpenAI JSON (fast, deterministic).
- ``FaultProxy``: a stdlib proxy in front of a server that answers 429 / 500, delays past the
  client's timeout or cuts the connection, by a plan keyed on the request.
- ``transformers_server``: ``transformers serve`` on a tiny random Llama built in the test,
  started by tripost's own ``InferenceServer`` (the server backend's).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tripost.policy.server import InferenceServer


def request_text(body: dict) -> str:
    """The prompt of a completion body, or the last user message of a chat body."""
    if "prompt" in body:
        return body["prompt"]
    return body["messages"][-1]["content"]


def stub_answer(body: dict) -> str:
    """A deterministic answer: a review naming the final response, or a short update."""
    text = request_text(body)
    if text.rstrip().endswith("Review:"):
        final = re.findall(r"\(Final response\) (.*)", text)[-1]
        tag = hashlib.sha256(text.encode()).hexdigest()[:6]
        return " " + json.dumps(
            {"verdict": "error", "step": "Final response", "segment": final, "reason": f"r{tag}"}
        )
    return "(Final response) So the answer is 42.\nQ: next"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog (5) drops a burst of concurrent connects

    def handle_error(self, request, client_address) -> None:  # a client gone away is expected
        pass


class StubOpenAIServer:
    """``/v1/completions`` and ``/v1/chat/completions`` answered by ``answer(body)`` after
    ``delay_s``; counts requests."""

    def __init__(self, answer: Callable[[dict], str] = stub_answer, delay_s: float = 0.0) -> None:
        self.answer, self.delay_s, self.requests = answer, delay_s, 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no delayed-ACK stall between headers and body

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests += 1
                time.sleep(stub.delay_s)
                text = stub.answer(body)
                usage = {
                    "prompt_tokens": len(request_text(body)) // 4,
                    "completion_tokens": len(text) // 4,
                }
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                if self.path.endswith("/chat/completions"):
                    choice = {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text},
                    }
                else:
                    choice = {"index": 0, "finish_reason": "stop", "text": text}
                payload = {
                    "id": "stub",
                    "object": "x",
                    "created": 0,
                    "model": body["model"],
                    "choices": [choice],
                    "usage": usage,
                }
                _reply(self, 200, payload)

        self.stopped = False
        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.httpd.shutdown()
            self.httpd.server_close()


def _reply(
    handler: BaseHTTPRequestHandler, status: int, payload: dict, headers: dict | None = None
) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(data)


class FaultProxy:
    """Forwards to ``upstream``; ``plan(body, n)`` -> fault for the n-th try (0-based) of a
    request body: None, "429", "500", "slow" (``slow_s`` then forward) or "cut".
    ``log`` records (time, body hash, fault) for every request."""

    def __init__(
        self, upstream: str, plan: Callable[[dict, int], str | None], slow_s: float
    ) -> None:
        self.log: list[tuple[float, str, str | None]] = []
        seen: dict[str, int] = {}
        lock = threading.Lock()
        target = upstream.split("//", 1)[1].split("/", 1)[0]
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no delayed-ACK stall between headers and body

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                key = hashlib.sha256(raw).hexdigest()
                with lock:
                    n = seen[key] = seen.get(key, -1) + 1
                    fault = plan(body, n)
                    proxy.log.append((time.monotonic(), key, fault))
                if fault == "429":
                    return _reply(
                        self, 429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}
                    )
                if fault == "500":
                    return _reply(self, 500, {"error": {"message": "boom"}})
                if fault == "cut":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                if fault == "slow":
                    time.sleep(slow_s)
                conn = http.client.HTTPConnection(target, timeout=30)
                conn.request("POST", self.path, raw, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                _reply(self, resp.status, json.loads(resp.read()))
                conn.close()

        self.stopped = False
        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def make_stub() -> Iterator[Callable[..., StubOpenAIServer]]:
    """``make_stub(answer=..., delay_s=...)`` -> a started StubOpenAIServer (stopped at teardown)."""
    servers: list[StubOpenAIServer] = []
    yield lambda **kw: servers.append(StubOpenAIServer(**kw)) or servers[-1]
    for s in servers:
        s.stop()


@pytest.fixture
def make_proxy() -> Iterator[Callable[..., FaultProxy]]:
    """``make_proxy(upstream_url, plan, slow_s)`` -> a started FaultProxy (stopped at teardown)."""
    proxies: list[FaultProxy] = []
    yield lambda *a, **kw: proxies.append(FaultProxy(*a, **kw)) or proxies[-1]
    for p in proxies:
        p.stop()


# ---------------------------------------------------------------- transformers serve


def build_tiny_checkpoint(path: Path) -> None:
    """A random 2-layer Llama and a byte-level BPE tokenizer with a chat template: no download."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = "Q: Answer: Let's think step by step. (1) (2) (Final response) So the answer is Review: verdict error"
    tok.train_from_iterator([corpus] * 4, trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="</s>"
    )
    hf.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    hf.save_pretrained(path)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(hf),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    LlamaForCausalLM(config).save_pretrained(path)


OFFLINE_ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


@pytest.fixture(scope="module")
def transformers_server(tmp_path_factory) -> Iterator[InferenceServer]:
    for module in ("fastapi", "uvicorn"):
        pytest.importorskip(module, reason="needs transformers[serving]")
    root = tmp_path_factory.mktemp("serve")
    build_tiny_checkpoint(root / "tiny-llama")
    server = InferenceServer(
        "transformers serve {model} --host {host} --port {port} --device cpu",
        root / "tiny-llama",
        root / "serve.log",
        startup_timeout_s=120,
        env=OFFLINE_ENV,
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
