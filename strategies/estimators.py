"""The gradient-estimator kit: one module every gradient-based strategy draws from.

Randomized finite differences (ALGORITHMS.md §1.1-1.5) as small pure functions, used by
``zo_sgd``, ``zo_fw``, ``zscg``, ``fw_black`` (NumPy) and MeZO's torch mode:

* :func:`directions` ``(q, d)``: ``"gaussian"`` ``u ~ N(0, I)`` (Nesterov & Spokoiny 2017),
  ``"sphere"`` ``u`` uniform on the unit sphere (Flaxman et al. 2005; Duchi et al. 2015; the
  estimate is scaled by ``d``), ``"coordinate"`` the unit vectors ``e_i`` (all, or those of a
  mask: DeepZero's sparse CGE, Chen et al. 2024), ``"signed_coordinate"`` ``s_i e_i`` with random
  signs ``s_i = +-1`` (Sahu et al.'s KWSA with a random sign per coordinate). Drawn from a
  ``numpy.random.Generator``, or from a :class:`~blackbox.keys.Key` with :func:`from_key`.
* :func:`perturb`: the query batch, ``"central"`` ``[x + mu U; x - mu U]`` (antithetic pairs, 2q
  points) or ``"forward"`` ``[x; x + mu U]`` (q + 1 points, the base value shared).
* :func:`combine`: the estimate from the batch's values, ``(1/q) sum_j w_j u_j`` with the
  difference quotients ``w_j`` (``scale`` ``d`` for the sphere, 1 and no averaging for
  coordinates); :func:`average` does the same from quotients computed elsewhere (the
  Frank-Wolfe methods' feasible, per-direction steps). Failed (non-finite) terms are dropped and
  the rest re-averaged; a failed coordinate reads 0.
* :func:`quotient`: one difference quotient (central ``(f+ - f-) / (2 mu)``, forward
  ``(f+ - f0) / mu``), MeZO's ``projected_grad``.
* :func:`torch_directions`: MeZO's ``z`` for a list of tensors, from a key (one
  ``torch.Generator`` per device, seeded once, tensors in order).

Exact second moments (T1.1): Gaussian ``E||g||^2 = (d+2) ||grad f||^2``, sphere
``d ||grad f||^2`` for q = 1, errors ``(d+1)/q`` and ``(d-1)/q``.

References:
    Nesterov, Spokoiny, "Random gradient-free minimization of convex functions", FoCM 2017.
    Liu, Chen, Kailkhura et al., "A primer on zeroth-order optimization in signal processing and
    machine learning", IEEE SPM 2020, arXiv 2006.06224.
    Chen et al., "DeepZero: scaling up zeroth-order optimization for deep model training",
    ICLR 2024, arXiv 2310.02025.
    Malladi et al., "Fine-tuning language models with just forward passes" (MeZO), NeurIPS 2023,
    arXiv 2305.17333.

Examples:
    >>> import numpy as np
    >>> from blackbox.keys import Key
    >>> x, mu = np.array([1.0, -2.0]), 1e-3
    >>> U = from_key("gaussian", Key(0), 64, 2)
    >>> P = perturb(x, U, mu, "central")           # (128, 2): x + mu U, then x - mu U
    >>> g = combine((P**2).sum(axis=1), U, mu, "central", "gaussian")
    >>> bool(np.allclose(g, 2 * x, atol=1.5))     # unbiased for grad f = 2 x
    True
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DIFFERENCES",
    "KINDS",
    "average",
    "combine",
    "directions",
    "from_key",
    "perturb",
    "quotient",
    "torch_directions",
]

Array = NDArray[np.float64]
KINDS = ("gaussian", "sphere", "coordinate", "signed_coordinate")
DIFFERENCES = ("central", "forward")


def directions(kind: str, gen: np.random.Generator, q: int, d: int,
               mask: NDArray[np.int64] | None = None) -> Array:
    """``(q, d)`` directions of ``kind`` (coordinates: ``(|mask| or d, d)``, ``q`` unused)."""
    if kind == "gaussian":
        return gen.standard_normal((q, d))
    if kind == "sphere":
        u = gen.standard_normal((q, d))
        return u / np.linalg.norm(u, axis=1, keepdims=True)
    if kind == "signed_coordinate":
        return np.diag(gen.choice([-1.0, 1.0], size=d))
    if kind != "coordinate":
        raise ValueError(f"direction kind must be one of {KINDS}, got {kind!r}")
    idx = np.arange(d) if mask is None else mask
    u = np.zeros((len(idx), d))
    u[np.arange(len(idx)), idx] = 1.0
    return u


def from_key(kind: str, key: Any, q: int, d: int, mask: NDArray[np.int64] | None = None) -> Array:
    """:func:`directions` drawn from ``key``'s stream (a :class:`~blackbox.keys.Key`; drawn at
    once from :meth:`~blackbox.keys.Key.draw`, the stream of ``key.numpy()``)."""
    if kind == "gaussian":  # (the common case, one call fewer)
        return key.draw().standard_normal((q, d))
    return directions(kind, key.draw(), q, d, mask)


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


def _scale(kind: str, q: int, d: int) -> float:
    """The estimate's factor: ``1/q`` (Gaussian), ``d/q`` (sphere), 1 (coordinates, a sum)."""
    if kind in ("coordinate", "signed_coordinate"):
        return 1.0
    return (float(d) if kind == "sphere" else 1.0) / q


