"""``blackbox serve`` first contact: busy and invalid ports, --help, /v1/models, and the list-of-
prompts scoring path (equal to one request per prompt)."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from oracles.http import OpenAIClient
from oracles.serve_cli import build_parser

pytestmark = pytest.mark.http


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "apps.cli", "serve", *args], capture_output=True,
                          text=True, timeout=60)


def test_a_busy_port_is_reported_before_any_model_loads():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = serve("--port", str(port))  # the default (real) model never starts loading
    assert r.returncode == 2
    assert r.stderr.strip() == (f"blackbox serve: error: port {port} on 127.0.0.1 is in use "
                                "(pick another with --port)")


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_an_invalid_port_is_a_one_line_error(port):
    r = serve("--port", port, "--model", "toy")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [
        f"blackbox serve: error: --port must be an integer in 1-65535, got "
        f"{port if port != 'http' else repr(port)}"]


def test_unknown_model_is_a_one_line_error():
    r = serve("--model", "gpt-9")
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "blackbox serve: error: unknown --model 'gpt-9' (smollm2, toy)"]


def test_help_describes_every_option():
    p = build_parser()
    for action in p._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{action.option_strings} has no help"
    text = serve("--help").stdout
    assert "smollm2 (default" in text and "--cache-tokens" in text and "/v1/completions" in text


def test_models_lists_each_model_once(server):
    data = httpx.get(server.base + "/models", timeout=5).json()["data"]
    assert [m["id"] for m in data] == ["toy"]


def test_a_list_of_prompts_scores_like_one_request_per_prompt(server):
    client = OpenAIClient(server.base, model="toy")
    prompts = ["Tweet: good day\nSentiment: positive", "Tweet: good day\nSentiment: negative",
               "x", "Tweet: bad"]
    many = client.completions(prompts, echo=True, logprobs=0, max_tokens=0)["choices"]
    assert [c["index"] for c in many] == [0, 1, 2, 3]
    for p, c in zip(prompts, many):
        one = client.completions(p, echo=True, logprobs=0, max_tokens=0)["choices"][0]
        assert c["text"] == p and c["logprobs"] == one["logprobs"]
        assert c["logprobs"]["text_offset"][:3] == [0, 1, 2][:len(p)]
    client.close()


def test_bad_prompt_lists_are_400(server):
    for bad in ([], [1, 2], {"a": 1}):
        r = httpx.post(server.base + "/completions", json={"prompt": bad}, timeout=5)
        assert r.status_code == 400 and "list of strings" in r.json()["error"]["message"]


def test_cache_route_reports_and_resizes(server):
    r = httpx.get(server.url + "/cache", timeout=5).json()
    assert set(r) >= {"tokens", "max_tokens", "hits", "batches"}


def test_requests_waiting_together_are_scored_in_one_batch_per_soft_prompt():
    import asyncio

    from oracles.serve import _Batcher

    class Backend:
        calls: list = []

        def score_many(self, texts, soft):
            self.calls.append((list(texts), soft))
            return [(t, soft) for t in texts]

    b = Backend()
    batcher = _Batcher(b)

    async def go():
        return await asyncio.gather(batcher.score(["a", "b"], None), batcher.score(["c"], None),
                                    batcher.score(["d"], [[1.0]]), batcher.score(["e"], None))

    out = asyncio.run(go())
    assert out == [[("a", None), ("b", None)], [("c", None)], [("d", [[1.0]])], [("e", None)]]
    assert b.calls == [(["a", "b", "c", "e"], None), (["d"], [[1.0]])] and batcher.batches == 2
