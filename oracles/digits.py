"""A small CNN on scikit-learn's bundled 8x8 digits: the attack target that needs no download.

:func:`digits_cnn` returns the trained model (``(n, 64)`` pixel intensities in ``[0, 1]`` ->
``(n, 10)`` logits; ``(n, 1, 8, 8)`` inputs are accepted too). The first call trains it (a few
seconds on one CPU core, about 15 s on a busy one: 2 conv layers + 2 dense, Adam, mini-batches, every draw from
``Key(seed)``) and stores the weights under ``$BLACKBOX_CACHE`` (default ``~/.cache/blackbox``);
later calls load them. :func:`digits_data` gives the fixed train/test split (70/30, permuted by
``Key(seed)``), so "the first 100 correctly classified test images" means the same images in
every process. Measured test accuracy with ``seed=0``: about 98% (the test in
``tests/oracles/test_torch_model.py`` asserts >= 95%).

References:
    LeCun et al., "Gradient-based learning applied to document recognition", Proc. IEEE 1998
    (the convolutional architecture); the 8x8 digits set is the UCI optical-recognition set
    shipped with scikit-learn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from blackbox.keys import Key

__all__ = ["DigitsCNN", "cache_dir", "digits_accuracy", "digits_cnn", "digits_data"]

_VERSION = 1  # bump when the architecture or training changes: old cache files are then ignored
_TEST_SHARE = 0.3


class DigitsCNN(torch.nn.Module):
    """conv3x3(16) - ReLU - conv3x3(32) - ReLU - maxpool2 - dense(64) - ReLU - dense(10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = torch.nn.Linear(32 * 4 * 4, 64)
        self.fc2 = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, 1, 8, 8).to(self.conv1.weight.dtype)  # float64 callers too
        x = torch.relu(self.conv1(x))
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)  # (n, 10) logits


def digits_data(split: str = "test", seed: int = 0) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """``(x (n, 64) in [0, 1], y (n,))`` of the fixed 70/30 split ``"train"`` or ``"test"``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    from sklearn.datasets import load_digits

    d = load_digits()
    perm = Key(seed).fold_in(1).numpy().permutation(len(d.target))
    n_test = int(round(_TEST_SHARE * len(perm)))
    idx = perm[:n_test] if split == "test" else perm[n_test:]
    return d.data[idx] / 16.0, d.target[idx].astype(np.int64)


def cache_dir() -> Path:
    """``$BLACKBOX_CACHE`` or ``~/.cache/blackbox``."""
    return Path(os.environ.get("BLACKBOX_CACHE") or Path.home() / ".cache" / "blackbox")


def _train(seed: int, epochs: int = 12, batch: int = 128) -> DigitsCNN:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny layers: one thread is fastest, and fair on shared cores
    try:  # the first call may come from a caller in inference mode: training needs autograd
        with torch.inference_mode(False), torch.enable_grad():
            return _fit(seed, epochs, batch)
    finally:
        torch.set_num_threads(threads)


def _fit(seed: int, epochs: int, batch: int) -> DigitsCNN:
    x, y = digits_data("train", seed)
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y)
    gen = Key(seed).fold_in(2).torch()
    model = DigitsCNN()
    with torch.no_grad():  # He-style init from the run's key
        for p in model.parameters():
            fan_in = p[0].numel() if p.ndim > 1 else p.shape[0]
            p.copy_(torch.randn(p.shape, generator=gen) * np.sqrt(2.0 / fan_in)
                    if p.ndim > 1 else torch.zeros(p.shape))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for a in range(0, len(xt), batch):
            i = order[a:a + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[i]), yt[i]).backward()
            opt.step()
    return model.eval()


def digits_cnn(seed: int = 0, cache: bool = True) -> DigitsCNN:
    """The trained digits CNN (float32, eval mode), from the disk cache when it is there."""
    path = cache_dir() / f"digits_cnn_v{_VERSION}_seed{seed}.pt"
    model = DigitsCNN()
    if cache and path.exists():
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model.eval()
        except Exception:  # noqa: BLE001 - a corrupt or foreign file: train again
            pass
    model = _train(seed)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, path)  # atomic: concurrent first calls never read half a file
    return model


def digits_accuracy(model: Any, seed: int = 0) -> float:
    """Test-split accuracy of ``model`` (logits from ``(n, 64)`` inputs)."""
    x, y = digits_data("test", seed)
    with torch.inference_mode():
        pred = model(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy()
    return float((pred == y).mean())
