"""Joining or starting Ray, shared by the Ray evaluator and ``run_many``.

``ensure_ray`` reuses a Ray already initialized in the process, joins ``address`` or
``RAY_ADDRESS``, or starts a local instance (no dashboard); ``release_ray`` undoes one call and
shuts Ray down only when this module started (or joined) it and its last user is done. A cluster
that was running before is never shut down.
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["ensure_ray", "release_ray"]

_lock = threading.Lock()
_started_by_us = False
_users = 0


def ensure_ray(address: str | None = None, **init_kwargs: Any) -> None:
    """Connect to Ray: reuse an initialized one, join ``address``/``RAY_ADDRESS``, or start one.

    Every call must be paired with :func:`release_ray`; a Ray this module started (or joined) is
    shut down (or disconnected) when the last user releases it, one it found running never is.
    """
    global _started_by_us, _users
    import ray

    with _lock:
        if not ray.is_initialized():
            addr = address or os.environ.get("RAY_ADDRESS") or None
            if addr:  # a cluster's resources are its own: drop local start-up sizes
                for k in ("num_cpus", "num_gpus", "resources", "object_store_memory"):
                    init_kwargs.pop(k, None)
                ray.init(address=addr, **init_kwargs)
            else:
                init_kwargs.setdefault("include_dashboard", False)
                ray.init(address="local", **init_kwargs)
            _started_by_us = True
            _users = 0
        if _started_by_us:
            _users += 1


def release_ray() -> None:
    """Undo one :func:`ensure_ray`; shuts down only a Ray this module started or joined."""
    global _started_by_us, _users
    import ray

    with _lock:
        if not _started_by_us:
            return
        _users -= 1
        if _users <= 0:
            _started_by_us = False
            _users = 0
            if ray.is_initialized():
                ray.shutdown()
