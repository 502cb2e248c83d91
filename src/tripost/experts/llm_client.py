"""The HTTP side of the LLM expert: endpoint choice, cache, concurrency, retries, usage.

One ``LLMClient`` serves one module. ``map`` runs a coroutine per item on a fresh event loop
(so the sync batch methods can be called again and again, also from inside a running loop);
``complete`` returns one answer for a prompt, from the cache when it is there.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import openai

from tripost.experts.base import ExpertStats
from tripost.experts.cache import CachedResponse, ResponseCache, cache_key, public_url
from tripost.experts.prompts import Prompt
from tripost.progress import progress
from tripost.settings import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from tripost.settings import LLMConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Reply:
    text: str | None
    error: str | None = None


class _EndpointMissing(Exception):
    pass


class _Failed(Exception):
    pass


def run_sync(make: Callable[[], Awaitable[R]]) -> R:
    """Run a coroutine to completion from sync code, also when a loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # not asyncio.run: its Ctrl-C handler only cancels the task, and a cancellation that a
        # library turns into a failed request is lost; Python's own handler raises
        # KeyboardInterrupt here, whatever the awaited code does
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(make())  # type: ignore[arg-type]
        finally:
            loop.close()
    with ThreadPoolExecutor(1) as pool:  # inside a running loop (a notebook): use a thread
        return pool.submit(lambda: asyncio.run(make())).result()  # type: ignore[arg-type]


def retry_after_s(headers: Any) -> float | None:
    """Seconds a 429/503 asks to wait: ``retry-after-ms``, or ``Retry-After`` (seconds or date).

    >>> retry_after_s({"retry-after": "2"})
    2.0
    """
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, KeyError):
        return None


