"""Registries refuse duplicates and list known names in errors."""

from __future__ import annotations

import pytest

from blackbox import ORACLES, STRATEGIES
from blackbox.errors import RegistryError, UnknownNameError
from blackbox.registry import Registry


def test_duplicates_are_refused():
    r = Registry("thing")
    r.register("a", int)
    with pytest.raises(RegistryError, match="thing name 'a' is already registered"):
        r.register("a", float)
    with pytest.raises(RegistryError, match="already registered"):
        STRATEGIES.register("cbo", object)
    with pytest.raises(UnknownNameError, match="unknown thing 'b'; known thing names: a"):
        r.get("b")


def test_registries_fill_themselves():
    assert {"zo_sgd", "cbo", "zo_ranksgd", "random_search"} <= set(STRATEGIES)
    assert {"sphere", "rastrigin", "ackley", "rosenbrock", "quadratic"} <= set(ORACLES)
    assert STRATEGIES.get("cbo").registry_name == "cbo"
