"""Budgets and the query ledger.

:class:`Budget` bounds a run by points evaluated (``max_queries``), strategy steps, wall-clock
seconds, a target value (in the oracle's sense) and cost. ``max_queries`` counts *points*, not
batches, and is never exceeded: a last batch that does not fit is truncated (its points still
count towards the best observed value) or not sent.

:class:`Ledger` keeps one :class:`OracleStats` per oracle: queries sent, points evaluated,
failures (non-finite values, failed requests), retries, cache hits, latency, and for model APIs
prompt/completion tokens and cost.

The stop rules are pure functions of a budget and the run's :class:`Counters`:
:func:`stop_reasons` (which limits are reached) and :func:`room` (how many more points may be
sent), so the runner's loop only keeps the counters up to date.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from blackbox.errors import ConfigError

__all__ = ["Budget", "Counters", "Ledger", "OracleStats", "room", "stop_reasons"]


def _check_limit(name: str, value: Any, integer: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"Budget.{name} must be a number > 0 or None, got {value!r}")
    if integer and (float(value) != int(value) or math.isinf(value)):
        raise ConfigError(f"Budget.{name} must be a whole number, got {value!r}")
    if not value > 0 or math.isnan(value):
        raise ConfigError(f"Budget.{name} must be > 0, got {value!r}")
    return int(value) if integer else float(value)


@dataclass(frozen=True)
class Budget:
    """Stopping limits; a run stops at the first one reached.

    Args:
        max_queries: points evaluated (never exceeded).
        max_steps: strategy steps (ask/tell rounds).
        max_seconds: wall-clock seconds (checked between batches).
        target: stop once the best observed value reaches it (``<=`` for min, ``>=`` for max).
        max_cost: stop once the ledger's total cost reaches it.
    """

    max_queries: int | None = None
    max_steps: int | None = None
    max_seconds: float | None = None
    target: float | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_queries", _check_limit("max_queries", self.max_queries, True))
        object.__setattr__(self, "max_steps", _check_limit("max_steps", self.max_steps, True))
        object.__setattr__(self, "max_seconds", _check_limit("max_seconds", self.max_seconds, False))
        object.__setattr__(self, "max_cost", _check_limit("max_cost", self.max_cost, False))
        if self.target is not None:
            if isinstance(self.target, bool) or not isinstance(self.target, (int, float)) or math.isnan(self.target):
                raise ConfigError(f"Budget.target must be a number or None, got {self.target!r}")
            object.__setattr__(self, "target", float(self.target))
        if all(getattr(self, f.name) is None for f in fields(self) if f.name != "target"):
            raise ConfigError(
                "Budget needs at least one of max_queries, max_steps, max_seconds or max_cost"
            )

    @classmethod
    def coerce(cls, budget: Any) -> Budget:
        """Accept a Budget, an int (``max_queries``) or a dict of fields."""
        if isinstance(budget, Budget):
            return budget
        if isinstance(budget, dict):
            try:
                return cls(**budget)
            except TypeError as exc:
                raise ConfigError(f"bad budget field: {exc}") from None
        if isinstance(budget, (int, float)) and not isinstance(budget, bool):
            return cls(max_queries=budget)  # type: ignore[arg-type]
        raise ConfigError(f"budget must be a Budget, an int (max_queries) or a dict; got {budget!r}")


@dataclass(slots=True)
class Counters:
    """What a run has spent so far, in the terms of :class:`Budget`.

    Attributes:
        nit: strategy steps (told queries).
        nfev: points evaluated.
        seconds: wall-clock seconds since the run started.
        cost: the ledger's total cost.

    (The best value observed, the other thing a budget can stop on, is owned by
    :class:`~blackbox.best.Best` and passed to :func:`stop_reasons` beside the counters.)
    """

    nit: int = 0
    nfev: int = 0
    seconds: float = 0.0
    cost: float = 0.0


def stop_reasons(budget: Budget, c: Counters, f_best: float = math.inf,
                 sign: float = 1.0) -> dict[str, bool]:
    """The limits of ``budget`` that ``c`` and ``f_best`` (the best value observed, minimizing
    sense) have reached; empty: go on. ``budget.target`` is in the oracle's sense, so ``sign`` is
    ``-1`` for an oracle with ``sense="max"``.

    Examples:
        >>> stop_reasons(Budget(max_steps=3, target=0.5), Counters(nit=3), f_best=0.4)
        {'max_steps': True, 'target': True}
        >>> stop_reasons(Budget(max_queries=10), Counters(nfev=10))  # see room(): never exceeded
        {}
    """
    out = {}
    if budget.max_steps is not None and c.nit >= budget.max_steps:
        out["max_steps"] = True
    if budget.max_seconds is not None and c.seconds >= budget.max_seconds:
        out["max_seconds"] = True
    if budget.target is not None and f_best <= sign * budget.target:
        out["target"] = True
    if budget.max_cost is not None and c.cost >= budget.max_cost:
        out["max_cost"] = True
    return out


def room(budget: Budget, c: Counters, reserve: int = 0) -> int | None:
    """How many more points may be evaluated (``None``: no point limit), keeping ``reserve``
    points for the final evaluation of the recommendation.

    Examples:
        >>> room(Budget(max_queries=100), Counters(nfev=90), reserve=1)
        9
    """
    if budget.max_queries is None:
        return None
    return budget.max_queries - reserve - c.nfev


@dataclass
class OracleStats:
    """Counters for one oracle (all monotone)."""

    queries: int = 0
    points: int = 0
    failures: int = 0
    retries: int = 0
    cache_hits: int = 0
    replayed: int = 0
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    requests: int = 0

    def add(self, **deltas: float) -> None:
        for k, v in deltas.items():
            setattr(self, k, getattr(self, k) + v)

    def merge(self, other: OracleStats | dict[str, Any]) -> None:
        d = other if isinstance(other, dict) else asdict(other)
        self.add(**{k: v for k, v in d.items() if v})


@dataclass
class Ledger:
    """Per-oracle :class:`OracleStats`, safe to update from several threads."""

    oracles: dict[str, OracleStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def entry(self, name: str) -> OracleStats:
        with self._lock:
            if name not in self.oracles:
                self.oracles[name] = OracleStats()
            return self.oracles[name]

    def total(self, counter: str) -> float:
        return sum(getattr(s, counter) for s in self.oracles.values())

    @property
    def cost(self) -> float:
        return float(self.total("cost"))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: asdict(s) for name, s in self.oracles.items()}

    def __getstate__(self) -> dict[str, Any]:
        return {"oracles": self.oracles}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.oracles = st["oracles"]
        self._lock = threading.Lock()

    def summary(self) -> str:
        rows = []
        for name, s in self.oracles.items():
            extra = ""
            if s.prompt_tokens or s.completion_tokens:
                extra = f", tokens {s.prompt_tokens}+{s.completion_tokens}, cost {s.cost:.4g}"
            rows.append(
                f"{name}: {s.points} points in {s.queries} queries, {s.failures} failures, "
                f"{s.retries} retries, {s.cache_hits} cache hits, {s.replayed} replayed, "
                f"{s.latency_s:.3g}s in oracle{extra}"
            )
        return "\n".join(rows)
