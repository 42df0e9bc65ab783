"""Every registered oracle: shapes and dtypes, key determinism, its known minimum."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox import ORACLES, Key, OracleSpec
from blackbox.errors import DimensionError
from oracles.functions import noisy

NAMES = ORACLES.names()


@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtype_and_determinism(name):
    f = OracleSpec(name, {"dim": 6}).build()
    assert f.dim == 6 and f.sense in ("min", "max")
    P = Key(0).numpy().standard_normal((9, 6))
    v = f.values(P, key=Key(1))
    assert v.shape == (9,) and v.dtype == np.float64 and np.isfinite(v).all()
    np.testing.assert_array_equal(v, f.values(P, key=Key(1)))
    np.testing.assert_array_equal(v[3:5], f.values(P[3:5], key=Key(1).shifted(3)))
    with pytest.raises(DimensionError, match=r"expects points of shape \(n, 6\)"):
        f.values(np.zeros((2, 5)), key=Key(0))


@pytest.mark.parametrize("name", NAMES)
def test_known_minimum_with_and_without_shift(name):
    for shift in (None, 0.7):
        f = OracleSpec(name, {"dim": 5, "shift": shift}).build()
        at = f.values(f.argmin[None], key=Key(0))[0]
        assert at == pytest.approx(f.minimum, abs=1e-12)
        near = f.argmin + Key(2).numpy().standard_normal((20, 5)) * 0.05
        assert np.all(f.values(near, key=Key(0)) > f.minimum)


def test_noise_depends_on_the_key_and_row_only():
    f = noisy(OracleSpec("sphere", {"dim": 3}).build(), sigma=0.5)
    P = np.zeros((6, 3))
    k = Key(4)
    v = f.values(P, key=k)
    assert np.std(v) > 0.1
    np.testing.assert_array_equal(v, f.values(P, key=k))
    np.testing.assert_array_equal(v[2:], f.values(P[2:], key=k.shifted(2)))  # chunking-invariant
    assert not np.array_equal(v, f.values(P, key=Key(5)))
