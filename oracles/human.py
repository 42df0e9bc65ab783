"""A person ranks candidates on a local web page: :class:`HumanRanker`, a ranking oracle.

For each group of a ranking query the oracle renders the candidates with the user's
``render(point)`` (PNG bytes, an SVG string, or any other string, shown as escaped text), shuffles
their display order (a person favours what comes first; the mapping stays server-side), shows
them on ``http://127.0.0.1:PORT/?token=TOKEN`` and waits until the person has clicked their
``top`` favourites in order (fewer, with "can't decide the rest", where ``ties=True``: the rest
are left unordered, which an (m, k) ranking allows). The JSON API behind the page is described
in :mod:`oracles._human_http`; answers are validated before anything is recorded.

Safety: the server binds to loopback unless ``allow_remote=True``; a random token (printed with
the URL) is required on every request; the API takes it only from ``Authorization: Bearer``.

Crash safety: with ``log=PATH`` every answer is appended to a JSONL file and flushed to disk
*before* the oracle returns it (so before the runner journals it and the strategy is told); a
later oracle opened on the same file answers the same candidates from it without showing them.
With ``minimize(..., journal=DIR)`` a restarted run replays the answered queries from the
journal, shows the pending one again and asks nothing twice. ``undo_seconds > 0`` holds each
answer that long before it is final; "Undo last" on the page takes it back until then.

A person without a browser answers in a terminal instead: :class:`TerminalRanker` (in
:mod:`oracles._human_terminal`, importable from here) prints the candidates, writes images to
files, reads the order as a line of numbers and shares this answer log.

The ranking semantics are the (m, k)-ranking oracle of Tang, Rybin, Chang, "Zeroth-Order
Optimization Meets Human Feedback: Provable Learning via Ranking Oracles", ICLR 2024,
https://arxiv.org/abs/2303.03751 (its human demo shows shuffled candidates and takes a top-k).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.keys import Key
from oracles._human_common import SHUFFLE_KEY as _SHUFFLE_KEY
from oracles._human_common import AnswerLog as _AnswerLog
from oracles._human_common import candidate_payload, check_common_args, stack_rows
from oracles._human_common import digest as _digest
from oracles._human_terminal import TerminalRanker

__all__ = ["HumanRanker", "TerminalRanker", "candidate_payload"]

Array = NDArray[np.float64]
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _Board:
    """What the page sees: the open question, the staged answer, progress. Thread-safe."""

    def __init__(self, budget: int | None, undo_seconds: float, answered: int,
                 on_final: Callable[[str, list[int]], Any]) -> None:
        self.cv = threading.Condition()
        self.on_final = on_final
        self.budget, self.undo_seconds, self.answered = budget, undo_seconds, answered
        self.open: dict[str, Any] | None = None  # id, candidates, top, ties, rows, digest
        self.staged: tuple[list[int], float] | None = None  # rows best first, commit time
        self.final: list[int] | None = None
        self.done = False
        self.serial = 0

    def snapshot(self) -> dict[str, Any]:
        with self.cv:
            base = {"answered": self.answered, "budget": self.budget,
                    "undo_seconds": self.undo_seconds}
            q = self.open
            if q is None or self.staged is not None:
                state = "done" if self.done else ("staged" if self.staged else "waiting")
                return {"id": None, "candidates": [], "top": 0, "state": state, **base}
            return {"id": q["id"], "candidates": q["candidates"], "top": q["top"],
                    "ties": q["ties"], "state": "open", **base}

    def answer(self, qid: Any, order: Any) -> tuple[int, dict[str, Any]]:
        with self.cv:
            q = self.open
            if q is None or qid != q["id"] or self.staged is not None:
                return 409, {"error": f"query {qid!r} is not the open query (answered or stale)"}
            rows = _validate(order, q)
            if isinstance(rows, str):
                return 400, {"error": rows}
            self.staged = (rows, time.monotonic() + self.undo_seconds)
            if self.undo_seconds == 0:
                self.finalize()  # on disk before the person sees "saved"
            self.cv.notify_all()
            n = self.answered + (0 if self.final is not None else 1)
            return 200, {"ok": True, "answered": n, "budget": self.budget,
                         "undo_seconds": self.undo_seconds}

    def finalize(self) -> None:
        """Make the staged answer final: logged (fsynced), then handed to the waiting oracle."""
        assert self.open is not None and self.staged is not None
        rows = self.staged[0]
        self.on_final(self.open["digest"], rows)
        self.final, self.open, self.staged = rows, None, None
        self.answered += 1

    def undo(self, qid: Any) -> tuple[int, dict[str, Any]]:
        with self.cv:
            q = self.open
            if self.staged is None or q is None or (qid is not None and qid != q["id"]):
                return 409, {"error": "nothing to undo: the last answer was already told"}
            self.staged = None
            self.cv.notify_all()
            return 200, {"ok": True, "answered": self.answered, "budget": self.budget}


def _validate(order: Any, q: dict[str, Any]) -> list[int] | str:
    """Rows (best first) for a valid order of the shown ids, else the reason it is not."""
    ids = q["rows"]
    if not isinstance(order, list) or not all(isinstance(c, str) for c in order):
        return "order must be a list of candidate ids (strings), best first"
    if len(set(order)) != len(order) or any(c not in ids for c in order):
        return f"order must list distinct ids among the shown ones {sorted(ids)}, got {order}"
    lo = 1 if q["ties"] else q["top"]
    if not lo <= len(order) <= q["top"]:
        want = f"1..{q['top']}" if q["ties"] else str(q["top"])
        return f"order must list {want} candidates, got {len(order)}"
    return [ids[c] for c in order]


class HumanRanker:
    """A ranking oracle answered by a person on a local web page.

    Args:
        dim: dimension of the points.
        render: ``point (d,) -> PNG bytes | SVG string | text``.
        title: the page's heading.
        host: the address to bind (loopback by default).
        port: the port (0: any free port).
        token: the session token (default: a fresh random one).
        budget: the answers the run will ask for (shown as progress).
        ties: allow "can't decide the rest" (answers listing fewer than ``top``).
        undo_seconds: how long an answer can be undone before it is final.
        log: a JSONL file of answers (see the module docstring).
        allow_remote: permit a non-loopback ``host`` (the token is then all that guards it).
        sense: the oracle's sense (``"max"``: the person lists what they like most first).
        announce: called with the URL once the server is up (default: print it).
        linger: seconds the page keeps serving after :meth:`close` (so it can show "Done").
    """

    def __init__(self, dim: int, render: Callable[[Array], Any], *,
                 title: str = "Which do you prefer?",
                 host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 budget: int | None = None, ties: bool = True, undo_seconds: float = 0.0,
                 log: str | os.PathLike[str] | None = None, allow_remote: bool = False,
                 sense: str = "max", announce: Callable[[str], Any] | None = None,
                 linger: float = 0.0) -> None:
        _check_args(dim, render, host, port, token, budget, undo_seconds, allow_remote, sense)
        self.dim, self.render, self.sense, self.ties = dim, render, sense, bool(ties)
        self.name = "human"
        self.token = token or secrets.token_urlsafe(24)
        self._log = _AnswerLog(log)
        self.board = _Board(budget, float(undo_seconds), len(self._log.answers), self._log.add)
        from oracles._human_http import PageServer

        self._server: Any = PageServer(self.board, host=host, port=port, token=self.token,
                                       title=title)
        self._port = self._server.port
        self.host, self.linger = host, float(linger)
        self.replayed = 0
        (announce or (lambda url: print(f"open {url}", flush=True)))(self.url)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{h}:{self.port}/?token={self.token}"

    def rank(self, points: Array, groups: Any, *, top: int, key: Key) -> NDArray[np.int64]:
        groups = np.asarray(groups, dtype=np.int64)
        pts = np.asarray(points, dtype=np.float64)
        rows = [self._ask_group(pts, grp, int(top), key.fold_in(_SHUFFLE_KEY).fold_in(gi))
                for gi, grp in enumerate(groups)]
        return stack_rows(rows)

    def _ask_group(self, pts: Array, grp: NDArray[np.int64], top: int, key: Key) -> list[int]:
        digest = _digest(pts[grp], top)
        old = self._log.answers.get(digest)
        if old is not None:  # answered before a crash: never ask a person twice
            self.replayed += 1
            return [int(grp[i]) for i in old]
        perm = key.numpy().permutation(len(grp))
        cands, ids = [], {}
        for pos, local in enumerate(perm):
            cid = f"c{pos}"
            ids[cid] = int(local)
            cands.append({"id": cid, **candidate_payload(self.render(pts[grp[local]]))})
        local_order = self._wait(cands, ids, top, digest)  # logged before it returns
        return [int(grp[i]) for i in local_order]

    def _wait(self, cands: list[dict[str, str]], ids: dict[str, int], top: int, digest: str
              ) -> list[int]:
        b = self.board
        with b.cv:
            b.serial += 1
            b.open = {"id": f"q{b.serial}-{digest[:8]}", "candidates": cands, "top": top,
                      "ties": self.ties and top > 1, "rows": ids, "digest": digest}
            b.staged, b.final = None, None
            b.cv.notify_all()
            while True:
                if b.staged is not None and time.monotonic() >= b.staged[1]:
                    b.finalize()
                if b.final is not None:
                    rows, b.final = b.final, None
                    return rows
                wait = 0.2 if b.staged is None else max(0.0, b.staged[1] - time.monotonic())
                b.cv.wait(timeout=min(wait, 0.2))

    def finish(self) -> None:
        """Tell the page the run is over (it shows "Done"); the server keeps serving."""
        with self.board.cv:
            self.board.done, self.board.open = True, None

    def close(self) -> None:
        """Show "Done" for ``linger`` seconds, then stop the server (idempotent)."""
        if self._server is None:
            return
        self.finish()
        if self.linger > 0:
            time.sleep(self.linger)
        self._server.close()
        self._server = None

    def __repr__(self) -> str:
        return f"HumanRanker(dim={self.dim}, url='http://{self.host}:{self.port}/', token=<hidden>)"


def _check_args(dim: Any, render: Any, host: Any, port: Any, token: Any, budget: Any,
                undo_seconds: Any, allow_remote: bool, sense: Any) -> None:
    check_common_args("HumanRanker", dim, render, budget, sense)
    if not isinstance(host, str) or (host not in _LOOPBACK and not allow_remote):
        raise ConfigError(f"HumanRanker.host must be a loopback address {_LOOPBACK} unless "
                          f"allow_remote=True, got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
        raise ConfigError(f"HumanRanker.port must be an int in [0, 65535], got {port!r}")
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        raise ConfigError("HumanRanker.token must be a string of at least 16 characters")
    if isinstance(undo_seconds, bool) or not isinstance(undo_seconds, (int, float)) or not (
            0 <= undo_seconds < 3600):
        raise ConfigError(f"HumanRanker.undo_seconds must be in [0, 3600), got {undo_seconds!r}")

