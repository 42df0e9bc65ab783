"""Ranking oracles: noise models (exact, Bradley-Terry, Plackett-Luce, near-tie flips),
pairwise-only and ranking-only wrappers, and their use with ZO-RankSGD."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox import Key, OracleSpec, minimize
from blackbox.errors import ConfigError, FeedbackError
from blackbox.evaluate import evaluate_query
from blackbox.oracle import ValueRanker, can_rank, can_value
from blackbox.query import Query
from oracles.functions import Sphere
from oracles.ranking import Pairwise, RankingOnly, TieFlipRanker, ranker
from strategies.zo_ranksgd import ZORankSGD


class Fixed:
    """A value oracle returning preset values (row i -> vals[i]) and counting its calls."""

    dim, sense, name = 1, "min", "fixed"

    def __init__(self, vals, sense="min"):
        self.vals = np.asarray(vals, dtype=np.float64)
        self.sense = sense
        self.calls = 0

    def values(self, points, *, key):
        self.calls += 1
        return self.vals[np.asarray(points[:, 0], dtype=np.int64)]


def pts(n):
    return np.arange(n, dtype=np.float64)[:, None]


def many_pairs(n):
    return np.tile(np.array([[0, 1]]), (n, 1))


def test_exact_ranker_sorts_best_first_for_both_senses():
    vals = [3.0, -1.0, 2.0, np.nan, 0.5]
    order = ranker(Fixed(vals)).rank(pts(5), np.array([[0, 1, 2, 3, 4]]), top=5, key=Key(0))
    np.testing.assert_array_equal(order, [[1, 4, 2, 0, 3]])  # NaN last
    order = ranker(Fixed(vals, "max")).rank(pts(5), np.array([[0, 1, 2, 3, 4]]), top=2, key=Key(0))
    np.testing.assert_array_equal(order, [[0, 2]])
    assert isinstance(ranker(Fixed(vals), "exact"), ValueRanker)


@pytest.mark.parametrize("delta,temp", [(0.3, 0.5), (1.0, 2.0), (-0.4, 0.25)])
def test_bradley_terry_win_probability_is_logistic(delta, temp):
    n = 20_000
    r = ranker(Fixed([0.0, delta]), "bradley_terry", temperature=temp)
    order = r.rank(pts(2), many_pairs(n), top=1, key=Key(8))
    p_hat = float(np.mean(order[:, 0] == 0))  # point 0 (f = 0) beats point 1 (f = delta)
    p = 1.0 / (1.0 + np.exp(-delta / temp))
    assert abs(p_hat - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_plackett_luce_first_place_is_a_softmax():
    n, temp = 20_000, 0.7
    f = np.array([0.0, 0.4, 1.1])
    r = ranker(Fixed(f), "plackett_luce", temperature=temp)
    order = r.rank(pts(3), np.tile([[0, 1, 2]], (n, 1)), top=3, key=Key(3))
    p = np.exp(-f / temp) / np.exp(-f / temp).sum()
    p_hat = np.bincount(order[:, 0], minlength=3) / n
    np.testing.assert_array_less(np.abs(p_hat - p), 4 * np.sqrt(p * (1 - p) / n))
    assert sorted(order[5].tolist()) == [0, 1, 2]  # a full permutation


def test_noisy_rankings_are_reproducible_from_the_key():
    r = ranker(Fixed([0.0, 0.2, 0.1, 0.3]), "plackett_luce", temperature=1.0)
    groups = np.tile([[0, 1, 2, 3]], (50, 1))
    a = r.rank(pts(4), groups, top=2, key=Key(1))
    np.testing.assert_array_equal(a, r.rank(pts(4), groups, top=2, key=Key(1)))
    assert not np.array_equal(a, r.rank(pts(4), groups, top=2, key=Key(2)))


def test_near_ties_flip_with_the_given_probability():
    n = 20_000
    r = ranker(Fixed([0.0, 0.05]), "ties", threshold=0.1, flip_prob=0.3)
    assert isinstance(r, TieFlipRanker)
    order = r.rank(pts(2), many_pairs(n), top=1, key=Key(4))
    flipped = float(np.mean(order[:, 0] == 1))
    assert abs(flipped - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)


def test_clear_differences_and_nan_are_never_flipped():
    r = ranker(Fixed([0.0, 0.5, np.nan]), "ties", threshold=0.1, flip_prob=1.0)
    order = r.rank(pts(3), np.tile([[0, 1, 2]], (200, 1)), top=3, key=Key(5))
    np.testing.assert_array_equal(order, np.tile([[0, 1, 2]], (200, 1)))
    # flip_prob = 1 swaps every near tie in one walk down the sorted list: 0 bubbles to the end
    r = ranker(Fixed([0.0, 0.03, 0.05]), "ties", threshold=0.06, flip_prob=1.0)
    np.testing.assert_array_equal(r.rank(pts(3), np.array([[0, 1, 2]]), top=3, key=Key(0)),
                                  [[1, 2, 0]])
    r = ranker(Fixed([0.0, 0.05, 0.1]), "ties", threshold=0.06, flip_prob=1.0)  # (0, 0.1) differ
    np.testing.assert_array_equal(r.rank(pts(3), np.array([[0, 1, 2]]), top=3, key=Key(0)),
                                  [[1, 0, 2]])


def test_relative_threshold_scales_with_the_values():
    r = ranker(Fixed([100.0, 104.0]), "ties", threshold=0.05, flip_prob=1.0, relative=True)
    np.testing.assert_array_equal(r.rank(pts(2), many_pairs(3), top=1, key=Key(0)), [[1]] * 3)
    r = ranker(Fixed([100.0, 104.0]), "ties", threshold=0.05, flip_prob=1.0)
    np.testing.assert_array_equal(r.rank(pts(2), many_pairs(3), top=1, key=Key(0)), [[0]] * 3)


def test_pairwise_answers_only_pairs():
    p = Pairwise(Sphere(dim=2))
    x = np.array([[1.0, 1.0], [0.0, 0.1], [2.0, 0.0]])
    out = p.rank(x, np.array([[0, 1], [2, 0]]), top=1, key=Key(0))
    np.testing.assert_array_equal(out, [[1], [0]])
    assert p.comparisons == 2
    assert p.compare([0.0, 0.0], [1.0, 0.0], key=Key(0)) == -1
    assert p.compare([3.0, 0.0], [1.0, 0.0], key=Key(0)) == 1
    with pytest.raises(FeedbackError, match=r"only compares pairs.*\(1, 3\)"):
        p.rank(x, np.array([[0, 1, 2]]), top=1, key=Key(0))
    with pytest.raises(FeedbackError, match="top=2"):
        p.rank(x, np.array([[0, 1]]), top=2, key=Key(0))


def test_pairwise_over_a_noisy_ranker_and_zo_ranksgd_with_m2():
    # the comparison-oracle setting of the paper: (2, 1) rankings, constant step, no line search
    inner = ranker(Sphere(dim=5), "bradley_terry", temperature=1e-3)
    p = Pairwise(inner)
    res = minimize(p, ZORankSGD(m=2, k=1, line_search=False, lr=0.02), np.ones(5), seed=1,
                   budget=4000, progress=False, keep_trace=False)
    assert np.sum(res.x**2) < 0.02  # from f = 5
    assert p.comparisons == 2000
    with pytest.raises(FeedbackError, match="only compares pairs"):
        minimize(Pairwise(Sphere(dim=5)), ZORankSGD(), np.ones(5), budget=100, progress=False)


def test_ranking_only_hides_values_and_works_with_zo_ranksgd():
    ro = RankingOnly(Sphere(dim=10))
    assert not can_value(ro) and can_rank(ro) and not hasattr(ro, "values")
    assert (ro.dim, ro.sense, ro.name) == (10, "min", "sphere")
    q = Query(np.eye(10)[:4] * [[3.0], [1.0], [2.0], [0.5]], Key(0), "ranking", top=2)
    np.testing.assert_array_equal(evaluate_query(ro, q), [[3, 1]])
    with pytest.raises(FeedbackError, match="cannot answer value queries"):
        evaluate_query(ro, Query(np.ones((1, 10)), Key(0)))
    res = minimize(ro, "zo_ranksgd", np.ones(10), seed=0, budget=20_000, progress=False,
                   keep_trace=False)
    assert np.isnan(res.fun) and res.nfev <= 20_000
    assert np.sum(res.x**2) <= 1e-2


def test_ranking_only_is_refused_by_a_value_strategy_before_any_query():
    inner = Fixed(np.arange(10.0))
    inner.dim = 1
    with pytest.raises(FeedbackError, match="can only rank"):
        minimize(RankingOnly(inner), "random_search", np.zeros(1), budget=50, progress=False)
    assert inner.calls == 0


def test_wrappers_build_oracle_specs_and_forward_close():
    ro = RankingOnly(OracleSpec("sphere", {"dim": 3}))
    assert ro.dim == 3 and ro.name == "sphere"
    spec = OracleSpec("oracles.ranking:RankingOnly",
                      {"oracle": OracleSpec("oracles.ranking:ranker",
                                            {"oracle": OracleSpec("sphere", {"dim": 4}),
                                             "noise": "bradley_terry", "temperature": 0.1})})
    built = spec.build()
    assert isinstance(built.oracle, ValueRanker) and built.dim == 4

    class Closable(Fixed):
        closed = False

        def close(self):
            self.closed = True

    c = Closable([0.0])
    Pairwise(RankingOnly(c)).close()
    assert c.closed


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: ranker(Sphere(dim=2), "gumbel"), "noise must be None"),
        (lambda: ranker(Sphere(dim=2), "bradley_terry", temperature=0.0), "temperature"),
        (lambda: ranker(Sphere(dim=2), "ties", flip_prob=1.5), "flip_prob"),
        (lambda: ranker(Sphere(dim=2), "ties", threshold=-1.0), "threshold"),
        (lambda: ranker(Sphere(dim=2), "ties", threshold="x"), "threshold"),
        (lambda: TieFlipRanker(RankingOnly(Sphere(dim=2))), "TieFlipRanker.oracle"),
        (lambda: RankingOnly(object()), "RankingOnly.oracle"),
        (lambda: Pairwise(object()), "Pairwise.oracle"),
    ],
)
def test_bad_config_names_the_field(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
