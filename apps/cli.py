"""The ``blackbox`` command: run, resume, plot, demo, serve, bench.

Examples::

    blackbox run config.toml
    blackbox run --oracle rastrigin --dim 20 --strategy cbo --opt N=40 --budget 50000 \\
        --space box:-3:3 --journal runs/r20
    blackbox resume runs/r20
    blackbox plot runs/r20
    blackbox demo
    blackbox serve --host 127.0.0.1 --port 8000
    blackbox bench strategies --quick
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from blackbox.errors import BlackboxError, ConfigError

__all__ = ["main"]


def _result_json(res: Any) -> dict[str, Any]:
    return {
        "x": np.asarray(res.x).tolist(), "fun": res.fun, "x_best": np.asarray(res.x_best).tolist(),
        "f_best": res.f_best, "nfev": res.nfev, "nit": res.nit, "success": res.success,
        "message": res.message, "stop": res.stop, "seed": res.seed, "sense": res.sense,
        "seconds": res.seconds, "strategy": res.strategy, "ledger": res.ledger.to_dict(),
    }


def _flags_config(a: argparse.Namespace) -> dict[str, Any]:
    from blackbox.config import parse_value

    if not a.oracle or not a.strategy or a.budget is None:
        raise ConfigError("give a CONFIG file, or at least --oracle, --dim, --strategy and --budget")
    if a.budget <= 0:
        raise ConfigError(f"--budget (points to evaluate) must be > 0, got {a.budget}")
    cfg: dict[str, Any] = {
        "oracle": {"name": a.oracle, "dim": a.dim},
        "strategy": {"name": a.strategy},
        "budget": {"max_queries": a.budget},
        "seed": a.seed,
    }
    if a.x0 is not None:
        cfg["x0"] = parse_value(a.x0)
    for item in a.opt or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise ConfigError(f"--opt expects KEY=VALUE, got {item!r}")
        cfg["strategy"][k] = parse_value(v)
    for item in a.oracle_opt or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise ConfigError(f"--oracle-opt expects KEY=VALUE, got {item!r}")
        cfg["oracle"][k] = parse_value(v)
    if a.space:
        kind, *vals = a.space.split(":")
        if kind == "box" and len(vals) == 2:
            cfg["space"] = {"type": "box", "lower": float(vals[0]), "upper": float(vals[1])}
        elif kind == "ball" and len(vals) in (1, 2):
            cfg["space"] = {"type": "ball", "radius": float(vals[0]), "p": vals[1] if len(vals) > 1 else "inf"}
        elif kind == "simplex":
            cfg["space"] = {"type": "simplex"}
        else:
            raise ConfigError(f"--space expects box:LO:HI, ball:R[:P] or simplex, got {a.space!r}")
    return cfg


def _run_config(cfg: dict[str, Any], a: argparse.Namespace) -> int:
    from blackbox.config import build_run
    from blackbox.runner import minimize

    if getattr(a, "journal", None):
        cfg["journal"] = a.journal
    kwargs = build_run(cfg)
    if kwargs["journal"]:
        _record_config(Path(kwargs["journal"]), cfg)
    res = minimize(progress=None if not a.json else False, **kwargs)
    if a.json:
        print(json.dumps(_result_json(res)))
    else:
        print(res.summary())
    if kwargs["journal"]:
        from blackbox.plot import plot_journal

        png = plot_journal(kwargs["journal"])
        if not a.json:
            print(f"journal: {kwargs['journal']}  plot: {png}")
    return 0


def _record_config(jd: Path, cfg: dict[str, Any]) -> None:
    """Write ``run.json`` in a new journal directory; in an existing one, check it is this run's."""
    from blackbox.journal import check_header

    if jd.exists() and not jd.is_dir():
        raise ConfigError(f"--journal {jd} is a file; a journal is a directory: use a new directory")
    this = {k: v for k, v in json.loads(json.dumps(cfg)).items() if k != "journal"}
    run = jd / "run.json"
    if run.exists() and (jd / "journal.jsonl").exists():  # (a run that never started: rewrite)
        old = {k: v for k, v in json.loads(run.read_text()).items() if k != "journal"}
        check_header(old, this, f"journal {jd}")
        return
    jd.mkdir(parents=True, exist_ok=True)
    run.write_text(json.dumps(cfg, indent=2))


