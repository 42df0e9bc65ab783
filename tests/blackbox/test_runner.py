"""The runner: sense, stops, callbacks, final evaluation, failures, and errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox import Budget, OracleSpec, minimize
from blackbox.errors import (
    ConfigError,
    DimensionError,
    FeedbackError,
    OracleShapeError,
    UnknownNameError,
)
from blackbox.runner import StepInfo
from oracles.functions import Sphere


class Reward:
    """A maximization oracle: ``10 - ||x||^2``."""

    dim, sense, name = 4, "max", "reward"

    def values(self, points, *, key):
        return 10.0 - np.sum(points**2, axis=1)


def test_max_sense_is_reported_in_the_users_sense():
    res = minimize(Reward(), "random_search", np.ones(4), budget=2000, progress=False)
    assert res.sense == "max"
    assert 9.9 < res.f_best <= 10.0 and res.fun <= res.f_best
    assert res.trace.history[-1]["f_best"] == res.f_best
    # the history is monotone non-decreasing for a max oracle
    fb = res.trace.column("f_best")
    assert np.all(np.diff(fb) >= 0)


def test_target_stops_in_the_users_sense():
    res = minimize(Reward(), "random_search", np.ones(4), budget=Budget(max_queries=10**6, target=9.0),
                   progress=False)
    assert res.stop == {"target": True} and res.f_best >= 9.0
    res = minimize(Sphere(dim=4), "random_search", np.ones(4),
                   budget=Budget(max_queries=10**6, target=0.5), progress=False)
    assert res.stop == {"target": True} and res.f_best <= 0.5


def test_callback_sees_steps_and_can_stop():
    seen: list[StepInfo] = []

    def cb(info):
        seen.append(info)
        return info.step == 5

    res = minimize(Sphere(dim=3), "random_search", np.ones(3), budget=1000, callbacks=[cb],
                   progress=False)
    assert [i.step for i in seen] == [1, 2, 3, 4, 5]
    assert res.stop == {"callback": True} and res.nit == 5 and seen[-1].nfev == 50


def test_recommendation_is_evaluated_within_budget():
    class Counting(Sphere):
        calls = 0

        def values(self, points, *, key=None):
            Counting.calls += len(points)
            return super().values(points, key=key)

    # RandomSearch recommends its best told point: known, so no extra evaluation is needed
    res = minimize(Counting(dim=3), "random_search", np.ones(3), budget=25, progress=False)
    assert Counting.calls == res.nfev == 24  # 2 batches of 10 + a truncated batch of 4
    assert res.fun >= res.f_best
    assert res.fun == Sphere(dim=3)(res.x)

    class Center:  # a strategy whose recommendation is never among the evaluated points
        feedback = "values"

        def init(self, x0, key):
            return {"x": np.asarray(x0, dtype=float), "k": key, "i": 0}

        def ask(self, state):
            from blackbox import Query

            q = Query(state["x"] + np.array([[0.1, 0, 0], [-0.1, 0, 0]]), state["k"].fold_in(state["i"]))
            return q, {**state, "i": state["i"] + 1}

        def tell(self, state, query, fb):
            return {**state, "x": query.points.mean(0) * 0.5}, {}

        def recommend(self, state):
            return state["x"]

    Counting.calls = 0
    res = minimize(Counting(dim=3), Center(), np.ones(3), budget=7, progress=False)
    assert Counting.calls == res.nfev == 7  # 3 batches of 2, then the final evaluation of x
    assert res.fun == Sphere(dim=3)(res.x) and res.stop == {"max_queries": True}


def test_nan_and_inf_are_failures_not_crashes():
    class Broken:
        dim, sense, name = 2, "min", "broken"

        def values(self, points, *, key):
            v = np.sum(points**2, axis=1)
            if len(v) > 1:
                v[0] = np.nan
                v[1] = -np.inf
            return v

    res = minimize(Broken(), "random_search", np.ones(2), budget=100, progress=False)
    assert res.ledger.oracles["broken"].failures == 2 * 10  # 9 full batches and a truncated one of 9
    assert np.isfinite(res.f_best) and res.f_best >= 0


def test_failed_values_reach_the_strategy_as_inf_with_their_count():
    """The runner tells a strategy 'all finite' only when the ledger counted no new failure."""

    class Flaky:
        dim, sense, name = 3, "min", "flaky"
        calls = 0

        def values(self, points, *, key):
            Flaky.calls += 1
            v = np.sum(points**2, axis=1)
            if len(v) > 1 and Flaky.calls % 3 == 0:
                v[1] = np.nan
            return v

    res = minimize(Flaky(), {"name": "zo_sgd", "update": "sgd", "lr": 0.05}, np.ones(3),
                   budget=Budget(max_steps=30), progress=False)
    told = res.trace.column("failures")
    assert np.nansum(told) == res.ledger.oracles["flaky"].failures == 10
    assert np.all(np.isfinite(res.x)) and res.fun < 3.0


def test_progress_bar_writes_to_stderr(capsys):
    minimize(Sphere(dim=2), "random_search", np.ones(2), budget=50, progress=True)
    err = capsys.readouterr().err
    assert "/50 points" in err and "best" in err and err.endswith("\n")


# --- bad input -----------------------------------------------------------------------------------


def test_wrong_dimension_of_x0():
    with pytest.raises(DimensionError, match="x0 has dimension 3 but the oracle has dim=4"):
        minimize(Sphere(dim=4), "random_search", np.ones(3), budget=10)


def test_nan_in_x0():
    with pytest.raises(ConfigError, match=r"x0 must be finite; x0\[1\] = nan"):
        minimize(Sphere(dim=2), "random_search", [1.0, np.nan], budget=10)


@pytest.mark.parametrize("bad", [0, -5, {"max_queries": 0}, {"max_seconds": -1.0}])
def test_budget_must_be_positive(bad):
    with pytest.raises(ConfigError, match=r"Budget\.max_\w+ must be > 0"):
        minimize(Sphere(dim=2), "random_search", np.ones(2), budget=bad)


def test_budget_required_and_needs_a_limit():
    with pytest.raises(ConfigError, match="budget is required"):
        minimize(Sphere(dim=2), "random_search", np.ones(2))
    with pytest.raises(ConfigError, match="at least one of max_queries"):
        Budget(target=1.0)
    with pytest.raises(ConfigError, match="Budget.max_queries must be a whole number"):
        Budget(max_queries=2.5)


def test_unknown_strategy_name_lists_known_names():
    with pytest.raises(UnknownNameError, match=r"unknown strategy 'zo_sdg'; known strategy names: .*random_search"):
        minimize(Sphere(dim=2), "zo_sdg", np.ones(2), budget=10)


def test_unknown_oracle_name():
    with pytest.raises(UnknownNameError, match="unknown oracle 'spere'"):
        minimize(OracleSpec("spere", {"dim": 2}), "random_search", np.ones(2), budget=10)


def test_bad_strategy_option_names_the_options():
    with pytest.raises(ConfigError, match="strategy 'random_search'.*popsize"):
        minimize(Sphere(dim=2), {"name": "random_search", "pop": 3}, np.ones(2), budget=10)
    with pytest.raises(ConfigError, match="RandomSearch.popsize must be an int >= 1"):
        minimize(Sphere(dim=2), {"name": "random_search", "popsize": 0}, np.ones(2), budget=10)


def test_oracle_answering_the_wrong_shape():
    class Wrong:
        dim, sense, name = 2, "min", "wrong"

        def values(self, points, *, key):
            return np.zeros(len(points) + 1)

    with pytest.raises(OracleShapeError, match=r"oracle 'wrong' returned values of shape \(11,\) "
                       r"for a batch of 10 points; expected shape \(10,\)"):
        minimize(Wrong(), "random_search", np.ones(2), budget=100)


def test_ranking_only_oracle_with_value_strategy_fails_before_any_query():
    class Judge:
        dim, sense, name = 2, "min", "judge"
        calls = 0

        def rank(self, points, groups, *, top, key):
            Judge.calls += 1
            return groups[:, :top]

    with pytest.raises(FeedbackError, match="needs values but oracle 'judge' can only rank"):
        minimize(Judge(), "random_search", np.ones(2), budget=100)
    assert Judge.calls == 0


def test_bad_sense_and_backend():
    class Odd:
        dim, sense = 2, "maximize"

        def values(self, points, *, key):
            return np.zeros(len(points))

    with pytest.raises(ConfigError, match="oracle.sense must be 'min' or 'max'"):
        minimize(Odd(), "random_search", np.ones(2), budget=10)
    with pytest.raises(ConfigError, match="backend must be 'local' or 'ray'"):
        minimize(Sphere(dim=2), "random_search", np.ones(2), budget=10, backend="dask")


def test_x0_required_without_a_bounded_space():
    with pytest.raises(ConfigError, match="x0 is required"):
        minimize(Sphere(dim=2), "random_search", budget=10)
