"""Declarative options: one declaration per field gives the checks, the errors, the deprecated
old names, the configuration errors for unknown names and the ``blackbox strategies`` listing."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import sys
import warnings

import numpy as np
import pytest

import strategies
from blackbox import STRATEGIES, Box, minimize
from blackbox.errors import ConfigError
from blackbox.options import OneOf, Range, describe
from blackbox.strategy import resolve_strategy


def test_the_classes_are_exported_and_every_module_is_imported():
    from strategies import CBO, ZOSGD, ZSCG, FWBlack, Nevergrad, RandomSearch, ZOFrankWolfe, ZORankSGD

    assert ZOSGD.registry_name == "zo_sgd" and CBO.registry_name == "cbo"
    assert {c.registry_name for c in (ZSCG, FWBlack, Nevergrad, RandomSearch, ZOFrankWolfe,
                                      ZORankSGD)} <= set(STRATEGIES.names())
    for info in pkgutil.iter_modules(strategies.__path__):
        if not info.name.startswith(("_", "mezo")):
            assert f"strategies.{info.name}" in sys.modules, info.name


def test_mezo_is_exported_lazily():
    pytest.importorskip("torch")
    assert strategies.MeZO is importlib.import_module("strategies.mezo").MeZO


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_option_is_declared_with_a_description(name):
    cls = STRATEGIES.get(name)
    rows = describe(cls)
    assert rows, name
    for row in rows:
        if row["name"] != "space":
            assert row["doc"], f"{name}.{row['name']} has no description"


@pytest.mark.parametrize("cls_name,old,new,value", [
    ("ZOSGD", "eps", "adam_eps", 1e-6), ("ZOSGD", "b1", "adam_b1", 0.8),
    ("ZOFrankWolfe", "m", "q", 3), ("ZOFrankWolfe", "c_scale", "mu_scale", 0.5),
    ("ZSCG", "nu_scale", "mu_scale", 0.5), ("ZSCG", "m0", "q0", 2),
    ("FWBlack", "grad_est", "q", 3), ("FWBlack", "delta", "mu", 0.1),
    ("FWBlack", "sensing", "estimator", "sphere"), ("ZORankSGD", "beta", "ladder_ratio", 0.25),
    ("ZORankSGD", "adapt_eta", "adapt_lr", False), ("CBO", "schedule", "alpha_schedule", None),
    ("CBO", "eta", "ess_target", 0.3),
])
def test_old_names_are_deprecated_aliases(cls_name, old, new, value):
    cls = getattr(strategies, cls_name)
    with pytest.warns(DeprecationWarning, match=f"'{old}' is renamed '{new}'"):
        s = cls(**{old: value})
    assert getattr(s, new) == value
    with pytest.raises(ConfigError, match="not both"):
        cls(**{old: value, new: value})


def test_old_names_work_in_dict_specs_too():
    with pytest.warns(DeprecationWarning):
        s = resolve_strategy({"name": "fw_black", "grad_est": 4})
    assert s.q == 4


def test_new_names_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        strategies.FWBlack(q=3, mu=0.1, estimator="sphere")


@pytest.mark.parametrize("spec,message", [
    ({"name": "zo_sgd", "lrr": 0.1}, r"^unknown option 'lrr' for strategy 'zo_sgd'; did you mean 'lr'\?"),
    ({"name": "cbo", "swarm": 3}, r"^unknown option 'swarm' for strategy 'cbo' \(options: space, N, M,"),
])
def test_unknown_option_names_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError, match=message) as err:
        resolve_strategy(spec)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("cls_name,kw,message", [
    ("ZOSGD", {"mu": -1.0}, "ZOSGD.mu must be a finite number > 0, got -1.0"),
    ("ZOSGD", {"beta": 1.0}, r"ZOSGD.beta must be a number in \[0, 1\), got 1.0"),
    ("ZOSGD", {"difference": "backward"}, "ZOSGD.difference must be one of 'central', 'forward', got 'backward'"),
    ("ZOSGD", {"q": 2.0}, "ZOSGD.q must be an int >= 1, got 2.0"),
    ("ZOSGD", {"coord_mask": [-1]}, r"ZOSGD.coord_mask must be None or a non-empty list of ints >= 0"),
    ("ZORankSGD", {"line_search": "yes"}, "ZORankSGD.line_search must be True or False, got 'yes'"),
    ("FWBlack", {"clip": (1.0, 0.0)}, r"FWBlack.clip must be None or \(lo, hi\) with lo < hi"),
    ("RandomSearch", {"sigma": float("inf")}, "RandomSearch.sigma must be a finite number > 0, got inf"),
    ("CBO", {"alpha_schedule": "linear"}, "CBO.alpha_schedule must be one of None, 'geometric', 'ess'"),
])
def test_range_errors_name_the_field_the_range_and_the_value(cls_name, kw, message):
    with pytest.raises(ConfigError, match=f"^{message}") as err:
        getattr(strategies, cls_name)(**kw)
    assert "\n" not in str(err.value)


def test_errors_come_before_any_query():
    calls = []

    def f(x):
        calls.append(x)
        return float(np.sum(x**2))

    with pytest.raises(ConfigError, match="zo_sgd.*'mu'"):
        minimize(f, {"name": "zo_sgd", "mu_": 1.0}, np.ones(2), budget=10, progress=False)
    assert not calls


def test_range_and_oneof_checks():
    r = Range(0, 1, lo_open=True)
    assert r.ok(0.5) and r.ok(1) and not r.ok(0) and not r.ok(True) and not r.ok("1")
    assert Range(1, integer=True, optional=True).ok(None)
    assert not Range(1, integer=True).ok(1.0)
    assert OneOf((None, "a")).ok(None) and not OneOf(("a",)).ok(["a"])


def test_dataclass_replace_keeps_validation():
    s = strategies.ZOSGD()
    with pytest.raises(ConfigError, match="ZOSGD.lr"):
        dataclasses.replace(s, lr=-1.0)
    assert dataclasses.replace(s, space=Box(-1, 1, dim=2)).lr == s.lr


def test_blackbox_strategies_lists_options_defaults_ranges_and_papers(capsys):
    from apps.cli import main

    assert main(["strategies", "--json"]) == 0
    entries = {e["name"]: e for e in __import__("json").loads(capsys.readouterr().out)}
    assert set(entries) == set(STRATEGIES.names())
    zo = {o["name"]: o for o in entries["zo_sgd"]["options"]}
    assert zo["mu"]["default"] == 1e-3 and zo["mu"]["allowed"] == "a finite number > 0"
    assert zo["adam_eps"]["old_name"] == "eps" and "arXiv 2305.17333" in entries["zo_sgd"]["paper"]
    assert main(["strategies", "cbo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cbo (CBO): ") and "alpha_schedule" in out and "paper: " in out


def test_blackbox_run_refuses_an_unknown_option_in_one_line(capsys):
    from apps.cli import main

    rc = main(["run", "--oracle", "sphere", "--dim", "3", "--strategy", "zo_sgd",
               "--budget", "10", "--opt", "lrr=0.1"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown option 'lrr' for strategy 'zo_sgd'; did you mean 'lr'?" in err
    assert err.count("\n") == 1
