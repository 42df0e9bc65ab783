"""Evaluate query batches on a pool of Ray actors: :class:`RayEvaluator`.

``RayEvaluator`` has the contract of :class:`blackbox.evaluate.LocalEvaluator` (``dim``,
``sense``, ``name``, ``can_value``, ``can_rank``, ``stats``, ``evaluate(query) -> raw``,
``close()``) and gives bit-identical answers, so ``minimize(..., backend="ray")`` and
``backend="local"`` produce the same run:

* each of the ``workers`` actors builds its own oracle from an
  :class:`~blackbox.oracle.OracleSpec` (models are never shipped) or unpickles a picklable
  oracle;
* a value batch is split into contiguous chunks (never single points when there are at least
  two), chunk ``points[a:b]`` is evaluated with ``query.key.shifted(a)`` so each point keeps the
  randomness it has in the whole batch, and the answers are reassembled in order whatever the
  completion order;
* a ranking query is answered from chunked values ranked in the driver with
  :func:`~blackbox.oracle.rank_by_values` when the oracle only gives values, and sent whole to
  one actor when the oracle ranks by itself (as :func:`~blackbox.evaluate.evaluate_query` does);
* an actor process that dies mid-batch (``RayActorError``) is replaced and its chunks re-sent;
  each re-sent chunk adds one to ``stats.retries``; an oracle that raises is re-raised as
  :class:`~blackbox.errors.RemoteOracleError` carrying the worker's traceback;
* counters an oracle keeps itself through ``attach_ledger`` (tokens, cost, retries, cache
  hits) are collected from the actors with every answer and added to ``stats``.

Cluster: ``address=`` (or ``RAY_ADDRESS``) joins an existing cluster; an already initialized
Ray is used as is; otherwise a local Ray is started (``include_dashboard=False``) and shut down
by :meth:`RayEvaluator.close` -- only a Ray this module started is ever shut down.

"Seeds, not vectors" (MeZO, Malladi et al. 2023, https://arxiv.org/abs/2305.17333): an oracle
whose points are low-dimensional seeds or coefficients regenerates its high-dimensional
perturbations in the worker from the per-point keys, so what travels per chunk is
``O(points x low dim)`` plus one key; :meth:`RayEvaluator.payload_bytes` measures it.
"""

from __future__ import annotations

import os
import pickle
import time
import traceback
from dataclasses import asdict, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.budget import OracleStats
from blackbox.errors import ConfigError, RemoteOracleError
from blackbox.evaluate import evaluate_query, record
from blackbox.oracle import OracleSpec, rank_by_values
from blackbox.query import Query, Ranking
from blackbox.ray_cluster import ensure_ray, release_ray

__all__ = ["RayEvaluator", "chunk_bounds", "ensure_ray", "release_ray"]

_MAX_RESTARTS = 3  # replacements of one actor slot within one batch before giving up

