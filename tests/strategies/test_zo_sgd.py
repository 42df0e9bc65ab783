"""ZO-SGD: estimator constants (T1.1), the exact expected trajectory (T1.2), update formulas,
ZO-SGD-Cons (T1.5), failed terms, masks, projection and configuration errors."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox import Box, Key, Values
from blackbox.errors import ConfigError
from oracles.functions import Quadratic, Sphere
from strategies import estimators, transforms
from strategies.zo_sgd import ZOSGD


def quad(d=50, seed=0):
    rng = Key(seed).numpy()
    A = rng.standard_normal((d, d))
    return A @ A.T / d + np.eye(d)


@pytest.mark.parametrize("kind,second,err", [("gaussian", lambda d: d + 2, lambda d, q: (d + 1) / q),
                                             ("sphere", lambda d: d, lambda d, q: (d - 1) / q)])
def test_T11_second_moments_central_on_a_quadratic(kind, second, err):
    d, n, q = 50, 100_000, 4
    H = quad(d)
    x = Key(1).numpy().standard_normal(d)
    G = H @ x
    gen = Key(2).numpy()
    U = estimators.directions(kind, gen, n, d)
    # for f = 0.5 x^T H x the central difference is exactly u^T H x, for every mu
    f = lambda P: 0.5 * np.einsum("ij,jk,ik->i", P, H, P)  # noqa: E731
    vals = f(estimators.perturb(x, U, 1e-2, "central"))
    proj = (vals[:n] - vals[n:]) / 2e-2
    np.testing.assert_allclose(proj, U @ G, rtol=1e-6, atol=1e-8)
    scale = d if kind == "sphere" else 1.0
    g = scale * proj[:, None] * U  # (n, d) single-direction estimates
    m2 = np.mean(np.sum(g * g, axis=1)) / (G @ G)
    assert abs(m2 / second(d) - 1) < 0.03
    gq = g.reshape(n // q, q, d).mean(axis=1)
    e = np.mean(np.sum((gq - G) ** 2, axis=1)) / (G @ G)
    assert abs(e / err(d, q) - 1) < 0.03
    np.testing.assert_allclose(g.mean(axis=0), G, atol=0.06 * np.linalg.norm(G))


def test_T12_expected_trajectory_of_zo_sgd_on_half_norm_squared():
    # 200 independent runs of Gaussian central ZO-SGD, d=100, h=1/416, N=1000: E f = 0.7297
    d, runs, steps, h = 100, 200, 1000, 1 / 416
    s = ZOSGD(lr=h, q=1, update="sgd", mu=1e-3)
    f = Quadratic(dim=d)  # 0.5 ||x||^2
    finals = []
    for r in range(runs):
        state = s.init(np.ones(d), Key(r))
        for _ in range(steps):
            qy, state = s.ask(state)
            state, _ = s.tell(state, qy, Values(f.values(qy.points)))
        finals.append(f(state.x))
    assert abs(np.mean(finals) - 0.7297) < 0.04


def test_update_rules_match_their_formulas():
    g = np.array([0.5, -2.0, 0.0])
    st = transforms.sgd().init(3)
    np.testing.assert_allclose(transforms.sgd().update(g, st, 0.1)[0], 0.1 * g)
    np.testing.assert_allclose(transforms.sign().update(g, (), 0.1)[0], [0.1, -0.1, 0.0])
    mom = transforms.momentum(0.9)
    s = mom.init(3)
    step1, s = mom.update(g, s, 0.1)
    step2, s = mom.update(g, s, 0.1)
    np.testing.assert_allclose(step2, 0.1 * (0.9 * g + g))
    ad = transforms.adam(0.9, 0.999, 1e-8)
    s = ad.init(3)
    step, s = ad.update(g, s, 0.1)  # first step: mhat = g, vhat = g^2 -> lr * sign(g)
    np.testing.assert_allclose(step, 0.1 * g / (np.abs(g) + 1e-8))
    step, s = ad.update(2 * g, s, 0.1)
    m = 0.9 * 0.1 * g + 0.1 * 2 * g
    v = 0.999 * 0.001 * g**2 + 0.001 * 4 * g**2
    np.testing.assert_allclose(step, 0.1 * (m / (1 - 0.81)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8))
    assert transforms.schedule("inv_sqrt", 1.0, 3) == 0.5
    assert transforms.schedule("cosine", 1.0, 5, 10) == pytest.approx(0.5)


def test_a_step_equals_the_estimate_and_the_update():
    s = ZOSGD(lr=0.05, q=3, update="sgd", mu=1e-3)
    f = Quadratic(dim=4, cond=10.0)
    state = s.init(np.ones(4), Key(5))
    qy, state = s.ask(state)
    assert qy.n == 6 and qy.tag == "grad"
    vals = f.values(qy.points)
    new, m = s.tell(state, qy, Values(vals))
    U = state.U
    g = ((vals[:3] - vals[3:]) / 2e-3) @ U / 3
    np.testing.assert_allclose(new.x, np.ones(4) - 0.05 * g)
    assert m["grad_norm"] == pytest.approx(np.linalg.norm(g))


def test_coordinate_estimator_is_exact_on_a_quadratic_and_honours_the_mask():
    f = Quadratic(dim=5, cond=7.0)
    x = np.linspace(-1, 1, 5)
    U = estimators.directions("coordinate", Key(0).numpy(), 1, 5)
    g = estimators.combine(f.values(estimators.perturb(x, U, 1e-3, "central")), U, 1e-3, "central",
                           "coordinate")
    np.testing.assert_allclose(g, f.gradient(x), rtol=1e-7)
    s = ZOSGD(estimator="coordinate", coord_mask=(1, 3), update="sgd", lr=0.1)
    state = s.init(x, Key(0))
    qy, state = s.ask(state)
    assert qy.n == 4
    new, _ = s.tell(state, qy, Values(f.values(qy.points)))
    moved = np.flatnonzero(new.x != x)
    assert set(moved) <= {1, 3} and len(moved) == 2


def test_failed_terms_are_dropped():
    U = np.eye(3)
    vals = np.array([1.0, np.inf, 3.0, 0.0, 0.0, 1.0])
    g = estimators.combine(vals, U, 0.5, "central", "gaussian")
    np.testing.assert_allclose(g, np.array([1.0, 0, 2.0]) / 2)
    assert not np.any(estimators.combine(np.full(6, np.inf), U, 0.5, "central", "gaussian"))


def test_T15_conservative_never_increases_f():
    f = Sphere(dim=20)
    s = ZOSGD(update="conservative", lr=0.02, q=1)
    state = s.init(np.ones(20), Key(3))
    prev, moves = f(state.x), 0
    for _ in range(200):
        qy, state = s.ask(state)
        state, m = s.tell(state, qy, Values(f.values(qy.points)))
        if qy.tag == "cons":
            assert qy.n == 3 and f(state.x) <= prev
            prev = f(state.x)
            moves += m["moved"]
    assert moves > 10 and prev < 10.0


def test_projection_keeps_iterates_feasible():
    box = Box(0.5, 2.0, dim=3)
    s = ZOSGD(space=box, update="sgd", lr=0.2)
    state = s.init(np.full(3, 1.0), Key(0))
    for _ in range(50):
        qy, state = s.ask(state)
        assert box.contains(qy.points)
        state, _ = s.tell(state, qy, Values(Sphere(dim=3).values(qy.points)))
        assert box.contains(state.x)
    np.testing.assert_allclose(state.x, 0.5, atol=1e-6)


@pytest.mark.parametrize("kw,msg", [({"lr": 0}, "ZOSGD.lr must be a finite number > 0"),
                                    ({"q": 0}, "ZOSGD.q must be an int >= 1"),
                                    ({"estimator": "uniform"}, "ZOSGD.estimator must be"),
                                    ({"update": "rmsprop"}, "ZOSGD.update must be one of"),
                                    ({"schedule": "cosine"}, "needs schedule_steps")])
def test_bad_config_names_the_field(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        ZOSGD(**kw)
