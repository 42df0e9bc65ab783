"""Journals: append-only JSONL logs, and the journal of a run that lets it resume.

:class:`JsonlLog` is the one log format of the project (``minimize``'s journal and MeZO's step
journal use it): a header line, then one JSON record per line, each flushed before the writer
goes on; reopening checks the header (a one-line :class:`~blackbox.errors.JournalMismatchError`
naming the field that differs) and cuts a torn last line (a process killed mid-write).

A run's journal directory (``minimize(..., journal=DIR)``) holds:

* ``journal.jsonl``: the header (format version, seed, strategy configuration, oracle, a digest of
  ``x0``) and one record per answered query: its answer, exactly, and a short digest of the
  query (see :class:`Journal`). Strategies are pure, so the points re-derive from the seed: the
  digest only has to catch a run that diverges. ``journal_points=True`` also keeps the points.
* ``run.json``: the run's configuration when it can be rebuilt (``blackbox resume DIR``).

Resuming replays the answered queries through the strategy (no oracle call; the strategy's own
arithmetic only) and goes on where the run stopped; the result equals the uninterrupted run's.
Arrays are stored exactly (base64 of little-endian bytes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError, JournalMismatchError
from blackbox.keys import Key
from blackbox.query import Query

__all__ = [
    "Journal",
    "JournalEntry",
    "JournaledEvaluator",
    "JsonlLog",
    "check_header",
    "decode_array",
    "encode_array",
    "iter_answers",
    "points_digest",
    "query_digest",
    "read_records",
]

VERSION = 2
_HEADER_FIELDS = ("version", "seed", "strategy", "oracle", "x0")


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
    (every key of either when ``None``); for a dict field the message names the entry.

    Examples:
        >>> check_header({"strategy": {"name": "cbo", "N": 40}}, {"strategy": {"name": "cbo", "N": 50}},
        ...              "journal runs/a")
        Traceback (most recent call last):
        ...
        blackbox.errors.JournalMismatchError: journal runs/a was written for another strategy (N: 40 there, 50 here); use a new directory
    """
    keys = sorted(set(old) | set(new)) if fields is None else list(fields)
    for field in keys:
        a, b = old.get(field), new.get(field)
        if field == "type" or a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            sub = next(k for k in [*a, *b] if a.get(k) != b.get(k))
            what = f"{field} ({sub}: {_short(a.get(sub))} there, {_short(b.get(sub))} here)"
        else:
            what = f"{field}: {_short(a)} there, {_short(b)} here"
        raise JournalMismatchError(f"{where} was written for another {what}; {hint}")


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
        name: how messages call the log (default: its path).

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
                 fields: Any = None, hint: str = "use a new directory", name: str = "") -> None:
        self.path = Path(path)
        name = name or str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {"type": "header", **header}
        self.records: list[dict[str, Any]] = []
        self.old_header: dict[str, Any] | None = None
        if self.path.is_dir():
            raise JournalMismatchError(f"{name} is a directory, not a journal file; {hint}")
        if self.path.exists() and self.path.stat().st_size > 0:
            old, self.records, good = read_records(self.path)
            if old is None:
                raise JournalMismatchError(f"{name} has no header line, so it is not a "
                                           f"blackbox journal; {hint}")
            check_header(old, header, name, fields, hint)
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
    """The journal of a :func:`~blackbox.runner.minimize` run: ``DIR/journal.jsonl``.

    One header line (format version, seed, strategy configuration, oracle name/dim/sense, a
    digest of ``x0``), then one record per answered query: ``i``, ``kind``, ``tag``, ``n`` (points),
    ``q`` (a 64-bit digest of the query's points, and groups for a ranking), ``answer`` (the
    oracle's raw answer, exact) and ``partial`` for a truncated last batch. With ``points=True``
    the records also hold the points, key and groups (for audit). Points are not needed to
    resume: a strategy re-derives them from its key, and the digest catches any divergence.

    Args:
        directory: the journal directory (created if missing).
        header: identifies the run; an existing journal with another one raises
            :class:`~blackbox.errors.JournalMismatchError` (one line, naming what differs).
        points: also journal each query's points, key and groups.
    """

    def __init__(self, directory: str | os.PathLike[str], header: dict[str, Any],
                 points: bool = False) -> None:
        self.dir = Path(directory)
        if self.dir.exists() and not self.dir.is_dir():
            raise ConfigError(f"journal {self.dir} is a file; a journal is a directory: "
                              "use a new directory")
        header = {"version": VERSION, **header}
        self.log = JsonlLog(self.dir / "journal.jsonl", header, fields=_HEADER_FIELDS,
                            name=f"journal {self.dir}")
        self.points = points
        records = self.log.records
        self._count = len(records)
        # told queries replay in order; truncated batches and final evaluations ("extras") are
        # looked up by digest, so a resumed run reuses them wherever they fall
        self._main = [r for r in records if not _is_extra(r)]
        self._extra = {r["q"]: r for r in records if _is_extra(r)}
        self._prefix_sizes = sorted({int(r["n"]) for r in self._extra.values()})
        self._cursor = 0

    @property
    def pending(self) -> int:
        """Journaled answers that may still be replayed."""
        return len(self._main) - self._cursor + len(self._extra)

    def replay(self, query: Query) -> NDArray[Any] | None:
        """The journaled answer to ``query``, or ``None`` when the journal has none."""
        digest = query_digest(query)
        if self._cursor < len(self._main):
            rec = self._main[self._cursor]
            if rec.get("kind") != query.kind or rec.get("n") != query.n or rec.get("q") != digest:
                raise JournalMismatchError(
                    f"journal {self.dir} diverges at query {self._cursor}: this run asked for other "
                    "points than the journaled ones (changed code, options or oracle?); "
                    "use a new directory")
            self._cursor += 1
            return decode_array(rec["answer"])
        rec = self._extra.get(digest)
        if rec is not None and rec.get("kind") == query.kind:
            return decode_array(rec["answer"])
        return None

    def prefix(self, query: Query) -> tuple[int, NDArray[Any]] | None:
        """``(k, answers)`` when the first ``k`` points of ``query`` were answered as a truncated
        batch before (the longest such prefix), else ``None``."""
        if query.kind != "values" or self._cursor < len(self._main):
            return None
        for k in reversed(self._prefix_sizes):
            if k < query.n:
                rec = self._extra.get(points_digest(query.points[:k]))
                if rec is not None:
                    return k, decode_array(rec["answer"])
        return None

    def append(self, query: Query, answer: Any) -> None:
        """Journal one answer (flushed before this returns, so before the next query is sent)."""
        rec: dict[str, Any] = {"i": self._count, "kind": query.kind, "tag": query.tag,
                               "n": query.n, "q": query_digest(query),
                               "answer": encode_array(np.asarray(answer))}
        if query.meta.get("partial"):
            rec["partial"] = True
        if self.points:
            rec["key"] = query.key.to_json()
            rec["points"] = encode_array(query.points)
            if query.groups is not None:
                rec["groups"], rec["top"] = encode_array(query.groups), query.top
        self.log.append(rec)
        self._count += 1

    def close(self) -> None:
        self.log.close()


