"""Key: determinism, independence of derived streams, chunk offsets, serialization."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from blackbox import Key


def test_same_key_same_stream_and_children_differ():
    a = Key(3).numpy().standard_normal(5)
    np.testing.assert_array_equal(a, Key(3).numpy().standard_normal(5))
    streams = [Key(3).fold_in(i).numpy().standard_normal(1000) for i in range(4)]
    streams += [k.numpy().standard_normal(1000) for k in Key(3).split(4)]
    streams.append(Key(4).numpy().standard_normal(1000))
    corr = np.corrcoef(np.array(streams))
    off = corr[~np.eye(len(streams), dtype=bool)]
    assert np.max(np.abs(off)) < 0.15  # independent streams: |r| ~ 1/sqrt(1000)
    assert len({k for k in Key(3).split(4)} | {Key(3).fold_in(i) for i in range(4)}) == 8


def test_shifted_keys_match_unchunked_points():
    k = Key(9).fold_in(2)
    assert [k.shifted(5).fold_in(i) for i in range(3)] == [k.fold_in(5 + i) for i in range(3)]
    assert k.shifted(5).shifted(2).fold_in(1) == k.fold_in(8)


def test_keys_are_values():
    k = Key(1).fold_in(7).shifted(3)
    assert pickle.loads(pickle.dumps(k)) == k and hash(Key.from_json(k.to_json())) == hash(k)
    with pytest.raises(AttributeError):
        k.seed = 2
    with pytest.raises(ValueError, match="seed must be in"):
        Key(-1)
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        Key(1.5)
    assert 0 <= Key(1).integer() < 2**63


def test_torch_generator_is_deterministic():
    torch = pytest.importorskip("torch")
    a = torch.randn(4, generator=Key(2).torch())
    b = torch.randn(4, generator=Key(2).torch())
    assert torch.equal(a, b)


def test_numpy_streams_are_philox_keyed_by_seed_and_path():
    """Key.numpy() skips Philox's entropy draw but must give exactly Philox(key=...)'s stream."""
    for key in (Key(0), Key(7).fold_in(3), Key(2**64 - 1).split(3)[2].fold_in(2**40)):
        ref = np.random.Generator(np.random.Philox(key=key.philox_key()))
        gen = key.numpy()
        np.testing.assert_array_equal(gen.standard_normal((3, 5)), ref.standard_normal((3, 5)))
        assert gen.integers(0, 2**62, 4).tolist() == ref.integers(0, 2**62, 4).tolist()
