"""The discrete search space (both instruction positions, the strong instruction families, one
key per distinct prompt) and the final choice on train + dev, with a fake scorer."""

from __future__ import annotations

import numpy as np
import pytest

from apps.prompt.data import Example, PromptTask
from apps.prompt.discrete import CHAT_FORMATS, DiscreteSpace, chat_format
from apps.prompt.search import Evaluator, bdpl, ensemble_logprobs, random_candidates, select
from blackbox.errors import ConfigError
from blackbox.keys import Key

LABELS = ("positive", "negative")


def task(n=8):
    ex = tuple(Example(f"tweet {i}", i % 2) for i in range(n))
    return PromptTask(LABELS, LABELS, ex, ex, ex, (), "Tweet")


def test_the_space_holds_the_strong_instruction_first_prompt():
    sp = DiscreteSpace(task(), k_demos=0)
    assert sp.positions == [False, True]
    templates = {sp.candidate([i, p, a, 0, 0]).template() for i in range(len(sp.instructions))
                 for p in range(2) for a in range(len(sp.answers))}
    assert ("Is the sentiment of this tweet positive or negative?\nTweet: {text}\nAnswer:"
            in templates)
    assert sp.candidate(sp.start()).template() == "Tweet: {text}\nSentiment:"


def test_no_instruction_has_no_position_one_key_per_distinct_prompt():
    sp = DiscreteSpace(task(), k_demos=0, extra_instructions=["Is it good?", "Is it good?"])
    a, b = sp.candidate([0, 0, 1, 0, 0]), sp.candidate([0, 1, 1, 0, 0])
    assert a == b and a.key() == b.key() and not b.before
    assert sp.instructions.count("Is it good?") == 1
    c, d = sp.candidate([1, 0, 1, 0, 0]), sp.candidate([1, 1, 1, 0, 0])
    assert c.key() != d.key() and d.template().startswith(sp.instructions[1] + "\nTweet:")


def test_a_chat_format_wraps_the_user_part_and_opens_the_assistant_turn_with_the_cue():
    sp = DiscreteSpace(task(), k_demos=0, instruction_first=(False,),
                       chat=chat_format("<s>[INST] {user} [/INST]", "any"))
    assert sp.sizes[4] == 2 and [f.name for f in sp.formats] == ["plain", "custom"]
    q = sp.instructions.index("Is the sentiment of this tweet positive or negative?")
    a = sp.answers.index("The sentiment of this tweet is")
    plain, chat = sp.candidate([q, 0, a, 0, 0]), sp.candidate([q, 0, a, 0, 1])
    assert plain.template() == ("Tweet: {text}\nIs the sentiment of this tweet positive or "
                                "negative?\nThe sentiment of this tweet is")
    assert chat.template() == ("<s>[INST] Tweet: {text}\nIs the sentiment of this tweet "
                               "positive or negative? [/INST]The sentiment of this tweet is")
    assert plain.key() != chat.key() and chat.describe()["format"] == "custom"
    assert sp.candidate(sp.start()).format.name == "plain"  # the start stays the weak template
    assert DiscreteSpace(task(), k_demos=0).sizes[4] == 1  # no chat format: plain only


def test_chat_format_choice_and_its_errors():
    assert chat_format("auto", "smollm2") is CHAT_FORMATS["smollm2"]
    assert chat_format("auto", "toy") is None and chat_format("none", "smollm2") is None
    assert chat_format("auto", "smollm2", "chat") is None  # chat scoring wraps it already
    assert chat_format("chatml", "x").head == "<|im_start|>user\n"
    with pytest.raises(ConfigError, match="--chat-format must be auto, none, chatml, smollm2 "
                                          "or a template with one {user}, got 'x'"):
        chat_format("x", "toy")
    with pytest.raises(ConfigError, match="--chat-format: chat scoring already sends"):
        chat_format("chatml", "toy", "chat")


