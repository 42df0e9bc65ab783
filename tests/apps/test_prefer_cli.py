"""``blackbox prefer``: its one-line URL, bad flags, and kill-and-resume in a real browser."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("BLACKBOX_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(*flags: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "apps.cli", "prefer", *flags], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert line.startswith("open http://127.0.0.1:"), line + proc.stdout.read()
    return proc, line.split()[1]


def test_bad_flags_are_one_line_errors(capsys):
    from apps.cli import main

    for flags, msg in ((["--budget", "0"], "--budget must be >= 1"),
                       (["--k", "9"], "--k must be <= --m"),
                       (["--judge", "http://127.0.0.1:9/v1"], "use it with --demo tagline"),
                       (["--host", "0.0.0.0"], "loopback address")):
        assert main(["prefer", *flags]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1


@pytest.mark.browser
def test_kill_and_restart_reshows_the_pending_query_and_reasks_nothing(tmp_path):
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"chromium is not installed ({CHROMIUM}); apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser extra (playwright)")
    flags = ["--demo", "svg", "--dim", "6", "--budget", "5", "--port", str(free_port()),
             "--journal", str(tmp_path / "run"), "--linger", "0.5"]
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = b.new_page()
        proc, url = start(*flags)
        answered: list[frozenset[str]] = []
        pg.goto(url)
        qid = None
        for _ in range(2):
            qid, cands = _answer(pg, qid, answered)
        qid = _wait(pg, qid)
        pending = frozenset(_images(pg).values())
        proc.send_signal(signal.SIGKILL)  # no clean-up of any kind
        proc.wait(10)
        proc, url = start(*flags)
        pg.goto(url)
        qid = _wait(pg, None)
        assert frozenset(_images(pg).values()) == pending  # the pending query, shown again
        before, qid = list(answered), None
        for _ in range(3):
            qid, cands = _answer(pg, qid, answered)
        assert _wait(pg, qid) == "done"
        out = proc.stdout.read()
        assert proc.wait(30) == 0, out
        assert not set(answered[2:]) & set(before)  # nothing answered was asked again
        assert "answers: 5 (2 replayed from the journal, 3 asked now)" in out
        assert (tmp_path / "run" / "best.svg").read_text().startswith("<svg")
        b.close()


def _wait(pg, prev):
    sel = 'body[data-query="done"], body[data-query^="q"]'
    if prev:
        sel = f'body[data-query="done"], body[data-query^="q"]:not([data-query="{prev}"])'
    pg.wait_for_selector(sel, state="attached", timeout=30_000)
    return pg.get_attribute("body", "data-query")


def _images(pg):
    return {c.get_attribute("data-cid"): c.query_selector("img").get_attribute("src")
            for c in pg.query_selector_all(".card")}


def _answer(pg, prev, answered):
    qid = _wait(pg, prev)
    cands = _images(pg)
    answered.append(frozenset(cands.values()))
    txt = pg.inner_text("#help")
    top = 1 if txt.startswith("Click the one") else int(txt.split("your ")[1].split()[0])
    for cid in sorted(cands)[:top]:
        pg.click(f"#cand-{cid}")
    pg.click("#submit")
    return qid, cands


def _blocks(out: str) -> list[frozenset[bytes]]:
    """The pictures (file contents) of every query the terminal showed, in order."""
    paths = [re.findall(r"^  \[\d+\] (.*)$", b, re.MULTILINE) for b in out.split("\n== ")[1:]]
    return [frozenset(Path(p).read_bytes() for p in block) for block in paths]


def test_terminal_ranks_without_a_browser_and_resumes_from_the_same_journal(
        tmp_path, monkeypatch, capsys):
    from apps.cli import main

    flags = ["prefer", "--terminal", "--demo", "svg", "--dim", "4", "--m", "4", "--k", "2",
             "--budget", "5", "--journal", str(tmp_path / "run")]
    monkeypatch.setattr("sys.stdin", io.StringIO("9\n1 ?\n1\n"))  # then the input ends: a stop
    assert main(flags) == 130
    first = capsys.readouterr().out
    assert "  ! numbers must be 1..4, got '9'" in first and "open http" not in first
    assert "answers: 2 (0 replayed from the journal, 2 asked now)" in first
    shown1 = _blocks(first)
    assert len(shown1) == 3 and all(len(b) >= 4 for b in shown1)
    assert str(tmp_path / "run" / "candidates" / "answer0001-1.svg") in first
    monkeypatch.setattr("sys.stdin", io.StringIO("1\n1\n1\n"))
    assert main(flags) == 0
    second = capsys.readouterr().out
    shown2 = _blocks(second)
    assert shown2[0] == shown1[2]  # the pending query, shown again
    assert not set(shown2) & set(shown1[:2])  # nothing answered is asked again
    assert "answers: 5 (2 replayed from the journal, 3 asked now)" in second
    assert (tmp_path / "run" / "best.svg").read_text().startswith("<svg")


def test_terminal_flags_are_checked(capsys):
    from apps.cli import main

    for flags, msg in ((["--terminal", "--demo", "tagline", "--judge", "http://127.0.0.1:9/v1"],
                        "--terminal is for a person"), (["--confirm"], "--confirm applies to"),
                       (["--terminal", "--undo", "3"], "with --terminal use --confirm")):
        assert main(["prefer", *flags]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1
