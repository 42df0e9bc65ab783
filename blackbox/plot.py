"""Convergence plots (PNG) from a result or a journal directory; matplotlib is imported lazily."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from blackbox.journal import decode_array, read_records

__all__ = ["convergence_from_journal", "plot_convergence", "save_figure"]


def convergence_from_journal(directory: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """(points evaluated, best-so-far value, sense) from every value answer in a journal."""
    header, records, _ = read_records(Path(directory) / "journal.jsonl")
    if header is None:
        raise FileNotFoundError(f"no journal in {directory}")
    sense = header.get("oracle", {}).get("sense", "min")
    vals = [decode_array(r["answer"]) for r in records if r.get("kind") == "values"]
    if not vals:
        return np.zeros(0), np.zeros(0), sense
    v = np.concatenate(vals).astype(np.float64)
    v = np.where(np.isfinite(v), v, -np.inf if sense == "max" else np.inf)
    best = np.maximum.accumulate(v) if sense == "max" else np.minimum.accumulate(v)
    return np.arange(1, len(v) + 1), best, sense


def plot_convergence(
    curves: Sequence[tuple[str, Any, Any]], path: str | Path, title: str = "Convergence",
    log: bool = True,
) -> Path:
    """Write a PNG with one best-so-far curve per ``(label, nfev, f_best)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, x, y in curves:
        y = np.asarray(y, dtype=np.float64)
        pos = log and np.all(y[np.isfinite(y)] > 0)
        ax.plot(np.asarray(x), y, label=label, lw=1.6)
        if pos:
            ax.set_yscale("log")
    ax.set_xlabel("points evaluated")
    ax.set_ylabel("best value so far")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | Path, **savefig: Any) -> Path:
    """Lay out ``fig``, write it to ``path`` (folders made as needed), close it; returns the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **savefig)
    plt.close(fig)
    return path


def plot_journal(directory: str | Path, out: str | Path | None = None) -> Path:
    directory = Path(directory)
    x, y, _ = convergence_from_journal(directory)
    run = directory / "run.json"
    label = json.loads(run.read_text()).get("strategy", {}).get("name", "run") if run.exists() else "run"
    return plot_convergence([(str(label), x, y)], out or directory / "convergence.png",
                            title=f"Convergence: {directory.name}")