@pytest.mark.slow
def test_the_smollm2_format_is_what_its_tokenizer_renders():
    """The searched wrapper is SmolLM2's own chat template (with its default system turn), and
    its markers are single special tokens when the server tokenizes the prompt."""
    from oracles._serve_models import smollm2_tokenizer

    tok = smollm2_tokenizer()
    sp = DiscreteSpace(task(), k_demos=0, chat=CHAT_FORMATS["smollm2"])
    cand = sp.candidate([1, 0, 1, 0, 1])
    user = "Tweet: hello\n" + sp.instructions[1]
    want = tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                   add_generation_prompt=True)
    assert cand.prefix("hello") == want + "Answer:"
    ids = tok(cand.prefix("hello")).input_ids
    assert ids.count(tok.convert_tokens_to_ids("<|im_start|>")) == 3


class FakeScorer:
    """Label log-probabilities from a per-instruction table of right answers: ``right[inst]`` is
    the set of example texts the prompt gets right; a right answer has probability 0.8."""

    def __init__(self, right):
        self.right, self.calls = right, 0

    def logprobs(self, cands, examples):
        self.calls += len(cands)
        out = np.zeros((len(cands), len(examples), 2))
        for i, c in enumerate(cands):
            for j, e in enumerate(examples):
                ok = e.text in self.right.get(c.instruction, set())
                p = 0.8 if ok else 0.2
                out[i, j, e.label], out[i, j, 1 - e.label] = np.log(p), np.log(1 - p)
        return out


def ex(prefix, n):
    return tuple(Example(f"{prefix} {i}", i % 2) for i in range(n))


def test_select_rescoring_on_dev_beats_a_lucky_training_winner():
    train, dev = ex("train", 8), ex("dev", 24)
    sp = DiscreteSpace(PromptTask(LABELS, LABELS, train, dev, (), (), "Tweet"), k_demos=0)
    lucky, steady = sp.instructions[1], sp.instructions[2]
    right = {lucky: {e.text for e in train} | {e.text for e in dev[:12]},   # 8/8, 12/24
             steady: {e.text for e in train[:7]} | {e.text for e in dev[:20]}}  # 7/8, 20/24
    scorer = FakeScorer(right)
    ev = Evaluator(scorer, train, budget=10)
    cands = [sp.candidate([i, 0, 0, 0, 0]) for i in range(4)]
    ev.many(cands, [c.key() for c in cands])
    assert ev.cands[ev.best[1]].instruction == lucky  # the training incumbent
    assert select(ev, scorer, dev, top=1).key == ev.best[1]  # train only
    sel = select(ev, scorer, dev, top=3)
    assert ev.cands[sel.key].instruction == steady and sel.calls == 3 and scorer.calls == 4 + 3
    assert sel.dev[sel.key] == (20 / 24, sel.dev[sel.key][1])
    assert sel.pooled[sel.key] == (7 + 20) / 32


def test_select_ensemble_members_are_the_best_on_train_and_dev_in_order():
    train, dev = ex("train", 8), ex("dev", 24)
    sp = DiscreteSpace(PromptTask(LABELS, LABELS, train, dev, (), (), "Tweet"), k_demos=0)
    a, b, c = sp.instructions[1:4]
    right = {a: {e.text for e in train} | {e.text for e in dev[:12]},    # 20/32 pooled
             b: {e.text for e in train[:7]} | {e.text for e in dev[:20]},  # 27/32
             c: {e.text for e in train[:6]} | {e.text for e in dev[:18]}}  # 24/32
    scorer = FakeScorer(right)
    ev = Evaluator(scorer, train, budget=10)
    cands = [sp.candidate([i, 0, 0, 0, 0]) for i in range(1, 4)]
    ev.many(cands, [x.key() for x in cands])
    sel = select(ev, scorer, dev, top=3, ensemble=2)
    assert [ev.cands[k].instruction for k in sel.members] == [b, c] and sel.key == sel.members[0]
    assert select(ev, scorer, dev, top=3).members == [sel.key]  # one prompt by default
    assert [ev.cands[k].instruction for k in select(ev, scorer, dev, top=1, ensemble=1).members
            ] == [a]  # train only


