"""Run run_many on a simulated two-node Ray cluster (own Ray instance; run as a subprocess).

Prints one JSON line: the node ids each run's oracle was built on and the runs' results.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH", "")) if p)
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def main() -> None:
    import numpy as np
    import ray
    from ray.cluster_utils import Cluster

    from blackbox.many import RunSpec, run_many
    from blackbox.oracle import OracleSpec

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * 1024**2, "include_dashboard": False})
    cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)  # the driver joins first: run_many must not shut it down
    try:
        spec = OracleSpec("ray_helpers:NodeSphere", {"dim": 3, "delay": 0.02})
        runs = [RunSpec(spec, "random_search", np.ones(3), seed=s, budget=300, run_id=f"r{s}")
                for s in range(4)]
        out = {}
        for res in run_many(runs, backend="ray", resources_per_run={"num_cpus": 1}):
            (name,) = res.ledger.oracles
            out[res.run_id] = {"node": name.split("@", 1)[1], "x": res.x.tolist(),
                               "fun": res.fun, "nfev": res.nfev}
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        print(json.dumps({"runs": out, "nodes": nodes, "ray_up": ray.is_initialized()}))
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
