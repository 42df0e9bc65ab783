"""``blackbox prefer``: tune a picture (or a tagline) to a person's taste, from rankings only.

Examples::

    blackbox prefer --demo svg --dim 12 --budget 30 --port 8765 --journal runs/prefer
    blackbox prefer --demo tagline --budget 20 --journal runs/tagline
    blackbox prefer --demo tagline --judge http://127.0.0.1:8000/v1 --model toy --budget 20
    blackbox prefer --terminal --demo svg --dim 12 --budget 30 --journal runs/prefer

The command prints ``open http://127.0.0.1:PORT/?token=...`` on one line; open it in a browser
and click the candidates in order of preference. ZO-RankSGD (Tang, Rybin, Chang, ICLR 2024,
https://arxiv.org/abs/2303.03751) proposes the next candidates from each answer. Every answer is
journaled before the strategy hears of it: stop the command at any time and run it again with the
same ``--journal`` to resume (answered rankings are replayed, the pending one is shown again).
With ``--terminal`` no page is served: the candidates are printed (pictures are written to
JOURNAL/candidates/ and their paths printed) and the order is typed as a line of numbers, best
first ("3 1"; "3 ?" can't decide the rest; u undo; q stop); the journal is the same, so a run
can be resumed on the page or in the terminal.
With ``--judge URL`` an LLM judge (pairwise, both orders) ranks the taglines instead of a person.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "prefer", help="tune a picture or a tagline to your taste by ranking candidates",
        description="Tune a picture (or a tagline) to a person's taste, from rankings only.",
        epilog=__doc__.split("\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demo", choices=("svg", "tagline"), default="svg",
                   help="svg: a procedural picture; tagline: a product tagline (default svg)")
    p.add_argument("--dim", type=int, default=12, help="latent dimension of the svg demo")
    p.add_argument("--budget", type=int, default=30, help="answers (rankings) to ask for")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only)")
    p.add_argument("--port", type=int, default=0, help="port of the ranking page (0: any)")
    p.add_argument("--journal", help="journal directory: resume by running again with it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--m", type=int, default=6, help="candidates per ranking (default 6)")
    p.add_argument("--k", type=int, default=2, help="favourites to click per ranking (default 2)")
    p.add_argument("--mu", type=float, default=0.3, help="perturbation radius (default 0.3)")
    p.add_argument("--undo", type=float, default=0.0, metavar="SECONDS",
                   help="how long an answer can be undone before it is told (default 0)")
    p.add_argument("--judge", metavar="URL", help="an OpenAI-compatible base URL: an LLM ranks")
    p.add_argument("--model", default="toy", help="the judge's model name (default toy)")
    p.add_argument("--linger", type=float, default=2.0,
                   help="seconds the page stays up after the last answer (default 2)")
    p.add_argument("--terminal", action="store_true",
                   help="rank in this terminal instead of a browser page")
    p.add_argument("--confirm", action="store_true",
                   help="--terminal: each answer waits for Enter, so u can still undo it")
    p.set_defaults(handler=run_prefer)


def _check(a: argparse.Namespace) -> None:
    from blackbox.errors import ConfigError

    for name, lo in (("budget", 1), ("dim", 1), ("m", 2), ("k", 1)):
        if getattr(a, name) < lo:
            raise ConfigError(f"--{name} must be >= {lo}, got {getattr(a, name)}")
    if a.k > a.m:
        raise ConfigError(f"--k must be <= --m = {a.m}, got {a.k}")
    if not a.mu > 0:
        raise ConfigError(f"--mu must be > 0, got {a.mu}")
    if a.judge and a.demo != "tagline":
        raise ConfigError("--judge ranks text: use it with --demo tagline")
    if a.terminal and a.judge:
        raise ConfigError("--terminal is for a person: leave out --judge (or --terminal)")
    if a.confirm and not a.terminal:
        raise ConfigError("--confirm applies to --terminal (the page undoes with --undo SECONDS)")
    if a.undo and a.terminal:
        raise ConfigError("--undo SECONDS applies to the page: with --terminal use --confirm")


def _oracle(a: argparse.Namespace, render: Any, dim: int) -> Any:
    if a.judge:
        from oracles.http import OpenAIClient
        from oracles.judge import LLMJudge

        cache = str(Path(a.journal) / "judge-cache.sqlite") if a.journal else None
        client = OpenAIClient(a.judge, model=a.model, cache=cache)
        return LLMJudge(client, render, dim=dim,
                        criterion="Which tagline would make you want to try the product?")
    from oracles.human import HumanRanker, TerminalRanker

    log = str(Path(a.journal) / "human-answers.jsonl") if a.journal else None
    title = "Which picture do you like best?" if a.demo == "svg" else "Which tagline is best?"
    if a.terminal:
        files = Path(a.journal) / "candidates" if a.journal else None
        return TerminalRanker(dim, render, title=title, budget=a.budget, confirm=a.confirm,
                              log=log, files=files)
    return HumanRanker(dim, render, title=title, host=a.host, port=a.port, budget=a.budget,
                       undo_seconds=a.undo, log=log, linger=a.linger)


def run_prefer(a: argparse.Namespace) -> int:
    import numpy as np

    from blackbox.budget import Budget
    from blackbox.runner import minimize
    from blackbox.spaces import Box

    _check(a)
    if a.demo == "svg":
        from apps.prefer.svg import SvgPicture

        render: Any = SvgPicture(a.dim, seed=a.seed)
        dim = a.dim
    else:
        from apps.prefer.tagline import Tagline

        render = Tagline()
        dim = render.dim
    if a.journal:
        Path(a.journal).mkdir(parents=True, exist_ok=True)
    oracle = _oracle(a, render, dim)
    asked0 = _answered(oracle)
    strategy = {"name": "zo_ranksgd", "m": a.m, "k": a.k, "mu": a.mu, "lr": 1.0}
    try:
        res = minimize(oracle, strategy, np.zeros(dim), seed=a.seed,
                       budget=Budget(max_steps=a.budget), space=Box(-1.0, 1.0, dim),
                       journal=a.journal, progress=False)
        _report(a, res, render, oracle, asked0)
    finally:
        oracle.close()  # minimize closed it already unless it failed; closing twice is fine
    return 0 if res.success else 130


def _answered(oracle: Any) -> int | None:
    """Answers a person has given so far (the page's board, or the terminal's count)."""
    board = getattr(oracle, "board", None)
    return getattr(board if board is not None else oracle, "answered", None)


def _report(a: argparse.Namespace, res: Any, render: Any, oracle: Any, asked0: int | None
            ) -> None:
    now = _answered(oracle)
    new = now - asked0 if now is not None and asked0 is not None else res.nit
    print(f"answers: {res.nit} ({res.nit - new} replayed from the journal, {new} asked now)",
          flush=True)
    best = render(res.x)
    if a.demo == "svg":
        out = Path(a.journal or ".") / "best.svg"
        out.write_text(best)
        print(f"your picture: {out}", flush=True)
    else:
        print(f"best tagline: {best}", flush=True)
    if getattr(oracle, "comparisons", None) is not None:
        print(f"judge comparisons: {oracle.comparisons}", flush=True)
    if not res.success and a.journal:
        print(f"stopped: run the same command again (--journal {a.journal}) to resume",
              flush=True)
