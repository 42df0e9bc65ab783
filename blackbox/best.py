"""The best point of a run: :class:`Best` is its one owner.

The runner shows :class:`Best` every value it receives (told batches, a truncated last batch, the
final evaluation of the recommendation), in the minimizing sense; ``Result.x_best`` /
``Result.f_best``, ``StepInfo.f_best``, the target stop rule and the lookup that spares a final
evaluation all read it. Non-finite values never win (they read ``+inf``).
"""

from __future__ import annotations

import math
import numpy as np
from numpy.typing import NDArray

__all__ = ["Best"]

Array = NDArray[np.float64]


class Best:
    """Best observed point and value (minimizing sense), plus what a final lookup needs.

    Attributes:
        x, f: the best point observed and its value (``x0`` and ``inf`` before any).
        told_x, told_f: the best point among told batches (what a strategy may recommend).
        last: the last told batch ``(points, values)``.
        seen: how many values it was shown (finite or not).

    Examples:
        >>> b = Best(np.zeros(2))
        >>> b.observe(np.array([[1.0, 1.0], [2.0, 2.0]]), np.array([3.0, float("nan")]))
        (0, 3.0)
        >>> b.f, b.value_at(np.array([1.0, 1.0])), b.value_at(np.array([2.0, 2.0]))
        (3.0, 3.0, None)
    """

    __slots__ = ("x", "f", "told_x", "told_f", "last", "seen")

    def __init__(self, x0: Array) -> None:
        self.x = self.told_x = x0
        self.f = self.told_f = math.inf
        self.last: tuple[Array, Array] | None = None
        self.seen = 0

    def observe(self, points: Array, values: Array, told: bool = True,
                clean: bool = False) -> tuple[int, float]:
        """See a batch's values; ``told``: the strategy is told them; ``clean``: all finite.
        Returns the batch's best ``(index, value)`` (non-finite values read ``+inf``)."""
        self.seen += values.shape[0]
        v = values if clean else np.where(np.isfinite(values), values, np.inf)
        i = int(v.argmin())
        fi = float(v[i])
        if fi < self.f:
            self.f, self.x = fi, points[i]
        if told:
            if fi < self.told_f:
                self.told_f, self.told_x = fi, points[i]
            self.last = (points, values)
        return i, fi

    def value_at(self, x: Array) -> float | None:
        """The observed value at ``x`` (the best points or the last told batch), else ``None``."""
        for bx, bf in ((self.x, self.f), (self.told_x, self.told_f)):
            if math.isfinite(bf) and np.array_equal(x, bx):
                return bf
        if self.last is not None:
            pts, vals = self.last
            hit = np.flatnonzero(np.all(pts == x, axis=1))
            if hit.size and np.isfinite(vals[hit[0]]):
                return float(vals[hit[0]])
        return None
