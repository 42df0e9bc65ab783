"""Oracle protocols, the value-to-ranking adapter, and :class:`OracleSpec`.

Oracles are structural (no base class needed):

* a **value oracle** has ``dim``, ``sense`` (``"min"`` or ``"max"``) and
  ``values(points, *, key) -> (n,)``;
* a **ranking oracle** has ``dim``, ``sense`` and
  ``rank(points, groups, *, top, key) -> order (g, k')`` (row indices, best first).

Point ``i`` of a batch uses ``key.fold_in(i)`` for its randomness. A value oracle answers ranking
queries through :class:`ValueRanker`; a ranking oracle can never answer value queries.
Optional members: ``name`` (for the ledger), ``close()``, ``attach_ledger(stats)`` (an oracle
that counts retries, tokens or cost itself adds them to the :class:`~blackbox.budget.OracleStats`
it is given).

A plain Python function is an oracle too, through :class:`FunctionOracle` (``minimize`` wraps
one by itself): ``f(x) -> float`` called once per point (scipy's habit, the default), or with
``batched=True`` ``f(X) -> (n,)`` called once per batch; ``dim`` comes from ``x0``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, DimensionError, FeedbackError, OracleShapeError
from blackbox.keys import Key

__all__ = [
    "FunctionOracle",
    "OracleSpec",
    "OracleWrapper",
    "RankingOracle",
    "ValueOracle",
    "ValueRanker",
    "as_oracle",
    "can_rank",
    "can_value",
    "oracle_name",
    "oracle_sense",
    "rank_by_values",
]


@runtime_checkable
class ValueOracle(Protocol):
    """Answers ``values(points (n, d), *, key) -> (n,)`` float64."""

    dim: int
    sense: str

    def values(self, points: NDArray[np.float64], *, key: Key) -> NDArray[np.float64]: ...


@runtime_checkable
class RankingOracle(Protocol):
    """Answers ``rank(points, groups (g, m), *, top, key) -> (g, k')`` row indices, best first."""

    dim: int
    sense: str

    def rank(
        self, points: NDArray[np.float64], groups: NDArray[np.int64], *, top: int, key: Key
    ) -> NDArray[np.int64]: ...


def can_value(oracle: Any) -> bool:
    return callable(getattr(oracle, "values", None))


def can_rank(oracle: Any) -> bool:
    return callable(getattr(oracle, "rank", None)) or can_value(oracle)


def oracle_sense(oracle: Any) -> str:
    sense = getattr(oracle, "sense", "min")
    if sense not in ("min", "max"):
        raise ConfigError(f"oracle.sense must be 'min' or 'max', got {sense!r}")
    return str(sense)


def oracle_name(oracle: Any) -> str:
    return str(getattr(oracle, "name", None) or type(oracle).__name__)


def rank_by_values(
    values: NDArray[np.float64],
    groups: NDArray[np.int64],
    top: int,
    sense: str = "min",
    noise: str | None = None,
    temperature: float = 1.0,
    key: Key | None = None,
) -> NDArray[np.int64]:
    """Rank each group by ``values`` (best first, non-finite last), optionally noisily.

    ``noise="plackett_luce"`` samples the order from a Plackett-Luce model with utilities
    ``-value / temperature`` (``+value`` for ``sense="max"``): the Gumbel-max trick on the
    group's utilities, drawn from ``key.fold_in(group index)``. For m = 2 this is the
    Bradley-Terry model (``noise="bradley_terry"`` is the same thing).
    """
    v = np.asarray(values, dtype=np.float64)
    util = -v if sense == "min" else v.copy()
    util = np.where(np.isfinite(util), util, -np.inf)
    sub = util[groups]  # (g, m)
    if noise in ("plackett_luce", "bradley_terry"):
        if key is None:
            raise ConfigError("rank_by_values: a key is required for noisy rankings")
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        gumbel = np.stack(
            [key.fold_in(i).numpy().gumbel(size=groups.shape[1]) for i in range(len(groups))]
        )
        sub = np.where(np.isfinite(sub), sub / temperature + gumbel, -np.inf)
    elif noise is not None:
        raise ConfigError(f"noise must be None, 'plackett_luce' or 'bradley_terry', got {noise!r}")
    pos = np.argsort(-sub, axis=1, kind="stable")[:, :top]
    return np.take_along_axis(groups, pos, axis=1)


class OracleWrapper:
    """A base for oracles that wrap another: forwards ``dim``, ``sense``, ``name``, ``close`` and ``attach_ledger`` to ``self.oracle``."""

    oracle: Any

    @property
    def dim(self) -> int:
        return int(self.oracle.dim)

    @property
    def sense(self) -> str:
        return oracle_sense(self.oracle)

    @property
    def name(self) -> str:
        return oracle_name(self.oracle)

    def close(self) -> None:
        close = getattr(self.oracle, "close", None)
        if callable(close):
            close()

    def attach_ledger(self, stats: Any) -> None:
        attach = getattr(self.oracle, "attach_ledger", None)
        if callable(attach):
            attach(stats)


@dataclass
class ValueRanker(OracleWrapper):
    """Make a value oracle answer ranking queries (sort, optionally with a noise model).

    Args:
        oracle: any value oracle.
        noise: ``None`` (exact sort), ``"bradley_terry"`` or ``"plackett_luce"``.
        temperature: the noise model's scale in value units (larger = noisier).
    """

    oracle: Any
    noise: str | None = None
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not can_value(self.oracle):
            raise FeedbackError(f"ValueRanker needs a value oracle, got {type(self.oracle).__name__}")

    def values(self, points: NDArray[np.float64], *, key: Key) -> NDArray[np.float64]:
        return self.oracle.values(points, key=key)

    def rank(
        self, points: NDArray[np.float64], groups: NDArray[np.int64], *, top: int, key: Key
    ) -> NDArray[np.int64]:
        vals = np.asarray(self.oracle.values(points, key=key), dtype=np.float64)
        return rank_by_values(
            vals, groups, top, self.sense, self.noise, self.temperature, key.fold_in(-1)
        )


def _resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(target):
        return target
    if not isinstance(target, str) or ":" not in target:
        from blackbox.registry import ORACLES

        return ORACLES.get(str(target))
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


@dataclass(frozen=True)
class OracleSpec:
    """A picklable recipe that builds an oracle where it runs (models are never shipped).

    Args:
        target: a callable returning an oracle, ``"package.module:Name"``, or a registered
            oracle name such as ``"rastrigin"``.
        kwargs: keyword arguments for ``target``.

    Examples:
        >>> spec = OracleSpec("sphere", {"dim": 3})
        >>> spec.build().dim
        3
    """

    target: str | Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        return _resolve(self.target)(**self.kwargs)

    def describe(self) -> str:
        t = self.target if isinstance(self.target, str) else getattr(
            self.target, "__qualname__", repr(self.target)
        )
        return f"{t}({', '.join(f'{k}={v!r}' for k, v in sorted(self.kwargs.items()))})"


class FunctionOracle:
    """A plain Python function as a value oracle.

    Args:
        fn: ``f(x) -> float`` for one point ``x`` ``(dim,)`` (a fresh, writable copy), or with
            ``batched=True`` ``f(X) -> (n,)`` for a read-only batch ``X`` ``(n, dim)``.
        dim: the dimension of ``x``.
        batched: how ``fn`` is called (see above); nothing is guessed from its answers.
        sense: ``"min"`` or ``"max"``.

    Examples:
        >>> f = FunctionOracle(lambda x: float(x @ x), dim=2)
        >>> f.values(np.array([[1.0, 2.0], [0.0, 0.0]]), key=Key(0))
        array([5., 0.])
    """

    def __init__(self, fn: Callable[..., Any], dim: int, batched: bool = False,
                 sense: str = "min", name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"FunctionOracle.fn must be callable, got {fn!r}")
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ConfigError(f"FunctionOracle.dim must be an int >= 1, got {dim!r}")
        self.fn, self.dim, self.batched = fn, int(dim), bool(batched)
        self.sense = sense
        oracle_sense(self)
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__

    def values(self, points: NDArray[np.float64], *, key: Key) -> NDArray[np.float64]:
        if self.batched:
            return self.fn(points)  # type: ignore[no-any-return]
        out = np.empty(points.shape[0])
        for i, x in enumerate(points):
            v = self.fn(x.copy())
            if np.ndim(v) != 0:
                raise OracleShapeError(
                    f"function {self.name!r} returned shape {np.shape(v)} for one point; it must "
                    "return one number (or pass batched=True for f(X) -> (n,))"
                )
            try:
                out[i] = v
            except (TypeError, ValueError):
                raise OracleShapeError(
                    f"function {self.name!r} returned {v!r}, not a number") from None
        return out


def as_oracle(oracle: Any, x0: Any = None, space: Any = None, batched: bool = False) -> Any:
    """``oracle`` itself, or a plain function wrapped as a :class:`FunctionOracle` whose ``dim`` is
    ``len(x0)`` (or ``space.dim``)."""
    if isinstance(oracle, (OracleSpec, str)) or can_rank(oracle) or not callable(oracle):
        return oracle
    if isinstance(oracle, type):
        raise ConfigError(f"oracle {oracle.__name__} is a class: pass an instance, e.g. "
                          f"{oracle.__name__}(dim=...)")
    if x0 is not None:
        dim = int(np.size(x0))
    elif space is not None and getattr(space, "dim", None):
        dim = int(space.dim)
    else:
        raise DimensionError("a plain function as oracle needs x0 (its dimension is len(x0))")
    return FunctionOracle(oracle, dim, batched=batched)
