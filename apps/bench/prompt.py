"""Examples scored per second against ``blackbox serve --model smollm2``, on what ``blackbox
tune-prompt`` sends in its first calls, batched + prefix-cached versus one request per example.
Target: >= 4x, both paths giving the same label log-probabilities (max |diff| <= 1e-3).

Workload (tune-prompt's discrete mode with its defaults, BDPL, its default method, run for real):
the binary tweet task split as the command splits it (seed 0) and BDPL's first ``STEPS = 3``
steps, ``samples = 4`` candidates each (12 calls; slots: instruction, answer cue, verbalizer
pair; the tweet first and no demonstrations, tune-prompt's defaults, read from
``apps.prompt.tune.Settings``), each candidate scored on the same 32 training tweets
(``--n-train``) with 2 labels: 4 x 32 = 128 (candidate, example) pairs a step. The first step
meets an empty cache; the next two are what most of a run looks like (the same training tweets
again, other prompts). ``run(k_demos=2, instruction_first=(False, True))`` measures the layout
that puts demonstrations (and maybe the instruction) before the tweet.

* batched + cached: what tune-prompt sends, one request per candidate carrying its 64 label
  prompts, a step's 4 requests in flight together (``--concurrency 4``; the server batches them
  dynamically), the server's KV prefix cache on (emptied before the run); timed around the
  scoring calls only (not BDPL's own arithmetic);
* one request per example: each pair alone, one request with its 2 label prompts, one at a
  time, the prefix cache off. These requests are independent (no cache, nothing in flight
  together), so their rate is measured on every 4th example of each candidate the batched run
  scored (a quarter of the pairs), in two halves after each of two batched runs (batched,
  one-by-one, batched, one-by-one), so load drifts on a shared machine hit both paths; max
  |diff| is taken over those pairs and both batched runs.

Reported: examples/s of each path by wall clock (the target), by the server process's CPU
seconds (``GET /stats``), which a loaded machine disturbs far less, and the batched path's first
(cold) step on its own.

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

SAMPLES, STEPS, N_TRAIN, SEED = 4, 3, 32, 0


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


def workload(n_train: int = N_TRAIN, seed: int = SEED, k_demos: int | None = None,
             instruction_first: tuple[bool, ...] | None = None
             ) -> tuple[Any, list[int], list[Any]]:
    """The discrete space, its start and the training examples, as tune-prompt makes them
    (``apps.prompt.cli`` splits, ``apps.prompt.tune`` builds the space; ``None``: its default)."""
    from apps.prompt.data import PromptTask, load_examples, split, tweet_corpus_path
    from apps.prompt.discrete import SENTIMENT_VERBALIZERS, DiscreteSpace
    from apps.prompt.tune import Settings

    k = Settings.k_demos if k_demos is None else k_demos
    first = Settings.instruction_first if instruction_first is None else instruction_first

    labels = ("positive", "negative")
    ex = load_examples(tweet_corpus_path(), "text", "sentiment", labels, min_confidence=0.9,
                       drop_retweets=True)
    train, dev, test, pool = split(ex, labels, n_train=n_train, n_dev=200, n_test=200,
                                   n_pool=6 if k else 0, seed=seed)  # (as the CLI does)
    task = PromptTask(labels, labels, train, dev, test, pool, "Tweet")
    space = DiscreteSpace(task, verbalizer_pool=SENTIMENT_VERBALIZERS, k_demos=k,
                          instruction_first=first, chat=Settings.chat)
    return space, space.start(), list(train)


class _Timed:
    """A scorer that keeps every candidate it scores, its rows, and each call's wall time."""

    def __init__(self, scorer: Any) -> None:
        self.scorer, self.client = scorer, scorer.client
        self.cands: list[Any] = []
        self.rows: dict[Any, Any] = {}
        self.seconds: list[float] = []
        self.sizes: list[int] = []  # candidates per call

    def logprobs(self, cands: Any, examples: Any) -> Any:
        t0 = time.perf_counter()
        lp = self.scorer.logprobs(cands, examples)
        self.seconds.append(time.perf_counter() - t0)
        self.sizes.append(len(cands))
        for c, row in zip(cands, lp):
            self.cands.append(c)
            self.rows[c.key()] = row
        return lp


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


