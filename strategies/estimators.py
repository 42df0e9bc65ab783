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

import math

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
    """The query batch: central ``[x + mu U; x - mu U]`` (2q points) or forward ``[x; x + mu U]``.

    Written into one new array (no temporaries): bit-identical to the ``np.concatenate`` form.
    """
    q = U.shape[0]
    if difference == "central":
        P = np.empty((2 * q, U.shape[1]))
        head = P[:q]
        np.multiply(U, mu, out=head)
        np.subtract(x, head, out=P[q:])
        head += x
        return P
    P = np.empty((q + 1, U.shape[1]))
    P[0] = x
    np.multiply(U, mu, out=P[1:])
    P[1:] += x
    return P


def combine(values: Array, U: Array, mu: float, difference: str, kind: str) -> Array:
    """The gradient estimate from the batch's values (``+inf`` terms dropped)."""
    q, d = U.shape
    scale = 1.0 if kind == "coordinate" else (float(d) if kind == "sphere" else 1.0) / q
    # (BaseStrategy.tell silences inf - inf when values failed)
    diff = values[:q] - values[q:] if difference == "central" else values[1:] - values[0]
    h = 2.0 * mu if difference == "central" else mu
    w = diff * (scale / h)  # the weights of the directions
    if math.isfinite(w.dot(w)):  # the common case: no failed terms (one cheap check)
        return w @ U
    diff = diff / h
    ok = np.isfinite(diff)
    nok = int(np.count_nonzero(ok))
    if nok == q:  # finite after all (the squares overflowed)
        return (diff @ U) * scale
    if kind == "coordinate":  # one term per coordinate: a failed coordinate reads 0
        return np.where(ok, diff, 0.0) @ U
    if not nok:
        return np.zeros(d)
    return (scale * q) * (diff[ok] @ U[ok]) / nok
