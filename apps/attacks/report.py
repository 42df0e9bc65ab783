"""Campaign reports: the summary numbers, the printed table, ``report.json`` and two PNGs.

``summarize(rows)`` gives ``success_rate`` (successes / images), ``median_queries`` and
``mean_queries`` over successes, ``median_distortion`` (median over successes of the
threat model's norm of ``x_adv - x0``), and the median L-inf and L2 over successes.
``success_curve`` is the share of images fooled within ``q`` queries, for every ``q``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from blackbox.plot import save_figure

__all__ = ["format_table", "plot_grid", "plot_success_curve", "summarize", "write_report"]


def _median(v: Sequence[float]) -> float:
    return float(np.median(v)) if len(v) else math.nan


def summarize(rows: Sequence[dict[str, Any]], norm: str = "linf") -> dict[str, Any]:
    ok = [r for r in rows if r["success"]]
    q = [r["queries"] for r in ok]
    return {
        "images": len(rows),
        "successes": len(ok),
        "success_rate": len(ok) / len(rows) if rows else math.nan,
        "median_queries": _median(q),
        "mean_queries": float(np.mean(q)) if q else math.nan,
        "median_distortion": _median([r["linf" if norm == "linf" else "l2"] for r in ok]),
        "median_linf": _median([r["linf"] for r in ok]),
        "median_l2": _median([r["l2"] for r in ok]),
        "total_queries": int(sum(r["queries"] for r in rows)),
        "failures": int(sum(r.get("failures", 0) for r in rows)),
    }


def format_table(named: Sequence[tuple[str, dict[str, Any]]], seconds: Sequence[float] = ()) -> str:
    """One line per ``(name, summary)``: success, median/mean queries, distortion, wall time."""
    head = ("attack", "images", "success", "median queries", "mean queries",
            "median distortion", "median L-inf", "median L2", "seconds")
    cells = [head]
    for k, (name, s) in enumerate(named):
        sec = f"{seconds[k]:.1f}" if k < len(seconds) else ""
        cells.append((name, str(s["images"]), f"{100 * s['success_rate']:.0f}%",
                      _fmt(s["median_queries"], 0), _fmt(s["mean_queries"], 0),
                      _fmt(s["median_distortion"], 3), _fmt(s["median_linf"], 3),
                      _fmt(s["median_l2"], 3), sec))
    w = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c[i].ljust(w[i]) for i in range(len(head))) for c in cells]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)


def _fmt(v: float, digits: int) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.{digits}f}"


def success_curve(rows: Sequence[dict[str, Any]], cap: int) -> tuple[np.ndarray, np.ndarray]:
    """``(queries, share of images fooled within that many queries)``."""
    q = np.sort([r["queries"] for r in rows if r["success"]])
    xs = np.unique(np.concatenate([[0], q, [cap]]))
    return xs, np.searchsorted(q, xs, side="right") / max(1, len(rows))


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_success_curve(curves: Sequence[tuple[str, Sequence[dict[str, Any]]]], cap: int,
                       path: str | Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=110)
    for name, rows in curves:
        x, y = success_curve(rows, cap)
        ax.step(x, 100 * y, where="post", label=name, lw=1.6)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("queries per image")
    ax.set_ylabel("images fooled (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_grid(originals: Sequence[Any], rows: Sequence[dict[str, Any]], path: str | Path,
              side: int | None = None, k: int = 10) -> Path:
    """Originals (top) over adversarial images (bottom), with labels and predictions."""
    plt = _plt()
    k = min(k, len(rows))
    fig, axes = plt.subplots(2, max(k, 1), figsize=(1.3 * max(k, 1), 3), dpi=110, squeeze=False)
    for j in range(k):
        x0 = np.asarray(originals[j], dtype=np.float64)
        s = side or int(round(math.sqrt(x0.size)))
        r = rows[j]
        for i, (img, title) in enumerate(((x0, f"y={r['label']}"),
                                          (np.asarray(r["x_adv"]), f"pred {r['pred']}"))):
            ax = axes[i][j]
            ax.imshow(img.reshape(s, -1), cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=8, color="k" if i == 0 or r["success"] else "r")
            ax.axis("off")
    return save_figure(fig, path)


def write_report(out: str | Path, campaign: dict[str, Any], originals: Sequence[Any],
                 name: str = "attack") -> dict[str, Any]:
    """``out/report.json``, ``out/success_curve.png`` and ``out/grid.png``; returns the report.

    ``originals[k]`` is the clean image of ``campaign["config"]["indices"][k]``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = campaign["config"]
    summary = summarize(campaign["rows"], "l2" if cfg["mode"] == "label" else cfg["norm"])
    report = {**summary, "seconds": campaign["seconds"], "complete": campaign["complete"],
              "config": cfg, "rows": campaign["rows"]}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    plot_success_curve([(name, campaign["rows"])], cfg["queries"], out / "success_curve.png")
    pos = {int(i): k for k, i in enumerate(cfg["indices"])}
    plot_grid([originals[pos[r["index"]]] for r in campaign["rows"]], campaign["rows"],
              out / "grid.png")
    return report
