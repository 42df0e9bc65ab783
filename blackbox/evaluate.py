"""Evaluators: how a :class:`~blackbox.query.Query` reaches an oracle.

An evaluator has ``dim``, ``sense``, ``name``, ``can_value``, ``can_rank``, ``own_rank`` (what
the oracle behind it is and answers; ``own_rank`` is False when rankings are made by sorting its
values, which the runner then does itself so the values reach the ledger and ``f_best``), ``evaluate(query) -> raw`` (``(n,)`` float64 values in the *oracle's* sense for
value queries, ``(g, k')`` int64 order for ranking queries), counts into the
:class:`~blackbox.budget.OracleStats` it was given, and ``close()``. :class:`LocalEvaluator`
calls the oracle in-process; ``blackbox.ray_runner.RayEvaluator`` splits batches over actors
with the same contract, so the runner does not care where an oracle runs.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.budget import OracleStats
from blackbox.errors import ConfigError, FeedbackError
from blackbox.oracle import (OracleSpec, can_rank, can_value, oracle_name, oracle_sense,
                             rank_by_values)
from blackbox.query import Query, Ranking, Values

__all__ = ["LocalEvaluator", "evaluate_query", "make_evaluator", "record"]

_clock, _isfinite, _ndarray, _F64 = time.perf_counter, math.isfinite, np.ndarray, np.dtype(np.float64)


def evaluate_query(oracle: Any, query: Query) -> NDArray[Any]:
    """Answer ``query`` with ``oracle`` in-process and validate the answer's shape."""
    who = f"oracle {oracle_name(oracle)!r}"
    if query.kind == "values":
        if not can_value(oracle):
            raise FeedbackError(f"{who} can only rank; it cannot answer value queries")
        return Values.check(oracle.values(query.points, key=query.key), query.n, who)
    assert query.groups is not None and query.top is not None
    if callable(getattr(oracle, "rank", None)):
        raw = oracle.rank(query.points, query.groups, top=query.top, key=query.key)
    else:
        vals = Values.check(oracle.values(query.points, key=query.key), query.n, who)
        raw = rank_by_values(vals, query.groups, query.top, oracle_sense(oracle))
    return Ranking.check(raw, query, who)


def record(stats: OracleStats, query: Query, out: NDArray[Any], t0: float) -> None:
    """Count one answered query (started at ``t0``) into ``stats``; non-finite values are failures."""
    stats.latency_s += time.perf_counter() - t0
    stats.queries += 1
    n = query.points.shape[0]  # (out is an order array for rankings)
    stats.points += n
    if query.kind == "values" and not math.isfinite(out.dot(out)):  # one cheap check: any NaN/inf
        stats.failures += n - int(np.count_nonzero(np.isfinite(out)))  # (or overflow: counts 0)


class LocalEvaluator:
    """Evaluate queries in this process, counting queries, points, failures and latency."""

    def __init__(self, oracle: Any, stats: OracleStats | None = None) -> None:
        self.oracle = oracle
        self.stats = stats if stats is not None else OracleStats()
        attach = getattr(oracle, "attach_ledger", None)
        if callable(attach):
            attach(self.stats)
        self.dim = int(oracle.dim)
        self.sense = oracle_sense(oracle)
        self.name = oracle_name(oracle)
        self.can_value = can_value(oracle)
        self.can_rank = can_rank(oracle)
        self.own_rank = callable(getattr(oracle, "rank", None))

    def evaluate(self, query: Query) -> NDArray[Any]:
        t0 = _clock()
        if query.kind != "values" or not self.can_value:
            out = evaluate_query(self.oracle, query)
            record(self.stats, query, out, t0)
            return out
        # the hot path: one call, one shape check, record() written out
        points = query.points
        out = self.oracle.values(points, key=query.key)
        n = points.shape[0]
        if not (out.__class__ is _ndarray and out.dtype is _F64 and out.shape == (n,)):
            out = Values.check(out, n, f"oracle {self.name!r}")
        stats = self.stats
        stats.latency_s += _clock() - t0
        stats.queries += 1
        stats.points += n
        if not _isfinite(out.dot(out)):  # one cheap check: any NaN/inf (or overflow)
            stats.failures += n - int(np.count_nonzero(np.isfinite(out)))
        return out

    def close(self) -> None:
        close = getattr(self.oracle, "close", None)
        if callable(close):
            close()


def make_evaluator(oracle: Any, backend: str = "local", workers: int = 1,
                   resources: dict[str, float] | None = None, address: str | None = None) -> Any:
    """A :class:`LocalEvaluator` (``backend="local"``) or a Ray evaluator over ``workers`` actors."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be an int >= 1, got {workers!r}")
    if backend == "ray":
        from blackbox.ray_runner import RayEvaluator

        return RayEvaluator(oracle, workers=workers, resources_per_worker=resources,
                            address=address, stats=OracleStats())
    if backend != "local":
        raise ConfigError(f"backend must be 'local' or 'ray', got {backend!r}")
    if isinstance(oracle, OracleSpec):
        oracle = oracle.build()
    if isinstance(oracle, str):
        raise ConfigError(
            f"oracle {oracle!r}: pass an oracle object or OracleSpec({oracle!r}, {{'dim': ...}})")
    if not can_rank(oracle) or getattr(oracle, "dim", None) is None:
        raise ConfigError(
            "oracle must have dim and values(points, *, key) or rank(points, groups, *, top, key), "
            f"or be a function f(x) -> float; got {type(oracle).__name__}")
    return LocalEvaluator(oracle, OracleStats())
