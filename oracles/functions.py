"""Batched test functions with known minima, and a :func:`noisy` wrapper.

Each function maps ``(n, d)`` points to ``(n,)`` values, minimizes, has an optional ``shift``
(the minimizer moves to ``shift``) and exposes ``minimum`` (the value) and ``argmin``.

Definitions (fixed here because libraries differ):

* Sphere: ``sum x^2``;  Quadratic: ``0.5 x^T A x`` (``A`` SPD, default ``diag(1..cond)``
  spaced geometrically);
* Rosenbrock: ``sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`` (minimizer ``1``);
* Rastrigin (CBXpy's ``Rastrigin``, not averaged over d): ``10 d + sum x^2 - 10 cos(2 pi x)``;
* Ackley (CBXpy's ``Ackley``): ``-20 exp(-0.2 sqrt(mean x^2)) - exp(mean cos(2 pi x)) + 20 + e``.

References:
    Rastrigin and Ackley as in Bailo et al., "CBX: Python and Julia packages for consensus-based
    interacting particle methods", JOSS 9(98) 6611, 2024 (``cbx.objectives``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, DimensionError
from blackbox.keys import Key
from blackbox.registry import register_oracle

__all__ = ["Ackley", "Noisy", "Quadratic", "Rastrigin", "Rosenbrock", "Sphere", "noisy"]

Array = NDArray[np.float64]


@dataclass
class _TestFunction:
    dim: int
    shift: Any = None
    sense: str = field(default="min", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)) or self.dim < 1:
            raise ConfigError(f"{type(self).__name__}.dim must be an int >= 1, got {self.dim!r}")
        self.dim = int(self.dim)
        if self.shift is None:
            self._shift = np.zeros(self.dim)
        else:
            s = np.asarray(self.shift, dtype=np.float64)
            if s.ndim == 0:
                s = np.full(self.dim, float(s))
            if s.shape != (self.dim,):
                raise DimensionError(f"shift must have shape ({self.dim},), got {s.shape}")
            self._shift = s

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    def _points(self, points: Any) -> Array:
        x = np.asarray(points, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise DimensionError(
                f"{type(self).__name__} expects points of shape (n, {self.dim}), got {x.shape}"
            )
        return x - self._shift if self.shift is not None else x

    def values(self, points: Array, *, key: Key | None = None) -> Array:
        return self._f(self._points(points))

    def __call__(self, x: Any) -> Any:
        v = self.values(np.atleast_2d(x))
        return float(v[0]) if np.ndim(x) == 1 else v

    def _f(self, x: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    minimum: float = field(default=0.0, init=False)

    @property
    def argmin(self) -> Array:
        return self._shift.copy()


@register_oracle("sphere")
@dataclass
class Sphere(_TestFunction):
    """``f(x) = sum_i (x_i - shift_i)^2``."""

    def _f(self, x: Array) -> Array:
        return np.einsum("ij,ij->i", x, x)


@register_oracle("quadratic")
@dataclass
class Quadratic(_TestFunction):
    """``f(x) = 0.5 (x - shift)^T A (x - shift)``; ``A`` defaults to ``diag`` of ``cond`` spread."""

    A: Any = None
    cond: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.A is None:
            diag = np.geomspace(1.0, float(self.cond), self.dim) if self.dim > 1 else np.ones(1)
            self._A = np.diag(diag)
        else:
            A = np.asarray(self.A, dtype=np.float64)
            if A.shape != (self.dim, self.dim):
                raise DimensionError(f"Quadratic.A must be ({self.dim}, {self.dim}), got {A.shape}")
            self._A = 0.5 * (A + A.T)

    @property
    def matrix(self) -> Array:
        return self._A

    def _f(self, x: Array) -> Array:
        return 0.5 * np.einsum("ij,ij->i", x @ self._A, x)

    def gradient(self, x: Any) -> Array:
        return (np.asarray(x, dtype=np.float64) - self._shift) @ self._A


@register_oracle("rosenbrock")
@dataclass
class Rosenbrock(_TestFunction):
    """``f(x) = sum_i 100 (y_{i+1} - y_i^2)^2 + (1 - y_i)^2`` with ``y = x - shift``.

    The minimizer is ``shift + 1`` (``1`` without a shift), where ``f = 0``.
    """

    def _f(self, y: Array) -> Array:
        return np.sum(100.0 * (y[:, 1:] - y[:, :-1] ** 2) ** 2 + (1.0 - y[:, :-1]) ** 2, axis=1)

    @property
    def argmin(self) -> Array:
        return self._shift + 1.0 if self.shift is not None else np.ones(self.dim)


@register_oracle("rastrigin")
@dataclass
class Rastrigin(_TestFunction):
    """``f(x) = 10 d + sum_i y_i^2 - 10 cos(2 pi y_i)``, ``y = x - shift`` (CBXpy's definition)."""

    def _f(self, x: Array) -> Array:
        return 10.0 * x.shape[1] + np.sum(x * x - 10.0 * np.cos(2 * np.pi * x), axis=1)


@register_oracle("ackley")
@dataclass
class Ackley(_TestFunction):
    """``-20 exp(-0.2 sqrt(mean y^2)) - exp(mean cos(2 pi y)) + 20 + e`` (CBXpy's definition)."""

    def _f(self, x: Array) -> Array:
        a = -20.0 * np.exp(-0.2 * np.sqrt(np.mean(x * x, axis=1)))
        return a - np.exp(np.mean(np.cos(2 * np.pi * x), axis=1)) + 20.0 + np.e


@dataclass
class Noisy:
    """Adds ``sigma * N(0, 1)`` noise to a value oracle; point ``i`` draws from ``key.fold_in(i)``.

    The noise depends only on the query key and the point's row, so it is reproducible and
    independent of chunking or scheduling.
    """

    oracle: Any
    sigma: float = 0.1

    def __post_init__(self) -> None:
        if not (np.isfinite(self.sigma) and self.sigma >= 0):
            raise ConfigError(f"noisy: sigma must be a finite number >= 0, got {self.sigma!r}")

    @property
    def dim(self) -> int:
        return int(self.oracle.dim)

    @property
    def sense(self) -> str:
        return str(getattr(self.oracle, "sense", "min"))

    @property
    def name(self) -> str:
        return f"noisy({getattr(self.oracle, 'name', type(self.oracle).__name__)})"

    def values(self, points: Array, *, key: Key) -> Array:
        v = np.asarray(self.oracle.values(points, key=key), dtype=np.float64)
        eps = np.array([key.fold_in(i).numpy().standard_normal() for i in range(len(v))])
        return v + self.sigma * eps


def noisy(oracle: Any, sigma: float = 0.1) -> Noisy:
    """Wrap ``oracle`` with reproducible Gaussian noise of standard deviation ``sigma``."""
    return Noisy(oracle, sigma)
