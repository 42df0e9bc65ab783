"""The InstructZero-style paraphrase pool: the requests, the cleaning and deduplication, the cache
in OUT (a re-run sends nothing), failures, and the plumbing against ``blackbox serve --model toy``
(whose answers are gibberish: quality is not tested here)."""

from __future__ import annotations

import json

import pytest

from apps.prompt.discrete import INSTRUCTIONS
from apps.prompt.paraphrase import META_PROMPTS, clean, keep, paraphrase, plan
from blackbox.errors import ConfigError
from blackbox.keys import Key

SEEDS = ["Is the sentiment of this tweet positive or negative?", "Is this tweet positive or negative?"]


@pytest.mark.parametrize("raw, want", [
    ("Instruction: Is this tweet happy or sad?\nMore text", "Is this tweet happy or sad?"),
    ('  "Tell me if  the tweet is positive."  ', "Tell me if the tweet is positive."),
    ("1. Does the tweet sound positive?", "Does the tweet sound positive?"),
    ("Sure: - Paraphrase: Is it good?  ", "Is it good?"),
    ("", None), ("\n\n", None), ("ok", None), ("x" * 200, None), ("Use {text} here", None),
    ("tab\x07bell", None), (None, None),
])
def test_clean_keeps_one_normalised_instruction(raw, want):
    assert clean(raw) == want


def test_keep_drops_duplicates_of_the_seeds_and_of_each_other():
    raw = ["is the sentiment of this tweet positive or negative", "Is it a good tweet?",
           "IS IT A GOOD TWEET", None, "Is the tweet upbeat?"]
    assert keep(raw, SEEDS) == ["Is it a good tweet?", "Is the tweet upbeat?"]


def test_keep_drops_answers_that_classify_instead_of_rewording():
    raw = ["The tweet is positive, with a clear message.", "Is the tweet negative or positive?",
           "How does the author feel about it?", "The sentiment is NEGATIVE."]
    assert keep(raw, SEEDS, labels=("positive", "negative")) == raw[1:3]
    assert keep(raw, SEEDS) == raw  # no labels given: no such filter


def test_plan_is_seeded_distinct_and_bounded():
    a, b = plan(SEEDS, 5, Key(0)), plan(SEEDS, 5, Key(0))
    assert a == b and len(set(a)) == 5 and plan(SEEDS, 5, Key(1)) != a
    assert all(any(s in p for s in SEEDS) for p in a)
    with pytest.raises(ConfigError, match=rf"--paraphrases must be an int in 0..{2 * len(META_PROMPTS)}"):
        plan(SEEDS, 2 * len(META_PROMPTS) + 1, Key(0))


class FakeClient:
    """Answers chat requests from a function; counts what it was sent."""

    def __init__(self, answer):
        from blackbox.budget import OracleStats

        self.answer, self.sent, self.stats, self.closed = answer, [], OracleStats(), False

    def map(self, path, bodies):
        assert path == "/chat/completions"
        self.sent += bodies
        self.stats.requests += len(bodies)
        out = []
        for b in bodies:
            a = self.answer(b["messages"][0]["content"])
            out.append(a if isinstance(a, BaseException) else
                       {"choices": [{"message": {"role": "assistant", "content": a}}]})
        return out

    def close(self):
        self.closed = True


def test_failures_are_counted_kept_out_of_the_cache_and_retried_next_run(tmp_path):
    prompts = plan(SEEDS, 4, Key(3))
    bad = prompts[1]
    made = []

    def make(answer):
        def f():
            made.append(FakeClient(answer))
            return made[-1]
        return f

    first = paraphrase(make(lambda p: RuntimeError("HTTP 500") if p == bad else
                            f"Reworded number {prompts.index(p)}"), SEEDS, 4, tmp_path, Key(3))
    assert first.calls == 4 and first.requests_sent == 4 and len(first.failures) == 1
    assert first.raw[1] is None and len(first.kept) == 3 and made[0].closed
    data = json.loads((tmp_path / "paraphrases.json").read_text())
    assert len(data["answers"]) == 3 and data["model"] == "default"
    again = paraphrase(make(lambda p: "Reworded again"), SEEDS, 4, tmp_path, Key(3))
    assert again.requests_sent == 1 and len(made) == 2 and len(made[1].sent) == 1
    assert made[1].sent[0]["messages"][0]["content"] == bad  # only the failed one is re-asked
    third = paraphrase(make(lambda p: 1 / 0), SEEDS, 4, tmp_path, Key(3))
    assert third.requests_sent == 0 and len(made) == 2  # all cached: no client made
    assert third.kept == ["Reworded number 0", "Reworded again", "Reworded number 2",
                          "Reworded number 3"]


def test_zero_paraphrases_sends_nothing(tmp_path):
    res = paraphrase(lambda: pytest.fail("no client wanted"), SEEDS, 0, tmp_path, Key(0))
    assert res.calls == 0 and res.kept == []


@pytest.mark.http
def test_against_the_toy_server_pool_report_and_cached_rerun(tmp_path):
    from apps.cli import main

    out = tmp_path / "run"
    args = ["tune-prompt", "--model", "toy", "--budget", "3", "--n-train", "4", "--n-dev", "4",
            "--n-test", "4", "--k-demos", "0", "--baselines", "manual,random", "--paraphrases",
            "6", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["paraphrase_calls"] == 6 and r["paraphrase_requests_sent"] == 6
    assert r["api_calls"] == 3 and r["paraphrase_tokens"] > 0
    kept = r["paraphrases_kept"]
    assert all(k == clean(k) for k in kept)
    assert r["search_space"]["instructions"] == 1 + sum(1 for i in INSTRUCTIONS if i) + len(kept)
    data = json.loads((out / "paraphrases.json").read_text())
    assert len(data["answers"]) == 6 and data["model"] == "toy"
    assert main(args) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["paraphrase_requests_sent"] == 0 and again["requests_sent"] == 0
    assert again["paraphrases_kept"] == kept and again["paraphrase_calls"] == 6
