"""Frank-Wolfe building blocks shared by ``zo_fw``, ``zscg`` and ``fw_black``.

* :func:`need_space`: the methods move by convex combinations with the vertex the space's linear
  minimization oracle returns, so they need a space with an ``lmo`` (checked at ``init``).
* Feasible finite differences: instead of letting the framework project ``x + c u`` (which bends
  the direction and biases the estimate), each direction ``u`` gets the largest step ``t <= c``
  that stays feasible (:func:`feasible_steps`), trying the forward side ``x + t u`` and the
  backward side ``x - t u`` and using the longer one (:func:`signed_steps`); the quotient
  ``(F(x + s t u) - F(x)) / (s t)`` (:func:`directional`) keeps estimating the directional
  derivative along ``u``. :func:`feasible_batch` builds ``[x; x + t_j u_j]``. On a
  :class:`~blackbox.spaces.Simplex` the directions are made tangent first (:func:`tangent`).
* :func:`fw_move`: the projection-free step ``x <- (1 - gamma) x + gamma v`` with ``v =
  lmo(d)`` and the Frank-Wolfe gap ``<d, x - v>``.

References:
    A. K. Sahu, M. Zaheer, S. Kar, "Towards Gradient Free and Projection Free Stochastic
    Optimization", AISTATS 2019, https://arxiv.org/abs/1810.03233
    K. Balasubramanian, S. Ghadimi, "Zeroth-order (Non)-Convex Stochastic Optimization via
    Conditional Gradient and Gradient Updates", NeurIPS 2018, https://arxiv.org/abs/1809.06474
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.spaces import Ball, Box, Simplex

__all__ = ["directional", "feasible_batch", "feasible_steps", "fw_move", "need_space",
           "signed_steps", "tangent"]

Array = NDArray[np.float64]


def need_space(strategy: Any) -> None:
    # checked at init, not construction: minimize(f, "zo_fw", space=...) builds, then adds it
    if strategy.space is None:
        raise ConfigError(
            f"{type(strategy).__name__} needs a space with an lmo() (Box, Ball, Simplex), got "
            "space=None; pass space=... to the strategy or to minimize()"
        )


def _bounds(space: Any) -> tuple[Array, Array] | None:
    if isinstance(space, Box):
        return space.lower, space.upper
    if isinstance(space, Ball) and space.p == np.inf:
        return space.center - space.radius, space.center + space.radius
    return None


def _inside_rows(space: Any, pts: Array) -> NDArray[np.bool_]:
    """Per-row membership (``space.contains`` answers for the whole batch)."""
    return np.max(np.abs(np.asarray(space.project(pts)) - pts), axis=-1) <= 1e-10


def feasible_steps(space: Any, x: Array, dirs: Array, c: float) -> Array:
    """For each row ``u`` of ``dirs``, the largest ``t`` in ``[0, c]`` with ``x + t u`` in space.

    Closed form for boxes and L_inf, L2 and L1 balls; 40 vectorized bisection steps otherwise.
    """
    b = _bounds(space)
    if b is not None:
        lo, hi = b
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(dirs > 0, (hi - x) / dirs, np.where(dirs < 0, (lo - x) / dirs, np.inf))
        return np.clip(np.min(room, axis=1), 0.0, c)
    if isinstance(space, Ball) and space.p == 2.0:  # root of ||y + t u||^2 = r^2
        y = x - space.center
        a, bb = np.einsum("md,md->m", dirs, dirs), dirs @ y
        disc = np.maximum(bb**2 - a * (y @ y - space.radius**2), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(a > 0, (np.sqrt(disc) - bb) / a, np.inf)
        return np.clip(t, 0.0, c)
    if isinstance(space, Ball) and space.p == 1.0:  # convex piecewise linear in t
        y, r = x - space.center, space.radius
        au = np.abs(dirs)
        with np.errstate(divide="ignore", invalid="ignore"):
            bp = np.where((dirs != 0) & (-y * dirs > 0), -y / dirs, np.inf)  # sign changes, t > 0
        order = np.argsort(bp, axis=1)
        ts = np.take_along_axis(bp, order, 1)  # (m, d) sorted breakpoints
        slope0 = np.sum(np.where(y * dirs > 0, au, 0.0) - np.where(y * dirs < 0, au, 0.0)
                        + np.where(y == 0, au, 0.0), axis=1)
        slopes = slope0[:, None] + 2 * np.cumsum(np.take_along_axis(au, order, 1), 1)
        slopes = np.concatenate([slope0[:, None], slopes], 1)  # slope on [ts_{k-1}, ts_k]
        starts = np.concatenate([np.zeros((len(dirs), 1)), ts], 1)  # (m, d+1)
        dt = np.diff(np.where(np.isfinite(starts), starts, 0.0), axis=1)
        dt = np.where(np.isfinite(ts), dt, 0.0)
        phi = np.abs(y).sum() + np.concatenate(
            [np.zeros((len(dirs), 1)), np.cumsum(slopes[:, :-1] * dt, 1)], 1)  # phi at starts
        with np.errstate(divide="ignore", invalid="ignore"):
            cand = starts + (r - phi) / slopes  # the root if it lies in the segment k
            end = np.concatenate([ts, np.full((len(dirs), 1), np.inf)], 1)
            ok = np.isfinite(starts) & (slopes > 0) & (cand <= end) & (cand >= starts)
        k = np.argmax(ok, axis=1)
        t = np.where(ok.any(1), np.take_along_axis(cand, k[:, None], 1)[:, 0], np.inf)
        return np.clip(t, 0.0, c)
    t = np.full(len(dirs), float(c))
    ok = _inside_rows(space, x + t[:, None] * dirs)
    lo_t, hi_t = np.zeros(len(dirs)), t.copy()
    for _ in range(40):
        mid = 0.5 * (lo_t + hi_t)
        good = _inside_rows(space, x + mid[:, None] * dirs)
        lo_t, hi_t = np.where(good, mid, lo_t), np.where(good, hi_t, mid)
    return np.where(ok, t, lo_t)


def signed_steps(space: Any, x: Array, dirs: Array, c: float) -> Array:
    """Forward step ``c`` where feasible, else the longer of the feasible forward/backward steps."""
    fwd, bwd = feasible_steps(space, x, dirs, c), feasible_steps(space, x, -dirs, c)
    s = np.where(fwd >= bwd, fwd, -bwd)
    return np.where(s == 0.0, c, s)  # no feasible step: the base projects (documented)


def directional(points: Array, values: Array, dirs: Array) -> Array:
    """``(F_j - F_0) / t_j`` with ``t_j`` the realized displacement of point ``j`` along ``u_j``.

    A zero displacement reads 0; a failed (non-finite) term reads ``nan`` (the estimator kit's
    :func:`~strategies.estimators.average` drops it).
    """
    disp = points[1:] - points[0]  # (m, d)
    t = np.einsum("md,md->m", disp, dirs) / np.einsum("md,md->m", dirs, dirs)
    with np.errstate(divide="ignore", invalid="ignore"):  # inf - inf: a failed term
        df = values[1:] - values[0]
        q = np.where(t != 0.0, df / t, np.where(np.isfinite(df), 0.0, np.nan))
    return np.where(np.isfinite(q), q, np.nan)


def tangent(space: Any, dirs: Array) -> Array:
    """Directions made tangent to a :class:`Simplex` (mean removed); unchanged otherwise."""
    if isinstance(space, Simplex):
        return dirs - dirs.mean(axis=1, keepdims=True)
    return dirs


def feasible_batch(space: Any, x: Array, dirs: Array, c: float) -> Array:
    """The forward-difference batch ``[x; x + t_j u_j]`` with feasible signed steps ``t_j``."""
    t = signed_steps(space, x, dirs, c)
    return np.vstack([x[None, :], x + t[:, None] * dirs])


def fw_move(space: Any, x: Array, d: Array, gamma: float) -> tuple[Array, Array, float]:
    """``(x_new, v, gap)``: ``v = lmo(d)``, ``x_new = (1 - gamma) x + gamma v``, ``<d, x - v>``."""
    v = np.asarray(space.lmo(d), dtype=np.float64)
    gap = float(d @ (x - v))
    return (1.0 - gamma) * x + gamma * v, v, gap
