"""CBO: ours versus CBXpy (``cbx``) on the same settings, in one run.

* speed: seconds per iteration at N = 1000 particles, d = 20 (Rastrigin), ours through
  :func:`blackbox.minimize` (the real path: queries, ledger, bookkeeping) and CBXpy's ``step``;
* quality: success rate on R3.1 (ALGORITHMS §3.7: Rastrigin d = 20, N = 40, M = 100 runs,
  anisotropic, sigma = 10.1, alpha = 30 x1.05 per step, dt = 0.01, 5000 steps, U(-3, 3) start,
  success = ||best - 0||_inf < 0.25).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from blackbox.budget import Budget
from blackbox.keys import Key
from blackbox.query import Values
from blackbox.runner import minimize
from oracles.functions import Rastrigin
from strategies.cbo import CBO

__all__ = ["run"]

#: speed per iteration no worse than CBXpy's; R3.1 (20-d Rastrigin) success as in ALGORITHMS R3.1
TARGETS = {"speed.ratio": ("<=", 1.0), "R3_1.ours_success": (">=", 0.9)}

SETTINGS = dict(noise="anisotropic", sigma=10.1, lamda=1.0, alpha=30.0, dt=0.01)


def _ours_speed(N: int, d: int, iters: int) -> float:
    f = Rastrigin(dim=d)
    s = CBO(N=N, init_bounds=(-3.0, 3.0), **SETTINGS)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    minimize(f, s, np.zeros(d), budget=Budget(max_steps=iters), progress=False, keep_trace=False)
    return (time.perf_counter() - t0) / iters


def _cbx_dyn(N: int, M: int, d: int, iters: int, seed: int) -> Any:
    from cbx.dynamics import CBO as CBXCBO

    f = Rastrigin(dim=d)
    x0 = Key(seed).fold_in(7).numpy().uniform(-3, 3, size=(M, N, d))
    return CBXCBO(lambda x: f.values(x.reshape(-1, d)).reshape(x.shape[:-1]), f_dim="3D", x=x0,
                  M=M, N=N, d=d, max_it=iters, verbosity=0, seed=seed, **{**SETTINGS, "lamda": 1.0})


def _cbx_speed(N: int, d: int, iters: int) -> float:
    dyn = _cbx_dyn(N, 1, d, iters, 0)
    t0 = time.perf_counter()
    for _ in range(iters):
        dyn.step()
        dyn.alpha = np.minimum(dyn.alpha * 1.05, 1e5)
    return (time.perf_counter() - t0) / iters


def _success(best: np.ndarray) -> float:
    return float(np.mean(np.max(np.abs(best), axis=-1) < 0.25))


def run(quick: bool = False) -> dict[str, Any]:
    N, d, iters = 1000, 20, (20 if quick else 200)
    ours_s = min(_ours_speed(N, d, iters) for _ in range(1 if quick else 3))
    cbx_s = min(_cbx_speed(N, d, iters) for _ in range(1 if quick else 3))
    print(f"   N={N} d={d}: ours {1e3 * ours_s:.2f} ms/iter, CBXpy {1e3 * cbx_s:.2f} ms/iter, "
          f"ratio {ours_s / cbx_s:.2f}", flush=True)
    M, steps = (10, 500) if quick else (100, 5000)
    f = Rastrigin(dim=d)
    s = CBO(N=40, M=M, init_bounds=(-3.0, 3.0), **SETTINGS)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    state = s.init(np.zeros(d), Key(1))
    for _ in range(steps):
        q, state = s.ask(state)
        state, _ = s.tell(state, q, Values(f.values(q.points)))
    ours_t = time.perf_counter() - t0
    ours_rate = _success(state.best_x)
    t0 = time.perf_counter()
    dyn = _cbx_dyn(40, M, d, steps, 1)
    dyn.optimize()
    cbx_t = time.perf_counter() - t0
    cbx_rate = _success(np.asarray(dyn.best_particle))
    print(f"   R3.1 (M={M}, {steps} steps): success ours {ours_rate:.2f} ({ours_t:.1f}s), "
          f"CBXpy {cbx_rate:.2f} ({cbx_t:.1f}s)", flush=True)
    return {
        "speed": {"N": N, "d": d, "iterations": iters, "ours_s_per_iter": ours_s,
                  "cbx_s_per_iter": cbx_s, "ratio": ours_s / cbx_s, "target": "ratio <= 1.0"},
        "R3_1": {"M": M, "steps": steps, "ours_success": ours_rate, "cbx_success": cbx_rate,
                 "ours_seconds": ours_t, "cbx_seconds": cbx_t, "target": "ours >= CBXpy"},
    }
