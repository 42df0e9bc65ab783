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


def test_signed_coordinate_directions_and_average_keeps_failed_coordinates_at_zero():
    U = estimators.directions("signed_coordinate", Key(3).numpy(), 4, 4)
    np.testing.assert_array_equal(np.abs(U), np.eye(4))
    g = estimators.average(np.array([1.0, np.nan, 2.0, 3.0]), U, "signed_coordinate")
    np.testing.assert_array_equal(g, np.diag(U) * [1.0, 0.0, 2.0, 3.0])


def test_average_drops_failed_terms_and_rescales_the_sphere():
    U = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(estimators.average(np.array([3.0, np.nan, 1.0]), U, "gaussian"),
                               [2.0, 0.5])  # (3 e1 + 1 (1, 1)) / 2
    np.testing.assert_allclose(estimators.average(np.array([3.0, 0.0, 1.0]), U, "sphere"),
                               2 * np.array([4.0, 1.0]) / 3)  # d / q
    assert not estimators.average(np.full(3, np.nan), U, "gaussian").any()


def test_from_key_is_the_keys_stream_and_unknown_kind_is_refused():
    np.testing.assert_array_equal(estimators.from_key("gaussian", Key(5), 2, 3),
                                  Key(5).numpy().standard_normal((2, 3)))
    with pytest.raises(ValueError, match="direction kind"):
        estimators.directions("cauchy", Key(0).numpy(), 1, 2)


def test_torch_directions_independent_per_tensor_and_reproducible():
    torch = pytest.importorskip("torch")
    ts = [torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(4, dtype=torch.float64)]
    a = list(estimators.torch_directions(Key(1), ts))
    b = list(estimators.torch_directions(Key(1), ts))
    assert not torch.equal(a[0], a[1])  # same shape, different noise (one generator, seeded once)
    assert a[2].dtype == torch.float64
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_frank_wolfe_directional_marks_failed_terms_nan():
    from strategies.frank_wolfe import directional

    x = np.zeros(2)
    dirs = np.eye(2)
    pts = np.array([x, x + 0.5 * dirs[0], x - 0.25 * dirs[1]])  # a backward step on u_2
    q = directional(pts, np.array([1.0, 2.0, 1.5]), dirs)
    np.testing.assert_allclose(q, [2.0, -2.0])
    assert np.isnan(directional(pts, np.array([1.0, np.inf, 1.5]), dirs)[0])
