"""Randomized finite-difference gradient estimators (ALGORITHMS.md §1.1-1.4).

Each estimator is two pure functions: ``perturb(x, ...) -> (points, U)`` builds the query batch,
``combine(values, U, ...) -> g`` turns the answers into a gradient estimate. Terms whose values are
``+inf`` (failed evaluations) are dropped and the rest re-averaged.

* Gaussian (Nesterov & Spokoiny 2017): ``u ~ N(0, I)``; central ``(f(x+mu u) - f(x-mu u)) / (2 mu) u``,
  forward ``(f(x+mu u) - f(x)) / mu u``. Unbiased for the Gaussian-smoothed gradient;
  ``E||g||^2 = (d+2) ||grad f||^2`` for q = 1 (T1.1).
* Sphere (Flaxman et al. 2005; Duchi et al. 2015): ``u`` uniform on the unit sphere, scaled by
  ``d``; ``E||g||^2 = d ||grad f||^2``.
* Coordinate-wise CGE (DeepZero, Chen et al. 2024, arXiv 2310.02025): ``u = e_i`` for every
  coordinate (or those in a mask); central (2|S| points) or forward (|S| + 1 points).

References:
    Nesterov, Spokoiny, "Random gradient-free minimization of convex functions", FoCM 2017.
    Liu, Chen, Kailkhura et al., "A primer on zeroth-order optimization in signal processing and
    machine learning", IEEE SPM 2020, arXiv 2006.06224.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["combine", "directions", "perturb"]

Array = NDArray[np.float64]


def directions(kind: str, gen: np.random.Generator, q: int, d: int,
               mask: NDArray[np.int64] | None = None) -> Array:
    """``(q, d)`` directions: Gaussian, sphere (unit norm), or coordinate unit vectors."""
    if kind == "gaussian":
        return gen.standard_normal((q, d))
    if kind == "sphere":
        u = gen.standard_normal((q, d))
        return u / np.linalg.norm(u, axis=1, keepdims=True)
    idx = np.arange(d) if mask is None else mask
    u = np.zeros((len(idx), d))
    u[np.arange(len(idx)), idx] = 1.0
    return u


def perturb(x: Array, U: Array, mu: float, difference: str) -> Array:
    """The query batch: central ``[x + mu U; x - mu U]`` (2q points) or forward ``[x; x + mu U]``."""
    if difference == "central":
        return np.concatenate([x + mu * U, x - mu * U])
    return np.concatenate([x[None, :], x + mu * U])


def combine(values: Array, U: Array, mu: float, difference: str, kind: str) -> Array:
    """The gradient estimate from the batch's values (``+inf`` terms dropped)."""
    q, d = U.shape
    scale = 1.0 if kind == "coordinate" else (float(d) if kind == "sphere" else 1.0) / q
    if np.count_nonzero(np.isfinite(values)) == values.shape[0]:  # the common case: no failures
        if difference == "central":
            diff = (values[:q] - values[q:]) / (2.0 * mu)
        else:
            diff = (values[1:] - values[0]) / mu
        if np.count_nonzero(np.isfinite(diff)) == q:  # (not so only on overflow)
            return (diff @ U) * scale
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf -> nan: a failed term, dropped
        if difference == "central":
            diff = (values[:q] - values[q:]) / (2.0 * mu)
        else:
            diff = (values[1:] - values[0]) / mu
    ok = np.isfinite(diff)
    nok = int(np.count_nonzero(ok))
    if kind == "coordinate":  # one term per coordinate: a failed coordinate reads 0
        return np.where(ok, diff, 0.0) @ U
    if not nok:
        return np.zeros(d)
    return (scale * q) * (diff[ok] @ U[ok]) / nok
