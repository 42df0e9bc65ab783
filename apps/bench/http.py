"""Requests per second through :class:`~oracles.http.ModelAPIOracle` versus a plain
``httpx.AsyncClient`` loop against the same local server (``blackbox serve``, toy model, on
127.0.0.1), at concurrency 1, 8 and 32. Target: the oracle reaches >= 0.9 of the direct figure at
32. Request counts are bounded (``n`` per configuration)."""

from __future__ import annotations

#: requests/s through ModelAPIOracle at concurrency 32, over a bare httpx loop
TARGETS = {"ratio_at_32": (">=", 0.9)}

import asyncio
import socket
import subprocess
import sys
import time
from typing import Any

import numpy as np

__all__ = ["run"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(i: int) -> dict[str, Any]:
    return {"model": "toy", "prompt": f"Review: sample {i}\nSentiment: positive", "echo": True,
            "logprobs": 1, "max_tokens": 0}


async def _direct(base: str, n: int, conc: int) -> float:
    import httpx

    sem = asyncio.Semaphore(conc)
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as c:
        async def one(i: int) -> None:
            async with sem:
                r = await c.post("/completions", json=_body(i))
                r.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


def _oracle(base: str, n: int, conc: int) -> float:
    from oracles.http import ModelAPIOracle, OpenAIClient

    client = OpenAIClient(base, model="toy", max_concurrency=conc)
    oracle = ModelAPIOracle(client, lambda p: _body(int(p[0])),
                            lambda p, r: r["choices"][0]["logprobs"]["token_logprobs"][-1],
                            dim=1, endpoint="completions")
    oracle.values(np.zeros((conc, 1)))  # warm up connections
    pts = np.arange(n, dtype=np.float64)[:, None]
    t0 = time.perf_counter()
    vals = oracle.values(pts)
    rps = n / (time.perf_counter() - t0)
    assert np.isfinite(vals).all()
    oracle.close()
    return rps


def run(quick: bool = False) -> dict[str, Any]:
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "apps.cli", "serve", "--port", str(port),
                             "--model", "toy"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        import httpx

        for _ in range(300):
            try:
                httpx.get(base + "/models", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        n = 60 if quick else 600
        rows = []
        for conc in (1, 8, 32):
            asyncio.run(_direct(base, conc, conc))  # warm up
            direct = max(asyncio.run(_direct(base, n, conc)) for _ in range(1 if quick else 3))
            ours = max(_oracle(base, n, conc) for _ in range(1 if quick else 3))
            rows.append({"concurrency": conc, "requests": n, "direct_rps": direct,
                         "oracle_rps": ours, "ratio": ours / direct})
            print(f"   concurrency {conc:2d}: direct {direct:7.1f} req/s, ModelAPIOracle "
                  f"{ours:7.1f} req/s, ratio {ours / direct:.2f}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"rows": rows, "ratio_at_32": rows[-1]["ratio"], "target": "ratio_at_32 >= 0.9"}
