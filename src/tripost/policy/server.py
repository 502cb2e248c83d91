"""Rollouts and evaluation through an OpenAI-compatible inference server (``backend: server``).

For each stage that decodes (``rollout.backend`` / ``eval.backend``), tripost starts a server on
that stage's checkpoint from a command template (``server.command``, default ``transformers
serve``; ``vllm serve {model} ...`` or SGLang's launcher work the same way) on a free loopback
port, waits until it answers, sends the prompts to ``/v1/completions`` through the ``openai``
client (at most ``server.concurrency`` in flight), and stops it when the stage ends, also on an
error, Ctrl-C or SIGTERM: the server runs in a process group of its own, which is killed whole;
on Linux it also gets SIGTERM if tripost itself dies (``PR_SET_PDEATHSIG``).

Every answer is appended to ``<stage output>.partial.jsonl`` as it arrives. A server that dies
mid-stage is restarted (up to ``server.max_restarts`` times) and only the prompts without an
answer are sent again; a tripost run killed mid-stage resumes from the same file. The stage's
output is then written exactly as the in-process backend writes it.

The same decoding as in-process, as far as the engine lets us say so (``server.dialect``):

- ``transformers`` (``transformers serve``): the request carries our own ``generation_config``
  (pure temperature sampling or greedy, every stop id, the token budget);
- ``vllm`` (``vllm serve``, SGLang): ``top_k: -1``, ``min_p: 0``, ``repetition_penalty: 1``,
  ``stop_token_ids`` and ``add_special_tokens`` as extra body fields;
- ``openai`` (anything else): standard fields only, the stop tokens as ``stop`` strings.

A LoRA checkpoint (an adapter directory) is merged into its base and written as a full
checkpoint next to the server's log for the stage's duration (``server/<checkpoint>-merged``),
since servers load full checkpoints. Nothing of any engine is imported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import torch
from transformers import AutoConfig, AutoTokenizer, GenerationConfig

from tripost.config import DEFAULT_SERVER_COMMAND, ServerConfig
from tripost.experts.llm_client import run_sync
from tripost.policy.generation import Sampling, _budget, generation_config
from tripost.policy.model import adapter_base, bos_prefix, eos_ids, load_policy
from tripost.policy.prompting import PromptFormat

log = logging.getLogger(__name__)

DEFAULT_COMMAND = DEFAULT_SERVER_COMMAND


class ServerError(ValueError):
    """A server that does not start, dies too often or refuses the requests; one line."""


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dialect_of(command: str) -> str:
    """``transformers`` for ``transformers serve``, ``vllm`` for vLLM and SGLang, else
    ``openai``."""
    words = [Path(w).name for w in shlex.split(command)[:4]]
    if "transformers" in words and "serve" in words:
        return "transformers"
    if any("vllm" in w or "sglang" in w for w in words):
        return "vllm"
    return "openai"


def _program(name: str) -> str:
    """An executable on PATH, or next to the running Python (a virtualenv's ``bin/`` that is
    not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    local = Path(sys.executable).parent / name
    if os.sep not in name and local.is_file() and os.access(local, os.X_OK):
        return str(local)
    raise ServerError(f"server.command: {name!r} not found (install it, or set server.command)")


def check_command(command: str) -> None:
    """A command template whose fields are known and whose program exists (one-line error)."""
    InferenceServer(command, "MODEL", os.devnull).argv(0)


# resolved here, not in the forked child (no imports between fork and exec)
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The server gets SIGTERM when tripost dies, even by SIGKILL (Linux)."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


_ERROR = re.compile(r"error|exception|no such|not found|failed", re.I)


class InferenceServer:
    """One server process started from a command template on a free loopback port.

    ``start`` returns once ``/health`` (or ``/v1/models``) answers 200; ``stop`` kills the whole
    process group (SIGTERM, then SIGKILL after ``stop_timeout_s``). Use as a context manager."""

    def __init__(
        self,
        command: str,
        model: str | Path,
        log_path: str | Path,
        startup_timeout_s: float = 900.0,
        stop_timeout_s: float = 30.0,
        env: dict[str, str] | None = None,
        dtype: str = "auto",
    ) -> None:
        self.command = command
        self.model = str(model)
        self.log_path = Path(log_path)
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.env = env
        self.dtype = dtype
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.starts = 0
        self._old_sigterm: Any = None

    def argv(self, port: int) -> list[str]:
        try:
            words = shlex.split(self.command)
            fields = {"model": self.model, "port": port, "host": "127.0.0.1", "dtype": self.dtype}
            argv = [w.format(**fields) for w in words]
        except (ValueError, KeyError, IndexError) as e:
            raise ServerError(f"server.command: {self.command!r}: {e}") from None
        if not argv:
            raise ServerError("server.command: empty")
        return [_program(argv[0]), *argv[1:]]

    def start(self) -> str:
        """Start the server and wait until it answers; returns its ``.../v1`` URL."""
        port = free_port()
        argv = self.argv(port)
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.log_path, "a") as logf:
            logf.write(f"--- start {self.starts}: {shlex.join(argv)}\n")
            logf.flush()
            self._trap_sigterm()
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed whole in stop()
                preexec_fn=_die_with_parent,
                env=self.env,
            )
        log.info(
            "server pid %d started: %s (log: %s)", self.proc.pid, shlex.join(argv), self.log_path
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _wait_ready(self) -> None:
        t0 = time.monotonic()
        base = self.url.removesuffix("/v1")
        while time.monotonic() - t0 < self.startup_timeout_s:
            if not self.alive():
                code = self.proc.returncode if self.proc else None
                raise ServerError(
                    f"server: `{self.command}` exited with code {code} before answering; "
                    f"{self.last_lines()}"
                )
            for path in ("/health", "/v1/models"):
                try:
                    with urllib.request.urlopen(base + path, timeout=2) as r:
                        if r.status == 200:
                            log.info("server ready after %.1fs at %s", time.monotonic() - t0, base)
                            return
                except OSError:
                    pass
            time.sleep(0.3)
        raise ServerError(
            f"server: `{self.command}` did not answer within {self.startup_timeout_s:g}s "
            f"(server.startup_timeout_s); {self.last_lines()}"
        )

    def last_lines(self, n: int = 3) -> str:
        """The server's last log lines, on one line."""
        try:
            lines = [x.strip() for x in self.log_path.read_text(errors="replace").splitlines()]
        except OSError:
            lines = []
        lines = [x for x in lines if x and not x.startswith("--- start")]
        last = lines[-n:]
        errors = [x for x in lines[:-n] if _ERROR.search(x)]  # e.g. above a usage text
        shown = " | ".join(x[:200] for x in errors[-1:] + (["..."] if errors else []) + last)
        return f"its last log lines: {shown or '(nothing)'} (log: {self.log_path})"

    def stop(self) -> None:
        """Kill the server's process group: SIGTERM, SIGKILL after ``stop_timeout_s``."""
        proc, self.proc = self.proc, None
        if proc is not None:
            pgid = proc.pid  # start_new_session: the group's id is the leader's pid
            _killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("server pid %d ignored SIGTERM: killing it", proc.pid)
            _killpg(pgid, signal.SIGKILL)  # also any child left in the group
            proc.wait()
        self._restore_sigterm()

    def _trap_sigterm(self) -> None:
        """While a server runs, SIGTERM to tripost unwinds (and so stops the server) instead of
        ending the process on the spot."""
        if self._old_sigterm is not None:
            return
        with contextlib.suppress(ValueError):  # not the main thread: PDEATHSIG still holds
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_exit)

    def _restore_sigterm(self) -> None:
        if self._old_sigterm is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None

    def __enter__(self) -> InferenceServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _raise_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# --- a checkpoint behind a server --------------------------------------------------------------


