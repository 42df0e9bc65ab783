"""Black-box adversarial attack on a small digits classifier (runs offline in seconds).

The model (an MLP trained on scikit-learn's bundled 8x8 digits) is only *queried*: the attack
sees margin-loss values (score-based) for perturbations ``delta`` in an L-inf box of radius
``eps``, and the ledger counts every query. Use ``--backend ray --workers 2`` to evaluate the
batches on Ray actors (each builds its own copy of the model from the OracleSpec).

    python examples/attack.py --index 0 --eps 0.3 --budget 4000 [--strategy zo_sgd]
"""

from __future__ import annotations

import argparse

import numpy as np

from blackbox.oracle import OracleSpec
from blackbox.registry import STRATEGIES
from blackbox.runner import minimize
from blackbox.spaces import Box


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=int, default=0, help="which digits image to attack")
    p.add_argument("--eps", type=float, default=0.3, help="L-inf radius of the perturbation")
    p.add_argument("--budget", type=int, default=4000, help="model queries")
    p.add_argument("--strategy", default=None, help="default: zo_sgd if registered")
    p.add_argument("--backend", default="local", choices=["local", "ray"])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from sklearn.datasets import load_digits

    from oracles.torch_model import attack_objective, digits_classifier

    d = load_digits()
    x0, label = d.data[args.index] / 16.0, int(d.target[args.index])
    objective = attack_objective(label, "margin", x_orig=x0, clip=(0.0, 1.0), kappa=np.inf)
    spec = OracleSpec("oracles.torch_model:TorchModelOracle", {
        "model_factory": digits_classifier, "objective": objective, "dim": 64})
    strategy = args.strategy or ("zo_sgd" if "zo_sgd" in STRATEGIES else "random_search")
    res = minimize(spec, strategy, np.zeros(64), seed=args.seed, budget=args.budget,
                   space=Box(-args.eps, args.eps, dim=64), backend=args.backend,
                   workers=args.workers if args.backend == "ray" else 1)
    clean = spec.build().values(np.zeros((1, 64)), key=res.trace.seed)[0]
    print(f"image {args.index} (label {label}), eps {args.eps}, strategy {strategy}")
    print(f"margin z_y - max_other: clean {clean:.3f} -> attacked {res.fun:.3f} "
          f"({'misclassified' if res.fun < 0 else 'still correct'})")
    print(res.ledger.summary())


if __name__ == "__main__":
    main()
