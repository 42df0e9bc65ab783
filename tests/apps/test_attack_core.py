"""Attack oracle, threat models, the success stop, feasibility, hard-label, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from apps.attacks.campaign import run_campaign
from apps.attacks.classifiers import CallableClassifier, LabelOnly
from apps.attacks.oracle import NOT_ADVERSARIAL, AttackOracle, margin
from apps.attacks.presets import StopOnSuccess, make_strategy
from apps.attacks.threat import ThreatModel, upsample
from blackbox.budget import Budget
from blackbox.errors import ConfigError
from blackbox.keys import Key
from blackbox.runner import minimize

W = np.array([[1.0, -1.0, 0.5, 0.0] * 4, [-0.5, 1.0, 0.0, 0.5] * 4,
              [0.0, 0.2, -1.0, 1.0] * 4])  # a fixed linear 3-class model on 4x4 images


class Recorder:
    """A linear classifier that records every input it is shown."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.seen.append(np.array(x))
        return x @ W.T

    @property
    def rows(self) -> int:
        return sum(len(s) for s in self.seen)


def images(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    gen = Key(7).numpy()
    x = gen.random((40, 16))
    y = (x @ W.T).argmax(1)
    return x[:n], y[:n]


def test_margin_is_the_logit_margin_and_negative_exactly_on_success():
    z = np.array([[3.0, 1.0, 0.5], [0.0, 2.0, 1.0]])
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(margin(p, 0, False), [2.0, -2.0])  # log p_y - max_j log p_j
    np.testing.assert_allclose(margin(p, 2, True), [2.5, 1.0])  # max_j log p_j - log p_t
    assert np.isnan(margin(np.full((1, 3), np.nan), 0, False)[0])  # a failed query stays NaN


def test_success_stop_counts_every_query_and_stops_at_the_first_success_batch():
    rec = Recorder()
    clf = CallableClassifier(rec)
    x, y = images(1)
    threat = ThreatModel("linf", 0.5)
    oracle = AttackOracle(clf, x[0], int(y[0]), threat)
    space = threat.space(oracle.x0)
    strat = make_strategy("zo_signsgd", threat, space, 16, 2000)
    res = minimize(oracle, strat, np.zeros(16), seed=0, budget=Budget(max_queries=2000),
                   space=None, callbacks=[StopOnSuccess("score")])
    assert res.f_best < 0 and res.stop == {"callback": True}
    assert res.nfev == rec.rows == res.ledger.total("points")  # nothing sent goes uncounted
    per_batch = [margin(CallableClassifier(lambda v: v @ W.T).probs(s), int(y[0]), False)
                 for s in rec.seen]
    assert (per_batch[-1] < 0).any() and not any((b < 0).any() for b in per_batch[:-1])
    # the recommendation is the successful point: no query after the stop
    assert oracle.values(res.x[None, :])[0] == pytest.approx(res.f_best, abs=1e-12)


@pytest.mark.parametrize("name,norm,eps,reduce", [("zo_signsgd", "linf", 0.3, None),
                                                   ("zo_adam", "l2", 0.8, None),
                                                   ("fw_black", "linf", 0.3, None),
                                                   ("zo_signsgd", "linf", 0.3, 2),
                                                   ("cbo", "linf", 0.3, None)])
def test_every_queried_input_is_inside_the_threat_model(name, norm, eps, reduce):
    rec = Recorder()
    x, y = images(3)
    threat = ThreatModel(norm, eps)
    camp = run_campaign(CallableClassifier(rec), x, y, threat, strategy=name, queries=300,
                        reduce=reduce)
    sent = np.concatenate(rec.seen[1:])  # [0] is the probe that reads the number of classes
    assert sent.min() >= 0.0 and sent.max() <= 1.0
    a = 0
    for r in camp["rows"]:  # local runs go in order: the image's queries, then its verification
        x0, mine = x[r["index"]], sent[a:a + r["queries"]]
        a += r["queries"] + 1
        d = np.abs(mine - x0).max(1) if norm == "linf" else np.linalg.norm(mine - x0, axis=1)
        assert 0 < r["queries"] <= 300 and d.max() <= eps + 1e-9
    assert a == len(sent)  # probe + attack queries + verifications: nothing else was sent


def test_upsample_nearest_neighbour():
    p = np.arange(4.0)[None, :]
    assert upsample(p, 4, 2).reshape(4, 4).tolist() == [[0, 0, 1, 1], [0, 0, 1, 1],
                                                        [2, 2, 3, 3], [2, 2, 3, 3]]


class ScoresForbidden:
    """A label-only target that fails the test if anything asks for scores."""

    label_only = True

    def __init__(self) -> None:
        self.calls = 0

    def probs(self, x):  # pragma: no cover - must never run
        raise AssertionError("a hard-label attack read scores")

    def labels(self, x):
        self.calls += len(x)
        return (np.asarray(x) @ W.T).argmax(1)


def test_hard_label_attack_reads_only_labels_and_reaches_the_l2_target():
    clf = ScoresForbidden()
    x, y = images(3)
    camp = run_campaign(clf, x, y, ThreatModel("l2", 1.0), strategy="hsja", queries=1500)
    assert all(r["adversarial"] for r in camp["rows"])
    for r in camp["rows"]:
        assert r["success"] == (r["l2"] <= 1.0)
        assert r["queries"] <= 1500
    assert clf.calls == sum(r["queries"] for r in camp["rows"]) + len(camp["rows"])
    o = AttackOracle(clf, x[0], int(y[0]), ThreatModel("l2", 1.0), mode="label")
    v = o.values(np.stack([np.zeros(16), np.full(16, 0.9) - x[0]]))
    assert v[0] == NOT_ADVERSARIAL  # the clean image is not adversarial


def test_label_only_target_refuses_a_score_attack_before_any_query():
    clf = ScoresForbidden()
    x, y = images(1)
    with pytest.raises(ConfigError, match="label-only"):
        AttackOracle(clf, x[0], int(y[0]), ThreatModel(), mode="score")
    with pytest.raises(ConfigError, match="labels only"):
        LabelOnly(CallableClassifier(lambda v: v @ W.T)).probs(x)
    assert clf.calls == 0


def test_bad_input_one_line_errors_before_the_attack():
    rec = Recorder()
    clf = CallableClassifier(rec)
    x, y = images(2)
    with pytest.raises(ConfigError, match="eps must be a finite number > 0"):
        ThreatModel("linf", 0.0)
    with pytest.raises(ConfigError, match="norm must be one of"):
        ThreatModel("l3", 0.1)
    with pytest.raises(ConfigError, match=r"label must be a class index in \[0, 3\)"):
        run_campaign(clf, x, np.array([0, 7]), ThreatModel())
    with pytest.raises(ConfigError, match="image values must lie in"):
        run_campaign(clf, x + 2.0, y, ThreatModel())
    with pytest.raises(ConfigError, match="labels must have shape"):
        run_campaign(clf, x, y[:1], ThreatModel())
    with pytest.raises(ConfigError, match="unknown attack strategy 'pgd'"):
        run_campaign(clf, x, y, ThreatModel(), strategy="pgd")
    with pytest.raises(ConfigError, match="unknown option 'lrr'"):
        run_campaign(clf, x, y, ThreatModel(), options={"lrr": 1.0})
    with pytest.raises(ConfigError, match="hsja is an L2 attack"):
        run_campaign(clf, x, y, ThreatModel("linf", 0.1), strategy="hsja")
    assert rec.rows <= 5  # at most the class probes: no attack query was sent
    bad = CallableClassifier(lambda v: np.zeros(len(v)))  # (n,) where (n, classes) is due
    with pytest.raises(ConfigError, match=r"must return shape \(n, classes\)"):
        run_campaign(bad, x, y, ThreatModel())
    with pytest.raises(ConfigError, match="image has 15 values but the model takes 16"):
        AttackOracle(clf, x[0][:15], 0, ThreatModel()).values(np.zeros((1, 16))) \
            if False else __import__("apps.attacks.threat", fromlist=["x"]).check_image(
                x[0][:15], 0, 16)
