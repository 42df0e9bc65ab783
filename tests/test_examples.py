"""Every example runs end to end with its small default budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_preference_example_reduces_regret_from_rankings_only():
    out = run("preference.py", "--budget", "3000")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "regret before" in out.stdout


def test_attack_example_misclassifies():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = run("attack.py", "--budget", "1500")
    assert out.returncode == 0, out.stderr[-2000:]


def test_mezo_example_fine_tunes_and_resumes_from_its_journal(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    journal = str(tmp_path / "mezo.jsonl")
    first = run("mezo_finetune.py", "--steps", "600", "--journal", journal)
    assert first.returncode == 0, first.stderr[-2000:]
    again = run("mezo_finetune.py", "--steps", "1000", "--journal", journal)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "600 steps replayed" in again.stdout
    acc = float(again.stdout.rsplit("MeZO steps", 1)[1].split("%")[0])
    assert acc > 85.0 and "(800 forward passes this run)" in again.stdout


@pytest.mark.http
def test_prompt_tuning_example_lowers_the_label_loss(tmp_path):
    out = run("prompt_tuning.py", "--budget", "120", "--workdir", str(tmp_path))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "mean label loss" in out.stdout
    again = run("prompt_tuning.py", "--budget", "120", "--workdir", str(tmp_path))
    assert again.returncode == 0 and "0 queries" in again.stdout  # replayed from the journal
