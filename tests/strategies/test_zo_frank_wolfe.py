"""ZO-SFW (Sahu et al.) and FW-black (Chen et al.): schedules, estimators, feasibility, R4.1/4.3."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox import Ball, Box, Key, Simplex, minimize
from blackbox.errors import ConfigError
from strategies.fw_black import FWBlack
from strategies.zo_frank_wolfe import ZOFrankWolfe, feasible_steps


class Linear:
    """f(x) = <a, x> (finite differences are exact up to rounding)."""

    sense = "min"
    name = "linear"

    def __init__(self, a):
        self.a = np.asarray(a, dtype=float)
        self.dim = self.a.size

    def values(self, points, *, key=None):
        return np.asarray(points) @ self.a


def step(s, state, f):
    q, state = s.ask(state)
    state, metrics = s.tell(state, q, f.values(q.points))
    return q, state, metrics


# -- configuration ----------------------------------------------------------------------------
def test_space_is_required_and_named():
    for cls in (ZOFrankWolfe, FWBlack):
        assert cls.requires_space
        with pytest.raises(ConfigError, match="space=None"):
            cls().init(np.zeros(3), Key(0))


def test_space_can_come_from_minimize():
    res = minimize(Linear(np.ones(3)), "zo_fw", np.zeros(3), space=Box(-1, 1, dim=3),
                   budget=400, progress=False)
    np.testing.assert_allclose(res.x, -1.0, atol=0.05)
    with pytest.raises(ConfigError, match="space"):
        minimize(Linear(np.ones(3)), "fw_black", np.zeros(3), budget=100, progress=False)


@pytest.mark.parametrize(
    "kw, field",
    [({"estimator": "spsa"}, "estimator"), ({"q": 0}, "q"), ({"mu_scale": -1.0}, "mu_scale")],
)
def test_bad_zo_fw_options_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        ZOFrankWolfe(space=Box(-1, 1, dim=3), **kw)


@pytest.mark.parametrize(
    "kw, field",
    [({"q": 0}, "FWBlack.q"), ({"mu": 0.0}, "FWBlack.mu"), ({"beta": 1.0}, "beta"),
     ({"lr": -0.1}, "lr"), ({"estimator": "uniform"}, "estimator"), ({"clip": (1.0, 0.0)}, "clip")],
)
def test_bad_fw_black_options_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        FWBlack(space=Box(-1, 1, dim=3), **kw)


# -- schedules (section 4.2 table) -------------------------------------------------------------
@pytest.mark.parametrize("t", [0, 7, 992])
def test_schedule_table(t):
    d, m, s = 100, 10, t + 8.0
    box = Box(-1, 1, dim=d)
    g, r, c = ZOFrankWolfe(estimator="kwsa", mu_scale=1.0, space=box).schedule(t, d)
    assert g == pytest.approx(2 / (t + 9)) and r == pytest.approx(min(1.0, 4 / s ** (2 / 3)))
    assert c == pytest.approx(2 / (d**0.5 * s ** (1 / 3)))
    _, r, c = ZOFrankWolfe(estimator="rdsa", mu_scale=1.0, space=box).schedule(t, d)
    assert r == pytest.approx(min(1.0, 4 / (d ** (1 / 3) * s ** (2 / 3))))
    assert c == pytest.approx(2 / (d**1.5 * s ** (1 / 3)))
    _, r, c = ZOFrankWolfe(estimator="irdsa", q=m, mu_scale=1.0, space=box).schedule(t, d)
    assert r == pytest.approx(min(1.0, 4 / ((1 + d / m) ** (1 / 3) * s ** (2 / 3))))
    assert c == pytest.approx(2 * m**0.5 / (d**1.5 * s ** (1 / 3)))
    # mu_scale multiplies c_t only
    c_default = ZOFrankWolfe(space=box).schedule(t, d)[2]
    assert c_default == pytest.approx(0.1 * 2 / (d**0.5 * s ** (1 / 3)))


# -- one exact step ------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator, n", [("kwsa", 7), ("rdsa", 2), ("irdsa", 4)])
def test_one_step_is_the_sfw_update(estimator, n):
    a = np.array([3.0, -1.0, 0.5, 2.0, -4.0, 1.0])
    f, box = Linear(a), Box(-2.0, 2.0, dim=6)
    s = ZOFrankWolfe(estimator=estimator, q=3, space=box)
    state = s.init(np.full(6, 0.1), Key(4))
    q, state1, metrics = step(s, state, f)
    assert q.n == n and q.tag == estimator
    np.testing.assert_array_equal(q.points[0], np.full(6, 0.1))
    gamma, rho, c = s.schedule(0, 6)
    dirs = np.eye(6) if estimator == "kwsa" else (q.points[1:] - q.points[0]) / c
    if estimator == "kwsa":
        np.testing.assert_allclose(np.abs(q.points[1:] - q.points[0]), c * np.eye(6), atol=1e-15)
        g = a  # the coordinate estimate of a linear function is exact
    else:
        g = (dirs @ a) @ dirs / len(dirs)
    np.testing.assert_allclose(state1.d, rho * g, rtol=1e-6, atol=1e-9)
    v = box.lmo(state1.d)
    np.testing.assert_allclose(state1.x, (1 - gamma) * state.x + gamma * v, rtol=1e-12)
    assert metrics["fw_gap"] == pytest.approx(float(state1.d @ (state.x - v)))
    assert metrics["fw_gap"] > 0 and metrics["gamma"] == pytest.approx(2 / 9)
    assert state1.nfev == n


def test_kwsa_signs_are_random_and_seeded():
    s = ZOFrankWolfe(space=Box(-1, 1, dim=20))
    q1, _ = s.ask(s.init(np.zeros(20), Key(1)))
    q2, _ = s.ask(s.init(np.zeros(20), Key(2)))
    q1b, _ = s.ask(s.init(np.zeros(20), Key(1)))
    np.testing.assert_array_equal(q1.points, q1b.points)
    s1, s2 = np.sign(np.diag(q1.points[1:])), np.sign(np.diag(q2.points[1:]))
    assert set(s1) == {-1.0, 1.0} and not np.array_equal(s1, s2)


# -- feasible finite differences ----------------------------------------------------------------
def test_feasible_steps_box_closed_form_and_backward_side():
    box = Box(0.0, 1.0, dim=3)
    x = np.array([0.995, 0.5, 0.0])
    t = feasible_steps(box, x, np.eye(3), 0.01)
    np.testing.assert_allclose(t, [0.005, 0.01, 0.01])
    s = ZOFrankWolfe(space=box, mu_scale=10.0)  # c_0 = 20 / (sqrt(3) 8^(1/3)) > 1: steps clip
    q, _ = s.ask(s.init(x, Key(0)))
    assert box.contains(q.points)
    disp = q.points[1:] - q.points[0]
    assert np.count_nonzero(disp) == 3  # every coordinate moved, on its feasible side


@pytest.mark.parametrize("space", [Ball(np.zeros(4), 1.0, p=1), Ball(np.zeros(4), 1.0, p=2)])
def test_feasible_steps_bisection_reaches_the_boundary(space):
    x = np.array([0.3, -0.2, 0.1, 0.0])
    dirs = Key(3).numpy().standard_normal((5, 4))
    t = feasible_steps(space, x, dirs, 10.0)
    norms = np.linalg.norm(x + t[:, None] * dirs, ord=space.p, axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-9)
    assert np.all(feasible_steps(space, x, dirs, 1e-3) == 1e-3)


@pytest.mark.parametrize("p", [1, 2])
def test_closed_form_ball_steps_match_generic_bisection(p):
    g = Key(5).numpy()
    space = Ball(g.standard_normal(20), 1.3, p=p)
    generic = type("OnlyProject", (), {"project": staticmethod(space.project)})()
    for _ in range(20):
        y = g.standard_normal(20)
        x = space.center + y / np.linalg.norm(y, ord=p) * 1.3 * g.uniform()
        dirs = g.standard_normal((7, 20)) * (g.uniform(size=(7, 20)) < 0.5)
        c = g.uniform(0.01, 5.0)
        np.testing.assert_allclose(feasible_steps(space, x, dirs, c),
                                   feasible_steps(generic, x, dirs, c), atol=1e-9 * c)


def test_simplex_points_and_iterates_stay_feasible_and_converge():
    c = np.array([0.1, 0.5, 0.2, 0.15, 0.05])

    class Q:
        dim, sense, name = 5, "min", "q"

        def values(self, points, *, key=None):
            return np.sum((np.asarray(points) - c) ** 2, axis=1)

    sx = Simplex(5)
    s = ZOFrankWolfe(space=sx)
    state = s.init(np.full(5, 0.2), Key(0))
    for _ in range(400):
        q, state, _ = step(s, state, Q())
        assert sx.contains(q.points) and sx.contains(state.x)
    assert np.sum((state.x - c) ** 2) < 5e-4  # from 0.125 at the simplex center


# -- R4.1: L1-ball least squares ----------------------------------------------------------------
def least_squares(seed=0, d=100, n=200):
    g = Key(seed).numpy()
    A = g.standard_normal((n, d)) / np.sqrt(n)
    truth = np.zeros(d)
    truth[g.choice(d, 5, replace=False)] = g.standard_normal(5)
    truth /= np.abs(truth).sum()  # on the boundary of the unit L1 ball
    b = A @ truth + 0.01 * g.standard_normal(n)

    class LS:
        dim, sense, name = d, "min", "least_squares"
        data = (A, b)

        def values(self, points, *, key=None):
            r = np.asarray(points) @ A.T - b
            return 0.5 * np.sum(r * r, axis=1)

    ball = Ball(np.zeros(d), 1.0, p=1)
    x, lip = np.zeros(d), np.linalg.norm(A, 2) ** 2
    for _ in range(5000):  # projected gradient: f* (converged to ~1e-12 here)
        x = ball.project(x - A.T @ (A @ x - b) / lip)
    return LS(), ball, float(LS().values(x[None])[0])


def run_r41(estimator, budget, **kw):
    f, ball, fstar = least_squares()
    s = ZOFrankWolfe(estimator=estimator, space=ball, **kw)
    state = s.init(np.zeros(f.dim), Key(0))
    while state.nfev < budget:
        q, state, _ = step(s, state, f)
        assert ball.contains(q.points) and ball.contains(state.x)
    gap0 = float(f.values(np.zeros((1, f.dim)))[0]) - fstar
    return gap0, float(f.values(state.x[None])[0]) - fstar


def test_r41_kwsa_reduces_the_gap_more_than_100x():
    gap0, gap = run_r41("kwsa", 50_500)
    assert gap0 > 0.1 and 0 <= gap < gap0 / 100, (gap0, gap)


@pytest.mark.slow
@pytest.mark.parametrize("estimator, budget, kw", [
    ("kwsa", 50_500, {"mu_scale": 1.0}), ("rdsa", 40_000, {}), ("irdsa", 55_000, {"q": 10}),
])
def test_r41_other_estimators(estimator, budget, kw):
    gap0, gap = run_r41(estimator, budget, **kw)
    assert 0 <= gap < gap0 / 100, (estimator, gap0, gap)


# -- FW-black (section 4.4) -----------------------------------------------------------------------
def test_fw_black_one_step_is_the_momentum_update():
    a = Key(9).numpy().standard_normal(8)
    box = Box(-1, 1, dim=8)
    s = FWBlack(q=4, beta=0.5, lr=0.1, space=box)
    state = s.init(np.zeros(8), Key(1))
    q, state1, metrics = step(s, state, Linear(a))
    assert q.n == 8
    u = (q.points[:4] - state.x) / s.mu
    np.testing.assert_allclose(q.points[4:], state.x - s.mu * u)
    ghat = (u @ a) @ u / 4  # sum_j (L+ - L-) u_j / (2 b delta) for a linear L
    np.testing.assert_allclose(state1.m, 0.5 * ghat, rtol=1e-9)
    np.testing.assert_allclose(state1.x, 0.1 * box.lmo(state1.m))
    assert metrics["gamma"] == 0.1


def test_fw_black_step_decays_after_the_loss_stalls():
    s = FWBlack(q=2, lr=0.2, space=Box(-1, 1, dim=3))
    state = s.init(np.zeros(3), Key(0))
    gammas = []
    for _ in range(8):
        q, state = s.ask(state)
        state, m = s.tell(state, q, np.full(q.n, 2.0))  # a flat loss stalls at once
        gammas.append(m["gamma"])
    assert state.t0 == 4
    np.testing.assert_allclose(gammas, [0.2] * 5 + [0.2 / np.sqrt(k) for k in (2, 3, 4)])


def test_fw_black_sphere_sensing_has_norm_sqrt_d():
    s = FWBlack(q=3, estimator="sphere", space=Box(-1, 1, dim=16))
    q, _ = s.ask(s.init(np.zeros(16), Key(2)))
    u = q.points[:3] / s.mu
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 4.0)


def test_r43_fw_black_targeted_attack_on_a_linear_softmax_classifier():
    g = Key(43).numpy()
    d, k, eps, b = 784, 10, 0.3, 25
    W, x_ori = g.standard_normal((k, d)) / np.sqrt(d), g.uniform(0, 1, d)
    label = int(np.argmax(W @ x_ori))
    target = (label + 1) % k

    class CE:
        dim, sense, name = d, "min", "cross_entropy"

        def values(self, points, *, key=None):
            z = np.asarray(points) @ W.T
            z = z - z.max(axis=1, keepdims=True)
            return np.log(np.exp(z).sum(axis=1)) - z[:, target]

    ball = Ball(x_ori, eps, p=np.inf)
    s = FWBlack(q=b, beta=0.99, lr=0.04, clip=(0.0, 1.0), space=ball)
    state = s.init(x_ori, Key(0))
    loss0 = float(CE().values(x_ori[None])[0])
    for it in range(60):
        q, state, _ = step(s, state, CE())
        assert q.n == 2 * b and state.nfev == 2 * b * (it + 1)
        assert np.max(np.abs(state.x - x_ori)) <= eps + 1e-12
        assert state.x.min() >= 0.0 and state.x.max() <= 1.0
        assert ball.contains(q.points)
    assert float(CE().values(state.x[None])[0]) < loss0 - 1.0
    assert int(np.argmax(W @ state.x)) == target
