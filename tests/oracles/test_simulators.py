"""Simulator and ExecutableSimulator: values, keys, failures as NaN, bad input."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.runner import minimize
from blackbox.spaces import Box
from oracles.simulators import ExecutableSimulator, Simulator

PY = sys.executable
SUM_SQ_ARGS = "import sys; print(sum(float(a) ** 2 for a in sys.argv[1:]))"
SUM_SQ_STDIN = "import sys; print(sum(float(a) ** 2 for a in sys.stdin.read().split()))"


def test_simulator_per_point_batched_and_keys():
    pts = np.array([[1.0, 2.0], [3.0, -1.0]])
    per = Simulator(lambda x: float(x @ x), dim=2)
    np.testing.assert_array_equal(per.values(pts, key=Key(0)), [5.0, 10.0])
    bat = Simulator(lambda p: (p ** 2).sum(axis=1), dim=2, batched=True)
    np.testing.assert_array_equal(bat.values(pts, key=Key(0)), [5.0, 10.0])

    def with_key(x, key):
        return key.fold_in(0).numpy().standard_normal()

    keyed = Simulator(with_key, dim=2)
    got = keyed.values(pts, key=Key(4))
    assert got.tolist() == [Key(4).fold_in(i).fold_in(0).numpy().standard_normal() for i in (0, 1)]


def test_simulator_errors_raise_or_become_nan():
    def bad(x):
        if x[0] < 0:
            raise RuntimeError("unstable")
        return float(x[0])

    pts = np.array([[1.0], [-1.0]])
    with pytest.raises(RuntimeError, match="unstable"):
        Simulator(bad, dim=1).values(pts, key=Key(0))
    out = Simulator(bad, dim=1, on_error="nan").values(pts, key=Key(0))
    assert out[0] == 1.0 and np.isnan(out[1])


def test_executable_args_and_stdin_give_correct_values():
    pts = np.array([[1.0, 2.0, 0.5], [0.1, -3.0, 0.0], [1e-3, 2.5, -1.0]])
    expect = (pts ** 2).sum(axis=1)
    a = ExecutableSimulator([PY, "-c", SUM_SQ_ARGS], dim=3, max_workers=2)
    np.testing.assert_allclose(a.values(pts, key=Key(0)), expect, rtol=1e-12)
    s = ExecutableSimulator([PY, "-c", SUM_SQ_STDIN], dim=3, input="stdin")
    np.testing.assert_allclose(s.values(pts, key=Key(0)), expect, rtol=1e-12)
    assert a.last_errors == [] and a.name.startswith("python")


def test_executable_seed_env_is_the_points_key():
    script = "import os; print(int(os.environ['BLACKBOX_SEED']) % 1000003)"
    sim = ExecutableSimulator([PY, "-c", script], dim=1)
    got = sim.values(np.zeros((2, 1)), key=Key(7))
    assert got.tolist() == [float(Key(7).fold_in(i).integer() % 1000003) for i in (0, 1)]


def test_executable_timeout_garbage_and_exit_status_become_nan():
    script = (
        "import sys, time\n"
        "x = float(sys.argv[1])\n"
        "if x == 1: time.sleep(30)\n"
        "elif x == 2: print('not a number')\n"
        "elif x == 3: sys.exit(3)\n"
        "else: print(x * 10)\n"
    )
    sim = ExecutableSimulator([PY, "-c", script], dim=1, timeout=1.5, max_workers=4)
    out = sim.values(np.array([[0.5], [1.0], [2.0], [3.0]]), key=Key(0))
    assert out[0] == 5.0
    assert np.isnan(out[1:]).all()
    errs = "\n".join(sim.last_errors)
    assert "point 1: timeout" in errs and "point 2: unparsable" in errs
    assert "point 3: exit status 3" in errs


def test_missing_program_is_a_nan_failure_counted_by_the_ledger():
    sim = ExecutableSimulator(["/nonexistent/simulator-binary"], dim=2, name="missing")
    res = minimize(sim, "random_search", np.zeros(2), budget=12)
    stats = res.ledger.oracles["missing"]
    assert stats.failures == stats.points == res.nfev > 0
    assert "could not start" in sim.last_errors[0]


def test_executable_in_a_run_counts_failures():
    script = "import sys; x = float(sys.argv[1]); print(x * x if x < 0.05 else 'oops')"
    sim = ExecutableSimulator([PY, "-c", script], dim=1, name="half")
    res = minimize(sim, "random_search", np.zeros(1), budget=12, seed=2,
                   space=Box(-2.0, 2.0, dim=1))
    stats = res.ledger.oracles["half"]
    assert stats.points == res.nfev
    sent = np.concatenate([q.points[:, 0] for q, _ in res.trace.pairs])
    told = np.concatenate([fb.values for _, fb in res.trace.pairs])
    np.testing.assert_array_equal(np.isnan(told), sent >= 0.05)  # failures reach the strategy
    assert stats.failures >= int((sent >= 0.05).sum()) > 0


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"argv": "python sim.py", "dim": 2}, "argv"),
        ({"argv": [], "dim": 2}, "argv"),
        ({"argv": ["x"], "dim": 0}, "dim"),
        ({"argv": ["x"], "dim": 2, "timeout": 0}, "timeout"),
        ({"argv": ["x"], "dim": 2, "input": "file"}, "input"),
        ({"argv": ["x"], "dim": 2, "parse": 3}, "parse"),
        ({"argv": ["x"], "dim": 2, "sense": "maximize"}, "sense"),
        ({"argv": ["x"], "dim": 2, "max_workers": 0}, "max_workers"),
    ],
)
def test_executable_bad_input(kwargs, field):
    argv = kwargs.pop("argv")
    with pytest.raises(ConfigError, match=field):
        ExecutableSimulator(argv, **kwargs)


def test_simulator_bad_input():
    with pytest.raises(ConfigError, match="fn"):
        Simulator(3, dim=2)
    with pytest.raises(ConfigError, match="on_error"):
        Simulator(abs, dim=2, on_error="skip")
    with pytest.raises(ConfigError, match=r"points must have shape \(n, 2\)"):
        Simulator(abs, dim=2).values(np.zeros((1, 3)), key=Key(0))