class ServedCheckpoint:
    """A stage's checkpoint behind a server: its tokenizer and prompt format, and ``generate``
    with the in-process backend's contract (continuations without the stop token, in input
    order)."""

    def __init__(
        self,
        server: InferenceServer,
        cfg: ServerConfig,
        tokenizer,
        fmt: PromptFormat,
        stops: list[int],
        model_config,
    ) -> None:
        self.server, self.cfg, self.tokenizer, self.fmt = server, cfg, tokenizer, fmt
        self.stops = stops
        self.model_config = model_config
        self.dialect = cfg.dialect if cfg.dialect != "auto" else dialect_of(cfg.command)
        self.stats = {
            "requests": 0,
            "completion_tokens": 0,
            "restarts": 0,
            "resumed": 0,
            "prompt_mismatches": 0,  # prompts the server read as another number of tokens
            "answers_per_start": [],  # answers received from each start of the server
        }

    def generate(
        self, prompts: list[str], sampling: Sampling, seed: int | None, partial: Path
    ) -> list[str]:
        """Continuations of ``prompts``; answers are kept in ``partial`` as they arrive, and a
        rerun (or a restarted server) only asks for the missing ones."""
        keys = [_key(p, sampling) for p in prompts]
        got = _read_partial(partial, keys)
        self.stats["resumed"] = len(got)
        bos = bos_prefix(self.tokenizer) if self.fmt.add_bos else []
        lengths = [
            len(bos) + len(self.tokenizer.encode(p, add_special_tokens=False)) for p in prompts
        ]
        holder = SimpleNamespace(config=self.model_config)
        budgets = [_budget(holder, n, sampling.max_new_tokens) for n in lengths]
        todo = [i for i in range(len(prompts)) if i not in got and budgets[i] > 0]
        _end_torn_line(partial)
        with open(partial, "a") as out:
            job = SimpleNamespace(
                prompts=prompts,
                keys=keys,
                lengths=lengths,
                budgets=budgets,
                sampling=sampling,
                seed=seed,
                concurrency=self.cfg.concurrency or max(1, sampling.batch_size),
                out=out,
                got=got,
            )
            for attempt in range(self.cfg.max_restarts + 1):
                if not todo:
                    break
                if not self.server.alive():
                    if attempt:
                        log.warning(
                            "the server died or failed mid-stage (%d of %d answers kept): "
                            "restarting it",
                            len(got),
                            len(prompts),
                        )
                        self.stats["restarts"] += 1
                    self.server.start()
                    self.stats["answers_per_start"].append(0)
                failed = run_sync(lambda: self._send(job, todo))  # noqa: B023 - called at once
                todo = sorted(failed)
                if todo and self.server.alive():
                    fatal = [e for e in failed.values() if _is_client_error(e)]
                    if fatal:
                        raise ServerError(f"server: the server refused a request: {fatal[0]}")
                    self.server.stop()  # alive but failing: restart it
            if todo:
                raise ServerError(
                    f"server: {len(todo)} of {len(prompts)} prompts unanswered after "
                    f"{self.cfg.max_restarts} restarts (server.max_restarts); last error: "
                    f"{next(iter(failed.values()))}; {self.server.last_lines()}"
                )
        if self.stats["prompt_mismatches"]:
            log.warning(
                "the server read %d prompt(s) as a different number of tokens than tripost "
                "(BOS or special tokens differ: see docs/scaling.md)",
                self.stats["prompt_mismatches"],
            )
        return [got.get(i, "") for i in range(len(prompts))]

    async def _send(self, job: SimpleNamespace, todo: list[int]) -> dict[int, str]:
        """Ask for every prompt of ``todo``; returns the failed ones with what went wrong."""
        failed: dict[int, str] = {}
        sem = asyncio.Semaphore(job.concurrency)
        client = openai.AsyncOpenAI(
            base_url=self.server.url,
            api_key="none",  # a local server; the client wants one
            max_retries=2,
            timeout=self.cfg.request_timeout_s,
        )

        async def one(i: int) -> None:
            async with sem:
                if not self.server.alive():
                    failed[i] = "the server exited"
                    return
                body = self._request(job.prompts[i], job.budgets[i], job.sampling, job.seed, i)
                try:
                    r = await client.completions.create(**body)
                except openai.APIError as e:
                    failed[i] = _describe(e)
                    return
            text = self._clean(r.choices[0].text if r.choices else "")
            job.got[i] = text
            job.out.write(json.dumps({"i": i, "key": job.keys[i], "text": text}) + "\n")
            job.out.flush()
            self.stats["requests"] += 1
            self.stats["answers_per_start"][-1] += 1
            usage = r.usage
            self.stats["completion_tokens"] += getattr(usage, "completion_tokens", 0) or 0
            if usage is not None and usage.prompt_tokens not in (None, job.lengths[i]):
                self.stats["prompt_mismatches"] += 1

        try:
            await asyncio.gather(*(one(i) for i in todo))
        finally:
            await client.close()
        return failed

    def _request(self, prompt: str, budget: int, sampling: Sampling, seed, i: int) -> dict:
        t = sampling.temperature
        body: dict[str, Any] = {
            "model": self.server.model,
            "prompt": prompt,
            "max_tokens": budget,
            "temperature": t,
        }
        if t > 0 and seed is not None:
            body["seed"] = (seed * 1_000_003 + i) % 2**31  # one stream per prompt
        extra: dict[str, Any] = {}
        if self.dialect == "transformers":
            pad = self.tokenizer.pad_token_id
            gc = generation_config(t, budget, self.stops, pad)
            extra["generation_config"] = gc.to_json_string(use_diff=True)
            body["prompt"] = self._without_bos(prompt)
        elif self.dialect == "vllm":
            body["top_p"] = 1.0
            extra.update(
                top_k=-1,
                min_p=0.0,
                repetition_penalty=1.0,
                stop_token_ids=self.stops,
                add_special_tokens=self.fmt.add_bos,
            )
        else:
            body["top_p"] = 1.0
            body["prompt"] = self._without_bos(prompt)
            stops = [s for s in self._stop_texts() if s]
            if stops:
                body["stop"] = stops[:4]  # the API's limit
        extra.update(self.cfg.extra_body)
        if extra:
            body["extra_body"] = extra
        return body

    def _without_bos(self, prompt: str) -> str:
        """A server that tokenizes with special tokens adds BOS itself (when the tokenizer does):
        a chat template's own BOS text would make it twice."""
        bos = self.tokenizer.bos_token
        if not self.fmt.add_bos and bos and bos_prefix(self.tokenizer) and prompt.startswith(bos):
            return prompt[len(bos) :]
        return prompt

    def _stop_texts(self) -> list[str]:
        return [self.tokenizer.decode([i]) for i in self.stops]

    def _clean(self, text: str) -> str:
        """Without the stop token, as in-process (engines that keep a non-special stop token
        at the end)."""
        for s in self._stop_texts():
            if s and text.endswith(s):
                return text[: -len(s)]
        return text


