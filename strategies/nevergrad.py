"""Any nevergrad optimizer as a strategy: the baseline behind the same ask/tell protocol.

``Nevergrad(optimizer="NGOpt", num_workers=10)`` ("nevergrad") asks nevergrad for
``num_workers`` candidates per ``ask`` (one batch) and tells their values back. nevergrad's
optimizers are mutable objects seeded from a ``RandomState``; to keep our strategies pure and
replayable:

* the optimizer is seeded from the run's key only (``parametrization.random_state =
  np.random.RandomState(key.integer() % 2**32)``), never from the global numpy state;
* the frozen state holds the immutable *event history* (each ask's size; each tell's candidate
  indices and values) and a digest of it; the live optimizer is kept outside the state in a
  small LRU cache keyed by that digest. ``ask``/``tell`` on the newest state advance the cached
  optimizer; a state used again or out of order (a second ``tell`` on the same state, a replay,
  a resumed run) misses the cache and rebuilds the optimizer by replaying its history, which is
  deterministic because the seed and the sequence of calls are. So ``tell`` never changes the
  input state and equal states give equal answers.

Bounds come from a :class:`Box` space (``ng.p.Array(init=x0).set_bounds(lower, upper)``, the
default "bouncing" method); other spaces leave the array unbounded and asked points are
projected onto the space, the projected point's value being told for the candidate.
``recommend(state)`` is nevergrad's ``provide_recommendation()`` after the last tell (its
estimate of the optimum, which for noisy or population methods can differ from the best point
seen; ``state.x_best`` / ``Result.x_best`` is the best observed). Non-finite values are told as
``inf`` (nevergrad clips them to a large finite loss). The default ``num_workers = 10`` keeps
NGOpt's per-point overhead low while still letting it pick a parallel-capable algorithm.
``budget`` (the total number of points, passed to nevergrad, whose NGOpt needs it to choose
an algorithm) defaults to ``1000 * d`` because a strategy does not know the runner's budget; set
it to the run's budget for NGOpt to choose as it would in ``nevergrad.minimize`` (nevergrad
keeps asking past it).

References:
    J. Rapin, O. Teytaud, "Nevergrad - A gradient-free optimization platform",
    https://github.com/facebookresearch/nevergrad, 2018; L. Meunier et al., "Black-box
    optimization revisited: improving algorithm selection wizards through massive
    benchmarking", IEEE TEVC 2021, https://arxiv.org/abs/2010.04542 (NGOpt).
"""

from __future__ import annotations

import difflib
import hashlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.options import Range, option
from blackbox.query import Query
from blackbox.registry import register_strategy
from blackbox.spaces import Box
from blackbox.strategy import BaseStrategy, StrategyState

__all__ = ["Nevergrad"]

Array = NDArray[np.float64]
_CACHE: OrderedDict[str, _Live] = OrderedDict()
_CACHE_SIZE = 16


class _Live:
    """A live nevergrad optimizer plus the candidates it has asked, in ask order."""

    def __init__(self, opt: Any, points: list[Array]) -> None:
        self.opt = opt
        self.asked: list[Any] = []  # every candidate ever asked (index = ask order)
        self.points: list[Array] = points  # the (projected) point asked for each candidate
        self.open: set[int] = set()  # indices not yet told


@dataclass(frozen=True, eq=False)
class NevergradState(StrategyState):
    x0: Array
    events: tuple[Any, ...]  # ("a", k) | ("t", indices (n,), values (n,), extra points (e, d))
    digest: str


class _quiet(warnings.catch_warnings):
    """Silence third-party chatter that says nothing to our users (thousands of lines per run).

    nevergrad 1.0.12's NumPy deprecation warnings, and pycma's warnings on bounded spaces: its
    ``InjectionWarning`` ("orphanated injected solution", raised when nevergrad hands CMA a
    population differently from how CMA asked for it, e.g. several asks per generation) and the
    ``BoxConstraintsLinQuadTransformation`` notes ("elements of z2[k] are larger than 55",
    overflow in ``exp``) about points far outside the box, which CMA maps back inside itself.
    """

    def __enter__(self) -> Any:
        out = super().__enter__()
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"nevergrad\.")
        warnings.filterwarnings("ignore", module=r"cma(\.|$)")
        try:
            from cma.evolution_strategy import InjectionWarning
        except ImportError:  # pragma: no cover - cma is a nevergrad dependency
            pass
        else:
            warnings.filterwarnings("ignore", category=InjectionWarning)
        return out


def _digest(prev: str, *parts: Any) -> str:
    h = hashlib.blake2b(prev.encode(), digest_size=16)
    for p in parts:
        raw = np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else repr(p).encode()
        h.update(raw)
    return h.hexdigest()


