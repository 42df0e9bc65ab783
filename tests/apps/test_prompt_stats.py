"""Held-out accuracy's uncertainty: Wilson intervals and the exact McNemar test, checked against
their formulas and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from apps.prompt.stats import mcnemar_exact, paired_tests, wilson


@pytest.mark.parametrize("k,n", [(0, 10), (10, 10), (155, 200), (1, 3), (97, 200)])
def test_wilson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


@pytest.mark.parametrize("b,c", [(10, 2), (2, 10), (5, 5), (0, 7), (30, 12), (1, 0)])
def test_mcnemar_exact_is_the_two_sided_binomial_test_on_discordant_pairs(b, c):
    assert mcnemar_exact(b, c) == pytest.approx(binomtest(min(b, c), b + c, 0.5).pvalue,
                                                rel=1e-12)


def test_mcnemar_exact_values_and_edges():
    assert mcnemar_exact(10, 2) == 2 * (1 + 12 + 66) / 4096
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(3, 3) == 1.0
    assert math.isnan(wilson(0, 0)[0])


def test_paired_tests_count_discordant_examples():
    a = np.array([1, 1, 1, 0, 0, 1], bool)
    b = np.array([1, 0, 0, 1, 0, 1], bool)
    out = paired_tests({"a": a, "b": b}, "a")
    assert out["vs"] == {"b": {"wins": 2, "losses": 1, "p_mcnemar": 1.0}}
    assert out["accuracy_ci95"]["a"] == list(wilson(4, 6))
