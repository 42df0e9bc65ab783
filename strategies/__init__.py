"""Strategies, one algorithm per module, registered by short name on import.

Optional back-ends (nevergrad, torch) are imported lazily inside the modules that need them.
"""

import importlib

for _name in ("random_search", "zo_sgd", "zo_ranksgd", "cbo", "zo_frank_wolfe", "fw_black", "nevergrad"):
    try:
        importlib.import_module(f"strategies.{_name}")
    except ModuleNotFoundError as _exc:  # a module not written yet; never a missing dependency
        if _exc.name != f"strategies.{_name}":
            raise
