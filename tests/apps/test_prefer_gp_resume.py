"""The peer's long GP runs resume: its study is kept in an optuna journal beside the answer log,
so a run stopped at any point goes on after its last answer instead of from answer 1 (a d = 100
run to 200 answers takes hours of CPU)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("optuna_dashboard")
pytest.importorskip("botorch")

from apps.bench.preference import _gp  # noqa: E402

pytestmark = pytest.mark.slow


def answers(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_a_stopped_gp_run_goes_on_after_its_last_answer(tmp_path):
    log = tmp_path / "d3.jsonl"
    first = _gp(3, 0, 0.0, 2, log)
    assert (tmp_path / "d3.jsonl.optuna").exists()
    # a kill between storing answer 2 and logging it: the log loses its last line
    lines = log.read_text().splitlines()
    log.write_text(lines[0] + "\n")
    more = _gp(3, 0, 0.0, 4, log)
    assert more["curve"][:2] == first["curve"]  # the stored answers, not asked again
    recs = answers(log)
    assert [r["answer"] for r in recs] == [1, 2, 3, 4]
    assert recs[1]["cut"] == first["curve"][1] and recs[1]["ask_s"] == []  # logged late, no times
    assert [r["cut"] for r in recs] == more["curve"]
    assert len(recs[2]["ask_s"]) == 3 and more["s_per_answer"] > 0
    # answer 3 showed the 3 proposals pending at the stop: 4 first trials, 3 more per answer
    assert trials(log) == 4 + 3 * 4
    again = _gp(3, 0, 0.0, 4, log)  # a finished run asks nothing more
    assert again["curve"] == more["curve"] and len(answers(log)) == 4 and trials(log) == 16


def trials(log):
    from apps.bench.preference import _gp_storage
    from optuna_dashboard.preferential import load_study

    return len(load_study(study_name="gp-d3-seed0-T0.0", storage=_gp_storage(log)).trials)
