"""RayEvaluator: same answers as LocalEvaluator, chunking, faults, errors, cluster ownership."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from blackbox.budget import Budget, OracleStats
from blackbox.errors import ConfigError, RemoteOracleError
from blackbox.evaluate import LocalEvaluator
from blackbox.keys import Key
from blackbox.oracle import OracleSpec
from blackbox.query import Query
from blackbox.ray_runner import RayEvaluator, chunk_bounds
from blackbox.registry import STRATEGIES
from blackbox.runner import minimize
from oracles.functions import Sphere, noisy

NOISY = OracleSpec("oracles.functions:noisy", {"oracle": Sphere(6), "sigma": 0.3})


def _points(n: int, d: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


# -- chunking (no Ray needed) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, workers, size, expected",
    [
        (10, 2, None, [(0, 5), (5, 10)]),
        (7, 3, None, [(0, 2), (2, 5), (5, 7)]),
        (3, 4, None, [(0, 3)]),  # never single points: one chunk of 3
        (1, 4, None, [(0, 1)]),
        (10, 2, 4, [(0, 4), (4, 8), (8, 10)]),
        (9, 2, 4, [(0, 4), (4, 9)]),  # a trailing single point is merged into its neighbour
        (0, 2, None, []),
    ],
)
def test_chunk_bounds(n, workers, size, expected):
    assert chunk_bounds(n, workers, size) == expected


def test_chunk_keys_shift_so_points_keep_their_randomness():
    q = Query(_points(5), Key(1).fold_in(7))
    a = q.key.shifted(3)
    assert a.fold_in(1) == q.key.fold_in(4)


# -- answers equal LocalEvaluator ----------------------------------------------------------------
@pytest.mark.ray
@pytest.mark.parametrize("workers, chunk", [(1, None), (2, None), (2, 3)])
def test_values_and_rankings_equal_local(ray_session, workers, chunk):
    local = LocalEvaluator(noisy(Sphere(6), 0.3))
    stats = OracleStats()
    with RayEvaluator(NOISY, workers=workers, chunk_size=chunk, stats=stats) as ev:
        assert (ev.dim, ev.sense, ev.name, ev.can_value, ev.can_rank) == (
            6, "min", local.name, True, True)
        q = Query(_points(11), Key(5).fold_in(2))
        got = ev.evaluate(q)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, local.evaluate(q))  # bit-identical, noise included
        qr = Query(_points(9, seed=1), Key(6), "ranking",
                   groups=np.array([[0, 1, 2, 3], [4, 5, 6, 7]]), top=2)
        np.testing.assert_array_equal(ev.evaluate(qr), local.evaluate(qr))
    assert stats.queries == 2 and stats.points == 20 and stats.failures == 0


@pytest.mark.ray
def test_failures_counted_like_local(ray_session):
    from ray_helpers import Raising  # noqa: F401  (importable by workers)

    spec = OracleSpec("oracles.simulators:Simulator",
                      {"fn": np.log, "dim": 1, "on_error": "nan"})
    stats = OracleStats()
    with RayEvaluator(spec, workers=2, stats=stats) as ev:
        out = ev.evaluate(Query(np.array([[1.0], [-1.0], [0.0], [2.0]]), Key(0)))
    assert np.isnan(out[1]) and out[2] == -np.inf and out[0] == 0.0
    assert stats.failures == 2


STRATS = ["random_search", "cbo", "zo_sgd", "zo_ranksgd", "zo_fw"]


@pytest.mark.ray
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("strategy", STRATS)
def test_minimize_ray_equals_local(ray_session, strategy, workers):
    """Bit-identical runs on Ray and in-process (ranking strategies rank values in the driver)."""
    if strategy not in STRATEGIES:
        pytest.skip(f"strategy {strategy!r} is not registered yet")
    from blackbox.spaces import Box

    cls = STRATEGIES.get(strategy)
    space = Box(-5.0, 5.0, dim=4) if getattr(cls, "requires_space", False) else None
    spec = OracleSpec("oracles.functions:noisy", {"oracle": Sphere(4), "sigma": 0.01})
    kw = dict(x0=np.ones(4), seed=3, budget=Budget(max_queries=400), space=space)
    loc = minimize(spec, strategy, **kw)
    ray_ = minimize(spec, strategy, backend="ray", workers=workers, **kw)
    np.testing.assert_array_equal(ray_.x, loc.x)
    assert ray_.nfev == loc.nfev and ray_.nit == loc.nit
    assert ray_.fun == loc.fun or (np.isnan(ray_.fun) and np.isnan(loc.fun))
    (name,) = loc.ledger.oracles
    assert ray_.ledger.oracles[name].points == loc.ledger.oracles[name].points == loc.nfev
    assert ray_session.is_initialized()  # a Ray we did not start is never shut down


# -- faults and errors ----------------------------------------------------------------------------
@pytest.mark.ray
def test_worker_killed_mid_run_is_replaced_and_counted(ray_session, tmp_path):
    marker = str(tmp_path / "killed")
    spec = OracleSpec("ray_helpers:KillOnce", {"dim": 4, "marker": marker})
    kw = dict(x0=np.ones(4), seed=1, budget=200)
    res = minimize(spec, "random_search", backend="ray", workers=2, **kw)
    assert (tmp_path / "killed").exists()
    ref = minimize(Sphere(4), "random_search", **kw)
    np.testing.assert_array_equal(res.x, ref.x)
    assert res.fun == ref.fun and res.nfev == ref.nfev
    stats = res.ledger.oracles["kill_once"]
    assert stats.retries >= 1
    assert stats.points == res.nfev


@pytest.mark.ray
def test_oracle_that_raises_gives_remote_error_with_traceback(ray_session):
    with RayEvaluator(OracleSpec("ray_helpers:Raising"), workers=2) as ev:
        with pytest.raises(RemoteOracleError) as info:
            ev.evaluate(Query(np.zeros((4, 3)), Key(0)))
    err = info.value
    assert "ZeroDivisionError" in str(err)
    assert "_inner_failure" in err.remote_traceback and "Traceback" in err.remote_traceback


@pytest.mark.ray
def test_oracle_that_cannot_be_built_gives_remote_error(ray_session):
    with pytest.raises(RemoteOracleError, match="cannot build oracle of dim 3") as info:
        RayEvaluator(OracleSpec("ray_helpers:broken_factory", {"dim": 3}), workers=1)
    assert "broken_factory" in info.value.remote_traceback


@pytest.mark.ray
def test_worker_side_ledger_counters_reach_the_driver(ray_session):
    stats = OracleStats()
    with RayEvaluator(OracleSpec("ray_helpers:TokenCounting", {"dim": 2}), workers=2,
                      stats=stats) as ev:
        ev.evaluate(Query(_points(6, 2), Key(0)))
        ev.evaluate(Query(_points(4, 2), Key(1)))
    assert stats.prompt_tokens == 10 and stats.cost == 5.0 and stats.points == 10


@pytest.mark.ray
def test_picklable_oracle_object_and_torch_model_on_actors(ray_session):
    pytest.importorskip("sklearn")
    from oracles.torch_model import TorchModelOracle, attack_objective, digits_classifier

    oracle = TorchModelOracle(digits_classifier, attack_objective(3), dim=64, max_batch=5)
    pts = np.random.default_rng(0).uniform(size=(8, 64))
    with RayEvaluator(oracle, workers=2) as ev:
        got = ev.evaluate(Query(pts, Key(0)))
    assert oracle._model is None  # the driver's copy was never built
    np.testing.assert_allclose(got, oracle.values(pts, key=Key(0)), rtol=1e-6)


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="workers"):
        RayEvaluator(Sphere(2), workers=0)
    with pytest.raises(ConfigError, match="chunk_size"):
        RayEvaluator(Sphere(2), workers=1, chunk_size=0)
    with pytest.raises(ConfigError, match="resources_per_worker"):
        RayEvaluator(Sphere(2), workers=1, resources_per_worker=[1])
    with pytest.raises(ConfigError, match="OracleSpec"):
        RayEvaluator("sphere", workers=1)


@pytest.mark.ray
def test_a_pool_the_cluster_cannot_place_is_refused_not_hung(ray_session):
    with pytest.raises(ConfigError, match=r"workers=3 .* needs 3 CPUs \(cluster has 2\)"):
        RayEvaluator(Sphere(2), workers=3)
    with pytest.raises(ConfigError, match="GPUs"):
        RayEvaluator(Sphere(2), workers=1, resources_per_worker={"num_gpus": 0.5})
    with RayEvaluator(OracleSpec("sphere", {"dim": 2}), workers=4,
                      resources_per_worker={"num_cpus": 0.5}) as ev:
        q = Query(_points(8, 2), Key(0))
        np.testing.assert_array_equal(ev.evaluate(q), Sphere(2).values(q.points))
    assert ray_session.is_initialized()


@pytest.mark.ray
def test_seeds_not_vectors_payload_is_independent_of_the_big_dimension(ray_session):
    from ray_helpers import SeedDirections

    pts = _points(8, 4)
    with RayEvaluator(OracleSpec("ray_helpers:SeedDirections", {"q": 4, "big": 100_000}),
                      workers=2) as ev:
        got = ev.evaluate(Query(pts, Key(0)))
        sent = ev.payload_bytes(Query(pts, Key(0)))
    np.testing.assert_allclose(got, SeedDirections(4, 100_000).values(pts, key=Key(0)))
    assert sent < 3000  # 32 coefficients and two keys, not 8 x 100,000 floats
    assert len(pickle.dumps(pts @ np.ones((4, 100_000)))) > 6_000_000


@pytest.mark.ray
@pytest.mark.gpu
def test_fractional_gpu_actors_share_one_gpu(ray_session):
    if ray_session.cluster_resources().get("GPU", 0) < 1:
        pytest.skip("no GPU in the Ray cluster")
    from oracles.torch_model import TorchModelOracle, attack_objective, digits_classifier

    oracle = TorchModelOracle(digits_classifier, attack_objective(3), dim=64)
    pts = np.random.default_rng(0).uniform(size=(16, 64))
    with RayEvaluator(oracle, workers=2,
                      resources_per_worker={"num_cpus": 0.5, "num_gpus": 0.5}) as ev:
        got = ev.evaluate(Query(pts, Key(0)))
    cpu = TorchModelOracle(digits_classifier, attack_objective(3), dim=64, device="cpu")
    np.testing.assert_allclose(got, cpu.values(pts, key=Key(0)), rtol=1e-4, atol=1e-4)
