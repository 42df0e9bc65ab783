"""Oracles: test functions, ranking adapters, human feedback, model APIs, torch models, simulators.

Importing this package registers the oracles that need nothing beyond numpy; the others
(``http``, ``serve``, ``torch_model``, ``simulators``, ``human``) are imported by name.
"""

from oracles import functions  # noqa: F401  (registers the test functions)
