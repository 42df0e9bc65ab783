"""Oracles for the Ray tests (importable by Ray workers through PYTHONPATH)."""

from __future__ import annotations

import os

import numpy as np

from oracles.functions import Sphere


class KillOnce:
    """A sphere whose worker process dies (``os._exit``) on its first batch, once per marker."""

    def __init__(self, dim: int, marker: str) -> None:
        self.dim, self.sense, self.name, self.marker = dim, "min", "kill_once", marker
        self._f = Sphere(dim)

    def values(self, points, *, key):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)
        return self._f.values(points, key=key)


def _inner_failure(x):
    return 1.0 / 0.0


class Raising:
    """An oracle that raises ZeroDivisionError inside ``_inner_failure``."""

    dim, sense, name = 3, "min", "raising"

    def values(self, points, *, key):
        return np.array([_inner_failure(x) for x in points])


def broken_factory(dim: int):
    raise RuntimeError(f"cannot build oracle of dim {dim}")


class TokenCounting:
    """Counts one prompt token per point into the ledger it is attached to (worker side)."""

    def __init__(self, dim: int) -> None:
        self.dim, self.sense, self.name = dim, "min", "tokens"
        self.stats = None
        self._f = Sphere(dim)

    def attach_ledger(self, stats) -> None:
        self.stats = stats

    def values(self, points, *, key):
        if self.stats is not None:
            self.stats.prompt_tokens += len(points)
            self.stats.cost += 0.5 * len(points)
        return self._f.values(points, key=key)


class NodeSphere:
    """A sphere whose ledger name says which Ray node built it; optionally marks its start."""

    def __init__(self, dim: int, marker_dir: str | None = None, run: int = 0,
                 delay: float = 0.0) -> None:
        self.dim, self.sense, self.delay = dim, "min", delay
        self._f = Sphere(dim)
        try:
            import ray

            node = ray.get_runtime_context().get_node_id()
        except Exception:
            node = "driver"
        self.name = f"sphere@{node}" if marker_dir is None else "sphere"
        if marker_dir is not None:
            open(os.path.join(marker_dir, f"started_{run}"), "w").close()

    def values(self, points, *, key):
        if self.delay:
            import time

            time.sleep(self.delay)
        return self._f.values(points, key=key)


class SeedDirections:
    """Points are q coefficients; directions of dimension ``big`` are regenerated from keys.

    ``x = c_1 u_1 + ... + c_q u_q`` with ``u_j`` drawn from ``Key(seed).fold_in(j)`` in the worker,
    value ``||x - 1||^2 / big``: what travels is q floats per point, never a ``big`` vector.
    """

    def __init__(self, q: int, big: int, seed: int = 0) -> None:
        self.dim, self.sense, self.name = q, "min", "seed_directions"
        self.big, self.seed = big, seed

    def values(self, points, *, key):
        from blackbox.keys import Key

        u = np.stack([Key(self.seed).fold_in(j).numpy().standard_normal(self.big)
                      for j in range(self.dim)])
        x = np.asarray(points) @ u
        return ((x - 1.0) ** 2).sum(axis=1) / self.big