def _batched(base: str, space: Any, start: list[int], examples: list[Any], steps: int
             ) -> tuple[Any, list[float], Any]:
    """BDPL's first ``steps`` steps as tune-prompt runs them (its key, calibration on), cache
    emptied first: the timed scorer, [scoring wall s, server CPU s], cache counters."""
    from apps.prompt.search import Evaluator, bdpl
    from apps.prompt.tune import hash_name
    from blackbox.keys import Key

    before = _set_cache(base, 16384)
    timed = _Timed(_scorer(base, SAMPLES))
    ev = Evaluator(timed, examples, SAMPLES * steps, calibrate=True)  # type: ignore[arg-type]
    c0 = _cpu(base)
    bdpl(ev, space.sizes, space.candidate, Key(SEED).fold_in(hash_name("bdpl")), start,
         samples=SAMPLES)
    spent = [float(sum(timed.seconds)), _cpu(base) - c0]
    after = _cache_stats(base)
    timed.client.close()
    counts = {k: after[k] - before[k] for k in ("hits", "hit_tokens", "batches")}
    counts["first_step_s"] = timed.seconds[0]
    counts["first_step_scored"] = timed.sizes[0] * len(examples)
    return timed, spent, counts


def run(quick: bool = False, k_demos: int | None = None,
        instruction_first: tuple[bool, ...] | None = None) -> dict[str, Any]:
    """Batched (BDPL's first steps) / one-by-one / batched / one-by-one (half of the one-by-one
    pairs each time), so load drifts hit both; wall and server CPU time."""
    n_train, stride, steps, reps = (8, 2, 1, 1) if quick else (N_TRAIN, 4, STEPS, 2)
    space, start, examples = workload(n_train, SEED, k_demos, instruction_first)
    srv, base = _server()
    one: dict[tuple[Any, int], Any] = {}
    t_one, t_many, runs, counts = np.zeros(2), np.zeros(2), [], []
    try:
        for r in range(reps):
            timed, spent, cnt = _batched(base, space, start, examples, steps)
            runs.append(timed)
            t_many += spent
            counts.append(cnt)
            if r == 0:
                cands = timed.cands
                pairs = [(c, e) for c in range(len(cands)) for e in range(0, len(examples), stride)]
            got, spent = _one_by_one(base, cands, examples, pairs[r::reps])
            one.update(got)
            t_one += spent
    finally:
        _set_cache(base, 16384)
        if srv is not None:
            srv.stop()
    return _result(cands, examples, pairs, one, runs, t_one, t_many, counts)


def _result(cands: list[Any], examples: list[Any], pairs: list[tuple[int, int]],
            one: dict[tuple[int, int], Any], runs: list[Any], t_one: Any, t_many: Any,
            counts: list[dict[str, Any]]) -> dict[str, Any]:
    diff = max(float(np.max(np.abs(one[(c, e)] - run.rows[cands[c].key()][e])))
               for c, e in pairs for run in runs if cands[c].key() in run.rows)
    n_one = len(pairs)
    n_many = sum(len(run.cands) for run in runs) * len(examples)
    r_one, r_many = n_one / t_one, n_many / t_many  # [wall, CPU] examples per second
    first = min(c["first_step_scored"] / c["first_step_s"] for c in counts)
    same = all([c.key() for c in run.cands] == [c.key() for c in cands] for run in runs)
    res = {"candidates": len(cands), "examples_per_call": len(examples),
           "requests_per_run": len(runs[0].sizes), "k_demos": len(cands[0].demos),
           "one_per_example": {"scored": n_one, "requests": n_one, "seconds": t_one[0],
                               "per_s": r_one[0], "server_cpu_s": t_one[1]},
           "batched_cached": {"scored": n_many, "requests": sum(len(r.cands) for r in runs),
                              "seconds": t_many[0], "per_s": r_many[0],
                              "server_cpu_s": t_many[1], "runs": counts,
                              "first_step_per_s": first, "runs_scored_the_same": same},
           "speedup": r_many[0] / r_one[0], "cpu_speedup": r_many[1] / r_one[1],
           "first_step_speedup": first / r_one[0], "max_abs_diff": diff}
    print(f"   one request per example: {r_one[0]:.3f} examples/s ({n_one} in {t_one[0]:.1f} s); "
          f"batched + prefix-cached: {r_many[0]:.3f} examples/s ({n_many} in {t_many[0]:.1f} s);"
          f" speedup {res['speedup']:.2f}x (server CPU time: {res['cpu_speedup']:.2f}x; "
          f"the cold first step alone: {res['first_step_speedup']:.2f}x); "
          f"max |diff| {diff:.2e}", flush=True)
    return res