class LLMClient:
    """Endpoint choice, cache, concurrency, retries and usage accounting for one module."""

    def __init__(
        self,
        cfg: LLMConfig,
        stats: ExpertStats,
        http_client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.stats = stats
        self.url = cfg.resolved_base_url()
        self._key = os.environ.get(cfg.api_key_env) or ""
        if not self._key and public_url(self.url) == DEFAULT_BASE_URL:
            raise ValueError(
                f"the environment variable {cfg.api_key_env} holds no API key for OpenAI"
            )
        self.cache = ResponseCache(cfg.resolved_cache_dir() if cfg.cache else None)
        self._meta = f"endpoint|{public_url(self.url)}|{cfg.model}"
        self.endpoint: str | None = (
            cfg.endpoint if cfg.endpoint != "auto" else self.cache.get_meta(self._meta)
        )
        self._http_client_factory = http_client_factory
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._oa: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._inflight: dict[str, asyncio.Future[Reply]] = {}
        for k in ("retries", "parse_retries", "drops", "overruled"):
            stats.extra.setdefault(k, 0)

    def map(self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R]:
        """``fn`` on every item concurrently, in a fresh event loop and HTTP client."""
        if not items:
            return []

        async def run() -> list[R]:
            self._sem = asyncio.Semaphore(self.cfg.concurrency)
            self._inflight = {}
            self._oa = openai.AsyncOpenAI(
                base_url=self.url,
                api_key=self._key or "none",  # local servers ignore it; the client wants one
                max_retries=0,  # retries are ours, to honour Retry-After and count them
                timeout=self.cfg.timeout_s,
                http_client=self._http_client_factory() if self._http_client_factory else None,
            )
            bar = progress(len(items), unit="call", desc="expert")

            async def tracked(item: T) -> R:
                result = await fn(item)
                s = self.stats
                bar.update(1, cached=s.cache_hits, failed=s.failures)
                return result

            try:
                return list(await asyncio.gather(*(tracked(item) for item in items)))
            finally:
                bar.close()
                await self._oa.close()
                self._oa = None

        return run_sync(run)

    async def complete(self, prompt: Prompt, stop: list[str], attempt_no: int = 0) -> Reply:
        """One answer for ``prompt`` (from the cache when there), or the reason it failed.
        ``attempt_no`` > 0 re-asks with another seed and at least ``retry_temperature``."""
        temperature = self.cfg.temperature
        if attempt_no:
            temperature = max(temperature, self.cfg.retry_temperature)
        params: dict[str, Any] = {
            "max_tokens": self.cfg.max_tokens,
            "temperature": temperature,
            "stop": stop,
        }
        if self.cfg.seed is not None:
            params["seed"] = self.cfg.seed + attempt_no
        params.update(self.cfg.extra_body)
        bodies = {
            "completion": {"prompt": prompt.as_text(), **params},
            "chat": {"messages": prompt.as_messages(), **params},
        }
        kinds = [self.endpoint] if self.endpoint else ["completion", "chat"]
        for kind in kinds:  # answered before, by either endpoint?
            hit = self.cache.get(cache_key(self.url, kind, self.cfg.model, bodies[kind]))
            if hit is not None:
                self.stats.cache_hits += 1
                return Reply(hit.text)
        # the same request already in flight in this batch: share its answer
        flight = cache_key(self.url, "in-flight", self.cfg.model, bodies["completion"])
        if flight in self._inflight:
            reply = await asyncio.shield(self._inflight[flight])
            self.stats.cache_hits += reply.text is not None
            return reply
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._inflight[flight] = future
        try:
            reply = await self._fetch(kinds[0], bodies)
            future.set_result(reply)
        except BaseException as e:
            future.set_exception(e)
            raise
        finally:
            del self._inflight[flight]
        return reply

    async def _fetch(self, kind: str, bodies: dict[str, dict[str, Any]]) -> Reply:
        """Ask the server (no cache lookup); store and account a successful answer."""
        try:
            try:
                response = await self._call(kind, bodies[kind])
            except _EndpointMissing:
                kind = "chat"
                response = await self._call(kind, bodies[kind])
                if self.endpoint is None:
                    log.info("%s has no completion endpoint: using chat", public_url(self.url))
                    self.endpoint = "chat"
                    self.cache.set_meta(self._meta, "chat")
        except _Failed as e:
            self.stats.failures += 1
            return Reply(None, self._scrub(str(e)))
        if self.endpoint is None:
            self.endpoint = kind
            self.cache.set_meta(self._meta, kind)
        self._account(response)
        self.cache.put(
            cache_key(self.url, kind, self.cfg.model, bodies[kind]), kind, self.cfg.model, response
        )
        return Reply(response.text)

    async def _call(self, kind: str, body: dict[str, Any]) -> CachedResponse:
        """POST with retries; raises _EndpointMissing (auto mode) or _Failed."""
        known = {"prompt", "messages", "max_tokens", "temperature", "stop", "seed"}
        args = {k: v for k, v in body.items() if k in known}
        extra = {k: v for k, v in body.items() if k not in known}
        for n in range(self.cfg.max_retries + 1):
            try:
                assert self._sem is not None and self._oa is not None
                async with self._sem:
                    # one deadline for the whole request: a server trickling bytes cannot
                    # stretch it (the client's own timeout is per read)
                    r = await asyncio.wait_for(self._create(kind, args, extra), self.cfg.timeout_s)
                return _validated(kind, r)
            except openai.APIStatusError as e:
                status = e.status_code
                if status in (404, 405) and kind == "completion" and self.endpoint is None:
                    raise _EndpointMissing() from None
                if status not in (408, 409, 429) and status < 500:
                    raise _Failed(f"HTTP {status}: {_short(e.message)}") from None
                reason = f"HTTP {status}"
                delay = retry_after_s(e.response.headers) if status in (429, 503) else None
            except (openai.APITimeoutError, asyncio.TimeoutError, TimeoutError):
                reason, delay = f"no complete answer within {self.cfg.timeout_s:g} s", None
            except openai.APIConnectionError as e:
                reason, delay = f"connection error ({_short(str(e.__cause__ or e))})", None
            except openai.APIError as e:
                raise _Failed(f"bad response: {_short(str(e))}") from None
            except (
                AttributeError,
                TypeError,
                ValueError,
                IndexError,
            ) as e:  # not the protocol's JSON
                raise _Failed(f"bad response: {type(e).__name__}: {_short(str(e))}") from None
            if n == self.cfg.max_retries:
                raise _Failed(f"{reason}, {n + 1} tries")
            if delay is None:
                cap = min(self.cfg.max_backoff_s, self.cfg.backoff_s * 2**n)
                delay = cap * (0.5 + 0.5 * random.random())  # jitter: spread the herd
            delay = min(delay, self.cfg.max_retry_after_s)
            self.stats.extra["retries"] += 1
            log.debug("%s: %s; retry %d in %.2f s", kind, reason, n + 1, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")

    async def _create(self, kind: str, args: dict[str, Any], extra: dict[str, Any]) -> Any:
        assert self._oa is not None
        api = self._oa.completions if kind == "completion" else self._oa.chat.completions
        return await api.create(model=self.cfg.model, extra_body=extra or None, **args)

    def _account(self, r: CachedResponse) -> None:
        s, cfg = self.stats, self.cfg
        s.calls += 1
        s.prompt_tokens += r.prompt_tokens
        s.completion_tokens += r.completion_tokens
        if cfg.prompt_price_per_1m is not None or cfg.completion_price_per_1m is not None:
            s.cost += (
                r.prompt_tokens * (cfg.prompt_price_per_1m or 0.0)
                + r.completion_tokens * (cfg.completion_price_per_1m or 0.0)
            ) / 1e6

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _validated(kind: str, r: Any) -> CachedResponse:
    """The answer of a protocol response, checked before anything caches it; _Failed when it is
    not the protocol's shape (no choices, a text that is not a string, ...)."""
    choices = getattr(r, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise _Failed("the server answered with no choices")
    choice = choices[0]
    if kind == "completion":
        text = getattr(choice, "text", None)
    else:
        text = getattr(getattr(choice, "message", None), "content", None)
        text = "" if text is None else text
    if not isinstance(text, str):
        raise _Failed(f"bad response: the answer text is {type(text).__name__}, not a string")
    finish = getattr(choice, "finish_reason", None)
    usage = getattr(r, "usage", None)

    def count(name: str) -> int:
        n = getattr(usage, name, 0)
        return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else 0

    return CachedResponse(
        text,
        finish if isinstance(finish, str) else None,
        count("prompt_tokens"),
        count("completion_tokens"),
    )


def _short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."
