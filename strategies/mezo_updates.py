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

from typing import Any

import torch

__all__ = ["tensor_step"]


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
