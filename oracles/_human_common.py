"""What the ranking page (:mod:`oracles.human`) and the terminal (:mod:`oracles._human_terminal`)
share: a candidate's payload, the digest that keys an answer, and the answer log (appended and
fsynced before an answer is returned, read back on resume; a torn last line is ignored).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError

__all__ = ["SHUFFLE_KEY", "AnswerLog", "candidate_payload", "check_common_args", "digest",
           "stack_rows"]

Array = NDArray[np.float64]
SHUFFLE_KEY = -2  # display order: key.fold_in(-2).fold_in(group)


def candidate_payload(rendered: Any) -> dict[str, str]:
    """``render(point)``'s output as a candidate for the page: an image or escaped text.

    PNG bytes become ``data:image/png``, an SVG string ``data:image/svg+xml`` (shown in an
    ``<img>``: its scripts never run); any other string is text.
    """
    if isinstance(rendered, (bytes, bytearray)):
        if not bytes(rendered[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ConfigError("render(point) returned bytes that are not a PNG image")
        return {"kind": "image", "src": "data:image/png;base64," + base64.b64encode(
            bytes(rendered)).decode("ascii")}
    if not isinstance(rendered, str):
        raise ConfigError(
            f"render(point) must return PNG bytes or a string (SVG or text), got "
            f"{type(rendered).__name__}")
    head = rendered.lstrip()[:200].lower()
    if head.startswith("<svg") or (head.startswith("<?xml") and "<svg" in head):
        b64 = base64.b64encode(rendered.encode("utf-8")).decode("ascii")
        return {"kind": "image", "src": "data:image/svg+xml;base64," + b64}
    return {"kind": "text", "text": rendered}


def stack_rows(rows: list[list[int]]) -> NDArray[np.int64]:
    """A query's answer, one row per group; partial answers of different lengths are cut to the
    shortest (a ranking's rows share one width)."""
    width = min(len(r) for r in rows)
    return np.array([r[:width] for r in rows], dtype=np.int64)


def check_common_args(who: str, dim: Any, render: Any, budget: Any, sense: Any) -> None:
    """The checks both rankers make: ``dim``, ``render``, ``budget`` and ``sense``."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ConfigError(f"{who}.dim must be an int >= 1, got {dim!r}")
    if not callable(render):
        raise ConfigError(f"{who}.render must be a callable point -> PNG bytes | SVG | text")
    if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise ConfigError(f"{who}.budget must be an int >= 1 or None, got {budget!r}")
    if sense not in ("min", "max"):
        raise ConfigError(f"{who}.sense must be 'min' or 'max', got {sense!r}")


def digest(points: Array, top: int) -> str:
    h = hashlib.sha256(np.ascontiguousarray(points, dtype=np.float64).tobytes())
    h.update(f"|{points.shape}|{top}".encode())
    return h.hexdigest()[:32]


class AnswerLog:
    """Answers by candidate digest, appended and fsynced before they are returned."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        self.answers: dict[str, list[int]] = {}
        if self.path is not None and self.path.exists():
            for line in self.path.read_bytes().split(b"\n"):
                try:
                    rec = json.loads(line)
                    self.answers[str(rec["digest"])] = [int(i) for i in rec["order"]]
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line: that answer was never returned

    def add(self, digest: str, order: list[int]) -> None:
        self.answers[digest] = order
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"digest": digest, "order": order, "t": time.time()}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
