"""The docs hold: no help text or README line cites a file the repository does not contain."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from apps.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
_TOP = ("blackbox", "oracles", "strategies", "apps", "examples", "scripts", "tests", ".ci")
_PATH = re.compile(r"(?<![\w/.-])((?:%s)/[\w./-]*\w)" % "|".join(re.escape(t) for t in _TOP))


def cited_paths(text: str) -> set[str]:
    """Repository paths (under a top-level folder of ours) that ``text`` mentions.

    >>> sorted(cited_paths("see blackbox/config.py and examples/attack.py; not runs/x.png"))
    ['blackbox/config.py', 'examples/attack.py']
    """
    return {m.rstrip(".") for m in _PATH.findall(text)}


def _missing(text: str) -> list[str]:
    return sorted(p for p in cited_paths(text) if not (ROOT / p).exists())


def _help_texts() -> dict[str, str]:
    parser = _parser()
    texts = {"blackbox": parser.format_help()}
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():  # type: ignore[union-attr]
        texts[name] = p.format_help()
    return texts


def test_checker_sees_a_missing_file() -> None:
    assert _missing("run blackbox/no_such_module.py") == ["blackbox/no_such_module.py"]


def test_readme_cites_only_files_that_exist() -> None:
    assert _missing((ROOT / "README.md").read_text()) == []


@pytest.mark.parametrize("command", sorted(_help_texts()))
def test_help_cites_only_files_that_exist(command: str) -> None:
    assert _missing(_help_texts()[command]) == []


def test_serve_help_cites_only_files_that_exist() -> None:
    from oracles.serve_cli import main as serve_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        serve_main(["--help"])
    assert "--port" in out.getvalue() and _missing(out.getvalue()) == []
