"""Preference, long runs: ZO-RankSGD against optuna-dashboard's GP at 50, 100 and 200 answers.

The peer (``optuna_dashboard.preferential``'s pairwise GP, best of 4 per answer; see
:mod:`apps.bench.preference`) needs seconds of CPU per proposal, so its long runs are made apart,
one process per (d, seed), each appending one JSON line per answer (``d``, ``seed``, ``T``,
``answer``, ``cut``, ``ask_s`` and ``cpu_s`` of its 3 proposals)::

    python -m apps.bench.preference 100 0 200 bench-results/preference-gp/d100_s0.jsonl

This benchmark reads those logs from ``$BLACKBOX_GP_LOGS`` (default
``bench-results/preference-gp/`` when it holds logs, else the logs recorded for the README's table
and shipped in ``apps/bench/gp_logs/``: d = 100 seeds 0-2 to 105-110 answers, d = 10 seed 0 to 71,
about 100 minutes of a loaded 2-core machine each; the output says which), runs ZO-RankSGD (Tang, Rybin, Chang, ICLR 2024,
https://arxiv.org/abs/2303.03751) on the same d, seeds and rater (Bradley-Terry at the logged
temperature, utility ``-||x - x*||^2`` on ``[-1, 1]^d``; cheap), and reports per d: the regret cut
(from the box centre, as the GP's ``cut``; the GP's also from its own random first winner) at
10/25/50/100/200 answers where the GP got that far (and on how many seeds; the margins take the
GP's better figure, on the GP's seeds), answers to a 90% cut and their ratio, and the GP's seconds
per proposal (wall and CPU) against answers; the curves go to
``bench-results/preference-long.png``. ZO-RankSGD's answer ranks the top 5 of 10 candidates
(gradient rounds; the best of 6 for line searches); it is also run in the GP's own format (best of
4) for reference, and so is, at d <= 20, the surrogate prototype
:class:`strategies.zo_rank_surrogate.RankSurrogate` (best of 4: the incumbent, a Bradley-Terry
quadratic's proposal, two perturbations).

Where a d has no logs, it says so and runs the GP itself for a few answers (the targets then
miss: nothing passes without the GP's numbers at 50 answers or more).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from apps.bench.preference import _to90

__all__ = ["TARGETS", "read_logs", "run"]

#: at d = 100: ours >= the GP at every mark the GP reached (50, 100, 200; at least one measured),
#: and a 90% cut within 200 answers; at d = 10 in the best-of-4 format the surrogate prototype
#: needs at most 1/1.5 of ZO-RankSGD's answers to a 90% cut (T = 0, 6 seeds)
TARGETS = {
    "d100.worst_margin": (">=", 0.0),
    "d100.marks_measured": (">=", 1),
    "d100.ours.answers_to_90": ("<=", 200.0),
    "best_of_4_d10.ratio_T0": (">=", 1.5),
}
LOG_ENV = "BLACKBOX_GP_LOGS"
DEFAULT_LOGS = Path("bench-results") / "preference-gp"
#: the GP's runs behind the README's table (one JSON line per answer, as written by _gp)
RECORDED_LOGS = Path(__file__).parent / "gp_logs"
MARKS = (10, 25, 50, 100, 200)
TARGET_MARKS = (50, 100, 200)
OURS_ANSWERS = 200
TIME_BINS = ((1, 10), (11, 25), (26, 50), (51, 100), (101, 200))
DIMS = (10, 100)
#: the surrogate prototype (strategies.zo_rank_surrogate) runs where its d + 1 parameter fit
#: per answer is cheap
SURROGATE_MAX_D = 20
#: ours (cheap) runs on at least this many seeds, the GP's first
OURS_SEEDS = 3


def read_logs(folder: str | os.PathLike[str]) -> dict[int, dict[tuple[int, float], list[dict]]]:
    """``{d: {(seed, T): records}}`` from every ``*.jsonl`` in ``folder``.

    Records are kept while their ``answer`` counts 1, 2, 3, ... (a torn or foreign line is
    skipped; a log that starts again at answer 1 keeps its latest run).
    """
    out: dict[int, dict[tuple[int, float], list[dict]]] = {}
    for path in sorted(Path(folder).glob("*.jsonl")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
                d, key, n = int(rec["d"]), (int(rec["seed"]), float(rec["T"])), int(rec["answer"])
                float(rec["cut"])
            except (ValueError, KeyError, TypeError):
                continue
            runs = out.setdefault(d, {})
            if n == 1:
                runs[key] = [rec]
            elif key in runs and n == len(runs[key]) + 1:
                runs[key].append(rec)
    return out


def _mean_at(curves: list[list[float]], m: int) -> tuple[float | None, int]:
    vals = [c[m - 1] for c in curves if len(c) >= m]
    return (float(np.mean(vals)) if vals else None), len(vals)


def _gp_summary(records: dict[tuple[int, float], list[dict]]) -> dict[str, Any]:
    keys = sorted(records)
    curves = [[float(r["cut"]) for r in records[k]] for k in keys]
    out: dict[str, Any] = {"seeds": [k[0] for k in keys], "T": [k[1] for k in keys],
                           "answers_each": [len(c) for c in curves], "curves": curves,
                           "cut_at": {}, "seeds_at": {}}
    for m in MARKS:
        mean, n = _mean_at(curves, m)
        if n:
            out["cut_at"][str(m)], out["seeds_at"][str(m)] = mean, n
    out["answers_to_90_each"] = [_to90(c) for c in curves]
    # from its own (random) first winner, as apps.bench.preference reports it too
    own = [[1.0 - (1.0 - x) / (1.0 - c[0]) for x in c] for c in curves]
    out["cut_own_at"] = {str(m): _mean_at(own, m)[0] for m in MARKS if str(m) in out["cut_at"]}
    longest = max(out["answers_each"])
    for name, field in (("wall_by_answer", "ask_s"), ("cpu_by_answer", "cpu_s")):
        out[name] = [float(np.mean([s for k in keys if len(records[k]) > a
                                    for s in records[k][a][field]])) for a in range(longest)]
    out["s_per_proposal"], out["cpu_per_proposal"] = {}, {}
    for lo, hi in TIME_BINS:
        rows = [r for k in keys for r in records[k][lo - 1:hi]]
        if rows:
            label = f"{lo}-{hi}"
            out["s_per_proposal"][label] = float(np.mean([s for r in rows for s in r["ask_s"]]))
            out["cpu_per_proposal"][label] = float(np.mean([s for r in rows for s in r["cpu_s"]]))
    return out


def _ours_summary(d: int, keys: list[tuple[int, float]], strategy: Any = None) -> dict[str, Any]:
    from apps.bench.preference import _ours

    t0 = time.perf_counter()
    runs = [_ours(d, seed, temp, OURS_ANSWERS, strategy) for seed, temp in keys]
    curves = [r["curve"] for r in runs]
    hits = [_to90(c) for c in curves]
    return {"curves": curves, "seeds": [k[0] for k in keys],
            "cut_at": {str(m): _mean_at(curves, m)[0] for m in MARKS},
            "answers_to_90_each": hits,
            "answers_to_90": float(np.mean(hits)) if all(h is not None for h in hits) else None,
            "shown_per_answer": float(np.mean([r["shown"] for r in runs])) / OURS_ANSWERS,
            "ms_per_proposal": 1000 * float(np.mean([r["s_per_answer"] for r in runs])),
            "seconds": time.perf_counter() - t0}


def _compare(d: int, records: dict[tuple[int, float], list[dict]]) -> dict[str, Any]:
    """Ours and the GP on the same seeds; margins only where the GP reached the mark."""
    from apps.bench.preference import BEST_OF_4
    from strategies.zo_rank_surrogate import RankSurrogate

    keys = sorted(records)
    gp = _gp_summary(records)
    # ours on the GP's seeds first (margins compare those), then up to OURS_SEEDS seeds in all
    temp = keys[0][1]
    keys = keys + [(s, temp) for s in range(OURS_SEEDS) if (s, temp) not in keys]
    ours = _ours_summary(d, keys)
    margin: dict[str, float] = {}
    for m in MARKS:
        reached = [i for i, c in enumerate(gp["curves"]) if len(c) >= m]
        if reached:  # ours on the very seeds the GP reached m with
            mine = float(np.mean([ours["curves"][i][m - 1] for i in reached]))
            # the GP's better figure: from the box centre or from its own (random) first winner
            margin[str(m)] = mine - max(gp["cut_at"][str(m)], gp["cut_own_at"][str(m)])
    at_targets = [margin[str(m)] for m in TARGET_MARKS if str(m) in margin]
    entry: dict[str, Any] = {
        "dim": d, "ours": ours, "ours_best_of_4": _ours_summary(d, keys, BEST_OF_4), "gp": gp,
        "margin_at": margin, "marks_measured": len(at_targets),
        "worst_margin": min(at_targets) if at_targets else None,
    }
    entry.update(_ratio(ours, gp))
    if d <= SURROGATE_MAX_D:  # best of 4 with a Bradley-Terry quadratic surrogate (prototype)
        entry["surrogate_best_of_4"] = sur = _ours_summary(d, keys, RankSurrogate(m=4))
        entry["surrogate"] = {k.replace("ours", "surrogate"): v
                              for k, v in _ratio(sur, gp).items()}
        b4 = entry["ours_best_of_4"]["answers_to_90"]
        if b4 and sur["answers_to_90"]:
            entry["surrogate"]["answers_to_90_ratio_best_of_4_over_surrogate"] = (
                b4 / sur["answers_to_90"])
    return entry


def _ratio(ours: dict[str, Any], gp: dict[str, Any]) -> dict[str, Any]:
    """Answers to 90%: GP over ours when every GP seed got there, else a lower bound."""
    g, o = gp["answers_to_90_each"], ours["answers_to_90"]
    if o is None:
        return {"answers_to_90_ratio_gp_over_ours": None}
    if all(h is not None for h in g):
        return {"answers_to_90_ratio_gp_over_ours": float(np.mean(g)) / o}
    # a seed that never got there needed more than all its answers: a bound, said as one
    bound = float(np.mean([h if h is not None else n + 1 for h, n in zip(g, gp["answers_each"])]))
    return {"answers_to_90_ratio_gp_over_ours": None, "answers_to_90_ratio_at_least": bound / o}


def _best_of_4_check(d: int = 10, seeds: int = 6, answers: int = 100) -> dict[str, Any]:
    """The GP's answer format without the GP: ZO-RankSGD and the surrogate, T = 0 and 0.1."""
    from apps.bench.preference import BEST_OF_4
    from strategies.zo_rank_surrogate import RankSurrogate

    out: dict[str, Any] = {"dim": d, "seeds": seeds, "answers": answers}
    for temp in (0.0, 0.1):
        for name, strategy in (("zo_ranksgd", BEST_OF_4), ("surrogate", RankSurrogate(m=4))):
            curves = [_ours_curve(d, s, temp, answers, strategy) for s in range(seeds)]
            hits = [_to90(c) for c in curves]
            reached = [h for h in hits if h is not None]
            out[f"T{temp:g}_{name}"] = {
                "answers_to_90_each": hits, "reached_90": len(reached),
                "answers_to_90_mean_reached": float(np.mean(reached)) if reached else None,
                "cut_at": {str(m): _mean_at(curves, m)[0] for m in (25, 50, answers)}}
    zo, sur = out["T0_zo_ranksgd"], out["T0_surrogate"]
    if zo["reached_90"] == sur["reached_90"] == seeds:
        out["ratio_T0"] = zo["answers_to_90_mean_reached"] / sur["answers_to_90_mean_reached"]
    return out


