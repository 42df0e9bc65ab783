"""Simulated raters: exact sorting, Bradley-Terry / Thurstone probabilities, bias, lapses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from blackbox import Budget, minimize
from blackbox.errors import ConfigError, FeedbackError
from blackbox.keys import Key
from blackbox.spaces import Box
from oracles.raters import SimulatedRater, TargetUtility


class Line:
    """u(x) = x[0] (sense max): candidate i of points arange(m) has utility i."""

    dim, sense = 1, "max"

    def values(self, points, *, key=None):
        return np.asarray(points, dtype=float)[:, 0]


def _win_rate(rater, du, n=1500):
    pts = np.array([[0.0], [du]])
    wins = [rater.rank(pts, np.array([[0, 1]]), top=1, key=Key(3).fold_in(i))[0, 0] == 1
            for i in range(n)]
    return float(np.mean(wins))


def test_exact_rater_sorts_best_first_and_counts_what_a_person_spends():
    r = SimulatedRater(Line(), model="exact")
    pts = np.array([[0.2], [0.9], [0.1], [0.5]])
    order = r.rank(pts, np.array([[0, 1, 2, 3], [3, 2, 1, 0]]), top=2, key=Key(0))
    assert order.tolist() == [[1, 3], [1, 3]]
    assert (r.answers, r.shown, r.comparisons) == (2, 8, 2 * (1 + 2 * 2))


def test_zero_temperature_is_exact_for_every_model():
    pts = np.arange(6.0)[:, None]
    for model in ("bradley_terry", "thurstone"):
        r = SimulatedRater(Line(), model=model, temperature=0.0)
        assert r.rank(pts, np.arange(6)[None], top=6, key=Key(1)).tolist() == [[5, 4, 3, 2, 1, 0]]


@pytest.mark.parametrize("du,temp", [(0.5, 1.0), (1.0, 0.5)])
def test_bradley_terry_pair_probability(du, temp):
    p = _win_rate(SimulatedRater(Line(), temperature=temp), du)
    assert p == pytest.approx(1 / (1 + np.exp(-du / temp)), abs=0.04)


def test_thurstone_pair_probability():
    p = _win_rate(SimulatedRater(Line(), model="thurstone", temperature=1.0), 0.5)
    assert p == pytest.approx(norm.cdf(0.5 / np.sqrt(2)), abs=0.04)


def test_position_bias_favours_the_first_shown():
    r = SimulatedRater(Line(), temperature=1.0, position_bias=1.0)
    pts = np.array([[0.0], [0.0]])
    first = np.mean([r.rank(pts, np.array([[0, 1]]), top=1, key=Key(5).fold_in(i))[0, 0] == 0
                     for i in range(1500)])
    assert first == pytest.approx(1 / (1 + np.exp(-1.0)), abs=0.04)


def test_inconsistency_answers_at_random_that_often():
    r = SimulatedRater(Line(), model="exact", inconsistency=0.3)
    pts = np.arange(2.0)[:, None]
    wrong = np.mean([r.rank(pts, np.array([[0, 1]]), top=1, key=Key(9).fold_in(i))[0, 0] == 0
                     for i in range(1500)])
    assert wrong == pytest.approx(0.3 / 2, abs=0.03)


def test_answers_are_reproducible_from_the_key():
    r = SimulatedRater(TargetUtility(4, 1), temperature=0.3, inconsistency=0.1)
    pts = Key(2).numpy().standard_normal((8, 4))
    a = r.rank(pts, np.arange(8)[None], top=3, key=Key(7))
    assert np.array_equal(a, r.rank(pts, np.arange(8)[None], top=3, key=Key(7)))


def test_target_utility_regret():
    u = TargetUtility(5, seed=2)
    assert np.all(np.abs(u.target) <= 1) and u.regret(u.target) == 0.0
    assert u.regret(np.zeros(5)) == pytest.approx(float(np.sum(u.target ** 2)))


def test_zo_ranksgd_learns_from_a_noisy_biased_rater():
    u = TargetUtility(10, seed=0)
    r = SimulatedRater(u, temperature=0.05, position_bias=0.05, inconsistency=0.05)
    res = minimize(r, {"name": "zo_ranksgd", "m": 10, "k": 5, "mu": 0.2, "adapt_lr": False},
                   np.zeros(10), seed=0, budget=Budget(max_steps=60), space=Box(-1.0, 1.0, 10),
                   progress=False)
    assert u.regret(res.x) < 0.2 * u.regret(np.zeros(10))
    assert r.answers == 60


@pytest.mark.parametrize("kw,msg", [
    ({"model": "luce"}, "model must be one of"),
    ({"temperature": -1}, "temperature must be a finite number >= 0"),
    ({"position_bias": float("nan")}, "position_bias"),
    ({"inconsistency": 1.5}, r"inconsistency must be a finite number in \[0, 1\]"),
])
def test_bad_settings_are_one_line_errors(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        SimulatedRater(Line(), **kw)


def test_a_rater_needs_a_hidden_utility():
    with pytest.raises(FeedbackError, match="must give values"):
        SimulatedRater(object())
