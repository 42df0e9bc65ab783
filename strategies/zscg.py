"""ZSCG: zeroth-order stochastic conditional gradient (Balasubramanian & Ghadimi).

``ZSCG`` ("zscg") is the paper's ZSCG method as ALGORITHMS.md section 4.3 states it.
Step ``k = 1, 2, ...`` (``k = state.step + 1``) asks ``x_{k-1}`` and ``m_k`` points
``x_{k-1} + nu_k u_{k,j}``, ``u ~ N(0, I)``, and forms the forward-difference estimate

    G_k = (1/m_k) sum_j (F(x_{k-1} + nu_k u_{k,j}) - F(x_{k-1})) / nu_k * u_{k,j}

then ``xhat_k = space.lmo(G_k)`` and ``x_k = (1 - alpha_k) x_{k-1} + alpha_k xhat_k``. The
metric ``fw_gap`` is the estimated Frank-Wolfe gap ``<G_k, x_{k-1} - xhat_k>`` at ``x_{k-1}``.

Two modes (the paper's two settings; its constants hold unknown ``L``, ``sigma`` and the
diameter, so only the orders are taken from it, ALGORITHMS.md [R]):

* ``mode="convex"`` (default): ``alpha_k = 6/(k+5)`` (the convex step of section 4.3;
  ``alpha_1 = 1``, so ``x_1`` is a vertex), the anytime smoothing ``nu_k = mu_scale /
  sqrt(k d^3)`` (the nonconvex ``1/sqrt(N d^3)`` with ``N`` replaced by ``k``) and batches
  growing with ``k`` as the paper's do, here ``m_k = min(q0 k, ceil(q_scale d sqrt(k)), q_max)``
  with ``q0 = 1``, ``q_scale = 0.1`` and no cap. The growth law is ours (the paper's constants
  need ``L``, ``sigma`` and the diameter): fast growth spends a fixed budget on few LMO steps,
  while FW near an interior minimizer oscillates with an amplitude ``~ alpha_k diam``, so the
  step count matters too; but the batch must grow without bound, because where the gradient at
  the solution is not zero (an active constraint) the estimate's noise ``~ ||grad f||
  sqrt(d/m)`` biases the average of the LMO's vertices, and a capped batch stalls at that bias.
  Measured (``mu_scale = 1``): on the contract problem (10-d sphere in ``Box(-5, 5)`` from
  ``x0 = 1``, 20,000 points, 10 seeds) ``f`` ends at 2.8e-3 to 5.2e-3 (``q_scale`` 0.05: 2.2e-3
  to 3.4e-3, 0.2: 6.3e-3 to 1.2e-2); on the R4.1 L1-ball least squares (``d = 100``, 40,000
  points, 4 seeds) ``f - f*`` drops 85-150x and the true FW gap 30-46x; on ``||x - z||^2`` in
  ``Box(-1, 1)^10`` with 6 active bounds the capped ``m_k = min(d, k)`` stalls at
  ``||x - x*||^2 = 0.33`` from 20,000 to 400,000 points, while the growing batches keep
  improving (0.11 to 0.03). ``mu_scale`` in ``[0.01, 1]`` made no measurable difference.
* ``mode="nonconvex"``: needs ``iterations = N``; ``alpha = 1/sqrt(N)``, ``m = ceil(q_scale d
  N)`` and ``nu = mu_scale / sqrt(N d^3)`` (the paper's nonconvex orders, constants 1), and
  :meth:`ZSCG.recommend` returns ``x_{R-1}`` for ``R`` uniform on the steps taken (``1..N``),
  one of the iterates at which a gap was estimated (the paper's uniformly random output). One
  iterate is kept by reservoir sampling (step ``k`` replaces it with probability ``1/k``, a
  coin drawn with the ask's key), so memory stays ``O(d)``. Steps past ``N`` keep the same
  constants, and the sample stays uniform over all steps taken.

Feasibility follows ``zo_fw`` (the shared helpers of ``strategies.frank_wolfe``): each direction gets the largest step
``t <= nu_k`` that stays in ``space``, forward or backward (``x - t u``), and the quotient is
``(F(x + s t u) - F(x)) / (s t)``; only when neither side is feasible is the point projected by
the framework (the quotient then uses the realized displacement along ``u``). On a
:class:`Simplex` the directions are made tangent (mean removed). Iterates are convex
combinations of points of ``space`` and so stay in it. Failed (non-finite) terms are dropped
from ``G_k`` and the rest re-averaged, as in ``strategies.estimators``; a step with no finite
term leaves ``x`` where it is.

References:
    K. Balasubramanian, S. Ghadimi, "Zeroth-order (Non)-Convex Stochastic Optimization via
    Conditional Gradient and Gradient Updates", NeurIPS 2018, https://arxiv.org/abs/1809.06474
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.options import OneOf, Range, option
from blackbox.query import Query
from blackbox.registry import register_strategy
from blackbox.strategy import BaseStrategy, StrategyState
from strategies import estimators
from strategies.frank_wolfe import directional, feasible_batch, fw_move, need_space, tangent

__all__ = ["ZSCG", "ZSCGState"]

Array = NDArray[np.float64]
_MODES = ("convex", "nonconvex")


@dataclass(frozen=True, eq=False)
class ZSCGState(StrategyState):
    dirs: Array | None  # directions u_{k,j} of the pending query, (m_k, dim)
    take: bool  # nonconvex: the pending step's x_{k-1} replaces the sample
    sample: Array  # nonconvex: the reservoir-sampled iterate x_{R-1}, (dim,)
    gap: float  # the last estimated FW gap


@register_strategy("zscg")
@dataclass(frozen=True)
class ZSCG(BaseStrategy[ZSCGState]):
    """Zeroth-order stochastic conditional gradient over ``space`` (required; needs an LMO).

    Args:
        mode: ``"convex"`` (``alpha_k = 6/(k+5)``, growing batches) or ``"nonconvex"``
            (constant ``alpha = 1/sqrt(N)``, random-iterate output; needs ``iterations``).
        iterations: the planned number of steps ``N`` (nonconvex mode only).
        q0: slope of the convex batches' initial ramp ``q0 k`` (default 1).
        q_scale: convex ``m_k = min(q0 k, ceil(q_scale d sqrt(k)), q_max)``, nonconvex
            ``m = ceil(q_scale d N)``; ``None`` (default): 0.1 convex, 1 nonconvex.
        q_max: an optional cap on the convex batches (default ``None``: none; see the notes).
        mu_scale: smoothing ``nu_k = mu_scale / sqrt(n d^3)`` with ``n = k`` (convex) or
            ``n = N`` (nonconvex) (default 1).

    The paper's batch size ``m_k`` is our number of directions ``q``; its smoothing ``nu_k`` is
    our ``mu``. Old names ``m0``, ``m_scale``, ``m_max``, ``nu_scale`` are deprecated aliases.
        space: the feasible set (``Box``, ``Ball``, ``Simplex``).
    """

    requires_space: ClassVar[bool] = True
    paper: ClassVar[str] = "Balasubramanian & Ghadimi, NeurIPS 2018, arXiv 1809.06474"
    aliases: ClassVar[dict[str, str]] = {"m0": "q0", "m_scale": "q_scale", "m_max": "q_max",
                                         "nu_scale": "mu_scale"}

    mode: str = option("convex", OneOf(_MODES), "convex or nonconvex step rule")
    iterations: int | None = option(None, Range(1, integer=True, optional=True),
                                    "planned number of steps (nonconvex)", paper="N")
    q0: int = option(1, Range(1, integer=True), "slope of the convex batches' ramp q0 k")
    q_scale: float | None = option(None, Range(0, None, lo_open=True, optional=True),
                                   "batch growth factor (None: 0.1 convex, 1 nonconvex)")
    q_max: int | None = option(None, Range(1, integer=True, optional=True),
                               "cap on the convex batches (None: none)")
    mu_scale: float = option(1.0, Range(0, None, lo_open=True),
                             "smoothing nu_k = mu_scale / sqrt(n d^3)", paper="nu_k factor")

    def _check(self) -> None:
        if self.mode == "nonconvex" and self.iterations is None:
            raise ConfigError("ZSCG.iterations must be an int >= 1 (the planned number of "
                              "steps N) in mode='nonconvex', got None")

    def schedule(self, k: int, dim: int) -> tuple[float, int, float]:
        """``(alpha_k, m_k, nu_k)`` for step ``k`` (1-based) in dimension ``dim``."""
        if self.mode == "convex":
            c = 0.1 if self.q_scale is None else self.q_scale
            m = min(self.q0 * k, math.ceil(c * dim * math.sqrt(k)))
            m = max(1, m if self.q_max is None else min(m, self.q_max))
            return 6.0 / (k + 5.0), m, self.mu_scale / math.sqrt(k * float(dim) ** 3)
        n = int(self.iterations)  # type: ignore[arg-type]
        m = max(1, math.ceil((1.0 if self.q_scale is None else self.q_scale) * dim * n))
        return 1.0 / math.sqrt(n), m, self.mu_scale / math.sqrt(n * float(dim) ** 3)

    def _init(self, x0: Array, key: Key) -> ZSCGState:
        need_space(self)
        return ZSCGState(**self._base_fields(x0, key), dirs=None, take=False, sample=x0,
                         gap=float("nan"))

    def _ask(self, state: ZSCGState, key: Key) -> tuple[Query, dict[str, Any]]:
        x, k = state.x, state.step + 1
        _, m, nu = self.schedule(k, x.shape[0])
        gen = key.numpy()
        dirs = estimators.directions("gaussian", gen, m, x.shape[0])
        take = self.mode == "nonconvex" and gen.random() * k < 1.0  # reservoir: prob 1/k
        dirs = tangent(self.space, dirs)
        pts = feasible_batch(self.space, x, dirs, nu)
        return self._query(pts, key, tag="grad"), {"dirs": dirs, "take": bool(take)}

    def _tell(self, state: ZSCGState, query: Query, values: Array) -> Any:
        if state.dirs is None:
            raise ConfigError("ZSCG.tell got feedback for a query it did not ask")
        alpha, m, _ = self.schedule(state.step + 1, state.x.shape[0])
        quotients = directional(query.points, values, state.dirs)
        sample = state.x if state.take else state.sample
        if not np.isfinite(quotients).any():  # nothing to estimate from (e.g. F(x_{k-1}) failed)
            return {"dirs": None, "take": False, "sample": sample}, {
                "fw_gap": float("nan"), "alpha": alpha, "m": m}
        g = estimators.average(quotients, state.dirs, "gaussian")  # failed terms dropped
        x, _, gap = fw_move(self.space, state.x, g, alpha)
        updates = {"x": x, "dirs": None, "take": False, "sample": sample, "gap": gap}
        return updates, {"fw_gap": gap, "alpha": alpha, "m": m}

    def recommend(self, state: ZSCGState) -> Array:
        """The last iterate (convex) or the uniformly sampled iterate ``x_{R-1}`` (nonconvex)."""
        return state.sample if self.mode == "nonconvex" else state.x
