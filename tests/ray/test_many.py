"""run_many: local and Ray give the same results, streaming, backpressure, errors, two nodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from blackbox.errors import ConfigError, RemoteOracleError
from blackbox.many import RunSpec, run_many
from blackbox.oracle import OracleSpec
from blackbox.runner import minimize
from oracles.functions import Sphere

HERE = os.path.dirname(os.path.abspath(__file__))


def _runs(n=4, dim=3, budget=300):
    return [RunSpec(OracleSpec("sphere", {"dim": dim}), "random_search", np.ones(dim), seed=s,
                    budget=budget) for s in range(n)]


def test_local_runs_in_order_with_ids_and_equal_minimize():
    results = list(run_many(_runs(3)))
    assert [r.run_id for r in results] == [0, 1, 2]
    for s, r in enumerate(results):
        ref = minimize(Sphere(3), "random_search", np.ones(3), seed=s, budget=300)
        np.testing.assert_array_equal(r.x, ref.x)
        assert r.fun == ref.fun
    assert len({r.fun for r in results}) == 3  # the seeds differ


def test_bad_run_lists_raise_config_error_before_running():
    with pytest.raises(ConfigError, match=r"runs\[1\] must be a RunSpec"):
        run_many([_runs(1)[0], {"oracle": "sphere"}])
    with pytest.raises(ConfigError, match=r"runs\[0\].budget"):
        run_many([RunSpec(Sphere(2), "random_search", np.ones(2))])
    with pytest.raises(ConfigError, match="distinct"):
        run_many([RunSpec(Sphere(2), "random_search", np.ones(2), budget=5, run_id="a")] * 2)
    with pytest.raises(ConfigError, match="backend"):
        run_many(_runs(1), backend="dask")
    with pytest.raises(ConfigError, match="max_in_flight"):
        run_many(_runs(1), backend="ray", max_in_flight=0)


@pytest.mark.ray
def test_ray_streams_the_same_results_as_local(ray_session):
    runs = [RunSpec(r.oracle, r.strategy, r.x0, seed=r.seed, budget=r.budget, run_id=f"s{r.seed}")
            for r in _runs(4)]
    local = {r.run_id: r for r in run_many(runs)}
    remote = {r.run_id: r for r in run_many(runs, backend="ray", max_in_flight=2)}
    assert set(remote) == {"s0", "s1", "s2", "s3"}
    for rid, r in remote.items():
        np.testing.assert_array_equal(r.x, local[rid].x)
        assert r.fun == local[rid].fun and r.nfev == local[rid].nfev
    assert ray_session.is_initialized()


@pytest.mark.ray
def test_ray_backpressure_submits_at_most_max_in_flight(ray_session, tmp_path):
    runs = [RunSpec(OracleSpec("ray_helpers:NodeSphere",
                               {"dim": 2, "marker_dir": str(tmp_path), "run": i}),
                    "random_search", np.ones(2), seed=i, budget=50) for i in range(4)]
    it = run_many(runs, backend="ray", max_in_flight=1)
    first = next(it)
    assert first.run_id == 0  # with one run in flight, results come in submission order
    assert sorted(os.listdir(tmp_path)) == ["started_0"]  # nothing else was submitted yet
    rest = list(it)
    assert [r.run_id for r in rest] == [1, 2, 3]
    assert len(os.listdir(tmp_path)) == 4


@pytest.mark.ray
def test_ray_run_that_fails_raises_remote_error(ray_session):
    runs = [RunSpec(OracleSpec("ray_helpers:Raising"), "random_search", np.zeros(3), budget=20,
                    run_id="bad")]
    with pytest.raises(RemoteOracleError, match="run 'bad' failed") as info:
        list(run_many(runs, backend="ray"))
    assert "_inner_failure" in info.value.remote_traceback


@pytest.mark.ray
def test_ray_bad_input_inside_a_run_is_a_config_error(ray_session):
    runs = [RunSpec(OracleSpec("sphere", {"dim": 3}), "random_search", np.ones(5), budget=20)]
    with pytest.raises(ConfigError):
        list(run_many(runs, backend="ray"))


@pytest.mark.ray
@pytest.mark.slow
def test_two_node_cluster_runs_on_both_nodes():
    """A simulated two-node cluster: its own Ray, in a subprocess (no fight with the shared one)."""
    env = {**os.environ, "RAY_ADDRESS": ""}
    proc = subprocess.run([sys.executable, os.path.join(HERE, "two_node_cluster.py")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    out = json.loads(line)
    assert len(out["nodes"]) == 2
    used = {r["node"] for r in out["runs"].values()}
    assert used == set(out["nodes"])  # both nodes ran runs
    assert out["ray_up"]  # run_many did not shut down the cluster it joined
    for s in range(4):
        ref = minimize(Sphere(3), "random_search", np.ones(3), seed=s, budget=300)
        r = out["runs"][f"r{s}"]
        assert r["x"] == ref.x.tolist() and r["fun"] == ref.fun and r["nfev"] == ref.nfev
