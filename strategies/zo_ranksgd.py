"""ZO-RankSGD: zeroth-order descent from (m, k) ranking feedback, with an optional line search.

Each gradient round asks the oracle to rank ``m`` points ``x + mu * xi_i`` (``xi_i ~ N(0, I)``)
and to list its ``k`` best, best first. The listed order implies a DAG of "i is better than j"
edges (all pairs among the listed points, and every listed point over every unlisted one);
the estimate sums ``xi_j - xi_i`` over its ``|E| = k(k-1)/2 + k(m-k)`` edges, which in closed form
is ``g = (1/|E|) sum_i w_i xi_i`` with ``w = 2r - m + 1`` for the listed point at 0-based
position ``r`` and ``w = k`` for unlisted points (:func:`dag_weights`, :func:`rank_direction`).
The weights sum to zero, so ``g`` depends only on which point is which, not on a common offset:
the strategy computes it from the asked points themselves, ``g = sum_i w_i p_i / (mu |E|)``.

Without line search the update is ``x <- x - lr * g`` (Algorithm 1). Ranking feedback carries no
gradient norm, so with a constant ``lr`` the iterates stall in an ``O(lr sqrt(d))`` ball; by
default every gradient round is followed by a line-search round (Algorithm 2, as the official
demo does it): one ``(J + 1, 1)`` ranking of ``{x} U {x - eta * beta^j * S : j < J}``, move to the
winner. ``x`` is the first candidate, so with an exact oracle ``f`` never increases (ties keep
``x``). ``S`` averages the directions of all gradient rounds since the last move
(``S <- (S n + g) / (n + 1)``), as the demo does while the human keeps the current image.
The two kinds of rounds are separate queries with ``query.tag`` ``"grad"`` and ``"line"``.

``adapt_lr`` (our addition, on by default) re-centres the step ladder on the winner:
``eta <- eta * beta^(j - 1)`` when rung ``j`` wins (so a win at the largest step doubles
``eta`` for beta = 0.5), ``eta <- eta * beta`` when ``x`` wins. With a fixed ladder the smallest
step ``eta0 beta^(J-1) ||S||`` bounds the precision (T2.3 stalls around f = 0.13 on the 100-d
sphere); with it, the 10-d sphere from ``x0 = ones`` reaches f < 1e-4 within 20,000 points.

Defaults and where they come from:
    * ``m = 10``: ``query_num = 10`` in the first author's ``rank_opt`` notebook and ALGORITHMS.md
      T2.3 / §5.3 (n = 10).
    * ``k = 5``: ALGORITHMS.md T2.3 (m = 10, k = 5; its DAG has 35 edges, T2.4).
    * ``mu = 0.01``: ALGORITHMS.md T2.3 (the ``rank_opt`` notebook uses 0.1 at its scale).
    * ``lr = 1.0``: ``eta0 = 1`` of the T2.3 line search (``lr = 1`` in ``rank_opt``).
    * ``line_search = True``, ``ladder_ratio = 0.5`` (the paper's beta), ``steps = 5``: ALGORITHMS.md §2.3 / T2.3
      (``0.5^j`` as in the official demo's ``optimizer.py``; J = 5 from T2.3).
    * ``accumulate = True``: the official demo (``RankSGD`` in ``optimizer.py``).
    * ``adapt_lr = True``: this framework (see above), needed for the 1e-2 contract precision.

References:
    Z. Tang, D. Rybin, T.-H. Chang, "Zeroth-Order Optimization Meets Human Feedback: Provable
    Learning via Ranking Oracles", ICLR 2024, https://arxiv.org/abs/2303.03751
    (Algorithm 1, ZO-RankSGD; Algorithm 2, line search). Official demo code:
    https://github.com/TZW1998/Taming-Stable-Diffusion-with-Human-Ranking-Feedback
    (``optimizer.py``, class ``RankSGD``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, FeedbackError
from blackbox.keys import Key
from blackbox.options import Flag, Range, option
from blackbox.query import Query
from blackbox.registry import register_strategy
from blackbox.strategy import BaseStrategy, StrategyState

__all__ = ["ZORankSGD", "ZORankSGDState", "dag_edges", "dag_weights", "rank_direction"]

Array = NDArray[np.float64]
_POS = Range(0, None, lo_open=True)


def dag_edges(m: int, k: int) -> int:
    """Number of edges ``k (k-1) / 2 + k (m - k)`` of the DAG implied by an (m, k) ranking."""
    return k * (k - 1) // 2 + k * (m - k)


def dag_weights(order: Any, m: int) -> Array:
    """Node weights ``w`` with ``sum_{(i better than j) in E} (xi_j - xi_i) = sum_i w_i xi_i``.

    Args:
        order: the listed indices ``(k,)`` in ``[0, m)``, best first.
        m: number of ranked points.

    Returns:
        ``(m,)`` float64: ``2r - m + 1`` for the listed point at 0-based position ``r``, ``k``
        for every unlisted point (the weights sum to 0).

    Examples:
        >>> dag_weights([3, 0], 4).tolist()
        [-1.0, 2.0, 2.0, -3.0]
    """
    idx = np.asarray(order, dtype=np.int64).reshape(-1)
    k = idx.shape[0]
    if not 1 <= k <= m or np.unique(idx).size != k or idx.min() < 0 or idx.max() >= m:
        raise FeedbackError(
            f"order must list 1..{m} distinct indices in [0, {m}), got {idx.tolist()}"
        )
    w = np.full(m, float(k))
    w[idx] = 2.0 * np.arange(k) - m + 1.0
    return w


def rank_direction(directions: Any, order: Any) -> Array:
    """The DAG estimate ``g = (1/|E|) sum_i w_i xi_i`` (descent convention: ``E g ~ grad f``).

    Args:
        directions: ``(m, d)`` perturbations ``xi_i`` (or the points themselves: a common offset
            cancels, since the weights sum to zero).
        order: the oracle's listed indices ``(k',)``, best first.

    Returns:
        ``(d,)`` float64.
    """
    xi = np.asarray(directions, dtype=np.float64)
    if xi.ndim != 2:
        raise ConfigError(f"directions must be a 2-d (m, d) array, got shape {xi.shape}")
    w = dag_weights(order, xi.shape[0])
    k = int(np.asarray(order).size)
    if xi.shape[0] < 2:
        raise ConfigError(f"directions must hold m >= 2 points, got {xi.shape[0]}")
    return (w @ xi) / dag_edges(xi.shape[0], k)  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class ZORankSGDState(StrategyState):
    """ZO-RankSGD state.

    Attributes:
        phase: the kind of the next query, ``"grad"`` or ``"line"``.
        direction: ``S``, the averaged descent direction since the last move ``(d,)``.
        n_acc: number of gradient rounds averaged into ``direction``.
        eta: the current largest line-search step.
        moves: number of line-search rounds that moved ``x``.
    """

    phase: str
    direction: Array
    n_acc: int
    eta: float
    moves: int


@register_strategy("zo_ranksgd")
@dataclass(frozen=True)
class ZORankSGD(BaseStrategy[ZORankSGDState]):
    """ZO-RankSGD (Tang, Rybin, Chang 2024): DAG estimate from (m, k) rankings + line search.

    Args:
        m: points ranked per gradient round (>= 2; default 10).
        k: best points listed by the oracle, best first (1 <= k <= m; default 5).
        mu: perturbation radius (default 0.01).
        lr: step ``x <- x - lr * g`` without line search; the initial largest step ``eta0``
            of the ladder with it (default 1.0).
        line_search: follow every gradient round with a ranking of step sizes (default True).
        ladder_ratio: the paper's ``beta``, candidates ``x - lr * beta^j * S`` (0 < beta < 1;
            default 0.5; old name ``beta``: ``beta`` means momentum elsewhere).
        steps: number ``J`` of ladder rungs (>= 1; default 5).
        accumulate: average directions of rounds without a move (default True).
        adapt_lr: re-centre the ladder on the winning step (default True; old name
            ``adapt_eta``).
    """

    feedback = "ranking"

    paper: ClassVar[str] = "Tang, Rybin & Chang, ICLR 2024, arXiv 2303.03751"
    aliases: ClassVar[dict[str, str]] = {"beta": "ladder_ratio", "adapt_eta": "adapt_lr"}

    m: int = option(10, Range(2, integer=True), "points ranked per gradient round", paper="m")
    k: int = option(5, Range(1, integer=True), "best points listed, best first", paper="k")
    mu: float = option(0.01, _POS, "perturbation radius", paper="mu")
    lr: float = option(1.0, _POS, "step size (initial largest line-search step)", paper="eta")
    line_search: bool = option(True, Flag(), "rank a ladder of step sizes after each round")
    ladder_ratio: float = option(0.5, Range(0, 1, lo_open=True, hi_open=True),
                                 "ratio of successive ladder steps", paper="beta")
    steps: int = option(5, Range(1, integer=True), "ladder rungs", paper="J")
    accumulate: bool = option(True, Flag(), "average directions of rounds without a move")
    adapt_lr: bool = option(True, Flag(), "re-centre the ladder on the winning step")

    def _check(self) -> None:
        if self.k > self.m:
            raise ConfigError(f"ZORankSGD.k must be <= m = {self.m}, got k = {self.k}")

    @property
    def points_per_round(self) -> int:
        """Points one gradient round (plus its line search) costs: ``m (+ steps + 1)``."""
        return self.m + (self.steps + 1 if self.line_search else 0)

    def _init(self, x0: Array, key: Key) -> ZORankSGDState:
        return ZORankSGDState(
            **self._base_fields(x0, key), phase="grad", direction=np.zeros_like(x0), n_acc=0,
            eta=float(self.lr), moves=0,
        )

    def _ask(self, state: ZORankSGDState, key: Key) -> tuple[Query, dict[str, Any]]:
        x = state.x
        if state.phase == "line":
            ladder = state.eta * self.ladder_ratio ** np.arange(self.steps)
            pts = np.vstack([x[None, :], x[None, :] - ladder[:, None] * state.direction[None, :]])
            return self._query(pts, key, tag="line", top=1), {}
        xi = key.numpy().standard_normal((self.m, x.shape[0]))
        return self._query(x + self.mu * xi, key, tag="grad", top=self.k), {}

    def _tell(
        self, state: ZORankSGDState, query: Query, order: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        order = np.asarray(order, dtype=np.int64)
        if order.ndim == 1:
            order = order[None, :]
        if query.tag != state.phase:
            raise FeedbackError(
                f"ZORankSGD expected feedback for a {state.phase!r} query, got tag {query.tag!r}"
            )
        if order.shape[0] != 1 or order.shape[1] < 1:
            raise FeedbackError(
                f"ZORankSGD needs one ranked group, got order of shape {order.shape}"
            )
        if query.tag == "line":
            return self._tell_line(state, query, order[0])
        pts = query.points
        g = rank_direction(pts, order[0]) / self.mu  # offset x cancels: sum(w) = 0
        metrics = {"g_norm": float(np.linalg.norm(g)), "listed": int(order.shape[1])}
        if not self.line_search:
            x = state.x - self.lr * g
            if self.space is not None:
                x = np.asarray(self.space.project(x), dtype=np.float64)
            return {"x": x}, metrics
        if self.accumulate:
            n = state.n_acc
            direction = (state.direction * n + g) / (n + 1)
        else:
            direction, n = g, 0
        return {"direction": direction, "n_acc": n + 1, "phase": "line"}, metrics

    def _tell_line(
        self, state: ZORankSGDState, query: Query, order: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        j = int(order[0])  # 0 is x itself, 1 + r is rung r
        if not 0 <= j < query.n:
            raise FeedbackError(f"line-search winner {j} is not a row of the {query.n} candidates")
        eta = state.eta
        updates: dict[str, Any] = {"phase": "grad"}
        if j == 0:
            if self.adapt_lr:
                eta *= self.ladder_ratio
            if not self.accumulate:
                updates.update(direction=np.zeros_like(state.x), n_acc=0)
        else:
            if self.adapt_lr:
                eta *= self.ladder_ratio ** (j - 2)
            x = query.points[j].copy()
            updates.update(x=x, x_best=x, direction=np.zeros_like(state.x), n_acc=0,
                           moves=state.moves + 1)
        updates["eta"] = float(eta)
        return updates, {"line_winner": j, "eta": float(eta), "moved": j != 0}
