"""The runner: :func:`minimize` drives a strategy against an oracle; :func:`replay` re-runs a trace.

One loop serves every strategy and oracle: ask a query, check it against the budget, answer it
(from the journal when resuming, else through the evaluator: in-process or on Ray actors), turn a
``sense="max"`` oracle's values around once, tell, record. Values in :class:`Result` and the
trace's ``history`` are in the oracle's sense; the ``(query, feedback)`` pairs hold what the
strategy was told (minimizing sense).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from blackbox.budget import Budget, Ledger, OracleStats
from blackbox.errors import ConfigError, FeedbackError, JournalMismatchError
from blackbox.evaluate import LocalEvaluator
from blackbox.journal import Journal, encode_array
from blackbox.keys import Key, as_key
from blackbox.oracle import OracleSpec, rank_by_values
from blackbox.progress import ProgressBar
from blackbox.query import Query, Ranking, Values
from blackbox.result import Result, Trace
from blackbox.spaces import as_space
from blackbox.strategy import BaseStrategy, check_x0, resolve_strategy, strategy_config

__all__ = ["StepInfo", "minimize", "replay"]

_FINAL_KEY = 1 << 62  # the key path of the final evaluation of the recommendation


@dataclass
class StepInfo:
    """What a callback sees after each step; return ``True`` from the callback to stop."""

    step: int
    nfev: int
    f_best: float
    x_best: NDArray[np.float64]
    metrics: dict[str, Any]
    seconds: float
    state: Any


def _make_evaluator(oracle: Any, backend: str, workers: int, resources: Any, address: Any) -> Any:
    stats = OracleStats()
    if backend == "local":
        if isinstance(oracle, OracleSpec):
            oracle = oracle.build()
        if isinstance(oracle, str):
            raise ConfigError(
                f"oracle {oracle!r}: pass an oracle object or OracleSpec({oracle!r}, {{'dim': ...}})"
            )
        return LocalEvaluator(oracle, stats)
    if backend == "ray":
        from blackbox.ray_runner import RayEvaluator

        return RayEvaluator(oracle, workers=workers, resources_per_worker=resources,
                            address=address, stats=stats)
    raise ConfigError(f"backend must be 'local' or 'ray', got {backend!r}")


def _initial_point(x0: Any, space: Any, dim: int) -> Any:
    if x0 is not None:
        return x0
    if space is not None and getattr(space, "bounded", False):
        center = getattr(space, "center", None)
        return center() if callable(center) else np.asarray(center, dtype=np.float64)
    raise ConfigError("x0 is required (a vector of length dim) unless a bounded space is given")


def minimize(
    oracle: Any,
    strategy: Any,
    x0: Any = None,
    *,
    seed: int | Key = 0,
    budget: Budget | int | dict[str, Any] | None = None,
    space: Any = None,
    callbacks: Sequence[Callable[[StepInfo], Any]] = (),
    backend: str = "local",
    workers: int = 1,
    resources_per_worker: dict[str, float] | None = None,
    address: str | None = None,
    journal: str | None = None,
    progress: bool | None = None,
    keep_trace: bool = True,
    checkpoint_every: int = 100,
) -> Result:
    """Minimize (or maximize, per ``oracle.sense``) a black-box oracle with a strategy.

    Args:
        oracle: a value or ranking oracle, or an :class:`~blackbox.oracle.OracleSpec`.
        strategy: a strategy, a registered name (``"cbo"``) or ``{"name": ..., **options}``.
        x0: the initial point ``(dim,)``; optional when ``space`` is bounded (its center).
        seed: the run's seed; every random draw derives from it.
        budget: a :class:`Budget`, an int (``max_queries``) or a dict of Budget fields.
        space: a feasible set; every point sent to the oracle lies in it.
        callbacks: called with a :class:`StepInfo` after each step; ``True`` stops the run.
        backend: ``"local"`` (in-process) or ``"ray"`` (batches split over ``workers`` actors).
        journal: a directory: every query and answer is journaled there; if it already holds a
            journal of the same run, the run resumes (answered queries are replayed, not re-sent).
        progress: show a progress bar (default: when stderr is a terminal).
        keep_trace: keep every ``(query, feedback)`` pair in ``result.trace.pairs``.

    Returns:
        A :class:`~blackbox.result.Result`.

    Raises:
        ConfigError: bad input (the message names the field), raised before any query is sent.
        FeedbackError: a ranking-only oracle with a value strategy (before any query is sent).
    """
    t0 = time.perf_counter()
    if budget is None:
        raise ConfigError("budget is required: Budget(max_queries=...), an int, or a dict")
    budget = Budget.coerce(budget)
    key = as_key(seed)
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an int >= 1, got {workers!r}")
    ev = _make_evaluator(oracle, backend, workers, resources_per_worker, address)
    try:
        return _run(ev, strategy, x0, key, budget, space, callbacks, journal, progress,
                    keep_trace, checkpoint_every, t0)
    finally:
        ev.close()


def _run(ev: Any, strategy: Any, x0: Any, key: Key, budget: Budget, space: Any,
         callbacks: Sequence[Callable[[StepInfo], Any]], journal_dir: str | None,
         progress: bool | None, keep_trace: bool, checkpoint_every: int, t0: float) -> Result:
    dim, sense = ev.dim, ev.sense
    space = as_space(space, dim)
    strategy = resolve_strategy(strategy, space)
    if getattr(strategy, "requires_space", False) and getattr(strategy, "space", None) is None:
        raise ConfigError(f"strategy {type(strategy).__name__} requires a space (Box, Ball, Simplex)")
    want = getattr(strategy, "feedback", "values")
    if want == "values" and not ev.can_value:
        raise FeedbackError(
            f"strategy {type(strategy).__name__} needs values but oracle {ev.name!r} can only "
            "rank; use a ranking strategy such as 'zo_ranksgd'"
        )
    if want == "ranking" and not ev.can_rank:
        raise FeedbackError(f"oracle {ev.name!r} can neither rank nor give values")
    x0 = check_x0(_initial_point(x0, getattr(strategy, "space", None), dim), dim)
    sign = -1.0 if sense == "max" else 1.0

    ledger = Ledger()
    ledger.oracles[ev.name] = stats = ev.stats
    jr: Journal | None = None
    if journal_dir is not None:
        header = {
            "seed": key.to_json(),
            "strategy": strategy_config(strategy),
            "oracle": {"name": ev.name, "dim": dim, "sense": sense},
            "x0": encode_array(x0),
        }
        jr = Journal(journal_dir, header, checkpoint_every)

    state = strategy.init(x0, key)
    trace = Trace(x0=x0, seed=key)
    value_oracle = ev.can_value
    reserve = 1 if value_oracle else 0
    max_q = budget.max_queries
    target = None if budget.target is None else sign * budget.target
    f_min = math.inf  # best observed, minimizing sense
    x_best = x0
    nfev = nit = 0
    stop: dict[str, Any] = {}
    show = progress if progress is not None else _isatty()
    total, unit = (max_q, "points") if max_q else (budget.max_steps, "steps")
    bar = ProgressBar(total, unit) if show else None

    def answer(query: Query, partial: bool = False) -> NDArray[Any]:
        if jr is None:
            return ev.evaluate(query)  # type: ignore[no-any-return]
        pre = None
        if jr.pending:
            raw = jr.replay_answer(query)
            if raw is not None:
                stats.replayed += query.n
                return raw
            pre = jr.prefix_answer(query)
        if pre is not None:  # the head was answered as a truncated batch: send only the rest
            k, head = pre
            rest = Query(query.points[k:], query.key.shifted(k), "values", tag=query.tag)
            raw = np.concatenate([head, ev.evaluate(rest)])
            stats.replayed += k
        else:
            raw = ev.evaluate(query)
        jr.append(query, raw, partial=partial)
        return raw

    known: list[tuple[NDArray[np.float64], float]] = []  # best told point, last batch's points
    last: tuple[Any, ...] = ()
    tracked = isinstance(strategy, BaseStrategy) and strategy.feedback == "values"

    def observe(points: NDArray[np.float64], vals: NDArray[np.float64], told: bool = False) -> None:
        nonlocal f_min, x_best
        fin = np.where(np.isfinite(vals), vals, np.inf)
        i = int(np.argmin(fin))
        if fin[i] < f_min:
            f_min, x_best = float(fin[i]), points[i]
        if told:
            if not known or fin[i] < known[0][1]:
                known[:1] = [(points[i], float(fin[i]))]
            del known[1:]
            known.append((points, vals))  # type: ignore[arg-type]

    try:
        while True:
            if budget.max_steps is not None and nit >= budget.max_steps:
                stop["max_steps"] = True
            if budget.max_seconds is not None and time.perf_counter() - t0 >= budget.max_seconds:
                stop["max_seconds"] = True
            if target is not None and f_min <= target:
                stop["target"] = True
            if budget.max_cost is not None and ledger.cost >= budget.max_cost:
                stop["max_cost"] = True
            if stop:
                break
            query, new_state = strategy.ask(state)
            n = query.points.shape[0]
            if max_q is not None and nfev + n > max_q - reserve:
                room = max_q - reserve - nfev
                if room > 0 and query.kind == "values":  # a truncated last batch: observed, not told
                    part = query.take(room)
                    observe(part.points, sign * answer(part, partial=True))
                    nfev += room
                stop["max_queries"] = True
                break
            if query.kind == "ranking" and value_oracle and not ev.own_rank:
                # rank by values here: the values are journaled, counted and observed
                vq = Query(query.points, query.key, "values", tag=query.tag)
                raw_vals = answer(vq)
                observe(query.points, raw_vals if sign > 0 else -raw_vals, told=True)
                raw = rank_by_values(raw_vals, query.groups, query.top, sense)
            else:
                failures = stats.failures
                raw = answer(query)
                # no new failure counted: every value is finite (record() counts non-finite ones)
                clean = jr is None and stats.failures == failures
            if query.kind == "values":
                vals = raw if sign > 0 else -raw
                if tracked:  # the strategy base tracks the best told point: read it after tell
                    last = (query.points, vals)
                else:
                    observe(query.points, vals, told=True)
                feedback: Values | Ranking = Values(vals, clean)
            else:
                feedback = Ranking(raw)
            state, metrics = strategy.tell(new_state, query, feedback)
            if tracked and state.f_best < f_min:
                f_min, x_best = state.f_best, state.x_best
            nit += 1
            nfev += n
            el = time.perf_counter() - t0
            trace.add(nit, nfev, sign * f_min, el, metrics)
            if keep_trace:
                trace.pairs.append((query, feedback))
            if jr is not None:
                jr.checkpoint(nit, {"step": nit, "nfev": nfev, "state": state, "f_best": f_min})
            if callbacks:
                info = StepInfo(nit, nfev, sign * f_min, x_best, metrics, el, state)
                if any([cb(info) is True for cb in callbacks]):
                    stop["callback"] = True
            if bar is not None:
                bar.update(nfev if unit == "points" else nit, sign * f_min)
    except KeyboardInterrupt:
        stop["interrupted"] = True

    x = np.array(strategy.recommend(state), dtype=np.float64)
    if tracked and last:
        known[:] = [(state.x_best, float(state.f_best)), last]
    fun = math.nan
    if value_oracle and not stop.get("interrupted"):
        seen = _known_value(x, x_best, f_min, known)
        if seen is not None:
            fun = seen
        else:
            q = Query(x[None, :], key.fold_in(_FINAL_KEY), "values", tag="final")
            v = sign * float(answer(q)[0])
            nfev += 1
            observe(q.points, np.array([v]))
            fun = v
    if jr is not None:
        jr.write_checkpoint({"step": nit, "nfev": nfev, "state": state, "f_best": f_min})
        jr.close()
    seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close(nfev if unit == "points" else nit, sign * f_min)
    msg = "; ".join(_MESSAGES[k] for k in stop) or "finished"
    return Result(
        x=x, fun=sign * fun if not math.isnan(fun) else math.nan,
        x_best=np.array(x_best),
        f_best=sign * f_min if value_oracle and math.isfinite(f_min) else math.nan,
        nfev=nfev, nit=nit, success=not stop.get("interrupted", False), message=msg,
        stop=stop, trace=trace, ledger=ledger, seed=key.seed, sense=sense, seconds=seconds,
        strategy=strategy_config(strategy)["name"],
    )


def _known_value(x: NDArray[np.float64], x_best: NDArray[np.float64], f_min: float,
                 known: list[Any]) -> float | None:
    """The value of ``x`` if it was evaluated as the best point or in the last told batch."""
    if np.isfinite(f_min) and np.array_equal(x, x_best):
        return f_min
    if known:
        if np.array_equal(x, known[0][0]) and np.isfinite(known[0][1]):
            return float(known[0][1])
        pts, vals = known[-1]
        hit = np.flatnonzero(np.all(pts == x, axis=1))
        if hit.size and np.isfinite(vals[hit[0]]):
            return float(vals[hit[0]])
    return None


_MESSAGES = {
    "max_queries": "query budget reached",
    "max_steps": "step budget reached",
    "max_seconds": "time budget reached",
    "target": "target value reached",
    "max_cost": "cost budget reached",
    "callback": "stopped by a callback",
    "interrupted": "interrupted (KeyboardInterrupt)",
}


def _isatty() -> bool:
    import sys

    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def replay(strategy: Any, trace: Trace) -> Any:
    """Re-run ``strategy`` on a recorded trace and return its final state.

    Every query the strategy asks must equal the recorded one (same points), so a trace replays a
    run exactly, human answers included; ``strategy.recommend(replay(s, trace))`` equals the
    original run's recommendation.

    Raises:
        JournalMismatchError: the strategy asks for other points than the trace holds.
    """
    strategy = resolve_strategy(strategy)
    if trace.x0 is None or trace.seed is None:
        raise ConfigError("trace has no x0/seed; record it with minimize(..., keep_trace=True)")
    state = strategy.init(trace.x0, trace.seed)
    for i, (query, feedback) in enumerate(trace.pairs):
        q, state = strategy.ask(state)
        if q.points.shape != query.points.shape or not np.array_equal(q.points, query.points):
            raise JournalMismatchError(f"replay diverges at step {i}: the strategy asked other points")
        state, _ = strategy.tell(state, q, feedback)
    return state