def cmd_run(a: argparse.Namespace) -> int:
    from blackbox.config import load_config

    cfg = load_config(a.config) if a.config else _flags_config(a)
    return _run_config(cfg, a)


def cmd_resume(a: argparse.Namespace) -> int:
    run = Path(a.dir) / "run.json"
    if not run.exists():
        raise ConfigError(
            f"{a.dir} has no run.json: only runs started with `blackbox run` can be resumed from "
            "the command line; from Python, call minimize(..., journal=DIR) again"
        )
    cfg = json.loads(run.read_text())
    cfg["journal"] = str(a.dir)
    a.journal = str(a.dir)
    return _run_config(cfg, a)


def cmd_plot(a: argparse.Namespace) -> int:
    from blackbox.plot import plot_journal

    print(plot_journal(a.dir, a.out))
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from apps.demo import run_demo

    return run_demo(out=a.out, quick=a.quick)


def cmd_serve(a: argparse.Namespace, rest: list[str]) -> int:
    from oracles.serve_cli import main as serve_main

    return int(serve_main(rest) or 0)


def cmd_bench(a: argparse.Namespace) -> int:
    from apps.bench import all_ok, run_group

    results = run_group(a.group, out=a.out, quick=a.quick)
    if a.check and not all_ok(results):
        print("blackbox bench: some figures missed their targets (MISS above)", file=sys.stderr)
        return 1
    return 0


#: modules that add a sub-command of their own: each has ``add_parser(subparsers)``, which
#: registers its parser with ``set_defaults(handler=FUNCTION)`` (FUNCTION(args) -> exit code).
#: Their heavy imports happen inside the handler, so ``blackbox --help`` stays fast.
COMMANDS: tuple[str, ...] = ("apps.prefer.cli", "apps.prompt.cli", "apps.attacks.cli", "apps.strategies_cmd")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="blackbox", description="Zeroth-order black-box optimization")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run an optimization from a TOML config or flags")
    r.add_argument("config", nargs="?", help="a TOML (or JSON) config file")
    r.add_argument("--oracle", help="registered oracle name (sphere, rastrigin, ...)")
    r.add_argument("--dim", type=int, default=10)
    r.add_argument("--oracle-opt", action="append", metavar="KEY=VALUE")
    r.add_argument("--strategy", help="registered strategy name (zo_sgd, cbo, ...)")
    r.add_argument("--opt", action="append", metavar="KEY=VALUE", help="strategy option")
    r.add_argument("--budget", type=int, help="max points evaluated")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--x0", help="initial point: one number (every coordinate) or a JSON list")
    r.add_argument("--space", help="box:LO:HI, ball:R[:P] or simplex")
    r.add_argument("--journal", help="journal directory (resumes if it exists)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    rs = sub.add_parser("resume", help="resume a journaled run")
    rs.add_argument("dir")
    rs.add_argument("--json", action="store_true")
    pl = sub.add_parser("plot", help="write the convergence PNG of a journal")
    pl.add_argument("dir")
    pl.add_argument("--out")
    d = sub.add_parser("demo", help="CBO on 20-d Rastrigin and ZO-SGD on a quadratic")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--quick", action="store_true", help="a smaller demo")
    sub.add_parser("serve", help="the local OpenAI-compatible model server (see: serve --help)",
                   add_help=False)
    from apps.bench import GROUPS

    b = sub.add_parser("bench", help="benchmarks; results written as JSON")
    b.add_argument("group", choices=[*GROUPS, "all"])
    b.add_argument("--out", default="bench-results")
    b.add_argument("--quick", action="store_true", help="a tiny version (seconds)")
    b.add_argument("--check", action="store_true",
                   help="exit 1 when a figure misses the target stated beside its benchmark")
    for module in COMMANDS:
        importlib.import_module(module).add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = _parser()
    if argv and argv[0] == "serve":
        try:
            return cmd_serve(argparse.Namespace(), argv[1:])
        except BlackboxError as exc:
            print(f"blackbox: error: {exc}", file=sys.stderr)
            return 2
    a = p.parse_args(argv)
    handlers = {"run": cmd_run, "resume": cmd_resume, "plot": cmd_plot, "demo": cmd_demo,
                "bench": cmd_bench}
    try:
        return int(handlers[a.cmd](a) if a.cmd in handlers else a.handler(a))
    except BlackboxError as exc:
        print(f"blackbox: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"blackbox: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
