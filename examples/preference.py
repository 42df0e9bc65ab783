"""Preference-driven optimization: ZO-RankSGD from rankings only (ALGORITHMS.md §5.3).

A "person" ranks candidate latents by a hidden utility they cannot state as a number
(``-||x - x*||^2`` on a 100-d latent) and sometimes swaps near ties. The strategy only ever sees
orderings of the shown candidates (top-k of m in gradient rounds, the best in line-search rounds).

Run: ``python examples/preference.py`` (10,000 ranked candidates; ``--full`` for 50,000).
"""

from __future__ import annotations

import argparse

import numpy as np

from blackbox import Budget, Key, minimize
from oracles.ranking import RankingOnly, ranker


class HiddenUtility:
    """What the person likes: latents close to a target they could not write down."""

    sense = "max"
    name = "utility"

    def __init__(self, dim: int, seed: int = 0) -> None:
        self.dim = dim
        self.target = Key(seed).fold_in(99).numpy().standard_normal(dim)

    def values(self, points, *, key=None):
        return -np.sum((np.asarray(points) - self.target) ** 2, axis=1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--budget", type=int, default=10_000)
    p.add_argument("--full", action="store_true", help="a 50,000-candidate run")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    budget = 50_000 if a.full else a.budget
    utility = HiddenUtility(a.dim, a.seed)
    person = RankingOnly(ranker(utility, "ties", threshold=0.05, flip_prob=0.5, relative=True))
    x0 = np.zeros(a.dim)
    res = minimize(person, {"name": "zo_ranksgd", "m": 10, "k": 5}, x0, seed=a.seed,
                   budget=Budget(max_queries=budget), progress=True)
    u0 = float(utility.values(x0[None])[0])
    u1 = float(utility.values(res.x[None])[0])
    print(f"candidates ranked: {res.nfev} in {res.nit} rounds")
    print(f"regret before {-u0:.3f}, after {-u1:.4f} ({100 * u1 / u0:.2f}% of the initial regret)")
    return 0 if u1 > u0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
