"""Chat-logprobs scoring against ``blackbox serve --model toy``: the chat route answers in the
hosted APIs' shape, and the chat scorer's label log-probabilities equal the completions scorer's
next-token log-probabilities where the two are comparable (one-token verbalizers)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from apps.prompt.data import Example
from apps.prompt.score import Scorer
from apps.prompt.score_chat import ChatScorer, floor_of
from oracles.http import OpenAIClient

pytestmark = pytest.mark.http

EXAMPLES = [Example("what a lovely morning", 0), Example("worst service ever", 1),
            Example("the flight was fine", 0)]


class Cand:
    def __init__(self, verbalizers, answer="Sentiment:"):
        self.verbalizers, self.answer = verbalizers, answer

    def prefix(self, text):
        return f"Tweet: {text}\n{self.answer}"

    def extra(self):
        return {}


def test_chat_route_answers_in_the_hosted_shape(server):
    r = httpx.post(server.base + "/chat/completions", timeout=30, json={
        "model": "toy", "messages": [{"role": "user", "content": "Tweet: hi\nSentiment:"}],
        "max_tokens": 1, "logprobs": True, "top_logprobs": 20}).json()
    first = r["choices"][0]["logprobs"]["content"][0]
    tops = first["top_logprobs"]
    assert len(tops) == 20 and all(set(t) >= {"token", "logprob"} for t in tops)
    lps = [t["logprob"] for t in tops]
    assert lps == sorted(lps, reverse=True) and (first["token"], first["logprob"]) == (
        tops[0]["token"], tops[0]["logprob"])
    assert r["choices"][0]["message"]["content"] == first["token"]
    bad = httpx.post(server.base + "/chat/completions", timeout=30, json={
        "messages": [{"role": "user", "content": "x"}], "logprobs": True, "top_logprobs": 21})
    assert bad.status_code == 400 and "top_logprobs" in bad.json()["error"]["message"]


def test_chat_scores_equal_completions_next_token_logprobs(server):
    client = OpenAIClient(server.base, model="toy")
    cands = [Cand(("e", "o")), Cand(("a", "t"), answer="Answer:")]
    chat = ChatScorer(client, top_logprobs=20).logprobs(cands, EXAMPLES)
    comp = Scorer(client, sep="").logprobs(cands, EXAMPLES)  # log p(verbalizer | prompt)
    assert np.isfinite(comp).all()
    listed = np.zeros(chat.shape, bool)
    for ci, c in enumerate(cands):
        for ei, e in enumerate(EXAMPLES):
            tops = _tops(client, c.prefix(e.text), 20)
            listed[ci, ei] = [v in dict(tops) for v in c.verbalizers]
    assert listed.sum() >= 6  # most labels are listed by the toy model's top 20
    np.testing.assert_allclose(chat[listed], comp[listed], atol=1e-4, rtol=0)
    client.close()


def test_unlisted_label_gets_the_floor(server):
    client = OpenAIClient(server.base, model="toy")
    cand = Cand(("e", "\x7f"))  # DEL is never among the toy's printable answers
    lp = ChatScorer(client, top_logprobs=3).logprobs([cand], EXAMPLES[:1])[0, 0]
    tops = _tops(client, cand.prefix(EXAMPLES[0].text), 3)
    assert lp[1] == pytest.approx(floor_of(tops)) and lp[1] <= min(v for _, v in tops)
    fixed = ChatScorer(client, top_logprobs=3, floor=-50.0).logprobs([cand], EXAMPLES[:1])
    assert fixed[0, 0, 1] == -50.0
    client.close()


def _tops(client, prompt, k):
    r = client.chat([{"role": "user", "content": prompt}], max_tokens=1, logprobs=True,
                    top_logprobs=k)
    return [(t["token"], t["logprob"])
            for t in r["choices"][0]["logprobs"]["content"][0]["top_logprobs"]]


def test_discrete_search_runs_on_chat_scoring(server):
    """BDPL over the discrete slots with the chat scorer: budgets kept, every value finite."""
    from apps.prompt.data import PromptTask
    from apps.prompt.discrete import DiscreteSpace
    from apps.prompt.search import Evaluator, bdpl
    from blackbox.keys import Key

    labels = ("positive", "negative")
    task = PromptTask(labels, labels, tuple(EXAMPLES), (), (), (), "Tweet")
    space = DiscreteSpace(task, k_demos=0)
    client = OpenAIClient(server.base, model="toy")
    scorer = ChatScorer(client, top_logprobs=5)
    ev = Evaluator(scorer, task.train, budget=6)
    bdpl(ev, space.sizes, space.candidate, Key(0), space.start())
    assert ev.calls == 6 and scorer.calls == 6 * len(EXAMPLES) and not scorer.failures
    assert all(np.isfinite(v) for v in ev.seen.values())
    client.close()