def combine(values: Array, U: Array, mu: float, difference: str, kind: str) -> Array:
    """The gradient estimate from the batch's values (``+inf`` terms dropped)."""
    q, d = U.shape
    scale = 1.0 / q if kind == "gaussian" else _scale(kind, q, d)
    # (BaseStrategy.tell silences inf - inf when values failed)
    diff = values[:q] - values[q:] if difference == "central" else values[1:] - values[0]
    h = 2.0 * mu if difference == "central" else mu
    w = diff * (scale / h)  # the weights of the directions
    if math.isfinite(w.dot(w)):  # the common case: no failed terms (one cheap check)
        return w @ U
    return average(diff / h, U, kind)


def average(quotients: Array, U: Array, kind: str) -> Array:
    """``scale * sum_j w_j u_j`` from difference quotients ``w (q,)``; failed terms dropped.

    Gaussian/sphere: the finite terms re-averaged (none finite: 0); coordinates: a failed
    coordinate reads 0.
    """
    q, d = U.shape
    scale = _scale(kind, q, d)
    ok = np.isfinite(quotients)
    nok = int(np.count_nonzero(ok))
    if nok == q:
        return (quotients @ U) * scale
    if kind in ("coordinate", "signed_coordinate"):
        return np.where(ok, quotients, 0.0) @ U
    if not nok:
        return np.zeros(d)
    return (scale * q) * (quotients[ok] @ U[ok]) / nok


def quotient(f_plus: float, f_other: float, mu: float, difference: str) -> float:
    """One difference quotient: ``(f+ - f-) / (2 mu)`` (central) or ``(f+ - f0) / mu`` (forward).

    Examples:
        >>> quotient(3.0, 1.0, 0.5, "central"), quotient(3.0, 1.0, 0.5, "forward")
        (2.0, 4.0)
    """
    if difference == "central":
        return (f_plus - f_other) / (2 * mu)
    return (f_plus - f_other) / mu


def torch_directions(key: Any, tensors: Sequence[Any]) -> Iterator[Any]:
    """MeZO's ``z ~ N(0, I)`` for each tensor in order, drawn from ``key``.

    One ``torch.Generator`` per device, seeded once from ``key.fold_in(i)`` (``i``: the order in
    which devices first appear), so two tensors of equal shape get different noise (the
    re-seeding bug of ALGORITHMS §1.5 cannot happen) and ``z`` is regenerated exactly from the
    key alone, with each tensor's shape, dtype and device.
    """
    import torch

    gens: dict[Any, Any] = {}
    for t in tensors:
        dev = t.device
        if dev not in gens:
            gens[dev] = key.fold_in(len(gens)).torch(dev)
        yield torch.randn(t.shape, generator=gens[dev], dtype=t.dtype, device=dev)
