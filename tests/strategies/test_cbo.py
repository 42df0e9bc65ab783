"""CBO: CBXpy's unit checks (R3.4) and the Rastrigin success rates (R3.2, R3.1)."""

from __future__ import annotations

import numpy as np
import pytest

from blackbox import Key, Values
from blackbox.errors import ConfigError
from oracles.functions import Rastrigin, Sphere
from strategies.cbo import CBO, consensus, ess_alpha


def run(s: CBO, f, d: int, steps: int, seed: int = 0):
    state = s.init(np.zeros(d), Key(seed))
    for _ in range(steps):
        q, state = s.ask(state)
        state, _ = s.tell(state, q, Values(f.values(q.points)))
    return state


def test_consensus_equals_the_brute_force_weighted_mean():
    gen = Key(0).numpy()
    X = gen.standard_normal((3, 7, 4))
    E = gen.random((3, 7)) * 50
    alpha = np.array([0.5, 10.0, 1e4])
    c = consensus(X, E, alpha)
    for m in range(3):
        w = np.exp(-alpha[m] * (E[m] - E[m].min()))
        np.testing.assert_allclose(c[m], (w[:, None] * X[m]).sum(0) / w.sum(), rtol=1e-12)
    E[1, 2] = np.inf  # a failed evaluation weighs exactly 0
    c2 = consensus(X, E, alpha)
    w = np.exp(-alpha[1] * (E[1] - E[1][np.isfinite(E[1])].min()))
    w[2] = 0.0
    np.testing.assert_allclose(c2[1], (w[:, None] * X[1]).sum(0) / w.sum())


@pytest.mark.parametrize("noise", ["anisotropic", "isotropic"])
def test_one_step_equals_the_euler_maruyama_formula(noise):
    s = CBO(N=6, M=2, noise=noise, sigma=0.8, lamda=1.5, dt=0.1, alpha=2.0, alpha_schedule=None)
    f = Sphere(dim=3, shift=0.5)
    state = s.init(np.ones(3), Key(4))
    q, asked = s.ask(state)
    assert q.n == 12 and q.tag == "particles"
    E = f.values(q.points)
    new, _ = s.tell(asked, q, Values(E))
    X = state.X
    c = consensus(X, E.reshape(2, 6), np.full(2, 2.0))
    drift = X - c[:, None, :]
    xi = asked.noise_key.numpy().standard_normal(drift.shape)
    nz = drift * xi if noise == "anisotropic" else np.linalg.norm(drift, axis=-1, keepdims=True) * xi
    np.testing.assert_allclose(new.X, X - 1.5 * 0.1 * drift + 0.8 * np.sqrt(0.1) * nz, rtol=1e-12)


def test_mini_batches_use_exactly_the_batch_and_walk_a_permutation():
    s = CBO(N=10, M=2, batch_size=4, partial=True, alpha_schedule=None)
    f = Sphere(dim=2)
    state = s.init(np.ones(2), Key(1))
    seen = [set(), set()]
    for step in range(2):
        q, asked = s.ask(state)
        assert q.n == 2 * 4
        for m in range(2):
            np.testing.assert_array_equal(q.points.reshape(2, 4, 2)[m], asked.X[m, asked.batch[m]])
            seen[m] |= set(asked.batch[m].tolist())
        state, met = s.tell(asked, q, Values(f.values(q.points)))
        untouched = np.setdiff1d(np.arange(10), asked.batch[0])
        np.testing.assert_array_equal(state.X[0, untouched], asked.X[0, untouched])
        assert met["evals_per_system"] == 4 * (step + 1)
    assert all(len(s_) == 8 for s_ in seen)  # two batches of a permutation never repeat a particle


def test_heaviside_correction_costs_one_consensus_query_and_gates_the_drift():
    s = CBO(N=5, M=1, correction="heaviside", sigma=1e-12, alpha_schedule=None, alpha=1.0)
    f = Sphere(dim=2)
    state = s.init(np.ones(2), Key(2))
    q1, state1 = s.ask(state)
    mid, _ = s.tell(state1, q1, Values(f.values(q1.points)))
    q2, state2 = s.ask(mid)
    assert q2.tag == "consensus" and q2.n == 1
    new, met = s.tell(state2, q2, Values(f.values(q2.points)))
    assert met["evals_per_system"] == 6
    E = f.values(q1.points)
    still = E <= f.values(q2.points)[0]  # particles better than the consensus do not drift
    np.testing.assert_allclose(new.X[0, still], state.X[0, still], atol=1e-9)
    assert np.all(np.any(new.X[0, ~still] != state.X[0, ~still], axis=-1))


def test_ess_alpha_hits_the_effective_sample_size():
    E = Key(3).numpy().random((4, 50)) * 10
    a = ess_alpha(E, eta=0.5)
    w = np.exp(-a[:, None] * (E - E.min(1, keepdims=True)))
    np.testing.assert_allclose(w.sum(1) ** 2 / (w**2).sum(1), 25, atol=0.5)


def success_rate(state, tol=0.25):
    return float(np.mean(np.max(np.abs(state.best_x), axis=1) < tol))


def test_R32_anisotropic_N20_succeeds_and_isotropic_fails_on_rastrigin_20d():
    f = Rastrigin(dim=20)
    common = dict(M=20, lamda=1.0, alpha=30.0, dt=0.01, alpha_factor=1.05, alpha_max=1e5,
                  init_bounds=(-3.0, 3.0))
    aniso = run(CBO(N=20, noise="anisotropic", sigma=10.1, **common), f, 20, 5000)
    assert success_rate(aniso) >= 0.9
    iso = run(CBO(N=20, noise="isotropic", sigma=0.7, **common), f, 20, 1000)
    assert success_rate(iso) == 0.0


@pytest.mark.slow
def test_R31_cbxpy_documentation_experiment():
    f = Rastrigin(dim=20)
    s = CBO(N=40, M=100, noise="anisotropic", sigma=10.1, lamda=1.0, alpha=30.0, dt=0.01,
            init_bounds=(-3.0, 3.0))
    state = run(s, f, 20, 5000, seed=1)
    assert success_rate(state) >= 0.95
    assert state.evals == 5000 * 40


@pytest.mark.parametrize("kw,msg", [({"N": 0}, "CBO.N must be an int >= 1"),
                                    ({"noise": "gaussian"}, "CBO.noise must be"),
                                    ({"batch_size": 30}, r"CBO.batch_size must be an int in \[1, N=20\]"),
                                    ({"sigma": -1.0}, "CBO.sigma must be a finite number > 0"),
                                    ({"correction": "heavy"}, "CBO.correction must be")])
def test_bad_config_names_the_field(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        CBO(**kw)


def test_ess_schedule_sets_alpha_from_the_step_energies():
    s = CBO(N=30, alpha_schedule="ess", ess_target=0.5)
    f = Rastrigin(dim=4)
    state = s.init(np.ones(4), Key(6))
    q, asked = s.ask(state)
    E = f.values(q.points)
    new, _ = s.tell(asked, q, Values(E))
    w = np.exp(-new.alpha[0] * (E - E.min()))
    assert abs(w.sum() ** 2 / (w**2).sum() - 15) < 0.5