@register_strategy("nevergrad")
@dataclass(frozen=True)
class Nevergrad(BaseStrategy[NevergradState]):
    """A nevergrad optimizer by name, ``num_workers`` candidates per ask.

    Args:
        optimizer: a name in ``nevergrad.optimizers.registry`` (default ``"NGOpt"``).
        num_workers: candidates per ask (nevergrad's ``num_workers``; default 10).
        budget: total number of points, passed to nevergrad (default ``1000 * d``).
        options: extra keyword arguments for the optimizer's constructor.
        space: optional feasible set; a ``Box`` becomes nevergrad bounds.
    """

    paper: ClassVar[str] = "Rapin & Teytaud, Nevergrad 2018; Meunier et al., arXiv 2010.04542"

    optimizer: str = option("NGOpt", None, "a name in nevergrad.optimizers.registry")
    num_workers: int = option(10, Range(1, integer=True), "candidates per ask")
    budget: int | None = option(None, Range(1, integer=True, optional=True),
                                "total points, passed to nevergrad (None: 1000 d)")
    options: Any = option(None, None, "keyword arguments for the optimizer")

    def _check(self) -> None:
        if self.options is not None and not isinstance(self.options, (dict, tuple)):
            raise ConfigError(
                f"Nevergrad.options must be a dict of keyword arguments, got {self.options!r}"
            )
        if isinstance(self.options, dict):
            object.__setattr__(self, "options", tuple(sorted(self.options.items())))
        self._factory()  # validates the name (nevergrad imported lazily here)

    def _factory(self) -> Any:
        try:
            import nevergrad as ng
        except ModuleNotFoundError as exc:  # pragma: no cover - nevergrad is a declared extra
            raise ConfigError("the 'nevergrad' strategy needs the nevergrad package") from exc
        reg = ng.optimizers.registry
        if not isinstance(self.optimizer, str) or self.optimizer not in reg:
            names = list(reg)
            lower = {n.lower(): n for n in names}
            close = difflib.get_close_matches(str(self.optimizer).lower(), list(lower), 5, 0.6)
            hint = ", ".join(lower[c] for c in close) or "none; see nevergrad.optimizers.registry"
            raise ConfigError(
                f"Nevergrad.optimizer {self.optimizer!r} is not a nevergrad optimizer; "
                f"close matches: {hint}"
            )
        return ng, reg[self.optimizer]

    # -- the live optimizer -------------------------------------------------------------------
    def _build(self, state: NevergradState) -> _Live:
        ng, cls = self._factory()
        param = ng.p.Array(init=np.array(state.x0))
        if isinstance(self.space, Box):
            param.set_bounds(np.array(self.space.lower), np.array(self.space.upper))
        param.random_state = np.random.RandomState(state.key.integer() % (2**32))
        budget = self.budget if self.budget is not None else 1000 * state.x0.shape[0]
        try:
            opt = cls(parametrization=param, budget=budget, num_workers=self.num_workers,
                      **dict(self.options or ()))
        except TypeError as exc:
            raise ConfigError(f"Nevergrad.options {dict(self.options or ())} were refused by "
                              f"{self.optimizer}: {exc}") from None
        live = _Live(opt, [])
        for ev in state.events:  # replay the history: deterministic given the seed
            if ev[0] == "a":
                self._ask_live(live, ev[1])
            else:
                self._tell_live(live, ev[1], ev[2], ev[3])
        return live

    def _live(self, state: NevergradState) -> _Live:
        live = _CACHE.pop(state.digest, None)
        return live if live is not None else self._build(state)

    @staticmethod
    def _store(digest: str, live: _Live) -> None:
        _CACHE[digest] = live
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)

    def _ask_live(self, live: _Live, k: int) -> Array:
        pts = []
        with _quiet():
            for _ in range(k):
                cand = live.opt.ask()
                x = np.asarray(cand.value, dtype=np.float64).reshape(-1)
                if self.space is not None:
                    x = np.asarray(self.space.project(x), dtype=np.float64)
                live.open.add(len(live.asked))
                live.asked.append(cand)
                live.points.append(x)
                pts.append(x)
        return np.array(pts)

    def _tell_live(self, live: _Live, idx: Array, vals: Array, extra: Array) -> Array:
        with _quiet():
            warnings.filterwarnings("ignore", message="Clipping very high value")  # an inf loss
            j = 0
            for i, v in zip(idx, vals):
                if i >= 0:
                    live.opt.tell(live.asked[i], float(v))
                    live.open.discard(int(i))
                else:  # a point that was never asked (nevergrad accepts these)
                    cand = live.opt.parametrization.spawn_child(new_value=extra[j])
                    j += 1
                    live.opt.tell(cand, float(v))
            rec = live.opt.provide_recommendation()
        return np.asarray(rec.value, dtype=np.float64).reshape(-1)

    # -- the protocol -------------------------------------------------------------------------
    def _init(self, x0: Array, key: Key) -> NevergradState:
        digest = _digest("", repr(self), key.to_json(), x0)
        return NevergradState(**self._base_fields(x0, key), x0=x0, events=(), digest=digest)

    def _ask(self, state: NevergradState, key: Key) -> tuple[Query, dict[str, Any]]:
        live = self._live(state)
        pts = self._ask_live(live, self.num_workers)
        digest = _digest(state.digest, "a", self.num_workers)
        self._store(digest, live)
        updates = {"events": state.events + (("a", self.num_workers),), "digest": digest}
        return self._query(pts, key, tag=self.optimizer), updates

    def _tell(self, state: NevergradState, query: Query, values: Array) -> Any:
        live = self._live(state)
        idx = np.full(query.n, -1, dtype=np.int64)
        taken: set[int] = set()
        for r, p in enumerate(query.points):  # match rows to open candidates, newest first
            for i in sorted(live.open, reverse=True):
                if i not in taken and np.array_equal(live.points[i], p):
                    idx[r] = i
                    taken.add(i)
                    break
        extra = np.array(query.points[idx < 0])
        for a in (idx, values, extra):
            a.flags.writeable = False
        x = self._tell_live(live, idx, values, extra)
        digest = _digest(state.digest, "t", idx, values, extra)
        self._store(digest, live)
        ev = ("t", idx, np.array(values), extra)
        return {"x": x, "events": state.events + (ev,), "digest": digest}, {}
