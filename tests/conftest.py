"""Shared fixtures and helpers. Markers (see pyproject): slow, ray, gpu, http, browser."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


class CountingOracle:
    """Wraps a value oracle and records every batch it answers (for budget/resume tests)."""

    def __init__(self, oracle, fail_after: int | None = None):
        self.oracle = oracle
        self.dim = oracle.dim
        self.sense = getattr(oracle, "sense", "min")
        self.name = "counting"
        self.batches: list[np.ndarray] = []

    @property
    def points(self) -> int:
        return sum(len(b) for b in self.batches)

    def values(self, points, *, key):
        self.batches.append(np.array(points))
        return self.oracle.values(points, key=key)


@pytest.fixture
def counting():
    return CountingOracle
