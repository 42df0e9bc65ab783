"""The runner: :func:`minimize` drives a strategy against an oracle; :func:`replay` re-runs a trace.

``minimize`` builds an evaluator (in-process, or on Ray actors; wrapped by a journaled evaluator
that replays answered queries when a journal is given) and runs one loop (:func:`_loop`)::

    ask -> fit to the budget -> evaluate -> tell -> notify the observers

Stop rules are pure functions of the budget and the counters (:mod:`blackbox.budget`); the best
point has one owner (:class:`~blackbox.best.Best`); the trace, the progress bar and user
callbacks observe one :class:`~blackbox.observers.StepInfo` per step. A ``sense="max"`` oracle's
values are turned around once, when they arrive: strategies always minimize, while
:class:`Result` and the trace report in the oracle's sense.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from blackbox.best import Best
from blackbox.budget import Budget, Counters, Ledger, room, stop_reasons
from blackbox.errors import ConfigError, FeedbackError, JournalMismatchError
from blackbox.evaluate import make_evaluator
from blackbox.journal import Journal, JournaledEvaluator, points_digest
from blackbox.keys import Key, as_key
from blackbox.observers import (Observer, ProgressObserver, StepInfo, TraceRecorder, close_all,
                                notify)
from blackbox.oracle import as_oracle, rank_by_values
from blackbox.query import Feedback, Query, Ranking, Values
from blackbox.result import Result, Trace
from blackbox.spaces import as_space
from blackbox.strategy import check_x0, resolve_strategy, strategy_config

__all__ = ["StepInfo", "minimize", "replay"]

_FINAL_KEY = 1 << 62  # the key path of the final evaluation of the recommendation


def minimize(oracle: Any, strategy: Any = None, x0: Any = None, *, seed: int | Key = 0,
             budget: Budget | int | dict[str, Any] | None = None, space: Any = None,
             callbacks: Sequence[Callable[[StepInfo], Any]] = (), backend: str = "local",
             workers: int = 1, resources_per_worker: dict[str, float] | None = None,
             address: str | None = None, journal: str | None = None, journal_points: bool = False,
             progress: bool | None = None, keep_trace: bool = True, batched: bool = False,
             checkpoint_every: int | None = None) -> Result:
    """Minimize (or maximize, per ``oracle.sense``) a black-box oracle with a strategy.

    Args:
        oracle: a value or ranking oracle, an :class:`~blackbox.oracle.OracleSpec`, or a plain
            function: ``f(x) -> float`` called per point, or ``f(X) -> (n,)`` with
            ``batched=True``; its dimension is ``len(x0)``.
        strategy: a strategy, a registered name (``"cbo"``) or ``{"name": ..., **options}``.
        x0: the initial point ``(dim,)``; optional when ``space`` is bounded (its center).
        seed: the run's seed; every random draw derives from it.
        budget: a :class:`Budget`, an int (``max_queries``) or a dict of Budget fields.
        space: a feasible set; every point sent to the oracle lies in it.
        callbacks: called with a :class:`StepInfo` after each step; ``True`` stops the run.
        backend: ``"local"`` (in-process) or ``"ray"`` (batches split over ``workers`` actors).
        journal: a directory: every answer is journaled there; if it already holds a journal
            of the same run, the run resumes (answered queries are replayed, not re-sent).
        journal_points: also journal every query's points (for audit; larger files).
        progress: show a progress bar (default: when stderr is a terminal).
        keep_trace: keep every ``(query, feedback)`` pair in ``result.trace.pairs``.
        checkpoint_every: deprecated and ignored (a resume replays the journal).

    Raises:
        ConfigError: bad input (the message names the field), raised before any query is sent.
        FeedbackError: a ranking-only oracle with a value strategy (before any query is sent).
    """
    t0 = time.perf_counter()
    budget, key = _check_call(strategy, x0, budget, seed, checkpoint_every)
    ev = make_evaluator(as_oracle(oracle, x0, space, batched), backend, workers,
                        resources_per_worker, address)
    try:
        run = _prepare(ev, strategy, x0, key, budget, space, t0)
        if journal is not None:
            ev = JournaledEvaluator(ev, Journal(journal, _header(run, ev), journal_points))
            run.journaled = True
        run.observers = _observers(run, callbacks, progress, keep_trace)
        state, stop = _loop(run, ev)
        return _finish(run, ev, state, stop)
    finally:
        ev.close()


@dataclass
class _Run:
    """What the loop needs, fixed before the first query (plus the counters it updates)."""

    strategy: Any
    x0: Any
    key: Key
    budget: Budget
    sign: float  # -1.0 for a sense="max" oracle: values are told negated
    value_oracle: bool  # the oracle gives values (so a final evaluation is possible)
    t0: float
    ledger: Ledger
    trace: Trace
    best: Best
    counters: Counters = field(default_factory=Counters)
    journaled: bool = False
    observers: list[Observer] = field(default_factory=list)


def _loop(run: _Run, ev: Any) -> tuple[Any, dict[str, bool]]:
    """ask -> fit to the budget -> evaluate -> tell -> notify; the last state and why it stopped."""
    budget, best, c, observers, sign = run.budget, run.best, run.counters, run.observers, run.sign
    ask, tell, clock, t0 = run.strategy.ask, run.strategy.tell, time.perf_counter, run.t0
    reserve = 1 if run.value_oracle else 0  # one point kept for the final evaluation
    cost = budget.max_cost is not None
    state = run.strategy.init(run.x0, run.key)
    try:
        while True:
            c.seconds = clock() - t0
            stop = stop_reasons(budget, c, best.f, sign)
            if stop:
                return state, stop
            query, asked = ask(state)
            n = query.points.shape[0]
            left = room(budget, c, reserve)
            if left is not None and n > left:
                _spend_rest(run, ev, query, left)
                return state, {"max_queries": True}
            feedback = _answer(run, ev, query)
            state, metrics = tell(asked, query, feedback)
            c.nit += 1
            c.nfev += n
            if cost:
                c.cost = run.ledger.cost
            info = StepInfo(c.nit, c.nfev, sign * best.f, best.x, metrics, clock() - t0, state,
                            query, feedback)
            if notify(observers, info):
                return state, {"callback": True}
    except KeyboardInterrupt:
        return state, {"interrupted": True}


def _answer(run: _Run, ev: Any, query: Query) -> Feedback:
    """Evaluate a query that will be told; every value reaches the best point's owner."""
    if query.kind == "ranking":
        if not run.value_oracle or ev.own_rank:
            return Ranking(ev.evaluate(query))
        # rank by values here, so the values are journaled, counted and observed
        raw = ev.evaluate(Query(query.points, query.key, "values", tag=query.tag))
        run.best.observe(query.points, raw if run.sign > 0 else -raw)
        return Ranking(rank_by_values(raw, query.groups, query.top, ev.sense))
    stats = ev.stats
    failures = stats.failures
    raw = ev.evaluate(query)
    # no new failure counted: every value is finite (record() counts non-finite ones)
    clean = stats.failures == failures and not run.journaled
    vals = raw if run.sign > 0 else -raw
    return Values(vals, clean, run.best.observe(query.points, vals, clean=clean))


