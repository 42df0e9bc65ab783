"""Every registered strategy, default config: shapes, purity, determinism, replay, progress.

Adding a strategy to the registry is enough to put it under these tests.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from blackbox import STRATEGIES, Box, Budget, Key, minimize, replay
from blackbox.evaluate import evaluate_query
from blackbox.query import Ranking, Values
from oracles.functions import Sphere

NAMES = STRATEGIES.names()
DIM = 10


def make(name, space=None):
    cls = STRATEGIES.get(name)
    if space is None and getattr(cls, "requires_space", False):
        space = Box(-5.0, 5.0, dim=DIM)
    return cls(space=space) if space is not None else cls()


def feedback_for(strategy, query, oracle):
    raw = evaluate_query(oracle, query)
    return Ranking(raw) if query.kind == "ranking" else Values(raw)


def test_the_five_strategies_are_registered():
    for name in ("zo_sgd", "zo_ranksgd", "cbo", "zo_fw", "nevergrad"):
        assert name in NAMES, f"strategy {name!r} is not registered; registered: {NAMES}"


@pytest.mark.parametrize("name", NAMES)
def test_ask_shapes_and_kind(name):
    s = make(name)
    state = s.init(np.ones(DIM), Key(0))
    q, state2 = s.ask(state)
    assert q.points.shape[1] == DIM and q.points.shape[0] >= 1
    assert q.points.dtype == np.float64
    assert q.kind == ("ranking" if s.feedback == "ranking" else "values")
    assert s.recommend(state2).shape == (DIM,)


@pytest.mark.parametrize("name", NAMES)
def test_tell_is_pure_and_deterministic(name):
    s = make(name)
    f = Sphere(dim=DIM)
    state = s.init(np.ones(DIM), Key(1))
    for _ in range(3):
        q, state = s.ask(state)
        state, _ = s.tell(state, q, feedback_for(s, q, f))
    q, asked = s.ask(state)
    fb = feedback_for(s, q, f)
    before = {k: copy.deepcopy(v) for k, v in vars_of(asked).items()}
    a, _ = s.tell(asked, q, fb)
    b, _ = s.tell(asked, q, fb)
    for k, v in vars_of(asked).items():  # the input state is unchanged
        assert_same(v, before[k], f"{name}: tell mutated state.{k}")
    for k in vars_of(a):  # tell is deterministic
        assert_same(getattr(a, k), getattr(b, k), f"{name}: tell is not deterministic in {k}")
    np.testing.assert_array_equal(s.recommend(a), s.recommend(b))


def vars_of(state):
    if dataclasses.is_dataclass(state):
        return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    return dict(vars(state))


def assert_same(a, b, msg):
    """Equal values, looking inside tuples, lists, dicts and dataclasses (nested state)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=msg)
    elif isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), f"{msg}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{msg}[{i}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{msg}: {a!r} != {b!r}"
        for k in a:
            assert_same(a[k], b[k], f"{msg}[{k!r}]")
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), msg
        for k, v in vars_of(a).items():
            assert_same(v, getattr(b, k), f"{msg}.{k}")
    elif isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return
    elif isinstance(a, (int, float, str, bool, bytes, Key, type(None), np.generic)):
        assert a == b, f"{msg}: {a!r} != {b!r}"
    else:
        raise AssertionError(f"{msg}: a state holds a {type(a).__name__}, which this test cannot "
                             "compare; keep state to arrays, numbers, strings, keys and tuples")


def writable_arrays(v, where):
    """Paths of writeable ndarrays anywhere in ``v`` (state arrays must be read-only)."""
    if isinstance(v, np.ndarray):
        return [where] if v.flags.writeable else []
    if isinstance(v, (tuple, list)):
        return [p for i, x in enumerate(v) for p in writable_arrays(x, f"{where}[{i}]")]
    if isinstance(v, dict):
        return [p for k, x in v.items() for p in writable_arrays(x, f"{where}[{k!r}]")]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [p for k, x in vars_of(v).items() for p in writable_arrays(x, f"{where}.{k}")]
    return []


def test_assert_same_looks_inside_nested_containers():
    a = (np.zeros(2), {"m": (np.ones(2), 3)})
    b = (np.zeros(2), {"m": (np.array([1.0, 2.0]), 3)})
    with pytest.raises(AssertionError):
        assert_same(a, b, "state.opt")
    assert_same(a, copy.deepcopy(a), "state.opt")
    assert writable_arrays((np.zeros(1), [freeze_(np.ones(1)), {"k": np.ones(1)}]), "s") == [
        "s[0]", "s[1][1]['k']"]


def freeze_(a):
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("name", NAMES)
def test_state_arrays_are_read_only_nested_too(name):
    s = make(name)
    f = Sphere(dim=DIM)
    state = s.init(np.ones(DIM), Key(2))
    for _ in range(3):
        q, state = s.ask(state)
        assert not writable_arrays(vars_of(state), "state"), (
            f"{name}: writeable arrays after ask: {writable_arrays(vars_of(state), 'state')}")
        state, _ = s.tell(state, q, feedback_for(s, q, f))
        assert not writable_arrays(vars_of(state), "state"), (
            f"{name}: writeable arrays after tell: {writable_arrays(vars_of(state), 'state')}")


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_run_and_replay(name):
    s = make(name)
    kw = dict(seed=7, budget=Budget(max_queries=300), progress=False)
    r1 = minimize(Sphere(dim=DIM), s, np.ones(DIM), **kw)
    r2 = minimize(Sphere(dim=DIM), s, np.ones(DIM), **kw)
    assert len(r1.trace.pairs) == len(r2.trace.pairs) > 0
    for (q1, _), (q2, _) in zip(r1.trace.pairs, r2.trace.pairs):
        np.testing.assert_array_equal(q1.points, q2.points)
    np.testing.assert_array_equal(r1.x, r2.x)
    r3 = minimize(Sphere(dim=DIM), s, np.ones(DIM), **{**kw, "seed": 8})
    assert not np.array_equal(r1.trace.pairs[-1][0].points, r3.trace.pairs[-1][0].points)
    state = replay(s, r1.trace)
    np.testing.assert_array_equal(s.recommend(state), r1.x)


@pytest.mark.parametrize("name", NAMES)
def test_solves_the_10d_sphere_with_defaults(name):
    s = make(name)
    f0 = Sphere(dim=DIM)(np.ones(DIM))
    res = minimize(Sphere(dim=DIM), s, np.ones(DIM), seed=0, budget=20_000, progress=False,
                   keep_trace=False)
    assert res.nfev <= 20_000
    assert res.fun <= 1e-2, f"{name}: f went from {f0} to {res.fun} in {res.nfev} points"


@pytest.mark.parametrize("name", NAMES)
def test_every_point_lies_in_the_space(name):
    space = Box(-0.5, 2.0, dim=DIM)
    s = make(name, space)
    res = minimize(Sphere(dim=DIM, shift=-3.0), s, np.ones(DIM), seed=3, budget=400,
                   progress=False)
    assert res.trace.pairs
    for q, _ in res.trace.pairs:
        assert space.contains(q.points), f"{name} asked a point outside the space"
    assert space.contains(res.x)


@pytest.mark.parametrize("name", NAMES)
def test_nan_values_never_crash(name):
    class Holes:
        dim, sense, name = DIM, "min", "holes"

        def values(self, points, *, key):
            v = np.sum(points**2, axis=1)
            v[::3] = np.nan
            return v

    res = minimize(Holes(), make(name), np.ones(DIM), seed=0, budget=200, progress=False)
    assert res.ledger.oracles["holes"].failures > 0
    assert np.isfinite(res.f_best)
