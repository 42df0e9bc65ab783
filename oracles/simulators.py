"""Simulators as oracles: a Python callable (:class:`Simulator`) or an external program
(:class:`ExecutableSimulator`).

``ExecutableSimulator`` runs the program once per point -- the point's coordinates appended to
``argv`` (``input="args"``) or written to its stdin as one whitespace-separated line
(``input="stdin"``) -- with the points of a batch run concurrently on a small thread pool. Its
stdout is parsed (``parse``, default ``float`` of the stripped text). A timeout, a non-zero exit
status, a program that cannot be started, or output ``parse`` rejects makes that point NaN: a
failure the ledger counts (the runner counts non-finite values) and strategies treat as the
worst value; it never crashes the run. The reason of the last failures is kept in
``last_errors``. Each process gets ``BLACKBOX_SEED`` in its environment (the point's key as an
integer), so a stochastic simulator can be made reproducible.
"""

from __future__ import annotations

import inspect
import math
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from blackbox.errors import ConfigError
from blackbox.keys import Key

__all__ = ["ExecutableSimulator", "Simulator"]


def _check_dim(dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ConfigError(f"dim must be an int >= 1, got {dim!r}")
    return int(dim)


def _check_sense(sense: Any) -> str:
    if sense not in ("min", "max"):
        raise ConfigError(f"sense must be 'min' or 'max', got {sense!r}")
    return str(sense)


def _points(points: Any, dim: int) -> NDArray[np.float64]:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != dim:
        raise ConfigError(f"points must have shape (n, {dim}), got {pts.shape}")
    return pts


class Simulator:
    """A Python callable as a value oracle.

    Args:
        fn: ``fn(x (d,)) -> float`` per point, or ``fn(points (n, d)) -> (n,)`` when
            ``batched``. If ``fn`` has a parameter named ``key`` it receives the point's
            :class:`~blackbox.keys.Key` (batched: the batch key; point ``i`` uses
            ``key.fold_in(i)``).
        dim: the point dimension.
        batched: ``fn`` takes the whole batch.
        sense: ``"min"`` or ``"max"``.
        on_error: ``"raise"`` (default: an exception in ``fn`` propagates) or ``"nan"`` (that
            point becomes NaN, a counted failure).
        name: the ledger name (default: ``fn``'s name).
    """

    def __init__(self, fn: Callable[..., Any], *, dim: int, batched: bool = False,
                 sense: str = "min", on_error: str = "raise", name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"fn must be callable, got {fn!r}")
        if on_error not in ("raise", "nan"):
            raise ConfigError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
        self.fn = fn
        self.dim = _check_dim(dim)
        self.batched = bool(batched)
        self.sense = _check_sense(sense)
        self.on_error = on_error
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        try:
            self._wants_key = "key" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            self._wants_key = False

    def _call(self, x: Any, key: Key) -> Any:
        return self.fn(x, key=key) if self._wants_key else self.fn(x)

    def values(self, points: NDArray[np.float64], *, key: Key) -> NDArray[np.float64]:
        pts = _points(points, self.dim)
        if self.batched:
            try:
                return np.asarray(self._call(pts, key), dtype=np.float64).reshape(-1)
            except Exception:
                if self.on_error == "raise":
                    raise
                return np.full(len(pts), np.nan)
        out = np.empty(len(pts), dtype=np.float64)
        for i, x in enumerate(pts):
            try:
                out[i] = float(self._call(x, key.fold_in(i)))
            except Exception:
                if self.on_error == "raise":
                    raise
                out[i] = np.nan
        return out


class ExecutableSimulator:
    """An external program run once per point; failures become NaN, never exceptions.

    Args:
        argv: the command, e.g. ``["python", "sim.py", "--fast"]`` (a list; no shell).
        dim: the point dimension.
        timeout: seconds before a run is killed and its point becomes NaN.
        input: ``"args"`` (coordinates appended to ``argv``) or ``"stdin"`` (one line).
        parse: ``stdout text -> float``; an exception makes the point NaN.
        sense: ``"min"`` or ``"max"``.
        max_workers: processes run at once (default ``min(4, cpu count)``).
        env: extra environment variables for the program.
        cwd: the program's working directory.
        name: the ledger name (default: the program's base name).
    """

    def __init__(self, argv: Sequence[str], *, dim: int, timeout: float = 10.0,
                 input: str = "args", parse: Callable[[str], float] = float,
                 sense: str = "min", max_workers: int | None = None,
                 env: dict[str, str] | None = None, cwd: str | None = None,
                 name: str | None = None) -> None:
        if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence) or not argv \
                or not all(isinstance(a, str) for a in argv):
            raise ConfigError(
                "argv must be a non-empty list of strings such as ['python', 'sim.py'], "
                f"got {argv!r}"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not timeout > 0 or math.isinf(timeout):
            raise ConfigError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        if input not in ("args", "stdin"):
            raise ConfigError(f"input must be 'args' or 'stdin', got {input!r}")
        if not callable(parse):
            raise ConfigError(f"parse must be callable (str -> float), got {parse!r}")
        if max_workers is not None and (isinstance(max_workers, bool)
                                        or not isinstance(max_workers, int) or max_workers < 1):
            raise ConfigError(f"max_workers must be an int >= 1 or None, got {max_workers!r}")
        self.argv = list(argv)
        self.dim = _check_dim(dim)
        self.timeout = float(timeout)
        self.input = input
        self.parse = parse
        self.sense = _check_sense(sense)
        self.max_workers = max_workers or max(1, min(4, os.cpu_count() or 1))
        self.env = dict(env or {})
        self.cwd = cwd
        self.name = name or os.path.basename(self.argv[0])
        self.last_errors: list[str] = []

    def _one(self, x: NDArray[np.float64], key: Key) -> tuple[float, str | None]:
        coords = [repr(float(v)) for v in x]
        argv = self.argv + coords if self.input == "args" else self.argv
        stdin = " ".join(coords) + "\n" if self.input == "stdin" else None
        env = {**os.environ, **self.env, "BLACKBOX_SEED": str(key.integer())}
        try:
            proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                  timeout=self.timeout, env=env, cwd=self.cwd)
        except subprocess.TimeoutExpired:
            return math.nan, f"timeout after {self.timeout:g}s"
        except OSError as exc:
            return math.nan, f"could not start {argv[0]!r}: {exc}"
        if proc.returncode != 0:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or [""]
            return math.nan, f"exit status {proc.returncode}: {tail[0][:200]}"
        try:
            return float(self.parse(proc.stdout.strip())), None
        except Exception as exc:
            return math.nan, f"unparsable output {proc.stdout[:80]!r}: {type(exc).__name__}"

    def values(self, points: NDArray[np.float64], *, key: Key) -> NDArray[np.float64]:
        pts = _points(points, self.dim)
        if len(pts) == 0:
            return np.empty(0)
        workers = min(self.max_workers, len(pts))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            res = list(pool.map(lambda i: self._one(pts[i], key.fold_in(i)), range(len(pts))))
        self.last_errors = [f"point {i}: {err}" for i, (_, err) in enumerate(res) if err]
        return np.array([v for v, _ in res], dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        st = dict(self.__dict__)
        st["last_errors"] = []
        return st
