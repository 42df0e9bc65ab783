"""How sure a held-out accuracy is: Wilson intervals and exact McNemar tests on paired answers.

Two prompts scored on the same test examples differ only where one is right and the other wrong;
McNemar's exact test asks whether those discordant examples split more unevenly than a fair coin
would (McNemar, Psychometrika 1947; the exact binomial form, Fagerland et al., BMC Medical
Research Methodology 2013). The Wilson score interval (Wilson, JASA 1927) bounds one accuracy.

Examples:
    >>> lo, hi = wilson(155, 200)
    >>> round(lo, 3), round(hi, 3)
    (0.712, 0.827)
    >>> mcnemar_exact(10, 2)
    0.03857421875
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

__all__ = ["wilson", "mcnemar_exact", "paired_tests"]


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (95% by default)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: ``b`` examples only the first got right, ``c`` only the
    second; ``2 * P(Binomial(b + c, 1/2) <= min(b, c))``, capped at 1 (1 when ``b = c = 0``)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def paired_tests(correct: Mapping[str, NDArray[np.bool_]], first: str) -> dict[str, object]:
    """Wilson intervals for every method and, for each other method, ``first`` against it on
    the same examples: wins (only ``first`` right), losses (only the other right), exact p."""
    ci = {name: list(wilson(int(v.sum()), int(v.size))) for name, v in correct.items()}
    mine = correct[first]
    vs = {}
    for name, other in correct.items():
        if name == first:
            continue
        b = int(np.count_nonzero(mine & ~other))
        c = int(np.count_nonzero(other & ~mine))
        vs[name] = {"wins": b, "losses": c, "p_mcnemar": mcnemar_exact(b, c)}
    return {"accuracy_ci95": ci, "vs": vs,
            "note": f"{first} against each method on the same test examples: wins (only "
                    f"{first} right), losses (only the other right), exact two-sided McNemar "
                    "p-value; Wilson 95% intervals per method"}
