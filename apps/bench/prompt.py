"""Examples scored per second by the prompt-tuning workload against ``blackbox serve --model
smollm2``: one request per example (the server's prefix cache off, requests one at a time) versus
one request per candidate carrying all its examples' label prompts, candidates in flight together
(dynamic batching) with the KV prefix cache on. Same server process, same examples, same
candidates; the label log-probabilities of both paths must agree. Target: >= 4x.

The server is the one at ``BLACKBOX_BENCH_SERVER`` (a ``.../v1`` URL) when set, else one started
here (loading the model takes a minute or two on a busy machine).
"""

from __future__ import annotations

#: examples/s batched+cached over one request per example; both paths give the same numbers
TARGETS = {"speedup": (">=", 4.0), "max_abs_diff": ("<=", 1e-3)}

import os
import time
from typing import Any

import numpy as np

__all__ = ["run"]


def _server() -> tuple[Any, str]:
    from apps.prompt.server import LocalServer

    url = os.environ.get("BLACKBOX_BENCH_SERVER")
    if url:
        return None, url.rstrip("/")
    srv = LocalServer("smollm2")
    srv.ensure()
    return srv, srv.base


def _set_cache(base: str, tokens: int) -> None:
    import httpx

    httpx.post(base.rsplit("/v1", 1)[0] + "/cache", json={"tokens": tokens}, timeout=60)


def _workload(n_ex: int, n_cand: int) -> tuple[Any, list[Any], list[Any]]:
    from apps.prompt.data import PromptTask, load_examples, split, tweet_corpus_path
    from apps.prompt.discrete import DiscreteSpace

    labels = ("positive", "negative")
    ex = load_examples(tweet_corpus_path(), "text", "sentiment", labels, min_confidence=0.9,
                       drop_retweets=True)
    _, _, test, _ = split(ex, labels, n_train=2, n_dev=2, n_test=n_ex, n_pool=0, seed=123)
    task = PromptTask(labels, labels, (), (), test, (), "Tweet")
    space = DiscreteSpace(task, k_demos=0)
    cands = [space.candidate([i + 1, 0, 1, 0]) for i in range(n_cand)]
    return task, list(test), cands


def _scorer(base: str, conc: int) -> Any:
    from apps.prompt.score import Scorer
    from oracles.http import OpenAIClient

    return Scorer(OpenAIClient(base, model="smollm2", max_concurrency=conc, timeout=1800))


def run(quick: bool = False) -> dict[str, Any]:
    n_ex, n_cand = (8, 2) if quick else (12, 6)
    task, examples, cands = _workload(n_ex, n_cand)
    srv, base = _server()
    try:
        _set_cache(base, 0)
        one = _scorer(base, 1)
        t0 = time.perf_counter()
        lp_one = np.array([[one.logprobs([c], [e])[0, 0] for e in examples] for c in cands])
        t_one = time.perf_counter() - t0
        _set_cache(base, 16384)
        many = _scorer(base, n_cand)
        t0 = time.perf_counter()
        lp_many = many.logprobs(cands, examples)
        t_many = time.perf_counter() - t0
        one.client.close()
        many.client.close()
    finally:
        _set_cache(base, 16384)
        if srv is not None:
            srv.stop()
    n = n_ex * n_cand
    res = {"examples": n_ex, "candidates": n_cand, "scored": n,
           "one_per_example": {"requests": one.calls, "seconds": t_one, "per_s": n / t_one},
           "batched_cached": {"requests": many.calls, "seconds": t_many, "per_s": n / t_many},
           "speedup": t_one / t_many, "max_abs_diff": float(np.nanmax(np.abs(lp_one - lp_many)))}
    print(f"   one request per example: {n / t_one:.2f} examples/s ({t_one:.1f} s); batched + "
          f"prefix-cached: {n / t_many:.2f} examples/s ({t_many:.1f} s); speedup "
          f"{t_one / t_many:.2f}x; max |diff| {res['max_abs_diff']:.2e}", flush=True)
    return res