def _key(prompt: str, sampling: Sampling) -> str:
    what = f"{sampling.temperature}|{sampling.max_new_tokens}|{prompt}"
    return hashlib.sha256(what.encode()).hexdigest()[:16]


def _end_torn_line(path: Path) -> None:
    """A partial file whose last line was cut by a kill gets its newline, so that what is
    appended next starts a line of its own."""
    if path.exists() and path.stat().st_size:
        with open(path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


def _read_partial(path: Path, keys: list[str]) -> dict[int, str]:
    """Answers already received for these prompts (a torn last line is ignored)."""
    got: dict[int, str] = {}
    if not path.exists():
        return got
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
            i = row["i"]
            if 0 <= i < len(keys) and row["key"] == keys[i]:
                got[i] = row["text"]
        except (ValueError, KeyError, TypeError):
            continue
    return got


def _describe(e: openai.APIError) -> str:
    if isinstance(e, openai.APIStatusError):
        msg = " ".join(str(e.message).split())[:200]
        return f"HTTP {e.status_code}: {msg}"
    return f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"


def _is_client_error(desc: str) -> bool:
    """An HTTP 4xx other than 408/409/429: the request itself is wrong; retrying cannot help."""
    if not desc.startswith("HTTP 4"):
        return False
    return desc[5:8] not in ("408", "409", "429")


def merge_adapter(adapter_dir: Path, out: Path, dtype, trust_remote_code: bool = False) -> Path:
    """A LoRA adapter merged into its base, written as a full checkpoint to ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    policy = load_policy(adapter_dir, dtype, trust_remote_code, device="cpu", trainable=False)
    merged = policy.model.merge_and_unload()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    policy.tokenizer.save_pretrained(tmp)
    tmp.rename(out)
    return out


def _release_gpu_cache() -> None:
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def serve_checkpoint(
    ckpt: Path,
    cfg: ServerConfig,
    prompt_format: str,
    system: str | None,
    work_dir: Path,
    label: str,
    dtype: torch.dtype = torch.float32,
    trust_remote_code: bool = False,
) -> Iterator[ServedCheckpoint]:
    """``ckpt`` (a full checkpoint or a LoRA adapter directory) behind a server for the
    duration of the ``with`` block, decoding in ``dtype``; the server's log is
    ``work_dir/<label>.log``."""
    ckpt = Path(ckpt).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    safe = label.replace("/", "_")
    merged = None
    if adapter_base(ckpt) is not None:
        merged = merge_adapter(ckpt, work_dir / f"{safe}-merged", dtype, trust_remote_code)
        log.info("LoRA checkpoint %s merged into %s for the server", ckpt, merged)
    served = merged or ckpt
    _release_gpu_cache()  # what training left in torch's allocator is the server's to use
    try:
        tok = AutoTokenizer.from_pretrained(served, trust_remote_code=trust_remote_code)
        config = AutoConfig.from_pretrained(served, trust_remote_code=trust_remote_code)
        try:
            gen = GenerationConfig.from_pretrained(served)
        except OSError:
            gen = None
        fmt = PromptFormat(tok, prompt_format, system)
        stops = sorted(set(eos_ids(tok, gen)) | set(fmt.stop_ids()))
        server = InferenceServer(
            cfg.command,
            served,
            work_dir / f"{safe}.log",
            cfg.startup_timeout_s,
            cfg.stop_timeout_s,
            dtype=str(dtype).removeprefix("torch."),
        )
        try:
            yield ServedCheckpoint(server, cfg, tok, fmt, stops, config)
        finally:
            server.stop()
    finally:
        if merged is not None:
            shutil.rmtree(merged, ignore_errors=True)
