"""MeZO's update rules on one tensor at a time (ZO-Bench's optimizers, ALGORITHMS §1.6).

``tensor_step(update, theta, g, buf, lr, ...)`` moves ``theta`` in place by the update of the
gradient estimate ``g`` (which it may consume) and returns the tensor's new optimizer buffer:
``sgd``/``sign``/``conservative`` ``theta -= lr g`` (none); ``momentum`` torch SGD's heavy ball
``b <- beta b + g; theta -= lr b``; ``adam`` torch Adam ``m, v`` with bias correction.

References:
    Zhang et al., ZO-Bench, ICML 2024, arXiv 2402.11592 (``zo-bench/trainer.py``).
    Kingma, Ba, "Adam: a method for stochastic optimization", ICLR 2015, arXiv 1412.6980.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from blackbox.errors import ConfigError

__all__ = ["UPDATES", "check_settings", "tensor_step"]

UPDATES = ("sgd", "momentum", "adam", "sign", "conservative")


def _positive(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ConfigError(f"MeZO.{name} must be a finite number > 0, got {v!r}")
    return float(v)


def check_settings(lr: Any, eps: Any, n: Any, difference: Any, update: Any, momentum: float,
                   betas: tuple[float, float], weight_decay: float) -> tuple[float, float]:
    """Validate MeZO's settings (errors name the field); returns ``(lr, eps)`` as floats."""
    lr, eps = _positive("lr", lr), _positive("eps", eps)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"MeZO.n must be an int >= 1, got {n!r}")
    if difference not in ("central", "forward"):
        raise ConfigError(f"MeZO.difference must be 'central' or 'forward', got {difference!r}")
    if update not in UPDATES:
        raise ConfigError(f"MeZO.update must be one of {UPDATES}, got {update!r}")
    if not 0 <= momentum < 1 or not all(0 <= b < 1 for b in betas):
        raise ConfigError("MeZO.momentum and MeZO.betas must be in [0, 1)")
    if weight_decay < 0:
        raise ConfigError(f"MeZO.weight_decay must be >= 0, got {weight_decay!r}")
    if weight_decay and update == "conservative":
        raise ConfigError("MeZO.weight_decay must be 0 with update='conservative' (ZO-Bench's rule has none)")
    return lr, eps


def tensor_step(update: str, theta: torch.Tensor, g: torch.Tensor, buf: Any, lr: float,
                momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
                adam_eps: float = 1e-8) -> Any:
    """Apply one update to ``theta`` in place; returns the new buffer (``None`` for plain moves)."""
    if update == "momentum":
        buf = g if buf is None else buf.mul_(momentum).add_(g)
        theta.add_(buf, alpha=-lr)
        return buf
    if update == "adam":
        b1, b2 = betas
        m, v, k = buf or (torch.zeros_like(g), torch.zeros_like(g), 0)
        k += 1
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (v / (1 - b2**k)).sqrt_().add_(adam_eps)
        theta.addcdiv_(m, denom, value=-lr / (1 - b1**k))
        return (m, v, k)
    theta.add_(g, alpha=-lr)  # sgd, sign, conservative
    return None
