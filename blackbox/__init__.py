"""blackbox: zeroth-order (black-box) optimization against oracles you can only query.

Public names (``import blackbox`` needs only numpy and scipy; torch, ray, httpx, nevergrad and
the server packages are imported where they are used)::

    Key                                  randomness as a value
    Query, Values, Ranking               the one batched query interface
    ValueOracle, RankingOracle           oracle protocols; ValueRanker adapts values to rankings
    OracleSpec                           a picklable recipe that builds an oracle where it runs
    FunctionOracle                       a plain function f(x) -> float (or batched) as an oracle
    BaseStrategy, StrategyState          the strategy template; Optimizer, the ask/tell wrapper
    Box, Ball, Simplex                   feasible sets with project / lmo / contains
    Budget, Ledger, OracleStats          limits and per-oracle accounting
    minimize, Result, Trace, replay      the runner
    run_many, RunSpec                    many independent runs (local or on Ray)
    STRATEGIES, ORACLES                  registries
"""

from __future__ import annotations

from typing import Any

from blackbox.budget import Budget, Ledger, OracleStats
from blackbox.errors import BlackboxError, ConfigError, OracleError
from blackbox.keys import Key
from blackbox.optimizer import Optimizer
from blackbox.oracle import FunctionOracle, OracleSpec, RankingOracle, ValueOracle, ValueRanker
from blackbox.query import Query, Ranking, Values
from blackbox.registry import ORACLES, STRATEGIES, register_oracle, register_strategy
from blackbox.result import Result, Trace
from blackbox.spaces import Ball, Box, Simplex
from blackbox.strategy import BaseStrategy, StrategyState

__version__ = "0.1.0"

__all__ = [
    "Ball",
    "BaseStrategy",
    "BlackboxError",
    "Box",
    "Budget",
    "ConfigError",
    "FunctionOracle",
    "Key",
    "Ledger",
    "ORACLES",
    "Optimizer",
    "OracleError",
    "OracleSpec",
    "OracleStats",
    "Query",
    "Ranking",
    "RankingOracle",
    "Result",
    "RunSpec",
    "STRATEGIES",
    "Simplex",
    "StrategyState",
    "Trace",
    "ValueOracle",
    "ValueRanker",
    "Values",
    "minimize",
    "register_oracle",
    "register_strategy",
    "replay",
    "run_many",
]

_LAZY = {
    "minimize": "blackbox.runner",
    "replay": "blackbox.runner",
    "run_many": "blackbox.many",
    "RunSpec": "blackbox.many",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'blackbox' has no attribute {name!r}")