def _spend_rest(run: _Run, ev: Any, query: Query, left: int) -> None:
    """A batch larger than the budget's room: its head is evaluated and observed, never told."""
    if left > 0 and query.kind == "values":
        part = query.take(left)
        run.best.observe(part.points, run.sign * ev.evaluate(part), told=False)
        run.counters.nfev += left


def _finish(run: _Run, ev: Any, state: Any, stop: dict[str, bool]) -> Result:
    """The recommendation, its value (evaluated once if never observed) and the :class:`Result`."""
    c, best, sign = run.counters, run.best, run.sign
    x = np.array(run.strategy.recommend(state), dtype=np.float64)
    fun = math.nan
    if run.value_oracle and not stop.get("interrupted"):
        seen = best.value_at(x)
        fun = seen if seen is not None else _evaluate_final(run, ev, x)
    c.seconds = time.perf_counter() - run.t0
    close_all(run.observers, StepInfo(c.nit, c.nfev, sign * best.f, best.x, {}, c.seconds, state))
    failed = best.seen > 0 and math.isinf(best.f)
    message = "; ".join(_MESSAGES[k] for k in stop) or "finished"
    if failed:
        message = (f"every evaluation failed: the oracle returned NaN or inf for all {best.seen} "
                   f"points (stopped: {message})")
    return Result(
        x=x, fun=sign * fun, x_best=np.array(best.x),
        f_best=sign * best.f if run.value_oracle and math.isfinite(best.f) else math.nan,
        nfev=c.nfev, nit=c.nit, success=not (failed or stop.get("interrupted", False)),
        message=message, stop=stop, trace=run.trace, ledger=run.ledger, seed=run.key.seed,
        sense=ev.sense, seconds=c.seconds, strategy=strategy_config(run.strategy)["name"],
    )


