"""``blackbox attack``: an attack campaign from the command line.

    blackbox attack --model digits --norm linf --eps 0.2 --n 100 --queries 10000 \\
        --strategy zo_signsgd --out runs/attack
    blackbox attack --model digits --label-only --norm l2 --eps 1.0 --n 20 --out runs/hl
    blackbox serve --classifier digits --port 8100 &      # the same model over HTTP
    blackbox attack --model digits --base-url http://127.0.0.1:8100/v1 --n 20 --out runs/http
    blackbox attack --model mypkg.models:make_net --data my_images.npz --eps 0.03 --out runs/own

Prints a table (success rate, median and mean queries over successes, median distortion, wall
time) and writes ``DIR/report.json``, ``DIR/success_curve.png`` and ``DIR/grid.png``. Running the
same command again with the same ``--out`` resumes the campaign (finished images are kept; an
interrupted image continues from its journal without re-sending answered queries).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_attack", "load_target"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("attack", help="adversarial attack campaign (score-based or hard-label)",
                       description=__doc__.split("\n")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="digits",
                   help="'digits' (the bundled CNN) or pkg.module:factory (-> torch.nn.Module)")
    p.add_argument("--data", help="FILE.npz with arrays x (inputs in [0, 1]) and y (labels)")
    p.add_argument("--norm", default=None, choices=["linf", "l2"],
                   help="threat model (default linf; l2 for hard-label)")
    p.add_argument("--eps", type=float, default=None, help="radius (default 0.2 linf, 1.0 l2)")
    p.add_argument("--n", type=int, default=10, help="images (first n correctly classified)")
    p.add_argument("--queries", type=int, default=10_000, help="per-image query cap")
    p.add_argument("--strategy", default=None,
                   help="zo_signsgd (default), zo_sgd, zo_adam, fw_black, cbo, ng:NAME, hsja")
    p.add_argument("--opt", action="append", metavar="KEY=VALUE", help="strategy option")
    p.add_argument("--targeted", action="store_true", help="target class (label + 1) mod C")
    p.add_argument("--reduce", type=int, help="attack an R x R perturbation, upsampled")
    p.add_argument("--label-only", action="store_true", help="the model shows only its top label")
    p.add_argument("--base-url", help="attack the classifier served at this URL (…/v1)")
    p.add_argument("--rpm", type=float, help="requests per minute to --base-url")
    p.add_argument("--backend", default="local", choices=["local", "ray"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/attack")
    p.set_defaults(handler=cmd_attack)


def load_target(model: str, data: str | None, label_only: bool, base_url: str | None,
                rpm: float | None = None) -> tuple[Any, Any, Any]:
    """``(classifier, x, y)`` for the command's flags."""
    import numpy as np

    from apps.attacks.classifiers import HTTPClassifier, LabelOnly, TorchClassifier
    from blackbox.errors import ConfigError

    if data is not None:
        try:
            with np.load(data) as f:
                x, y = f["x"], f["y"]
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"--data {data}: needs an .npz with arrays 'x' and 'y' ({exc})") from None
    elif model == "digits":
        from oracles.digits import digits_data

        x, y = digits_data("test")
    else:
        raise ConfigError("--data FILE.npz is required with a model other than 'digits'")
    if base_url is not None:
        clf: Any = HTTPClassifier(base_url, label_only=label_only, rpm=rpm)
    else:
        if model == "digits":
            from oracles.digits import digits_cnn

            clf = TorchClassifier(digits_cnn)
        else:
            clf = TorchClassifier(model)
        if label_only:
            clf = LabelOnly(clf)
    return clf, x, y


def cmd_attack(a: argparse.Namespace) -> int:
    from apps.attacks.campaign import run_campaign, select_correct
    from apps.attacks.report import format_table, write_report
    from apps.attacks.threat import ThreatModel
    from blackbox.config import parse_value
    from blackbox.errors import ConfigError

    strategy = a.strategy or ("hsja" if a.label_only else "zo_signsgd")
    if a.label_only and strategy != "hsja":
        raise ConfigError(f"--label-only needs a hard-label strategy (hsja), got {strategy!r}")
    norm = a.norm or ("l2" if strategy == "hsja" else "linf")
    eps = a.eps if a.eps is not None else (1.0 if norm == "l2" else 0.2)
    threat = ThreatModel(norm, eps, targeted=a.targeted)
    if a.n < 1:
        raise ConfigError(f"--n must be >= 1, got {a.n}")
    opts = {}
    for item in a.opt or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise ConfigError(f"--opt expects KEY=VALUE, got {item!r}")
        opts[k] = parse_value(v)
    clf, x, y = load_target(a.model, a.data, a.label_only, a.base_url, a.rpm)
    idx, xs, ys = select_correct(clf, x, y, a.n)
    if len(idx) == 0:
        raise ConfigError("the model classifies none of the images correctly")
    print(f"blackbox attack: {strategy} on {len(idx)} images, {norm} eps {eps}, "
          f"{a.queries} queries per image -> {a.out}")
    camp = run_campaign(clf, xs, ys, threat, strategy=strategy, queries=a.queries,
                        seed=a.seed, out=a.out, backend=a.backend, reduce=a.reduce,
                        options=opts, indices=[int(i) for i in idx], progress=True)
    rep = write_report(a.out, camp, xs, strategy)
    print("\n" + format_table([(strategy, rep)], [camp["seconds"]]))
    out = Path(a.out)
    print(f"\nreport: {out / 'report.json'}\ncurve:  {out / 'success_curve.png'}\n"
          f"grid:   {out / 'grid.png'}")
    if not camp["complete"]:
        print("interrupted: run the same command again to resume")
        return 130
    return 0
