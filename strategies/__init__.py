"""Strategies, one algorithm per module, registered by short name on import.

Optional back-ends (nevergrad, torch) are imported lazily inside the modules that need them.
``strategies.mezo`` (MeZO, the torch mode that fine-tunes a module in place) is not an ask/tell
strategy and is imported on its own: ``from strategies.mezo import MeZO``.
"""

import importlib

for _name in ("random_search", "zo_sgd", "zo_ranksgd", "cbo", "zo_frank_wolfe", "fw_black", "zscg", "nevergrad"):
    try:
        importlib.import_module(f"strategies.{_name}")
    except ModuleNotFoundError as _exc:  # a module not written yet; never a missing dependency
        if _exc.name != f"strategies.{_name}":
            raise
