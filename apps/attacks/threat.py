"""Threat models: which perturbations an attack may use (norm ball, target, valid input range).

A :class:`ThreatModel` is the L-inf or L2 ball of radius ``eps`` around the clean image,
intersected with the valid input range ``clip``; untargeted (any other label) or targeted
(``target`` given per image). :meth:`ThreatModel.space` gives the feasible set of the
*perturbation* handed to a strategy, so every queried point satisfies the threat model:

* L-inf: ``Box(max(-eps, lo - x0), min(eps, hi - x0))``: exactly the ball within the range;
* L2: ``Ball(0, eps, p=2)``; the model input is ``clip(x0 + delta)``, and clipping moves each
  pixel toward ``x0`` (which lies in the range), so the input stays in the ball.

With ``reduce = s`` the strategy searches an ``s x s`` perturbation that is upsampled (nearest
neighbour) to the image, the attack-space reduction of ZOO (Chen et al. 2017,
https://arxiv.org/abs/1708.03999) and AutoZOOM (Tu et al. 2019, https://arxiv.org/abs/1805.11770).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.spaces import Ball, Box

__all__ = ["ThreatModel", "check_image", "upsample"]

Array = NDArray[np.float64]
NORMS = ("linf", "l2")


@dataclass(frozen=True)
class ThreatModel:
    """``norm`` ("linf" or "l2"), radius ``eps`` > 0, ``targeted``, valid range ``clip``."""

    norm: str = "linf"
    eps: float = 0.2
    targeted: bool = False
    clip: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) \
                or not math.isfinite(self.eps) or self.eps <= 0:
            raise ConfigError(f"eps must be a finite number > 0, got {self.eps!r}")
        lo, hi = self.clip
        if not lo < hi:
            raise ConfigError(f"clip must be (lo, hi) with lo < hi, got {self.clip!r}")

    def space(self, x0: Array, reduce: int | None = None) -> Box | Ball:
        """The perturbation's feasible set (in the reduced space when ``reduce`` is set)."""
        d = reduce * reduce if reduce else len(x0)
        if self.norm == "l2":
            return Ball(np.zeros(d), float(self.eps), p=2)
        if reduce:
            return Box(-float(self.eps), float(self.eps), dim=d)
        lo, hi = self.clip
        return Box(np.maximum(-self.eps, lo - x0), np.minimum(self.eps, hi - x0))

    def distances(self, x: Array, x0: Array) -> tuple[float, float]:
        """``(L-inf, L2)`` distance of ``x`` from ``x0``."""
        dx = np.asarray(x, dtype=np.float64) - x0
        return float(np.abs(dx).max(initial=0.0)), float(np.linalg.norm(dx))

    def within(self, x: Array, x0: Array, tol: float = 1e-9) -> bool:
        linf, l2 = self.distances(x, x0)
        lo, hi = self.clip
        inside = bool(np.all(x >= lo - tol) and np.all(x <= hi + tol))
        return inside and (linf if self.norm == "linf" else l2) <= self.eps + tol


def check_image(image: Any, label: Any, dim: int | None = None, classes: int | None = None,
                clip: tuple[float, float] = (0.0, 1.0)) -> tuple[Array, int]:
    """Validate one image and its label; returns ``(flat float64 image, label)``."""
    try:
        x = np.asarray(image, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"image must be an array of numbers: {exc}") from None
    if dim is not None and x.size != dim:
        raise ConfigError(f"image has {x.size} values but the model takes {dim} "
                          f"(shape {np.shape(image)})")
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ConfigError("image must be a non-empty array of finite numbers")
    if x.min() < clip[0] - 1e-9 or x.max() > clip[1] + 1e-9:
        raise ConfigError(f"image values must lie in {list(clip)}, got [{x.min():.3g}, {x.max():.3g}]")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0 \
            or (classes is not None and label >= classes):
        raise ConfigError(f"label must be a class index in [0, {classes}), got {label!r}")
    return x, int(label)


def upsample(p: Array, side: int, reduce: int) -> Array:
    """Nearest-neighbour upsampling of ``(n, reduce^2)`` to ``(n, side^2)`` (square images)."""
    rep = -(-side // reduce)
    grid = p.reshape(len(p), reduce, reduce).repeat(rep, axis=1).repeat(rep, axis=2)
    return grid[:, :side, :side].reshape(len(p), side * side)  # type: ignore[no-any-return]
