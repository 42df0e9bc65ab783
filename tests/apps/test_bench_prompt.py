"""``blackbox bench prompt``'s plumbing against ``blackbox serve --model toy`` (the figures
themselves are measured against the real model, never in tests): BDPL's first step run through
the batched path twice, the one-by-one pairs split between the two halves, the same label
log-probabilities on both paths."""

from __future__ import annotations

import pytest

from apps.bench import check_targets
from apps.bench import prompt as bench
from apps.prompt.server import LocalServer


@pytest.mark.http
def test_quick_run_against_the_toy_server(monkeypatch):
    srv = LocalServer("toy")
    srv.ensure()
    try:
        monkeypatch.setenv("BLACKBOX_BENCH_SERVER", srv.base)
        r = bench.run(quick=True)
    finally:
        srv.stop()
    assert r["k_demos"] == 0 and r["requests_per_run"] == 1  # tune-prompt's defaults, one step
    assert 1 <= r["candidates"] <= bench.SAMPLES and r["examples_per_call"] == 8
    assert r["batched_cached"]["runs_scored_the_same"] is True
    # every 2nd example of each candidate, one at a time; all the candidates' examples batched
    assert r["one_per_example"]["scored"] == r["candidates"] * 4
    assert r["batched_cached"]["scored"] == r["candidates"] * 8
    assert r["max_abs_diff"] <= 1e-3 and r["speedup"] > 0
    rows = check_targets(r, bench.TARGETS)
    assert [c["figure"] for c in rows if c["measured"] is None] == []
