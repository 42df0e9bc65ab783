"""The run journal: an append-only JSONL file of every query and answer, plus checkpoints.

A journal directory holds:

* ``journal.jsonl``: a header line (seed, strategy config, oracle name/dim/sense, x0), then one
  line per answered query (points, key, kind, groups, top, tag and the oracle's raw answer, in the
  oracle's sense). Each answer is flushed before the next query is sent, so a killed run loses
  nothing it paid for; a torn last line (the process died mid-write) is ignored and cut off.
* ``checkpoint.pkl``: the latest strategy state and runner counters (written atomically every
  ``checkpoint_every`` steps), for inspection.
* ``run.json``: the run's configuration when it can be rebuilt (``blackbox resume DIR``).

Arrays are stored exactly (base64 of little-endian bytes), so a resumed run sees bit-identical
answers and ends identical to the uninterrupted run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import JournalMismatchError
from blackbox.keys import Key
from blackbox.query import Query

__all__ = ["Journal", "JsonlLog", "check_header", "decode_array", "encode_array", "read_records"]

VERSION = 1


def encode_array(a: Any) -> dict[str, Any]:
    arr = np.ascontiguousarray(a)
    dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
    return {
        "dtype": dt.str,
        "shape": list(arr.shape),
        "b64": base64.b64encode(arr.astype(dt, copy=False).tobytes()).decode("ascii"),
    }


def decode_array(d: dict[str, Any]) -> NDArray[Any]:
    raw = base64.b64decode(d["b64"])
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()


def read_records(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
    """Parse a JSONL log: (header, records, byte length of the valid prefix).

    A torn or corrupt line (a process killed mid-write) ends the valid prefix; what follows it
    is ignored.
    """
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    good = 0
    with open(path, "rb") as fh:
        data = fh.read()
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            break  # torn last line: no newline was written
        try:
            rec = json.loads(data[pos:end])
        except ValueError:
            break  # a torn or corrupt line ends the valid prefix
        if isinstance(rec, dict) and rec.get("type") == "header":
            header = rec
        else:
            records.append(rec)
        pos = end + 1
        good = pos
    return header, records, good


def check_header(old: dict[str, Any], new: dict[str, Any], where: Any,
                 fields: Any = None, hint: str = "use a new directory") -> None:
    """Raise a one-line :class:`JournalMismatchError` when ``old`` and ``new`` differ on ``fields``
    (every key of either when ``None``)."""
    keys = sorted(set(old) | set(new)) if fields is None else list(fields)
    for field in keys:
        if field != "type" and old.get(field) != new.get(field):
            raise JournalMismatchError(
                f"{where} was written for another {field}: {_short(old.get(field))} there, "
                f"{_short(new.get(field))} here; {hint}"
            )


class JsonlLog:
    """An append-only JSONL log: one header line, then one JSON record per line.

    Opening an existing log checks its header against ``header`` (on ``fields``, or every key),
    reads the records of its valid prefix into :attr:`records` and cuts a torn tail, so appends
    start on a fresh line; a new log gets the header written. :meth:`append` writes one record
    and flushes it before returning (a killed process loses at most the record in flight).

    Args:
        path: the ``.jsonl`` file (its folder is created).
        header: a JSON-able dict identifying the run (``"type": "header"`` is added).
        fields: header keys that must match an existing log (``None``: all of them).
        hint: the end of a mismatch message (what the user should do).

    Attributes:
        records: the records found when the log was opened (not those appended since).
        old_header: the header found in an existing log, or ``None`` for a new one.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "log.jsonl")
        >>> with JsonlLog(path, {"run": 1}) as log:
        ...     log.append({"t": 0, "loss": 0.5})
        >>> JsonlLog(path, {"run": 1}).records
        [{'t': 0, 'loss': 0.5}]
    """

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any],
                 fields: Any = None, hint: str = "use a new directory") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {"type": "header", **header}
        self.records: list[dict[str, Any]] = []
        self.old_header: dict[str, Any] | None = None
        if self.path.is_dir():
            raise JournalMismatchError(f"{self.path} is a directory, not a journal file; {hint}")
        if self.path.exists() and self.path.stat().st_size > 0:
            old, self.records, good = read_records(self.path)
            if old is None:
                raise JournalMismatchError(f"{self.path} has no header line, so it is not a "
                                           f"blackbox journal; {hint}")
            check_header(old, header, self.path, fields, hint)
            self.old_header = old
            with open(self.path, "r+b") as fh:  # cut a torn tail so appends start on a new line
                fh.truncate(good)
            self._fh = open(self.path, "a", encoding="utf-8")
        else:
            self._fh = open(self.path, "w", encoding="utf-8")
            self.append(header)

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line and flush it (before the caller goes on)."""
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> JsonlLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Journal:
    """Open (or create) a journal directory for a run described by ``header``.

    Args:
        directory: the journal directory (created if missing).
        header: identifies the run (seed, strategy, oracle, x0); an existing journal with a
            different header raises :class:`~blackbox.errors.JournalMismatchError`.
        checkpoint_every: steps between state checkpoints.
    """

    def __init__(self, directory: str | os.PathLike[str], header: dict[str, Any],
                 checkpoint_every: int = 100) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "journal.jsonl"
        self.checkpoint_every = checkpoint_every
        header = {"type": "header", "version": VERSION, **header}
        self.records: list[dict[str, Any]] = []
        if self.path.exists() and self.path.stat().st_size > 0:
            old, self.records, good = read_records(self.path)
            if old is None:
                raise JournalMismatchError(f"{self.path} has no header line; not a blackbox journal")
            for field in ("seed", "strategy", "oracle", "x0"):
                if old.get(field) != header.get(field):
                    raise JournalMismatchError(
                        f"journal {self.dir} was written for another {field}: "
                        f"{_short(old.get(field))} (journal) vs {_short(header.get(field))} (this run)"
                    )
            with open(self.path, "r+b") as fh:  # cut a torn tail so appends start on a new line
                fh.truncate(good)
            self._fh = open(self.path, "a", encoding="utf-8")
        else:
            self._fh = open(self.path, "w", encoding="utf-8")
            self._fh.write(json.dumps(header) + "\n")
            self._fh.flush()
        # told queries replay in order; truncated batches and final evaluations ("extras") are
        # looked up by their points, so a resumed run reuses them wherever they fall
        self._main = [r for r in self.records if not r.get("partial") and r.get("tag") != "final"]
        self._extra: dict[str, dict[str, Any]] = {}
        for r in self.records:
            if r.get("partial") or r.get("tag") == "final":
                pts = decode_array(r["points"])
                self._extra[_digest(pts)] = r
        self._prefix_sizes = sorted({int(r["points"]["shape"][0]) for r in self._extra.values()})
        self._cursor = 0

    # -- replay -----------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Journaled queries that may still be replayed."""
        return len(self._main) - self._cursor + len(self._extra)

    def replay_answer(self, query: Query) -> NDArray[Any] | None:
        """The journaled answer to ``query`` if the journal has one, else ``None``."""
        if self._cursor >= len(self._main):
            rec = self._extra.get(_digest(query.points)) if self._extra else None
            if rec is not None and rec.get("kind") == query.kind:
                return decode_array(rec["answer"])
            return None
        rec = self._main[self._cursor]
        pts = decode_array(rec["points"])
        if rec.get("kind") != query.kind or pts.shape != query.points.shape or not np.array_equal(
            pts, query.points
        ):
            raise JournalMismatchError(
                f"journal {self.dir} diverges at query {self._cursor}: the run asked for "
                f"{query.n} {query.kind} points that differ from the journaled ones (was the "
                "strategy, seed or code changed?)"
            )
        self._cursor += 1
        return decode_array(rec["answer"])

    def prefix_answer(self, query: Query) -> tuple[int, NDArray[Any]] | None:
        """``(k, answers)`` when the first ``k`` points of ``query`` were answered as a truncated
        batch before (the longest such prefix), else ``None``."""
        if query.kind != "values" or self._cursor < len(self._main):
            return None
        for k in reversed(self._prefix_sizes):
            if k < query.n:
                rec = self._extra.get(_digest(query.points[:k]))
                if rec is not None:
                    return k, decode_array(rec["answer"])
        return None

    # -- writing ----------------------------------------------------------------------------------
    def append(self, query: Query, answer: Any, **extra: Any) -> None:
        rec: dict[str, Any] = {
            "type": "answer",
            "i": len(self.records),
            "kind": query.kind,
            "tag": query.tag,
            "key": query.key.to_json(),
            "points": encode_array(query.points),
            "answer": encode_array(np.asarray(answer)),
        }
        if query.groups is not None:
            rec["groups"] = encode_array(query.groups)
            rec["top"] = query.top
        rec.update(extra)
        self._fh.write(json.dumps(rec) + "\n")
        self._fh.flush()  # before the next query is sent
        self.records.append({"i": rec["i"]})  # keep memory small: content lives on disk

    def checkpoint(self, step: int, payload: dict[str, Any]) -> None:
        if step % self.checkpoint_every:
            return
        self.write_checkpoint(payload)

    def write_checkpoint(self, payload: dict[str, Any]) -> None:
        tmp = self.dir / "checkpoint.pkl.tmp"
        try:
            with open(tmp, "wb") as fh:
                pickle.dump(payload, fh)
            os.replace(tmp, self.dir / "checkpoint.pkl")
        except (pickle.PicklingError, TypeError, AttributeError):
            tmp.unlink(missing_ok=True)  # a state that cannot be pickled: the journal suffices

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        (self.dir / name).write_text(json.dumps(data, indent=2, default=repr))

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def iter_answers(directory: str | os.PathLike[str]) -> Iterator[tuple[Query, NDArray[Any]]]:
    """The (query, raw answer) pairs of a journal directory, in order."""
    header, records, _ = read_records(Path(directory) / "journal.jsonl")
    for rec in records:
        q = Query(
            decode_array(rec["points"]),
            Key.from_json(rec["key"]),
            rec["kind"],
            groups=decode_array(rec["groups"]) if "groups" in rec else None,
            top=rec.get("top"),
            tag=rec.get("tag", ""),
        )
        yield q, decode_array(rec["answer"])


def _digest(points: NDArray[Any]) -> str:
    return hashlib.sha1(np.ascontiguousarray(points, dtype=np.float64).tobytes()).hexdigest()


def _short(v: Any) -> str:
    s = json.dumps(v, default=repr) if not isinstance(v, str) else v
    return s if len(s) < 120 else s[:117] + "..."
