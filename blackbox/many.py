"""Many independent runs: :class:`RunSpec` and :func:`run_many`.

A portfolio of strategies, seeds or restarts is a list of :class:`RunSpec`. ``run_many`` with
``backend="local"`` runs them in turn with :func:`blackbox.runner.minimize`; with
``backend="ray"`` each run is one Ray task that calls ``minimize(..., backend="local")`` on the
node it lands on (its oracle built there from its :class:`~blackbox.oracle.OracleSpec`, so a
GPU model stays on that node's GPU). Results stream back as they finish (``ray.wait``), each
carrying its ``run_id``, and at most ``max_in_flight`` runs are submitted at a time
(backpressure). Each run is seeded by its own ``seed``, so a run's result does not depend on the
backend or on which runs share the cluster.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator

from blackbox.errors import ConfigError, RemoteOracleError
from blackbox.result import Result

__all__ = ["RunSpec", "run_many"]


@dataclass(frozen=True)
class RunSpec:
    """One run of :func:`run_many`: the arguments of :func:`blackbox.runner.minimize`.

    Args:
        oracle: an :class:`~blackbox.oracle.OracleSpec` (built where the run executes) or a
            picklable oracle.
        strategy: a strategy, a registered name, or ``{"name": ..., **options}``.
        x0: the initial point (optional with a bounded ``space``).
        seed: the run's seed.
        budget: a :class:`~blackbox.budget.Budget`, an int (``max_queries``) or a dict.
        space: the feasible set.
        run_id: any picklable label; defaults to the run's position in the list.
        kwargs: further keyword arguments for ``minimize`` (``callbacks``, ``keep_trace``...).
    """

    oracle: Any
    strategy: Any
    x0: Any = None
    seed: int = 0
    budget: Any = None
    space: Any = None
    run_id: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def _execute(spec: RunSpec) -> Result:
    from blackbox.runner import minimize

    kwargs = dict(spec.kwargs)
    kwargs.pop("backend", None)
    res = minimize(spec.oracle, spec.strategy, spec.x0, seed=spec.seed, budget=spec.budget,
                   space=spec.space, **kwargs)
    res.run_id = spec.run_id
    return res


def _remote_run(spec: RunSpec) -> tuple[str, Any]:
    """Runs inside a Ray task: a result, or the error and its traceback (never a bare Ray error)."""
    try:
        return "ok", _execute(spec)
    except ConfigError as exc:  # bad input is re-raised as itself in the driver
        try:
            import pickle

            pickle.dumps(exc)
            return "raise", (exc, traceback.format_exc())
        except Exception:
            return "error", (f"{type(exc).__name__}: {exc}", traceback.format_exc())
    except Exception as exc:
        return "error", (f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _check(runs: Iterable[RunSpec]) -> list[RunSpec]:
    out = []
    for i, spec in enumerate(runs):
        if not isinstance(spec, RunSpec):
            raise ConfigError(f"runs[{i}] must be a RunSpec, got {type(spec).__name__}")
        if spec.budget is None:
            raise ConfigError(f"runs[{i}].budget is required (Budget, int or dict)")
        if spec.kwargs.get("backend", "local") != "local":
            raise ConfigError(f"runs[{i}].kwargs['backend'] must be 'local' inside run_many")
        out.append(spec if spec.run_id is not None else replace(spec, run_id=i))
    ids = [s.run_id for s in out]
    try:
        if len(set(ids)) != len(ids):
            raise ConfigError(f"run_id values must be distinct, got {ids!r}")
    except TypeError:
        raise ConfigError("run_id values must be hashable") from None
    return out


def run_many(runs: Iterable[RunSpec], backend: str = "local", max_in_flight: int | None = None,
             address: str | None = None,
             resources_per_run: dict[str, Any] | None = None) -> Iterator[Result]:
    """Run independent optimizations and yield each :class:`Result` (with ``run_id``) when done.

    Args:
        runs: the :class:`RunSpec` list.
        backend: ``"local"`` (in turn, in order) or ``"ray"`` (in parallel, completion order).
        max_in_flight: at most this many runs submitted at once (``"ray"``; default: the
            cluster's CPU count).
        address: a Ray cluster to join (default ``RAY_ADDRESS``, the running Ray, or a new one).
        resources_per_run: ``.options()`` for each run's task, e.g. ``{"num_cpus": 1,
            "num_gpus": 0.5}``; runs are spread over nodes unless a ``scheduling_strategy`` is
            given.

    Raises:
        ConfigError: bad arguments (checked before anything runs).
        RemoteOracleError: a run failed in a worker (carries its traceback).
    """
    specs = _check(runs)
    if backend not in ("local", "ray"):
        raise ConfigError(f"backend must be 'local' or 'ray', got {backend!r}")
    if max_in_flight is not None and (isinstance(max_in_flight, bool)
                                      or not isinstance(max_in_flight, int) or max_in_flight < 1):
        raise ConfigError(f"max_in_flight must be an int >= 1 or None, got {max_in_flight!r}")
    if resources_per_run is not None and not isinstance(resources_per_run, dict):
        raise ConfigError(f"resources_per_run must be a dict, got {resources_per_run!r}")
    if backend == "local":
        return (_execute(s) for s in specs)
    return _ray_stream(specs, max_in_flight, address, resources_per_run)


def _ray_stream(specs: list[RunSpec], max_in_flight: int | None, address: str | None,
                resources: dict[str, Any] | None) -> Iterator[Result]:
    from blackbox.ray_cluster import ensure_ray, release_ray

    ensure_ray(address)
    try:
        import ray

        opts = {"num_cpus": 1, "scheduling_strategy": "SPREAD", "max_retries": 2,
                **(resources or {})}
        task = ray.remote(_remote_run).options(**opts)
        limit = max_in_flight or max(1, int(ray.cluster_resources().get("CPU", 1)))
        todo = list(reversed(specs))
        pending: dict[Any, RunSpec] = {}
        try:
            while todo or pending:
                while todo and len(pending) < limit:
                    spec = todo.pop()
                    pending[task.remote(spec)] = spec
                done, _ = ray.wait(list(pending), num_returns=1)
                spec = pending.pop(done[0])
                status, payload = ray.get(done[0])
                if status == "raise":
                    raise payload[0]
                if status == "error":
                    msg, tb = payload
                    raise RemoteOracleError(
                        f"run {spec.run_id!r} failed in a Ray worker: {msg}", tb)
                yield payload
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        release_ray()
