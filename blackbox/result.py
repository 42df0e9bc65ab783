"""The result of a run and its trace.

:class:`Result` uses scipy's vocabulary (``x``, ``fun``, ``nfev``, ``nit``, ``success``,
``message``) and adds ``x_best`` / ``f_best`` (best *observed*, distinct from the
recommendation ``x``), ``stop`` (which limits were reached), ``trace``, ``ledger`` and ``seed``.
Values are reported in the oracle's sense, never with a silently flipped sign.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.budget import Ledger
from blackbox.query import Feedback, Query

__all__ = ["Result", "Trace"]


@dataclass
class Trace:
    """What happened, step by step.

    Attributes:
        history: one dict per strategy step: ``step``, ``nfev`` (points evaluated so far),
            ``f_best`` (best observed so far, oracle's sense), ``seconds`` and the strategy's
            metrics.
        pairs: the ``(query, feedback)`` pairs told to the strategy, in order (feedback in the
            strategy's minimizing sense); empty when the run was made with ``keep_trace=False``.
    """

    pairs: list[tuple[Query, Feedback]] = field(default_factory=list)
    x0: NDArray[np.float64] | None = None
    seed: Any = None
    _rows: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    _dicts: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def add(self, step: int, nfev: int, f_best: float, seconds: float, metrics: dict[str, Any]) -> None:
        """Record one step (the runner calls this; rows become dicts when ``history`` is read)."""
        self._rows.append((step, nfev, f_best, seconds, metrics))

    @property
    def history(self) -> list[dict[str, Any]]:
        """One dict per step: ``step``, ``nfev``, ``f_best``, ``seconds`` and the step's metrics."""
        dicts = self._dicts
        for step, nfev, f, el, metrics in self._rows[len(dicts):]:
            dicts.append({"step": step, "nfev": nfev, "f_best": f, "seconds": el, **metrics})
        return dicts

    def column(self, name: str) -> NDArray[np.float64]:
        return np.array([h.get(name, np.nan) for h in self.history], dtype=np.float64)

    def __len__(self) -> int:
        return len(self._rows)


@dataclass
class Result:
    """The outcome of :func:`blackbox.minimize`.

    Attributes:
        x: the strategy's recommendation.
        fun: the objective at ``x`` (oracle's sense; NaN for ranking-only oracles).
        x_best, f_best: the best point observed and its value.
        nfev: points evaluated (including the final evaluation of ``x``, if one was needed).
        nit: strategy steps.
        success: ``True`` when the run stopped on a limit or the target, not on an error.
        message: why it stopped, in words.
        stop: the limits reached, e.g. ``{"max_queries": True}``.
        trace: the :class:`Trace`.
        ledger: the :class:`~blackbox.budget.Ledger`.
        seed: the run's seed.
        sense: ``"min"`` or ``"max"``.
        seconds: wall-clock duration.
        run_id: the run's id when it came from ``run_many``.
    """

    x: NDArray[np.float64]
    fun: float
    x_best: NDArray[np.float64]
    f_best: float
    nfev: int
    nit: int
    success: bool
    message: str
    stop: dict[str, Any]
    trace: Trace
    ledger: Ledger
    seed: int
    sense: str = "min"
    seconds: float = 0.0
    run_id: Any = None
    strategy: str = ""

    def __repr__(self) -> str:
        x = np.array2string(np.asarray(self.x), precision=4, threshold=8)
        return (
            f"Result(fun={self.fun:.6g}, f_best={self.f_best:.6g}, nfev={self.nfev}, "
            f"nit={self.nit}, success={self.success}, message={self.message!r}, x={x})"
        )

    def summary(self) -> str:
        """A small table for terminals."""
        rows = [
            ("strategy", self.strategy),
            ("sense", self.sense),
            ("fun (at recommendation)", f"{self.fun:.6g}"),
            ("best observed", f"{self.f_best:.6g}"),
            ("points evaluated", str(self.nfev)),
            ("steps", str(self.nit)),
            ("seconds", f"{self.seconds:.2f}"),
            ("stopped because", self.message),
        ]
        w = max(len(r[0]) for r in rows)
        lines = [f"{k.ljust(w)}  {v}" for k, v in rows]
        led = self.ledger.summary()
        return "\n".join(lines + ([led] if led else []))
