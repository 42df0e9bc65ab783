"""Examples scored per second against ``blackbox serve --model smollm2``, on the workload that
``blackbox tune-prompt`` sends per step, batched + prefix-cached versus one request per example.
Target: >= 4x, both paths giving the same label log-probabilities (max |diff| <= 1e-3).

Workload (tune-prompt's discrete mode with its defaults, one step of BDPL, its default method):
the binary tweet task split as the command splits it (seed 0); BDPL's ``samples = 4`` candidates
drawn as BDPL draws its first step (per slot a categorical distribution, logits ``init = 1.0``
above uniform at the manual template; slots: instruction, its position, answer cue, verbalizer
pair, ``k_demos = 2`` demonstrations from a pool of 6), each scored on the same 32 training
tweets (``--n-train``) with 2 labels: 4 x 32 = 128 (candidate, example) pairs per step.

* batched + cached: what tune-prompt sends, one request per candidate carrying its 64 label
  prompts, the 4 requests in flight together (``--concurrency 4``; the server batches them
  dynamically), the server's KV prefix cache on (emptied first);
* one request per example: each pair alone, one request with its 2 label prompts, one at a
  time, the prefix cache off. These requests are independent (no cache, nothing in flight
  together), so their rate is measured on every 4th example of each candidate (a quarter of
  the pairs), in three parts around two batched runs (one-by-one, batched, one-by-one,
  batched, one-by-one), so load drifts on a shared machine hit both paths; max |diff| is
  taken over those pairs and both batched runs.

Reported: examples/s of each path by wall clock (the target), and by the server process's CPU
seconds (``GET /stats``), which a loaded machine disturbs far less.

The server is the one at ``BLACKBOX_BENCH_SERVER`` (a ``.../v1`` URL) when set, else one started
here (loading the model takes a minute or more on a busy machine).
"""

from __future__ import annotations

#: examples/s batched+cached over one request per example; both paths give the same numbers
TARGETS = {"speedup": (">=", 4.0), "max_abs_diff": ("<=", 1e-3)}

import os
import time
from typing import Any

import numpy as np

__all__ = ["run", "workload"]

SAMPLES, N_TRAIN, K_DEMOS, N_POOL, SEED = 4, 32, 2, 6, 0


def _server() -> tuple[Any, str]:
    from apps.prompt.server import LocalServer

    url = os.environ.get("BLACKBOX_BENCH_SERVER")
    if url:
        return None, url.rstrip("/")
    srv = LocalServer("smollm2")
    srv.ensure()
    return srv, srv.base


def _set_cache(base: str, tokens: int) -> dict[str, Any]:
    import httpx

    return dict(httpx.post(base.rsplit("/v1", 1)[0] + "/cache", json={"tokens": tokens},
                           timeout=60).json())


def _cache_stats(base: str) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(base.rsplit("/v1", 1)[0] + "/cache", timeout=60).json())


def workload(n_train: int = N_TRAIN, samples: int = SAMPLES, seed: int = SEED
             ) -> tuple[list[Any], list[Any]]:
    """The candidates of BDPL's first step and the training examples, as tune-prompt makes them
    (``apps.prompt.cli`` splits, ``apps.prompt.tune`` builds the space and BDPL's key)."""
    from apps.prompt.data import PromptTask, load_examples, split, tweet_corpus_path
    from apps.prompt.discrete import SENTIMENT_VERBALIZERS, DiscreteSpace
    from apps.prompt.tune import hash_name
    from blackbox.keys import Key

    labels = ("positive", "negative")
    ex = load_examples(tweet_corpus_path(), "text", "sentiment", labels, min_confidence=0.9,
                       drop_retweets=True)
    train, dev, test, pool = split(ex, labels, n_train=n_train, n_dev=64, n_test=200,
                                   n_pool=N_POOL, seed=seed)
    task = PromptTask(labels, labels, train, dev, test, pool, "Tweet")
    space = DiscreteSpace(task, verbalizer_pool=SENTIMENT_VERBALIZERS, k_demos=K_DEMOS)
    gen = Key(seed).fold_in(hash_name("bdpl")).fold_in(0).numpy()  # BDPL's step-0 draws
    probs = []
    for n, s in zip(space.sizes, space.start()):
        a = np.zeros(n)
        a[s] = 1.0
        probs.append(np.exp(a - a.max()) / np.exp(a - a.max()).sum())
    idx = [tuple(int(gen.choice(len(p), p=p)) for p in probs) for _ in range(samples)]
    return [space.candidate(list(i)) for i in dict.fromkeys(idx)], list(train)


