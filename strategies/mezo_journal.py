"""MeZO's step journal: one JSON line per step, enough to replay the run without forward passes.

A MeZO step is determined by its key (``Key(seed).fold_in(t)``) and its projected gradients, so
the journal holds a header (the configuration, the trainable tensors' names, shapes and dtypes,
and a fingerprint of the initial weights) and then ``{t, loss, pg, forwards, move, skipped}`` per
step, flushed as it is written: a killed run loses at most the step in flight. Resuming needs the
module at its initial weights (checked against the fingerprint); a torn last line is cut off.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blackbox.errors import JournalMismatchError
from blackbox.journal import read_records

__all__ = ["MeZOJournal", "MeZOStep", "fingerprint"]


@dataclass(frozen=True)
class MeZOStep:
    """One step's record: enough to replay its update (``t``, ``projected_grads``, ``move``)."""

    t: int
    loss: float  # L(theta + eps z; B) of the first seed (MeZO's reported training loss)
    projected_grads: tuple[float, ...]
    forwards: int
    move: int = -1  # conservative: -1 (theta - lr ghat), 0 (stay), +1 (theta + lr ghat)
    skipped: bool = False  # a non-finite loss: no update, theta restored


def fingerprint(params: list[Any]) -> list[list[float]]:
    """Per tensor: the float64 sum and sum of squares (one tensor converted at a time)."""
    out = []
    for p in params:
        d = p.detach().double()
        out.append([float(d.sum()), float((d * d).sum())])
    return out


def _same_fingerprint(a: list[list[float]], b: list[list[float]]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9) for ra, rb in zip(a, b) for x, y in zip(ra, rb)
    )


class MeZOJournal:
    """Open (create or resume) a MeZO journal at ``path``; ``records`` holds the steps found."""

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any], params: list[Any]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {"type": "header", **header, "fingerprint": fingerprint(params)}
        self.records: list[Any] = []
        if self.path.exists() and self.path.stat().st_size:
            old, recs, good = read_records(self.path)
            if old is None:
                raise JournalMismatchError(f"{self.path} is not a MeZO journal (no header line)")
            for k in sorted(set(old) | set(header)):
                if k != "fingerprint" and old.get(k) != header.get(k):
                    raise JournalMismatchError(
                        f"{self.path} was written by another MeZO run: {k} is {old.get(k)!r} there, "
                        f"{header.get(k)!r} here"
                    )
            if not _same_fingerprint(old.get("fingerprint", []), header["fingerprint"]):
                raise JournalMismatchError(
                    f"{self.path}: the module's weights differ from the run's initial weights; "
                    "load the weights the run started from, then resume"
                )
            for i, r in enumerate(recs):
                if r.get("t") != i:
                    raise JournalMismatchError(f"{self.path}: step record {i} has t={r.get('t')}")
                self.records.append(MeZOStep(int(r["t"]), float(r["loss"]), tuple(float(g) for g in r["pg"]),
                                             int(r["forwards"]), int(r["move"]), bool(r["skipped"])))
            with open(self.path, "r+b") as fh:  # cut a torn tail
                fh.truncate(good)
            self._fh = open(self.path, "a", encoding="utf-8")
        else:
            self._fh = open(self.path, "w", encoding="utf-8")
            self._write(header)

    def _write(self, obj: dict[str, Any]) -> None:
        self._fh.write(json.dumps(obj) + "\n")
        self._fh.flush()

    def append(self, rec: Any) -> None:
        self._write({"t": rec.t, "loss": rec.loss, "pg": list(rec.projected_grads),
                     "forwards": rec.forwards, "move": rec.move, "skipped": rec.skipped})

    def close(self) -> None:
        self._fh.close()
