"""The attack over HTTP: ``blackbox serve --classifier digits`` with injected 429/500 faults
gives the in-process campaign's results exactly; garbage answers are one-line errors."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from apps.attacks.campaign import run_campaign, select_correct
from apps.attacks.classifiers import HTTPClassifier, LabelOnly, TorchClassifier
from apps.attacks.threat import ThreatModel
from blackbox.errors import OracleDecodeError, OracleHTTPError

pytestmark = pytest.mark.http


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served():
    """Two servers: probabilities with 429/500 faults, and labels only."""
    procs, urls = [], []
    for extra in (["--fail-429", "0.3", "--fail-500", "0.2", "--retry-after", "0.01"],
                  ["--label-only"]):
        port = _free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "apps.cli", "serve", "--model", "toy", "--classifier",
             "digits", "--port", str(port), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for p, u in zip(procs, urls):
            deadline = time.time() + 240
            while True:
                try:
                    if httpx.get(u + "/v1/models", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.time() > deadline or p.poll() is not None:
                    raise RuntimeError("serve did not start: " + (p.stdout.read() or ""))
                time.sleep(0.2)
        yield urls
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


def _images(n=3):
    from oracles.digits import digits_cnn, digits_data

    x, y = digits_data("test")
    return select_correct(TorchClassifier(digits_cnn), x, y, n)


def _strip(rows):
    return [{k: r[k] for k in ("index", "adversarial", "success", "queries", "pred", "x_adv")}
            for r in rows]


def test_score_attack_over_http_equals_in_process_under_faults(served):
    from oracles.digits import digits_cnn

    idx, xs, ys = _images()
    kw = dict(strategy="zo_signsgd", queries=400, seed=1, indices=list(idx))
    local = run_campaign(TorchClassifier(digits_cnn), xs, ys, ThreatModel("linf", 0.2), **kw)
    remote_clf = HTTPClassifier(served[0] + "/v1", backoff=(0.01, 0.05), max_retries=8)
    remote = run_campaign(remote_clf, xs, ys, ThreatModel("linf", 0.2), **kw)
    assert _strip(remote["rows"]) == _strip(local["rows"])  # the transport changes nothing
    assert sum(r["retries"] for r in remote["rows"]) > 0  # faults were met and retried
    assert all(r["failures"] == 0 for r in remote["rows"])
    stats = httpx.get(served[0] + "/stats").json()["statuses"]
    assert stats.get("429", 0) > 0 and stats.get("500", 0) > 0


def test_hard_label_attack_over_a_label_only_endpoint(served):
    from oracles.digits import digits_cnn

    idx, xs, ys = _images(2)
    kw = dict(strategy="hsja", queries=600, seed=0, indices=list(idx))
    remote = run_campaign(HTTPClassifier(served[1] + "/v1", label_only=True), xs, ys,
                          ThreatModel("l2", 1.0), **kw)
    local = run_campaign(LabelOnly(TorchClassifier(digits_cnn)), xs, ys,
                         ThreatModel("l2", 1.0), **kw)
    assert _strip(remote["rows"]) == _strip(local["rows"])
    r = httpx.post(served[1] + "/v1/classify", json={"inputs": [[0.0] * 64], "output": "probs"})
    assert r.status_code == 403 and "labels only" in r.text


def test_endpoint_garbage_and_bad_requests_are_one_line_errors(served):
    bad = httpx.post(served[1] + "/v1/classify", json={"inputs": [[0.0] * 5], "output": "labels"})
    assert bad.status_code == 400 and "do not fit the model" in bad.text

    def garbage(request):
        return httpx.Response(200, json={"answer": 42})

    clf = HTTPClassifier("http://127.0.0.1:9/v1", transport=httpx.MockTransport(garbage))
    with pytest.raises(OracleDecodeError, match="expected 'probs' with 2 rows"):
        clf.probs(np.zeros((2, 64)))
    failing = HTTPClassifier("http://127.0.0.1:9/v1", max_retries=1, backoff=(0.001, 0.001),
                             transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert np.isnan(failing.probs(np.zeros((2, 64)))).all()  # a failure, not a lost campaign
    refused = HTTPClassifier("http://127.0.0.1:9/v1", transport=httpx.MockTransport(
        lambda r: httpx.Response(400, json={"error": {"message": "inputs do not fit"}})))
    with pytest.raises(OracleHTTPError, match="HTTP 400"):
        refused.labels(np.zeros((1, 64)))
