"""A stateful ask/tell wrapper for users who drive the loop themselves.

Examples:
    >>> from blackbox import Optimizer
    >>> from oracles.functions import Sphere
    >>> f = Sphere(dim=3)
    >>> opt = Optimizer("zo_sgd", x0=[1.0, 1.0, 1.0], seed=0)
    >>> for _ in range(100):
    ...     q = opt.ask()
    ...     _ = opt.tell(q, f.values(q.points, key=q.key))
    >>> float(f.values(opt.recommend()[None], key=q.key)[0]) < 3.0
    True
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.keys import Key, as_key
from blackbox.query import Feedback, Query, Ranking, Values
from blackbox.strategy import resolve_strategy, strategy_config

__all__ = ["Optimizer"]


class Optimizer:
    """``opt.ask()``, ``opt.tell(query, feedback)``, ``opt.recommend()``, ``state_dict()``.

    Args:
        strategy: a strategy instance, a registered name, or ``{"name": ..., **options}``.
        x0: the initial point ``(d,)``.
        seed: an int or :class:`~blackbox.keys.Key`; all randomness derives from it.
        space: optional feasible set applied to the strategy.
        sense: ``"min"`` (default) or ``"max"``: with ``"max"`` told values are negated once.
    """

    def __init__(
        self, strategy: Any, x0: Any, *, seed: int | Key = 0, space: Any = None, sense: str = "min"
    ) -> None:
        if sense not in ("min", "max"):
            raise ConfigError(f"sense must be 'min' or 'max', got {sense!r}")
        self.strategy = resolve_strategy(strategy, space)
        self.sense = sense
        self.key = as_key(seed)
        self.state = self.strategy.init(x0, self.key)

    def ask(self) -> Query:
        query, self.state = self.strategy.ask(self.state)
        return query

    def tell(self, query: Query, feedback: Feedback | Any) -> dict[str, Any]:
        """Tell the answer to ``query``: ``Values``, ``Ranking``, or a raw array."""
        if not isinstance(feedback, (Values, Ranking)):
            arr = np.asarray(feedback)
            feedback = Ranking(arr) if query.kind == "ranking" else Values(arr)
        if isinstance(feedback, Values):
            vals = np.asarray(feedback.values, dtype=np.float64)
            if vals.size and not np.isfinite(vals).any():
                warnings.warn(f"Optimizer.tell: all {vals.size} values are NaN or inf (failed "
                              "evaluations); the strategy learns nothing from them",
                              RuntimeWarning, stacklevel=2)
            if self.sense == "max":
                feedback = Values(-vals)
        self.state, metrics = self.strategy.tell(self.state, query, feedback)
        return metrics

    def recommend(self) -> NDArray[np.float64]:
        return np.array(self.strategy.recommend(self.state))

    @property
    def f_best(self) -> float:
        f = float(self.state.f_best)
        return -f if self.sense == "max" else f

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue later (picklable): config, sense and a state copy."""
        return {
            "strategy": strategy_config(self.strategy),
            "sense": self.sense,
            "state": copy.deepcopy(self.state),
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        if sd.get("strategy") != strategy_config(self.strategy):
            raise ConfigError("state_dict was saved from a different strategy configuration")
        self.sense = sd["sense"]
        self.state = copy.deepcopy(sd["state"])
