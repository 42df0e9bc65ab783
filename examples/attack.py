"""Black-box adversarial attacks on the digits CNN: score-based and hard-label, in a few seconds.

The CNN (trained once on scikit-learn's bundled 8x8 digits, then cached) is only *queried*.
A score-based attack (ZO-signSGD on the C&W margin, L-inf eps) and a hard-label attack
(HopSkipJump-style, L2, labels only) each attack the first ``--n`` correctly classified test
images; every query is counted, and each run stops at its first successful query. Use
``--backend ray`` to attack the images in parallel on Ray.

    python examples/attack.py --n 5 --eps 0.2 --queries 2000 [--strategy zo_signsgd]
"""

from __future__ import annotations

import argparse


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5, help="images to attack")
    p.add_argument("--eps", type=float, default=0.2, help="L-inf radius (score-based)")
    p.add_argument("--l2", type=float, default=1.0, help="L2 radius (hard-label)")
    p.add_argument("--queries", "--budget", type=int, default=2000, help="per-image query cap")
    p.add_argument("--strategy", default="zo_signsgd")
    p.add_argument("--backend", default="local", choices=["local", "ray"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from apps.attacks import LabelOnly, ThreatModel, TorchClassifier, run_campaign, select_correct
    from apps.attacks.report import format_table, summarize
    from oracles.digits import digits_cnn, digits_data

    clf = TorchClassifier(digits_cnn)
    x, y = digits_data("test")
    idx, xs, ys = select_correct(clf, x, y, args.n)
    score = run_campaign(clf, xs, ys, ThreatModel("linf", args.eps), strategy=args.strategy,
                         queries=args.queries, seed=args.seed, backend=args.backend,
                         indices=list(idx))
    label = run_campaign(LabelOnly(clf), xs, ys, ThreatModel("l2", args.l2), strategy="hsja",
                         queries=args.queries, seed=args.seed, backend=args.backend,
                         indices=list(idx))
    print(format_table([(f"{args.strategy} (scores, L-inf {args.eps})",
                         summarize(score["rows"], "linf")),
                        (f"hsja (labels only, L2 {args.l2})", summarize(label["rows"], "l2"))],
                       [score["seconds"], label["seconds"]]))


if __name__ == "__main__":
    main()