def _ours_curve(d: int, seed: int, temp: float, answers: int, strategy: Any) -> list[float]:
    from apps.bench.preference import _ours

    return list(_ours(d, seed, temp, answers, strategy)["curve"])


def _own_gp_logs(d: int, quick: bool, folder: Path) -> Path:
    """No logs for ``d``: run the GP here for a few answers (said aloud), into its own folder."""
    from apps.bench.preference import _gp

    n = 3 if quick else 5
    own = Path("bench-results") / "preference-gp-own"
    own.mkdir(parents=True, exist_ok=True)
    log = own / f"d{d}_s0.jsonl"
    log.unlink(missing_ok=True)
    print(f"   no GP logs for d = {d} in {folder} (set {LOG_ENV}): running the GP here for {n} "
          f"answers, seed 0; the targets need its numbers at 50+ answers", flush=True)
    _gp(d, 0, 0.0, n, log)
    return own


def run(quick: bool = False) -> dict[str, Any]:
    """Read the GP's logs, run ours on the same seeds, compare; ``quick`` only shortens the
    GP's own runs where logs are missing (ours is cheap either way)."""
    from apps.bench.preference import _ours

    folder = Path(os.environ.get(LOG_ENV) or DEFAULT_LOGS)
    if LOG_ENV not in os.environ and not any(folder.glob("*.jsonl")):
        folder = RECORDED_LOGS  # (said in the output: "logs in .../gp_logs")
        print(f"   GP logs: the recorded runs in {folder} (set {LOG_ENV} to use your own)",
              flush=True)
    _ours(5, 0, 0.0, 4)  # warm-up: imports and first-call costs stay out of the timing
    logs = read_logs(folder) if folder.is_dir() else {}
    result: dict[str, Any] = {"logs": str(folder), "gp_source": {}}
    for d in sorted(set(DIMS) | set(logs)):
        if d in logs:
            result["gp_source"][f"d{d}"] = f"logs in {folder}"
            records = logs[d]
        else:
            own = _own_gp_logs(d, quick, folder)
            result["gp_source"][f"d{d}"] = f"a short run here ({own}): no logs in {folder}"
            records = read_logs(own)[d]
        result[f"d{d}"] = _compare(d, records)
    result["best_of_4_d10"] = _best_of_4_check()
    _table(result)
    result["plot"] = str(_plot(result, Path("bench-results") / "preference-long.png"))
    for k, v in result.items():  # the per-seed curves stay in the PNG, out of the JSON
        if isinstance(v, dict) and "gp" in v:
            for name in ("ours", "ours_best_of_4", "surrogate_best_of_4", "gp"):
                for big in ("curves", "wall_by_answer", "cpu_by_answer"):
                    v.get(name, {}).pop(big, None)
    return result


