"""The terminal ranker: a scripted person reads the printed candidates and types an order."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from blackbox import Budget, minimize
from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.spaces import Box
from oracles._human_terminal import parse_order
from oracles.human import TerminalRanker, _digest

PTS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def text(p):
    return " ".join(f"{v:+.4f}" for v in p)


class Person(io.StringIO):
    """stdin: each line is a string, or ``f(shown)`` of the last candidates printed
    (``{number: what was printed}``); records every line it typed."""

    def __init__(self, out: io.StringIO, *lines):
        super().__init__()
        self.out, self.lines, self.typed = out, list(lines), []

    def shown(self) -> dict[int, str]:
        block = self.out.getvalue().rsplit("== ", 1)[-1]
        return {int(n): t for n, t in re.findall(r"^  \[(\d+)\] (.*)$", block, re.MULTILINE)}

    def readline(self, *args) -> str:
        if not self.lines:
            return ""  # the end of the input
        line = self.lines.pop(0)
        line = line(self.shown()) if callable(line) else line
        self.typed.append(line)
        return line + "\n"


def make(lines=(), **kw):
    out = io.StringIO()
    person = Person(out, *lines)
    return TerminalRanker(kw.pop("dim", 2), kw.pop("render", text), stdin=person, stdout=out,
                          **kw), person, out


def by_text(*rows):
    """An answer naming ``rows`` (of PTS) by the number they are shown with."""
    def answer(shown):
        num = {t: n for n, t in shown.items()}
        return " ".join(str(num[text(PTS[r])]) for r in rows)
    return answer


def test_the_typed_order_maps_back_to_rows_and_is_logged_before_it_is_returned(tmp_path):
    log = tmp_path / "answers.jsonl"
    h, person, out = make([by_text(3, 1)], log=log, budget=9)
    order = h.rank(PTS, np.arange(4)[None], top=2, key=Key(1))
    assert order.tolist() == [[3, 1]]
    shown = out.getvalue()
    assert "answer 1 of 9" in shown and "Your top 2 of 4, best first" in shown
    assert [t for _, t in sorted(person.shown().items())] != [text(p) for p in PTS]  # shuffled
    rec = json.loads(log.read_text())
    assert set(rec) == {"digest", "order", "t"} and rec["order"] == [3, 1]
    assert rec["digest"] == _digest(PTS, 2) and h.answered == 1


@pytest.mark.parametrize("line,reason", [
    ("0 1", "numbers must be 1..4, got '0'"), ("1 1", "distinct numbers, got 1 twice"),
    ("1 2 3", "list 2 numbers, got 3"), ("a b", "numbers must be 1..4"), ("", "type your top 2"),
    ("?", "type your top 2"), ("2 ?", "exactly 2 numbers"), ("2", "list 2 numbers, got 1"),
    ("u", "nothing to undo: the last answer was already told"),
])
def test_a_bad_line_is_asked_again_with_a_one_line_reason_and_records_nothing(
        tmp_path, line, reason):
    h, person, out = make([line, "4 3"], log=tmp_path / "a.jsonl", ties=False)
    order = h.rank(PTS, np.arange(4)[None], top=2, key=Key(1))
    lines = out.getvalue().splitlines()
    bad = [x for x in lines if x.startswith(("> ", "  ! "))]
    assert bad[1].startswith("  ! ") and reason in bad[1]  # right after the first prompt
    assert sum(x.startswith("  ! ") for x in lines) == 1
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 1 and h.answered == 1
    shown = person.shown()
    assert order.tolist() == [[PTS.tolist().index([float(v) for v in shown[n].split()])
                                for n in (4, 3)]]


def test_cant_decide_lists_fewer_where_ties_are_allowed():
    h, _, _ = make([lambda s: by_text(2)(s) + " ?"])
    h2, _, _ = make(["3"])  # fewer numbers say the same
    assert h.rank(PTS, np.arange(4)[None], top=3, key=Key(1)).tolist() == [[2]]
    assert h2.rank(PTS, np.arange(4)[None], top=3, key=Key(1)).shape == (1, 1)
    assert parse_order("1 ?", 4, 1, ties=False).startswith("this question wants exactly 1")


def test_undo_goes_back_a_group_and_confirm_holds_the_answer_until_enter(tmp_path):
    groups = np.array([[0, 1], [2, 3]])
    log = tmp_path / "a.jsonl"
    h, person, out = make([by_text(0), "u", by_text(1), by_text(3), "u", by_text(2), "x", ""],
                          log=log, confirm=True)
    order = h.rank(PTS, groups, top=1, key=Key(2))
    assert order.tolist() == [[1], [2]]
    said = out.getvalue()
    assert said.count("Enter: send this answer; u: undo it") == 3  # after 3, after 2, after "x"
    assert "! press Enter to send, or type u to undo, got 'x'" in said
    recs = [json.loads(x)["order"] for x in log.read_text().splitlines()]
    assert recs == [[1], [0]] and h.answered == 2  # only the final answers, local indices


def test_images_are_written_to_files_and_their_paths_printed(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 8

    def render(p):
        return f"<svg xmlns='http://www.w3.org/2000/svg' id='{p[1]:.0f}'/>" if p[0] else png

    h, person, out = make(["1"], render=render, files=tmp_path / "files")
    h.rank(PTS, np.arange(4)[None], top=1, key=Key(1))
    paths = list(person.shown().values())
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == ["png", "png", "svg", "svg"]
    for p in paths:
        data = Path(p).read_bytes()
        assert p.startswith(str(tmp_path / "files")) and (data == png or data.startswith(b"<svg"))


def test_control_characters_in_text_are_shown_not_obeyed():
    h, person, out = make(["1"], render=lambda p: "\x1b[2Jclear" if p[0] else "a\nb")
    h.rank(PTS, np.arange(4)[None], top=1, key=Key(1))
    said = out.getvalue()
    assert "\x1b" not in said and "\\x1b[2Jclear" in said and "a\n      b" in said


def test_a_log_answers_again_without_asking_and_the_end_of_input_stops_like_ctrl_c(tmp_path):
    log = tmp_path / "a.jsonl"
    target = np.array([0.5, -0.3])

    def best(shown):
        d = {n: np.sum((np.array([float(v) for v in t.split()]) - target) ** 2)
             for n, t in shown.items()}
        return " ".join(str(n) for n in sorted(d, key=d.get)[:1])

    strategy = {"name": "zo_ranksgd", "m": 4, "k": 1, "mu": 0.2, "adapt_lr": False}
    h, person, _ = make([best] * 3, log=log)
    res = minimize(h, strategy, np.zeros(2), seed=3, budget=Budget(max_steps=6),
                   space=Box(-1.0, 1.0, 2), progress=False)
    assert not res.success and "interrupted" in res.message and res.nit == 3
    assert len(log.read_text().splitlines()) == 3  # every answer given is on disk
    h2, person2, _ = make([best] * 3, log=log)
    res2 = minimize(h2, strategy, np.zeros(2), seed=3, budget=Budget(max_steps=6),
                    space=Box(-1.0, 1.0, 2), progress=False)
    assert res2.success and res2.nit == 6 and h2.replayed == 3 and len(person2.typed) == 3


def test_q_stops_and_bad_settings_are_one_line_errors():
    h, _, _ = make(["q"])
    with pytest.raises(KeyboardInterrupt):
        h.rank(PTS, np.arange(4)[None], top=1, key=Key(1))
    for kw, msg in (({"dim": 0}, "dim must be an int >= 1"), ({"budget": 0}, "budget must be"),
                    ({"render": None}, "render must be a callable"),
                    ({"sense": "up"}, "sense must be 'min' or 'max'")):
        with pytest.raises(ConfigError, match=msg):
            make(**kw)


def test_the_page_and_the_terminal_share_one_answer_log(tmp_path):
    from oracles.human import HumanRanker

    log = tmp_path / "human-answers.jsonl"
    h, _, _ = make([by_text(2, 0)], log=log)
    first = h.rank(PTS, np.arange(4)[None], top=2, key=Key(5))
    page = HumanRanker(2, text, log=log, announce=lambda url: None)
    try:  # answered in the terminal: the page answers it from the log, showing nothing
        assert page.rank(PTS, np.arange(4)[None], top=2, key=Key(5)).tolist() == first.tolist()
        assert page.replayed == 1 and page.board.answered == 1
    finally:
        page.close()
