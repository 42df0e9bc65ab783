"""The nevergrad strategy: same candidates as nevergrad itself, purity, replay, bounds, names."""

from __future__ import annotations

import numpy as np
import pytest

ng = pytest.importorskip("nevergrad")

from blackbox import Ball, Box, Key, minimize, replay  # noqa: E402
from blackbox.errors import ConfigError  # noqa: E402
from oracles.functions import Rosenbrock, Sphere  # noqa: E402
from strategies import nevergrad as ngmod  # noqa: E402
from strategies.nevergrad import Nevergrad  # noqa: E402


def run(s, f, x0, key, steps):
    state, queries = s.init(x0, key), []
    for _ in range(steps):
        q, state = s.ask(state)
        state, _ = s.tell(state, q, f.values(q.points, key=q.key))
        queries.append(q.points)
    return state, queries


def test_defaults_and_bad_options():
    s = Nevergrad()
    assert (s.optimizer, s.num_workers, s.budget) == ("NGOpt", 10, None)
    with pytest.raises(ConfigError, match="num_workers"):
        Nevergrad(num_workers=0)
    with pytest.raises(ConfigError, match="budget"):
        Nevergrad(budget=-5)
    with pytest.raises(ConfigError, match="options"):
        Nevergrad(options=[1, 2])
    bad = Nevergrad(optimizer="CMA", options={"sigma0": 2.0})  # checked when nevergrad builds
    with pytest.raises(ConfigError, match="Nevergrad.options .*'sigma0'.* refused by CMA"):
        bad.ask(bad.init(np.zeros(2), 0))


def test_unknown_optimizer_lists_close_matches():
    with pytest.raises(ConfigError, match=r"'NGOptt'.*close matches: .*NGOpt"):
        Nevergrad(optimizer="NGOptt")
    with pytest.raises(ConfigError, match=r"close matches: .*\bCMA\b"):
        Nevergrad(optimizer="cma")  # names are case-sensitive; the hint is not


@pytest.mark.parametrize("name", ["NGOpt", "CMA", "DE", "PSO"])
def test_same_candidates_and_recommendation_as_plain_nevergrad(name):
    d, k, steps = 4, 5, 6
    box = Box(-5.0, 5.0, dim=d)
    f = Sphere(dim=d, shift=0.5)
    s = Nevergrad(optimizer=name, num_workers=k, space=box)
    state, queries = run(s, f, np.ones(d), Key(11), steps)

    param = ng.p.Array(init=np.ones(d)).set_bounds(box.lower, box.upper)
    param.random_state = np.random.RandomState(Key(11).integer() % 2**32)
    opt = ng.optimizers.registry[name](parametrization=param, budget=1000 * d, num_workers=k)
    for pts in queries:
        cands = [opt.ask() for _ in range(k)]
        np.testing.assert_array_equal(np.array([c.value for c in cands]), pts)
        for c in cands:
            opt.tell(c, float(f.values(c.value[None], key=None)[0]))
    np.testing.assert_array_equal(s.recommend(state), opt.provide_recommendation().value)
    assert state.nfev == k * steps and len(state.events) == 2 * steps


@pytest.mark.parametrize("name, budget, bar", [("NGOpt", 2000, 1e-6), ("CMA", 2000, 1e-6),
                                              ("DE", 3000, 1e-4), ("PSO", 3000, 1e-4)])
def test_optimizers_make_progress_on_a_small_problem(name, budget, bar):
    f = Sphere(dim=5, shift=1.0)  # f(0) = 5
    res = minimize(f, Nevergrad(optimizer=name, budget=budget), np.zeros(5), seed=0,
                   budget=budget, progress=False, keep_trace=False)
    assert res.f_best < bar, (name, res.f_best)


def test_tell_is_pure_and_states_can_be_reused_out_of_order():
    f = Rosenbrock(dim=3)
    s = Nevergrad(optimizer="CMA", num_workers=4)
    state = s.init(np.zeros(3), Key(2))
    states, queries = [state], []
    for _ in range(5):
        q, state = s.ask(state)
        queries.append(q)
        state, _ = s.tell(state, q, f.values(q.points, key=q.key))
        states.append(state)
    # going back to step 2: the cached optimizer is at step 5, so this rebuilds by replay
    q2, asked2 = s.ask(states[2])
    np.testing.assert_array_equal(q2.points, queries[2].points)
    fb = f.values(q2.points, key=q2.key)
    events = asked2.events
    a, _ = s.tell(asked2, q2, fb)
    b, _ = s.tell(asked2, q2, fb)  # the same state told twice
    assert asked2.events is events and len(events) == 5
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.x, states[3].x)
    assert a.digest == b.digest == states[3].digest
    # a cold cache (a new process, a resumed run) gives the same next query
    q_warm, _ = s.ask(states[5])
    ngmod._CACHE.clear()
    q_cold, _ = s.ask(states[5])
    np.testing.assert_array_equal(q_warm.points, q_cold.points)


