"""The strategy protocol and :class:`BaseStrategy`, the template every strategy fills in.

A strategy is a frozen config dataclass with pure steps over a frozen state::

    state = strategy.init(x0, key)
    query, state = strategy.ask(state)           # the only step that draws randomness
    state, metrics = strategy.tell(state, query, feedback)   # deterministic
    x = strategy.recommend(state)

so a trace of ``(query, feedback)`` pairs replays a run exactly, human answers included.
Strategies always *minimize*; the runner turns a ``sense="max"`` oracle's values around once.

:class:`BaseStrategy` owns the bookkeeping (evosax's ``EvolutionaryAlgorithm`` pattern):
validation of ``x0``, per-ask keys, best-so-far, counters, non-finite values (replaced by
``+inf``, the worst value, before the algorithm sees them), feasibility of every asked point,
and read-only state arrays. An algorithm implements only::

    _init(x0, key) -> State                       # a StrategyState subclass
    _ask(state, key) -> (Query, updates: dict)    # key: this ask's key (use key.numpy())
    _tell(state, query, feedback) -> (updates: dict, metrics: dict)

where ``feedback`` is the ``(n,)`` float64 value array (non-finite replaced by ``inf``) for value
strategies, or the ``(g, k')`` order array for ranking strategies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, DimensionError, FeedbackError
from blackbox.keys import Key, as_key
from blackbox.options import check_names, check_options, translate
from blackbox.query import Feedback, Query, Ranking, Values
from blackbox.spaces import as_space

__all__ = [
    "BaseStrategy",
    "Strategy",
    "StrategyState",
    "check_x0",
    "freeze",
    "resolve_strategy",
    "strategy_config",
]

Array = NDArray[np.float64]
S = TypeVar("S", bound="StrategyState")


class Strategy(Protocol[S]):  # type: ignore[misc]
    feedback: str

    def init(self, x0: Any, key: Key | int) -> S: ...
    def ask(self, state: S) -> tuple[Query, S]: ...
    def tell(self, state: S, query: Query, feedback: Feedback) -> tuple[S, dict[str, Any]]: ...
    def recommend(self, state: S) -> Array: ...


def freeze(a: Any) -> Any:
    """Mark an ndarray read-only (state arrays are never mutated in place), also inside tuples.

    Examples:
        >>> s = freeze((np.zeros(2), (np.ones(1), 3)))
        >>> s[0].flags.writeable, s[1][0].flags.writeable
        (False, False)
    """
    if isinstance(a, np.ndarray):
        if a.flags.writeable:
            a.flags.writeable = False
    elif type(a) is tuple:
        for v in a:
            freeze(v)
    return a


@dataclass(frozen=True, eq=False)
class StrategyState:
    """Fields every strategy state has.

    Attributes:
        key: the run's root key (ask ``i`` uses ``key.fold_in(i)``).
        asks: number of ``ask`` calls so far.
        step: number of ``tell`` calls so far.
        x: current iterate (or center / consensus), ``(d,)``.
        x_best: best point observed, ``(d,)`` (``x0`` before any value).
        f_best: best value observed (``inf`` before any; ``nan`` for ranking feedback).
        nfev: points told so far.
    """

    key: Key
    asks: int
    step: int
    x: Array
    x_best: Array
    f_best: float
    nfev: int


def check_x0(x0: Any, dim: int | None = None, space: Any = None) -> Array:
    """Validate ``x0``: 1-d, finite, of dimension ``dim``; returns a read-only float64 copy."""
    try:
        x = np.array(x0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"x0 must be a vector of numbers: {exc}") from exc
    if x.ndim != 1 or x.size == 0:
        raise DimensionError(f"x0 must be a non-empty 1-d vector, got shape {x.shape}")
    if dim is not None and x.shape[0] != dim:
        raise DimensionError(f"x0 has dimension {x.shape[0]} but the oracle has dim={dim}")
    bad = ~np.isfinite(x)
    if bad.any():
        raise ConfigError(
            f"x0 must be finite; x0[{int(np.flatnonzero(bad)[0])}] = {x[bad][0]} "
            f"({int(bad.sum())} non-finite entries)"
        )
    if space is not None and not space.contains(x):
        x = np.asarray(space.project(x), dtype=np.float64)
    return freeze(x)


class _StrategyType(type):
    """Renames deprecated option names (the class's ``aliases``) before ``__init__`` sees them."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs and cls.__dict__.get("aliases", getattr(cls, "aliases", None)):
            kwargs = translate(cls, kwargs)
        return super().__call__(*args, **kwargs)


@dataclass(frozen=True)
class BaseStrategy(Generic[S], metaclass=_StrategyType):
    """Template base: bookkeeping once, algorithms fill ``_init`` / ``_ask`` / ``_tell``.

    Options are fields declared with :func:`blackbox.options.option` (range, description, the
    paper's symbol); they are checked once, here, after construction, then ``_check`` runs the
    few checks that relate two options.

    Attributes:
        space: optional feasible set (``Box``, ``Ball``, ``Simplex``); every asked point is
            inside it (algorithms project or move by convex combination; the base projects
            whatever is still outside).
    """

    feedback: ClassVar[str] = "values"
    registry_name: ClassVar[str] = ""
    paper: ClassVar[str] = ""  # the reference, for listings
    aliases: ClassVar[dict[str, str]] = {}  # deprecated option name -> current name

    space: Any = dataclasses.field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        check_options(self)
        self._check()

    def _check(self) -> None:
        """Checks that relate options (one-line :class:`ConfigError`); none by default."""

    # -- the protocol -------------------------------------------------------------------------
    def init(self, x0: Any, key: Key | int = 0) -> S:
        space = as_space(self.space)
        if space is not None and np.asarray(x0).shape[-1:] != (space.dim,):
            raise DimensionError(f"x0 has shape {np.shape(x0)} but space has dim={space.dim}")
        x = check_x0(x0, None, space)
        state = self._init(x, as_key(key))
        if not isinstance(state, StrategyState):
            raise TypeError(f"{type(self).__name__}._init must return a StrategyState")
        for f in dataclasses.fields(state):
            freeze(getattr(state, f.name))
        return state

    def ask(self, state: S) -> tuple[Query, S]:
        query, updates = self._ask(state, _step_key(state.key, state.asks))
        if self.space is not None and not self.space.contains(query.points):
            pts = np.asarray(self.space.project(query.points), dtype=np.float64)
            query = dataclasses.replace(query, points=pts)
        return query, self._replace(state, updates, {"asks": state.asks + 1})

    def tell(self, state: S, query: Query, feedback: Feedback | Any) -> tuple[S, dict[str, Any]]:
        n = query.points.shape[0]
        more = {"step": state.step + 1, "nfev": state.nfev + n}
        if self.feedback != "values":
            if isinstance(feedback, Values):
                raise FeedbackError(f"{type(self).__name__} needs a Ranking, got Values")
            order = feedback.order if isinstance(feedback, Ranking) else np.asarray(feedback)
            updates, metrics = self._tell(state, query, order)
            return self._replace(state, updates, more), metrics
        vals, clean, best = self._values(feedback, n)
        if clean:
            updates, metrics = self._tell(state, query, vals)
        else:  # failed evaluations read +inf, the worst value
            finite = np.isfinite(vals)
            vals = np.where(finite, vals, np.inf)
            with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in differences
                updates, metrics = self._tell(state, query, vals)
            metrics["failures"] = n - int(np.count_nonzero(finite))
        if n:  # the best point so far (unless the algorithm keeps its own)
            i, v = best if best is not None else _argmin(vals)
            if v < state.f_best and "x_best" not in updates:  # (a row of the read-only batch)
                more["x_best"], more["f_best"] = query.points[i], v
        return self._replace(state, updates, more), metrics

    def _values(self, feedback: Any, n: int) -> tuple[Array, bool, tuple[int, float] | None]:
        """The ``(n,)`` values told, whether all are finite, and their argmin when known."""
        if type(feedback) is Values:  # the runner's: checked, maybe known finite, argmin known
            vals = feedback.values
            if type(vals) is _ndarray and vals.dtype is _F64 and vals.shape == (n,):
                if feedback.finite:
                    return vals, True, feedback.best
                best = feedback.best
            else:
                vals, best = Values.check(vals, n, "feedback"), None
        elif isinstance(feedback, Ranking):
            raise FeedbackError(f"{type(self).__name__} needs values, got a Ranking")
        else:
            raw = feedback.values if isinstance(feedback, Values) else feedback
            vals, best = Values.check(raw, n, "feedback"), None
        # (count_nonzero: 2x faster than .all() on small arrays)
        return vals, int(np.count_nonzero(np.isfinite(vals))) == n, best

    def recommend(self, state: S) -> Array:
        return state.x

    # -- for algorithms -----------------------------------------------------------------------
    def _base_fields(self, x0: Array, key: Key) -> dict[str, Any]:
        """The base fields of a fresh state, for ``_init``: ``State(**self._base_fields(..), ...)``."""
        f0 = np.nan if self.feedback == "ranking" else np.inf
        return dict(key=key, asks=0, step=0, x=x0, x_best=x0, f_best=f0, nfev=0)

    def _query(self, points: Array, key: Key, **kw: Any) -> Query:
        kind = kw.pop("kind", "ranking" if self.feedback == "ranking" else "values")
        if not (type(points) is np.ndarray and points.dtype == np.float64 and points.flags.c_contiguous):
            points = np.ascontiguousarray(points, dtype=np.float64)
        return Query(points, key, kind, **kw)

    @staticmethod
    def _replace(state: S, updates: dict[str, Any], more: dict[str, Any] | None = None) -> S:
        """A copy of ``state`` with ``updates`` (arrays frozen, also inside tuples) and ``more``
        (the base's own fields: counters and the best point, already frozen); a cheap
        ``dataclasses.replace``."""
        for v in updates.values():
            c = v.__class__
            if c is _ndarray:
                v.setflags(write=False)
            elif c is tuple and v:
                freeze(v)
        try:
            d = state.__dict__.copy()
        except AttributeError:  # a slotted state: take the general path
            return dataclasses.replace(state, **updates, **(more or {}))
        n = len(d)
        d.update(updates)
        if more:
            d.update(more)
        if len(d) != n:
            bad = sorted(set(d) - set(state.__dict__))
            raise TypeError(f"{type(state).__name__} has no field {bad[0]!r}")
        new = _new(state.__class__)
        _set(new, "__dict__", d)  # (a frozen dataclass: object's own setattr)
        return new

    def _init(self, x0: Array, key: Key) -> S:  # pragma: no cover - abstract
        raise NotImplementedError

    def _ask(self, state: S, key: Key) -> tuple[Query, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def _tell(
        self, state: S, query: Query, feedback: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError


_new, _set, _ndarray, _F64 = object.__new__, object.__setattr__, np.ndarray, np.dtype(np.float64)


_STEP_KEYS: dict[tuple[int, int, int, int], list[Key]] = {}  # blocks of 64 step keys


def _step_key(key: Key, i: int) -> Key:
    """``key.fold_in(i)`` for ask ``i``, derived 64 asks at a time (steps come in order)."""
    where = (key.seed, key.path, key.offset, i >> 6)
    block = _STEP_KEYS.get(where)
    if block is None:
        if len(_STEP_KEYS) >= 4096:
            _STEP_KEYS.clear()
        block = _STEP_KEYS[where] = key.fold_in_range(i & ~63, 64)
    return block[i & 63]


def _argmin(vals: Array) -> tuple[int, float]:
    i = int(vals.argmin())
    return i, float(vals[i])


def strategy_config(strategy: Any) -> dict[str, Any]:
    """A JSON-safe description of a strategy's configuration (name and fields)."""
    name = getattr(strategy, "registry_name", "") or type(strategy).__name__
    out: dict[str, Any] = {"name": name}
    if dataclasses.is_dataclass(strategy):
        for f in dataclasses.fields(strategy):
            v = getattr(strategy, f.name)
            if isinstance(v, (bool, int, float, str)) or v is None:
                out[f.name] = v
            elif isinstance(v, (tuple, list)) and all(isinstance(e, (int, float, str)) for e in v):
                out[f.name] = list(v)
            else:
                out[f.name] = repr(v)
    return out


def resolve_strategy(spec: Any, space: Any = None) -> Any:
    """A strategy from an instance, a registered name, or ``{"name": ..., **options}``."""
    from blackbox.registry import STRATEGIES

    if isinstance(spec, str):
        strategy = STRATEGIES.get(spec)()
    elif isinstance(spec, dict):
        opts = dict(spec)
        name = opts.pop("name", None)
        if name is None:
            raise ConfigError("a strategy given as a dict needs a 'name' entry")
        cls = STRATEGIES.get(name)
        check_names(cls, opts, f"strategy {name!r}")
        try:
            strategy = cls(**opts)
        except TypeError as exc:
            fields = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
            raise ConfigError(f"bad option for strategy {name!r}: {exc}; options: {fields}") from None
    elif all(callable(getattr(spec, m, None)) for m in ("init", "ask", "tell", "recommend")):
        strategy = spec
    else:
        raise ConfigError(
            f"strategy must be a registered name, a dict with 'name', or an object with "
            f"init/ask/tell/recommend; got {spec!r}"
        )
    if space is not None:
        if not (dataclasses.is_dataclass(strategy) and "space" in {f.name for f in dataclasses.fields(strategy)}):
            raise ConfigError(f"strategy {type(strategy).__name__} does not accept a space")
        if strategy.space is None:
            strategy = dataclasses.replace(strategy, space=space)
        elif strategy.space != space:
            raise ConfigError("minimize(space=...) differs from the strategy's own space")
    return strategy
