"""Benchmarks (``blackbox bench GROUP [--check]``): speed, memory and quality against peers.

Each module has ``run(quick=False) -> dict`` and ``TARGETS``: numbers, next to the benchmark,
that its figures must meet. A target is ``"path.in.result": (op, number)`` with ``op`` one of
``<=``, ``>=``, ``==`` and a dotted path into the returned dict (list items by index). Results are
written as JSON, one file per module, under ``--out`` (default ``bench-results/``), each with a
``checks`` list; ``--check`` makes the command exit non-zero when any figure misses its target.
Speed and memory are measured here, never in unit tests.
"""

from __future__ import annotations

import importlib
import json
import operator
import platform
import time
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["GROUPS", "check_targets", "run_group"]

GROUPS: dict[str, list[str]] = {
    "strategies": ["overhead", "cbo_vs_cbx", "baselines"],
    "parallel": ["parallel"],
    "http": ["http"],
    "mezo": ["mezo"],
    "attacks": ["attacks"],
    "preference": ["preference"],
    "preference_long": ["preference_long"],
    "prompt": ["prompt"],
}

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq,
}


def _lookup(result: Mapping[str, Any], path: str) -> Any:
    obj: Any = result
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def check_targets(result: Mapping[str, Any], targets: Mapping[str, tuple[str, float]]
                  ) -> list[dict[str, Any]]:
    """Compare each figure with its target; a missing figure is a miss, never a pass.

    Examples:
        >>> check_targets({"a": {"ratio": 1.1}}, {"a.ratio": ("<=", 1.3)})[0]["ok"]
        True
        >>> check_targets({"rows": [{"x": 3}]}, {"rows.0.x": (">=", 4)})[0]["ok"]
        False
        >>> check_targets({}, {"speedup": (">=", 1.6)})[0]["measured"] is None
        True
    """
    rows = []
    for path, (op, target) in targets.items():
        if op not in _OPS:
            raise ValueError(f"target {path!r}: op must be one of {sorted(_OPS)}, got {op!r}")
        try:
            measured = _lookup(result, path)
            ok = bool(_OPS[op](float(measured), float(target)))
        except (KeyError, IndexError, TypeError, ValueError):
            measured, ok = None, False
        rows.append({"figure": path, "target": f"{op} {target:g}", "measured": measured, "ok": ok})
    return rows


def _print_checks(name: str, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        m = r["measured"]
        shown = "missing" if m is None else (f"{m:.4g}" if isinstance(m, float) else str(m))
        print(f"   {'ok  ' if r['ok'] else 'MISS'} {name}.{r['figure']}: {shown} "
              f"(target {r['target']})", flush=True)


def run_group(group: str, out: str | Path = "bench-results", quick: bool = False
              ) -> dict[str, Any]:
    """Run a group's benchmarks; returns ``{name: result}``, each result with its ``checks``."""
    if group != "all" and group not in GROUPS:
        raise ValueError(f"bench group must be one of {sorted(GROUPS) + ['all']}, got {group!r}")
    names = [n for g in GROUPS.values() for n in g] if group == "all" else GROUPS[group]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name in names:
        mod = importlib.import_module(f"apps.bench.{name}")
        print(f"== bench {name}{' (quick)' if quick else ''}", flush=True)
        t0 = time.perf_counter()
        res = mod.run(quick=quick)
        res = {"benchmark": name, "quick": quick, "seconds": time.perf_counter() - t0,
               "machine": {"python": platform.python_version(), "cpus": _cpus()}, **res}
        res["checks"] = check_targets(res, getattr(mod, "TARGETS", {}))
        _print_checks(name, res["checks"])
        path = out / f"{name}.json"
        path.write_text(json.dumps(res, indent=2, default=float))
        print(f"   -> {path}", flush=True)
        results[name] = res
    return results


def all_ok(results: Mapping[str, Any]) -> bool:
    """True when every figure of every benchmark met its target."""
    return all(c["ok"] for r in results.values() for c in r.get("checks", []))


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