def _best_of_4_table(check: dict[str, Any]) -> None:
    print(f"   best of 4 at d = {check['dim']}, {check['seeds']} seeds, no GP: answers to a 90% "
          f"cut (seeds that got there) and cut after 25 / 50 / {check['answers']} answers",
          flush=True)
    for k, v in check.items():
        if isinstance(v, dict) and "cut_at" in v:
            cuts = " / ".join(_cell(c).strip() for c in v["cut_at"].values())
            mean = v["answers_to_90_mean_reached"]
            print(f"     {k:<16} {v['reached_90']}/{check['seeds']} seeds, mean "
                  f"{'-' if mean is None else f'{mean:.1f}'}: {v['answers_to_90_each']}; {cuts}",
                  flush=True)
    if "ratio_T0" in check:
        print(f"     answers to 90% at T = 0, ZO-RankSGD / surrogate: {check['ratio_T0']:.2f}x",
              flush=True)


def _cell(v: float | None) -> str:
    return f"{100 * v:6.1f}%" if v is not None else f"{'-':>7}"


def _table(result: dict[str, Any]) -> None:
    _best_of_4_table(result["best_of_4_d10"])
    head = " ".join(f"{'@' + str(m):>7}" for m in MARKS)
    print(f"   {'d':>4} {'method':<34} {head} {'to 90%':>14}", flush=True)
    for label in (k for k in result if k.startswith("d") and isinstance(result[k], dict)
                  and "gp" in result[k]):
        e = result[label]
        gp, d = e["gp"], label[1:]
        rows = [("ZO-RankSGD top 5 of 10", e["ours"]),
                ("ZO-RankSGD best of 4", e["ours_best_of_4"]),
                ("optuna-dashboard GP best of 4", gp)]
        if "surrogate_best_of_4" in e:
            rows.insert(2, ("surrogate best of 4 (prototype)", e["surrogate_best_of_4"]))
        for name, s in rows:
            cuts = " ".join(_cell(s["cut_at"].get(str(m))) for m in MARKS)
            t90 = "/".join("-" if h is None else str(h) for h in s["answers_to_90_each"])
            print(f"   {d:>4} {name:<34} {cuts} {t90:>14}  seeds {s['seeds']}", flush=True)
        own = " ".join(_cell(gp["cut_own_at"].get(str(m))) for m in MARKS)
        print(f"   {'':>4} {'  the GP from its own first winner':<34} {own}", flush=True)
        seeds = " ".join(f"{gp['seeds_at'].get(str(m), 0):>7}" for m in MARKS)
        print(f"   {'':>4} {'  GP seeds at the mark':<34} {seeds}", flush=True)
        marg = " ".join(_cell(e["margin_at"].get(str(m))) for m in MARKS)
        print(f"   {'':>4} {'  ours - the GP (its better row)':<34} {marg}", flush=True)
        ratio = e.get("answers_to_90_ratio_gp_over_ours")
        bound = e.get("answers_to_90_ratio_at_least")
        said = (f"{ratio:.1f}x" if ratio else f">= {bound:.1f}x (the GP short of 90%)"
                if bound and bound > 1 else "- (the GP has no 90% cut in its answers so far)")
        times = ", ".join(f"{b}: {gp['s_per_proposal'][b]:.1f} s ({gp['cpu_per_proposal'][b]:.1f}"
                          f" s CPU)" for b in gp["s_per_proposal"])
        print(f"   {'':>4} answers to 90%, GP / ours: {said}; GP answers logged per seed: "
              f"{gp['answers_each']}", flush=True)
        _surrogate_line(e)
        print(f"   {'':>4} GP per proposal by answers: {times}; ours: "
              f"{e['ours']['ms_per_proposal']:.1f} ms", flush=True)


