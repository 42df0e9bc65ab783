"""A decision-based (hard-label) L2 attack in the HopSkipJump style, as an ask/tell strategy.

Every answer it reads is one bit per point: adversarial or not (the values of an
:class:`~apps.attacks.oracle.AttackOracle` in ``"label"`` mode: the distance when adversarial,
``NOT_ADVERSARIAL`` otherwise; a failed query reads as not adversarial). The loop of
HopSkipJumpAttack (Chen, Jordan, Wainwright, IEEE S&P 2020, https://arxiv.org/abs/1904.02144):

1. ``init``: batches of ``init_batch`` uniform random images in the valid range until one is
   adversarial (the closest of the batch is kept);
2. ``bsearch``: bisection on the segment from the clean image to the adversarial point, one
   query per step, to blend precision ``theta = d^{-3/2}``; the adversarial end is the new
   boundary point ``x_t`` at distance ``dist_t``;
3. ``grad``: ``n_t = min(init_evals sqrt(t), max_evals)`` random unit directions ``u_j`` around
   ``x_t`` at radius ``r_t = sqrt(d) theta dist_t``; with ``phi_j = +1`` (adversarial) or
   ``-1``, the boundary normal is ``g = mean((phi_j - mean phi) u_j)`` (the baseline
   subtraction of the paper) and ``g <- g / ||g||``. Each comparison ``phi_j`` is the
   sign feedback ZO-RankSGD builds on (a comparison of ``x_t + r_t u_j`` against the boundary);
4. ``step``: geometric search ``x_t + xi g`` with ``xi = dist_t / sqrt(t)``, halved until the
   point is adversarial, then back to 2.

The best adversarial point (smallest distance) is the recommendation. Points are perturbations
``delta`` in the valid-range box ``space`` (``Box(lo - x0, hi - x0)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from apps.attacks.oracle import NOT_ADVERSARIAL
from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.query import Query
from blackbox.strategy import BaseStrategy, StrategyState

__all__ = ["HopSkipJump", "HopSkipJumpState"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class HopSkipJumpState(StrategyState):
    phase: str  # "init", "bsearch", "grad", "step"
    tgt: Array  # the adversarial end of the bisection
    lo: float
    hi: float
    dist: float  # distance of the current boundary point x
    t: int  # iteration (gradient estimates done + 1)
    U: Array | None  # pending directions (grad)
    radius: float
    xi: float  # current geometric step
    g: Array | None  # the unit boundary normal


@dataclass(frozen=True)
class HopSkipJump(BaseStrategy[HopSkipJumpState]):
    """HopSkipJump (L2, untargeted or targeted through the oracle); see the module docstring.

    Args:
        init_evals: directions of the first gradient estimate (paper: 100).
        max_evals: cap on the directions per estimate (paper: 10,000).
        init_batch: random images per initialisation batch.
        gamma: bisection precision factor, ``theta = gamma d^{-3/2}`` (paper: 1.0).
        max_halvings: geometric-step halvings before a new gradient estimate.
    """

    init_evals: int = 100
    max_evals: int = 10_000
    init_batch: int = 10
    gamma: float = 1.0
    max_halvings: int = 25

    def __post_init__(self) -> None:
        for name in ("init_evals", "max_evals", "init_batch", "max_halvings"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"HopSkipJump.{name} must be an int >= 1, got {v!r}")
        if not (math.isfinite(self.gamma) and self.gamma > 0):
            raise ConfigError(f"HopSkipJump.gamma must be > 0, got {self.gamma!r}")

    def _init(self, x0: Array, key: Key) -> HopSkipJumpState:
        if self.space is None:
            raise ConfigError("HopSkipJump needs a space (the valid-range box of the perturbation)")
        return HopSkipJumpState(**self._base_fields(x0, key), phase="init", tgt=x0, lo=0.0,
                                hi=1.0, dist=math.inf, t=1, U=None, radius=0.0, xi=0.0, g=None)

    def _theta(self, d: int) -> float:
        return self.gamma / (d * math.sqrt(d))

    def _ask(self, s: HopSkipJumpState, key: Key) -> tuple[Query, dict[str, Any]]:
        d = s.x.shape[0]
        if s.phase == "init":
            lo, hi = np.asarray(self.space.lower), np.asarray(self.space.upper)
            pts = lo + key.numpy().random((self.init_batch, d)) * (hi - lo)
            return self._query(pts, key, tag="init"), {}
        if s.phase == "bsearch":
            mid = 0.5 * (s.lo + s.hi)
            return self._query((mid * s.tgt)[None, :], key, tag="bsearch"), {}
        if s.phase == "grad":
            n = min(int(self.init_evals * math.sqrt(s.t)), self.max_evals)
            u = key.numpy().standard_normal((n, d))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            radius = math.sqrt(d) * self._theta(d) * s.dist
            pts = np.asarray(self.space.project(s.x + radius * u))
            return self._query(pts, key, tag="grad"), {"U": (pts - s.x) / radius,
                                                       "radius": radius}
        pts = np.asarray(self.space.project(s.x + s.xi * s.g))[None, :]
        return self._query(pts, key, tag="step"), {}

    def _tell(self, s: HopSkipJumpState, query: Query, values: Array) -> Any:
        adv = values < NOT_ADVERSARIAL  # (failures arrive as inf: not adversarial)
        pts = query.points
        if query.tag == "init":
            if not adv.any():
                return {}, {"phase": "init"}
            i = int(np.argmin(np.where(adv, values, np.inf)))
            return {"phase": "bsearch", "tgt": pts[i].copy(), "lo": 0.0, "hi": 1.0}, {}
        if query.tag == "bsearch":
            mid = 0.5 * (s.lo + s.hi)
            lo, hi = (s.lo, mid) if adv[0] else (mid, s.hi)
            if hi - lo > self._theta(pts.shape[1]):
                return {"lo": lo, "hi": hi}, {}
            x = hi * s.tgt
            return {"phase": "grad", "x": x, "dist": float(np.linalg.norm(x))}, {}
        if query.tag == "grad":
            phi = np.where(adv, 1.0, -1.0)
            U = s.U if s.U is not None else np.zeros_like(pts)
            m = phi.mean()
            g = (phi.mean() * U.mean(axis=0)) if abs(m) == 1.0 else ((phi - m) @ U) / len(phi)
            nrm = float(np.linalg.norm(g))
            g = g / nrm if nrm > 0 else g
            return {"phase": "step", "g": g, "U": None, "xi": s.dist / math.sqrt(s.t)}, \
                {"boundary_dist": s.dist}
        # step
        if adv[0]:
            return {"phase": "bsearch", "tgt": pts[0].copy(), "lo": 0.0, "hi": 1.0,
                    "t": s.t + 1}, {}
        if s.xi / (s.dist / math.sqrt(s.t)) < 2.0 ** -self.max_halvings:
            return {"phase": "grad", "t": s.t + 1}, {}
        return {"xi": s.xi / 2}, {}

    def recommend(self, state: HopSkipJumpState) -> Array:
        return state.x_best
