"""Smoke test of the parallel benchmark (quick mode): shape of the report, no timing assertions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.bench import parallel
from blackbox.keys import Key


def test_busy_oracle_values_are_the_sphere():
    pts = np.array([[1.0, 2.0], [0.0, -3.0]])
    o = parallel.BusyOracle(dim=2, ms=0.1)
    np.testing.assert_array_equal(o.values(pts, key=Key(0)), [5.0, 9.0])


def test_seed_directions_oracle_regenerates_the_same_directions():
    a = parallel.SeedDirectionsOracle(q=3, big=50, seed=1)
    b = parallel.SeedDirectionsOracle(q=3, big=50, seed=1)
    pts = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(a.values(pts, key=Key(0)), b.values(pts, key=Key(5)))
    assert a.values(np.zeros((1, 3)), key=Key(0))[0] == pytest.approx(1.0)  # ||1||^2 / big


@pytest.mark.ray
def test_quick_run_reports_every_measurement(ray_session):
    res = parallel.run(quick=True)
    json.dumps(res)  # JSON-serializable
    assert set(res) >= {"speedup", "overhead", "run_many", "seeds_not_vectors"}
    assert res["speedup"]["seconds_w1"] > 0 and res["speedup"]["seconds_w2"] > 0
    assert res["run_many"]["same_results"] is True
    s = res["seeds_not_vectors"]
    assert s["bytes_per_step_vectors"] == s["points_per_step"] * s["big_dim"] * 8
    assert s["bytes_per_step_seeds"] < s["bytes_per_step_vectors"] / 100
    assert ray_session.is_initialized()  # the benchmark did not shut down the shared Ray
