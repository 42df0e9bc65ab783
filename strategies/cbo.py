"""Consensus-based optimization (CBO) with M independent systems of N particles.

Each step evaluates the particles (the oracle sees one ``(M*b, d)`` batch, ``b`` = batch size),
forms each system's consensus point with log-sum-exp stabilized weights ``exp(-alpha f)``
(a failed, ``+inf`` value gets weight exactly 0), and moves the particles by Euler-Maruyama
(CBXpy's ``CBO.inner_step``)::

    drift = x - c
    x <- x - lamda * dt * drift + sigma * sqrt(dt) * noise
    noise = ||drift|| xi (isotropic)   or   drift * xi (anisotropic),   xi ~ N(0, I)

Options: random particle mini-batches (CBXpy: walk a random permutation; ``partial=True`` moves
only the batch), alpha schedules (``"geometric"``: ``alpha <- min(factor alpha, alpha_max)``;
``"ess"``: the effective-sample-size bisection of Carrillo, Hoffmann, Stuart, Vaes), and the
Heaviside correction of Pinnau et al. (``"heaviside"``, exact: costs a second, M-point query per
step for ``f(c)``; ``"heaviside_reg"``: ``0.5 (1 + tanh((f(x) - f(c)) / eps))``).

The all-time best evaluated particle of each system is kept (``best_x``, ``best_f``), as CBXpy's
``best_particle``; ``recommend`` returns the best of them over all systems. Initial particles:
uniform in ``space`` when it is bounded (or in ``init_bounds``), else ``x0 + init_std N(0, I)``.
All noise of a step is drawn from that step's ask key, so the step is reproducible.

Defaults and sources: ``dt = 0.01``, ``lamda = 1``, ``alpha`` multiplied by 1.05 per step up to
1e5, ``N = 20`` are CBXpy 1.0's defaults (ALGORITHMS §3.6); ``noise = "anisotropic"``
(dimension-free convergence, §3.1) with ``sigma = 10.1`` and ``alpha = 30`` are the settings of
CBXpy's success-rate experiment (R3.1), which keep enough exploration that the swarm does not
collapse before it reaches the minimizer (with ``sigma = 1`` it collapses on the 10-d sphere).

References:
    Pinnau, Totzeck, Tse, Martin, "A consensus-based model for global optimization and its
    mean-field limit", M3AS 2017, arXiv 1604.05648.
    Carrillo, Jin, Li, Zhu, "A consensus-based global optimization method for high dimensional
    machine learning problems", ESAIM:COCV 2021, arXiv 1909.09249.
    Fornasier, Klock, Riedl, "Consensus-based optimization methods converge globally", arXiv
    2103.15130; Bailo et al., "CBX", JOSS 9(98) 6611, 2024.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.options import Flag, OneOf, Pair, Range, option
from blackbox.query import Query
from blackbox.registry import register_strategy
from blackbox.strategy import BaseStrategy, StrategyState

__all__ = ["CBO", "CBOState", "consensus", "ess_alpha"]

Array = NDArray[np.float64]
_POS = Range(0, None, lo_open=True)
_INT1 = Range(1, integer=True)


def consensus(X: Array, E: Array, alpha: Array) -> Array:
    """Consensus points ``(M, d)`` of particles ``X (M, N, d)`` with energies ``E (M, N)``."""
    logw = -alpha[:, None] * E
    logw = np.where(np.isfinite(E), logw, -np.inf)
    top = np.max(logw, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    w = np.exp(logw - top)
    s = w.sum(axis=1, keepdims=True)
    c = np.einsum("mn,mnd->md", w, X) / np.where(s > 0, s, 1.0)
    return np.where(s > 0, c, X.mean(axis=1))  # a system with no finite value: plain mean


def ess_alpha(E: Array, eta: float = 0.5, lo: float = 1e-5, hi: float = 1e5, iters: int = 40,
              tol: float = 1e-2) -> Array:
    """Alpha with effective sample size ``(sum w)^2 / sum w^2 = eta N`` per system.

    Bisection as CBXpy's ``effective_sample_size`` scheduler, but on ``log alpha`` over
    ``[lo, hi]``: CBXpy's 15 linear steps over ``[0, 1e5]`` resolve alpha only to about 3, too
    coarse for energies of order 1-10.
    """
    fin = np.isfinite(E)
    worst = np.max(np.where(fin, E, -np.inf), axis=1, keepdims=True)
    E = np.where(fin, E, np.where(np.isfinite(worst), worst, 0.0) + 1e3)
    E = E - E.min(axis=1, keepdims=True)
    n = E.shape[1]
    a, b = np.full(E.shape[0], np.log(lo)), np.full(E.shape[0], np.log(hi))
    for _ in range(iters):
        mid = 0.5 * (a + b)
        al = np.exp(mid)[:, None]
        gap = np.exp(2 * logsumexp(-al * E, axis=1) - logsumexp(-2 * al * E, axis=1)) - eta * n
        if np.all(np.abs(gap) < tol):
            break
        a, b = np.where(gap > 0, mid, a), np.where(gap > 0, b, mid)
    return np.exp(0.5 * (a + b))


@dataclass(frozen=True, eq=False)
class CBOState(StrategyState):
    """Particles and bookkeeping; arrays are per system (leading axis M)."""

    X: Array  # (M, N, d) particles
    alpha: Array  # (M,)
    best_x: Array  # (M, d) all-time best evaluated particle per system
    best_f: Array  # (M,)
    perm: Array  # (M, N) the permutation mini-batches walk through
    pos: int  # position in perm
    batch: Array | None  # (M, b) indices of the pending query's particles
    noise_key: Key | None  # the key of the pending step's noise
    pending: Array | None  # (M, b) energies awaiting the Heaviside correction's f(c)
    evals: int  # evaluations per system so far


@register_strategy("cbo")
@dataclass(frozen=True)
class CBO(BaseStrategy[CBOState]):
    """Consensus-based optimization (Pinnau et al. 2017; CBXpy semantics).

    Args:
        N: particles per system; M: independent systems.
        noise: ``"anisotropic"`` or ``"isotropic"``.
        sigma, lamda, dt, alpha: the dynamics' constants (``lamda`` as in CBXpy).
        alpha_schedule: ``"geometric"`` (alpha_factor, alpha_max), ``"ess"`` (ess_target), or
            ``None`` (old names ``schedule``, ``factor``, ``eta``).
        batch_size: particles per mini-batch (``None``: all); partial: move only the batch.
        correction: ``None``, ``"heaviside"`` or ``"heaviside_reg"`` (eps ``correction_eps``).
        init_dist: ``"auto"`` (uniform in a bounded space or in ``init_bounds``, else normal),
            ``"uniform"`` or ``"normal"``; init_std: the normal's standard deviation;
            init_bounds: ``(low, high)`` of a uniform initial distribution that is not a
            feasible set (CBXpy's ``U(-3, 3)^d`` experiments).
    """

    paper: ClassVar[str] = ("Pinnau, Totzeck, Tse & Martin 2017, arXiv 1604.05648; CBXpy, "
                            "JOSS 9(98) 6611")
    aliases: ClassVar[dict[str, str]] = {"schedule": "alpha_schedule", "factor": "alpha_factor",
                                         "eta": "ess_target"}

    N: int = option(20, _INT1, "particles per system", paper="N")
    M: int = option(1, _INT1, "independent systems", paper="M")
    noise: str = option("anisotropic", OneOf(("anisotropic", "isotropic")), "noise model")
    sigma: float = option(10.1, _POS, "noise strength", paper="sigma")
    lamda: float = option(1.0, Range(), "drift strength", paper="lambda")
    dt: float = option(0.01, _POS, "time step", paper="dt")
    alpha: float = option(30.0, Range(0), "initial weight exponent", paper="alpha")
    alpha_schedule: str | None = option("geometric", OneOf((None, "geometric", "ess")),
                                        "alpha schedule")
    alpha_factor: float = option(1.05, _POS, "geometric: alpha <- factor alpha")
    alpha_max: float = option(1e5, _POS, "largest alpha")
    ess_target: float = option(0.5, _POS, "ess: target effective sample size / N", paper="eta")
    batch_size: int | None = option(None, Range(1, integer=True, optional=True),
                                    "particles per mini-batch (None: all)")
    partial: bool = option(True, Flag(), "move only the mini-batch")
    correction: str | None = option(None, OneOf((None, "heaviside", "heaviside_reg")),
                                    "Heaviside correction")
    correction_eps: float = option(1e-3, _POS, "heaviside_reg's epsilon")
    init_dist: str = option("auto", OneOf(("auto", "uniform", "normal")),
                            "initial particle distribution")
    init_std: float = option(1.0, _POS, "normal initial distribution's standard deviation")
    init_bounds: tuple[float, float] | None = option(None, Pair(),
                                                     "(low, high) of a uniform initial box")

    def _check(self) -> None:
        if self.batch_size is not None and self.batch_size > self.N:
            raise ConfigError(f"CBO.batch_size must be an int in [1, N={self.N}] or None, got "
                              f"{self.batch_size!r}")

    @property
    def points_per_step(self) -> int:
        return self.M * (self.batch_size or self.N)

    def _init(self, x0: Array, key: Key) -> CBOState:
        d, M, N = x0.shape[0], self.M, self.N
        gen = key.fold_in(-1).numpy()
        bounded = self.space is not None and getattr(self.space, "bounded", False)
        kind = self.init_dist if self.init_dist != "auto" else (
            "uniform" if bounded or self.init_bounds is not None else "normal")
        if kind == "uniform" and self.init_bounds is not None:
            X = gen.uniform(self.init_bounds[0], self.init_bounds[1], size=(M, N, d))
        elif kind == "uniform":
            if not bounded:
                raise ConfigError("CBO.init_dist='uniform' needs a bounded space or init_bounds")
            X = self.space.sample(gen, M * N).reshape(M, N, d)
        else:
            X = x0 + self.init_std * gen.standard_normal((M, N, d))
        if self.space is not None:
            X = self.space.project(X)
        perm = np.argsort(gen.random((M, N)), axis=1)
        return CBOState(**self._base_fields(x0, key), X=X, alpha=np.full(M, float(self.alpha)),
                        best_x=np.repeat(x0[None], M, axis=0), best_f=np.full(M, np.inf), perm=perm,
                        pos=0, batch=None, noise_key=None, pending=None, evals=0)

    def _ask(self, state: CBOState, key: Key) -> tuple[Query, dict[str, Any]]:
        if state.pending is not None:  # the Heaviside correction's f(consensus) query
            return self._query(self._consensus(state, state.pending), key, tag="consensus"), {}
        M, N, d = state.X.shape
        b = self.batch_size or N
        if b == N:
            batch = np.broadcast_to(np.arange(N), (M, N))
            upd: dict[str, Any] = {}
        else:
            perm, pos = state.perm, state.pos
            if pos + b > N:  # a fresh permutation once the walk is exhausted (CBXpy)
                perm = np.argsort(key.fold_in(-2).numpy().random((M, N)), axis=1)
                pos = 0
            batch = perm[:, pos:pos + b]
            upd = {"perm": perm, "pos": pos + b}
        if b == N:
            pts = state.X.reshape(M * N, d)
        else:
            pts = np.take_along_axis(state.X, batch[:, :, None], axis=1).reshape(M * b, d)
        upd.update(batch=np.ascontiguousarray(batch), noise_key=key)
        return self._query(pts, key, tag="particles"), upd

    @staticmethod
    def _take(X: Array, batch: Array) -> Array:
        if batch.shape[1] == X.shape[1]:
            return X  # the full batch: no copy
        return np.take_along_axis(X, batch[:, :, None], axis=1)

    def _consensus(self, state: CBOState, E: Array) -> Array:
        return consensus(self._take(state.X, state.batch), E, state.alpha)

    def _tell(self, state: CBOState, query: Query, values: Array) -> tuple[dict[str, Any], dict[str, Any]]:
        if state.batch is None:
            raise ConfigError("CBO.tell got feedback for a query it did not ask")
        M, b = state.batch.shape
        if query.tag == "consensus":
            return self._move(state, state.pending, values, extra=1)
        E = values.reshape(M, b)
        if self.correction == "heaviside":
            return {"pending": E}, {}
        return self._move(state, E, None, extra=0)

    def _move(self, state: CBOState, E: Array, fc: Array | None, extra: int) -> tuple[dict[str, Any], dict[str, Any]]:
        X, batch, M = state.X, state.batch, state.X.shape[0]
        Xb = self._take(X, batch)  # (M, b, d)
        full = Xb is X
        c = consensus(Xb, E, state.alpha)
        i = np.argmin(E, axis=1)
        fbest = E[np.arange(M), i]
        better = fbest < state.best_f
        best_x = np.where(better[:, None], Xb[np.arange(M), i], state.best_x)
        best_f = np.where(better, fbest, state.best_f)
        moving = Xb if self.partial else X
        drift = moving - c[:, None, :]
        xi = state.noise_key.numpy().standard_normal(drift.shape)
        dist = np.sqrt(np.einsum("mnd,mnd->mn", drift, drift))  # (M, n) distances to consensus
        if self.noise == "anisotropic":
            noise = drift * xi
        else:
            noise = dist[..., None] * xi
        gate = 1.0
        if self.correction is not None:
            fc_ = fc if fc is not None else None
            Eg = E if self.partial or full else np.full(X.shape[:2], np.inf)
            if not (self.partial or full):
                np.put_along_axis(Eg, batch, E, axis=1)
            if self.correction == "heaviside":
                gate = (Eg - fc_[:, None] > 0).astype(float)[..., None]
            else:  # regularized with f(c) approximated by the best batch value
                gate = (0.5 * (1 + np.tanh((Eg - fbest[:, None]) / self.correction_eps)))[..., None]
        moved = moving - self.lamda * self.dt * gate * drift + self.sigma * np.sqrt(self.dt) * noise
        if self.space is not None:
            moved = self.space.project(moved)
        if self.partial and not full:
            newX = X.copy()
            np.put_along_axis(newX, batch[:, :, None], moved, axis=1)
        else:
            newX = moved
        alpha = state.alpha
        if self.alpha_schedule == "geometric":
            alpha = np.minimum(alpha * self.alpha_factor, self.alpha_max)
        elif self.alpha_schedule == "ess":
            alpha = ess_alpha(E, self.ess_target, hi=self.alpha_max)
        k = int(np.argmin(best_f))
        upd = {"X": newX, "alpha": alpha, "best_x": best_x, "best_f": best_f, "batch": None,
               "noise_key": None, "pending": None, "evals": state.evals + batch.shape[1] + extra,
               "x": best_x[k].copy()}
        metrics = {"best": float(best_f[k]), "alpha": float(alpha.mean()),
                   "spread": float(dist.mean()),
                   "evals_per_system": state.evals + batch.shape[1] + extra}
        return upd, metrics
