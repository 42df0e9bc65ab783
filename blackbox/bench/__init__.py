"""Benchmarks (``blackbox bench GROUP``): each module has ``run(quick=False) -> dict``.

Results are written as JSON, one file per module, under ``--out`` (default ``bench-results/``).
Speed and memory are measured here, never in unit tests.
"""

from __future__ import annotations

import importlib
import json
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["GROUPS", "run_group"]

GROUPS = {
    "strategies": ["overhead", "cbo_vs_cbx", "baselines"],
    "parallel": ["parallel"],
    "http": ["http"],
    "mezo": ["mezo"],
}


def run_group(group: str, out: str | Path = "bench-results", quick: bool = False) -> dict[str, Any]:
    names = [n for g in GROUPS.values() for n in g] if group == "all" else GROUPS[group]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name in names:
        mod = importlib.import_module(f"blackbox.bench.{name}")
        print(f"== bench {name}{' (quick)' if quick else ''}", flush=True)
        t0 = time.perf_counter()
        res = mod.run(quick=quick)
        res = {"benchmark": name, "quick": quick, "seconds": time.perf_counter() - t0,
               "machine": {"python": platform.python_version(), "cpus": _cpus()}, **res}
        path = out / f"{name}.json"
        path.write_text(json.dumps(res, indent=2, default=float))
        print(f"   -> {path}", flush=True)
        results[name] = res
    return results


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
