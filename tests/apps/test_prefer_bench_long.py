"""``bench preference_long``: reads the GP's logs, compares where the GP got, never passes blind."""

from __future__ import annotations

import json

import pytest

from apps.bench import check_targets
from apps.bench import preference_long as long

_CHECK = long._best_of_4_check


@pytest.fixture(autouse=True)
def small_best_of_4_check(monkeypatch):
    monkeypatch.setattr(long, "_best_of_4_check", lambda: _CHECK(seeds=2, answers=30))


def write_log(path, d, seed, n, cut=lambda a: a / 100, t=0.0, start=1):
    with open(path, "a") as fh:
        for a in range(start, n + 1):
            fh.write(json.dumps({"d": d, "seed": seed, "T": t, "answer": a, "cut": cut(a),
                                 "ask_s": [2.0, 2.0, 2.0], "cpu_s": [1.0, 1.0, 1.0]}) + "\n")


def test_read_logs_keeps_counted_answers_and_the_latest_restart(tmp_path):
    write_log(tmp_path / "a.jsonl", 100, 0, 5)
    write_log(tmp_path / "a.jsonl", 100, 0, 3)  # started again: the latest run counts
    with open(tmp_path / "a.jsonl", "a") as fh:
        fh.write('{"d": 100, "seed": 0, "T": 0.0, "answer": 9, "cut": 0.1, "ask_s": []}\n{"d": 1')
    write_log(tmp_path / "b.jsonl", 10, 2, 4)
    (tmp_path / "notes.txt").write_text("not a log")
    logs = long.read_logs(tmp_path)
    assert sorted(logs) == [10, 100]
    assert [r["answer"] for r in logs[100][(0, 0.0)]] == [1, 2, 3]
    assert len(logs[10][(2, 0.0)]) == 4


def test_margins_only_where_the_gp_got_and_targets_follow(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(long, "OURS_ANSWERS", 60)  # the marks compared here end at 50
    logs = tmp_path / "logs"
    logs.mkdir()
    for seed, n in ((0, 60), (1, 55), (2, 40)):  # two seeds reach 50 answers, none 100
        write_log(logs / f"d100_s{seed}.jsonl", 100, seed, n, cut=lambda a: 0.2 + a / 200)
    write_log(logs / "d10_s0.jsonl", 10, 0, 30, cut=lambda a: min(0.95, a / 20))
    monkeypatch.setenv(long.LOG_ENV, str(logs))
    r = long.run(quick=True)
    e = r["d100"]
    assert e["gp"]["seeds_at"] == {"10": 3, "25": 3, "50": 2}
    assert e["gp"]["cut_at"]["50"] == pytest.approx(0.2 + 50 / 200)
    assert set(e["margin_at"]) == {"10", "25", "50"} and e["marks_measured"] == 1
    assert e["worst_margin"] == e["margin_at"]["50"]
    assert e["gp"]["s_per_proposal"]["26-50"] == 2.0 and e["gp"]["cpu_per_proposal"]["1-10"] == 1.0
    assert r["d10"]["gp"]["answers_to_90_each"] == [18]
    assert r["d10"]["answers_to_90_ratio_gp_over_ours"] == pytest.approx(
        18 / r["d10"]["ours"]["answers_to_90"])
    checks = {c["figure"]: c["ok"] for c in check_targets(r, long.TARGETS)}
    assert checks["d100.marks_measured"] is True
    assert checks["d100.worst_margin"] is (e["worst_margin"] >= 0)
    out = capsys.readouterr().out
    assert "ours - the GP (its better row)" in out and "GP per proposal by answers" in out
    assert (tmp_path / r["plot"]).stat().st_size > 10_000


def test_missing_logs_are_said_and_the_gp_runs_here_and_the_targets_miss(tmp_path, monkeypatch,
                                                                         capsys):
    import apps.bench.preference as pref

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(long, "OURS_ANSWERS", 20)
    calls = []

    def fake_gp(d, seed, temp, answers, log):  # the real one takes seconds per proposal
        calls.append((d, answers))
        write_log(log, d, seed, answers, t=temp)

    monkeypatch.setattr(pref, "_gp", fake_gp)
    monkeypatch.setenv(long.LOG_ENV, str(tmp_path / "nowhere"))
    r = long.run(quick=True)
    assert calls == [(10, 3), (100, 3)]
    out = capsys.readouterr().out
    assert f"no GP logs for d = 100 in {tmp_path / 'nowhere'}" in out
    assert "a short run here" in r["gp_source"]["d100"]
    checks = {c["figure"]: c for c in check_targets(r, long.TARGETS)}
    assert checks["d100.worst_margin"]["ok"] is False and checks["d100.worst_margin"][
        "measured"] is None
    assert checks["d100.marks_measured"]["ok"] is False


def test_the_recorded_gp_runs_behind_the_readme_table_are_shipped_and_whole():
    """The README's GP figures come from these logs: 3 seeds at d = 100 to 200 answers, and 3 at
    d = 10 past their 90% cuts (59, 66 and 57 answers); every answer counted from 1 without a
    gap."""
    logs = long.read_logs(long.RECORDED_LOGS)
    assert sorted(logs) == [10, 100]
    assert sorted(logs[100]) == [(0, 0.0), (1, 0.0), (2, 0.0)]
    assert [len(logs[100][(s, 0.0)]) for s in range(3)] == [200, 200, 200]
    assert sorted(logs[10]) == [(0, 0.0), (1, 0.0), (2, 0.0)]
    hits = [next(r["answer"] for r in logs[10][(s, 0.0)] if r["cut"] >= 0.9) for s in range(3)]
    assert hits == [59, 66, 57]
