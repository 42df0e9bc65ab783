"""ZO-SGD and its variants: estimator x update x optional projection.

``ZOSGD`` estimates the gradient from one batch of finite differences per step (Gaussian, sphere
or coordinate-wise directions; forward or central; ``q`` directions) and feeds it to an update
rule: ``sgd`` (MeZO / ZO-SGD), ``momentum`` (ZO-SGD-MMT), ``adam`` (ZO-Adam), ``sign``
(ZO-signSGD), or ``conservative`` (ZO-SGD-Cons: evaluate ``x``, ``x - lr g``, ``x + lr g`` and
keep the best, so the objective never increases on the evaluated points). With a ``space`` the
iterate is projected after each update.

Defaults and their sources: ``mu = 1e-3`` and central differences (ALGORITHMS §1.1, MeZO's eps);
``estimator = "gaussian"`` (MeZO/ZO-Bench); ``q = 4`` directions (ZO-Bench's q-averaging, chosen
here to halve the estimator's variance per step at a modest cost); ``update = "adam"`` with
``lr = 0.01`` (ZO-Adam of ZO-Bench with torch's betas): Adam's per-coordinate normalisation
makes the default independent of the objective's scale, where plain SGD needs
``lr ~ 1 / (4 (d + 4) L)`` with ``L`` known (ALGORITHMS §1.1); pass ``update="sgd"`` and a step
size for the classical method.

References:
    Nesterov, Spokoiny, "Random gradient-free minimization of convex functions", FoCM 2017.
    Ghadimi, Lan, "Stochastic first- and zeroth-order methods for nonconvex stochastic
    programming", SIAM J. Optim. 2013, arXiv 1309.5549.
    Malladi et al., "Fine-tuning language models with just forward passes" (MeZO), NeurIPS 2023,
    arXiv 2305.17333.
    Zhang et al., "Revisiting zeroth-order optimization for memory-efficient LLM fine-tuning: a
    benchmark" (ZO-Bench), ICML 2024, arXiv 2402.11592.
    Liu et al., "signSGD via zeroth-order oracle", ICLR 2019, arXiv 1810.10110.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.options import Indices, OneOf, Range, option
from blackbox.query import Query
from blackbox.registry import register_strategy
from blackbox.strategy import BaseStrategy, StrategyState
from strategies import estimators, transforms

__all__ = ["ZOSGD", "ZOSGDState"]

Array = NDArray[np.float64]
_UPDATES = ("sgd", "momentum", "adam", "sign", "conservative")
_POS = Range(0, None, lo_open=True)
_UNIT = Range(0, 1, hi_open=True)
_TRANSFORMS: dict[tuple[Any, ...], transforms.Transform] = {}  # built once per configuration


@dataclass(frozen=True, eq=False)
class ZOSGDState(StrategyState):
    """Adds the update rule's state, the pending directions and the conservative phase."""

    opt: tuple[Any, ...]
    U: Array | None  # (q, d) directions of the pending gradient query
    g: Array | None  # the gradient estimate awaiting the conservative check
    t: int  # gradient steps taken


