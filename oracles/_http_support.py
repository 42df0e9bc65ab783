"""Pieces of the HTTP client: request pacing (rpm / tpm), the on-disk response cache, a private
event loop for the synchronous facade, and the key-redaction helper."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Coroutine, TypeVar

__all__ = ["BackgroundLoop", "Pacer", "ResponseCache", "cache_key", "redact"]

T = TypeVar("T")


def redact(key: str | None) -> str:
    """``sk-...abcd`` style: enough to tell keys apart, never enough to use one."""
    if not key:
        return "none"
    return f"...{key[-4:]}" if len(key) > 12 else "***"


class Pacer:
    """Spaces request starts evenly: ``rpm`` starts per minute and ``tpm`` tokens per minute.

    Each acquisition reserves the next free start time (no bursts): with ``rpm = 60`` starts are
    one second apart, retries included; a request of ``t`` estimated tokens also pushes the next
    start by ``60 t / tpm`` seconds, corrected by :meth:`correct` once the response reports its
    usage.
    """

    def __init__(self, rpm: float | None = None, tpm: float | None = None) -> None:
        self.rpm, self.tpm = rpm, tpm
        self._next = 0.0
        self.scheduled: collections.deque[float] = collections.deque(maxlen=4096)  # start times
        self._lock: asyncio.Lock | None = None

    async def acquire(self, tokens: int = 0) -> None:
        if not self.rpm and not self.tpm:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            gap = 60.0 / self.rpm if self.rpm else 0.0
            if self.tpm:
                gap = max(gap, 60.0 * tokens / self.tpm)
            self._next = start + gap
            self.scheduled.append(start)
        if start > now:
            await asyncio.sleep(start - now)

    def correct(self, estimated: int, actual: int) -> None:
        """Moves the next start by the difference between a request's estimated and reported
        (``usage``) tokens, so the ``tpm`` pacing follows what the server actually counted."""
        if self.tpm and actual > 0:
            self._next += 60.0 * (actual - estimated) / self.tpm


def cache_key(base_url: str, path: str, body: dict[str, Any]) -> str:
    """A hash of the endpoint and the full request body (model, temperature, seed, ...)."""
    blob = json.dumps({"url": base_url.rstrip("/"), "path": path, "body": body}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """A sqlite response cache (WAL): safe under concurrent writers, survives a killed writer.

    Every write is its own committed transaction, so a process killed mid-run leaves a valid
    database with the responses it had stored.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        con = self._con()
        con.execute("CREATE TABLE IF NOT EXISTS responses "
                    "(key TEXT PRIMARY KEY, body TEXT NOT NULL)")
        con.commit()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        return con

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._con().execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def put(self, key: str, body: dict[str, Any]) -> None:
        self._con().execute("INSERT OR REPLACE INTO responses (key, body) VALUES (?, ?)",
                            (key, json.dumps(body)))

    def __len__(self) -> int:
        return int(self._con().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.path = st["path"]
        self._local = threading.local()


class BackgroundLoop:
    """An event loop in a daemon thread, so sync code (scripts, notebooks) can run coroutines."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="blackbox-http-loop")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