def _evaluate_final(run: _Run, ev: Any, x: Any) -> float:
    q = Query(x[None, :], run.key.fold_in(_FINAL_KEY), "values", tag="final")
    v = run.sign * float(ev.evaluate(q)[0])
    run.counters.nfev += 1
    run.best.observe(q.points, np.array([v]), told=False)
    return v


_MESSAGES = {
    "max_queries": "query budget reached",
    "max_steps": "step budget reached",
    "max_seconds": "time budget reached",
    "target": "target value reached",
    "max_cost": "cost budget reached",
    "callback": "stopped by a callback",
    "interrupted": "interrupted (KeyboardInterrupt)",
}


# -- set-up: everything checked before the first query ---------------------------------------------
def _check_call(strategy: Any, x0: Any, budget: Any, seed: Any, checkpoint_every: Any
                ) -> tuple[Budget, Key]:
    if strategy is None:
        raise ConfigError("strategy is required: a name such as 'zo_sgd' or 'cbo', a dict with "
                          "'name', or a strategy object")
    if x0 is None and isinstance(strategy, (list, tuple, np.ndarray)):
        raise ConfigError("minimize(oracle, strategy, x0): the second argument is the strategy "
                          "(e.g. 'zo_sgd'), got an array; pass the initial point as x0=...")
    if budget is None:
        raise ConfigError("budget is required: Budget(max_queries=...), an int, or a dict")
    if checkpoint_every is not None:
        warnings.warn("minimize(checkpoint_every=...) is deprecated and ignored: checkpoints were "
                      "removed, a resume replays the journal", DeprecationWarning, stacklevel=3)
    return Budget.coerce(budget), as_key(seed)


def _prepare(ev: Any, strategy: Any, x0: Any, key: Key, budget: Budget, space: Any,
             t0: float) -> _Run:
    """Resolve and check the strategy against the evaluator; the run's fixed parts."""
    space = as_space(space, ev.dim)
    strategy = resolve_strategy(strategy, space)
    name = type(strategy).__name__
    if getattr(strategy, "requires_space", False) and getattr(strategy, "space", None) is None:
        raise ConfigError(f"strategy {name} requires a space (Box, Ball, Simplex)")
    want = getattr(strategy, "feedback", "values")
    if want == "values" and not ev.can_value:
        raise FeedbackError(f"strategy {name} needs values but oracle {ev.name!r} can only rank; "
                            "use a ranking strategy such as 'zo_ranksgd'")
    if want == "ranking" and not ev.can_rank:
        raise FeedbackError(f"oracle {ev.name!r} can neither rank nor give values")
    x0 = check_x0(_initial_point(x0, getattr(strategy, "space", None)), ev.dim)
    ledger = Ledger()
    ledger.oracles[ev.name] = ev.stats
    return _Run(strategy, x0, key, budget, -1.0 if ev.sense == "max" else 1.0, ev.can_value, t0,
                ledger, Trace(x0=x0, seed=key), Best(x0))


def _initial_point(x0: Any, space: Any) -> Any:
    if x0 is not None:
        return x0
    if space is not None and getattr(space, "bounded", False):
        center = getattr(space, "center", None)
        return center() if callable(center) else np.asarray(center, dtype=np.float64)
    raise ConfigError("x0 is required (a vector of length dim) unless a bounded space is given")


def _header(run: _Run, ev: Any) -> dict[str, Any]:
    """What identifies a run in its journal."""
    return {"seed": run.key.to_json(), "strategy": strategy_config(run.strategy),
            "oracle": {"name": ev.name, "dim": ev.dim, "sense": ev.sense},
            "x0": points_digest(run.x0)}


def _observers(run: _Run, callbacks: Sequence[Callable[[StepInfo], Any]], progress: bool | None,
               keep_trace: bool) -> list[Observer]:
    """The trace first, then the progress bar (when shown), then the user's callbacks."""
    out: list[Observer] = [TraceRecorder(run.trace, keep_trace)]
    if progress if progress is not None else _isatty():
        b = run.budget
        out.append(ProgressObserver(*((b.max_queries, "points") if b.max_queries
                                      else (b.max_steps, "steps"))))
    return out + list(callbacks)


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
