"""Observers of a run's steps: the trace, the progress bar and user callbacks.

After each step the runner builds one :class:`StepInfo` and hands it to every observer, in
order; an observer that returns ``True`` stops the run (after all of them have seen the step).
An observer with a ``close(info)`` method is also called once when the run ends, with the last
step's info (``None`` when no step was taken).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
from numpy.typing import NDArray

from blackbox.progress import ProgressBar
from blackbox.query import Feedback, Query
from blackbox.result import Trace

__all__ = ["Observer", "ProgressObserver", "StepInfo", "TraceRecorder", "close_all", "notify"]

Observer = Callable[["StepInfo"], Any]


@dataclass(slots=True)
class StepInfo:
    """What observers (and ``minimize(callbacks=...)``) see after each step.

    Attributes:
        step, nfev: steps taken and points evaluated so far.
        f_best, x_best: the best value observed so far (oracle's sense) and its point.
        metrics: the strategy's metrics for this step.
        seconds: since the run started.
        state: the strategy's state after the step.
        query, feedback: this step's query and what the strategy was told (minimizing sense).
    """

    step: int
    nfev: int
    f_best: float
    x_best: NDArray[np.float64]
    metrics: dict[str, Any]
    seconds: float
    state: Any
    query: Query | None = None
    feedback: Feedback | None = None


class TraceRecorder:
    """Adds each step to a :class:`~blackbox.result.Trace` (and its pairs when ``keep_pairs``)."""

    def __init__(self, trace: Trace, keep_pairs: bool) -> None:
        self.rows, self.pairs, self.keep = trace._rows, trace.pairs, keep_pairs

    def __call__(self, info: StepInfo) -> None:
        self.rows.append((info.step, info.nfev, info.f_best, info.seconds, info.metrics))
        if self.keep:
            self.pairs.append((info.query, info.feedback))


class ProgressObserver:
    """Draws a :class:`~blackbox.progress.ProgressBar` in points (or steps when unbounded)."""

    def __init__(self, total: float | None, unit: str) -> None:
        self.bar, self.points = ProgressBar(total, unit), unit == "points"

    def __call__(self, info: StepInfo) -> None:
        self.bar.update(info.nfev if self.points else info.step, info.f_best)

    def close(self, info: StepInfo | None) -> None:
        if info is not None:
            self.bar.close(info.nfev if self.points else info.step, info.f_best)


def notify(observers: Iterable[Observer], info: StepInfo) -> bool:
    """Show ``info`` to every observer; ``True`` when one of them asks to stop."""
    stop = False
    for observe in observers:
        if observe(info) is True:
            stop = True
    return stop


def close_all(observers: Iterable[Observer], info: StepInfo | None) -> None:
    for observer in observers:
        close = getattr(observer, "close", None)
        if callable(close):
            close(info)
