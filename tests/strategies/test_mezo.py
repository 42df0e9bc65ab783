"""MeZO torch mode: T1.3 (seed trick), T1.4 (MeZO = ZO-SGD), T1.5 (conservative), journal, faults."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from blackbox import Budget, Key, minimize
from blackbox.errors import ConfigError, JournalMismatchError
from strategies.mezo import MeZO
from strategies.zo_sgd import ZOSGD

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def mlp(dtype=torch.float32, device="cpu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                            torch.nn.Linear(8, 1))
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return m.to(device=device, dtype=dtype)


def data(dtype=torch.float32, device="cpu", n=64):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, 6, generator=gen)
    y = torch.sin(x.sum(1, keepdim=True))
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def mse(module, batch):
    return torch.nn.functional.mse_loss(module(batch[0]), batch[1])


def snapshot(m):
    return [p.detach().clone() for p in m.parameters()]


def assert_bit_equal(a, b):
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and torch.equal(x, y)


# -- T1.3: the seed trick ------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("restore", ["copy", "master"])
def test_restore_is_bit_exact_with_a_saved_copy(device, dtype, restore):
    m = mlp(dtype, device)
    before = snapshot(m)
    z = MeZO(m, mse, restore=restore, mu=1e-2)
    k = Key(3).fold_in(0)
    z._set(k, 1.0)
    assert not all(torch.equal(p, b) for p, b in zip(m.parameters(), before))  # it moved
    z._set(k, -1.0)
    z._set(None, 0.0)
    assert_bit_equal(snapshot(m), before)


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_restore_drifts_by_rounding_only(device):
    """MeZO's +1, -2, +1 in place: not bit-exact (rounding), within 2 ulp of |theta| + 2 eps |z|."""
    m = mlp(torch.float32, device)
    before = snapshot(m)
    z = MeZO(m, mse, restore="inplace", mu=1e-3)
    k = Key(4)
    zs = [t.clone() for t in z.noise(k)]
    z._set(k, 1.0)
    z._set(k, -1.0)  # theta - 2 eps z
    z._set(k, 0.0)
    tiny = torch.finfo(torch.float32).eps
    for p, b, zz in zip(m.parameters(), before, zs):
        bound = 2 * tiny * (b.abs() + 2e-3 * zz.abs())
        assert torch.all((p - b).abs() <= bound)
    assert z._scale == 0.0


@pytest.mark.parametrize("device", DEVICES)
def test_replayed_update_equals_update_from_stored_z(device):
    m = mlp(torch.float32, device)
    theta = snapshot(m)
    opt = MeZO(m, mse, lr=1e-2, restore="copy", seed=7)
    zs = [t.clone() for t in opt.noise(Key(7).fold_in(0).fold_in(0))]  # step 0, seed 0
    rec = opt.step(data(device=device))
    pg = rec.projected_grads[0]
    expected = [t.add(zz * pg, alpha=-1e-2) for t, zz in zip(theta, zs)]
    assert_bit_equal(snapshot(m), expected)
    assert rec.forwards == 2 and np.isfinite(pg) and pg != 0


def test_equal_shapes_get_different_noise_and_seeds_differ():
    m = mlp()
    opt = MeZO(m, mse, q=2)
    z0 = list(opt.noise(Key(0).fold_in(0)))
    z1 = list(opt.noise(Key(0).fold_in(1)))
    shapes = [tuple(t.shape) for t in z0]
    i, j = shapes.index((8,)), len(shapes) - 1 - shapes[::-1].index((8,))
    assert i != j and not torch.equal(z0[i], z0[j])  # two biases of shape (8,)
    assert all(not torch.equal(a, b) for a, b in zip(z0, z1))
    again = list(opt.noise(Key(0).fold_in(0)))
    assert_bit_equal(z0, again)


# -- T1.4: MeZO = ZO-SGD (q=1, central, SGD) -----------------------------------------------------
def reference_mezo(module, batch, lr, eps, seeds_of_step, steps):
    """MeZO's trainer.py (zo_perturb_parameters / zo_step / zo_update) transliterated."""
    params = [p for p in module.parameters() if p.requires_grad]

    def perturb(key, scale):
        gen = key.fold_in(0).torch("cpu")
        for p in params:
            z = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            p.data = p.data + scale * z * eps

    for t in range(steps):
        key = seeds_of_step(t)
        with torch.no_grad():
            perturb(key, 1)
            lp = float(mse(module, batch))
            perturb(key, -2)
            lm = float(mse(module, batch))
            perturb(key, 1)
            pg = (lp - lm) / (2 * eps)
            gen = key.fold_in(0).torch("cpu")
            for p in params:
                z = torch.randn(p.shape, generator=gen, dtype=p.dtype)
                p.data = p.data - lr * (pg * z)


