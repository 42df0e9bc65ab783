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

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from blackbox.errors import ConfigError
from blackbox.options import OneOf, Range, check_names, check_options, option, translate

__all__ = ["UPDATES", "MeZOSettings", "tensor_step"]

UPDATES = ("sgd", "momentum", "adam", "sign", "conservative")


_POS = Range(0, None, lo_open=True)
_UNIT = Range(0, 1, hi_open=True)


@dataclass(frozen=True)
class MeZOSettings:
    """MeZO's options, declared once (checked by :func:`blackbox.options.check_options`)."""

    paper: ClassVar[str] = "Malladi et al., NeurIPS 2023, arXiv 2305.17333; ZO-Bench, arXiv 2402.11592"
    aliases: ClassVar[dict[str, str]] = {"eps": "mu", "n": "q", "momentum": "beta"}

    lr: float = option(1e-6, _POS, "step size", paper="eta")
    mu: float = option(1e-3, _POS, "perturbation radius", paper="epsilon")
    q: int = option(1, Range(1, integer=True), "seeds (directions) per step, n-SPSA", paper="n")
    difference: str = option("central", OneOf(("central", "forward")),
                             "central (2q forward passes) or forward (q + 1)")
    update: str = option("sgd", OneOf(UPDATES), "update rule")
    beta: float = option(0.9, _UNIT, "momentum (update='momentum')", paper="beta")
    adam_b1: float = option(0.9, _UNIT, "Adam's first-moment decay", paper="beta_1")
    adam_b2: float = option(0.999, _UNIT, "Adam's second-moment decay", paper="beta_2")
    adam_eps: float = option(1e-8, _POS, "Adam's epsilon", paper="epsilon")
    weight_decay: float = option(0.0, Range(0), "L2 decay, not on bias/layer-norm tensors")
    restore: str = option("auto", OneOf(("auto", "inplace", "copy", "master")),
                          "how theta is restored after the perturbed passes")

    def __post_init__(self) -> None:
        check_options(self, "MeZO")
        if self.weight_decay and self.update == "conservative":
            raise ConfigError("MeZO.weight_decay must be 0 with update='conservative' "
                              "(ZO-Bench's rule has none)")

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> MeZOSettings:
        """The settings from MeZO's keyword arguments; old names (``eps``, ``n``, ``momentum``,
        ``betas``) are accepted with a DeprecationWarning."""
        kwargs = dict(kwargs)
        if "betas" in kwargs:
            warnings.warn("MeZO: option 'betas' is renamed 'adam_b1', 'adam_b2'; the old name "
                          "goes away in the next release", DeprecationWarning, stacklevel=4)
            kwargs["adam_b1"], kwargs["adam_b2"] = kwargs.pop("betas")
        kwargs = translate(cls, kwargs, stacklevel=4, owner="MeZO")
        check_names(cls, kwargs, "MeZO")
        return cls(**kwargs)


def tensor_step(update: str, theta: torch.Tensor, g: torch.Tensor, buf: Any, lr: float,
                beta: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
                adam_eps: float = 1e-8) -> Any:
    """Apply one update to ``theta`` in place; returns the new buffer (``None`` for plain moves)."""
    if update == "momentum":
        buf = g if buf is None else buf.mul_(beta).add_(g)
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
