"""Every README snippet is a test.

Each ```python block runs in a fresh interpreter in a temporary directory (the repository on
``PYTHONPATH``). A block may be preceded by an HTML comment the page does not show::

    <!-- readme-test: prelude
    model = ...            # hidden set-up, run before the block
    -->

and ``<!-- readme-test: marks=ray -->`` marks a block like a test (``ray``, ``slow``, ``http``).
Each ``blackbox ...`` line of a ```bash block must name a real sub-command whose flags parse.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
_BLOCK = re.compile(r"(?:<!-- readme-test:(?P<meta>.*?)-->\s*\n)?```(?P<lang>\w*)\n(?P<code>.*?)```",
                    re.S)


def blocks(lang: str) -> list[tuple[int, str, str]]:
    """(line number, directives, code) of each ``lang`` block of the README."""
    out = []
    for m in _BLOCK.finditer(README):
        if m.group("lang") == lang:
            out.append((README[: m.start("code")].count("\n") + 1, m.group("meta") or "",
                        m.group("code")))
    return out


def _params() -> list[object]:
    params = []
    for line, meta, code in blocks("python"):
        marks = re.search(r"marks=([\w,]+)", meta)
        names = marks.group(1).split(",") if marks else []
        prelude = meta.split("prelude", 1)[1] if "prelude" in meta else ""
        params.append(pytest.param(textwrap.dedent(prelude), code, id=f"line{line}",
                                   marks=[getattr(pytest.mark, n) for n in names]))
    return params


def test_readme_has_python_snippets() -> None:
    assert len(blocks("python")) >= 5


@pytest.mark.parametrize(("prelude", "code"), _params())
def test_python_snippet_runs(prelude: str, code: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "MPLBACKEND": "Agg"}
    src = tmp_path / "snippet.py"
    src.write_text(prelude + "\n" + code)
    proc = subprocess.run([sys.executable, str(src)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _cli_lines() -> list[str]:
    lines = []
    for _, _, code in blocks("bash"):
        for raw in code.replace("\\\n", " ").splitlines():
            raw = raw.split(" #")[0].strip()
            raw = re.sub(r"^(\w+=\S+\s+)+", "", raw)  # leading VAR=value
            if raw.startswith((".venv/bin/blackbox ", "blackbox ")):
                lines.append(raw.split("blackbox ", 1)[1].split("&&")[0].strip().rstrip("&").strip())
    return lines


def test_readme_shows_cli_lines() -> None:
    assert len(_cli_lines()) >= 5


@pytest.mark.parametrize("line", _cli_lines())
def test_cli_line_parses(line: str) -> None:
    from apps.cli import _parser

    argv = shlex.split(line)
    if argv[0] == "serve":  # the server has a parser of its own
        from oracles.serve_cli import build_parser

        build_parser().parse_args(argv[1:])
        return
    if "|" in argv[1] if len(argv) > 1 else False:  # "bench strategies|parallel|...": each one
        for choice in argv[1].split("|"):
            _parser().parse_args([argv[0], choice, *argv[2:]])
        return
    _parser().parse_args(argv)
