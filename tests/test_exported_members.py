"""The public names: ``__all__`` is sorted, complete and importable (httpx's test)."""

from __future__ import annotations

import importlib

import pytest

import blackbox

MODULES = ["blackbox", "blackbox.errors", "blackbox.keys", "blackbox.query", "blackbox.oracle",
           "blackbox.spaces", "blackbox.strategy", "blackbox.budget", "blackbox.result",
           "blackbox.runner", "blackbox.registry", "oracles.functions"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_importable(name):
    mod = importlib.import_module(name)
    assert list(mod.__all__) == sorted(mod.__all__)
    for member in mod.__all__:
        assert getattr(mod, member) is not None


def test_blackbox_exports_the_design_names():
    for name in ["Key", "Query", "Values", "Ranking", "ValueOracle", "RankingOracle", "OracleSpec",
                 "Optimizer", "Box", "Ball", "Simplex", "Budget", "Ledger", "Result", "minimize",
                 "replay", "run_many", "RunSpec", "STRATEGIES", "ORACLES", "BaseStrategy"]:
        assert name in blackbox.__all__


def test_import_blackbox_needs_only_numpy_and_scipy():
    import subprocess
    import sys

    code = ("import sys, blackbox, oracles, strategies; "
            "bad = [m for m in ('torch', 'ray', 'httpx', 'nevergrad', 'fastapi', 'matplotlib') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
