"""The model-API client and oracle against a real server on 127.0.0.1 (429s, 500s, stalls and
dropped connections from its fault flags; an httpx transport only for a fault it never produces)."""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import httpx
import numpy as np
import pytest

from blackbox import Budget, minimize
from blackbox.errors import ConfigError, OracleHTTPError
from oracles.http import ModelAPIOracle, OpenAIClient
from oracles.prompt_tasks import REVIEWS, render_example, soft_prompt_oracle
from oracles.toy_lm import HIDDEN, ToyLM

pytestmark = pytest.mark.http
SECRET = "sk-test-0123456789abcdefSECRET"


def in_process(points: np.ndarray) -> np.ndarray:
    lm = ToyLM()
    out = []
    for p in points:
        soft = p.reshape(-1, HIDDEN).mean(axis=0)
        losses = []
        for text, label in REVIEWS:
            _, lps = lm.score(render_example(text, label), soft)
            losses.append(-sum(lps[-(len(label) + 1):]))
        out.append(np.mean(losses))
    return np.array(out)


def points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 2 * HIDDEN)) * 0.5


def test_values_through_http_equal_in_process_values(server):
    oracle = soft_prompt_oracle(server.base)
    P = points(6)
    np.testing.assert_allclose(oracle.values(P), in_process(P), rtol=1e-12)
    oracle.close()


def test_faults_429_500_timeouts_drops_are_retried_and_every_value_is_right(faulty_server):
    faulty_server.reset()
    client = OpenAIClient(faulty_server.base, max_concurrency=32, timeout=1.0, max_retries=12,
                          backoff=(0.01, 0.2))
    oracle = soft_prompt_oracle(faulty_server.base)
    oracle.client = client
    for o in oracle._oracles:
        o.client = client
    P = points(50, seed=1)  # 50 points x 4 examples = 200 requests
    vals = oracle.values(P)
    np.testing.assert_allclose(vals, in_process(P), rtol=1e-12)
    st = faulty_server.stats()["statuses"]
    assert min(st.get(k, 0) for k in ("429", "500", "stalled", "dropped")) > 0
    retries = client.stats.retries
    assert retries >= sum(st.get(k, 0) for k in ("429", "500", "stalled", "dropped"))
    assert client.stats.requests == 200 + retries
    client.close()


def test_dropped_connections_are_retried_and_counted_in_the_ledger(dropping_server):
    dropping_server.reset()
    client = OpenAIClient(dropping_server.base, max_retries=12, backoff=(0.001, 0.01))
    oracle = ModelAPIOracle(client, lambda p: {"prompt": f"x={p[0]:.3f}", "echo": True,
                                               "logprobs": 1, "max_tokens": 0},
                            lambda p, r: -sum(r["choices"][0]["logprobs"]["token_logprobs"][1:]),
                            dim=1, endpoint="completions", name="api")
    res = minimize(oracle, {"name": "random_search", "popsize": 8}, [0.0], budget=64,
                   progress=False)
    st = res.ledger.oracles["api"]
    server = dropping_server.stats()
    dropped = server["statuses"].get("dropped", 0)
    assert dropped > 0 and server["statuses"]["200"] >= st.points == res.nfev
    assert st.failures == 0 and st.retries > 0 and st.requests == st.points + st.retries
    lm = ToyLM()
    x = float(res.x[0])
    assert res.fun == pytest.approx(-sum(lm.score(f"x={x:.3f}")[1][1:]), rel=1e-12)
    client.close()


class NotAnObject(httpx.AsyncBaseTransport):
    """A 200 whose body is JSON but not an object (a fault our server never produces)."""

    async def handle_async_request(self, request):
        return httpx.Response(200, json=[1, 2, 3])


def test_a_200_that_is_not_a_json_object_is_a_decode_error():
    from blackbox.errors import OracleDecodeError

    client = OpenAIClient("http://127.0.0.1:9/v1", transport=NotAnObject())
    with pytest.raises(OracleDecodeError, match="not a JSON object"):
        client.embeddings("x")
    client.close()


def test_a_request_failing_after_all_retries_is_a_failure_not_a_crash(server):
    client = OpenAIClient(server.base, max_retries=1, backoff=(0.001, 0.001))
    bad = ModelAPIOracle(client, lambda p: {"prompt": 5}, lambda p, r: 0.0, dim=1,
                         endpoint="completions", name="bad")
    res = minimize(bad, {"name": "random_search", "popsize": 4}, [0.0], budget=12,
                   progress=False)
    assert res.ledger.oracles["bad"].failures == res.nfev and np.isnan(res.f_best)
    assert "HTTP 400" in bad.errors[0]
    with pytest.raises(OracleHTTPError, match="HTTP 400"):
        client.completions(5)
    client.close()


