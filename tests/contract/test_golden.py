"""Golden seeded trajectories: a refactor that changes any strategy's numbers fails loudly.

Every registered strategy (default options) and a set of variants that cover each estimator,
difference, update rule, schedule and space runs a few ``ask``/``tell`` steps from a fixed key
on a small, anisotropic, non-symmetric objective; the per-step query fingerprints, the final
``recommend`` point and ``f_best`` are compared with the values recorded in ``golden.json`` at a
relative tolerance of 1e-12 (nevergrad's ``recorded_recommendations.csv`` idea). MeZO's torch
mode gets the same check on a tiny linear model.

A change that is *meant* to change numbers (a bug fix) re-records the file and says why in the
commit::

    .venv/bin/python tests/contract/test_golden.py --regen

A newly registered strategy fails here until its default trajectory is recorded the same way.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

if __name__ == "__main__":  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from blackbox import STRATEGIES, Ball, Box, Key, Simplex  # noqa: E402
from blackbox.query import Ranking, Values  # noqa: E402

GOLDEN = Path(__file__).with_name("golden.json")
DIM, STEPS, SEED = 6, 6, 20261201
RTOL = 1e-12
# MeZO's numbers are torch float32: another CPU's matmul kernels round the losses differently
# (~1e-7), and the projected gradient (L+ - L-) / (2 eps) with eps = 1e-3 magnifies that about
# 500x, then 4 steps compound it (2.4e-4 measured between two Xeon machines). A change of the
# algorithm moves these numbers by O(1), far above this.
TORCH_RTOL = 2e-3
W = np.arange(1.0, DIM + 1.0)  # coordinate weights of the objective and of the fingerprints

# name -> (registered strategy, options, space); every registered name also runs with defaults
VARIANTS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "zo_sgd/sgd-gaussian-central": ("zo_sgd", dict(update="sgd", lr=0.02), None),
    "zo_sgd/sgd-sphere-forward": ("zo_sgd", dict(update="sgd", lr=0.02, estimator="sphere",
                                                 difference="forward", q=3), None),
    "zo_sgd/sgd-coordinate-central": ("zo_sgd", dict(update="sgd", lr=0.02,
                                                     estimator="coordinate"), None),
    "zo_sgd/sgd-coordinate-forward-mask": ("zo_sgd", dict(update="sgd", lr=0.02,
                                                          estimator="coordinate",
                                                          difference="forward",
                                                          coord_mask=(0, 2, 5)), None),
    "zo_sgd/momentum-inv_sqrt": ("zo_sgd", dict(update="momentum", lr=0.02,
                                                schedule="inv_sqrt"), None),
    "zo_sgd/sign-cosine": ("zo_sgd", dict(update="sign", lr=0.05, schedule="cosine",
                                          schedule_steps=10), None),
    "zo_sgd/conservative": ("zo_sgd", dict(update="conservative", lr=0.05), None),
    "zo_sgd/adam-box": ("zo_sgd", dict(lr=0.1), "box"),
    "zo_fw/rdsa-ball2": ("zo_fw", dict(estimator="rdsa"), "ball2"),
    "zo_fw/irdsa-ball1": ("zo_fw", dict(estimator="irdsa"), "ball1"),
    "zo_fw/kwsa-simplex": ("zo_fw", dict(), "simplex"),
    "zscg/nonconvex-ball2": ("zscg", dict(mode="nonconvex", iterations=5, q_scale=0.5), "ball2"),
    "zscg/simplex": ("zscg", dict(), "simplex"),
    "fw_black/sphere-clip": ("fw_black", dict(estimator="sphere", clip=(-0.8, 1.2)), "ballinf"),
    "cbo/isotropic-minibatch-ess": ("cbo", dict(noise="isotropic", batch_size=7, alpha_schedule="ess",
                                                M=2), None),
    "cbo/heaviside-box": ("cbo", dict(correction="heaviside", M=2, N=8), "box"),
    "cbo/heaviside_reg-full": ("cbo", dict(correction="heaviside_reg", batch_size=5,
                                           partial=False), None),
    "zo_ranksgd/no-line-search": ("zo_ranksgd", dict(line_search=False, lr=0.1), None),
    "zo_ranksgd/no-accumulate": ("zo_ranksgd", dict(accumulate=False, adapt_lr=False), None),
    "nevergrad/box": ("nevergrad", dict(optimizer="CMA", num_workers=4), "box"),
    "random_search/box": ("random_search", dict(popsize=4), "box"),
}


def objective(points: np.ndarray) -> np.ndarray:
    """An anisotropic, shifted quartic-plus-quadratic ``(n, d) -> (n,)``."""
    y = points - 0.3
    return np.sum(W * y * y, axis=1) + 0.05 * np.sum(points**4, axis=1)


def make_space(kind: str | None) -> Any:
    return {
        None: None,
        "box": Box(-1.0, 1.5, dim=DIM),
        "ball2": Ball(np.zeros(DIM), 2.0, p=2),
        "ball1": Ball(np.zeros(DIM), 3.0, p=1),
        "ballinf": Ball(np.zeros(DIM), 1.0, p=np.inf),
        "simplex": Simplex(dim=DIM),
    }[kind]


def x0_for(space: Any) -> np.ndarray:
    if isinstance(space, Simplex):
        return np.full(DIM, 1.0 / DIM)
    return np.linspace(-0.5, 0.8, DIM)


def cases() -> dict[str, tuple[str, dict[str, Any], str | None]]:
    out: dict[str, tuple[str, dict[str, Any], str | None]] = {}
    for name in STRATEGIES.names():
        needs = getattr(STRATEGIES.get(name), "requires_space", False)
        out[name] = (name, {}, "box" if needs else None)
    out.update(VARIANTS)
    return out


def answer(query: Any) -> Any:
    vals = objective(query.points)
    if query.kind == "values":
        return Values(vals)
    order = [g[np.argsort(vals[g], kind="stable")[: query.top]] for g in query.groups]
    return Ranking(np.array(order, dtype=np.int64))


def fingerprint(a: np.ndarray) -> list[float]:
    """Three numbers that change with any entry, any order or any scale of ``a``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, DIM)
    rows = np.arange(1.0, a.shape[0] + 1.0)[:, None]
    return [float(a.sum()), float((a * W).sum()), float((a * a * rows).sum())]