def _scorer(base: str, conc: int) -> Any:
    from apps.prompt.score import Scorer
    from oracles.http import OpenAIClient

    return Scorer(OpenAIClient(base, model="smollm2", max_concurrency=conc, timeout=1800))


def _cpu(base: str) -> float:
    """The server process's CPU seconds (NaN when its ``/stats`` does not say)."""
    import httpx

    st = httpx.get(base.rsplit("/v1", 1)[0] + "/stats", timeout=60).json()
    return float(st.get("cpu_seconds", float("nan")))


def _one_by_one(base: str, cands: list[Any], examples: list[Any],
                pairs: list[tuple[int, int]]) -> tuple[dict[tuple[int, int], Any], list[float]]:
    """Each pair alone, one at a time, prefix cache off: values, [wall s, server CPU s]."""
    _set_cache(base, 0)
    one = _scorer(base, 1)
    c0, t0 = _cpu(base), time.perf_counter()
    got = {(c, e): one.logprobs([cands[c]], [examples[e]])[0, 0] for c, e in pairs}
    spent = [time.perf_counter() - t0, _cpu(base) - c0]
    one.client.close()
    return got, spent


def _batched(base: str, cands: list[Any], examples: list[Any]) -> tuple[Any, list[float], Any]:
    """What tune-prompt sends, cache emptied first: values, [wall s, server CPU s], counters."""
    before = _set_cache(base, 16384)
    many = _scorer(base, len(cands))
    c0, t0 = _cpu(base), time.perf_counter()
    lp = many.logprobs(cands, examples)
    spent = [time.perf_counter() - t0, _cpu(base) - c0]
    after = _cache_stats(base)
    many.client.close()
    return lp, spent, {k: after[k] - before[k] for k in ("hits", "hit_tokens", "batches")}


def run(quick: bool = False) -> dict[str, Any]:
    """Alternates the paths, one-by-one / batched / one-by-one / batched / one-by-one (a third
    of the one-by-one pairs each time), so load drifts hit both; wall and server CPU time."""
    n_train, stride, reps = (8, 2, 1) if quick else (N_TRAIN, 4, 2)
    cands, examples = workload(n_train)
    pairs = [(c, e) for c in range(len(cands)) for e in range(0, len(examples), stride)]
    srv, base = _server()
    one: dict[tuple[int, int], Any] = {}
    t_one, t_many, lps, counts = np.zeros(2), np.zeros(2), [], []
    try:
        for r in range(reps + 1):
            got, spent = _one_by_one(base, cands, examples, pairs[r::reps + 1])
            one.update(got)
            t_one += spent
            if r < reps:
                lp, spent, cnt = _batched(base, cands, examples)
                lps.append(lp)
                t_many += spent
                counts.append(cnt)
    finally:
        _set_cache(base, 16384)
        if srv is not None:
            srv.stop()
    return _result(cands, examples, pairs, one, lps, t_one, t_many, counts)


def _result(cands: list[Any], examples: list[Any], pairs: list[tuple[int, int]],
            one: dict[tuple[int, int], Any], lps: list[Any], t_one: Any, t_many: Any,
            counts: list[dict[str, Any]]) -> dict[str, Any]:
    diff = max(float(np.max(np.abs(one[p] - lp[p]))) for p in pairs for lp in lps)
    n_one, n_many = len(pairs), len(cands) * len(examples) * len(lps)
    r_one, r_many = n_one / t_one, n_many / t_many  # [wall, CPU] examples per second
    res = {"candidates": len(cands), "examples_per_call": len(examples),
           "one_per_example": {"scored": n_one, "requests": n_one, "seconds": t_one[0],
                               "per_s": r_one[0], "server_cpu_s": t_one[1]},
           "batched_cached": {"scored": n_many, "requests": len(cands) * len(lps),
                              "seconds": t_many[0], "per_s": r_many[0],
                              "server_cpu_s": t_many[1], "runs": counts},
           "speedup": r_many[0] / r_one[0], "cpu_speedup": r_many[1] / r_one[1],
           "max_abs_diff": diff}
    print(f"   one request per example: {r_one[0]:.3f} examples/s ({n_one} in {t_one[0]:.1f} s); "
          f"batched + prefix-cached: {r_many[0]:.3f} examples/s ({n_many} in {t_many[0]:.1f} s);"
          f" speedup {res['speedup']:.2f}x (server CPU time: {res['cpu_speedup']:.2f}x); "
          f"max |diff| {diff:.2e}", flush=True)
    return res