def test_ensemble_logprobs_average_the_label_normalised_probabilities():
    p1 = np.log(np.array([[0.9, 0.1], [0.4, 0.6]]))
    p2 = np.log(np.array([[0.2, 0.6], [0.3, 0.1]]))  # unnormalised: 0.25/0.75 and 0.75/0.25
    got = np.exp(ensemble_logprobs([p1, p2]))
    np.testing.assert_allclose(got, [[0.575, 0.425], [0.575, 0.425]])
    assert np.isnan(ensemble_logprobs([p1, np.array([[np.nan, 0.0], [0.0, 0.0]])])[0]).all()


def test_random_and_bdpl_spend_exactly_the_budget_on_distinct_prompts():
    sp = DiscreteSpace(task(), k_demos=0)
    for run in (lambda ev: random_candidates(ev, sp.sizes, sp.candidate, Key(1)),
                lambda ev: bdpl(ev, sp.sizes, sp.candidate, Key(2), sp.start())):
        scorer = FakeScorer({sp.instructions[3]: {"tweet 0", "tweet 1"}})
        ev = Evaluator(scorer, task().train, budget=7)
        run(ev)
        assert ev.calls == 7 == scorer.calls == len({c.key() for c in ev.cands.values()})


def test_fit_bias_undoes_a_prompt_that_leans_to_one_label():
    from apps.prompt.score import metrics
    from apps.prompt.search import fit_bias

    exs = ex("t", 40)
    gen = Key(0).numpy()
    signal = np.array([1.0 if e.label == 0 else -1.0 for e in exs]) + gen.normal(0, 0.5, 40)
    lp = np.stack([signal + 3.0, np.zeros(40)], -1)  # leans 3 nats to label 0
    assert metrics(lp, exs)[1] == 0.5
    b = fit_bias(lp, exs)
    assert abs(b.sum()) < 1e-12 and -3.5 < b[0] - b[1] < -2.5
    assert metrics(lp + b, exs)[1] >= 0.9 and metrics(lp + b, exs)[0] < metrics(lp, exs)[0]
    lp[3] = np.nan
    assert np.isfinite(fit_bias(lp, exs)).all()


def test_calibrated_evaluator_ranks_by_the_adjusted_scores():
    train = ex("train", 8)
    sp = DiscreteSpace(PromptTask(LABELS, LABELS, train, train, (), (), "Tweet"), k_demos=0)

    class Leaning(FakeScorer):
        def logprobs(self, cands, examples):
            out = super().logprobs(cands, examples)
            out[..., 0] += 5.0  # every prompt leans to label 0
            return out

    right = {sp.instructions[1]: {e.text for e in train}}
    for calibrate, want in ((False, 0.5), (True, 1.0)):
        ev = Evaluator(Leaning(right), train, budget=4, calibrate=calibrate)
        cands = [sp.candidate([i, 0, 0, 0, 0]) for i in range(2)]
        ev.many(cands, [c.key() for c in cands])
        assert ev.rank[0] == want


def test_bdpl_spends_the_whole_budget_after_its_policy_settles():
    """A policy that has settled on one prompt samples only prompts already scored; the budget
    left then goes to new prompts near it (the policy is flattened), never back to the stop."""
    sp = DiscreteSpace(task(), k_demos=0)
    scorer = FakeScorer({sp.instructions[3]: {"tweet 0", "tweet 1"}})
    ev = Evaluator(scorer, task().train, budget=40)
    bdpl(ev, sp.sizes, sp.candidate, Key(0), sp.start(), lr=4.0)
    assert ev.calls == 40 == scorer.calls == len({c.key() for c in ev.cands.values()})
