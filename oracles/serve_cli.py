"""``blackbox serve``'s command line: flags, one-line checks before any model loads, uvicorn.

The server itself (routes, batching, fault injection) is :mod:`oracles.serve`.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from oracles.serve import ServerConfig, create_app

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``blackbox serve`` options (one ``add_argument`` per option, easy to extend)."""
    p = argparse.ArgumentParser(
        prog="blackbox serve", description=__doc__.split("\n")[0],
        epilog="Routes: GET /v1/models, POST /v1/chat/completions, POST /v1/completions (a list "
               "of prompts scored in batched, prefix-cached passes), POST /v1/embeddings, GET "
               "/stats, POST /stats/reset, GET|POST /cache. Tests pass --model toy.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", default="8000", help="TCP port, 1-65535 (default 8000)")
    p.add_argument("--model", default=None,
                   help="smollm2 (default: SmolLM2-135M-Instruct) or toy (tiny, for tests); "
                        "with --classifier the default is toy (no language model to load)")
    p.add_argument("--embed-model", default="toy", help="toy (default) or minilm")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="torch CPU threads for the model (default 0: torch's choice; 1 is "
                        "fastest on a machine shared with other work)")
    p.add_argument("--cache-tokens", type=int, default=16384, metavar="N",
                   help="KV prefix cache size in tokens (0: off; default 16384)")
    p.add_argument("--fail-429", type=float, default=0.0, metavar="RATE",
                   help="share of requests answered 429 with Retry-After")
    p.add_argument("--fail-500", type=float, default=0.0, metavar="RATE",
                   help="share of requests answered 500")
    p.add_argument("--fail-timeout", type=float, default=0.0, metavar="RATE",
                   help="share of requests that stall --stall seconds, then answer 503")
    p.add_argument("--drop", type=float, default=0.0, metavar="RATE",
                   help="share of API requests whose connection is aborted without a response")
    p.add_argument("--stall", type=float, default=5.0, metavar="SECONDS",
                   help="seconds a timed-out request stalls (default 5)")
    p.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                   help="added to every request")
    p.add_argument("--retry-after", type=float, default=0.05, metavar="SECONDS",
                   help="the Retry-After of injected 429s (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seeds the fault draws (default 0)")
    p.add_argument("--classifier", metavar="NAME", help="also serve POST /v1/classify (digits)")
    p.add_argument("--label-only", action="store_true", help="/v1/classify returns labels only")
    return p


def _check(a: argparse.Namespace) -> str | None:
    """The first bad option as a one-line message, or ``None``."""
    try:
        a.port = int(a.port)
    except ValueError:
        return f"--port must be an integer in 1-65535, got {a.port!r}"
    if not 1 <= a.port <= 65535:
        return f"--port must be an integer in 1-65535, got {a.port}"
    for name in ("fail_429", "fail_500", "fail_timeout", "drop"):
        if not 0.0 <= getattr(a, name) <= 1.0:
            return f"--{name.replace('_', '-')} must be a rate in [0, 1], got {getattr(a, name)}"
    if a.threads < 0:
        return f"--threads must be >= 0, got {a.threads}"
    if a.cache_tokens < 0:
        return f"--cache-tokens must be >= 0, got {a.cache_tokens}"
    if a.model is None:  # a classifier server needs no language model: the toy one is free
        a.model = "toy" if a.classifier else "smollm2"
    if a.model not in ("toy", "smollm2"):
        return f"unknown --model {a.model!r} (smollm2, toy)"
    if a.embed_model not in ("toy", "minilm"):
        return f"unknown --embed-model {a.embed_model!r} (toy, minilm)"
    return _port_free(a.host, a.port)


def _port_free(host: str, port: int) -> str | None:
    """Checked before any model loads, so a busy port fails in a second, not after a minute."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, port))
    except OSError as exc:
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            return f"port {port} on {host} is in use (pick another with --port)"
        return f"cannot bind {host}:{port}: {exc.strerror or exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(list(argv) if argv is not None else None)
    bad = _check(a)
    if bad is not None:
        import sys

        print(f"blackbox serve: error: {bad}", file=sys.stderr)
        return 2
    import uvicorn

    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    cfg = ServerConfig(model=a.model, embed_model=a.embed_model, fail_429=a.fail_429,
                       fail_500=a.fail_500, fail_timeout=a.fail_timeout, stall=a.stall,
                       latency=a.latency, retry_after=a.retry_after, seed=a.seed, drop=a.drop,
                       cache_tokens=a.cache_tokens)
    cfg.classifier, cfg.label_only = a.classifier, a.label_only
    app = create_app(cfg)
    print(f"blackbox serve: http://{a.host}:{a.port}/v1 (model {a.model}, embeddings "
          f"{a.embed_model})", flush=True)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0