class JournaledEvaluator:
    """An evaluator that answers from a :class:`Journal` what it holds, else asks ``inner`` and
    journals the answer; the contract of :class:`~blackbox.evaluate.LocalEvaluator`. Replayed
    points count into ``stats.replayed``, never into ``points``."""

    def __init__(self, inner: Any, journal: Journal) -> None:
        self.inner, self.journal = inner, journal
        for attr in ("dim", "sense", "name", "can_value", "can_rank", "own_rank", "stats"):
            setattr(self, attr, getattr(inner, attr))

    def evaluate(self, query: Query) -> NDArray[Any]:
        jr = self.journal
        if jr.pending:
            raw = jr.replay(query)
            if raw is not None:
                self.stats.replayed += query.n
                return raw
            pre = jr.prefix(query)
            if pre is not None:  # the head was answered as a truncated batch: send the rest only
                k, head = pre
                rest = Query(query.points[k:], query.key.shifted(k), "values", tag=query.tag)
                raw = np.concatenate([head, self.inner.evaluate(rest)])
                self.stats.replayed += k
                jr.append(query, raw)
                return raw
        raw = self.inner.evaluate(query)
        jr.append(query, raw)
        return raw

    def close(self) -> None:
        try:
            self.journal.close()
        finally:
            self.inner.close()


class JournalEntry(NamedTuple):
    """One journaled answer (``points``, ``key`` and ``groups`` only in journals written with
    ``points=True``)."""

    kind: str
    tag: str
    n: int
    digest: str
    answer: NDArray[Any]
    partial: bool
    points: NDArray[np.float64] | None
    key: Key | None
    groups: NDArray[np.int64] | None


def iter_answers(directory: str | os.PathLike[str]) -> Iterator[JournalEntry]:
    """The answers of a journal directory, in order."""
    _, records, _ = read_records(Path(directory) / "journal.jsonl")
    for r in records:
        yield JournalEntry(
            r["kind"], r.get("tag", ""), int(r["n"]), r["q"], decode_array(r["answer"]),
            bool(r.get("partial")),
            decode_array(r["points"]) if "points" in r else None,
            Key.from_json(r["key"]) if "key" in r else None,
            decode_array(r["groups"]) if "groups" in r else None,
        )


def _is_extra(rec: dict[str, Any]) -> bool:
    return bool(rec.get("partial")) or rec.get("tag") == "final"


def points_digest(points: NDArray[Any]) -> str:
    """A 64-bit hex digest of a point batch's float64 bytes."""
    return hashlib.blake2b(np.ascontiguousarray(points, dtype=np.float64).tobytes(),
                           digest_size=8).hexdigest()


def query_digest(query: Query) -> str:
    """:func:`points_digest` of a value query; a ranking's also covers its groups and ``top``."""
    if query.kind == "values":
        return points_digest(query.points)
    h = hashlib.blake2b(np.ascontiguousarray(query.points, dtype=np.float64).tobytes(),
                        digest_size=8)
    h.update(np.ascontiguousarray(query.groups, dtype=np.int64).tobytes())
    h.update(str(query.top).encode())
    return h.hexdigest()


def _short(v: Any) -> str:
    s = json.dumps(v, default=repr) if not isinstance(v, str) else v
    return s if len(s) < 60 else s[:57] + "..."
