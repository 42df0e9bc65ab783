"""A dependency-free progress bar for long runs (written to stderr, throttled)."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """``[#####.....]  45%  4500/10000 points  best 1.23e-03  12.3s``.

    Args:
        total: the amount that completes the bar (points, steps or seconds).
        unit: what ``total`` counts.
        stream: where to write (stderr by default).
        every: minimum seconds between redraws.
    """

    def __init__(self, total: float | None, unit: str = "points", stream: IO[str] | None = None,
                 every: float = 0.2, label: str = "") -> None:
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.label = label
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._shown = False

    def update(self, done: float, best: float, force: bool = False, **_: Any) -> None:
        now = time.perf_counter()
        if not force and now - self._last < self.every:
            return
        self._last = now
        el = now - self.t0
        if self.total:
            frac = min(1.0, done / self.total)
            bar = "#" * int(25 * frac) + "." * (25 - int(25 * frac))
            head = f"[{bar}] {100 * frac:5.1f}%  {done:.0f}/{self.total:.0f} {self.unit}"
        else:
            head = f"{done:.0f} {self.unit}"
        pre = f"{self.label} " if self.label else ""
        b = f"best {best:.4g}" if best == best and abs(best) != float("inf") else "best n/a"
        self.stream.write(f"\r{pre}{head}  {b}  {el:.1f}s ")
        self.stream.flush()
        self._shown = True

    def close(self, done: float, best: float) -> None:
        self.update(done, best, force=True)
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
