"""The ART comparison in reduced form: both sides run on the same images and count queries."""

from __future__ import annotations

import pytest

pytest.importorskip("art")


@pytest.mark.slow
def test_bench_attacks_reduced_runs_both_sides_and_counts_queries():
    from apps.bench import check_targets
    from apps.bench.attacks import TARGETS, run

    res = run(quick=True, n=2)
    rows = res["rows"]
    ours = [k for k in rows if k.startswith("ours")]
    art = [k for k in rows if k.startswith("ART")]
    assert len(ours) >= 5 and len(art) >= 6
    for name, r in rows.items():
        assert r["images"] == 2, name
        assert 0 < r["total_queries"] <= 2 * r["cap"] + 2 * 100, name  # every row counted
    assert {"SquareAttack", "ZooAttack", "HopSkipJump", "SimBA"} <= {
        w for k in art for w in k.split()}
    checks = check_targets(res, TARGETS)
    assert all(c["measured"] is not None for c in checks)  # every target has its figure
    assert "attack" in res["table"] and len(res["table"].splitlines()) == len(rows) + 1
