"""A person ranks candidates in a terminal: :class:`TerminalRanker`, for a person without a browser.

Each group of a ranking query is printed with its candidates numbered ``[1]..[m]`` in a shuffled
display order (as on the page, :mod:`oracles.human`): text is printed as it is (control characters
shown as ``\\xNN`` so a candidate cannot drive the terminal), an image (PNG bytes or an SVG
string) is written to a file in ``files`` (``answerNNNN-P.svg``: answer number, shown position)
and its path printed. The person types the order as a
line of numbers, best first::

    3 1 2      the top 3, best first (exactly ``top`` numbers)
    3 ?        3 is best, can't decide the rest (where ties are allowed; "3" alone says the same)
    u          undo the last answer (until it is told: see below)
    q          stop here (as Ctrl-C or the end of the input): run again with the log to resume

A bad line is asked again with a one-line reason, and nothing is recorded. The answers of one
query are held until its last group is answered (``u`` goes back one group); with
``confirm=True`` the whole query's answer then waits for Enter (``u`` takes it back). An answer
is final once it can no longer be undone: it is then appended to ``log`` and fsynced *before*
:meth:`rank` returns it (before the runner journals it and the strategy is told), in the page's
format, so a run can be resumed from the terminal or from the page: answered candidates are
answered from the log, never asked twice.

The ranking semantics are the (m, k)-ranking oracle of Tang, Rybin, Chang, "Zeroth-Order
Optimization Meets Human Feedback: Provable Learning via Ranking Oracles", ICLR 2024,
https://arxiv.org/abs/2303.03751.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from blackbox.keys import Key
from oracles._human_common import (
    SHUFFLE_KEY,
    AnswerLog,
    candidate_payload,
    check_common_args,
    digest,
    stack_rows,
)

__all__ = ["TerminalRanker", "parse_order"]

Array = NDArray[np.float64]
UNDO, QUIT = "undo", "quit"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def parse_order(line: str, m: int, top: int, ties: bool) -> list[int] | str:
    """0-based display positions, best first, from a typed line; ``UNDO``/``QUIT``; or a reason.

    Examples:
        >>> parse_order("3 1", 4, 2, ties=False)
        [2, 0]
        >>> parse_order("2 ?", 4, 3, ties=True)
        [1]
        >>> parse_order("2 2", 4, 2, ties=False)
        'list distinct numbers, got 2 twice'
    """
    words = line.replace(",", " ").lower().split()
    if words in (["u"], ["undo"]):
        return UNDO
    if words in (["q"], ["quit"]):
        return QUIT
    open_end = bool(words) and words[-1] == "?"
    words = words[:-1] if open_end else words
    want = f"1..{top}" if ties else str(top)
    if not words:
        return f"type your top {want} as numbers 1..{m}, best first (e.g. \"{min(2, m)} 1\")" \
            if top > 1 else f"type the number (1..{m}) of the one you like best"
    if open_end and not ties:
        return f"this question wants exactly {top} numbers: \"?\" (can't decide) is not allowed"
    if not all(w.isdigit() and 1 <= int(w) <= m for w in words):
        bad = next(w for w in words if not (w.isdigit() and 1 <= int(w) <= m))
        return f"numbers must be 1..{m}, got {bad!r}"
    picks = [int(w) - 1 for w in words]
    if len(set(picks)) != len(picks):
        twice = next(w for w in words if words.count(w) > 1)
        return f"list distinct numbers, got {twice} twice"
    if not (1 if ties else top) <= len(picks) <= top:
        return f"list {want} numbers, got {len(picks)}"
    return picks


class TerminalRanker:
    """A ranking oracle answered by a person typing in a terminal.

    Args:
        dim: dimension of the points.
        render: ``point (d,) -> PNG bytes | SVG string | text``.
        title: the question printed above each group.
        budget: the answers the run will ask for (shown as progress).
        ties: allow "can't decide the rest" (fewer than ``top`` numbers).
        confirm: hold each query's answer until Enter, so ``u`` can take it back.
        log: the JSONL answer log (the page's format: one run can switch between the two).
        files: the folder image candidates are written to (default: a fresh temporary folder).
        sense: the oracle's sense (``"max"``: the person lists what they like most first).
        stdin: where lines are read (default ``sys.stdin``).
        stdout: where candidates and prompts are written (default ``sys.stdout``).
    """

    def __init__(self, dim: int, render: Callable[[Array], Any], *,
                 title: str = "Which do you prefer?", budget: int | None = None,
                 ties: bool = True, confirm: bool = False,
                 log: str | os.PathLike[str] | None = None,
                 files: str | os.PathLike[str] | None = None, sense: str = "max",
                 stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        check_common_args("TerminalRanker", dim, render, budget, sense)
        self.dim, self.render, self.sense, self.title = dim, render, sense, str(title)
        self.ties, self.confirm, self.budget = bool(ties), bool(confirm), budget
        self.name = "human"
        self._log = AnswerLog(log)
        self.answered, self.replayed, self.shown_queries = len(self._log.answers), 0, 0
        self._files = None if files is None else Path(files)
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout

    # -- the oracle --------------------------------------------------------------------------------
    def rank(self, points: Array, groups: Any, *, top: int, key: Key) -> NDArray[np.int64]:
        groups = np.asarray(groups, dtype=np.int64)
        pts = np.asarray(points, dtype=np.float64)
        shuffle = key.fold_in(SHUFFLE_KEY)
        rows: list[list[int]] = []
        asked: list[tuple[int, str, list[int]]] = []  # group, digest, local order: not yet final
        gi = 0
        while gi < len(groups):
            grp = groups[gi]
            dig = digest(pts[grp], int(top))
            old = self._log.answers.get(dig)
            if old is not None:  # answered before (a crash, or on the page): never ask twice
                self.replayed += 1
                rows.append([int(grp[i]) for i in old])
                gi += 1
                continue
            got = self._ask(pts, grp, int(top), shuffle.fold_in(gi), len(asked))
            if isinstance(got, str):  # UNDO: back to the last group answered in this query
                g, _, _ = asked.pop()
                del rows[g:]
                gi = g
                continue
            asked.append((gi, dig, got))
            rows.append([int(grp[i]) for i in got])
            gi += 1
            if gi == len(groups) and self.confirm and not self._confirmed():
                g, _, _ = asked.pop()
                del rows[g:]
                gi = g
        for _, dig, local in asked:  # final: on disk before the strategy hears of it
            self._log.add(dig, local)
            self.answered += 1
        return stack_rows(rows)

    def _ask(self, pts: Array, grp: NDArray[np.int64], top: int, key: Key, held: int) -> Any:
        """Show one group; the chosen local indices (best first), or ``UNDO``."""
        perm = key.numpy().permutation(len(grp))
        self.shown_queries += 1
        self._show(pts, grp, perm, top, self.answered + held + 1)
        can_undo = held > 0
        ties = self.ties and top > 1
        while True:
            got = parse_order(self._readline(), len(grp), top, ties)
            if got == QUIT:
                raise KeyboardInterrupt("stopped at the person's request")
            if got == UNDO:
                if can_undo:
                    return UNDO
                got = ("nothing to undo: the last answer was already told" +
                       ("" if self.confirm else " (confirm=True / --confirm holds each answer "
                        "until Enter)"))
            if isinstance(got, str):
                self._say(f"  ! {got}")
                continue
            return [int(perm[p]) for p in got]

    def _confirmed(self) -> bool:
        while True:
            self._say("  Enter: send this answer; u: undo it")
            line = self._readline().strip().lower()
            if line == "":
                return True
            if line in ("u", "undo"):
                return False
            if line in ("q", "quit"):
                raise KeyboardInterrupt("stopped at the person's request")
            self._say(f"  ! press Enter to send, or type u to undo, got {line!r}")

    # -- the terminal ------------------------------------------------------------------------------
    def _show(self, pts: Array, grp: NDArray[np.int64], perm: Any, top: int, number: int
              ) -> None:
        total = f" of {self.budget}" if self.budget else ""
        lines = ["", f"== {self.title}  (answer {number}{total})"]
        for pos, local in enumerate(perm):
            shown = self._candidate(pts[grp[local]], f"answer{number:04d}-{pos + 1}")
            lines.append(f"  [{pos + 1}] {shown}")
        m = len(grp)
        if top == 1:
            ask = f"The number of the one you like best (1..{m})"
        else:
            ask = f"Your top {top} of {m}, best first (e.g. \"{min(2, m)} 1\"" + (
                "; fewer then ? if you can't decide the rest)" if self.ties else ")")
        lines.append(f"{ask}; u: undo, q: stop")
        self._say("\n".join(lines))

    def _candidate(self, point: Array, stem: str) -> str:
        rendered = self.render(point)
        payload = candidate_payload(rendered)  # validates: PNG bytes, SVG or text
        if payload["kind"] == "text":
            text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", payload["text"])
            return text.replace("\n", "\n      ")
        folder = self._folder()
        ext = "png" if isinstance(rendered, (bytes, bytearray)) else "svg"
        path = folder / f"{stem}.{ext}"
        if ext == "png":
            path.write_bytes(bytes(rendered))
        else:
            path.write_text(rendered, encoding="utf-8")
        return str(path)

    def _folder(self) -> Path:
        if self._files is None:
            self._files = Path(tempfile.mkdtemp(prefix="ranking-candidates-"))
        self._files.mkdir(parents=True, exist_ok=True)
        return self._files

    def _readline(self) -> str:
        self._out.write("> ")
        self._out.flush()
        line = self._in.readline()
        if not line:  # the end of the input: the person has gone
            self._say("")
            raise KeyboardInterrupt("the input ended")
        if not getattr(self._in, "isatty", lambda: False)():  # a script: echo it, as typed
            self._out.write(line if line.endswith("\n") else line + "\n")
        return line

    def _say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def close(self) -> None:
        """Nothing to release (the files stay for the person to look at)."""

    def __repr__(self) -> str:
        return f"TerminalRanker(dim={self.dim}, title={self.title!r})"
