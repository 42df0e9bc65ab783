"""Journal and resume: answered queries are replayed, never re-sent; the result is unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from blackbox import minimize
from blackbox.errors import JournalMismatchError
from blackbox.journal import decode_array, encode_array, iter_answers
from oracles.functions import Rastrigin, Sphere, noisy


class Counter:
    def __init__(self, oracle):
        self.oracle, self.dim, self.sense, self.name = oracle, oracle.dim, oracle.sense, "f"
        self.points = 0

    def values(self, points, *, key):
        self.points += len(points)
        return self.oracle.values(points, key=key)


def test_arrays_round_trip_exactly():
    a = np.random.default_rng(0).standard_normal((3, 4)) * 1e-300
    b = decode_array(json.loads(json.dumps(encode_array(a))))
    assert b.dtype == a.dtype and np.array_equal(a, b)


def test_rerun_on_a_finished_journal_sends_nothing(tmp_path):
    f1 = Counter(noisy(Rastrigin(dim=3), 0.1))
    r1 = minimize(f1, "random_search", np.ones(3), seed=4, budget=503, journal=tmp_path)
    f2 = Counter(noisy(Rastrigin(dim=3), 0.1))
    r2 = minimize(f2, "random_search", np.ones(3), seed=4, budget=503, journal=tmp_path)
    assert f2.points == 0 and r2.ledger.oracles["f"].replayed == r1.nfev
    np.testing.assert_array_equal(r1.x, r2.x)
    assert r1.fun == r2.fun and r1.f_best == r2.f_best and r1.nfev == r2.nfev


def test_extending_the_budget_continues_the_run(tmp_path):
    full = minimize(Sphere(dim=3), "random_search", np.ones(3), seed=2, budget=1000)
    short = minimize(Counter(Sphere(dim=3)), "random_search", np.ones(3), seed=2, budget=400,
                     journal=tmp_path)
    # 39 batches of 10, 9 points of a truncated 40th (+ 1 final evaluation if x was not observed)
    assert short.nfev in (399, 400) and short.nit == 39
    f = Counter(Sphere(dim=3))
    res = minimize(f, "random_search", np.ones(3), seed=2, budget=1000, journal=tmp_path)
    # the 39 told batches and the truncated head of the 40th are reused; nothing is paid twice
    assert res.ledger.oracles["f"].replayed == 399
    assert f.points == full.nfev - 399
    np.testing.assert_array_equal(res.x, full.x)
    assert res.fun == full.fun and res.nfev == full.nfev


def test_journal_of_another_run_is_refused(tmp_path):
    minimize(Sphere(dim=3), "random_search", np.ones(3), seed=1, budget=50, journal=tmp_path)
    with pytest.raises(JournalMismatchError, match="written for another seed"):
        minimize(Sphere(dim=3), "random_search", np.ones(3), seed=2, budget=50, journal=tmp_path)
    with pytest.raises(JournalMismatchError, match="written for another strategy"):
        minimize(Sphere(dim=3), {"name": "random_search", "popsize": 3}, np.ones(3), seed=1,
                 budget=50, journal=tmp_path)
    with pytest.raises(JournalMismatchError, match="written for another oracle"):
        minimize(Rastrigin(dim=3), "random_search", np.ones(3), seed=1, budget=50, journal=tmp_path)


def test_a_torn_last_line_still_resumes(tmp_path):
    ref = minimize(Sphere(dim=3), "random_search", np.ones(3), seed=5, budget=300)
    minimize(Counter(Sphere(dim=3)), "random_search", np.ones(3), seed=5, budget=300, journal=tmp_path)
    path = tmp_path / "journal.jsonl"
    data = path.read_bytes()
    lines = data.split(b"\n")
    path.write_bytes(b"\n".join(lines[:10]) + b"\n" + lines[10][: len(lines[10]) // 2])
    f = Counter(Sphere(dim=3))
    res = minimize(f, "random_search", np.ones(3), seed=5, budget=300, journal=tmp_path)
    assert res.ledger.oracles["f"].replayed == 9 * 10  # 9 intact answers replayed
    np.testing.assert_array_equal(res.x, ref.x)
    assert len(list(iter_answers(tmp_path))) == len(ref.trace.pairs) + (ref.nfev % 10 > 0)


KILLED_RUN = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from blackbox import minimize
    from oracles.functions import Rastrigin, noisy

    class DiesAfter:
        def __init__(self, n):
            self.f, self.dim, self.sense, self.name, self.n, self.seen = noisy(Rastrigin(dim=5), 0.5), 5, "min", "f", n, 0
        def values(self, points, *, key):
            if self.seen + len(points) > self.n:
                os._exit(17)  # a hard kill: no cleanup, no flush
            self.seen += len(points)
            return self.f.values(points, key=key)

    minimize(DiesAfter(int(sys.argv[2])), {"name": "random_search", "popsize": 7}, np.ones(5),
             seed=11, budget=700, journal=sys.argv[1], progress=False)
    """
)


def test_a_killed_run_resumes_and_ends_identical(tmp_path):
    journal = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(journal), "300"], timeout=120)
    assert proc.returncode == 17
    answered = len(list(iter_answers(journal)))
    assert answered == 300 // 7  # every answered batch reached the journal
    f = Counter(noisy(Rastrigin(dim=5), 0.5))
    res = minimize(f, {"name": "random_search", "popsize": 7}, np.ones(5), seed=11, budget=700,
                   journal=journal, progress=False)
    ref = minimize(noisy(Rastrigin(dim=5), 0.5), {"name": "random_search", "popsize": 7},
                   np.ones(5), seed=11, budget=700, progress=False)
    assert f.points == ref.nfev - answered * 7  # only the missing queries were asked
    np.testing.assert_array_equal(res.x, ref.x)
    assert res.fun == ref.fun and res.f_best == ref.f_best and res.nfev == ref.nfev
    np.testing.assert_array_equal(res.trace.column("f_best"), ref.trace.column("f_best"))


# -- the generic append-only JSONL log ----------------------------------------------------------
def test_jsonl_log_appends_checks_its_header_and_cuts_a_torn_tail(tmp_path):
    from blackbox.journal import JsonlLog

    path = tmp_path / "sub" / "log.jsonl"
    with JsonlLog(path, {"run": 1, "cfg": {"lr": 0.1}}) as log:
        assert log.old_header is None and log.records == []
        for t in range(3):
            log.append({"t": t})
    path.write_bytes(path.read_bytes() + b'{"t": 3, "lo')  # a torn last line
    log = JsonlLog(path, {"run": 1, "cfg": {"lr": 0.1}})
    assert log.records == [{"t": 0}, {"t": 1}, {"t": 2}] and log.old_header["run"] == 1
    log.append({"t": 3})
    log.close()
    assert JsonlLog(path, {"run": 1, "cfg": {"lr": 0.1}}).records[-1] == {"t": 3}
    with pytest.raises(JournalMismatchError) as err:
        JsonlLog(path, {"run": 1, "cfg": {"lr": 0.2}})
    msg = str(err.value)
    assert "\n" not in msg and "written for another cfg" in msg and "use a new directory" in msg
    JsonlLog(path, {"run": 1, "cfg": {"lr": 0.2}}, fields=["run"]).close()  # only 'run' checked
