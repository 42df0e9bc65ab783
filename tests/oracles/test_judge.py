"""The LLM judge: logprob parsing, both orders cancel position bias, memo, cache and ledger."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blackbox import Budget, minimize
from blackbox.errors import ConfigError
from blackbox.keys import Key
from oracles.judge import LLMJudge, prob_first


def reply(p_a: float, extra: list | None = None) -> dict:
    tops = [{"token": " A", "logprob": math.log(p_a)}, {"token": "b", "logprob": math.log(1 - p_a)}]
    return {"choices": [{"message": {"content": "A"},
                         "logprobs": {"content": [{"token": "A", "logprob": 0.0,
                                                   "top_logprobs": tops + (extra or [])}]}}]}


class FakeClient:
    """Prefers longer texts, plus a pull towards position A (``bias`` in logits)."""

    def __init__(self, bias: float = 0.0, fail: bool = False):
        self.bias, self.fail, self.bodies = bias, fail, []

    def map(self, path, bodies):
        assert path == "/chat/completions"
        self.bodies += bodies
        out = []
        for b in bodies:
            if self.fail:
                out.append(RuntimeError("HTTP 500 after 6 retries"))
                continue
            user = b["messages"][1]["content"]
            a = user.split("\n\nA: ")[1].split("\n\nB: ")[0]
            bb = user.split("\n\nB: ")[1].split("\n\nAnswer")[0]
            out.append(reply(1 / (1 + math.exp(-(len(a) - len(bb)) - self.bias))))
        return out


def texts(p):
    return "x" * int(p[0])


def test_prob_first_reads_the_letters_from_top_logprobs():
    assert prob_first(reply(0.8)) == pytest.approx(0.8)
    only_a = {"choices": [{"logprobs": {"content": [{"top_logprobs": [
        {"token": "A", "logprob": -0.1}, {"token": "C", "logprob": -3.0}]}]}}]}
    assert prob_first(only_a) == pytest.approx(1 / (1 + math.exp(-4.0 + 0.1)))
    assert prob_first({"choices": [{"message": {"content": "B."}}]}) == 0.0
    assert prob_first({"choices": [{"message": {"content": "tie"}}]}) == 0.5


def test_ranks_by_soft_wins_and_asks_every_pair_in_both_orders():
    client = FakeClient(bias=1.5)
    j = LLMJudge(client, texts, dim=1)
    pts = np.array([[3.0], [7.0], [1.0], [5.0]])
    order = j.rank(pts, np.array([[0, 1, 2, 3]]), top=4, key=Key(0))
    assert order.tolist() == [[1, 3, 0, 2]]
    assert j.comparisons == len(client.bodies) == 12  # 6 pairs x 2 orders
    pairs = {(b["messages"][1]["content"].split("A: ")[1][:8]) for b in client.bodies}
    assert len(pairs) == 4
    j.rank(pts, np.array([[3, 2, 1, 0]]), top=2, key=Key(1))
    assert len(client.bodies) == 12  # memo: nothing asked twice


def test_both_orders_cancel_a_pure_position_bias_exactly():
    class Biased(FakeClient):
        def map(self, path, bodies):
            self.bodies += bodies
            return [reply(0.9) for _ in bodies]

    j = LLMJudge(Biased(), texts, dim=1)
    j.rank(np.array([[1.0], [2.0], [3.0]]), np.array([[0, 1, 2]]), top=1, key=Key(0))
    assert j.p_beats("x", "xx") == pytest.approx(0.5) == j.p_beats("xxx", "x")


def test_equal_texts_tie_without_a_request_and_failures_count_as_ties():
    j = LLMJudge(FakeClient(), texts, dim=1)
    j.rank(np.array([[2.0], [2.0]]), np.array([[0, 1]]), top=1, key=Key(0))
    assert j.comparisons == 0
    bad = LLMJudge(FakeClient(fail=True), texts, dim=1)
    assert bad.rank(np.array([[1.0], [2.0]]), np.array([[0, 1]]), top=2,
                    key=Key(0)).tolist() == [[0, 1]]
    assert len(bad.errors) == 2 and "HTTP 500" in bad.errors[0]


@pytest.mark.parametrize("kw,msg", [
    ({"client": object()}, "client must be an OpenAIClient"),
    ({"render": 3}, "render must be a callable"),
    ({"dim": 0}, "dim must be an int >= 1"),
    ({"criterion": " "}, "criterion must be a non-empty string"),
    ({"top_logprobs": 50}, r"top_logprobs must be an int in \[2, 20\]"),
])
def test_bad_settings_are_one_line_errors(kw, msg):
    args = {"client": FakeClient(), "render": texts, "dim": 1, **kw}
    with pytest.raises(ConfigError, match=msg):
        LLMJudge(args.pop("client"), args.pop("render"), **args)


@pytest.mark.http
def test_against_blackbox_serve_with_cache_and_ledger(server, tmp_path):
    from apps.prefer.tagline import Tagline
    from oracles.http import OpenAIClient

    tag = Tagline()
    pts = Key(4).numpy().standard_normal((4, tag.dim))
    assert len({tag(p) for p in pts}) == 4
    server.reset()
    j = LLMJudge(OpenAIClient(server.base, model="toy", cache=tmp_path / "c.sqlite"), tag,
                 dim=tag.dim)
    order = j.rank(pts, np.array([[0, 1, 2, 3]]), top=2, key=Key(0))
    assert order.shape == (1, 2) and set(order[0]) <= {0, 1, 2, 3} and not j.errors
    j.close()
    again = LLMJudge(OpenAIClient(server.base, model="toy", cache=tmp_path / "c.sqlite"), tag,
                     dim=tag.dim)
    res = minimize(again, {"name": "zo_ranksgd", "m": 4, "k": 2, "mu": 0.5}, np.zeros(tag.dim),
                   budget=Budget(max_steps=2), progress=False)
    st = res.ledger.oracles["llm_judge"]
    assert st.requests + st.cache_hits >= 12 and st.prompt_tokens > 0 and res.nit == 2


@pytest.mark.http
def test_prefer_tagline_with_the_judge(server, tmp_path, capsys):
    from apps.cli import main

    rc = main(["prefer", "--demo", "tagline", "--judge", server.base, "--model", "toy",
               "--budget", "2", "--m", "4", "--journal", str(tmp_path / "t")])
    out = capsys.readouterr().out
    assert rc == 0 and "best tagline: " in out and "judge comparisons: " in out
