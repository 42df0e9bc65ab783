"""TorchModelOracle (CPU) and the attack objectives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from blackbox.errors import ConfigError  # noqa: E402
from blackbox.keys import Key  # noqa: E402
from oracles.torch_model import (  # noqa: E402
    AttackObjective,
    TorchModelOracle,
    attack_objective,
    digits_classifier,
)


def linear_model():
    """A fixed linear map R^5 -> R^3 (logits), the same in every process."""
    lin = torch.nn.Linear(5, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(15, dtype=torch.float32).reshape(3, 5) / 10 - 0.7)
        lin.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    return lin


def sum_of_logits(model, batch):
    return model(batch).sum(dim=1)


class Identity(torch.nn.Module):
    def forward(self, x):
        return x


def test_lazy_build_and_picklable_before_and_after():
    o = TorchModelOracle(linear_model, sum_of_logits, dim=5)
    assert o._model is None
    blob = pickle.dumps(o)
    o.values(np.zeros((2, 5)), key=Key(0))
    assert o._model is not None and o._device == torch.device("cpu")
    assert len(pickle.dumps(o)) == len(blob)  # the built model is never shipped
    assert pickle.loads(pickle.dumps(o))._model is None


def test_batch_equals_per_point_and_chunking_does_not_change_values():
    pts = np.random.default_rng(0).normal(size=(23, 5))
    whole = TorchModelOracle(linear_model, sum_of_logits, dim=5).values(pts, key=Key(0))
    chunked = TorchModelOracle(linear_model, sum_of_logits, dim=5, max_batch=4).values(
        pts, key=Key(0))
    single = TorchModelOracle(linear_model, sum_of_logits, dim=5)
    per_point = np.array([single.values(p[None], key=Key(0))[0] for p in pts])
    assert whole.dtype == np.float64 and whole.shape == (23,)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(per_point, whole, rtol=1e-6, atol=1e-6)
    # the value is the model's, computed in float32
    w = torch.arange(15, dtype=torch.float64).reshape(3, 5) / 10 - 0.7
    ref = (torch.as_tensor(pts) @ w.T + torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)).sum(1)
    np.testing.assert_allclose(whole, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_float64_dtype_and_deterministic_repeat():
    pts = np.random.default_rng(1).normal(size=(6, 5))
    o = TorchModelOracle(linear_model, sum_of_logits, dim=5, dtype="float64")
    a = o.values(pts, key=Key(3))
    np.testing.assert_array_equal(a, o.values(pts, key=Key(3)))


def test_objective_with_key_gets_shifted_chunk_keys():
    seen = []

    def objective(model, batch, *, key):
        seen.append(key)
        return torch.tensor([key.fold_in(i).numpy().standard_normal() for i in range(len(batch))])

    o = TorchModelOracle(Identity, objective, dim=2, max_batch=3)
    vals = o.values(np.zeros((7, 2)), key=Key(9))
    expect = [Key(9).fold_in(i).numpy().standard_normal() for i in range(7)]
    np.testing.assert_allclose(vals, expect, rtol=1e-6)  # per-point randomness, chunk-independent
    assert seen == [Key(9).shifted(0), Key(9).shifted(3), Key(9).shifted(6)]


def test_margin_and_ce_losses_exact():
    z = torch.tensor([[3.0, 1.0, 0.5], [0.0, 2.0, 1.0]])
    m = AttackObjective(0, "margin").loss_from_logits(z)
    np.testing.assert_allclose(m.numpy(), [2.0, 0.0])  # max(z_y - max_other, -kappa), kappa = 0
    assert AttackObjective(0, "margin", kappa=0.5).loss_from_logits(z).tolist() == [2.0, -0.5]
    assert AttackObjective(0, "margin", kappa=np.inf).loss_from_logits(z).tolist() == [2.0, -2.0]
    t = AttackObjective(2, "margin", targeted=True, kappa=np.inf).loss_from_logits(z)
    np.testing.assert_allclose(t.numpy(), [2.5, 1.0])  # max_{j != t} z_j - z_t
    logp = torch.log_softmax(z.double(), 1)
    np.testing.assert_allclose(AttackObjective(0, "ce").loss_from_logits(z).numpy(),
                               logp[:, 0].numpy())  # -CE(z, y) = log p_y
    np.testing.assert_allclose(AttackObjective(1, "ce", targeted=True).loss_from_logits(z).numpy(),
                               -logp[:, 1].numpy())  # CE(z, t)
    hl = AttackObjective(0, hard_label=True).loss_from_logits(z)
    assert hl.tolist() == [1.0, 0.0]  # 0 exactly when the prediction is not y
    hlt = AttackObjective(1, hard_label=True, targeted=True).loss_from_logits(z)
    assert hlt.tolist() == [1.0, 0.0]


def test_attack_objective_perturbation_clip_and_distance():
    x0 = np.array([0.2, 0.9, 0.5])
    obj = attack_objective(0, "margin", x_orig=x0, clip=(0.0, 1.0), distance_weight=2.0)
    delta = torch.tensor([[0.0, 0.5, -0.1]], dtype=torch.float64)
    x = np.clip(x0 + delta.numpy()[0], 0, 1)  # [0.2, 1.0, 0.4]
    got = float(obj(Identity(), delta)[0])
    # margin z_0 - max_other = 0.2 - 1.0 < 0 is clamped at -kappa = 0; plus the distance term
    assert got == pytest.approx(0.0 + 2.0 * np.linalg.norm(x - x0))


def test_digits_attack_oracle_scores_clean_image_as_correct():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    d = load_digits()
    x0, y0 = d.data[0] / 16.0, int(d.target[0])
    o = TorchModelOracle(digits_classifier, attack_objective(y0, x_orig=x0, clip=(0.0, 1.0)),
                         dim=64)
    clean = o.values(np.zeros((1, 64)), key=Key(0))[0]
    assert clean > 0  # correctly classified: the untargeted margin is positive
    hard = TorchModelOracle(digits_classifier, attack_objective(y0, hard_label=True, x_orig=x0),
                            dim=64)
    assert hard.values(np.zeros((1, 64)), key=Key(0))[0] == 1.0


def test_bad_input_raises_config_error():
    with pytest.raises(ConfigError, match="dim"):
        TorchModelOracle(linear_model, sum_of_logits, dim=0)
    with pytest.raises(ConfigError, match="max_batch"):
        TorchModelOracle(linear_model, sum_of_logits, dim=5, max_batch=0)
    with pytest.raises(ConfigError, match="dtype"):
        TorchModelOracle(linear_model, sum_of_logits, dim=5, dtype="int8")
    with pytest.raises(ConfigError, match="device"):
        TorchModelOracle(linear_model, sum_of_logits, dim=5, device="tpu")
    with pytest.raises(ConfigError, match="sense"):
        TorchModelOracle(linear_model, sum_of_logits, dim=5, sense="up")
    with pytest.raises(ConfigError, match="model_factory"):
        TorchModelOracle(None, sum_of_logits, dim=5)
    with pytest.raises(ConfigError, match=r"points must have shape \(n, 5\)"):
        TorchModelOracle(linear_model, sum_of_logits, dim=5).values(np.zeros((2, 4)), key=Key(0))
    with pytest.raises(ConfigError, match="kind"):
        attack_objective(0, "hinge")
    with pytest.raises(ConfigError, match="x_orig"):
        attack_objective(0, distance_weight=1.0)


@pytest.mark.gpu
def test_cuda_auto_device():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    o = TorchModelOracle(linear_model, sum_of_logits, dim=5, memory_fraction=0.25)
    pts = np.random.default_rng(0).normal(size=(9, 5))
    got = o.values(pts, key=Key(0))
    assert o._device.type == "cuda"
    cpu = TorchModelOracle(linear_model, sum_of_logits, dim=5, device="cpu").values(pts, key=Key(0))
    np.testing.assert_allclose(got, cpu, rtol=1e-4, atol=1e-4)


def test_digits_cnn_accuracy_and_shapes():
    pytest.importorskip("sklearn")
    from oracles.digits import digits_accuracy, digits_cnn, digits_data

    model = digits_cnn()  # trained once per machine, then loaded from the cache
    assert digits_accuracy(model) >= 0.95
    x, y = digits_data("test")
    assert x.shape == (539, 64) and x.min() >= 0 and x.max() <= 1 and set(y) == set(range(10))
    xt, _ = digits_data("train")
    assert len(xt) + len(x) == 1797
    assert not {tuple(r) for r in xt[:50]} & {tuple(r) for r in x}  # disjoint split (sample)
    with torch.inference_mode():
        flat = model(torch.as_tensor(x[:3], dtype=torch.float32))
        img = model(torch.as_tensor(x[:3], dtype=torch.float64).reshape(3, 1, 8, 8))
    assert flat.shape == (3, 10)
    torch.testing.assert_close(flat, img)


def test_digits_cnn_cache_trains_once_and_reloads_the_same_weights(tmp_path, monkeypatch):
    import oracles.digits as digits

    monkeypatch.setenv("BLACKBOX_CACHE", str(tmp_path))
    calls = []

    def fake_train(seed):
        calls.append(seed)
        torch_gen = Key(seed).torch()
        m = digits.DigitsCNN()
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=torch_gen))
        return m.eval()

    monkeypatch.setattr(digits, "_train", fake_train)
    a = digits.digits_cnn(seed=4)
    b = digits.digits_cnn(seed=4)
    assert calls == [4]  # the second call loaded the file
    assert list(tmp_path.glob("digits_cnn_v*_seed4.pt"))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    digits.digits_cnn(seed=4, cache=False)
    assert calls == [4, 4]
