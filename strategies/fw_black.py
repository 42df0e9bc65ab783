"""FW-black: the momentum Frank-Wolfe black-box attack.

``FWBlack`` ("fw_black") is the black-box attack of Chen, Zhou, Yi and Gu (ALGORITHMS.md 4.4):
``b`` antithetic Gaussian (or scaled-sphere) pairs ``x +- delta u_j`` (``2 b`` points per
step, no center point), ``ghat = sum_j (L+ - L-) u_j / (2 b delta)``, momentum
``m_t = beta m_{t-1} + (1 - beta) ghat``, ``v_t = space.lmo(m_t)`` (for ``Ball(x_ori, eps,
p)`` this is ``x_ori - eps normalize(m_t)``) and ``x_{t+1} = clip(x_t + gamma_t (v_t - x_t))``.
``gamma_t = lr`` until the loss stalls (of the last 5 step losses, the newest is above ``0.999``
times the oldest) at step ``t0``, then ``lr / sqrt(t - t0 + 1)``; the step loss is the mean of
the ``2 b`` values, as in the reference code. Defaults ``q = b = 25``, ``mu = delta = 0.01``,
``estimator = "gaussian"`` are from ``test_attack_black.py``; ``lr = 0.04`` there too, but
``beta = 0.9`` here instead of the code's ``0.99``: with 0.99 the momentum lags ~100 steps,
which on a smooth objective makes FW overshoot (measured: the contract sphere stalls near
f = 0.1); pass ``beta=0.99`` to reproduce the attack setting. ``clip=(lo, hi)`` is the attack's
pixel box; clipping moves every coordinate towards ``x_ori`` (when ``x_ori`` is inside the box)
and so keeps ``x`` inside the norm ball. The pairs ``x +- delta u`` may leave the space; they
are projected by the framework (the reference code queries them unprojected), a documented
bias of order ``delta``.

References:
    J. Chen, D. Zhou, J. Yi, Q. Gu, "A Frank-Wolfe Framework for Efficient and Effective
    Adversarial Attacks", AAAI 2020, https://arxiv.org/abs/1811.10828 (repo
    uclaml/Frank-Wolfe-AdvML, ``FW_black.py``, ``test_attack_black.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from blackbox.keys import Key
from blackbox.options import OneOf, Pair, Range, option
from blackbox.query import Query
from blackbox.registry import register_strategy
from blackbox.strategy import BaseStrategy, StrategyState
from strategies import estimators
from strategies.frank_wolfe import need_space

__all__ = ["FWBlack", "FWBlackState"]

Array = NDArray[np.float64]
_POS = Range(0, None, lo_open=True)


@dataclass(frozen=True, eq=False)
class FWBlackState(StrategyState):
    m: Array  # momentum (dim,)
    dirs: Array | None  # pending directions u_j, (b, dim)
    losses: tuple[float, ...]  # the last 5 step losses
    t0: int  # step at which the loss first stalled (-1: not yet)
    gap: float


@register_strategy("fw_black")
@dataclass(frozen=True)
class FWBlack(BaseStrategy[FWBlackState]):
    """FW-black: momentum Frank-Wolfe with antithetic Gaussian-pair gradient estimates.

    Args:
        q: antithetic pairs per step, the paper's ``b`` (``2 q`` points per ask; default 25;
            old name ``grad_est``).
        mu: smoothing radius, the paper's ``delta`` (default 0.01; old name ``delta``).
        beta: momentum (default 0.9; the attack code uses 0.99).
        lr: initial step ``gamma`` (default 0.04).
        estimator: ``"gaussian"`` or ``"sphere"`` (``u / ||u|| * sqrt(d)``; old name
            ``sensing``).
        clip: optional ``(lo, hi)`` applied to every iterate (the attack's pixel box).
        space: the feasible set, typically ``Ball(x_ori, eps, p=inf)``.
    """

    requires_space: ClassVar[bool] = True
    paper: ClassVar[str] = "Chen, Zhou, Yi & Gu, AAAI 2020, arXiv 1811.10828"
    aliases: ClassVar[dict[str, str]] = {"grad_est": "q", "delta": "mu", "sensing": "estimator"}

    q: int = option(25, Range(1, integer=True), "antithetic pairs per step (2q points)",
                    paper="b")
    mu: float = option(0.01, _POS, "smoothing radius", paper="delta")
    beta: float = option(0.9, Range(0, 1, hi_open=True), "momentum", paper="beta")
    lr: float = option(0.04, _POS, "initial step size", paper="gamma")
    estimator: str = option("gaussian", OneOf(("gaussian", "sphere")),
                            "gaussian, or sphere of radius sqrt(d)")
    clip: tuple[float, float] | None = option(None, Pair(), "(lo, hi) applied to every iterate")

    def _init(self, x0: Array, key: Key) -> FWBlackState:
        need_space(self)
        return FWBlackState(**self._base_fields(x0, key), m=np.zeros_like(x0), dirs=None,
                            losses=(), t0=-1, gap=float("nan"))

    def _ask(self, state: FWBlackState, key: Key) -> tuple[Query, dict[str, Any]]:
        dim = state.x.shape[0]
        if self.estimator == "sphere":  # radius sqrt(d): E[u u^T] = I, no factor d in the estimate
            u = estimators.from_key("sphere", key, self.q, dim) * np.sqrt(dim)
        else:
            u = estimators.from_key("gaussian", key, self.q, dim)
        pts = estimators.perturb(state.x, u, self.mu, "central")  # antithetic pairs
        return self._query(pts, key, tag="grad"), {"dirs": u}

    def _tell(self, state: FWBlackState, query: Query, values: Array) -> Any:
        u = state.dirs if state.dirs is not None else np.zeros((self.q, state.x.shape[0]))
        ghat = estimators.combine(values, u, self.mu, "central", "gaussian")  # failed: dropped
        m = self.beta * state.m + (1.0 - self.beta) * ghat
        v = np.asarray(self.space.lmo(m), dtype=np.float64)
        fin = values[np.isfinite(values)]
        loss = float(fin.mean()) if fin.size else float("inf")
        losses = (state.losses + (loss,))[-5:]
        t, t0 = state.step, state.t0
        if t0 < 0 and len(losses) == 5 and losses[-1] > 0.999 * losses[0]:
            t0 = t
        gamma = self.lr if t0 < 0 else self.lr / np.sqrt(t - t0 + 1.0)
        x = state.x + gamma * (v - state.x)
        if self.clip is not None:
            x = np.clip(x, self.clip[0], self.clip[1])
        gap = float(m @ (state.x - v))
        return ({"x": x, "m": m, "dirs": None, "losses": losses, "t0": t0, "gap": gap},
                {"fw_gap": gap, "gamma": float(gamma), "loss": loss})
