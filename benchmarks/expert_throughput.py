"""Throughput of the LLM feedback module: concurrent calls vs one call at a time.

A local stdlib HTTP server answers the OpenAI completion JSON after a fixed delay (default
200 ms, standing in for model latency). The same feedback requests (all distinct, cache off)
are sent with ``concurrency`` requests in flight and then one at a time; the ratio of the two
rates should approach the concurrency limit.

    python benchmarks/expert_throughput.py --requests 256 --concurrency 32 --delay-ms 200
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tripost.experts import build_feedback
from tripost.experts.llm import LLMConfig
from tripost.tasks.custom import CustomTask

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_task" / "task.yaml"


def serve(delay_s: float, port: multiprocessing.Queue[int]) -> None:
    """The server, in a process of its own so that it does not share the client's GIL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real server
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(delay_s)
            choice = {"index": 0, "finish_reason": "stop", "text": ' {"verdict": "correct"}'}
            usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            payload = {
                "id": "b",
                "object": "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": [choice],
                "usage": usage,
            }
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default backlog (5) drops a burst of 32 connects

    server = Server(("127.0.0.1", 0), Handler)
    port.put(server.server_port)
    server.serve_forever()


def measure(url: str, task: CustomTask, n: int, concurrency: int) -> float:
    """Feedback calls per second for ``n`` distinct requests."""
    problem = next(p for p in task.problems if task.solve(p) is not None)
    gold = task.solve(problem).render()
    texts = [gold.replace("So the answer is", f"So the answer is {k} or") for k in range(n)]
    cfg = LLMConfig(
        base_url=url, model="bench", endpoint="completion", concurrency=concurrency, cache=False
    )
    fbk = build_feedback("llm", task, cfg)
    start = time.perf_counter()
    results = fbk.give_feedback([problem] * n, texts)
    elapsed = time.perf_counter() - start
    assert fbk.stats.calls == n and all(r.feedback is not None for r in results), (
        fbk.stats.as_dict()
    )
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=256, help="requests of the concurrent run")
    ap.add_argument(
        "--sequential-requests", type=int, default=20, help="requests of the one-at-a-time run"
    )
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--delay-ms", type=float, default=200.0, help="server latency per request")
    args = ap.parse_args()
    port: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.delay_ms / 1000, port), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port.get(timeout=30)}/v1"
    task = CustomTask.from_config(EXAMPLE)
    try:
        concurrent = measure(url, task, args.requests, args.concurrency)
        sequential = measure(url, task, args.sequential_requests, 1)
    finally:
        server.terminate()
        server.join()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"server latency: {args.delay_ms:g} ms per request")
    print(
        f"concurrency {args.concurrency:>3}: {concurrent:7.1f} calls/s ({args.requests} requests)"
    )
    print(f"concurrency   1: {sequential:7.1f} calls/s ({args.sequential_requests} requests)")
    print(f"ratio: {concurrent / sequential:.1f}x (limit {args.concurrency}x)")


if __name__ == "__main__":
    main()
