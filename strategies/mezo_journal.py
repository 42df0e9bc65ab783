"""MeZO's step journal: one JSON line per step, enough to replay the run without forward passes.

A MeZO step is determined by its key (``Key(seed).fold_in(t)``) and its projected gradients, so
the journal holds a header (the configuration, the trainable tensors' names, shapes and dtypes,
and a fingerprint of the initial weights) and then ``{t, loss, pg, forwards, move, skipped}`` per
step. It is the core's log format (:class:`blackbox.journal.JsonlLog`: header check, one record
flushed per step, so a killed run loses at most the step in flight, and a torn last line cut
off). Resuming needs the module at its initial weights (checked against the fingerprint).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blackbox.errors import JournalMismatchError
from blackbox.journal import JsonlLog

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
        header = {**header, "fingerprint": fingerprint(params)}
        fields = [k for k in header if k != "fingerprint"]
        self._log = JsonlLog(self.path, header, fields, hint="use a new journal file",
                             name=f"MeZO journal {self.path}")
        old = self._log.old_header
        self.records: list[MeZOStep] = []
        try:
            if old is not None and not _same_fingerprint(old.get("fingerprint", []),
                                                         header["fingerprint"]):
                raise JournalMismatchError(
                    f"{self.path}: the module's weights differ from the run's initial weights; "
                    "load the weights the run started from, then resume")
            for i, r in enumerate(self._log.records):
                if r.get("t") != i:
                    raise JournalMismatchError(f"{self.path}: step record {i} has t={r.get('t')}")
                self.records.append(MeZOStep(int(r["t"]), float(r["loss"]),
                                             tuple(float(g) for g in r["pg"]), int(r["forwards"]),
                                             int(r["move"]), bool(r["skipped"])))
        except BaseException:
            self._log.close()
            raise

    def append(self, rec: Any) -> None:
        self._log.append({"t": rec.t, "loss": rec.loss, "pg": list(rec.projected_grads),
                          "forwards": rec.forwards, "move": rec.move, "skipped": rec.skipped})

    def close(self) -> None:
        self._log.close()
