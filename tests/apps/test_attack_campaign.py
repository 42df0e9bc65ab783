"""Campaigns: resume after an interruption without re-sending answered queries; the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.attacks.campaign import run_campaign
from apps.attacks.classifiers import CallableClassifier
from apps.attacks.threat import ThreatModel
from blackbox.keys import Key

W = Key(3).numpy().standard_normal((4, 16))


def linear_model():
    """A torch factory for ``--model test_attack_campaign:linear_model``."""
    import torch

    lin = torch.nn.Linear(16, 4, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
    return lin


class Counting:
    """Logits of a fixed linear model; raises KeyboardInterrupt at attack batch ``stop_at``
    (probes and verifications are single rows; attack batches are larger)."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.batches = self.rows = 0
        self.stop_at = stop_at

    def __call__(self, x):
        self.batches += len(x) > 1
        if self.stop_at is not None and len(x) > 1 and self.batches == self.stop_at:
            raise KeyboardInterrupt
        self.rows += len(x)
        return np.asarray(x) @ W.T


def data(n=4):
    x = Key(5).numpy().random((n, 16))
    return x, (x @ W.T).argmax(1)


def test_interrupted_campaign_resumes_without_resending_answered_queries(tmp_path):
    x, y = data()
    threat = ThreatModel("linf", 0.15)
    kw = dict(strategy="zo_signsgd", queries=400, seed=3,
              options={"estimator": "gaussian", "q": 4, "lr": 0.02})
    ref_model = Counting()
    ref = run_campaign(CallableClassifier(ref_model), x, y, threat, **kw)
    assert ref["complete"]
    first = ref["rows"][0]["queries"]
    # interrupt at the 4th batch of the second image (5 points per batch: forward, q = 4)
    broken = Counting(stop_at=first // 5 + 4)
    part = run_campaign(CallableClassifier(broken), x, y, threat, out=tmp_path, **kw)
    assert not part["complete"] and len(part["rows"]) == 1
    again = Counting()
    full = run_campaign(CallableClassifier(again), x, y, threat, out=tmp_path, **kw)
    assert full["complete"]
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "replayed")}
                          for r in rows]
    assert strip(full["rows"]) == strip(ref["rows"])  # the same campaign as uninterrupted
    replayed = sum(r["replayed"] for r in full["rows"])
    assert replayed > 0  # image 1's answered queries came from its journal
    attack_rows = sum(r["queries"] for r in ref["rows"])
    # the resumed run sent only what was not answered before (+ its probe and verifications)
    assert again.rows == 1 + (attack_rows - first - replayed) + (len(x) - 1)
    saved = [json.loads(s) for s in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in saved) == [0, 1, 2, 3]


def test_cli_attack_user_model_writes_report_and_pngs(tmp_path, monkeypatch):
    from apps.cli import main

    x, y = data(3)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    out = tmp_path / "run"
    rc = main(["attack", "--model", "test_attack_campaign:linear_model", "--data",
               str(tmp_path / "d.npz"), "--n", "3", "--eps", "0.2", "--queries", "300",
               "--out", str(out)])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    for k in ("success_rate", "median_queries", "mean_queries", "median_distortion", "rows"):
        assert k in rep
    assert len(rep["rows"]) == 3 and (out / "grid.png").stat().st_size > 0
    assert (out / "success_curve.png").stat().st_size > 0
    assert main(["attack", "--model", "nope", "--n", "1", "--out", str(tmp_path / "b")]) == 2
    assert main(["attack", "--eps", "-1", "--n", "1", "--out", str(tmp_path / "c")]) == 2


@pytest.mark.slow
def test_demo_campaign_on_the_digits_cnn(tmp_path):
    from apps.attacks.demo import demo_campaign

    rep = demo_campaign(tmp_path / "demo", quick=True)
    assert rep["images"] == 5 and rep["success_rate"] >= 0.6
    assert (tmp_path / "demo" / "grid.png").exists()


@pytest.mark.ray
def test_campaign_on_ray_equals_the_local_campaign(tmp_path):
    pytest.importorskip("ray")
    from apps.attacks.classifiers import TorchClassifier
    from apps.attacks.campaign import select_correct
    from oracles.digits import digits_cnn, digits_data

    x, y = digits_data("test")
    clf = TorchClassifier(digits_cnn)
    idx, xs, ys = select_correct(clf, x, y, 3)
    kw = dict(strategy="zo_signsgd", queries=300, seed=2, indices=list(idx))
    local = run_campaign(clf, xs, ys, ThreatModel("linf", 0.15), **kw)
    ray_run = run_campaign(clf, xs, ys, ThreatModel("linf", 0.15), backend="ray",
                           out=tmp_path, max_in_flight=2, **kw)
    keep = ("index", "adversarial", "queries", "x_adv")
    assert [{k: r[k] for k in keep} for r in ray_run["rows"]] == \
        [{k: r[k] for k in keep} for r in local["rows"]]
    assert len((tmp_path / "rows.jsonl").read_text().splitlines()) == 3
    assert len(list((tmp_path / "journals").iterdir())) == 3  # one journal per image
