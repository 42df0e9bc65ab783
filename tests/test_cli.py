"""The blackbox command: run (flags and TOML), resume, plot, errors."""

from __future__ import annotations

import json
import subprocess
import sys

from apps.cli import main


def test_run_with_flags_prints_json(capsys):
    rc = main(["run", "--oracle", "sphere", "--dim", "4", "--strategy", "random_search",
               "--opt", "popsize=5", "--budget", "300", "--seed", "1", "--x0", "1", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nfev"] <= 300 and out["fun"] < 4.0 and len(out["x"]) == 4
    assert out["ledger"]["sphere"]["points"] == out["nfev"]


def test_run_config_resume_and_plot(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    journal = tmp_path / "journal"
    cfg.write_text(
        f"""
seed = 2
journal = "{journal}"
[oracle]
name = "rastrigin"
dim = 3
[strategy]
name = "random_search"
sigma = 0.3
[budget]
max_queries = 400
[space]
type = "box"
lower = -2.0
upper = 2.0
"""
    )
    assert main(["run", str(cfg), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (journal / "journal.jsonl").exists() and (journal / "convergence.png").stat().st_size > 1000
    assert main(["resume", str(journal), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["x"] == first["x"] and again["ledger"]["rastrigin"]["points"] == 0
    assert again["ledger"]["rastrigin"]["replayed"] == first["nfev"]
    assert main(["plot", str(journal), "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_bad_config_is_a_clear_error(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[oracle]\nname = "sphere"\ndim = 2\n[strategy]\nname = "random_search"\n')
    assert main(["run", str(cfg)]) == 2
    assert "[budget] is required" in capsys.readouterr().err
    cfg.write_text('[oracle]\nname = "sphere"\n[strategy]\nname = "x"\n[budget]\nmax_queries=1\n')
    assert main(["run", str(cfg)]) == 2
    assert "[oracle] needs 'dim'" in capsys.readouterr().err
    assert main(["resume", str(tmp_path)]) == 2
    assert "has no run.json" in capsys.readouterr().err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "apps.cli", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "demo" in out.stdout and "bench" in out.stdout


def test_demo_quick_runs_and_writes_the_plot(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cbo-rastrigin-20d" in out and "zo_sgd-quadratic-50d" in out
    assert (tmp_path / "convergence.png").stat().st_size > 5000
    assert (tmp_path / "cbo-rastrigin-20d" / "journal.jsonl").exists()
    assert "zo_signsgd" in out and (tmp_path / "attack" / "grid.png").stat().st_size > 5000
    report = json.loads((tmp_path / "attack" / "report.json").read_text())
    assert len(report["rows"]) == 5 and 0.0 <= report["success_rate"] <= 1.0


def test_bench_writes_json_for_every_module(tmp_path, capsys):
    assert main(["bench", "strategies", "--quick", "--out", str(tmp_path)]) == 0
    for name in ("overhead", "cbo_vs_cbx", "baselines"):
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert data["benchmark"] == name and data["quick"] is True
        # every figure a target names is in the result (a missing one is a miss forever)
        assert [c["figure"] for c in data["checks"] if c["measured"] is None] == []
    over = json.loads((tmp_path / "overhead.json").read_text())
    assert [c["q"] for c in over["cases"]] == [32, 1, 4] and over["ratio_q1"] > 0
    assert {c["figure"] for c in over["checks"]} == {"ratio_q32", "ratio_q1"}
    cbo = json.loads((tmp_path / "cbo_vs_cbx.json").read_text())
    assert cbo["speed"]["N"] == 1000 and 0.0 <= cbo["R3_1"]["ours_success"] <= 1.0


def test_bench_http_quick(tmp_path):
    assert main(["bench", "http", "--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "http.json").read_text())
    assert [c["figure"] for c in data["checks"] if c["measured"] is None] == []
    assert [r["concurrency"] for r in data["rows"]] == [1, 8, 32]
    assert all(r["oracle_rps"] > 0 and r["direct_rps"] > 0 for r in data["rows"])


def test_bench_mezo_quick(tmp_path):
    assert main(["bench", "mezo", "--quick", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "mezo.json").read_text())
    assert [c["method"] for c in data["cases"]] == ["mezo", "mezo_adam", "backprop_sgd", "backprop_adam"]
    assert all(c["seconds_per_step"] > 0 and c["weights_MB"] > 0 for c in data["cases"])
    assert data["params"] > 100_000


def test_bench_check_exits_1_when_a_figure_misses(tmp_path, monkeypatch):
    import apps.bench as bench

    fake = type("M", (), {"run": staticmethod(lambda quick=False: {"speedup": 1.2}),
                          "TARGETS": {"speedup": (">=", 1.6)}})
    monkeypatch.setitem(bench.GROUPS, "fake", ["fake"])
    # (patch the name bench uses, not importlib itself: the CLI imports its sub-commands with it)
    monkeypatch.setattr(bench, "importlib", type("I", (), {"import_module": staticmethod(lambda name: fake)}))
    assert main(["bench", "fake", "--out", str(tmp_path)]) == 0          # reported, not checked
    assert main(["bench", "fake", "--check", "--out", str(tmp_path)]) == 1
    check = json.loads((tmp_path / "fake.json").read_text())["checks"][0]
    assert check == {"figure": "speedup", "target": ">= 1.6", "measured": 1.2, "ok": False}
    fake.TARGETS = {"speedup": (">=", 1.0)}
    assert main(["bench", "fake", "--check", "--out", str(tmp_path)]) == 0
