"""Applications: the layer above the library.

``apps.cli`` (the ``blackbox`` command), ``apps.demo``, ``apps.bench`` (benchmarks against peers)
and the three uses built on ``oracles`` and ``strategies``. Nothing below imports from here.
"""
