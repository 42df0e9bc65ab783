"""Model APIs over HTTP: an OpenAI-compatible client and the oracle built on it.

:class:`OpenAIClient` speaks the OpenAI HTTP protocol (hosted APIs, vLLM, Ollama, llama.cpp
servers, and this project's own ``blackbox serve``) on ``httpx.AsyncClient``:

* a concurrency cap; ``rpm`` spaces request starts evenly (``60 / rpm`` s apart, retries
  included, no bursts), ``tpm`` likewise for tokens (estimated from the request, corrected from
  the response's ``usage``);
* retries with capped exponential backoff and jitter on 429, 5xx, timeouts and dropped
  connections, never sooner than the server's ``Retry-After``;
* an on-disk sqlite cache keyed by the full request (model, temperature, seed, ...);
* token and cost accounting into the run's ledger;
* the API key from the argument or ``OPENAI_API_KEY``, never in a repr, log, cache key or journal.

:class:`ModelAPIOracle` turns a batch of points into concurrent requests (``render(point) ->
request fields``, ``score(point, response) -> float``); a request that fails after all retries
becomes NaN (a failure in the ledger), never an exception that loses the rest of the batch.

Point the same code at a hosted API::

    client = OpenAIClient("https://<provider>/v1", model="<model>")   # key from OPENAI_API_KEY
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from blackbox.budget import OracleStats
from blackbox.errors import ConfigError, OracleDecodeError, OracleHTTPError, OracleTimeoutError
from blackbox.keys import Key
from oracles._http_support import BackgroundLoop, Pacer, ResponseCache, cache_key, redact

__all__ = ["ModelAPIOracle", "OpenAIClient"]

log = logging.getLogger("blackbox.http")

ENDPOINTS = {"chat": "/chat/completions", "completions": "/completions",
             "embeddings": "/embeddings"}
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIClient:
    """An OpenAI-compatible HTTP client with limits, retries, a cache and accounting.

    Args:
        base_url: e.g. ``"http://127.0.0.1:8000/v1"``.
        api_key: the key; default ``OPENAI_API_KEY`` from the environment (may be absent for
            local servers).
        model: the model name sent with every request (a request may override it).
        max_concurrency: requests in flight at once.
        rpm, tpm: requests / tokens per minute (``None``: unlimited).
        max_retries: retries after the first attempt.
        timeout: seconds per attempt.
        cache: a path for the sqlite response cache, or ``None``.
        backoff: ``(base, cap)`` seconds of the exponential backoff.
        price: ``(per 1k prompt tokens, per 1k completion tokens)`` for cost accounting.
        seed: seeds the backoff jitter (a private generator; no global state).
        transport: an ``httpx.AsyncBaseTransport`` (tests use it to inject faults).
        cache_namespace: stands for ``base_url`` in cache keys (e.g. a local server started on
            a different port each run keeps its cache).
    """

    def __init__(self, base_url: str, *, api_key: str | None = None, model: str = "default",
                 max_concurrency: int = 8, rpm: float | None = None, tpm: float | None = None,
                 max_retries: int = 6, timeout: float = 60.0,
                 cache: str | os.PathLike[str] | None = None,
                 backoff: tuple[float, float] = (0.25, 8.0),
                 price: tuple[float, float] = (0.0, 0.0),
                 seed: int = 0, transport: Any = None,
                 cache_namespace: str | None = None) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not (isinstance(max_concurrency, int) and max_concurrency >= 1):
            raise ConfigError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        if not (isinstance(max_retries, int) and max_retries >= 0):
            raise ConfigError(f"max_retries must be an int >= 0, got {max_retries!r}")
        for name, v in (("rpm", rpm), ("tpm", tpm)):
            if v is not None and not (isinstance(v, (int, float)) and v > 0):
                raise ConfigError(f"{name} must be a number > 0 or None, got {v!r}")
        if not timeout > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.model = model
        self.max_concurrency = max_concurrency
        self.rpm, self.tpm = rpm, tpm
        self.max_retries = max_retries
        self.timeout = timeout
        self.cache_path = None if cache is None else str(cache)
        self.backoff = backoff
        self.price = price
        self.seed = seed
        self.transport = transport
        self.cache_namespace = cache_namespace
        self.stats = OracleStats()
        self._runtime: dict[str, Any] = {}

    # -- pickling: the key and settings travel, sockets, loops and caches are rebuilt --------------
    def __getstate__(self) -> dict[str, Any]:
        st = dict(self.__dict__)
        st["_runtime"] = {}
        st.pop("loop", None)
        return st

    def __repr__(self) -> str:
        return (f"OpenAIClient(base_url={self.base_url!r}, model={self.model!r}, "
                f"api_key={redact(self._api_key)!r}, max_concurrency={self.max_concurrency}, "
                f"rpm={self.rpm}, tpm={self.tpm}, cache={self.cache_path!r})")

    def attach_ledger(self, stats: OracleStats) -> None:
        self.stats = stats

    # -- runtime -----------------------------------------------------------------------------------
    def _rt(self) -> dict[str, Any]:
        rt = self._runtime
        if not rt:
            import httpx

            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            rt["httpx"] = httpx
            rt["client"] = httpx.AsyncClient(
                base_url=self.base_url, headers=headers, timeout=self.timeout,
                transport=self.transport,
                limits=httpx.Limits(max_connections=self.max_concurrency,
                                    max_keepalive_connections=self.max_concurrency))
            rt["sem"] = asyncio.Semaphore(self.max_concurrency)
            rt["pacer"] = Pacer(self.rpm, self.tpm)
            rt["rng"] = random.Random(self.seed)
            rt["cache"] = ResponseCache(self.cache_path) if self.cache_path else None
        return rt

    def _loop(self) -> BackgroundLoop:
        if "loop" not in self.__dict__ or self.__dict__["loop"] is None:
            self.__dict__["loop"] = BackgroundLoop()
        return self.__dict__["loop"]  # type: ignore[no-any-return]

    # -- requests ----------------------------------------------------------------------------------
    async def arequest(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` (plus ``model``) to ``path``; cached, paced, retried."""
        rt = self._rt()
        body = {"model": self.model, **body}
        cache = rt["cache"]
        where = self.cache_namespace or self.base_url
        ck = cache_key(where, path, body) if cache is not None else ""
        if cache is not None:
            hit = cache.get(ck)
            if hit is not None:
                self.stats.cache_hits += 1
                return hit
        httpx = rt["httpx"]
        est = _estimate_tokens(body) if self.tpm else 0
        last: str = ""
        async with rt["sem"]:
            for attempt in range(self.max_retries + 1):
                if attempt:
                    self.stats.retries += 1
                await rt["pacer"].acquire(est)
                self.stats.requests += 1
                wait = 0.0
                try:
                    resp = await rt["client"].post(path, json=body)
                except httpx.TimeoutException:
                    last = f"timeout after {self.timeout}s"
                except httpx.TransportError as exc:  # refused, reset or dropped connections
                    last = f"connection error ({type(exc).__name__})"
                else:
                    if resp.status_code == 200:
                        try:
                            data = resp.json()
                        except ValueError as exc:
                            raise OracleDecodeError(
                                f"{path}: response is not JSON: {exc}") from None
                        if not isinstance(data, dict):
                            raise OracleDecodeError(f"{path}: response is not a JSON object")
                        self._account(data)
                        usage = data.get("usage") or {}
                        rt["pacer"].correct(est, int(usage.get("total_tokens", 0) or 0))
                        if cache is not None:
                            cache.put(ck, data)
                        return dict(data)
                    if resp.status_code not in RETRY_STATUS:
                        raise OracleHTTPError(
                            f"{path}: HTTP {resp.status_code}: {resp.text[:300]}", resp.status_code)
                    last = f"HTTP {resp.status_code}"
                    wait = _retry_after(resp.headers.get("retry-after"))
                if attempt == self.max_retries:
                    break
                base, cap = self.backoff
                delay = min(cap, base * 2**attempt) * (0.5 + rt["rng"].random())
                log.info("retrying %s after %s (attempt %d, %.2fs)", path, last, attempt + 1,
                         max(delay, wait))
                await asyncio.sleep(max(delay, wait))
        if last.startswith("timeout"):
            raise OracleTimeoutError(f"{path}: {last}, {self.max_retries} retries")
        status = int(last.split()[1]) if last.startswith("HTTP") else None
        raise OracleHTTPError(f"{path}: {last} after {self.max_retries} retries", status)

    def _account(self, data: dict[str, Any]) -> None:
        usage = data.get("usage") or {}
        p, c = int(usage.get("prompt_tokens", 0) or 0), int(usage.get("completion_tokens", 0) or 0)
        self.stats.prompt_tokens += p
        self.stats.completion_tokens += c
        self.stats.cost += p / 1000 * self.price[0] + c / 1000 * self.price[1]

    async def amap(self, path: str, bodies: Sequence[dict[str, Any]]) -> list[Any]:
        """All requests concurrently (within the caps); failures come back as exceptions."""
        return list(await asyncio.gather(*(self.arequest(path, b) for b in bodies),
                                         return_exceptions=True))

    # -- the synchronous facade --------------------------------------------------------------------
    def request(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._loop().run(self.arequest(path, body))

    def map(self, path: str, bodies: Sequence[dict[str, Any]]) -> list[Any]:
        return self._loop().run(self.amap(path, bodies))

    def chat(self, messages: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
        return self.request(ENDPOINTS["chat"], {"messages": messages, **kw})

    def completions(self, prompt: Any, **kw: Any) -> dict[str, Any]:
        return self.request(ENDPOINTS["completions"], {"prompt": prompt, **kw})

    def embeddings(self, input: Any, **kw: Any) -> dict[str, Any]:  # noqa: A002 (OpenAI's name)
        return self.request(ENDPOINTS["embeddings"], {"input": input, **kw})

    def close(self) -> None:
        loop = self.__dict__.get("loop")
        if loop is not None:
            client = self._runtime.get("client")
            if client is not None:
                loop.run(client.aclose())
            loop.close()
            self.__dict__["loop"] = None
        self._runtime = {}


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def _estimate_tokens(body: dict[str, Any]) -> int:
    text = str(body.get("messages") or body.get("prompt") or body.get("input") or "")
    return len(text) // 4 + int(body.get("max_tokens") or 16)


class ModelAPIOracle:
    """A value oracle whose values come from a model API.

    Args:
        client: an :class:`OpenAIClient`.
        render: ``point (d,) -> request fields`` (e.g. ``{"messages": [...], "logprobs": True}``).
        score: ``(point, response_json) -> float``.
        dim: the dimension of the points.
        sense: ``"min"`` or ``"max"``.
        endpoint: ``"chat"``, ``"completions"`` or ``"embeddings"``.
        name: the ledger's name for this oracle.
    """

    def __init__(self, client: OpenAIClient,
                 render: Callable[[NDArray[np.float64]], dict[str, Any]],
                 score: Callable[[NDArray[np.float64], dict[str, Any]], float], *, dim: int,
                 sense: str = "min", endpoint: str = "chat", name: str = "model_api") -> None:
        if endpoint not in ENDPOINTS:
            raise ConfigError(f"endpoint must be one of {sorted(ENDPOINTS)}, got {endpoint!r}")
        if sense not in ("min", "max"):
            raise ConfigError(f"sense must be 'min' or 'max', got {sense!r}")
        if not (isinstance(dim, int) and dim >= 1):
            raise ConfigError(f"dim must be an int >= 1, got {dim!r}")
        self.client, self.render, self.score = client, render, score
        self.dim, self.sense, self.endpoint, self.name = dim, sense, endpoint, name
        self.errors: list[str] = []

    def attach_ledger(self, stats: OracleStats) -> None:
        self.client.attach_ledger(stats)

    def values(self, points: NDArray[np.float64], *, key: Key | None = None) -> NDArray[np.float64]:
        bodies = [self.render(p) for p in points]
        answers = self.client.map(ENDPOINTS[self.endpoint], bodies)
        out = np.empty(len(points))
        for i, (p, a) in enumerate(zip(points, answers)):
            if isinstance(a, BaseException):
                self.errors.append(f"{type(a).__name__}: {a}")
                out[i] = math.nan  # a failure the ledger counts; the batch survives
                continue
            try:
                out[i] = float(self.score(p, a))
            except Exception as exc:  # noqa: BLE001 - a bad response scores as a failure
                self.errors.append(f"score: {type(exc).__name__}: {exc}")
                out[i] = math.nan
        return out

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return (f"ModelAPIOracle(dim={self.dim}, sense={self.sense!r}, "
                f"endpoint={self.endpoint!r}, client={self.client!r})")