@pytest.mark.parametrize("update", ["sgd", "momentum"])
def test_mezo_matches_the_reference_trainer(update):
    batch = data(torch.float64)
    ref, ours = mlp(torch.float64), mlp(torch.float64)
    reference_mezo(ref, batch, 1e-2, 1e-3, lambda t: Key(5).fold_in(t).fold_in(0), 25)
    opt = MeZO(ours, mse, lr=1e-2, mu=1e-3, seed=5, update=update, beta=0.0)
    opt.fit([batch], 25, progress=False)
    for a, b in zip(ref.parameters(), ours.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


class _Flat:
    """The MLP's loss as a value oracle over its flattened parameters (float64)."""

    def __init__(self, module, batch):
        self.m, self.batch = module, batch
        self.dim = sum(p.numel() for p in module.parameters())

    def values(self, points, key=None):
        out = []
        for x in points:
            torch.nn.utils.vector_to_parameters(torch.tensor(x), self.m.parameters())
            with torch.no_grad():
                out.append(float(mse(self.m, self.batch)))
        return np.array(out)


class _NumpyNoiseMeZO(MeZO):
    """MeZO drawing z from the framework's numpy stream of ZOSGD (the same directions)."""

    def __init__(self, *a, steps, **kw):
        super().__init__(*a, **kw)
        self._t_of = {self.key.fold_in(t).fold_in(0): t for t in range(steps)}

    def noise(self, key):
        u = self.key.fold_in(self._t_of[key]).numpy().standard_normal((1, sum(p.numel() for p in self.params)))
        off = 0
        for p in self.params:
            yield torch.as_tensor(u[0, off:off + p.numel()]).reshape(p.shape).clone()
            off += p.numel()


def test_mezo_trajectory_equals_zo_sgd_with_the_same_directions():
    batch, steps = data(torch.float64), 30
    torch_model = mlp(torch.float64)
    x0 = torch.nn.utils.parameters_to_vector(torch_model.parameters()).detach().numpy().copy()
    res = minimize(_Flat(mlp(torch.float64), batch),
                   ZOSGD(q=1, lr=1e-2, mu=1e-3, estimator="gaussian", difference="central", update="sgd"),
                   x0, seed=9, budget=Budget(max_steps=steps), progress=False)
    opt = _NumpyNoiseMeZO(torch_model, mse, lr=1e-2, mu=1e-3, seed=9, steps=steps)
    opt.fit([batch], steps, progress=False)
    ours = torch.nn.utils.parameters_to_vector(torch_model.parameters()).detach().numpy()
    np.testing.assert_allclose(ours, res.x, rtol=1e-10, atol=1e-12)
    assert not np.allclose(ours, x0)


# -- T1.5 and the other updates -------------------------------------------------------------------
def test_conservative_never_increases_the_batch_loss():
    m, batch = mlp(), data()
    opt = MeZO(m, mse, lr=0.5, update="conservative", restore="copy", seed=2)  # too large a step
    losses = [float(mse(m, batch).detach())]
    moves = []
    for _ in range(40):
        rec = opt.step(batch)
        moves.append(rec.move)
        assert rec.forwards == 5
        losses.append(float(mse(m, batch).detach()))
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    assert 0 in moves and losses[-1] < losses[0]


@pytest.mark.parametrize("update,lr", [("sgd", 1e-2), ("momentum", 2e-3), ("adam", 1e-2), ("sign", 2e-3)])
def test_each_update_fits_a_small_regression(update, lr):
    m, batch = mlp(), data()
    start = float(mse(m, batch).detach())
    opt = MeZO(m, mse, lr=lr, update=update, seed=0)
    opt.fit([batch], 1500, progress=False)
    assert float(mse(m, batch).detach()) < 0.35 * start
    assert opt.forwards == 3000 and opt.t == 1500


def test_n_spsa_and_forward_differences_count_forward_passes():
    m, batch = mlp(), data()
    assert MeZO(m, mse, q=3).step(batch).forwards == 6
    rec = MeZO(m, mse, q=3, difference="forward").step(batch)
    assert rec.forwards == 4 and len(rec.projected_grads) == 3


def test_half_precision_defaults_to_an_fp32_master_and_trains():
    m, batch = mlp(torch.bfloat16), data(torch.bfloat16)
    opt = MeZO(m, mse, lr=1e-2, seed=0)
    assert opt.restore == "master" and opt._base[0].dtype == torch.float32
    start = float(mse(m, batch).detach())
    opt.fit([batch], 600, progress=False)
    assert float(mse(m, batch).detach()) < 0.6 * start


# -- faults, journal -----------------------------------------------------------------------------
def test_a_nan_loss_skips_the_update_and_restores_theta():
    m, batch = mlp(), data()
    before = snapshot(m)
    calls = []

    def flaky(module, b):
        calls.append(1)
        return torch.tensor(float("nan")) if len(calls) == 2 else mse(module, b)

    rec = MeZO(m, flaky, restore="copy").step(batch)
    assert rec.skipped and rec.forwards == 2
    assert_bit_equal(snapshot(m), before)


def test_a_raising_loss_restores_theta_and_propagates():
    m, batch = mlp(), data()
    before = snapshot(m)
    calls = []

    def boom(module, b):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("model server died")
        return mse(module, b)

    opt = MeZO(m, boom, restore="copy")
    with pytest.raises(RuntimeError, match="server died"):
        opt.step(batch)
    assert_bit_equal(snapshot(m), before)
    assert opt.t == 0 and not opt.history


@pytest.mark.parametrize("update", ["sgd", "adam", "conservative"])
def test_a_killed_run_resumes_from_its_journal_bit_exactly(tmp_path, update):
    batch, path = data(), tmp_path / "mezo.jsonl"
    full = mlp()
    MeZO(full, mse, lr=1e-2, update=update, restore="copy", seed=3).fit([batch], 30, progress=False)

    part = mlp()
    MeZO(part, mse, lr=1e-2, update=update, restore="copy", seed=3, journal=str(path)).fit([batch], 20, progress=False)
    with open(path, "a") as fh:
        fh.write('{"t": 20, "loss": 0.1, "pg"')  # the process died mid-write
    resumed = mlp()  # the initial weights again
    opt = MeZO(resumed, mse, lr=1e-2, update=update, restore="copy", seed=3, journal=str(path))
    assert opt.t == 20 and opt.forwards == 0  # replayed without forward passes
    opt.fit([batch], 30, progress=False)
    assert_bit_equal(snapshot(resumed), snapshot(full))
    lines = path.read_text().splitlines()
    assert len(lines) == 31 and [json.loads(x)["t"] for x in lines[1:]] == list(range(30))


def test_journal_mismatches_are_refused(tmp_path):
    path = str(tmp_path / "j.jsonl")
    MeZO(mlp(), mse, lr=1e-2, journal=path).fit([data()], 3, progress=False)
    with pytest.raises(JournalMismatchError, match="lr"):
        MeZO(mlp(), mse, lr=2e-2, journal=path)
    with pytest.raises(JournalMismatchError, match="initial weights"):
        MeZO(mlp(seed=1), mse, lr=1e-2, journal=path)


@pytest.mark.parametrize("kwargs,match", [
    ({"lr": 0}, "MeZO.lr must be a finite number > 0"),
    ({"mu": float("nan")}, "MeZO.mu"),
    ({"q": 0}, "MeZO.q must be an int >= 1"),
    ({"update": "lion"}, "MeZO.update must be one of"),
    ({"difference": "backward"}, "MeZO.difference"),
    ({"restore": "maybe"}, "MeZO.restore"),
    ({"params": ["nope.weight"]}, "unknown parameters"),
    ({"update": "conservative", "weight_decay": 0.1}, "weight_decay must be 0"),
])
def test_bad_configuration_names_the_field(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MeZO(mlp(), mse, **kwargs)


def test_params_selects_tensors_and_weight_decay_skips_biases():
    m, batch = mlp(), data()
    frozen = snapshot(m)
    opt = MeZO(m, mse, lr=1e-2, params=["4.weight", "4.bias"], weight_decay=0.1)
    assert opt.names == ["4.weight", "4.bias"] and opt.decay == [True, False]
    opt.fit([batch], 5, progress=False)
    after = snapshot(m)
    assert all(torch.equal(a, b) for a, b in zip(after[:4], frozen[:4]))
    assert not torch.equal(after[4], frozen[4])


def test_inplace_mode_keeps_no_parameter_copies():
    m = mlp()
    opt = MeZO(m, mse, lr=1e-2)
    opt.fit([data()], 3, progress=False)
    assert opt.restore == "inplace" and opt._base is None and opt._opt == [None] * len(opt.params)
    assert copy.deepcopy(opt.history[0]).t == 0


@pytest.mark.parametrize("old,new,value", [("eps", "mu", 1e-2), ("n", "q", 2), ("momentum", "beta", 0.5)])
def test_old_option_names_are_deprecated_aliases(old, new, value):
    with pytest.warns(DeprecationWarning, match=f"MeZO: option '{old}' is renamed '{new}'"):
        opt = MeZO(mlp(), mse, **{old: value})
    assert getattr(opt, new) == value
    with pytest.warns(DeprecationWarning, match="'betas' is renamed"):
        assert MeZO(mlp(), mse, betas=(0.8, 0.99)).betas == (0.8, 0.99)
    with pytest.raises(ConfigError, match="unknown option 'lrate' for MeZO"):
        MeZO(mlp(), mse, lrate=1.0)