def test_the_seed_comes_from_the_key():
    s = Nevergrad(optimizer="DE", num_workers=3)
    q1, _ = s.ask(s.init(np.zeros(4), Key(1)))
    q1b, _ = s.ask(s.init(np.zeros(4), 1))
    q2, _ = s.ask(s.init(np.zeros(4), Key(2)))
    np.testing.assert_array_equal(q1.points, q1b.points)
    assert not np.array_equal(q1.points, q2.points)


def test_minimize_replay_reproduces_the_recommendation():
    s = Nevergrad(optimizer="NGOpt", num_workers=6)
    res = minimize(Sphere(dim=4), s, np.ones(4), seed=3, budget=240, progress=False)
    ngmod._CACHE.clear()
    state = replay(s, res.trace)
    np.testing.assert_array_equal(s.recommend(state), res.x)


def test_ball_space_points_are_projected_and_told():
    ball = Ball(np.zeros(3), 0.5, p=2)
    s = Nevergrad(optimizer="CMA", num_workers=4, space=ball)
    state, queries = run(s, Sphere(dim=3, shift=2.0), np.zeros(3), Key(0), 10)
    assert all(ball.contains(p) for p in queries)
    # the projected points were matched to their candidates: no "unasked" tells
    assert all((ev[1] >= 0).all() for ev in state.events if ev[0] == "t")
    assert state.f_best < Sphere(dim=3, shift=2.0).values(np.zeros((1, 3)), key=None)[0]


def test_non_finite_values_and_unasked_points():
    s = Nevergrad(optimizer="CMA", num_workers=3)
    state = s.init(np.zeros(2), Key(0))
    q, state = s.ask(state)
    state, _ = s.tell(state, q, np.array([np.nan, 1.0, np.inf]))
    assert state.f_best == 1.0
    q, asked = s.ask(state)
    other = q.points + 1.0  # points nevergrad never asked: told as new candidates
    new, _ = s.tell(asked, type(q)(other, q.key), np.array([3.0, 2.0, 1.0]))
    assert (new.events[-1][1] == -1).all() and new.events[-1][3].shape == (3, 2)
    ngmod._CACHE.clear()
    q_next, _ = s.ask(new)  # rebuilt through the unasked tells
    assert q_next.points.shape == (3, 2) and np.isfinite(q_next.points).all()


def test_a_journaled_run_resumes_to_the_same_result(tmp_path):
    class Counter:
        dim, sense, name = 4, "min", "f"

        def __init__(self):
            self.points = 0

        def values(self, points, *, key):
            self.points += len(points)
            return Sphere(dim=4, shift=0.3).values(points, key=key)

    spec = {"name": "nevergrad", "optimizer": "CMA", "num_workers": 5}
    full = minimize(Counter(), spec, np.ones(4), seed=6, budget=300, progress=False)
    minimize(Counter(), spec, np.ones(4), seed=6, budget=150, journal=tmp_path, progress=False)
    ngmod._CACHE.clear()  # as in a new process
    f = Counter()
    res = minimize(f, spec, np.ones(4), seed=6, budget=300, journal=tmp_path, progress=False)
    assert f.points < full.nfev - 100  # the journaled part was replayed, not re-sent
    np.testing.assert_array_equal(res.x, full.x)
    assert res.fun == full.fun


def test_baselines_benchmark_smoke():
    import json

    from apps.bench import baselines

    out = baselines.run(quick=True, seeds=1, budget=200, problems=("ackley", "rosenbrock"),
                        strategies=("zo_fw", "ng_CMA"), verbose=False)
    json.dumps(out)
    assert (out["seeds"], out["budget"], out["skipped"]) == (1, 200, [])
    for p in ("ackley", "rosenbrock"):
        for s in ("zo_fw", "ng_CMA"):
            row = out["results"][p][s]
            assert row["runs"] == 1 and "errors" not in row and np.isfinite(row["median_final"])
            assert row["success_rate"] in (0.0, 1.0)
    assert "ng_CMA" in baselines.format_table(out)


def test_a_bounded_run_prints_no_cma_warnings():
    """Item 11: on a bounded space NGOpt runs a portfolio of CMAs that tell each other's points
    (pycma's InjectionWarning, "orphanated injected solution") and a rescaled CMA whose points
    leave the box (pycma's "elements of z2[k] are larger than 55"): none reaches the user."""
    import warnings

    from cma.evolution_strategy import InjectionWarning

    from oracles.functions import Sphere
    from strategies.nevergrad import _quiet

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _quiet():
            warnings.warn("orphanated injected solution", InjectionWarning)
            warnings.warn_explicit("elements of z2[k] are larger than 55", UserWarning,
                                   "cma/transformations.py", 816, module="cma.transformations")
            warnings.warn_explicit("overflow encountered in exp", RuntimeWarning,
                                   "cma/transformations.py", 822, module="cma.transformations")
        d = 10  # the optimum lies outside the box
        minimize(Sphere(dim=d, shift=-8.0), {"name": "nevergrad", "optimizer": "CMA"},
                 np.ones(d), space=Box(-5.0, 5.0, dim=d), budget=500, seed=0,
                 progress=False, keep_trace=False)
    assert not caught, [str(w.message)[:80] for w in caught]
