"""Update rules as pure transforms (optax's ``GradientTransformation`` pattern) and schedules.

A :class:`Transform` is a pair of pure functions ``init(d) -> state`` and
``update(g, state, lr) -> (step, state)``; the iterate moves by ``x <- x - step``. States are
tuples of read-only arrays, so strategies stay pure.

References:
    Kingma, Ba, "Adam: a method for stochastic optimization", ICLR 2015, arXiv 1412.6980.
    Liu et al., "signSGD via zeroth-order oracle", ICLR 2019 (ZO-signSGD).
    Zhang et al., "Revisiting zeroth-order optimization for memory-efficient LLM fine-tuning: a
    benchmark" (ZO-Bench), ICML 2024, arXiv 2402.11592 (ZO-SGD-MMT, ZO-Adam, ZO-SGD-Sign).
    Babuschkin et al., optax, github.com/google-deepmind/optax (the design).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError

__all__ = ["Transform", "adam", "chain", "momentum", "schedule", "sgd", "sign"]

Array = NDArray[np.float64]


class Transform(NamedTuple):
    init: Callable[[int], tuple[Any, ...]]
    update: Callable[[Array, tuple[Any, ...], float], tuple[Array, tuple[Any, ...]]]


def _ro(a: Array) -> Array:
    a.setflags(write=False)
    return a


def sgd() -> Transform:
    """``step = lr * g``."""
    return Transform(lambda d: (), lambda g, s, lr: (lr * g, s))


def momentum(beta: float = 0.9) -> Transform:
    """Heavy ball as ``torch.optim.SGD(momentum=beta)``: ``m <- beta m + g``; ``step = lr m``."""

    def update(g: Array, s: tuple[Any, ...], lr: float) -> tuple[Array, tuple[Any, ...]]:
        m = _ro(beta * s[0] + g)
        return lr * m, (m,)

    return Transform(lambda d: (_ro(np.zeros(d)),), update)


def adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adam with bias correction: ``step = lr mhat / (sqrt(vhat) + eps)``."""

    def update(g: Array, s: tuple[Any, ...], lr: float) -> tuple[Array, tuple[Any, ...]]:
        m, v, t = s
        t = t + 1
        m = _ro(b1 * m + (1 - b1) * g)
        v = _ro(b2 * v + (1 - b2) * g * g)
        mhat = m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        return lr * mhat / (np.sqrt(vhat) + eps), (m, v, t)

    return Transform(lambda d: (_ro(np.zeros(d)), _ro(np.zeros(d)), 0), update)


def sign() -> Transform:
    """ZO-signSGD: ``step = lr sign(g)``."""
    return Transform(lambda d: (), lambda g, s, lr: (lr * np.sign(g), s))


def chain(*transforms: Transform) -> Transform:
    """Apply transforms in turn, each to the previous one's step (``lr`` is applied once, last)."""

    def init(d: int) -> tuple[Any, ...]:
        return tuple(t.init(d) for t in transforms)

    def update(g: Array, s: tuple[Any, ...], lr: float) -> tuple[Array, tuple[Any, ...]]:
        out, new = g, []
        for i, (t, st) in enumerate(zip(transforms, s)):
            out, st = t.update(out, st, lr if i == len(transforms) - 1 else 1.0)
            new.append(st)
        return out, tuple(new)

    return Transform(init, update)


def schedule(name: str, lr: float, t: int, total: int | None = None) -> float:
    """The step size at step ``t`` (0-based): constant, inv_sqrt ``lr / sqrt(1 + t)``, or cosine
    decay to 0 over ``total`` steps."""
    if name == "constant":
        return lr
    if name == "inv_sqrt":
        return lr / math.sqrt(1.0 + t)
    if name == "cosine":
        if not total:
            raise ConfigError("schedule 'cosine' needs schedule_steps (the total number of steps)")
        return lr * 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total))
    raise ConfigError(f"schedule must be 'constant', 'inv_sqrt' or 'cosine', got {name!r}")
