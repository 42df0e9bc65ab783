"""The surrogate prototype: its Bradley-Terry fit, its candidates, trust radius and feedback."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox import Budget, Key, minimize
from blackbox.errors import ConfigError, FeedbackError
from blackbox.spaces import Box
from oracles.raters import SimulatedRater, TargetUtility
from strategies.zo_rank_surrogate import RankSurrogate, fit_quadratic_bt


def test_the_fit_finds_the_maximiser_of_a_quadratic_from_exact_comparisons():
    rng = Key(0).numpy()
    target = np.array([0.3, -0.2, 0.1])
    p, q = rng.uniform(-1, 1, (300, 3)), rng.uniform(-1, 1, (300, 3))
    better = np.sum((p - target) ** 2, axis=1) < np.sum((q - target) ** 2, axis=1)
    wins, loses = np.where(better[:, None], p, q), np.where(better[:, None], q, p)
    a, c = fit_quadratic_bt(wins, loses, np.zeros(3), ridge=1e-3)
    assert c > 0 and np.linalg.norm(a / c - target) < 0.05


def test_candidates_are_the_incumbent_a_clipped_proposal_and_perturbations():
    s = RankSurrogate(m=4, radius=0.3)
    st = s.init(np.zeros(5), Key(1))
    q, asked = s.ask(st)
    assert q.points.shape == (4, 5) and q.top == 1 and np.array_equal(q.points[0], np.zeros(5))
    st = s.tell(asked, q, np.array([[2]]))[0]
    assert np.array_equal(st.x, q.points[2]) and st.wins.shape == (3, 5) and st.radius == 0.3
    q, asked = s.ask(st)
    assert np.linalg.norm(q.points[1] - st.x) <= 0.3 + 1e-12  # the model's step, clipped
    st2 = s.tell(asked, q, np.array([[1]]))[0]
    assert st2.radius == pytest.approx(0.3 * 1.25) and st2.wins.shape == (6, 5)
    q, asked = s.ask(st2)
    assert s.tell(asked, q, np.array([[0]]))[0].radius == pytest.approx(0.3 * 1.25 * 0.8)
    with pytest.raises(FeedbackError, match="needs the best of 4"):
        s.tell(asked, q, np.array([[7]]))
    with pytest.raises(ConfigError, match="RankSurrogate.m must be an int >= 3"):
        RankSurrogate(m=2)


def test_best_of_4_answers_cut_the_regret_at_d10():
    util = TargetUtility(10, 0)
    res = minimize(SimulatedRater(util), RankSurrogate(), np.zeros(10), seed=0,
                   budget=Budget(max_steps=30), space=Box(-1.0, 1.0, 10), progress=False)
    assert util.regret(res.x) < 0.1 * util.regret(np.zeros(10))