@register_strategy("zo_sgd")
@dataclass(frozen=True)
class ZOSGD(BaseStrategy[ZOSGDState]):
    """Zeroth-order SGD with a pluggable estimator and update rule.

    Args:
        lr: step size (default 0.01 for Adam; see the module docstring).
        mu: finite-difference radius (default 1e-3).
        q: random directions per estimate (ignored by ``"coordinate"``).
        estimator: ``"gaussian"``, ``"sphere"`` (scaled by d) or ``"coordinate"`` (CGE).
        difference: ``"central"`` (2q points) or ``"forward"`` (q + 1 points).
        update: ``"sgd"``, ``"momentum"``, ``"adam"``, ``"sign"`` or ``"conservative"``.
        beta: momentum coefficient; adam_b1, adam_b2, adam_eps: Adam's constants (torch
            defaults; old names ``b1``, ``b2``, ``eps`` are deprecated aliases).
        schedule: ``"constant"``, ``"inv_sqrt"`` or ``"cosine"`` (with ``schedule_steps``).
        coord_mask: coordinates estimated by ``"coordinate"`` (others get 0), e.g. DeepZero's
            sparse CGE.
    """

    paper: ClassVar[str] = ("Nesterov & Spokoiny 2017; Ghadimi & Lan 2013 (arXiv 1309.5549); "
                            "MeZO, arXiv 2305.17333; ZO-Bench, arXiv 2402.11592")
    aliases: ClassVar[dict[str, str]] = {"b1": "adam_b1", "b2": "adam_b2", "eps": "adam_eps"}

    lr: float = option(0.01, _POS, "step size", paper="eta")
    mu: float = option(1e-3, _POS, "smoothing radius (finite-difference step)", paper="mu")
    q: int = option(4, Range(1, integer=True), "random directions per estimate", paper="q")
    estimator: str = option("gaussian", OneOf(estimators.KINDS[:3]), "direction distribution")
    difference: str = option("central", OneOf(estimators.DIFFERENCES),
                             "central (2q points) or forward (q + 1 points)")
    update: str = option("adam", OneOf(_UPDATES), "update rule")
    beta: float = option(0.9, _UNIT, "momentum coefficient (update='momentum')", paper="beta")
    adam_b1: float = option(0.9, _UNIT, "Adam's first-moment decay", paper="beta_1")
    adam_b2: float = option(0.999, _UNIT, "Adam's second-moment decay", paper="beta_2")
    adam_eps: float = option(1e-8, _POS, "Adam's epsilon", paper="epsilon")
    schedule: str = option("constant", OneOf(("constant", "inv_sqrt", "cosine")),
                           "step-size schedule")
    schedule_steps: int | None = option(None, Range(1, integer=True, optional=True),
                                        "total steps of the cosine schedule")
    coord_mask: tuple[int, ...] | None = option(None, Indices(),
                                                "coordinates estimated by 'coordinate'")

    def _check(self) -> None:
        transforms.schedule(self.schedule, 1.0, 0, self.schedule_steps)  # cosine needs steps

    @property
    def _transform(self) -> transforms.Transform:
        spec = (self.update, self.beta, self.adam_b1, self.adam_b2, self.adam_eps)
        tr = _TRANSFORMS.get(spec)
        if tr is None:
            if self.update == "momentum":
                tr = transforms.momentum(self.beta)
            elif self.update == "adam":
                tr = transforms.adam(self.adam_b1, self.adam_b2, self.adam_eps)
            elif self.update == "sign":
                tr = transforms.sign()
            else:
                tr = transforms.sgd()
            _TRANSFORMS[spec] = tr
        return tr

    def _init(self, x0: Array, key: Key) -> ZOSGDState:
        if self.coord_mask is not None and (
            not self.coord_mask or min(self.coord_mask) < 0 or max(self.coord_mask) >= x0.shape[0]
        ):
            raise ConfigError(f"ZOSGD.coord_mask must list coordinates in [0, {x0.shape[0]})")
        return ZOSGDState(**self._base_fields(x0, key), opt=self._transform.init(x0.shape[0]),
                          U=None, g=None, t=0)

    def _ask(self, state: ZOSGDState, key: Key) -> tuple[Query, dict[str, Any]]:
        x = state.x
        if state.g is not None:  # conservative: x, x - lr g, x + lr g
            step = self._lr(state) * state.g
            return self._query(np.stack([x, x - step, x + step]), key, tag="cons"), {}
        mask = None if self.coord_mask is None else np.asarray(self.coord_mask)
        U = estimators.from_key(self.estimator, key, self.q, x.shape[0], mask)
        pts = estimators.perturb(x, U, self.mu, self.difference)
        return Query(pts, key, "values", tag="grad"), {"U": U}  # (pts: a new float64 batch)

    def _lr(self, state: ZOSGDState) -> float:
        return transforms.schedule(self.schedule, self.lr, state.t, self.schedule_steps)

    def _tell(self, state: ZOSGDState, query: Query, values: Array) -> tuple[dict[str, Any], dict[str, Any]]:
        if query.tag == "cons":
            best = int(np.argmin(values))  # index 0 (stay) wins ties: f never increases
            return {"x": self._feasible(query.points[best]), "g": None, "U": None,
                    "t": state.t + 1}, {"moved": best != 0}
        if state.U is None:
            raise ConfigError("ZOSGD.tell got feedback for a query it did not ask")
        g = estimators.combine(values, state.U, self.mu, self.difference, self.estimator)
        lr = self.lr if self.schedule == "constant" else self._lr(state)
        metrics = {"grad_norm": math.sqrt(g.dot(g)), "lr": lr}
        if self.update == "conservative":
            return {"g": g, "U": None}, metrics
        if self.update == "sgd":  # (the transform, inlined: this is the hot path; no state)
            x = state.x - lr * g
            updates = {"x": x if self.space is None else self._feasible(x), "U": None,
                       "t": state.t + 1}
            return updates, metrics
        step, opt = self._transform.update(g, state.opt, lr)
        x = state.x - step
        return {"x": x if self.space is None else self._feasible(x), "opt": opt, "U": None,
                "t": state.t + 1}, metrics

    def _feasible(self, x: Array) -> Array:
        return np.asarray(self.space.project(x), dtype=np.float64) if self.space is not None else x
