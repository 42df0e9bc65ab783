"""Spaces: closed-form LMO values (R4.2), projections (feasible, idempotent, closest), errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from blackbox import Ball, Box, Key, Simplex
from blackbox.errors import ConfigError, DimensionError
from blackbox.spaces import as_space

D = 6
finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
vectors = arrays(np.float64, D, elements=finite)


def spaces():
    g = Key(0).numpy()
    c = g.standard_normal(D)
    return [
        Box(-1.0, 2.0, dim=D),
        Box(g.uniform(-3, 0, D), g.uniform(0.1, 3, D)),
        Ball(c, 0.7, p=np.inf),
        Ball(c, 1.5, p=1),
        Ball(c, 2.0, p=2),
        Simplex(D),
    ]


SPACES = spaces()
IDS = ["box", "box_vec", "linf", "l1", "l2", "simplex"]


# -- R4.2: LMO closed-form minimal values ----------------------------------------------------------
def gradients():
    g = Key(1).numpy().standard_normal((50, D))
    g[0] = 0.0
    g[1] = [3.0, -3.0, 0.0, 1.0, -1.0, 2.0]  # ties in |g|
    return g


def test_lmo_linf_ball():
    c, eps = np.arange(D, dtype=float), 0.3
    G = gradients()
    v = Ball(c, eps, p=np.inf).lmo(G)
    np.testing.assert_allclose(np.sum(G * (v - c), axis=1), -eps * np.abs(G).sum(1), atol=1e-12)


def test_lmo_l1_ball():
    c, r = np.ones(D), 1.7
    G = gradients()
    v = Ball(c, r, p=1).lmo(G)
    np.testing.assert_allclose(np.sum(G * (v - c), axis=1), -r * np.abs(G).max(1), atol=1e-12)
    assert np.all(np.count_nonzero(v[2:] - c, axis=1) == 1)  # a vertex: one coordinate moves


def test_lmo_l2_ball():
    c, r = -np.ones(D), 0.4
    G = gradients()
    v = Ball(c, r, p=2).lmo(G)
    np.testing.assert_allclose(np.sum(G * (v - c), axis=1), -r * np.linalg.norm(G, axis=1),
                               atol=1e-12)
    np.testing.assert_array_equal(v[0], c)  # g = 0 -> the center


def test_lmo_simplex_and_box():
    G = gradients()
    v = Simplex(D).lmo(G)
    np.testing.assert_allclose(np.sum(G * v, axis=1), G.min(1))
    assert np.all(v.sum(1) == 1.0) and set(np.unique(v)) <= {0.0, 1.0}
    lo, hi = np.full(D, -1.0), np.arange(1.0, D + 1)
    vb = Box(lo, hi).lmo(G)
    np.testing.assert_allclose(np.sum(G * vb, axis=1), np.minimum(G * lo, G * hi).sum(1))
    np.testing.assert_array_equal(Box(lo, hi).lmo(np.array([1.0, -1, 0, 2, -2, 0])),
                                  [-1.0, 2.0, 3.0, -1.0, 5.0, 6.0])


@pytest.mark.parametrize("space", SPACES, ids=IDS)
def test_lmo_is_a_minimizer_over_samples(space):
    gen, G = Key(2).numpy(), gradients()
    V = space.lmo(G)
    assert space.contains(V)
    Y = space.sample(gen, 500)
    assert space.contains(Y)
    assert np.all(np.sum(G * V, axis=1)[:, None] <= G @ Y.T + 1e-12)


@pytest.mark.parametrize("space", SPACES, ids=IDS)
def test_convex_combinations_of_lmo_points_stay_feasible(space):
    gen = Key(3).numpy()
    x = space.project(np.zeros(D))
    for _ in range(200):  # a Frank-Wolfe walk with random gradients, no clipping
        gamma = gen.uniform()
        x = (1 - gamma) * x + gamma * space.lmo(gen.standard_normal(D))
        assert space.contains(x)


# -- projections -----------------------------------------------------------------------------------
@pytest.mark.parametrize("space", SPACES, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(x=vectors)
def test_projection_is_feasible_idempotent_and_closest(space, x):
    p = space.project(x)
    assert p.shape == (D,) and space.contains(p)
    np.testing.assert_allclose(space.project(p), p, atol=1e-9)
    # closest: the variational inequality <x - p, y - p> <= 0 for every feasible y
    Y = np.vstack([space.sample(Key(4).numpy(), 200), space.lmo(np.eye(D)), space.lmo(-np.eye(D))])
    scale = 1 + np.abs(x).max()
    assert np.all((Y - p) @ (x - p) <= 1e-7 * scale**2)
    assert np.linalg.norm(x - p) <= np.min(np.linalg.norm(Y - x, axis=1)) + 1e-9 * scale


@pytest.mark.parametrize("space", SPACES, ids=IDS)
def test_projection_is_batched_and_keeps_inside_points(space):
    X = Key(5).numpy().standard_normal((3, 4, D)) * 5
    P = space.project(X)
    assert P.shape == X.shape
    np.testing.assert_allclose(P[1, 2], space.project(X[1, 2]), atol=1e-12)
    inside = space.sample(Key(6).numpy(), 20)
    np.testing.assert_allclose(space.project(inside), inside, atol=1e-12)


def test_projection_known_values():
    np.testing.assert_allclose(Ball(np.zeros(2), 1.0, p=2).project([3.0, 4.0]), [0.6, 0.8])
    np.testing.assert_allclose(Ball(np.zeros(3), 1.0, p=1).project([2.0, 0.5, 0.0]), [1.0, 0, 0])
    np.testing.assert_allclose(Ball(np.zeros(2), 1.0, p=np.inf).project([3.0, -0.5]), [1.0, -0.5])
    np.testing.assert_allclose(Simplex(3).project([1.0, 1.0, -5.0]), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(Box(0.0, 1.0, dim=2).project([-1.0, 0.25]), [0.0, 0.25])


# -- bad input names the field ---------------------------------------------------------------------
@pytest.mark.parametrize("make, err, field", [
    (lambda: Box(1.0, 0.0, dim=2), ConfigError, "Box.lower"),
    (lambda: Box([0.0, 0.0], [1.0, 1.0, 1.0]), DimensionError, "Box.lower"),
    (lambda: Box(0.0, np.inf, dim=2), ConfigError, "Box.upper"),
    (lambda: Box([[0.0]], [[1.0]]), DimensionError, "Box.lower"),
    (lambda: Ball(np.zeros(2), 0.0), ConfigError, "Ball.radius"),
    (lambda: Ball(np.zeros(2), 1.0, p=3), ConfigError, "Ball.p"),
    (lambda: Ball([np.nan, 0.0], 1.0), ConfigError, "Ball.center"),
    (lambda: Simplex(0), ConfigError, "Simplex.dim"),
    (lambda: as_space(object()), ConfigError, "space"),
    (lambda: as_space(Simplex(3), dim=4), DimensionError, "space has dimension 3"),
])
def test_bad_input_names_the_field(make, err, field):
    with pytest.raises(err, match=field):
        make()


@pytest.mark.parametrize("space", SPACES, ids=IDS)
def test_wrong_dimension_is_refused(space):
    with pytest.raises(DimensionError, match="last dimension"):
        space.project(np.zeros(D + 1))
    with pytest.raises(DimensionError, match="last dimension"):
        space.lmo(np.zeros((2, D - 1)))
