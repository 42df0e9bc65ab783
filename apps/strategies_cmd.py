"""``blackbox strategies``: every registered strategy with its options, defaults, ranges and paper.

The listing is read from the strategies' own option declarations (``blackbox.options``), the
same ones that check the options and give ``blackbox run`` / TOML configs their errors, so it
cannot drift from the code.

    blackbox strategies              # all strategies, their options and papers
    blackbox strategies zo_sgd       # one of them
    blackbox strategies mezo         # MeZO, the torch mode (imports torch)
    blackbox strategies --json       # the same as JSON
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "listing"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "strategies", help="list the strategies: options, defaults, ranges, paper",
        description="List the strategies with their options (default, allowed values, the "
                    "paper's symbol) and the paper each implements.",
        epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="strategies to show (default: all registered; "
                                            "'mezo' for the torch mode)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=_main)


def _entry(name: str) -> dict[str, Any]:
    from blackbox.options import describe
    from blackbox.registry import STRATEGIES

    if name == "mezo":
        from strategies.mezo_updates import MeZOSettings

        cls: Any = MeZOSettings
        title, info = "MeZO", "in-place SPSA fine-tuning of a torch module (torch mode)"
    else:
        cls = STRATEGIES.get(name)
        title, info = cls.__name__, STRATEGIES.info(name)
    return {"name": name, "class": title, "summary": info, "paper": getattr(cls, "paper", ""),
            "options": [{k: _jsonable(v) for k, v in row.items()} for row in describe(cls)
                        if row["name"] != "space"]}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, tuple):
        return [_jsonable(e) for e in v]
    return repr(v)


def listing(names: list[str] | None = None) -> list[dict[str, Any]]:
    """The entries of ``names`` (default: every registered strategy)."""
    from blackbox.registry import STRATEGIES

    return [_entry(n) for n in (names or STRATEGIES.names())]


def _text(entries: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for e in entries:
        lines.append(f"{e['name']} ({e['class']}): {e['summary']}")
        if e["paper"]:
            lines.append(f"  paper: {e['paper']}")
        width = max((len(o["name"]) for o in e["options"]), default=0)
        for o in e["options"]:
            extra = [f"default {o['default']!r}"]
            if o["allowed"]:
                extra.append(o["allowed"])
            if o["paper"]:
                extra.append(f"paper: {o['paper']}")
            if o["old_name"]:
                extra.append(f"was: {o['old_name']}")
            lines.append(f"  {o['name']:<{width}}  {o['doc']} ({'; '.join(extra)})")
        lines.append("")
    lines.append("Options go in [strategy] of a config file, or as --opt KEY=VALUE to "
                 "blackbox run; 'blackbox strategies mezo' shows the torch mode.")
    return "\n".join(lines)


def _main(a: argparse.Namespace) -> int:
    entries = listing(list(a.names))
    print(json.dumps(entries, indent=1) if a.json else _text(entries))
    return 0
