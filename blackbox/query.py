"""Queries and feedback: the one batched interface between strategies and oracles.

A :class:`Query` is a batch of points ``(n, d)`` float64 plus the kind of feedback wanted:

* ``kind="values"``: the oracle answers :class:`Values` ``(n,)``;
* ``kind="ranking"``: ``groups`` ``(g, m)`` holds row indices of ``points`` to rank together
  (``m = 2`` is a pairwise comparison) and ``top`` the ``k`` of an (m, k) ranking; the oracle
  answers :class:`Ranking` ``order`` ``(g, k')``, ``k' <= k``: for each group the row indices of
  its best points, best first.

Point ``i``'s randomness on the oracle side is ``query.key.fold_in(i)``, so answers never depend
on how a batch is chunked or scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, OracleShapeError
from blackbox.keys import Key

__all__ = ["Feedback", "Query", "Ranking", "Values", "point_keys"]

Kind = Literal["values", "ranking"]
_F64 = np.dtype(np.float64)


@dataclass(frozen=True, eq=False, init=False)
class Query:
    """A batch of points to evaluate and the feedback wanted.

    Attributes:
        points: ``(n, d)`` float64, read-only.
        key: the query's key; point ``i`` uses ``key.fold_in(i)``.
        kind: ``"values"`` or ``"ranking"``.
        groups: ``(g, m)`` int64 row indices of ``points`` to rank together (rankings only).
        top: how many best-first places each group's answer must give (rankings only).
        tag: a strategy's own label for the query (e.g. ``"grad"``, ``"line"``).
    """

    points: NDArray[np.float64]
    key: Key
    kind: Kind = "values"
    groups: NDArray[np.int64] | None = None
    top: int | None = None
    tag: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __init__(self, points: Any, key: Key, kind: Kind = "values", groups: Any = None,
                 top: int | None = None, tag: str = "", meta: dict[str, Any] | None = None) -> None:
        # written out (not the dataclass __init__): a query is built per step, so this is hot
        pts = points
        if not (type(pts) is np.ndarray and pts.dtype is _F64 and pts.ndim == 2):
            pts = np.array(pts, dtype=np.float64, ndmin=2)
            if pts.ndim != 2:
                raise ConfigError(f"Query.points must be 2-d (n, d), got shape {pts.shape}")
        pts.setflags(write=False)
        d = self.__dict__
        d["points"], d["key"], d["kind"], d["tag"] = pts, key, kind, tag
        d["meta"] = {} if meta is None else meta
        if kind == "ranking":
            if groups is None:
                groups = np.arange(pts.shape[0], dtype=np.int64)[None, :]
            else:
                groups = np.asarray(groups, dtype=np.int64)
            if groups.ndim != 2 or (groups.size and (groups.min() < 0 or groups.max() >= len(pts))):
                raise ConfigError(
                    f"Query.groups must be (g, m) row indices in [0, {len(pts)}), got {groups!r}"
                )
            top = groups.shape[1] if top is None else int(top)
            if not 1 <= top <= groups.shape[1]:
                raise ConfigError(f"Query.top must be in [1, {groups.shape[1]}], got {top}")
        elif kind != "values":
            raise ConfigError(f"Query.kind must be 'values' or 'ranking', got {kind!r}")
        d["groups"], d["top"] = groups, top

    @property
    def n(self) -> int:
        return int(self.points.shape[0])

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    def take(self, n: int) -> Query:
        """The first ``n`` points as a value query marked ``meta["partial"]`` (a truncated last
        batch: observed, never told)."""
        return Query(self.points[:n], self.key, "values", tag=self.tag, meta={"partial": True})


@dataclass(frozen=True, eq=False, init=False)
class Values:
    """Value feedback: ``values`` ``(n,)`` float64, in the strategy's (minimizing) sense.

    ``finite=True`` promises that every value is finite (the runner knows it from the ledger's
    failure count), so the strategy need not check again; ``best``, when given, is
    ``(i, values[i])`` for the smallest value (non-finite ones read ``+inf``), which the runner
    has found already.
    """

    values: NDArray[np.float64]
    finite: bool = False
    best: tuple[int, float] | None = None

    def __init__(self, values: Any, finite: bool = False,
                 best: tuple[int, float] | None = None) -> None:
        d = self.__dict__
        d["values"], d["finite"], d["best"] = values, finite, best

    @staticmethod
    def check(raw: Any, n: int, who: str = "oracle") -> NDArray[np.float64]:
        """Coerce an oracle's answer to ``(n,)`` float64 or raise :class:`OracleShapeError`."""
        if type(raw) is np.ndarray and raw.dtype == np.float64 and raw.shape == (n,):
            return raw
        try:
            v = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise OracleShapeError(f"{who} returned values that are not numbers: {exc}") from exc
        if v.shape != (n,):
            if v.size == n and v.ndim == 2 and 1 in v.shape:
                return v.reshape(n)
            raise OracleShapeError(
                f"{who} returned values of shape {v.shape} for a batch of {n} points; "
                f"expected shape ({n},)"
            )
        return v


@dataclass(frozen=True, eq=False)
class Ranking:
    """Ranking feedback: ``order`` ``(g, k')`` row indices of the query's points, best first."""

    order: NDArray[np.int64]

    @staticmethod
    def check(raw: Any, query: Query, who: str = "oracle") -> NDArray[np.int64]:
        """Validate an oracle's ranking against ``query`` or raise :class:`OracleShapeError`."""
        assert query.groups is not None and query.top is not None
        try:
            order = np.asarray(raw, dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise OracleShapeError(f"{who} returned a ranking that is not integers: {exc}") from exc
        g, _ = query.groups.shape
        if order.ndim == 1 and g == 1:
            order = order[None, :]
        if order.ndim != 2 or order.shape[0] != g or not 1 <= order.shape[1] <= query.top:
            raise OracleShapeError(
                f"{who} returned a ranking of shape {order.shape}; expected ({g}, k') with "
                f"1 <= k' <= {query.top}"
            )
        for row, grp in zip(order, query.groups):
            if len(set(row.tolist())) != len(row) or not np.isin(row, grp).all():
                raise OracleShapeError(
                    f"{who} returned ranking {row.tolist()} for group {grp.tolist()}: entries "
                    "must be distinct row indices taken from the group"
                )
        return order


Feedback = Union[Values, Ranking]


def point_keys(key: Key, n: int, offset: int = 0) -> list[Key]:
    """The per-point keys ``key.fold_in(offset + i)`` for ``i < n``."""
    return [key.fold_in(offset + i) for i in range(n)]
