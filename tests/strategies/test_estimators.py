"""Estimator building blocks (ALGORITHMS §1.1-1.4): batch layout, scaling, failed terms, masks."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox import Key
from strategies import estimators


def test_directions_shapes_and_norms():
    gen = Key(0).numpy()
    assert estimators.directions("gaussian", gen, 7, 5).shape == (7, 5)
    S = estimators.directions("sphere", gen, 7, 5)
    np.testing.assert_allclose(np.linalg.norm(S, axis=1), 1.0)
    C = estimators.directions("coordinate", gen, 1, 4, np.array([2, 0]))
    np.testing.assert_array_equal(C, [[0, 0, 1, 0], [1, 0, 0, 0]])


def test_batch_layout_forward_and_central():
    x = np.array([1.0, 2.0])
    U = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    F = estimators.perturb(x, U, 0.5, "forward")
    np.testing.assert_array_equal(F, [[1, 2], [1.5, 2], [1, 2.5], [1.5, 2.5]])  # x first, shared
    C = estimators.perturb(x, U, 0.5, "central")
    np.testing.assert_array_equal(C, [[1.5, 2], [1, 2.5], [1.5, 2.5], [0.5, 2], [1, 1.5], [0.5, 1.5]])


@pytest.mark.parametrize("kind,scale", [("gaussian", 1.0), ("sphere", 3.0)])
def test_forward_combine_formula_and_sphere_scaling(kind, scale):
    U = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    vals = np.array([1.0, 1.5, 0.0])  # f(x), f(x + mu u1), f(x + mu u2)
    g = estimators.combine(vals, U, 0.5, "forward", kind)
    np.testing.assert_allclose(g, scale * np.array([1.0, -2.0, 0.0]) / 2)


def test_forward_failed_terms_and_failed_base():
    U = np.array([[1.0, 0], [0, 1.0]])
    g = estimators.combine(np.array([1.0, np.inf, 2.0]), U, 1.0, "forward", "gaussian")
    np.testing.assert_allclose(g, [0.0, 1.0])  # one term left, averaged over 1
    assert not np.any(estimators.combine(np.array([np.inf, 1.0, 2.0]), U, 1.0, "forward", "gaussian"))


def test_coordinate_failed_coordinate_reads_zero_and_forward_cge_is_d_plus_1():
    U = estimators.directions("coordinate", Key(0).numpy(), 1, 3)
    assert estimators.perturb(np.zeros(3), U, 1e-3, "forward").shape == (4, 3)
    vals = np.array([1.0, np.inf, 3.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(estimators.combine(vals, U, 0.5, "central", "coordinate"), [1.0, 0.0, 2.0])
