"""Attack campaigns: N images, N independent runs over ``run_many`` (in turn or on Ray).

:func:`run_campaign` checks every input before the first query (image shapes, labels against
the model's classes, eps, norm, the strategy's options), then runs one
:func:`~blackbox.runner.minimize` per image through :func:`~blackbox.many.run_many`, each with
its own seed ``Key(seed).fold_in(index)``, the :class:`~apps.attacks.presets.StopOnSuccess`
rule and, with ``out``, its own journal ``out/journals/img<index>``. Finished images are
appended to ``out/rows.jsonl`` as they stream in; running the same campaign again with the same
``out`` skips them and resumes an interrupted image from its journal (answered queries are
replayed, not re-sent). Success is verified by re-predicting the returned image (a check the
query counts leave out, as for the ART attacks in ``blackbox bench attacks``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from apps.attacks.oracle import NOT_ADVERSARIAL, AttackOracle
from apps.attacks.presets import StopOnSuccess, is_label, make_strategy
from apps.attacks.threat import ThreatModel, check_image
from blackbox.budget import Budget
from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.oracle import OracleSpec
from blackbox.spaces import Box

__all__ = ["run_campaign", "select_correct"]


def select_correct(classifier: Any, x: Any, y: Any, n: int) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """The first ``n`` images the classifier gets right: ``(indices, images, labels)``."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    pred = np.asarray(classifier.labels(x))
    idx = np.flatnonzero(pred == np.asarray(y))[:n]
    return idx, x[idx], np.asarray(y)[idx]


def _classes(classifier: Any, x0: np.ndarray) -> int | None:
    probs = getattr(classifier, "probs", None)
    if getattr(classifier, "label_only", False) or probs is None:
        return None
    return int(np.asarray(probs(x0[None, :])).shape[1])


def _specs(classifier: Any, images: np.ndarray, labels: np.ndarray, indices: Sequence[int],
           threat: ThreatModel, strategy: str, queries: int, seed: int, out: Path | None,
           reduce: int | None, options: dict[str, Any], classes: int | None) -> list[Any]:
    from blackbox.many import RunSpec

    mode = "label" if is_label(strategy) else "score"
    specs = []
    for i, x0, y in zip(indices, images, labels):
        x0, y = check_image(x0, y, images.shape[1], classes, threat.clip)
        target = (y + 1) % classes if threat.targeted and classes else y
        if mode == "label":
            space: Any = Box(threat.clip[0] - x0, threat.clip[1] - x0)
        else:
            space = threat.space(x0, reduce)
        dim = space.dim
        strat = make_strategy(strategy, threat, space, dim, queries, **dict(options))
        oracle = OracleSpec("apps.attacks.oracle:AttackOracle", dict(
            classifier=classifier, image=x0, label=target, threat=threat, mode=mode,
            reduce=reduce if mode == "score" else None, classes=classes))
        kwargs: dict[str, Any] = {"callbacks": [StopOnSuccess(mode, threat.eps)],
                                  "keep_trace": False, "progress": False}
        if out is not None:
            kwargs["journal"] = str(out / "journals" / f"img{int(i):05d}")
        specs.append(RunSpec(oracle, strat, np.zeros(dim), Key(seed).fold_in(int(i)),
                             Budget(max_queries=queries), None, int(i), kwargs))
    return specs


def _row(res: Any, spec: Any, classifier: Any, threat: ThreatModel, mode: str) -> dict[str, Any]:
    oracle = AttackOracle(**spec.oracle.kwargs)
    x_adv = oracle.inputs(np.asarray(res.x_best)[None, :])[0]
    pred = int(np.asarray(classifier.labels(x_adv[None, :]))[0])  # the verification
    y = oracle.label
    claimed = (res.f_best < 0) if mode == "score" else (res.f_best < NOT_ADVERSARIAL)
    fooled = (pred == y) if threat.targeted else (pred != y)
    linf, l2 = threat.distances(x_adv, oracle.x0)
    within = (linf if threat.norm == "linf" else l2) <= threat.eps + 1e-9
    stats = next(iter(res.ledger.oracles.values()))
    return {"index": int(spec.run_id), "label": int(y), "pred": pred,
            "adversarial": bool(claimed and fooled), "success": bool(claimed and fooled and within),
            "queries": int(res.nfev), "linf": linf, "l2": l2, "seconds": float(res.seconds),
            "failures": int(stats.failures), "replayed": int(stats.replayed),
            "retries": int(stats.retries), "message": res.message,
            "x_adv": [round(float(v), 6) for v in x_adv]}


