"""One shared local Ray instance per test session (2 CPUs, no dashboard).

Helper oracles live in ``ray_helpers.py`` next to this file; its directory is put on the
``PYTHONPATH`` Ray workers inherit, so workers can import them by name.
"""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (HERE, os.environ.get("PYTHONPATH", "")) if p
)
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def ray_session():
    ray = pytest.importorskip("ray")
    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=150 * 1024**2,
                 log_to_driver=False)
        started = True
    yield ray
    if started:
        ray.shutdown()