def chunk_bounds(n: int, workers: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    """Contiguous ``[a, b)`` chunks covering ``range(n)``.

    Without ``chunk_size``: ``min(workers, n // 2)`` (at least one) nearly equal chunks, so no
    chunk holds a single point unless the batch does. With ``chunk_size``: chunks of that size
    (the last one merged into its neighbour if it would hold a single point).
    """
    if n <= 0:
        return []
    if chunk_size is None:
        k = max(1, min(int(workers), n // 2))
        edges = np.linspace(0, n, k + 1).round().astype(int)
    else:
        edges = np.arange(0, n, int(chunk_size)).tolist() + [n]
        if len(edges) > 2 and edges[-1] - edges[-2] == 1:
            del edges[-2]
        edges = np.asarray(edges)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _check_pool_args(oracle: Any, workers: Any, resources: Any, chunk_size: Any) -> None:
    """:class:`RayEvaluator`'s arguments, checked before Ray starts (one-line errors)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an int >= 1, got {workers!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool)
                                   or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(f"chunk_size must be an int >= 1 or None, got {chunk_size!r}")
    if resources is not None and not isinstance(resources, dict):
        raise ConfigError("resources_per_worker must be a dict such as {'num_cpus': 1, "
                          f"'num_gpus': 0.5}}, got {resources!r}")
    if isinstance(oracle, str):
        raise ConfigError(
            f"oracle {oracle!r}: pass an oracle object or OracleSpec({oracle!r}, {{'dim': ...}})")
    if isinstance(oracle, OracleSpec):
        return
    try:
        pickle.dumps(oracle)
    except Exception:
        try:
            import cloudpickle

            cloudpickle.dumps(oracle)
        except Exception as exc:
            raise ConfigError(
                f"oracle: a {type(oracle).__name__} cannot be pickled for Ray workers ({exc}); "
                "pass an OracleSpec that builds it in the worker") from None


class _OracleActor:
    """Holds one oracle (built here from its spec) and answers query chunks."""

    def __init__(self, payload: Any) -> None:
        self.error: tuple[str, str] | None = None
        self.stats = OracleStats()
        try:
            self.oracle = payload.build() if isinstance(payload, OracleSpec) else payload
            attach = getattr(self.oracle, "attach_ledger", None)
            if callable(attach):
                attach(self.stats)
        except Exception as exc:  # reported by info(), not as an opaque actor death
            self.error = (f"{type(exc).__name__}: {exc}", traceback.format_exc())

    def info(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        from blackbox.oracle import can_rank, can_value, oracle_name, oracle_sense

        try:
            return {
                "dim": int(self.oracle.dim),
                "sense": oracle_sense(self.oracle),
                "name": oracle_name(self.oracle),
                "can_value": can_value(self.oracle),
                "can_rank": can_rank(self.oracle),
                "own_rank": callable(getattr(self.oracle, "rank", None)),
            }
        except Exception as exc:
            return {"error": (f"{type(exc).__name__}: {exc}", traceback.format_exc())}

    def evaluate(self, query: Query) -> tuple[str, Any, dict[str, Any]]:
        try:
            raw = evaluate_query(self.oracle, query)
        except Exception as exc:
            return "error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()), {}
        delta = {k: v for k, v in asdict(self.stats).items() if v}
        for f in fields(self.stats):
            setattr(self.stats, f.name, type(getattr(self.stats, f.name))(0))
        return "ok", raw, delta

    def close(self) -> None:
        close = getattr(getattr(self, "oracle", None), "close", None)
        if callable(close):
            close()


class RayEvaluator:
    """Split query batches over ``workers`` Ray actors; same contract as ``LocalEvaluator``.

    Args:
        oracle: an :class:`~blackbox.oracle.OracleSpec` (built inside each actor) or a picklable
            oracle object.
        workers: number of actors (>= 1).
        resources_per_worker: Ray resources per actor, e.g. ``{"num_cpus": 1, "num_gpus": 0.25}``
            (any ``.options()`` keyword is accepted).
        address: a Ray cluster to join (default: ``RAY_ADDRESS``, else the running Ray, else a
            new local one).
        stats: the :class:`~blackbox.budget.OracleStats` to count into.
        chunk_size: points per chunk (default: one chunk per actor).

    Raises:
        ConfigError: bad ``workers``, ``chunk_size``, ``resources_per_worker`` or ``oracle``.
        RemoteOracleError: the oracle could not be built in the worker.
    """

    def __init__(self, oracle: Any, *, workers: int = 1,
                 resources_per_worker: dict[str, Any] | None = None,
                 address: str | None = None, stats: OracleStats | None = None,
                 chunk_size: int | None = None) -> None:
        _check_pool_args(oracle, workers, resources_per_worker, chunk_size)
        import ray

        self.workers = workers
        self.chunk_size = chunk_size
        self.stats = stats if stats is not None else OracleStats()
        self._options = {"num_cpus": 1, **(resources_per_worker or {})}
        ensure_ray(address)
        self._closed = False
        try:
            self._check_fits(address)
            self._cls = ray.remote(_OracleActor)
            self._payload = ray.put(oracle)
            self._actors = [self._new_actor() for _ in range(workers)]
            info = self._info(self._actors[0])
        except BaseException:
            self.close()
            raise
        self.dim: int = info["dim"]
        self.sense: str = info["sense"]
        self.name: str = info["name"]
        self.can_value: bool = info["can_value"]
        self.can_rank: bool = info["can_rank"]
        self._own_rank: bool = info["own_rank"]
        self.own_rank = self._own_rank

    # -- actors -----------------------------------------------------------------------------
    def _check_fits(self, address: str | None) -> None:
        """Refuse a pool the cluster can never place (it would wait forever), unless the cluster
        was named explicitly (it may autoscale), where a warning is given instead."""
        import ray

        total = ray.cluster_resources()
        opts = self._options
        need = {"CPU": opts.get("num_cpus") or 0, "GPU": opts.get("num_gpus") or 0}
        short = [f"{need[r] * self.workers:g} {r}s (cluster has {total.get(r, 0):g})"
                 for r in need if need[r] * self.workers > total.get(r, 0) + 1e-9]
        if not short:
            return
        msg = (f"workers={self.workers} with resources_per_worker={self._options} needs "
               f"{' and '.join(short)}; use fewer workers or a fractional num_cpus")
        if address or os.environ.get("RAY_ADDRESS"):
            import warnings

            warnings.warn(msg + " (waiting for the cluster to scale up)", stacklevel=3)
        else:
            raise ConfigError(msg)

    def _new_actor(self) -> Any:
        return self._cls.options(**self._options).remote(self._payload)

    def _info(self, actor: Any) -> dict[str, Any]:
        import ray

        from ray.exceptions import RayActorError

        try:
            info = ray.get(actor.info.remote())
        except RayActorError as exc:
            raise RemoteOracleError(
                "the Ray worker died while building the oracle", str(exc)) from None
        if "error" in info:
            msg, tb = info["error"]
            raise RemoteOracleError(f"the oracle could not be built in a Ray worker: {msg}", tb)
        return info  # type: ignore[no-any-return]

    def _replace(self, slot: int, dead: Any) -> None:
        import ray

        if self._actors[slot] is dead:
            try:
                ray.kill(dead, no_restart=True)
            except Exception:
                pass
            self._actors[slot] = self._new_actor()

    # -- evaluation -------------------------------------------------------------------------
    def chunks(self, query: Query) -> list[tuple[int, Query]]:
        """The ``(offset, chunk query)`` pairs a value query is split into."""
        return [
            (a, Query(query.points[a:b], query.key.shifted(a), "values", tag=query.tag))
            for a, b in chunk_bounds(query.n, self.workers, self.chunk_size)
        ]

    def payload_bytes(self, query: Query) -> int:
        """Pickled bytes sent to the actors for ``query`` (points plus keys)."""
        parts = [q for _, q in self.chunks(query)] if query.kind == "values" or not self._own_rank \
            else [query]
        return sum(len(pickle.dumps(q, protocol=pickle.HIGHEST_PROTOCOL)) for q in parts)

    def _run(self, parts: list[Query]) -> list[Any]:
        """Evaluate each part on an actor (round robin); answers in order; faults handled."""
        import ray
        from ray.exceptions import RayActorError

        out: list[Any] = [None] * len(parts)
        restarts = [0] * self.workers
        pending: dict[Any, tuple[int, int, Any]] = {}

        def submit(i: int, slot: int) -> None:
            actor = self._actors[slot]
            pending[actor.evaluate.remote(parts[i])] = (i, slot, actor)

        for i in range(len(parts)):
            submit(i, i % self.workers)
        error: RemoteOracleError | None = None
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            i, slot, actor = pending.pop(ref)
            try:
                status, raw, delta = ray.get(ref)
            except RayActorError as exc:
                if self._actors[slot] is actor:
                    restarts[slot] += 1
                    if restarts[slot] > _MAX_RESTARTS:
                        error = error or RemoteOracleError(
                            f"Ray worker for oracle {self.name!r} died {restarts[slot]} times "
                            "in one batch; giving up",
                            str(exc),
                        )
                        continue
                    self._replace(slot, actor)
                if error is None:
                    self.stats.retries += 1
                    submit(i, slot)
                continue
            if status == "error":
                msg, tb = raw
                error = error or RemoteOracleError(f"oracle raised in a Ray worker: {msg}", tb)
                continue
            if delta:
                self.stats.merge(delta)
            out[i] = raw
        if error is not None:
            raise error
        return out

    def evaluate(self, query: Query) -> NDArray[Any]:
        """Answer ``query`` exactly as ``LocalEvaluator.evaluate`` would, on the actors."""
        if self._closed:
            raise ConfigError("this RayEvaluator is closed")
        t0 = time.perf_counter()
        if query.kind == "values" or not self._own_rank:
            offsets_parts = self.chunks(query)
            raws = self._run([q for _, q in offsets_parts])
            vals = np.concatenate(raws) if raws else np.empty(0, dtype=np.float64)
            if query.kind == "values":
                out: NDArray[Any] = vals
            else:
                assert query.groups is not None and query.top is not None
                who = f"oracle {self.name!r}"
                out = Ranking.check(
                    rank_by_values(vals, query.groups, query.top, self.sense), query, who
                )
        else:
            out = self._run([query])[0]
        record(self.stats, query, out, t0)
        return out

    def close(self) -> None:
        """Close the oracles, end the actors, and release Ray (shut down only if we started it)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        import ray

        try:
            if ray.is_initialized():
                actors = getattr(self, "_actors", [])
                try:
                    ray.get([a.close.remote() for a in actors], timeout=10)
                except Exception:
                    pass
                for a in actors:
                    try:
                        ray.kill(a, no_restart=True)
                    except Exception:
                        pass
        finally:
            release_ray()

    def __enter__(self) -> RayEvaluator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