def run_campaign(classifier: Any, images: Any, labels: Any, threat: ThreatModel, *,
                 strategy: str = "zo_signsgd", queries: int = 10_000, seed: int = 0,
                 out: str | Path | None = None, backend: str = "local",
                 reduce: int | None = None, options: dict[str, Any] | None = None,
                 indices: Sequence[int] | None = None, progress: bool = False,
                 max_in_flight: int | None = None) -> dict[str, Any]:
    """Attack every image; returns ``{"rows": [...], "config": {...}, "seconds": ...}``.

    Raises:
        ConfigError: bad input, before any query of the campaign is sent.
    """
    from blackbox.many import run_many

    t0 = time.perf_counter()
    if not isinstance(queries, int) or isinstance(queries, bool) or queries < 1:
        raise ConfigError(f"queries must be an int >= 1, got {queries!r}")
    images = np.asarray(images, dtype=np.float64)
    if images.ndim < 2 or len(images) == 0:
        raise ConfigError(f"images must be a non-empty batch (n, ...), got shape {images.shape}")
    images = images.reshape(len(images), -1)
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ConfigError(f"labels must have shape ({len(images)},), got {labels.shape}")
    indices = list(range(len(images))) if indices is None else [int(i) for i in indices]
    classes = _classes(classifier, images[0])
    mode = "label" if is_label(strategy) else "score"
    config = {"strategy": strategy, "norm": threat.norm, "eps": threat.eps,
              "targeted": threat.targeted, "queries": queries, "seed": seed, "reduce": reduce,
              "options": options or {}, "mode": mode, "indices": indices}
    specs = _specs(classifier, images, labels, indices, threat, strategy, queries, seed,
                   None if out is None else Path(out), reduce, options or {}, classes)
    done = _resume(Path(out), config) if out is not None else {}
    rows = [done[s.run_id] for s in specs if s.run_id in done]
    todo = [s for s in specs if s.run_id not in done]
    by_id = {s.run_id: s for s in todo}
    bar = None
    if progress:
        from blackbox.progress import ProgressBar

        bar = ProgressBar(len(specs), "images", label="attack")
    interrupted = False
    for res in run_many(todo, backend=backend, max_in_flight=max_in_flight):
        if res.stop.get("interrupted"):
            interrupted = True  # its journal holds the answered queries; the next run resumes
            break
        row = _row(res, by_id[res.run_id], classifier, threat, mode)
        rows.append(row)
        if out is not None:
            with open(Path(out) / "rows.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")
        if bar is not None:
            bar.update(len(rows), sum(r["success"] for r in rows) / len(rows), force=True)
    if bar is not None:
        bar.close(len(rows), sum(r["success"] for r in rows) / max(1, len(rows)))
    order = {i: k for k, i in enumerate(indices)}
    rows.sort(key=lambda r: order[r["index"]])
    return {"config": config, "rows": rows, "complete": not interrupted and len(rows) == len(specs),
            "seconds": time.perf_counter() - t0}


def _resume(out: Path, config: dict[str, Any]) -> dict[int, dict[str, Any]]:
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "campaign.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if old != json.loads(json.dumps(config)):
            diff = sorted(k for k in config if old.get(k) != json.loads(json.dumps(config))[k])
            raise ConfigError(f"{out} holds another campaign (differs in {', '.join(diff)}); "
                              "use a new --out directory")
    else:
        cfg_path.write_text(json.dumps(config, indent=1))
    done: dict[int, dict[str, Any]] = {}
    rows = out / "rows.jsonl"
    if rows.exists():
        for line in rows.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:  # a line cut by a crash: that image runs again (from its journal)
                continue
            done[int(r["index"])] = r
    return done