def run_case(name: str, opts: dict[str, Any], space_kind: str | None) -> dict[str, Any]:
    space = make_space(space_kind)
    cls = STRATEGIES.get(name)
    strategy = cls(**opts, space=space) if space is not None else cls(**opts)
    state = strategy.init(x0_for(space), Key(SEED))
    steps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # third-party chatter is not the subject here
        for _ in range(STEPS):
            query, state = strategy.ask(state)
            state, _ = strategy.tell(state, query, answer(query))
            steps.append([query.n, *fingerprint(query.points)])
    return {"steps": steps, "x": [float(v) for v in strategy.recommend(state)],
            "f_best": float(state.f_best) if np.isfinite(state.f_best) else None}


def run_mezo() -> dict[str, Any]:
    """Four MeZO steps (n = 2 seeds) per update rule on a tiny linear least-squares model."""
    import torch

    from strategies.mezo import MeZO

    gen = Key(SEED).fold_in(99).torch()
    init = [torch.randn(3, 4, generator=gen), torch.randn(3, generator=gen)]
    batch = (torch.randn(16, 4, generator=gen), torch.randn(16, 3, generator=gen))

    def loss(m: Any, b: Any) -> Any:
        return ((m(b[0]) - b[1]) ** 2).mean()

    out: dict[str, Any] = {}
    configs = [("sgd", "central"), ("sgd", "forward"), ("momentum", "central"),
               ("adam", "central"), ("sign", "central"), ("conservative", "central")]
    for update, difference in configs:
        model = torch.nn.Linear(4, 3)
        with torch.no_grad():
            model.weight.copy_(init[0])
            model.bias.copy_(init[1])
        opt = MeZO(model, loss, lr=1e-2, q=2, difference=difference, update=update, seed=SEED)
        opt.fit([batch], 4, progress=False)
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()
        ramp = torch.arange(1.0, flat.numel() + 1.0, dtype=torch.float64)
        out[f"{update}-{difference}"] = {
            "pg": [g for r in opt.history for g in r.projected_grads],
            "theta": [float(flat.sum()), float((flat * flat).sum()), float((flat * ramp).sum())]}
    return out


def record_all() -> dict[str, Any]:
    data = {case: run_case(*spec) for case, spec in sorted(cases().items())}
    try:
        data["mezo"] = run_mezo()
    except ModuleNotFoundError:  # pragma: no cover - torch is a declared extra
        pass
    return data


def _close(got: Any, want: Any, where: str, rtol: float = RTOL) -> None:
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            _close(got[k], want[k], f"{where}.{k}", rtol)
    elif isinstance(want, list):
        assert len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g, w, f"{where}[{i}]", rtol)
    elif want is None or got is None:
        assert got is want, f"{where}: {got!r} != {want!r}"
    else:
        assert abs(got - want) <= rtol * max(1.0, abs(want)), (
            f"{where}: {got!r} != recorded {want!r} (a change of numbers; if it is a bug fix, "
            f"re-record with `python tests/contract/test_golden.py --regen` and say why)")


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} is missing; record it with `python {__file__} --regen`")
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("case", sorted(cases()))
def test_golden_trajectory(case: str, golden: dict[str, Any]) -> None:
    if case not in golden:
        pytest.fail(f"no golden trajectory recorded for {case!r}; record it with "
                    f"`.venv/bin/python tests/contract/test_golden.py --regen`")
    _close(run_case(*cases()[case]), golden[case], case)


def test_golden_mezo(golden: dict[str, Any]) -> None:
    pytest.importorskip("torch")
    _close(run_mezo(), golden["mezo"], "mezo", TORCH_RTOL)


if __name__ == "__main__":
    if sys.argv[1:] != ["--regen"]:
        sys.exit(f"usage: python {sys.argv[0]} --regen")
    GOLDEN.write_text(json.dumps(record_all(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
