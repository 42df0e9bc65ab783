"""Strategies, one algorithm per module, registered by short name on import.

Every module of this package is imported here (``pkgutil``), so a new strategy file registers
itself without an edit to this file; helper modules (the estimator kit, the Frank-Wolfe
helpers, the update transforms) register nothing. Optional back-ends (nevergrad) are imported
lazily inside the modules that need them. MeZO (the torch mode that fine-tunes a module in
place; ``mezo*`` modules) is not an ask/tell strategy and imports torch, so it is loaded on first
use: ``from strategies import MeZO`` works, ``import strategies`` stays free of torch.

Examples:
    >>> from strategies import ZOSGD, ZORankSGD, CBO, ZOFrankWolfe, ZSCG, FWBlack, Nevergrad
    >>> ZOSGD(lr=0.1).lr
    0.1
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from strategies.cbo import CBO
from strategies.fw_black import FWBlack
from strategies.nevergrad import Nevergrad
from strategies.random_search import RandomSearch
from strategies.zo_rank_surrogate import RankSurrogate
from strategies.zo_frank_wolfe import ZOFrankWolfe
from strategies.zo_ranksgd import ZORankSGD
from strategies.zo_sgd import ZOSGD
from strategies.zscg import ZSCG

__all__ = ["CBO", "FWBlack", "MeZO", "Nevergrad", "RandomSearch", "RankSurrogate", "ZOFrankWolfe",
           "ZORankSGD", "ZOSGD", "ZSCG"]

_LAZY = {"MeZO": "strategies.mezo"}  # torch: imported on first use


def _import_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith(("_", "mezo")):
            importlib.import_module(f"{__name__}.{info.name}")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_import_all()
