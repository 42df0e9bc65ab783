"""No budget is ever exceeded, for batch sizes that do not divide it (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blackbox import STRATEGIES, Box, Budget, minimize
from oracles.functions import Sphere


class Counter:
    def __init__(self, dim):
        self.dim, self.sense, self.name, self.points = dim, "min", "counter", 0

    def values(self, points, *, key):
        self.points += len(points)
        return np.sum(points**2, axis=1)


@settings(max_examples=40, deadline=None)
@given(popsize=st.integers(1, 17), max_queries=st.integers(1, 200), dim=st.integers(1, 5))
def test_random_search_never_exceeds_max_queries(popsize, max_queries, dim):
    f = Counter(dim)
    res = minimize(f, {"name": "random_search", "popsize": popsize}, np.ones(dim),
                   budget=max_queries, progress=False)
    assert f.points == res.nfev <= max_queries
    assert res.stop.get("max_queries") or res.nfev == max_queries
    # the whole budget is used: truncated batches are still evaluated
    assert res.nfev >= max_queries - 1


@pytest.mark.parametrize("name", STRATEGIES.names())
@settings(max_examples=8, deadline=None)
@given(max_queries=st.integers(1, 97), seed=st.integers(0, 3))
def test_no_strategy_exceeds_max_queries(name, max_queries, seed):
    f = Counter(4)
    cls = STRATEGIES.get(name)
    s = cls(space=Box(-5, 5, dim=4)) if getattr(cls, "requires_space", False) else cls()
    res = minimize(f, s, np.ones(4), seed=seed, budget=Budget(max_queries=max_queries),
                   progress=False)
    assert f.points == res.nfev <= max_queries


@settings(max_examples=20, deadline=None)
@given(max_steps=st.integers(1, 30))
def test_max_steps_is_exact(max_steps):
    res = minimize(Sphere(dim=3), "random_search", np.ones(3), budget=Budget(max_steps=max_steps),
                   progress=False)
    assert res.nit == max_steps and res.stop == {"max_steps": True}
