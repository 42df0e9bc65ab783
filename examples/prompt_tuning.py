"""Soft-prompt tuning against a model API (BBT-style black-box tuning, ALGORITHMS §5.1).

Tunes two continuous prompt vectors (``prompt_embeds``) so that the served model gives the right
sentiment label high log-probability, using only API calls (``/v1/completions`` with ``echo`` and
``logprobs``). By default it starts ``blackbox serve --model toy`` on 127.0.0.1 itself; point it at
any OpenAI-compatible server that accepts ``prompt_embeds`` (e.g. vLLM) with ``--base-url`` and
``OPENAI_API_KEY``. Every request is cached on disk and the run is journaled: run it twice and the
second run sends nothing.

    python examples/prompt_tuning.py                # small budget
    python examples/prompt_tuning.py --full         # a longer run
    OPENAI_API_KEY=... python examples/prompt_tuning.py --base-url https://host/v1 --hidden 4096
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from blackbox import Budget, minimize
from oracles.prompt_tasks import soft_prompt_oracle


def start_server(model: str) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "apps.cli", "serve", "--port", str(port),
                             "--model", model],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(6000):
        try:
            httpx.get(base + "/models", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the local model server did not start")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base-url", help="an OpenAI-compatible API (default: start a local server)")
    p.add_argument("--model", default="toy", help="model name (the local server: toy or "
                                                  "smollm2; for the full workflow with held-out "
                                                  "accuracy see blackbox tune-prompt)")
    p.add_argument("--hidden", type=int, default=16, help="the model's embedding width")
    p.add_argument("--tokens", type=int, default=2, help="soft-prompt vectors")
    p.add_argument("--budget", type=int, default=400, help="prompts scored (points)")
    p.add_argument("--full", action="store_true", help="budget 4000")
    p.add_argument("--rpm", type=float, default=None, help="requests per minute limit")
    p.add_argument("--workdir", default=None, help="cache and journal directory")
    a = p.parse_args(argv)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="prompt-tuning-"))
    proc = None
    base = a.base_url
    if base is None:
        proc, base = start_server(a.model)
    try:
        oracle = soft_prompt_oracle(base, hidden=a.hidden, n_tokens=a.tokens, rpm=a.rpm,
                                    model=a.model,
                                    cache=work / "cache.sqlite", max_concurrency=16)
        x0 = np.zeros(a.hidden * a.tokens)
        f0 = float(oracle.values(x0[None])[0])
        res = minimize(oracle, {"name": "zo_sgd", "q": 4, "lr": 0.05, "mu": 1e-2}, x0, seed=0,
                       budget=Budget(max_queries=4000 if a.full else a.budget),
                       journal=str(work / "journal"), progress=True)
        print(res.summary())
        print(f"mean label loss: {f0:.4f} with a zero soft prompt -> {res.fun:.4f}")
        print(f"cache and journal in {work}")
        return 0 if res.fun < f0 else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