def _plot(result: dict[str, Any], path: Path) -> Path:
    """Regret / initial regret against answers (top), the GP's seconds per proposal (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from blackbox.plot import save_figure

    labels = [k for k in result if isinstance(result[k], dict) and "gp" in result[k]]
    fig, axes = plt.subplots(2, len(labels), figsize=(5 * len(labels), 7), squeeze=False)
    for j, label in enumerate(labels):
        e, ax = result[label], axes[0, j]
        shown = [("ZO-RankSGD top 5 of 10", "C0", e["ours"]),
                 ("ZO-RankSGD best of 4", "C2", e["ours_best_of_4"]),
                 ("surrogate best of 4 (prototype)", "C4", e.get("surrogate_best_of_4")),
                 ("optuna-dashboard GP, best of 4", "C1", e["gp"])]
        for name, color, s in (row for row in shown if row[2]):
            for i, c in enumerate(s["curves"]):
                y = np.maximum(1.0 - np.asarray(c), 1e-4)
                ax.plot(np.arange(1, len(y) + 1), y, color=color, alpha=0.8, lw=1.2,
                        label=name if i == 0 else None)
        ax.set_yscale("log")
        ax.set_xlabel("answers (submits by the rater)")
        ax.set_ylabel("regret / regret at the box centre")
        ax.set_title(f"d = {e['dim']}, Bradley-Terry rater, one line per seed")
        ax.legend(fontsize=8)
        ax = axes[1, j]
        for r, rec in enumerate(_per_answer_times(e["gp"])):
            ax.plot(*rec, color="C1" if r == 0 else "C3", lw=1.2,
                    label="GP wall s per proposal" if r == 0 else "GP CPU s per proposal")
        ax.axhline(e["ours"]["ms_per_proposal"] / 1000, color="C0", ls="--",
                   label="ZO-RankSGD per proposal")
        ax.set_yscale("log")
        ax.set_xlabel("answers")
        ax.set_ylabel("seconds (mean over seeds)")
        ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=110)


def _per_answer_times(gp: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(answers, mean wall s) and (answers, mean CPU s) per proposal, over the logged seeds."""
    return [(np.arange(1, len(v) + 1), np.asarray(v)) for v in (gp["wall_by_answer"],
                                                                gp["cpu_by_answer"])]


def _surrogate_line(e: dict[str, Any]) -> None:
    sur = e.get("surrogate")
    if not sur:
        return
    gp = sur.get("answers_to_90_ratio_gp_over_surrogate")
    bound = sur.get("answers_to_90_ratio_at_least")
    b4 = sur.get("answers_to_90_ratio_best_of_4_over_surrogate")
    said = f"{gp:.1f}x" if gp else f">= {bound:.1f}x" if bound and bound > 1 else "-"
    print(f"   {'':>4} surrogate prototype, answers to 90%: GP / surrogate {said}, "
          f"ZO-RankSGD best of 4 / surrogate {f'{b4:.1f}x' if b4 else '-'}", flush=True)
