"""Ranking oracles built from other oracles: noisy value rankers, pairwise-only, ranking-only.

* :func:`ranker` makes a value oracle answer ranking queries: exactly, with a Bradley-Terry /
  Plackett-Luce noise model (:class:`blackbox.oracle.ValueRanker`, utilities ``-f / temperature``),
  or with :class:`TieFlipRanker`, which swaps near ties at random to emulate a person who
  cannot tell two almost equal candidates apart.
* :class:`Pairwise` restricts any ranking oracle to ``(2, 1)`` comparisons
  (``C_f(x, y) = sign(f(x) - f(y))``) and refuses larger groups with a clear error.
* :class:`RankingOnly` hides ``values``: it answers ranking queries only, so a value strategy
  paired with it is refused before the first query and ZO-RankSGD works unchanged.

Every wrapper accepts an oracle or an :class:`~blackbox.oracle.OracleSpec` (built on the spot, so
the wrappers themselves travel as ``OracleSpec("oracles.ranking:RankingOnly", {...})``). All
randomness comes from the query's key: values use the point keys ``key.fold_in(i)``, ranking
noise uses ``key.fold_in(-1).fold_in(group)`` (as ``ValueRanker`` does), so answers do not
depend on how groups are batched.

References:
    R. A. Bradley, M. E. Terry, "Rank analysis of incomplete block designs", Biometrika 39, 1952;
    R. L. Plackett, "The analysis of permutations", JRSS C 24, 1975. Ranking oracles as in
    Tang, Rybin, Chang, "Zeroth-Order Optimization Meets Human Feedback", ICLR 2024,
    https://arxiv.org/abs/2303.03751 (Section 2, (m, k)-ranking and comparison oracles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, FeedbackError
from blackbox.keys import Key
from blackbox.oracle import (
    OracleSpec,
    OracleWrapper,
    ValueRanker,
    can_value,
    oracle_name,
    oracle_sense,
    rank_by_values,
)

__all__ = ["Pairwise", "RankingOnly", "TieFlipRanker", "ranker"]

Array = NDArray[np.float64]
Order = NDArray[np.int64]

_NOISE_KEY = -1  # ranking noise uses key.fold_in(-1): distinct from every point key fold_in(i >= 0)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and bool(
        np.isfinite(v)
    )


def _build(oracle: Any) -> Any:
    return oracle.build() if isinstance(oracle, OracleSpec) else oracle


def _build_ranking(oracle: Any, who: str) -> Any:
    """Build ``oracle`` (if a spec) and check that it can rank or give values."""
    oracle = _build(oracle)
    if not (callable(getattr(oracle, "rank", None)) or can_value(oracle)):
        raise FeedbackError(f"{who}.oracle must rank or give values, got {type(oracle).__name__}")
    return oracle


def _rank_with(oracle: Any, points: Array, groups: Order, top: int, key: Key) -> Order:
    """Rank with ``oracle.rank`` if it has one, else exactly by its values."""
    if callable(getattr(oracle, "rank", None)):
        return np.asarray(oracle.rank(points, groups, top=top, key=key), dtype=np.int64)
    if not can_value(oracle):
        raise FeedbackError(f"oracle {oracle_name(oracle)!r} can neither rank nor give values")
    vals = np.asarray(oracle.values(points, key=key), dtype=np.float64)
    return rank_by_values(vals, groups, top, oracle_sense(oracle))


@dataclass
class TieFlipRanker(OracleWrapper):
    """Rank a value oracle exactly, then swap near ties at random (a person's indifference).

    Each group is sorted best first; then, walking down the sorted list once, every adjacent
    pair whose values differ by at most ``threshold`` (in value units, or relative to the larger
    absolute value with ``relative=True``) is swapped with probability ``flip_prob``. Points with
    non-finite values stay last and are never swapped.

    Args:
        oracle: a value oracle (or an ``OracleSpec`` of one).
        threshold: the indifference band, >= 0.
        flip_prob: probability of swapping a near-tie pair, in [0, 1] (0.5 = a coin flip).
        relative: measure the difference relative to ``max(|f_a|, |f_b|)``.
    """

    oracle: Any
    threshold: float = 0.0
    flip_prob: float = 0.5
    relative: bool = False

    def __post_init__(self) -> None:
        self.oracle = _build(self.oracle)
        if not can_value(self.oracle):
            raise FeedbackError(
                f"TieFlipRanker.oracle must give values, got {type(self.oracle).__name__}"
            )
        if not (_number(self.threshold) and self.threshold >= 0):
            raise ConfigError(
                f"TieFlipRanker.threshold must be a finite number >= 0, got {self.threshold!r}"
            )
        if not (_number(self.flip_prob) and 0.0 <= self.flip_prob <= 1.0):
            raise ConfigError(f"TieFlipRanker.flip_prob must be in [0, 1], got {self.flip_prob!r}")

    def values(self, points: Array, *, key: Key) -> Array:
        return np.asarray(self.oracle.values(points, key=key), dtype=np.float64)

    def rank(self, points: Array, groups: Order, *, top: int, key: Key) -> Order:
        vals = self.values(points, key=key)
        groups = np.asarray(groups, dtype=np.int64)
        full = rank_by_values(vals, groups, groups.shape[1], self.sense)
        noise = key.fold_in(_NOISE_KEY)
        out = full.copy()
        for gi, row in enumerate(out):
            u = noise.fold_in(gi).numpy().random(max(len(row) - 1, 0))
            for r in range(len(row) - 1):
                a, b = vals[row[r]], vals[row[r + 1]]
                if not (np.isfinite(a) and np.isfinite(b)):
                    continue
                tol = self.threshold * (max(abs(a), abs(b)) if self.relative else 1.0)
                if abs(a - b) <= tol and u[r] < self.flip_prob:
                    row[r], row[r + 1] = row[r + 1], row[r]
        return out[:, :top]


def ranker(
    oracle: Any,
    noise: str | None = None,
    *,
    temperature: float = 1.0,
    threshold: float = 0.0,
    flip_prob: float = 0.5,
    relative: bool = False,
) -> Any:
    """A ranking oracle answering from a value oracle's values, with a noise model.

    Args:
        oracle: a value oracle (or an ``OracleSpec`` of one).
        noise: ``None`` / ``"exact"`` (sort), ``"bradley_terry"`` / ``"plackett_luce"``
            (``P(i first) ~ exp(-f_i / temperature)``; for two points
            ``P(a beats b) = 1 / (1 + exp((f_a - f_b) / temperature))``), or ``"ties"``
            (:class:`TieFlipRanker` with ``threshold``, ``flip_prob``, ``relative``).
        temperature: the Bradley-Terry / Plackett-Luce scale in value units (> 0).
        threshold, flip_prob, relative: the ``"ties"`` model's parameters.

    Returns:
        A :class:`~blackbox.oracle.ValueRanker` or a :class:`TieFlipRanker` (both also still
        answer value queries; wrap in :class:`RankingOnly` to hide them).

    Examples:
        >>> from oracles.functions import Sphere
        >>> r = ranker(Sphere(dim=2), "bradley_terry", temperature=0.5)
        >>> (r.noise, r.temperature)
        ('bradley_terry', 0.5)
    """
    oracle = _build(oracle)
    if noise in (None, "exact"):
        return ValueRanker(oracle)
    if noise in ("bradley_terry", "plackett_luce"):
        t = temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (np.isfinite(t) and t > 0):
            raise ConfigError(f"ranker: temperature must be a finite number > 0, got {t!r}")
        return ValueRanker(oracle, noise=noise, temperature=float(temperature))
    if noise == "ties":
        return TieFlipRanker(oracle, threshold, flip_prob, relative)
    raise ConfigError(
        "ranker: noise must be None, 'exact', 'bradley_terry', 'plackett_luce' or 'ties', "
        f"got {noise!r}"
    )


@dataclass
class Pairwise(OracleWrapper):
    """A comparison oracle: answers only ``(2, 1)`` ranking queries (which of two is better).

    Args:
        oracle: a ranking oracle, or a value oracle (ranked exactly; use :func:`ranker` first
            for a noisy one), or an ``OracleSpec`` of either.

    Attributes:
        comparisons: number of pairs answered so far.
    """

    oracle: Any
    comparisons: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.oracle = _build_ranking(self.oracle, "Pairwise")

    def rank(self, points: Array, groups: Order, *, top: int, key: Key) -> Order:
        groups = np.asarray(groups, dtype=np.int64)
        if groups.ndim != 2 or groups.shape[1] != 2 or top != 1:
            raise FeedbackError(
                f"oracle {self.name!r} only compares pairs: groups must be (g, 2) with top=1, "
                f"got groups of shape {groups.shape} and top={top} "
                "(use ZORankSGD(m=2, k=1, line_search=False))"
            )
        out = _rank_with(self.oracle, points, groups, 1, key)
        self.comparisons += int(groups.shape[0])
        return out

    def compare(self, x: Any, y: Any, *, key: Key) -> int:
        """``C_f(x, y)``: ``-1`` if ``x`` is judged better than ``y``, ``+1`` otherwise."""
        pts = np.stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
        win = int(self.rank(pts, np.array([[0, 1]]), top=1, key=key)[0, 0])
        return -1 if win == 0 else 1


@dataclass
class RankingOnly(OracleWrapper):
    """Hide an oracle's values: it answers ranking queries only (a judge, a person).

    Args:
        oracle: a ranking oracle, or a value oracle (ranked exactly; use :func:`ranker` first
            for a noisy one), or an ``OracleSpec`` of either.
    """

    oracle: Any

    def __post_init__(self) -> None:
        self.oracle = _build_ranking(self.oracle, "RankingOnly")

    def rank(self, points: Array, groups: Order, *, top: int, key: Key) -> Order:
        return _rank_with(self.oracle, points, np.asarray(groups, dtype=np.int64), top, key)
