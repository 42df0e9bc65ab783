"""Run configurations (TOML files or CLI flags) -> :func:`blackbox.minimize` arguments.

A config file::

    seed = 0
    journal = "runs/rastrigin"        # optional
    x0 = 1.0                          # one number for every coordinate, or a list of dim numbers;
                                      # optional with a bounded space
    backend = "local"                 # or "ray" (with workers = N)

    [oracle]
    name = "rastrigin"                # a registered oracle, or target = "package.module:Name"
    dim = 20                          # every other key is passed to the oracle

    [strategy]
    name = "cbo"                      # every other key is a strategy option

    [budget]
    max_queries = 100000              # any Budget field

    [space]
    type = "box"                      # box (lower, upper), ball (center, radius, p), simplex
    lower = -3.0
    upper = 3.0
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from blackbox.budget import Budget
from blackbox.errors import ConfigError
from blackbox.oracle import OracleSpec
from blackbox.spaces import Ball, Box, Simplex

__all__ = ["build_run", "load_config", "parse_value"]

_TOP = {"seed", "journal", "x0", "backend", "workers", "oracle", "strategy", "budget", "space",
        "progress", "address"}


def load_config(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file {p} does not exist")
    try:
        if p.suffix == ".json":
            return dict(json.loads(p.read_text()))
        return tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"config file {p} is not valid: {exc}") from None


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"[1,2]"`` -> [1, 2], else the string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _space(cfg: dict[str, Any] | None, dim: int) -> Any:
    if not cfg:
        return None
    cfg = dict(cfg)
    kind = str(cfg.pop("type", "box")).lower()
    try:
        if kind == "box":
            return Box(cfg["lower"], cfg["upper"], dim=dim)
        if kind == "ball":
            p = cfg.get("p", "inf")
            p = math.inf if str(p).lower() == "inf" else float(p)
            center = cfg.get("center", 0.0)
            center = np.full(dim, float(center)) if np.ndim(center) == 0 else center
            return Ball(center, float(cfg["radius"]), p=p)
        if kind == "simplex":
            return Simplex(dim)
    except KeyError as exc:
        raise ConfigError(f"[space] of type {kind!r} needs the field {exc.args[0]!r}") from None
    raise ConfigError(f"[space].type must be 'box', 'ball' or 'simplex', got {kind!r}")


def _x0(x0: Any, dim: int) -> Any:
    if x0 is None:
        return None
    try:
        x = np.asarray(x0, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"x0 must be a number or a list of {dim} numbers, got {x0!r}") from None
    return np.full(dim, float(x)) if x.ndim == 0 else x


def build_run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Validate a config dict and return keyword arguments for :func:`blackbox.minimize`."""
    unknown = set(cfg) - _TOP
    if unknown:
        raise ConfigError(f"unknown config fields {sorted(unknown)}; known: {sorted(_TOP)}")
    ocfg = dict(cfg.get("oracle") or {})
    target = ocfg.pop("target", None) or ocfg.pop("name", None)
    if not target:
        raise ConfigError("[oracle] needs 'name' (a registered oracle) or 'target' ('module:Name')")
    if "dim" not in ocfg:
        raise ConfigError("[oracle] needs 'dim' (the problem dimension)")
    dim = int(ocfg["dim"])
    scfg = dict(cfg.get("strategy") or {})
    if "name" not in scfg:
        raise ConfigError("[strategy] needs 'name' (e.g. 'cbo', 'zo_sgd')")
    bcfg = cfg.get("budget")
    if not bcfg:
        raise ConfigError("[budget] is required, e.g. max_queries = 10000")
    seed = cfg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}")
    return {
        "oracle": OracleSpec(target, ocfg),
        "strategy": scfg,
        "x0": _x0(cfg.get("x0"), dim),
        "seed": seed,
        "budget": Budget.coerce(dict(bcfg)),
        "space": _space(cfg.get("space"), dim),
        "journal": cfg.get("journal"),
        "backend": cfg.get("backend", "local"),
        "workers": int(cfg.get("workers", 1)),
        "address": cfg.get("address"),
    }
