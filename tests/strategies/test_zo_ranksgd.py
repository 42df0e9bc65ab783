"""ZO-RankSGD: DAG estimator (T2.1, T2.4), invariances (T2.2), line search, T2.3, config errors.

Reference numbers are from ALGORITHMS.md §2.2-§2.5 and §5.3.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from blackbox import Budget, Key, minimize
from blackbox.errors import ConfigError, FeedbackError
from blackbox.evaluate import evaluate_query
from blackbox.oracle import rank_by_values
from blackbox.query import Ranking
from blackbox.strategy import resolve_strategy
from oracles.functions import Sphere
from strategies.zo_ranksgd import ZORankSGD, dag_edges, dag_weights, rank_direction

# c_{m,k} = ||E g|| for linear f, ALGORITHMS.md §2.2 table [V-run, MC-confirmed to 3 decimals]
C_MK = {(2, 1): 1.1284, (10, 1): 1.7097, (10, 5): 1.2532}


# -- the estimator ------------------------------------------------------------------------------
def test_t2_4_edges_and_weights_for_10_5():
    assert dag_edges(10, 5) == 35
    order = np.array([7, 2, 9, 0, 4])
    w = dag_weights(order, 10)
    np.testing.assert_array_equal(w[order], [-9, -7, -5, -3, -1])
    unlisted = np.setdiff1d(np.arange(10), order)
    np.testing.assert_array_equal(w[unlisted], [5] * 5)
    assert w.sum() == 0


@pytest.mark.parametrize("m,k", [(2, 1), (4, 2), (5, 5), (7, 3)])
def test_closed_form_weights_equal_the_explicit_edge_sum(m, k):
    gen = Key(5).numpy()
    xi = gen.standard_normal((m, 3))
    order = gen.permutation(m)[:k]
    listed = list(order)
    edges = [(a, b) for a, b in itertools.combinations(listed, 2)]  # a listed before b
    edges += [(a, j) for a in listed for j in range(m) if j not in listed]
    assert len(edges) == dag_edges(m, k)
    explicit = sum(xi[j] - xi[i] for i, j in edges) / len(edges)
    np.testing.assert_allclose(rank_direction(xi, order), explicit, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("m,k", sorted(C_MK))
def test_t2_1_mean_direction_for_a_linear_function(m, k):
    n, d = 20_000, 10
    gen = Key(2024).fold_in(m * 100 + k).numpy()
    a = gen.standard_normal(d)
    xi = gen.standard_normal((n, m, d))
    order = np.argsort(xi @ a, axis=1)[:, :k]  # f = a.x: smaller is better
    w = np.full((n, m), float(k))
    np.put_along_axis(w, order, 2.0 * np.arange(k) - m + 1.0, axis=1)
    np.testing.assert_array_equal(w[17], dag_weights(order[17], m))  # the same weights
    g = np.einsum("nm,nmd->nd", w, xi) / dag_edges(m, k)
    np.testing.assert_allclose(g[3], rank_direction(xi[3], order[3]), rtol=1e-12)
    mean = g.mean(axis=0)
    u = a / np.linalg.norm(a)
    along = g @ u
    se = along.std() / np.sqrt(n)
    assert abs(along.mean() - C_MK[(m, k)]) < 4 * se + 5e-4
    assert abs(np.linalg.norm(mean) - C_MK[(m, k)]) < 0.03
    assert mean @ u / np.linalg.norm(mean) > 0.999


def test_estimator_is_invariant_to_a_common_offset_of_xi():
    gen = Key(3).numpy()
    xi = gen.standard_normal((10, 6))
    order = [4, 1, 8]
    shift = 100.0 * gen.standard_normal(6)
    np.testing.assert_allclose(rank_direction(xi + shift, order), rank_direction(xi, order),
                               atol=1e-12)


def test_a_shuffled_display_gives_the_same_direction():
    gen = Key(4).numpy()
    xi = gen.standard_normal((10, 6))
    order = np.array([3, 9, 0, 5, 7])
    perm = gen.permutation(10)  # displayed position p shows point perm[p]
    inv = np.argsort(perm)
    g_shown = rank_direction(xi[perm], inv[order])  # the human answers in displayed positions
    np.testing.assert_allclose(g_shown, rank_direction(xi, order), atol=1e-13)


def test_estimator_rejects_bad_orders():
    with pytest.raises(FeedbackError, match="distinct"):
        dag_weights([1, 1], 4)
    with pytest.raises(FeedbackError, match=r"\[0, 4\)"):
        dag_weights([4], 4)


# -- the strategy -------------------------------------------------------------------------------
def answer(query, oracle):
    return Ranking(evaluate_query(oracle, query))


def test_tell_applies_the_dag_step_without_line_search():
    s = ZORankSGD(m=6, k=3, mu=0.05, lr=0.2, line_search=False)
    f = Sphere(dim=4)
    x0 = np.array([1.0, -2.0, 0.5, 3.0])
    state = s.init(x0, Key(9))
    q, state = s.ask(state)
    assert q.kind == "ranking" and q.tag == "grad" and q.top == 3 and q.points.shape == (6, 4)
    xi = (q.points - x0) / 0.05
    order = np.argsort(np.sum(q.points**2, axis=1))[:3]
    new, metrics = s.tell(state, q, answer(q, f))
    np.testing.assert_allclose(new.x, x0 - 0.2 * rank_direction(xi, order), rtol=1e-10)
    assert metrics["listed"] == 3 and new.nfev == 6 and new.step == 1


def test_partial_rankings_use_the_listed_count():
    s = ZORankSGD(m=6, k=4, line_search=False)
    state = s.init(np.ones(3), Key(1))
    q, state = s.ask(state)
    new, metrics = s.tell(state, q, Ranking(np.array([[2, 5]])))  # k' = 2 < k = 4
    xi = (q.points - np.ones(3)) / s.mu
    np.testing.assert_allclose(new.x, np.ones(3) - s.lr * rank_direction(xi, [2, 5]), rtol=1e-10)
    assert metrics["listed"] == 2


def test_rounds_alternate_and_line_candidates_start_with_x():
    s = ZORankSGD()
    f = Sphere(dim=5)
    state = s.init(np.full(5, 2.0), Key(0))
    tags = []
    for _ in range(6):
        q, state = s.ask(state)
        tags.append(q.tag)
        if q.tag == "line":
            assert q.points.shape == (s.steps + 1, 5) and q.top == 1
            np.testing.assert_array_equal(q.points[0], state.x)
        state, _ = s.tell(state, q, answer(q, f))
    assert tags == ["grad", "line"] * 3
    assert s.points_per_round == 16


def test_feedback_for_the_wrong_round_is_refused():
    s = ZORankSGD()
    state = s.init(np.ones(3), Key(0))
    q, state = s.ask(state)
    state, _ = s.tell(state, q, answer(q, Sphere(dim=3)))
    q_line, asked = s.ask(state)
    with pytest.raises(FeedbackError, match="'line' query, got tag 'grad'"):
        s.tell(asked, q, answer(q, Sphere(dim=3)))


def test_line_search_never_increases_f_and_accumulates_while_stuck():
    s = ZORankSGD(m=4, k=2)
    f = Sphere(dim=20, shift=0.3)
    state = s.init(np.full(20, 3.0), Key(11))
    fx = [f(state.x)]
    stuck_acc = []
    for _ in range(400):
        q, state = s.ask(state)
        if q.tag == "line":
            acc = state.n_acc
        before = state
        state, m = s.tell(state, q, answer(q, f))
        if q.tag == "grad":  # S <- (S n + g) / (n + 1): the average since the last move
            g = rank_direction((q.points - before.x) / s.mu, evaluate_query(f, q)[0])
            n = before.n_acc
            np.testing.assert_allclose(state.direction, (before.direction * n + g) / (n + 1),
                                       rtol=1e-9, atol=1e-12)
        fx.append(f(state.x))
        if q.tag == "line":
            if m["moved"]:
                assert state.n_acc == 0 and not state.direction.any()
            else:
                stuck_acc.append(acc)
    assert all(b <= a for a, b in zip(fx, fx[1:])), "f increased in a round"
    assert fx[-1] < 1e-3 * fx[0]
    assert stuck_acc and max(stuck_acc) >= 2  # directions were averaged over several rounds


def test_t2_2_iterates_are_invariant_to_a_monotone_transform():
    class Transformed:
        dim, sense, name = 8, "min", "transformed"

        def values(self, points, *, key):
            v = np.sum((points - 0.5) ** 2, axis=1)
            return np.exp(3.0 * v) + np.arctan(v) - 7.0  # strictly increasing in v

    kw = dict(seed=5, budget=Budget(max_queries=800), progress=False)
    r1 = minimize(Sphere(dim=8, shift=0.5), ZORankSGD(), np.ones(8), **kw)
    r2 = minimize(Transformed(), ZORankSGD(), np.ones(8), **kw)
    assert len(r1.trace.pairs) == len(r2.trace.pairs) > 40
    for (q1, f1), (q2, f2) in zip(r1.trace.pairs, r2.trace.pairs):
        np.testing.assert_array_equal(q1.points, q2.points)
        np.testing.assert_array_equal(f1.order, f2.order)
    np.testing.assert_array_equal(r1.x, r2.x)


def test_a_shuffling_display_oracle_gives_the_same_run():
    class ShuffledDisplay:
        """Shows the points in a random order and maps the answer back (what a UI does)."""

        dim, sense, name = 6, "min", "display"

        def rank(self, points, groups, *, top, key):
            perm = key.fold_in(-7).numpy().permutation(len(points))
            shown = points[perm]
            vals = np.sum(shown**2, axis=1)
            inv = np.argsort(perm)
            picked = rank_by_values(vals, inv[groups], top)  # displayed positions
            return perm[picked]

    kw = dict(seed=2, budget=Budget(max_queries=600), progress=False)
    r1 = minimize(Sphere(dim=6), ZORankSGD(), np.ones(6), **kw)
    r2 = minimize(ShuffledDisplay(), ZORankSGD(), np.ones(6), **kw)
    np.testing.assert_array_equal(r1.x, r2.x)
    assert np.sum(r2.x**2) < 0.1 * 6


def test_projection_keeps_iterates_in_the_space():
    from blackbox import Box

    box = Box(0.5, 2.0, dim=4)
    for line in (True, False):
        s = ZORankSGD(space=box, line_search=line)
        state = s.init(np.full(4, 1.5), Key(0))
        for _ in range(30):
            q, state = s.ask(state)
            assert box.contains(q.points)
            state, _ = s.tell(state, q, answer(q, Sphere(dim=4)))
            assert box.contains(state.x)
        np.testing.assert_allclose(state.x, 0.5, atol=0.05)


def test_t2_3_d100_with_line_search_reaches_two_percent():
    x0 = Key(123).numpy().standard_normal(100)
    f0 = float(np.sum(x0**2))
    res = minimize(Sphere(dim=100), ZORankSGD(m=10, k=5), x0, seed=0, budget=10_000,
                   progress=False, keep_trace=False)
    assert res.nfev <= 10_000
    assert res.fun < 0.02 * f0


def test_t2_3_reference_numbers():
    """T2.3 [V-run]: mean f over 5 seeds after 10,000 queries, d = 100 (MC noise allowed)."""
    x0 = Key(123).numpy().standard_normal(100)

    def mean_f(**kw):
        fs = [minimize(Sphere(dim=100), ZORankSGD(**kw), x0, seed=s, budget=10_001,
                       progress=False, keep_trace=False).fun for s in range(5)]
        return float(np.mean(fs))

    assert 0.6 < mean_f(line_search=False, lr=0.1) < 1.4  # reference 0.96
    assert 6.0 < mean_f(line_search=False, lr=0.3) < 15.0  # reference 10.3
    assert 0.08 < mean_f(accumulate=False, adapt_lr=False) < 0.2  # fixed ladder: 0.13
    assert mean_f() < 0.01  # the defaults (adaptive ladder, accumulation) do better


def test_defaults_solve_the_10d_sphere():
    res = minimize(Sphere(dim=10), "zo_ranksgd", np.ones(10), seed=0, budget=20_000,
                   progress=False, keep_trace=False)
    assert res.fun <= 1e-2 and res.nfev <= 20_000


@pytest.mark.parametrize(
    "opts,field",
    [
        ({"k": 11}, "k must be <= m"),
        ({"m": 1, "k": 1}, "m must be an int >= 2"),
        ({"k": 0}, "k must be an int >= 1"),
        ({"m": 2.5}, "ZORankSGD.m"),
        ({"mu": 0.0}, "ZORankSGD.mu"),
        ({"lr": -1.0}, "ZORankSGD.lr"),
        ({"ladder_ratio": 1.0}, "ZORankSGD.ladder_ratio"),
        ({"steps": 0}, "ZORankSGD.steps"),
        ({"line_search": "yes"}, "ZORankSGD.line_search"),
    ],
)
def test_bad_config_names_the_field(opts, field):
    with pytest.raises(ConfigError, match=field):
        ZORankSGD(**opts)
    with pytest.raises(ConfigError, match=field):
        resolve_strategy({"name": "zo_ranksgd", **opts})


def test_a_max_sense_value_oracle_is_ranked_best_first():
    class Utility:
        dim, sense, name = 6, "max", "utility"

        def values(self, points, *, key):
            return -np.sum((points - 2.0) ** 2, axis=1)

    res = minimize(Utility(), ZORankSGD(), np.zeros(6), seed=0, budget=3000, progress=False,
                   keep_trace=False)
    assert res.fun > -1e-2  # reported in the user's (max) sense, from -24
    np.testing.assert_allclose(res.x, 2.0, atol=0.05)


def test_optimizer_state_dict_round_trip_keeps_the_phase():
    from blackbox import Optimizer

    f = Sphere(dim=4)
    opt = Optimizer("zo_ranksgd", np.ones(4), seed=3)
    for _ in range(5):  # ends after a gradient round: the next query is a line search
        q = opt.ask()
        opt.tell(q, answer(q, f))
    opt2 = Optimizer({"name": "zo_ranksgd"}, np.ones(4), seed=3)
    opt2.load_state_dict(opt.state_dict())
    q1, q2 = opt.ask(), opt2.ask()
    assert q1.tag == q2.tag == "line"
    np.testing.assert_array_equal(q1.points, q2.points)
