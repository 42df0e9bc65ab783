"""Best-of-m with a surrogate: a Bradley-Terry quadratic fitted to past answers proposes a point.

For a person who answers "which of these m is best" (the best-of-4 format of optuna-dashboard's
preferential GP), each answer shows the incumbent ``x``, one candidate proposed by a surrogate and
``m - 2`` random perturbations ``x + r xi / sqrt(d)`` (``xi ~ N(0, I)``); the winner becomes ``x``.
Every answer says "winner > each loser"; the last ``window`` answers' pairs fit, by ridge-penalised
logistic regression (Bradley-Terry, Newton steps), the local utility model

    u(p) = a . (p - x) - (c / 2) ||p - x||^2,

so ``u(w) - u(l) = a . (w - l) - (c / 2) (||w - x||^2 - ||l - x||^2)``: ``d + 1`` parameters,
linear in the features. The proposed candidate is the model's maximiser ``x + a / c`` (along
``a`` when ``c <= 0``), clipped to the trust radius ``r``, which grows when the proposal wins and
shrinks when the incumbent does (a trust-region rule, Conn, Gould, Toint, "Trust-Region Methods",
SIAM 2000). The comparisons are those of the (m, 1)-ranking oracle of Tang, Rybin, Chang, ICLR
2024, https://arxiv.org/abs/2303.03751; the pairwise likelihood is Bradley, Terry, Biometrika 39,
1952.

Registered as ``"zo_rank_surrogate"`` and measured by ``blackbox bench preference_long`` (d = 10,
best of 4). Its model is an isotropic quadratic: on that family (the benchmark's utility) it
needs about half ZO-RankSGD's answers; on weighted or non-quadratic utilities the gain is smaller,
and at d = 100 it gains little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import FeedbackError
from blackbox.keys import Key
from blackbox.options import Range, option
from blackbox.query import Query
from blackbox.registry import register_strategy
from blackbox.strategy import BaseStrategy, StrategyState

__all__ = ["RankSurrogate", "fit_quadratic_bt"]

Array = NDArray[np.float64]
_POS = Range(0, None, lo_open=True)


def fit_quadratic_bt(wins: Array, loses: Array, x: Array, ridge: float, iters: int = 15
                     ) -> tuple[Array, float]:
    """``(a, c)`` of ``u(p) = a.(p - x) - c/2 ||p - x||^2`` from pairs "``wins[i]`` > ``loses[i]``".

    Maximises ``sum_i log sigmoid(u(w_i) - u(l_i)) - ridge/2 ||(a, c)||^2`` by Newton's method.

    Examples:
        >>> w = np.array([[0.5], [0.4], [0.6]]); l = np.array([[0.0], [0.9], [1.2]])
        >>> a, c = fit_quadratic_bt(w, l, np.zeros(1), ridge=1e-3)
        >>> 0.3 < float(a[0] / c) < 0.7  # the best point lies between the winners' neighbours
        True
    """
    z = np.hstack([wins - loses, -0.5 * (np.sum((wins - x) ** 2, axis=1)
                                          - np.sum((loses - x) ** 2, axis=1))[:, None]])
    th = np.zeros(z.shape[1])
    eye = ridge * np.eye(z.shape[1])
    for _ in range(iters):
        s = 1.0 / (1.0 + np.exp(-(z @ th)))
        grad = z.T @ (1.0 - s) - ridge * th
        hess = (z * (s * (1.0 - s))[:, None]).T @ z + eye
        th = th + np.linalg.solve(hess, grad)
    return th[:-1], float(th[-1])


@dataclass(frozen=True, eq=False)
class RankSurrogateState(StrategyState):
    """State: the remembered pairs and the trust radius.

    Attributes:
        wins: winners of the remembered pairs ``(N, d)``.
        loses: their losers ``(N, d)``.
        radius: the trust radius ``r``.
    """

    wins: Array
    loses: Array
    radius: float


@register_strategy("zo_rank_surrogate")
@dataclass(frozen=True)
class RankSurrogate(BaseStrategy[RankSurrogateState]):
    """Best-of-m answers; the incumbent, a surrogate's proposal and random perturbations.

    Args:
        m: candidates per answer (>= 3: incumbent, proposal, perturbations; default 4).
        radius: initial trust radius (default 0.5).
        window: answers remembered for the fit (default 40).
        ridge: the fit's ridge penalty (default 1e-3).
        grow: radius factor when the proposal wins (default 1.25).
        shrink: radius factor when the incumbent wins (default 0.8).
        max_radius: the radius never exceeds it (default 2).
    """

    feedback = "ranking"
    paper: ClassVar[str] = "Tang, Rybin & Chang, ICLR 2024; Bradley & Terry 1952"

    m: int = option(4, Range(3, integer=True), "candidates per answer", paper="m")
    radius: float = option(0.5, _POS, "initial trust radius", paper="r")
    window: int = option(40, Range(1, integer=True), "answers remembered for the fit")
    ridge: float = option(1e-3, _POS, "ridge penalty of the Bradley-Terry fit")
    grow: float = option(1.25, Range(1, None), "radius factor when the proposal wins")
    shrink: float = option(0.8, Range(0, 1, lo_open=True), "radius factor when x wins")
    max_radius: float = option(2.0, _POS, "largest trust radius")

    def _init(self, x0: Array, key: Key) -> RankSurrogateState:
        empty = np.zeros((0, x0.shape[0]))
        return RankSurrogateState(**self._base_fields(x0, key), wins=empty, loses=empty,
                                  radius=float(self.radius))

    def _ask(self, state: RankSurrogateState, key: Key) -> tuple[Query, dict[str, Any]]:
        x, r = state.x, state.radius
        d = x.shape[0]
        pts = x + r * key.numpy().standard_normal((self.m, d)) / np.sqrt(d)
        pts[0] = x
        if state.wins.shape[0] >= 2:  # else row 1 stays a random perturbation
            pts[1] = x + self._proposal(state)
        if self.space is not None:
            pts = np.asarray(self.space.project(pts), dtype=np.float64)
        return self._query(pts, key, top=1), {}

    def _proposal(self, state: RankSurrogateState) -> Array:
        """The model's step from ``x``, clipped to the trust radius."""
        r = state.radius
        a, c = fit_quadratic_bt(state.wins, state.loses, state.x, self.ridge)
        step = a / c if c > 1e-12 else a * (r / max(float(np.linalg.norm(a)), 1e-300))
        n = float(np.linalg.norm(step))
        return step * (r / n) if n > r else step

    def _tell(self, state: RankSurrogateState, query: Query, order: Any
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        order = np.asarray(order, dtype=np.int64).reshape(-1)
        pts = query.points
        if order.size < 1 or not 0 <= order[0] < pts.shape[0]:
            raise FeedbackError(f"RankSurrogate needs the best of {pts.shape[0]}, got {order}")
        j = int(order[0])
        losers = np.delete(pts, j, axis=0)
        keep = self.window * (self.m - 1)
        wins = np.vstack([state.wins, np.repeat(pts[j][None, :], len(losers), axis=0)])[-keep:]
        loses = np.vstack([state.loses, losers])[-keep:]
        proposed = state.wins.shape[0] >= 2  # row 1 was the model's proposal
        r = state.radius * (self.shrink if j == 0 else self.grow if j == 1 and proposed else 1.0)
        return ({"x": pts[j].copy(), "x_best": pts[j].copy(), "wins": wins, "loses": loses,
                 "radius": float(min(r, self.max_radius))},
                {"winner": j, "radius": float(r)})
