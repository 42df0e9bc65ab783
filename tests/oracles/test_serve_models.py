"""`blackbox serve` with the real small models that PyPI packages ship (loaded once per session)."""

from __future__ import annotations

import numpy as np
import pytest

from oracles.http import ModelAPIOracle, OpenAIClient

pytestmark = [pytest.mark.http, pytest.mark.slow]


def label_logprob(client: OpenAIClient, review: str, label: str) -> float:
    r = client.completions(f"Review: {review}\nSentiment: {label}", echo=True, logprobs=1,
                           max_tokens=0)
    return float(r["choices"][0]["logprobs"]["token_logprobs"][-1])


def test_smollm2_answers_and_scores_labels(model_server):
    client = OpenAIClient(model_server.base, model="smollm2", timeout=120)
    r = client.chat([{"role": "user", "content": "What is the capital of France? One word."}],
                    max_tokens=8, logprobs=True, top_logprobs=2)
    assert "Paris" in r["choices"][0]["message"]["content"]
    good = "a wonderful, moving film with brilliant acting"
    bad = "a boring, painful waste of two hours"
    assert label_logprob(client, good, "positive") > label_logprob(client, good, "negative")
    assert label_logprob(client, bad, "negative") > label_logprob(client, bad, "positive")
    # the same request twice gives the same value (deterministic scoring)
    assert label_logprob(client, good, "positive") == label_logprob(client, good, "positive")
    client.close()


def test_soft_prompt_embeds_change_the_score(model_server):
    client = OpenAIClient(model_server.base, model="smollm2", timeout=120)
    hidden = 576  # SmolLM2-135M's embedding width
    oracle = ModelAPIOracle(
        client,
        lambda p: {"prompt": "Sentiment: positive", "echo": True, "logprobs": 1, "max_tokens": 0,
                   "prompt_embeds": (p[0] * np.ones((1, hidden)) / np.sqrt(hidden)).tolist()},
        lambda p, r: -r["choices"][0]["logprobs"]["token_logprobs"][-1], dim=1,
        endpoint="completions")
    v = oracle.values(np.array([[0.0], [0.0], [3.0]]))
    assert np.isfinite(v).all() and v[0] == v[1] and v[0] != v[2]
    client.close()


def test_minilm_embeddings_put_paraphrases_close(model_server):
    client = OpenAIClient(model_server.base, model="minilm")
    e = np.array([d["embedding"] for d in client.embeddings(
        ["a happy dog runs in the park", "a joyful puppy plays outside", "tax law of 1986"])["data"]])
    assert e.shape == (3, 384)
    sim = e @ e.T
    assert sim[0, 1] > 0.5 > sim[0, 2]
    client.close()


def test_label_scoring_by_tokens_with_the_real_tokenizer(model_server):
    """A verbalizer's log-probability sums exactly its own tokens (' positive' is one token,
    ' unbelievable' two), found by text_offset; a list of prompts scores like single prompts."""
    from apps.prompt.data import Example
    from apps.prompt.score import Scorer
    from oracles.prompt_tasks import label_loss

    class Cand:
        verbalizers = ("positive", "unbelievable")

        def prefix(self, text):
            return f"Tweet: {text}\nSentiment:"

        def extra(self):
            return {}

    client = OpenAIClient(model_server.base, model="smollm2", timeout=300)
    examples = [Example("what a lovely morning", 0), Example("worst service ever", 1)]
    lp = Scorer(client).logprobs([Cand()], examples)[0]
    for e, row in zip(examples, lp):
        for v, got in zip(Cand.verbalizers, row):
            r = client.completions(Cand().prefix(e.text) + " " + v, echo=True, logprobs=0,
                                   max_tokens=0)
            c = r["choices"][0]
            n = {"positive": 1, "unbelievable": 2}[v]
            assert c["logprobs"]["tokens"][-n:] == ([" positive"] if n == 1
                                                     else [" unbelie", "vable"])
            assert got == pytest.approx(sum(c["logprobs"]["token_logprobs"][-n:]), abs=1e-3)
            assert -label_loss(r, " " + v) == pytest.approx(got, abs=1e-3)
    client.close()
