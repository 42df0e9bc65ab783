"""Preference-driven optimization: ZO-RankSGD from rankings only (ALGORITHMS.md §5.3).

A simulated person (:class:`oracles.raters.SimulatedRater`: Bradley-Terry noise, a slight bias
towards the first candidate shown, an occasional careless answer) ranks candidate latents by a
hidden utility they could not state as a number (``-||x - x*||^2`` on a 100-d latent in
``[-1, 1]^100``). The strategy only ever sees orderings of the shown candidates (top 5 of 10 in
gradient rounds, the best of 6 in line-search rounds).

For a real person in a browser, run ``blackbox prefer --demo svg`` (see the README); the same
strategy then proposes pictures, and ``oracles.human.HumanRanker`` replaces the simulated rater.

Run: ``python examples/preference.py`` (10,000 ranked candidates; ``--full`` for 50,000).
"""

from __future__ import annotations

import argparse

import numpy as np

from blackbox import Budget, minimize
from blackbox.spaces import Box
from oracles.raters import SimulatedRater, TargetUtility


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--budget", type=int, default=10_000, help="candidates ranked in all")
    p.add_argument("--full", action="store_true", help="a 50,000-candidate run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=0.05, help="the rater's noise")
    a = p.parse_args(argv)
    budget = 50_000 if a.full else a.budget
    utility = TargetUtility(a.dim, a.seed)
    person = SimulatedRater(utility, temperature=a.temperature, position_bias=0.02,
                            inconsistency=0.02)
    x0 = np.zeros(a.dim)
    strategy = {"name": "zo_ranksgd", "m": 10, "k": 5, "mu": 0.2, "adapt_lr": False}
    res = minimize(person, strategy, x0, seed=a.seed, budget=Budget(max_queries=budget),
                   space=Box(-1.0, 1.0, a.dim), progress=True)
    r0, r1 = utility.regret(x0), utility.regret(res.x)
    print(f"candidates ranked: {res.nfev} in {person.answers} answers "
          f"({person.comparisons} pairwise comparisons implied)")
    print(f"regret before {r0:.3f}, after {r1:.4f} ({100 * r1 / r0:.2f}% of the initial regret)")
    return 0 if r1 < r0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
