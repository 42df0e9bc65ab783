"""Gaussian random search around the best point: the simplest baseline strategy.

Each step samples ``popsize`` points ``x_best + sigma * N(0, I)`` and moves to the best point seen.
It exists as a reference for the strategy template and as a sanity baseline.

References:
    Rastrigin, "The convergence of the random search method in the extremal control of a many
    parameter system", Automation and Remote Control 24, 1963.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from blackbox.keys import Key
from blackbox.options import Range, option
from blackbox.query import Query
from blackbox.registry import register_strategy
from blackbox.strategy import BaseStrategy, StrategyState

__all__ = ["RandomSearch"]


@dataclass(frozen=True, eq=False)
class RandomSearchState(StrategyState):
    pass


@register_strategy("random_search")
@dataclass(frozen=True)
class RandomSearch(BaseStrategy[RandomSearchState]):
    """Sample ``popsize`` Gaussian points around the best so far; keep the best.

    Args:
        popsize: points per step (default 10).
        sigma: sampling standard deviation (default 0.1).
    """

    paper: ClassVar[str] = "Rastrigin, Automation and Remote Control 24, 1963"

    popsize: int = option(10, Range(1, integer=True), "points per step")
    sigma: float = option(0.1, Range(0, None, lo_open=True), "sampling standard deviation",
                          paper="sigma")

    def _init(self, x0: np.ndarray, key: Key) -> RandomSearchState:
        return RandomSearchState(**self._base_fields(x0, key))

    def _ask(self, state: RandomSearchState, key: Key) -> tuple[Query, dict[str, Any]]:
        z = key.numpy().standard_normal((self.popsize, state.x.shape[0]))
        return self._query(state.x + self.sigma * z, key), {}

    def _tell(self, state: RandomSearchState, query: Query, values: np.ndarray) -> Any:
        i = int(np.argmin(values))
        if values[i] < state.f_best:
            return {"x": query.points[i].copy()}, {}
        return {}, {}
