"""Simulated raters: people (or judges) who rank candidates by a hidden utility, imperfectly.

A :class:`SimulatedRater` answers ranking queries from a value oracle (the hidden utility) with
the failure modes real raters have:

* **noise with a temperature** ``T`` (in value units): ``"bradley_terry"`` draws the order from a
  Plackett-Luce model, ``P(i first) ~ exp(u_i / T)`` (Gumbel-max trick), so for two candidates
  ``P(a over b) = 1 / (1 + exp(-(u_a - u_b) / T))`` (Bradley & Terry 1952, Plackett 1975);
  ``"thurstone"`` perceives ``u_i + T * N(0, 1)`` (Thurstone's case V: for two candidates
  ``P(a over b) = Phi((u_a - u_b) / (T sqrt 2))``); ``T = 0`` (or ``model="exact"``) sorts;
* **position bias**: the candidate shown at display position ``p`` of ``m`` gets
  ``position_bias * (m - 1 - p) / (m - 1)`` added to its utility (the first shown is favoured;
  a page that shuffles the display order turns this into plain noise);
* **inconsistency**: with probability ``inconsistency`` an answer ignores the candidates and is
  a uniformly random order (a misclick, a lapse of attention).

Every draw comes from the query's key (``key.fold_in(-1).fold_in(group)``), so answers are
reproducible and independent of batching. The rater counts what a person would spend:
``answers`` (one submit per group), ``shown`` (candidates shown) and ``comparisons`` (pairs the
answer orders, ``k(k-1)/2 + k(m-k)`` for a top-k answer of m).

:class:`TargetUtility` is the benchmark utility ``-||x - x*||^2`` with ``x* ~ U[lo, hi]^d`` drawn
from a seed (regret = ``||x - x*||^2``), as in the preference benchmark of the ZO-RankSGD paper.

References:
    R. A. Bradley, M. E. Terry, "Rank analysis of incomplete block designs", Biometrika 39, 1952.
    R. L. Plackett, "The analysis of permutations", JRSS C 24, 1975.
    L. L. Thurstone, "A law of comparative judgment", Psychological Review 34, 1927.
    Z. Tang, D. Rybin, T.-H. Chang, "Zeroth-Order Optimization Meets Human Feedback: Provable
    Learning via Ranking Oracles", ICLR 2024, https://arxiv.org/abs/2303.03751.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, FeedbackError
from blackbox.keys import Key
from blackbox.oracle import OracleSpec, OracleWrapper, can_value

__all__ = ["MODELS", "SimulatedRater", "TargetUtility"]

Array = NDArray[np.float64]
MODELS = ("exact", "bradley_terry", "thurstone")
_NOISE_KEY = -1  # as in oracles.ranking: distinct from every point key fold_in(i >= 0)


def _finite_at_least(who: str, v: Any, lo: float, hi: float | None = None) -> float:
    ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    if not ok or not np.isfinite(v) or v < lo or (hi is not None and v > hi):
        rng = f"in [{lo:g}, {hi:g}]" if hi is not None else f">= {lo:g}"
        raise ConfigError(f"SimulatedRater.{who} must be a finite number {rng}, got {v!r}")
    return float(v)


@dataclass
class TargetUtility:
    """``u(x) = -||x - x*||^2`` (``sense="max"``), ``x* ~ U[lo, hi]^d`` from ``Key(seed)``.

    Args:
        dim: the dimension ``d``.
        seed: draws the target.
        lo, hi: the box the target is drawn from.
    """

    dim: int
    seed: int = 0
    lo: float = -1.0
    hi: float = 1.0
    sense: str = "max"
    name: str = "utility"
    target: Array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise ConfigError(f"TargetUtility.dim must be an int >= 1, got {self.dim!r}")
        self.target = Key(self.seed).fold_in(99).numpy().uniform(self.lo, self.hi, self.dim)

    def values(self, points: Array, *, key: Key | None = None) -> Array:
        pts = np.asarray(points, dtype=np.float64)
        return -np.sum((pts - self.target) ** 2, axis=-1)  # type: ignore[no-any-return]

    def regret(self, x: Any) -> float:
        """``||x - x*||^2`` (0 at the target)."""
        return float(-self.values(np.asarray(x, dtype=np.float64)[None, :])[0])


@dataclass
class SimulatedRater(OracleWrapper):
    """A ranking oracle that answers like a noisy, biased, sometimes inconsistent person.

    Args:
        oracle: the hidden utility, a value oracle (or ``OracleSpec``); its ``sense`` says which
            way is better.
        model: ``"bradley_terry"`` (default), ``"thurstone"`` or ``"exact"``.
        temperature: the noise scale ``T`` in value units (``0``: exact).
        position_bias: utility bonus of the first displayed candidate (value units, >= 0).
        inconsistency: probability of a uniformly random answer, in [0, 1].

    Attributes:
        answers, shown, comparisons: what the answers cost a person (see the module docstring).
    """

    oracle: Any
    model: str = "bradley_terry"
    temperature: float = 0.0
    position_bias: float = 0.0
    inconsistency: float = 0.0
    answers: int = field(default=0, init=False)
    shown: int = field(default=0, init=False)
    comparisons: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.oracle, OracleSpec):
            self.oracle = self.oracle.build()
        if not can_value(self.oracle):
            raise FeedbackError(
                f"SimulatedRater.oracle must give values (the hidden utility), "
                f"got {type(self.oracle).__name__}")
        if self.model not in MODELS:
            raise ConfigError(f"SimulatedRater.model must be one of {MODELS}, got {self.model!r}")
        self.temperature = _finite_at_least("temperature", self.temperature, 0.0)
        self.position_bias = _finite_at_least("position_bias", self.position_bias, 0.0)
        self.inconsistency = _finite_at_least("inconsistency", self.inconsistency, 0.0, 1.0)

    def utilities(self, points: Array, *, key: Key) -> Array:
        """Utilities (larger is better) of ``points``; non-finite values become ``-inf``."""
        v = np.asarray(self.oracle.values(points, key=key), dtype=np.float64)
        u = v if self.sense == "max" else -v
        return np.where(np.isfinite(u), u, -np.inf)

    def rank(self, points: Array, groups: Any, *, top: int, key: Key) -> NDArray[np.int64]:
        groups = np.asarray(groups, dtype=np.int64)
        util = self.utilities(points, key=key)
        noise = key.fold_in(_NOISE_KEY)
        out = np.stack([self._order(util[grp], noise.fold_in(gi)) for gi, grp in enumerate(groups)])
        m = groups.shape[1]
        self.answers += len(groups)
        self.shown += groups.size
        self.comparisons += len(groups) * (top * (top - 1) // 2 + top * (m - top))
        return np.take_along_axis(groups, out[:, :top], axis=1)

    def _order(self, u: Array, key: Key) -> NDArray[np.int64]:
        """Positions of one displayed group, best first."""
        m = u.shape[0]
        gen = key.numpy()
        lapse, perm = gen.random(), gen.permutation(m)
        if lapse < self.inconsistency:
            return perm.astype(np.int64)
        if self.position_bias and m > 1:
            u = u + self.position_bias * (m - 1 - np.arange(m)) / (m - 1)
        t = self.temperature
        if self.model != "exact" and t > 0:
            finite = np.isfinite(u)
            if self.model == "bradley_terry":
                u = np.where(finite, u / t + gen.gumbel(size=m), -np.inf)
            else:
                u = np.where(finite, u + t * gen.standard_normal(m), -np.inf)
        return np.argsort(-u, kind="stable").astype(np.int64)
