"""``blackbox demo``: two real optimizations on embedded problems, no server, no cluster.

1. CBO (anisotropic noise, CBXpy's R3.1 settings) on the 20-d Rastrigin function from
   ``U(-3, 3)^20``: global optimization of a function with about 10^20 local minima.
2. ZO-SGD (central Gaussian differences, Adam) on a 50-d quadratic of condition number 100.
3. A real use: an adversarial campaign (ZO-signSGD, L-inf eps 0.2) against a digits CNN that the
   demo trains in seconds (cached afterwards), with its table and an image grid
   (``apps.attacks.demo``).

Each run shows a progress bar, is journaled under ``OUT/<name>``, and the demo ends with a summary
table, ``OUT/convergence.png`` and ``OUT/attack/grid.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from blackbox.budget import Budget
from blackbox.runner import minimize
from oracles.functions import Quadratic, Rastrigin

__all__ = ["DEMOS", "run_demo"]


def DEMOS(quick: bool = False) -> list[dict[str, Any]]:
    return [
        dict(
            name="cbo-rastrigin-20d",
            oracle=Rastrigin(dim=20),
            strategy={"name": "cbo", "N": 40, "noise": "anisotropic", "sigma": 10.1,
                      "lamda": 1.0, "alpha": 30.0, "dt": 0.01, "init_bounds": (-3.0, 3.0)},
            x0=np.full(20, 2.5),  # unused by CBO: particles start uniform in init_bounds
            space=None,
            budget=Budget(max_queries=40 * (1000 if quick else 5000)),
        ),
        dict(
            name="zo_sgd-quadratic-50d",
            oracle=Quadratic(dim=50, cond=100.0),
            strategy={"name": "zo_sgd", "update": "adam", "lr": 0.05, "q": 4},
            x0=np.ones(50),
            space=None,
            budget=Budget(max_queries=4000 if quick else 20_000),
        ),
    ]


def run_demo(out: str | Path = "runs/demo", quick: bool = False) -> int:
    from blackbox.plot import convergence_from_journal, plot_convergence

    out = Path(out)
    rows, curves = [], []
    for demo in DEMOS(quick):
        jdir = out / demo["name"]
        if (jdir / "journal.jsonl").exists():
            (jdir / "journal.jsonl").unlink()  # the demo always starts afresh
        print(f"\n{demo['name']}: {demo['strategy']['name']} on {demo['oracle'].name}, "
              f"dim {demo['oracle'].dim}, budget {demo['budget'].max_queries} points")
        res = minimize(demo["oracle"], demo["strategy"], demo["x0"], space=demo["space"],
                       budget=demo["budget"], seed=0, journal=str(jdir), progress=True)
        print(res.summary())
        x, y = convergence_from_journal(jdir)[:2]
        f0 = float(y[0]) if len(y) else float("nan")
        curves.append((demo["name"], x, y))
        rows.append((demo["name"], res.nfev, f0, res.f_best, res.fun, res.seconds))
    png = plot_convergence(curves, out / "convergence.png", title="blackbox demo")
    print("\n" + _table(rows))
    print(f"\nconvergence plot: {png}\njournals: {out}/<run>/journal.jsonl "
          f"(re-run `blackbox resume` on a `blackbox run` journal to continue it)")
    from apps.attacks.demo import demo_campaign

    demo_campaign(out / "attack", quick=True)  # a few images: seconds on 2 cores
    return 0


def _table(rows: list[tuple[Any, ...]]) -> str:
    head = ("run", "points", "first value", "best observed", "f(recommendation)", "seconds")
    cells = [head] + [(r[0], str(r[1]), f"{r[2]:.4g}", f"{r[3]:.4g}", f"{r[4]:.4g}", f"{r[5]:.1f}")
                      for r in rows]
    w = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c[i].ljust(w[i]) for i in range(len(head))) for c in cells]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)
