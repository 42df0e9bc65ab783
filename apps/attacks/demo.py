"""The attack part of ``blackbox demo``: a short campaign against the digits CNN."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

__all__ = ["demo_campaign"]


def demo_campaign(out_dir: str | Path, quick: bool = True) -> dict[str, Any]:
    """Attack the first correctly classified digits test images (L-inf eps 0.2, ZO-signSGD).

    ``quick``: 5 images, 2,000 queries each (seconds on 2 cores, plus about 15 s to train the
    CNN the first time); else 20 images, 10,000 queries. Prints the table, writes
    ``out_dir/report.json``, ``success_curve.png`` and ``grid.png``; returns the report
    (``success_rate``, ``median_queries``, ... and ``grid``, the image grid's path).
    """
    from apps.attacks.campaign import run_campaign, select_correct
    from apps.attacks.classifiers import TorchClassifier
    from apps.attacks.report import format_table, write_report
    from apps.attacks.threat import ThreatModel
    from oracles.digits import digits_cnn, digits_data

    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)  # the demo always starts afresh
    n, cap = (5, 2000) if quick else (20, 10_000)
    clf = TorchClassifier(digits_cnn)
    x, y = digits_data("test")
    idx, xs, ys = select_correct(clf, x, y, n)
    print(f"\nattack: ZO-signSGD on {n} digits test images (CNN), L-inf eps 0.2, "
          f"at most {cap} queries each")
    camp = run_campaign(clf, xs, ys, ThreatModel("linf", 0.2), strategy="zo_signsgd",
                        queries=cap, seed=0, out=out, indices=[int(i) for i in idx],
                        progress=True)
    rep = write_report(out, camp, xs, "zo_signsgd")
    print("\n" + format_table([("zo_signsgd", rep)], [camp["seconds"]]))
    rep["grid"] = str(out / "grid.png")
    print(f"image grid: {rep['grid']}")
    return rep
