"""Benchmark: Ray parallelism (``blackbox bench parallel``).

Measures, on this machine:

* ``speedup``: wall time of one batch of a CPU-bound oracle (about 20 ms of busy work per point)
  on ``workers=1`` over ``workers=2`` Ray actors (target >= 1.6 on 2 free cores), and the same
  through ``minimize(..., backend="ray")``;
* ``overhead_ms``: Ray's extra time per batch over in-process evaluation for a cheap oracle
  (the 10-d sphere, 100 points per batch);
* ``run_many``: wall time of 8 independent runs with ``backend="ray"`` versus in turn;
* ``seeds_not_vectors``: pickled bytes sent to the actors per step when points are direction
  coefficients regenerated from keys in the worker (MeZO, https://arxiv.org/abs/2305.17333),
  versus shipping the high-dimensional vectors.

``run(quick=True)`` is a tiny version that finishes in seconds.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from blackbox.keys import Key

__all__ = ["BusyOracle", "SeedDirectionsOracle", "run"]

#: 2 actors over 1 on a CPU-bound oracle (2 cores); keys instead of vectors cut traffic 100x
TARGETS = {"speedup.speedup": (">=", 1.6), "run_many.same_results": ("==", 1),
           "seeds_not_vectors.ratio": (">=", 100)}


class BusyOracle:
    """The sphere after ``ms`` milliseconds of busy CPU work per point (not sleep)."""

    def __init__(self, dim: int = 10, ms: float = 20.0) -> None:
        self.dim, self.sense, self.name, self.ms = dim, "min", f"busy{ms:g}ms", ms

    def values(self, points: Any, *, key: Key) -> Any:
        pts = np.asarray(points, dtype=np.float64)
        for _ in range(len(pts)):
            end = time.perf_counter() + self.ms / 1000.0
            acc = 0.0
            while time.perf_counter() < end:
                acc += 1.0
        return (pts ** 2).sum(axis=1)


class SeedDirectionsOracle:
    """Points are ``q`` coefficients; the ``big``-dimensional directions live in the worker.

    ``x = theta + sum_j c_j u_j`` with ``u_j`` regenerated from ``Key(seed).fold_in(j)``; the
    value is ``||x||^2 / big``. Only ``q`` floats per point travel to the worker.
    """

    def __init__(self, q: int = 8, big: int = 1_000_000, seed: int = 0) -> None:
        self.dim, self.sense, self.name = q, "min", "seed_directions"
        self.big, self.seed = big, seed
        self._u: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_u": None}

    def values(self, points: Any, *, key: Key) -> Any:
        if self._u is None:
            self._u = np.stack([Key(self.seed).fold_in(j).numpy().standard_normal(self.big)
                                for j in range(self.dim)]).astype(np.float32)
        x = 1.0 + np.asarray(points, dtype=np.float32) @ self._u
        return (x.astype(np.float64) ** 2).sum(axis=1) / self.big


def _time(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _speedup(quick: bool) -> dict[str, Any]:
    from blackbox.oracle import OracleSpec
    from blackbox.query import Query
    from blackbox.ray_runner import RayEvaluator
    from blackbox.runner import minimize

    ms, n = (5.0, 8) if quick else (20.0, 40)
    spec = OracleSpec("apps.bench.parallel:BusyOracle", {"dim": 10, "ms": ms})
    q = Query(np.random.default_rng(0).normal(size=(n, 10)), Key(0))
    times = {}
    for w in (1, 2):
        with RayEvaluator(spec, workers=w) as ev:
            ev.evaluate(q)  # warm the actors
            times[w] = _time(lambda: ev.evaluate(q), 1 if quick else 3)
    out: dict[str, Any] = {
        "ms_per_point": ms, "batch": n, "seconds_w1": times[1], "seconds_w2": times[2],
        "speedup": times[1] / times[2], "ideal_seconds_w1": n * ms / 1000,
    }
    if not quick:  # end to end through the runner (actor start-up included)
        run_t = {}
        for w in (1, 2):
            t0 = time.perf_counter()
            minimize(spec, "random_search", np.ones(10), budget=201, backend="ray", workers=w)
            run_t[w] = time.perf_counter() - t0
        out.update(minimize_seconds_w1=run_t[1], minimize_seconds_w2=run_t[2],
                   minimize_speedup=run_t[1] / run_t[2])
    return out


def _overhead(quick: bool) -> dict[str, Any]:
    from blackbox.evaluate import LocalEvaluator
    from blackbox.oracle import OracleSpec
    from blackbox.query import Query
    from blackbox.ray_runner import RayEvaluator
    from oracles.functions import Sphere

    batches = 20 if quick else 200
    q = Query(np.random.default_rng(0).normal(size=(100, 10)), Key(0))
    local = LocalEvaluator(Sphere(10))
    t_local = _time(lambda: [local.evaluate(q) for _ in range(batches)], 3) / batches
    out: dict[str, Any] = {"batch": 100, "local_ms": 1000 * t_local}
    for w in (1, 2):
        with RayEvaluator(OracleSpec("sphere", {"dim": 10}), workers=w) as ev:
            ev.evaluate(q)
            t = _time(lambda: [ev.evaluate(q) for _ in range(batches)], 3) / batches
        out[f"ray_w{w}_ms"] = 1000 * t
        out[f"overhead_w{w}_ms"] = 1000 * (t - t_local)
    return out


def _run_many(quick: bool) -> dict[str, Any]:
    from blackbox.many import RunSpec, run_many
    from blackbox.oracle import OracleSpec

    ms, budget = (2.0, 20) if quick else (5.0, 120)
    spec = OracleSpec("apps.bench.parallel:BusyOracle", {"dim": 5, "ms": ms})
    runs = [RunSpec(spec, "random_search", np.ones(5), seed=s, budget=budget) for s in range(8)]
    t0 = time.perf_counter()
    seq = {r.run_id: r.fun for r in run_many(runs)}
    t_seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    par = {r.run_id: r.fun for r in run_many(runs, backend="ray")}
    t_par = time.perf_counter() - t0
    return {"runs": 8, "points_per_run": budget, "ms_per_point": ms, "sequential_s": t_seq,
            "ray_s": t_par, "speedup": t_seq / t_par, "same_results": seq == par}


def _bytes(quick: bool) -> dict[str, Any]:
    from blackbox.oracle import OracleSpec
    from blackbox.query import Query
    from blackbox.ray_runner import RayEvaluator

    q_dirs, big = (4, 10_000) if quick else (8, 1_000_000)
    n = 2 * q_dirs  # e.g. +/- along each direction
    spec = OracleSpec("apps.bench.parallel:SeedDirectionsOracle", {"q": q_dirs, "big": big})
    q = Query(np.random.default_rng(0).normal(size=(n, q_dirs)), Key(0))
    with RayEvaluator(spec, workers=2) as ev:
        sent = ev.payload_bytes(q)
        ev.evaluate(q)
    explicit = n * big * 8
    return {"points_per_step": n, "coefficients_per_point": q_dirs, "big_dim": big,
            "bytes_per_step_seeds": sent, "bytes_per_step_vectors": explicit,
            "ratio": explicit / sent}


def run(quick: bool = False) -> dict[str, Any]:
    """Run the parallel benchmark; ``quick=True`` is a tiny version (seconds)."""
    from blackbox.ray_runner import ensure_ray, release_ray

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    t0 = time.perf_counter()
    ensure_ray(num_cpus=max(2, cpus or 2), object_store_memory=200 * 1024**2,
               log_to_driver=False)
    startup = time.perf_counter() - t0
    try:
        return {
            "ray_startup_s": startup,
            "speedup": _speedup(quick),
            "overhead": _overhead(quick),
            "run_many": _run_many(quick),
            "seeds_not_vectors": _bytes(quick),
        }
    finally:
        release_ray()
