"""Feasible sets: :class:`Box`, :class:`Ball` (p = 1, 2, inf) and :class:`Simplex`.

Each space has ``dim``, ``bounded``, ``project(x)`` (Euclidean projection, batched over leading
axes), ``lmo(g)`` (linear minimization oracle ``argmin_{s in C} <g, s>``, batched), ``contains(x)``
and ``sample(gen, n)`` (uniform draws, used to initialize particle methods).

References:
    Jaggi, "Revisiting Frank-Wolfe: projection-free sparse convex optimization", ICML 2013 (LMOs).
    Duchi, Shalev-Shwartz, Singer, Chandra, "Efficient projections onto the l1-ball for learning
    in high dimensions", ICML 2008 (L1 and simplex projections).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, DimensionError

__all__ = ["Ball", "Box", "Simplex", "Space", "as_space"]

Array = NDArray[np.float64]
_TOL = 1e-9


@runtime_checkable
class Space(Protocol):
    dim: int
    bounded: bool

    def project(self, x: Array) -> Array: ...
    def lmo(self, g: Array) -> Array: ...
    def contains(self, x: Array) -> bool: ...
    def sample(self, gen: np.random.Generator, n: int) -> Array: ...


def _vec(name: str, v: Any, dim: int | None = None) -> Array:
    a = np.array(v, dtype=np.float64)
    if a.ndim == 0 and dim is not None:
        a = np.full(dim, float(a))
    if a.ndim != 1:
        raise DimensionError(f"{name} must be a 1-d vector, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{name} must be finite, got {a}")
    a.flags.writeable = False
    return a


def _check_last(name: str, x: Array, dim: int) -> Array:
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1:] != (dim,):
        raise DimensionError(f"{name} must have last dimension {dim}, got shape {x.shape}")
    return x


def _simplex_project(v: Array, z: float = 1.0) -> Array:
    """Project rows of ``v`` onto ``{x >= 0, sum x = z}`` (sort-based, Duchi et al. 2008)."""
    u = -np.sort(-v, axis=-1)
    css = np.cumsum(u, axis=-1) - z
    ind = np.arange(1, v.shape[-1] + 1)
    cond = u - css / ind > 0
    rho = v.shape[-1] - 1 - np.argmax(cond[..., ::-1], axis=-1)
    theta = np.take_along_axis(css, rho[..., None], axis=-1) / (rho[..., None] + 1)
    return np.maximum(v - theta, 0.0)


@dataclass(frozen=True)
class Box:
    """The box ``[lower, upper]`` (either may be a scalar when ``dim`` is given)."""

    lower: Any
    upper: Any
    dim: int = 0

    def __post_init__(self) -> None:
        d = self.dim or None
        lo, hi = _vec("Box.lower", self.lower, d), _vec("Box.upper", self.upper, d)
        if lo.shape != hi.shape:
            raise DimensionError(f"Box.lower {lo.shape} and Box.upper {hi.shape} differ in shape")
        if np.any(lo > hi):
            raise ConfigError("Box.lower must be <= Box.upper in every coordinate")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        object.__setattr__(self, "dim", lo.shape[0])

    bounded = True

    def project(self, x: Array) -> Array:
        return np.clip(_check_last("x", x, self.dim), self.lower, self.upper)

    def lmo(self, g: Array) -> Array:
        g = _check_last("g", g, self.dim)
        return np.where(g > 0, self.lower, self.upper)

    def contains(self, x: Array) -> bool:
        x = _check_last("x", x, self.dim)
        return bool(np.all(x >= self.lower - _TOL) and np.all(x <= self.upper + _TOL))

    def sample(self, gen: np.random.Generator, n: int) -> Array:
        return gen.uniform(self.lower, self.upper, size=(n, self.dim))

    def center(self) -> Array:
        return (self.lower + self.upper) / 2


@dataclass(frozen=True)
class Ball:
    """The ball ``{x : ||x - center||_p <= radius}`` for ``p`` in {1, 2, inf}."""

    center: Any
    radius: float
    p: float = np.inf

    def __post_init__(self) -> None:
        c = _vec("Ball.center", self.center)
        object.__setattr__(self, "center", c)
        if not (np.isfinite(self.radius) and self.radius > 0):
            raise ConfigError(f"Ball.radius must be a finite number > 0, got {self.radius}")
        p = float(self.p)
        if p not in (1.0, 2.0, np.inf):
            raise ConfigError(f"Ball.p must be 1, 2 or inf, got {self.p}")
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "radius", float(self.radius))

    bounded = True

    @property
    def dim(self) -> int:
        return int(self.center.shape[0])

    def project(self, x: Array) -> Array:
        y = _check_last("x", x, self.dim) - self.center
        r = self.radius
        if self.p == np.inf:
            return np.clip(y, -r, r) + self.center
        if self.p == 2.0:
            nrm = np.linalg.norm(y, axis=-1, keepdims=True)
            return y * np.minimum(1.0, r / np.maximum(nrm, 1e-300)) + self.center
        inside = np.abs(y).sum(axis=-1, keepdims=True) <= r
        proj = np.sign(y) * _simplex_project(np.abs(y), r)
        return np.where(inside, y, proj) + self.center

    def lmo(self, g: Array) -> Array:
        g = _check_last("g", g, self.dim)
        r = self.radius
        if self.p == np.inf:
            return self.center - r * np.sign(g)
        if self.p == 2.0:
            nrm = np.linalg.norm(g, axis=-1, keepdims=True)
            return self.center - r * np.where(nrm > 0, g / np.maximum(nrm, 1e-300), 0.0)
        idx = np.argmax(np.abs(g), axis=-1)[..., None]
        v = np.zeros_like(g)
        np.put_along_axis(v, idx, -r * np.sign(np.take_along_axis(g, idx, axis=-1)), axis=-1)
        return v + self.center

    def contains(self, x: Array) -> bool:
        y = _check_last("x", x, self.dim) - self.center
        nrm = np.linalg.norm(y, ord=self.p, axis=-1) if y.ndim == 1 else np.linalg.norm(
            y, ord=self.p, axis=-1
        )
        return bool(np.all(nrm <= self.radius * (1 + 1e-9) + _TOL))

    def sample(self, gen: np.random.Generator, n: int) -> Array:
        d, r = self.dim, self.radius
        if self.p == np.inf:
            return self.center + gen.uniform(-r, r, size=(n, d))
        if self.p == 2.0:
            z = gen.standard_normal((n, d))
            z /= np.linalg.norm(z, axis=1, keepdims=True)
            return self.center + r * z * gen.uniform(size=(n, 1)) ** (1.0 / d)
        e = gen.exponential(size=(n, d + 1))  # uniform in the L1 ball
        return self.center + r * gen.choice([-1.0, 1.0], size=(n, d)) * e[:, :d] / e.sum(1, keepdims=True)


@dataclass(frozen=True)
class Simplex:
    """The probability simplex ``{x >= 0, sum x = 1}`` in ``R^dim``."""

    dim: int

    def __post_init__(self) -> None:
        if not (isinstance(self.dim, (int, np.integer)) and self.dim >= 1):
            raise ConfigError(f"Simplex.dim must be an int >= 1, got {self.dim!r}")

    bounded = True

    def project(self, x: Array) -> Array:
        return _simplex_project(_check_last("x", x, self.dim))

    def lmo(self, g: Array) -> Array:
        g = _check_last("g", g, self.dim)
        v = np.zeros_like(g)
        np.put_along_axis(v, np.argmin(g, axis=-1)[..., None], 1.0, axis=-1)
        return v

    def contains(self, x: Array) -> bool:
        x = _check_last("x", x, self.dim)
        return bool(np.all(x >= -_TOL) and np.all(np.abs(x.sum(axis=-1) - 1) <= 1e-7))

    def sample(self, gen: np.random.Generator, n: int) -> Array:
        return gen.dirichlet(np.ones(self.dim), size=n)

    def center(self) -> Array:
        return np.full(self.dim, 1.0 / self.dim)


def as_space(space: Any, dim: int | None = None) -> Any:
    """Validate ``space`` (``None`` passes through) against ``dim``."""
    if space is None:
        return None
    for attr in ("project", "lmo", "contains"):
        if not callable(getattr(space, attr, None)):
            raise ConfigError(f"space must have a {attr}() method (Box, Ball, Simplex), got {space!r}")
    if dim is not None and int(space.dim) != int(dim):
        raise DimensionError(f"space has dimension {space.dim} but the oracle has dim={dim}")
    return space
