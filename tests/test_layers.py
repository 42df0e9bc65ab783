"""The import contract: arrows point down only.

    apps (CLI, demo, benchmarks, the uses)  ->  oracles, strategies  ->  blackbox (the core)

``blackbox`` imports nothing above it; ``oracles`` and ``strategies`` import neither each other
nor ``apps``. Checked two ways: statically (every ``import``/``from`` statement and every string
handed to ``importlib.import_module``/``__import__`` in each file) and at run time (importing
every core module in a fresh interpreter loads no module of a higher layer). The checker is
itself tested on planted violations, so the contract cannot pass by accident.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "blackbox": {"oracles", "strategies", "apps", "examples"},
    "oracles": {"strategies", "apps", "examples"},
    "strategies": {"oracles", "apps", "examples"},
}
_DYNAMIC = {"import_module", "__import__"}


def upward_imports(source: str, forbidden: set[str]) -> list[str]:
    """Every import of a forbidden top-level package in ``source``, as 'line: name'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call):
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if called in _DYNAMIC:
                names = [a.value for a in node.args[:1]
                         if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        found += [f"{node.lineno}: {n}" for n in names if n.split(".")[0] in forbidden]
    return found


def test_checker_catches_planted_violations() -> None:
    planted = textwrap.dedent("""
        import oracles.functions
        from strategies.cbo import CBO
        import importlib
        importlib.import_module("apps.cli")
        __import__("examples")
        from blackbox.keys import Key        # allowed
        from .local import thing             # relative: allowed
    """)
    assert upward_imports(planted, FORBIDDEN["blackbox"]) == [
        "2: oracles.functions", "3: strategies.cbo", "5: apps.cli", "6: examples"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert len(files) >= 5, f"{package}: no sources found under {ROOT / package}"
    bad = [f"{f.relative_to(ROOT)}:{hit}" for f in files
           for hit in upward_imports(f.read_text(), FORBIDDEN[package])]
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_importing_the_whole_core_loads_no_higher_layer() -> None:
    mods = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "blackbox").rglob("*.py")
    )
    code = textwrap.dedent(f"""
        import importlib, sys
        for m in {mods!r}:
            importlib.import_module(m)
        up = sorted(m for m in sys.modules if m.split(".")[0] in {{"oracles", "strategies", "apps"}})
        print(len({mods!r}), up)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.split(" ", 1)
    assert int(out[0]) >= 15 and out[1].strip() == "[]", out
