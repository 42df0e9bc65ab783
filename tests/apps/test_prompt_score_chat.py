"""Chat-logprobs label scoring: the stated reading rules (first token, longest match, spellings
summed, the floor), one-line errors before any request, and a failed request as NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apps.prompt.data import Example
from apps.prompt.score import Scorer, make_scorer, metrics
from apps.prompt.score_chat import ChatScorer, floor_of, read_labels
from blackbox.errors import ConfigError


def answer(tops):
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": tops[0][0]},
                         "logprobs": {"content": [{
                             "token": tops[0][0], "logprob": tops[0][1],
                             "top_logprobs": [{"token": t, "logprob": v} for t, v in tops]}]}}]}


class Cand:
    verbalizers = ("positive", "negative")

    def prefix(self, text):
        return f"Tweet: {text}\nSentiment:"

    def extra(self):
        return {}


class FakeClient:
    def __init__(self, answers):
        self.answers, self.bodies = list(answers), []

    def map(self, path, bodies):
        assert path == "/chat/completions"
        self.bodies += bodies
        return [self.answers.pop(0) for _ in bodies]


def test_first_token_longest_match_and_spellings_summed():
    tops = [("pos", -0.5), (" positive", -1.0), ("positive", -2.0), ("neg", -3.0), ("x", -4.0)]
    pos, neg = read_labels(tops, ("positive", "negative"))
    assert pos == pytest.approx(np.logaddexp(-1.0, -2.0))  # the longest match, both spellings
    assert neg == -3.0  # a multi-token verbalizer read from its first token
    assert read_labels([("Positive", -0.1), ("  ", -0.2)], ("positive",), floor=-30.0) == [-30.0]


def test_floor_is_the_largest_logprob_an_unlisted_token_can_have():
    tops = [("a", math.log(0.5)), ("b", math.log(0.3))]
    assert floor_of(tops) == pytest.approx(math.log(0.2))  # the unlisted mass
    tops = [("a", math.log(0.5)), ("b", math.log(0.05))]
    assert floor_of(tops) == pytest.approx(math.log(0.05))  # below every listed token
    assert read_labels(tops, ("a", "z")) == [pytest.approx(math.log(0.5)),
                                             pytest.approx(math.log(0.05))]


def test_chat_scorer_requests_and_normalised_metrics():
    client = FakeClient([answer([("positive", -0.2), ("negative", -1.9)]),
                         answer([("negative", -0.1), ("neutral", -2.5)])])
    sc = ChatScorer(client, top_logprobs=5)
    ex = [Example("great day", 0), Example("awful day", 1)]
    lp = sc.logprobs([Cand()], ex)
    assert lp.shape == (1, 2, 2) and sc.calls == 2
    b = client.bodies[0]
    assert b["messages"] == [{"role": "user", "content": "Tweet: great day\nSentiment:"}]
    assert (b["max_tokens"], b["logprobs"], b["top_logprobs"]) == (1, True, 5)
    assert lp[0, 1, 0] == pytest.approx(math.log(1 - math.exp(-0.1) - math.exp(-2.5)))
    ce, acc = metrics(lp[0], ex)
    assert acc == 1.0 and ce > 0


def test_failed_or_malformed_answer_is_nan_and_recorded():
    client = FakeClient([RuntimeError("boom"), {"choices": [{"message": {}}]}])
    sc = ChatScorer(client)
    lp = sc.logprobs([Cand()], [Example("a", 0), Example("b", 1)])
    assert np.isnan(lp).all() and len(sc.failures) == 2 and "boom" in sc.failures[0]


@pytest.mark.parametrize("kw, msg", [
    ({"top_logprobs": 21}, r"top_logprobs must be an int in \[1, 20\]"),
    ({"top_logprobs": 0}, r"top_logprobs must be an int in \[1, 20\]"),
    ({"floor": math.nan}, "floor must be a finite number or None"),
])
def test_bad_options_are_one_line_errors(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        ChatScorer(FakeClient([]), **kw)


def test_soft_candidate_is_refused_before_any_request():
    class Soft(Cand):
        def extra(self):
            return {"prompt_embeds": [[0.0]]}

    client = FakeClient([])
    with pytest.raises(ConfigError, match="soft prompts: use completions scoring"):
        ChatScorer(client).logprobs([Soft()], [Example("a", 0)])
    assert client.bodies == []


def test_make_scorer_picks_by_name():
    assert isinstance(make_scorer("completions", None), Scorer)
    assert isinstance(make_scorer("chat", None, top_logprobs=3), ChatScorer)
    with pytest.raises(ConfigError, match="scoring must be one of completions, chat"):
        make_scorer("echo", None)