def test_cache_repeated_run_sends_zero_requests(server, tmp_path):
    cache = tmp_path / "cache.sqlite"
    kw = dict(seed=0, budget=Budget(max_queries=40), progress=False)
    o1 = soft_prompt_oracle(server.base, cache=cache)
    r1 = minimize(o1, {"name": "zo_sgd", "q": 2}, np.zeros(2 * HIDDEN), **kw)
    server.reset()
    o2 = soft_prompt_oracle(server.base, cache=cache)
    r2 = minimize(o2, {"name": "zo_sgd", "q": 2}, np.zeros(2 * HIDDEN), **kw)
    assert server.stats()["requests"] == 0
    st = r2.ledger.oracles["soft_prompt"]
    assert st.requests == 0 and st.cache_hits == r1.nfev * len(REVIEWS)
    np.testing.assert_array_equal(r1.x, r2.x)


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from oracles._http_support import ResponseCache
    c = ResponseCache(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        c.put(f"k{i}", {"i": i, "pad": "x" * 500})
        i += 1
    """
)


def test_a_cache_whose_writer_was_killed_still_opens(tmp_path):
    from oracles._http_support import ResponseCache

    path = tmp_path / "c.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    import time

    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cache = ResponseCache(path)
    n = len(cache)
    assert n > 10 and cache.get("k0") == {"i": 0, "pad": "x" * 500}
    cache.put("after", {"ok": True})
    assert cache.get("after") == {"ok": True}


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys, threading
    from oracles._http_support import ResponseCache
    c = ResponseCache(sys.argv[1])
    def write(t):
        for i in range(100):
            c.put(f"{sys.argv[2]}-{t}-{i}", {"v": i})
    ts = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    """
)


def test_cache_is_safe_under_concurrent_writer_processes_and_threads(tmp_path):
    from oracles._http_support import ResponseCache

    path = tmp_path / "c.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(path), f"p{j}"])
             for j in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    cache = ResponseCache(path)
    assert len(cache) == 3 * 4 * 100
    assert cache.get("p2-3-99") == {"v": 99} and cache.get("p0-0-0") == {"v": 0}


def test_tpm_pacing_spaces_by_tokens_and_follows_reported_usage():
    import asyncio

    from oracles._http_support import Pacer

    pacer = Pacer(tpm=600)  # 10 tokens per second
    asyncio.run(pacer.acquire(10))
    first = pacer._next
    pacer.correct(10, 30)  # the server counted 20 tokens more than estimated: 2 s later
    assert pacer._next == pytest.approx(first + 2.0)
    pacer.correct(10, 0)  # no usage reported: no change
    assert pacer._next == pytest.approx(first + 2.0)


def test_rpm_limit_spaces_the_scheduled_starts_evenly(server):
    """The limiter's own schedule (what machine load cannot shift): starts 60 / rpm apart, no
    burst; the server saw every request. Wall-clock pacing is measured in the http benchmark."""
    server.reset()
    client = OpenAIClient(server.base, rpm=600, max_concurrency=8)  # one start per 0.1 s
    client.map("/embeddings", [{"input": f"text {i}"} for i in range(8)])
    starts = np.array(client._rt()["pacer"].scheduled)
    assert len(starts) == 8 and server.stats()["requests"] == 8
    np.testing.assert_allclose(np.diff(starts), 0.1, rtol=1e-9)
    client.close()


def test_api_key_never_in_repr_logs_journal_or_pickle(server, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    client = OpenAIClient(server.base, max_retries=2, backoff=(0.001, 0.001))
    assert client._api_key == SECRET
    oracle = ModelAPIOracle(client, lambda p: {"input": f"v{p[0]:.2f}"},
                            lambda p, r: r["data"][0]["embedding"][0], dim=1, endpoint="embeddings")
    res = minimize(oracle, "random_search", [0.0], budget=30, journal=tmp_path / "j",
                   progress=False)
    blobs = [repr(client), repr(oracle), repr(res), caplog.text, str(res.ledger.to_dict())]
    blobs += [p.read_text(errors="replace") for p in (tmp_path / "j").iterdir()
              if p.suffix != ".pkl"]
    assert all(SECRET not in b and SECRET[-12:] not in b for b in blobs)
    assert "...CRET" in repr(client)
    client.close()


def test_bad_client_config_names_the_field():
    with pytest.raises(ConfigError, match="base_url must start with http"):
        OpenAIClient("127.0.0.1:8000")
    with pytest.raises(ConfigError, match="rpm must be a number > 0"):
        OpenAIClient("http://127.0.0.1:1/v1", rpm=0)
    with pytest.raises(ConfigError, match="endpoint must be one of"):
        ModelAPIOracle(OpenAIClient("http://127.0.0.1:1/v1"), dict, float, dim=1, endpoint="x")


def test_client_pickles_without_its_runtime(server):
    client = OpenAIClient(server.base)
    client.embeddings("warm up")
    clone = pickle.loads(pickle.dumps(client))
    assert clone.embeddings("again")["data"][0]["embedding"]
    client.close()
    clone.close()


def test_chat_and_embeddings_endpoints(server):
    client = OpenAIClient(server.base)
    r = client.chat([{"role": "user", "content": "Say hi"}], logprobs=True, top_logprobs=3,
                    max_tokens=4)
    content = r["choices"][0]["logprobs"]["content"]
    assert len(r["choices"][0]["message"]["content"]) == 4 and len(content[0]["top_logprobs"]) == 3
    e = client.embeddings(["a", "b"])["data"]
    assert len(e) == 2 and abs(np.linalg.norm(e[0]["embedding"]) - 1) < 1e-9
    assert json.dumps(r)
    client.close()
